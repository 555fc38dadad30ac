"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning, one reportingDescriptor per rule."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from .. import __version__
from ..findings import Finding, Severity, all_rules
from . import Report, sort_key
from .json_report import utf8_safe

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_DOCS = "https://github.com/claude-doctor/claude-doctor#"
#: Where a finding about the project as a whole (environment, SDK, a live probe) is shown: the first of
#: these files the project has, where its dependencies and settings live; else the project folder.
#: GitHub code scanning rejects the whole upload when a single result has no location.
PROJECT_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "requirements.txt", "Pipfile")


def _uri(path: str) -> str:
    """A URI reference (RFC 3986, as SARIF requires): relative to the current folder where it can be,
    percent-encoded, from the name's bytes (a space is %20, a byte that is not UTF-8 %FF)."""
    p = Path(path)
    try:
        posix = p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a symlink loop
        posix = p.as_posix()
    return urllib.parse.quote(os.fsencode(posix), safe="/")


def _has_file(finding: Finding) -> bool:
    """Whether the finding names a file; ``<live>`` and ``<stdin>`` name none."""
    return bool(finding.path) and not finding.path.startswith("<")


def _project_anchor(findings: Iterable[Finding], root: str | None) -> str:
    """The file (or folder) that findings without a file of their own point at: a project file found
    from ``root`` (else the folder holding every named file, else the current one), looking up as far
    as the current folder or the git root."""
    folders = [os.path.abspath(os.path.dirname(f.path)) for f in findings if _has_file(f)]
    try:
        start = Path(root or (os.path.commonpath(folders) if folders else Path.cwd())).resolve()
    except ValueError:  # files on different drives
        start = Path.cwd()
    for folder in [start, *start.parents]:
        anchor = next((folder / name for name in PROJECT_FILES if (folder / name).is_file()), None)
        if anchor is not None:
            return str(anchor)
        if folder.resolve() == Path.cwd().resolve() or (folder / ".git").exists():
            break
    return str(start)


def _location(path: str, line: int | None, column: int | None) -> dict:
    region: dict = {"startLine": line or 1}
    if column is not None:
        region["startColumn"] = column
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(path)}, "region": region}}


def _result(finding: Finding, index: dict[str, int], anchor: str) -> dict:
    where = (finding.path, finding.line, finding.column) if _has_file(finding) else (anchor, None, None)
    result: dict = {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": _LEVEL[finding.level],
        "message": {"text": f"{finding.message} Fix: {finding.fix_text}"},
        "locations": [_location(*where)],  # GitHub code scanning needs one on every result
    }
    props = {k: v for k, v in (("cell", finding.cell), ("event", finding.event), ("t", finding.t)) if v is not None}
    if props:
        result["properties"] = props
    return result


def render_sarif(report: Report) -> str:
    rules = all_rules()
    index = {rule.code: n for n, rule in enumerate(rules)}
    anchor = _project_anchor(report.findings, report.root)
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
                "results": [_result(f, index, anchor) for f in sorted(report.findings, key=sort_key)],
            }
        ],
    }
    return json.dumps(utf8_safe(log), ensure_ascii=False, indent=2)
