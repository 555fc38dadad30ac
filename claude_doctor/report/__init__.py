"""Reporters only format findings: human (ruff-like), json (stable, versioned) and sarif (2.1.0)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..findings import Finding, Severity

FORMATS = ("human", "json", "sarif")


@dataclass
class Report:
    """What a command found, ready to format."""

    findings: list[Finding]
    files: int
    #: one-line input errors (unreadable files); they make the exit status 2
    errors: list[str] = field(default_factory=list)
    #: read warnings such as a truncated last line; shown on stderr in human output
    warnings: list[str] = field(default_factory=list)
    #: the folder the findings are about (the doctor's PATH), where SARIF anchors findings without a file
    root: str | None = None

    def counts(self) -> dict[str, int]:
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for finding in self.findings:
            counts[finding.level.label] += 1
        return counts


def sort_key(finding: Finding) -> tuple:
    return (
        finding.path or "",
        finding.exchange or 0,
        finding.cell or 0,
        finding.line or 0,
        finding.event or 0,
        finding.column or 0,
        finding.code,
    )


def render(report: Report, fmt: str, *, color: bool, verbose: int = 0, quiet: bool = False) -> str:
    if fmt == "json":
        from .json_report import render_json

        return render_json(report)
    if fmt == "sarif":
        from .sarif import render_sarif

        return render_sarif(report)
    from .human import render_human

    return render_human(report, color=color, verbose=verbose, quiet=quiet)
