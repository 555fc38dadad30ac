"""``claude-doctor drill``: run the user's app once per streaming failure and say which ones it survives.

:mod:`.plan` picks the faults, :mod:`.run` runs the app against its own mock API per fault and observes
it, :mod:`.verdict` decides each verdict and :mod:`.report` writes the table, JSON or JUnit XML. This
module ties them together: a clean run first, then the drills.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from .plan import Drill
from .run import Observation, run_all
from .verdict import NOT_EXERCISED, Verdict, judge


@dataclass
class Result:
    """A whole drill: the command, the clean run, and each fault with its run and verdict. ``problem``
    says why nothing was drilled (the clean run failed, hung, or made no request)."""

    command: list[str]
    timeout: float
    baseline: Observation
    drills: list[tuple[Drill, Observation | None, Verdict]] = field(default_factory=list)
    problem: str | None = None


def run_drill(
    command: list[str],
    drills: list[Drill],
    timeout: float,
    jobs: int,
    on_done: Callable[[Observation], None] = lambda o: None,
) -> Result:
    """Run the clean run, then (if it went well) every drill; the verdicts in plan order."""
    runs = asyncio.run(run_all(command, drills, timeout, jobs, lambda b: baseline_problem(b, timeout) is None, on_done))
    problem = baseline_problem(runs.baseline, timeout)
    result = Result(command, timeout, runs.baseline, problem=problem[1] if problem else None)
    if problem is not None:
        reason = f"not run: {problem[0]}"
        result.drills = [(d, None, Verdict(NOT_EXERCISED, reason, d.meaning.rule)) for d in drills]
        return result
    result.drills = [
        (drill, seen, judge(drill, seen, runs.baseline, timeout))
        for drill, seen in zip(drills, runs.observations, strict=True)
    ]
    return result


def baseline_problem(baseline: Observation, timeout: float) -> tuple[str, str] | None:
    """Why the clean run cannot be drilled, in a few words and in a line, or None when it exited 0 after
    requests to the mock API."""
    if baseline.hung:
        return "the clean run hung", (
            f"the clean run (no fault) was still running after {timeout:g} s: "
            "raise --timeout above the app's normal run time; nothing was drilled"
        )
    if baseline.hosts and not baseline.requests:
        hosts = ", ".join(sorted(set(baseline.hosts)))
        return "the app ignored ANTHROPIC_BASE_URL", (
            f"the app ignored ANTHROPIC_BASE_URL: it tried to reach {hosts} instead of the mock API "
            "(refused by drill's proxy: nothing left this machine); nothing was drilled"
        )
    if baseline.exit_code != 0:
        said = baseline.exception or _last_line(baseline.stderr.text()) or "nothing on stderr"
        return (
            "the clean run failed",
            f"the clean run (no fault) exited {baseline.exit_code} ({said}): fix that first; nothing was drilled",
        )
    if not baseline.requests:
        return "the clean run made no request to the mock API", (
            "the clean run made no request to the mock API at ANTHROPIC_BASE_URL: the app never calls the API "
            "(or reaches it some other way); every fault is not exercised"
        )
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
