"""The faults ``serve`` can inject (the fault table of docs/serve.md), parsed from ``NAME[:ARG]`` into one plan.

Kept free of aiohttp so that the CLI can reject a bad ``--fault`` before importing a server, and so
that users' tests can build a plan (``parse_faults(["stall:2", "no-pings"])``) without a server.
:mod:`claude_doctor.serve.faults` applies the plan to each answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UsageProblem

#: The error types the API puts in an ``event: error`` (the SDK's ``ErrorType`` union).
ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
    "memory_precondition_failed_error",
    "memory_path_conflict_error",
    "conflict_error",
)

#: name -> (argument shown in help, one-line description). The order is the order of docs/serve.md's fault table.
FAULTS: dict[str, tuple[str, str]] = {
    "truncate": ("[:N]", "close the body cleanly after N events (default 4), without message_stop"),
    "stall": (":SECONDS", "go silent mid-stream for SECONDS (no bytes, no pings), then carry on"),
    "no-pings": ("", "send no pings, and pause mid-stream for two ping intervals, as a ping-dropping gateway does"),
    "reorder": ("", "send the first content_block_delta before its content_block_start"),
    "json": ("", "answer a stream request with a JSON message body"),
    "status": (":CODE", "answer with HTTP CODE (400-599) and the API's error body and headers"),
    "error-event": ("[:TYPE]", "send `event: error` mid-stream (default overloaded_error)"),
    "split": (":N", "send the body in N-byte chunks, splitting UTF-8 characters"),
    "buffer": ("", "hold every body byte until the stream is done (3 s at least), as a buffering proxy does"),
    "drip": (":MS", "wait MS milliseconds before each event"),
    "max-tokens": ("", "stop with stop_reason max_tokens"),
    "bad-json": ("", "corrupt JSON: tool input when tools were given, else one event's data line"),
    "reset": ("", "reset the TCP connection (RST) mid-stream"),
}

DEFAULT_TRUNCATE = 4
#: ``buffer`` holds the body at least this many seconds from the request: CD114 calls a stream buffered
#: only from 2 s on, and the synthetic stream alone is over in about 0.4 s.
BUFFER_HOLD = 3.0
DEFAULT_ERROR_TYPE = "overloaded_error"


@dataclass(frozen=True)
class Faults:
    """Every fault requested, combined. ``None``/``False`` means the fault is off."""

    truncate: int | None = None
    stall: float | None = None
    no_pings: bool = False
    reorder: bool = False
    json: bool = False
    status: int | None = None
    error_event: str | None = None
    split: int | None = None
    buffer: bool = False
    drip: float | None = None  #: seconds (the fault is given in milliseconds)
    max_tokens: bool = False
    bad_json: bool = False
    reset: bool = False
    given: tuple[str, ...] = field(default=(), compare=False)  #: as written, for the server's banner

    @property
    def events_needed(self) -> bool:
        """Whether the body must be cut at event boundaries (not replayed chunk for chunk)."""
        return bool(
            self.truncate is not None
            or self.reorder
            or self.error_event
            or self.max_tokens
            or self.bad_json
            or self.no_pings
        )

    def describe(self) -> str:
        return ", ".join(self.given) if self.given else "none"


def parse_faults(specs: list[str] | tuple[str, ...]) -> Faults:
    """Combine ``NAME[:ARG]`` strings into one :class:`Faults`; raises :class:`UsageProblem` on an unknown
    name, a bad argument or the same fault given twice."""
    values: dict[str, object] = {}
    for spec in specs:
        key, value = _parse_one(spec)
        if key in values:
            raise UsageProblem(f"fault {key.replace('_', '-')!r} given twice")
        values[key] = value
    return Faults(**values, given=tuple(specs))  # type: ignore[arg-type]


def _parse_one(spec: str) -> tuple[str, object]:
    name, sep, arg = spec.strip().partition(":")
    name = name.lower()
    if name not in FAULTS:
        raise UsageProblem(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    parse = _PARSERS[name]
    if sep and not arg:
        raise UsageProblem(f"fault {name!r}: empty argument after ':'")
    return name.replace("-", "_"), parse(name, arg if sep else None)


def _flag(name: str, arg: str | None) -> bool:
    if arg is not None:
        raise UsageProblem(f"fault {name!r} takes no argument (got {arg!r})")
    return True


def _number(name: str, arg: str | None, *, integer: bool, low: float, high: float | None = None) -> float:
    what = "an integer" if integer else "a number"
    if arg is None:
        raise UsageProblem(f"fault {name!r} needs an argument: {name}{FAULTS[name][0]}")
    try:
        value = int(arg) if integer else float(arg)
    except ValueError:
        raise UsageProblem(f"fault {name!r}: {arg!r} is not {what}") from None
    if value != value or value < low or (high is not None and value > high):  # NaN fails the first test
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise UsageProblem(f"fault {name!r}: {arg} must be {bound}")
    return value


def _truncate(name: str, arg: str | None) -> int:
    return DEFAULT_TRUNCATE if arg is None else int(_number(name, arg, integer=True, low=0))


def _stall(name: str, arg: str | None) -> float:
    return _number(name, arg, integer=False, low=0.001, high=86400)


def _status(name: str, arg: str | None) -> int:
    return int(_number(name, arg, integer=True, low=400, high=599))


def _error_event(name: str, arg: str | None) -> str:
    if arg is None:
        return DEFAULT_ERROR_TYPE
    if arg not in ERROR_TYPES:
        raise UsageProblem(f"fault 'error-event': unknown error type {arg!r} (known: {', '.join(ERROR_TYPES)})")
    return arg


def _split(name: str, arg: str | None) -> int:
    return int(_number(name, arg, integer=True, low=1))


def _drip(name: str, arg: str | None) -> float:
    return _number(name, arg, integer=False, low=0, high=600_000) / 1000


_PARSERS = {
    "truncate": _truncate,
    "stall": _stall,
    "no-pings": _flag,
    "reorder": _flag,
    "json": _flag,
    "status": _status,
    "error-event": _error_event,
    "split": _split,
    "buffer": _flag,
    "drip": _drip,
    "max-tokens": _flag,
    "bad-json": _flag,
    "reset": _flag,
}


def fault_help() -> str:
    """The fault list as the ``serve --help`` epilog shows it."""
    return "\n".join(f"{name}{arg}: {text}" for name, (arg, text) in FAULTS.items())
