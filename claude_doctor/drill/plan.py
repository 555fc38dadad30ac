"""Which faults a drill runs, with what parameters, and what each one means for the app's answer.

The default set is every ``serve`` fault that models a failure seen in production, with parameters that
make it bite: ``truncate`` leaves a few events, ``stall`` stays silent longer than the drill waits
(``--timeout``), because drill cannot know the app's read timeout and the SDK's default (600 s) is far
beyond any drill. ``no-pings`` and ``drip`` are left out: they bite only through a proxy with an idle
timeout or an app with a total deadline, neither of which a drill has; name them with ``--fault``.

Kept free of aiohttp and the SDK: the CLI and the pytest plugin refuse a bad fault before importing a
server.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks.stream_rules import AUTH_ERROR, OVERLOADED, REQUEST_ERROR, status_rule
from ..errors import UsageProblem
from ..faults import Faults, parse_faults

DEFAULT_TIMEOUT = 15.0  #: seconds a run may take before it counts as hung
STALL_MARGIN = 5.0  #: the default stall outlasts ``--timeout`` by this much


@dataclass(frozen=True)
class Meaning:
    """What a fault does to the answer, for the verdict.

    ``cuts``: the faulted answer is incomplete or wrong (a cut, an error, ``max_tokens``), so exit 0 with
    no later complete answer is a silent wrong result; otherwise the content is all there and only the
    output, compared with the clean run, can show a wrong result. ``retry_helps``: whether repeating
    the request saves it in production (a transient failure), or the cause is on the path or in the
    request and repeats. ``rule``: the rule that explains it."""

    cuts: bool
    retry_helps: bool
    rule: str
    why_retry: str = ""


#: fault name -> meaning. The drill applies each fault to the first request only, as a transient
#: failure would be, so a retry can succeed.
MEANINGS: dict[str, Meaning] = {
    "truncate": Meaning(True, True, "CD104", "a cut connection is transient"),
    "stall": Meaning(True, True, "CD103", "a stall is transient; a read timeout and a retry get past it"),
    "no-pings": Meaning(False, True, "CD102"),
    "reorder": Meaning(False, False, "CD105", "a relay that reorders events does it every time"),
    "json": Meaning(True, False, "CD115", "whatever answers JSON on the path answers it every time"),
    "status": Meaning(True, True, "CD111", "the SDK retries 429/5xx itself (max_retries)"),
    "error-event": Meaning(True, True, "CD108", "an overload is transient, but the SDK never retries an error event"),
    "split": Meaning(False, True, "CD104"),
    "buffer": Meaning(False, False, "CD114", "a buffering proxy buffers every time"),
    "drip": Meaning(False, True, "CD102"),
    "max-tokens": Meaning(True, False, "CD106", "the same request stops at the same limit: raise it or continue"),
    "bad-json": Meaning(True, False, "CD113", "a relay that corrupts events does it every time"),
    "reset": Meaning(True, True, "CD104", "a reset connection is transient"),
}


@dataclass(frozen=True)
class Drill:
    """One run of the app: a name as the user wrote it (``split:3+truncate``) and the parsed faults."""

    name: str
    faults: Faults
    meaning: Meaning


def default_specs(timeout: float) -> list[str]:
    """The default set, in the order the report lists it."""
    return [
        "truncate",
        "max-tokens",
        "error-event:overloaded_error",
        "reset",
        f"stall:{timeout + STALL_MARGIN:g}",
        "reorder",
        "json",
        "bad-json",
        "status:429",
        "status:529",
        "split:1",
        "buffer",
    ]


def parse_drill(spec: str) -> Drill:
    """``NAME[:ARG]``, or faults joined by ``+`` for one run (``split:3+truncate:6``); raises
    :class:`UsageProblem` on a bad one."""
    parts = [part.strip() for part in spec.split("+")]
    if not all(parts):
        raise UsageProblem(f"fault {spec!r}: empty name around '+'")
    faults = parse_faults(parts)
    return Drill(spec, faults, _meaning(parts, faults))


def plan(specs: list[str] | tuple[str, ...], timeout: float) -> list[Drill]:
    """The drills to run: the ones named, else the default set; the same name twice is refused."""
    chosen = list(specs) or default_specs(timeout)
    seen: set[str] = set()
    for spec in chosen:
        if spec in seen:
            raise UsageProblem(f"fault {spec!r} given twice")
        seen.add(spec)
    return [parse_drill(spec) for spec in chosen]


def _meaning(parts: list[str], faults: Faults) -> Meaning:
    """A combination means what its most damaging part means: one that cuts, else the first."""
    meanings = [_one_meaning(part.partition(":")[0].lower(), faults) for part in parts]
    return next((m for m in meanings if m.cuts), meanings[0])


def _one_meaning(name: str, faults: Faults) -> Meaning:
    meaning = MEANINGS[name]
    if name == "status" and faults.status is not None:
        rule = status_rule(faults.status)
        permanent = rule in (AUTH_ERROR, REQUEST_ERROR)  # the same request is refused again
        why = "the same request is refused the same way" if permanent else meaning.why_retry
        return Meaning(True, not permanent, rule.code if rule else OVERLOADED.code, why)
    return meaning
