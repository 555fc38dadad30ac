"""Strict JSON, fast: orjson for event data and for writing, jiter (which the SDK brings) for the
lines of a recording, where integers must come back exact, and the standard library as the fallback
and as the judge where those are stricter than JSON (lone surrogate escapes, integers past 64 bits).
Used on the hot paths: event data in the stream checks, lines of a recording read, and the lines the
recording proxy writes for every chunk it forwards."""

from __future__ import annotations

import json

import orjson

try:
    from jiter import from_json as _jiter_from_json
except ImportError:  # pragma: no cover - anthropic always brings it
    _jiter_from_json = None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: str | bytes | bytearray) -> object:
    """Parse strict JSON (no NaN/Infinity). Raises ValueError when ``data`` is not JSON (or, given
    bytes, not UTF-8)."""
    if _jiter_from_json is not None:
        raw = data if isinstance(data, bytes) else data.encode() if isinstance(data, str) else bytes(data)
        try:
            return _jiter_from_json(raw, allow_inf_nan=False)
        except ValueError:
            pass
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None


#: The hot path's parser, for event data: orjson, about twice as fast as jiter on events of a few
#: hundred bytes. It refuses valid JSON in corners (lone surrogate escapes, numbers past float range)
#: and reads integers past 64 bits as floats, so callers fall back to :func:`parse_json` before calling
#: data invalid, and use it only where no such number matters (event data, never a recording line).
loads_fast = orjson.loads


def json_line(obj: dict) -> bytes:
    """``obj`` as one compact line of UTF-8 JSON ending in a newline. What orjson refuses (a lone
    surrogate from a ``\\ud800`` escape, a huge integer) the standard library writes, as ASCII escapes."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode("ascii") + b"\n"
