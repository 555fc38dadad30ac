"""``--format json``: one stable, versioned object (DESIGN.md "Output")."""

from __future__ import annotations

import json

from ..findings import Finding
from . import Report, sort_key


def finding_dict(finding: Finding) -> dict:
    return {
        "code": finding.code,
        "name": finding.rule.name,
        "severity": finding.level.label,
        "message": finding.message,
        "fix": finding.fix_text,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "cell": finding.cell,
        "event": finding.event,
        "t": finding.t,
        "exchange": finding.exchange,
    }


def render_json(report: Report) -> str:
    summary = report.counts()
    summary["files"] = report.files
    payload = {
        "version": 1,
        "findings": [finding_dict(f) for f in sorted(report.findings, key=sort_key)],
        "summary": summary,
        "errors": report.errors,
        "warnings": report.warnings,
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)
