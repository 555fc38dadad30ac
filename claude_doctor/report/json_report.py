"""``--format json``: one stable, versioned object (its fields are a contract that scripts depend on)."""

from __future__ import annotations

import json

from ..files import valid_utf8
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
    return json.dumps(utf8_safe(payload), ensure_ascii=False, indent=2)


def utf8_safe(value: object) -> object:
    """``value`` with every string made encodable as UTF-8 (a file name that is not UTF-8 would
    otherwise make the whole document invalid, which JSON and SARIF readers reject)."""
    if isinstance(value, str):
        return valid_utf8(value)
    if isinstance(value, dict):
        return {key: utf8_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [utf8_safe(item) for item in value]
    return value
