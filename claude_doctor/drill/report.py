"""A drill's result as a table (human), JSON (version 1) or JUnit XML (one test case per fault, so CI
shows the drill like tests: a failure for each verdict in ``--fail-on``, a skip for a fault not
exercised)."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET

from ..keys import redact_text
from . import Result
from .run import Observation
from .verdict import LABELS, NOT_EXERCISED, RECOVERED

FORMATS = ("human", "json", "junit")
JSON_VERSION = 1
SHOWN_OUTPUT = 4000  #: characters of each stream's end in JUnit and JSON
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  #: characters XML 1.0 cannot hold


def render(result: Result, fmt: str, fail_on: tuple[str, ...]) -> str:
    """The report in ``fmt``; keys redacted (the app's output may hold one)."""
    text = {"human": human, "json": as_json, "junit": junit}[fmt](result, fail_on)
    return redact_text(text)


def failing(result: Result, fail_on: tuple[str, ...]) -> list[str]:
    """The faults whose verdict is in ``fail_on``."""
    return [drill.name for drill, _, verdict in result.drills if verdict.kind in fail_on]


def summary(result: Result) -> str:
    """``12 faults: 7 recovered, 2 failed loudly, …`` in the order of :data:`LABELS`."""
    counts = {kind: 0 for kind in LABELS}
    for _, _, verdict in result.drills:
        counts[verdict.kind] += 1
    parts = [f"{n} {_plural(LABELS[kind], n)}" for kind, n in counts.items() if n]
    return f"{len(result.drills)} {_plural('fault', len(result.drills))}: {', '.join(parts)}."


def _plural(word: str, count: int) -> str:
    if count == 1 or word in ("recovered", "failed loudly", "hung", "not exercised"):
        return word
    return word + "s"


def _command(result: Result) -> str:
    return shlex.join(result.command)


def _baseline_line(base: Observation) -> str:
    status = "hung" if base.hung else f"exit {base.exit_code}"
    count = len(base.requests)
    return f"clean run: {status}, {count} {'request' if count == 1 else 'requests'}, {base.seconds:.1f} s"


# -- human ------------------------------------------------------------------------------------------


def human(result: Result, fail_on: tuple[str, ...]) -> str:
    rows = [("fault", "verdict", "requests", "exit", "why")]
    for drill, seen, verdict in result.drills:
        requests = str(len(seen.requests)) if seen is not None else "-"
        status = "-" if seen is None or seen.hung else str(seen.exit_code)
        rows.append((drill.name, verdict.label, requests, status, verdict.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"claude-doctor drill: {_command(result)} ({_baseline_line(result.baseline)})", ""]
    lines += [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]]) for row in rows
    ]
    lines += _fixes(result)
    lines += ["", summary(result)]
    return "\n".join(lines)


def _fixes(result: Result) -> list[str]:
    """The fix of each rule behind a verdict that is not ``recovered``, once per rule."""
    faults_by_rule: dict[str, list[str]] = {}
    for drill, _, verdict in result.drills:
        if verdict.kind not in (RECOVERED, NOT_EXERCISED) and verdict.fix:
            faults_by_rule.setdefault(verdict.rule, []).append(drill.name)
    lines = []
    for code, names in faults_by_rule.items():
        verdict = next(v for d, _, v in result.drills if d.name == names[0])
        lines += ["", f"fix for {', '.join(names)} ({code} {verdict.rule_name}): {verdict.fix}"]
    return lines


# -- JSON -------------------------------------------------------------------------------------------


def as_json(result: Result, fail_on: tuple[str, ...]) -> str:
    document = {
        "version": JSON_VERSION,
        "command": result.command,
        "timeout": result.timeout,
        "baseline": _observation(result.baseline),
        "problem": result.problem,
        "faults": [_fault(drill.name, seen, verdict) for drill, seen, verdict in result.drills],
        "summary": summary(result),
        "failing": failing(result, fail_on),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _fault(name: str, seen: Observation | None, verdict) -> dict:
    return {
        "fault": name,
        "verdict": verdict.kind,
        "label": verdict.label,
        "reason": verdict.reason,
        "rule": verdict.rule,
        "fix": verdict.fix,
        "retry_would_help": verdict.retry_helps,
        "run": _observation(seen) if seen is not None else None,
    }


def _observation(seen: Observation) -> dict:
    return {
        "exit": seen.exit_code,
        "hung": seen.hung,
        "seconds": round(seen.seconds, 3),
        "api": seen.url,
        "requests": [
            {"status": r.status, "outcome": r.outcome, "faulted": r.faulted, "at": round(r.at, 3)}
            for r in seen.requests
        ],
        "retry_gaps": [round(gap, 3) for gap in seen.retry_gaps()],
        "exception": seen.exception,
        "explained_by": seen.rule,
        "stdout_tail": seen.stdout.text()[-SHOWN_OUTPUT:],
        "stderr_tail": seen.stderr.text()[-SHOWN_OUTPUT:],
    }


# -- JUnit XML --------------------------------------------------------------------------------------


def junit(result: Result, fail_on: tuple[str, ...]) -> str:
    cases = result.drills
    failures = len(failing(result, fail_on))
    skipped = sum(1 for _, _, v in cases if v.kind == NOT_EXERCISED and v.kind not in fail_on)
    seconds = sum(seen.seconds for _, seen, _ in cases if seen is not None)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="claude-doctor drill",
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="command", value=_command(result))
    ET.SubElement(properties, "property", name="baseline", value=_baseline_line(result.baseline))
    for drill, seen, verdict in cases:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="claude-doctor.drill",
            name=drill.name,
            time=f"{seen.seconds if seen else 0:.3f}",
        )
        message = _xml_text(f"{verdict.label}: {verdict.reason}")
        if verdict.kind in fail_on:
            failure = ET.SubElement(case, "failure", message=message, type=verdict.kind)
            failure.text = f"{message}\nfix ({verdict.rule} {verdict.rule_name}): {verdict.fix}"
        elif verdict.kind == NOT_EXERCISED:
            ET.SubElement(case, "skipped", message=message)
        if seen is not None:
            ET.SubElement(case, "system-out").text = _xml_text(f"{message}\n{seen.stdout.text()[-SHOWN_OUTPUT:]}")
            ET.SubElement(case, "system-err").text = _xml_text(seen.stderr.text()[-SHOWN_OUTPUT:])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _xml_text(text: str) -> str:
    """The app's output as XML can hold it: control characters (ANSI colour, NUL) become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
