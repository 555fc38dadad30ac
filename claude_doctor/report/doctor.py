"""The ``doctor`` report: a ✓ / ! / ✗ line per area first (like flutter doctor), then each area's
findings with their fixes, then one summary line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..findings import Area, Finding, Severity
from . import sort_key
from .human import format_finding

ORDER = (Area.ENV, Area.CODE, Area.SECRETS, Area.STREAM)


def _marks() -> dict[str, str]:
    encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
    if "utf" in encoding:
        return {"ok": "✓", "warn": "!", "bad": "✗"}
    return {"ok": "+", "warn": "!", "bad": "x"}


def _status(findings: list[Finding]) -> str:
    worst = max((f.level for f in findings), default=None)
    if worst is Severity.ERROR:
        return "bad"
    if worst is Severity.WARNING:
        return "warn"
    return "ok"


def _counts(findings: list[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.level is s) for s in sorted(Severity, reverse=True)}
    parts = [f"{n} {s.label}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "no problems"


def render_doctor(root: Path, sections: dict[Area, tuple[list[Finding], str]], color: bool, quiet: bool = False) -> str:
    marks = _marks()
    colors = {"ok": "green", "warn": "yellow", "bad": "red"}
    lines = [f"claude-doctor {__version__} on {root.resolve()}", ""]
    for area in ORDER:
        findings, note = sections.get(area, ([], "not checked"))
        status = _status(findings)
        box = f"[{marks[status]}]"
        box = click.style(box, fg=colors[status], bold=True) if color else box
        lines.append(f"{box} {area.title:<12} {_counts(findings)} ({note})")
    for area in ORDER:
        findings = sorted(sections.get(area, ([], ""))[0], key=sort_key)
        if not findings:
            continue
        lines += ["", click.style(area.title, bold=True) if color else area.title]
        lines += ["  " + format_finding(f, color=color, with_fix=not quiet).replace("\n", "\n  ") for f in findings]
    every = [f for found, _ in sections.values() for f in found]
    if every:  # the area lines above say what was checked; the shared summary's file count would be wrong
        total = len(every)
        lines += ["", f"Found {total} problem{'s' if total != 1 else ''}: {_counts(every)}."]
    else:
        lines += ["", "All clear: no problems found."]
    if every:
        lines.append("Run `claude-doctor explain CODE` for the full story of any rule.")
    return "\n".join(lines)
