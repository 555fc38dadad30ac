"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning, one reportingDescriptor per rule."""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__
from ..findings import Finding, Severity, all_rules
from . import Report, sort_key

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_DOCS = "https://github.com/claude-doctor/claude-doctor#"


def _uri(path: str) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _result(finding: Finding, index: dict[str, int]) -> dict:
    result: dict = {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": _LEVEL[finding.level],
        "message": {"text": f"{finding.message} Fix: {finding.fix_text}"},
    }
    if finding.path:
        region: dict = {"startLine": finding.line or 1}
        if finding.column is not None:
            region["startColumn"] = finding.column
        result["locations"] = [
            {"physicalLocation": {"artifactLocation": {"uri": _uri(finding.path)}, "region": region}}
        ]
    props = {k: v for k, v in (("cell", finding.cell), ("event", finding.event), ("t", finding.t)) if v is not None}
    if props:
        result["properties"] = props
    return result


def render_sarif(report: Report) -> str:
    rules = all_rules()
    index = {rule.code: n for n, rule in enumerate(rules)}
    descriptors = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.why},
            "help": {"text": f"{rule.why}\n\nFix: {rule.fix}", "markdown": f"{rule.why}\n\n**Fix:** {rule.fix}"},
            "helpUri": _DOCS + rule.code.lower(),
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "properties": {"tags": ["anthropic", rule.area.value]},
        }
        for rule in rules
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "claude-doctor",
                        "semanticVersion": __version__,
                        "informationUri": _DOCS.rstrip("#"),
                        "rules": descriptors,
                    }
                },
                "results": [_result(f, index) for f in sorted(report.findings, key=sort_key)],
            }
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=2)
