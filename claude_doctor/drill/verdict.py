"""The verdict on one fault, from what was observed of the run and of the clean run before it.

In order: **hung** (still running after ``--timeout``); **not exercised** (no request got the fault);
**failed loudly** (a non-zero exit: acceptable, and whether a retry would have saved it is said);
**recovered** (exit 0 after a later request got a complete answer, or exit 0 with the fault harmless
to the answer and the output the same as the clean run's); **silent wrong result** (exit 0 with an
answer the fault cut or spoilt and no retry, or exit 0 with output that differs from the clean run's).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import get_rule
from .plan import MEANINGS, Drill
from .run import Observation

RECOVERED = "recovered"
LOUD = "loud"
SILENT = "silent"
HUNG = "hung"
NOT_EXERCISED = "not-exercised"
#: verdict -> how the report says it, in the order a summary lists them
LABELS = {
    RECOVERED: "recovered",
    LOUD: "failed loudly",
    SILENT: "silent wrong result",
    HUNG: "hung",
    NOT_EXERCISED: "not exercised",
}
DEFAULT_FAIL_ON = (SILENT, HUNG)
SHOWN_EXCEPTION = 80  #: characters of the exception line in a reason (JSON has it whole)
HUNG_ADVICE = "Give the client a read timeout below --timeout (the SDK's default waits 600 s) and retry"

#: fault name -> what it did to the answer, for the reason
EFFECTS = {
    "truncate": "a stream cut before message_stop",
    "stall": "a stall",
    "no-pings": "a stream without pings",
    "reorder": "a delta before its block start",
    "json": "a JSON body instead of an event stream",
    "status": "an HTTP error",
    "error-event": "an error event after HTTP 200",
    "split": "a body split mid-character",
    "buffer": "a buffered body",
    "drip": "a slow stream",
    "max-tokens": "stop_reason max_tokens",
    "bad-json": "corrupt JSON in an event",
    "reset": "a reset connection",
}


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str
    rule: str  #: the rule that explains the failure (its fix is the advice)
    retry_helps: bool | None = None  #: for a loud failure: would a retry have saved it

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def fix(self) -> str:
        rule = get_rule(self.rule)
        return rule.fix if rule is not None else ""

    @property
    def rule_name(self) -> str:
        rule = get_rule(self.rule)
        return rule.name if rule is not None else ""


def judge(drill: Drill, seen: Observation, baseline: Observation, timeout: float) -> Verdict:
    """The verdict on one fault's run."""
    rule = drill.meaning.rule
    effect = effect_of(drill)
    if seen.hung:
        reason = f"still running {timeout:g} s after {effect}{_requests(seen)}; killed. {HUNG_ADVICE}"
        return Verdict(HUNG, reason, rule)
    if not any(r.faulted for r in seen.requests):
        return Verdict(NOT_EXERCISED, "made no request to the mock API, so the fault never reached it", rule)
    if seen.exit_code != 0:
        return _loud(drill, seen, effect)
    same = seen.stdout.digest == baseline.stdout.digest
    differs = "" if same else "; its output differs from the clean run's"
    retried = _completed_after_fault(seen)
    if retried is not None:
        return Verdict(RECOVERED, f"retried {retried:.1f} s after {effect} and got a complete answer{differs}", rule)
    if not drill.meaning.cuts and same:
        return Verdict(RECOVERED, f"the answer survived {effect}: exit 0, output as in the clean run", rule)
    if drill.meaning.cuts:
        return Verdict(SILENT, f"exit 0 after {effect}, with no retry{differs}", rule)
    return Verdict(SILENT, f"exit 0 after {effect}, but its output differs from the clean run's", rule)


def effect_of(drill: Drill) -> str:
    """What the fault (the most damaging one of a combination) did to the answer."""
    names = [part.strip().partition(":")[0].lower() for part in drill.name.split("+")]
    name = next((n for n in names if MEANINGS[n].cuts), names[0])
    if name == "status" and drill.faults.status is not None:
        return f"HTTP {drill.faults.status}"
    return EFFECTS.get(name, name)


def _loud(drill: Drill, seen: Observation, effect: str) -> Verdict:
    raised = seen.exception or "no traceback"
    raised = raised if len(raised) <= SHOWN_EXCEPTION else raised[: SHOWN_EXCEPTION - 1] + "…"
    reason = f"exit {seen.exit_code} after {effect}{_requests(seen)}: {raised}"
    meaning = drill.meaning
    would = "a retry would have saved it" if meaning.retry_helps else "a retry would not have saved it"
    reason += f"; {would}" + (f" ({meaning.why_retry})" if meaning.why_retry else "")
    return Verdict(LOUD, reason, seen.rule or meaning.rule, meaning.retry_helps)


def _requests(seen: Observation) -> str:
    count = len(seen.requests)
    if count <= 1:
        return ""
    gaps = ", ".join(f"{gap:.1f}" for gap in seen.retry_gaps())
    return f" ({count} requests, {gaps} s apart)"


def _completed_after_fault(seen: Observation) -> float | None:
    """Seconds from the last faulted request to a later one that got a complete answer, if any."""
    faulted = [r for r in seen.requests if r.faulted]
    last = faulted[-1]
    later = next((r for r in seen.requests if r.at > last.at and not r.faulted and r.complete), None)
    return later.at - last.at if later is not None else None
