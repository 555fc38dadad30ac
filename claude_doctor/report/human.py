"""Ruff-like text: ``path:line:col: CODE [S] message``, each fix once after the findings it is for,
one summary line."""

from __future__ import annotations

import click

from ..files import printable
from ..findings import Finding, Severity
from . import Report, sort_key

_COLORS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def location(finding: Finding) -> str:
    """Where a finding is, in the form each area's users know: ``path:line:col`` for code,
    ``path:cell 2:3:1`` in notebooks, ``path@event 12 (t=3.41s)`` for streams."""
    if finding.path is None and finding.line is None and finding.event is None:
        return ""
    path = printable(finding.path or "<input>")  # a newline in a file name must not split the line
    if finding.exchange is not None:
        path += f"#{finding.exchange}"
    if finding.line is not None:
        parts = [path]
        if finding.cell is not None:
            parts.append(f"cell {finding.cell}")
        parts.append(str(finding.line))
        if finding.column is not None:
            parts.append(str(finding.column))
        return ":".join(parts)
    if finding.event is not None:
        where = f"{path}@event {finding.event}"
        return where + (f" (t={finding.t:.2f}s)" if finding.t is not None else "")
    if finding.t is not None:
        return f"{path} (t={finding.t:.2f}s)"
    return path


def format_finding(finding: Finding, *, color: bool) -> str:
    """One finding's line, without its fix (``format_findings`` prints each fix once)."""
    level = finding.level
    code = (
        click.style(f"{finding.code} [{level.letter}]", fg=_COLORS[level], bold=True)
        if color
        else (f"{finding.code} [{level.letter}]")
    )
    where = location(finding)
    where = click.style(where, bold=True) if color and where else where
    return f"{where}: {code} {finding.message}" if where else f"{code} {finding.message}"


def _fix_line(fix: str, count: int, *, color: bool) -> str:
    label = "fix:" if count == 1 else f"fix (all {count} above):"
    return f"  {click.style(label, fg='green') if color else label} {fix}"


def format_findings(findings: list[Finding], *, color: bool, with_fix: bool = True) -> list[str]:
    """The findings in order, grouped by rule and fix, each fix printed once after its group: one
    leaked key in 54 files is 54 lines and one fix, not 54 copies of it (as ruff and flutter doctor
    do). A rule whose fix names the line (``await client…``) keeps it under that finding."""
    ordered = sorted(findings, key=sort_key)
    if not with_fix:
        return [format_finding(f, color=color) for f in ordered]
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in ordered:
        groups.setdefault((finding.code, finding.fix_text), []).append(finding)
    lines: list[str] = []
    for (_, fix), group in groups.items():
        lines += [format_finding(f, color=color) for f in group]
        lines.append(_fix_line(fix, len(group), color=color))
    return lines


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def summary_line(report: Report, unchecked: int | None = None) -> str:
    """Counts by severity; never "All clear" when some files could not be checked (``unchecked``,
    by default one per input error)."""
    unchecked = len(report.errors) if unchecked is None else unchecked
    missed = f"{plural(unchecked, 'file')} could not be checked"
    total = len(report.findings)
    if not total:
        if unchecked:
            return f"Checked {plural(report.files, 'file')}: no problems found, but {missed}."
        if report.warnings:  # e.g. a capture cut after its response head: not a clean bill
            warned = plural(len(report.warnings), "warning")
            return f"Checked {plural(report.files, 'file')}: no problems found, but see the {warned} above."
        return f"All clear: {plural(report.files, 'file')} checked, no problems found."
    parts = [plural(n, label) for label, n in report.counts().items() if n]
    found = f"Found {plural(total, 'problem')} in {plural(report.files, 'file')}: {', '.join(parts)}"
    return f"{found}; {missed}." if unchecked else f"{found}."


def render_human(report: Report, *, color: bool, verbose: int = 0, quiet: bool = False) -> str:
    lines = format_findings(report.findings, color=color, with_fix=not quiet)
    if not quiet:
        if lines:
            lines.append("")
        lines.append(summary_line(report))
    return "\n".join(lines)
