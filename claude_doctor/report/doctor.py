"""The ``doctor`` report: a ✓ / ! / ✗ line per area first (like flutter doctor), then each area's
findings with their fixes, then one summary line."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from .. import __version__
from ..findings import Area, Finding, Severity
from . import Report
from .human import format_findings, plural, summary_line

ORDER = (Area.ENV, Area.CODE, Area.SECRETS, Area.STREAM)
#: How many unchecked files an area's status line names before "and N more".
NAMED = 3


@dataclass
class Unchecked:
    """A project file an area could not check, and why (a syntax error, a broken recording)."""

    where: str
    reason: str

    @classmethod
    def parse(cls, line: str) -> Unchecked:
        """From a one-line ``path: reason`` error, the form every reader reports."""
        where, _, reason = line.partition(": ")
        return cls(where, reason)

    def __str__(self) -> str:
        return f"{self.where}: not checked ({self.reason})"


@dataclass
class Section:
    """One area: its findings, what it looked at (``note``) and the files it could not check."""

    findings: list[Finding]
    note: str
    unchecked: list[Unchecked] = field(default_factory=list)


def _marks() -> dict[str, str]:
    encoding = (getattr(sys.stdout, "encoding", None) or "ascii").lower()
    if "utf" in encoding:
        return {"ok": "✓", "warn": "!", "bad": "✗"}
    return {"ok": "+", "warn": "!", "bad": "x"}


def area_status(section: Section) -> str:
    """The worst finding's mark; a file left unchecked is at least a warning, never a ✓."""
    worst = max((f.level for f in section.findings), default=None)
    if worst is Severity.ERROR:
        return "bad"
    if worst is Severity.WARNING or section.unchecked:
        return "warn"
    return "ok"


def counts_text(findings: list[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.level is s) for s in sorted(Severity, reverse=True)}
    parts = [plural(n, s.label) for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "no problems"


def _named(unchecked: list[Unchecked]) -> str:
    names = ", ".join(u.where for u in unchecked[:NAMED])
    more = len(unchecked) - NAMED
    return f"{names} and {more} more" if more > 0 else names


def _area_line(area: Area, section: Section, marks: dict[str, str], color: bool) -> str:
    status = area_status(section)
    box = f"[{marks[status]}]"
    box = click.style(box, fg={"ok": "green", "warn": "yellow", "bad": "red"}[status], bold=True) if color else box
    note = section.note
    if section.unchecked:
        note += f"; could not check {_named(section.unchecked)}"
    return f"{box} {area.title:<12} {counts_text(section.findings)} ({note})"


def render_doctor(root: Path, sections: dict[Area, Section], files: int, color: bool) -> str:
    """The whole human report; ``files`` is how many project files were looked at."""
    marks = _marks()
    lines = [f"claude-doctor {__version__} on {root.resolve()}", ""]
    lines += [_area_line(area, sections[area], marks, color) for area in ORDER]
    for area in ORDER:
        section = sections[area]
        if not section.findings and not section.unchecked:
            continue
        lines += ["", click.style(area.title, bold=True) if color else area.title]
        lines += [f"  {unchecked}" for unchecked in section.unchecked]
        lines += ["  " + line for line in format_findings(section.findings, color=color)]
    every = [f for section in sections.values() for f in section.findings]
    unchecked = sum(len(section.unchecked) for section in sections.values())
    lines += ["", summary_line(Report(every, files), unchecked)]
    if every:
        lines.append("Run `claude-doctor explain CODE` for the full story of any rule.")
    return "\n".join(lines)
