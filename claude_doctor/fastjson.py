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


#: what a JSON string may not hold raw (LF is left out: it separates the strings given here)
_CONTROL = bytes(range(0x0A)) + bytes(range(0x0B, 0x20))
_ESCAPES = (b'\\"', b"\\/", b"\\b", b"\\f", b"\\n", b"\\r", b"\\t")


def string_bodies(bodies: bytes) -> bool:
    """Whether each line of ``bodies`` (joined with LF) may stand between the quotes of a JSON string:
    UTF-8, no control character, every quote escaped, every backslash the start of an escape (``\\u``
    escapes are not looked into: a body with one answers ``False``). Told in a few passes over all of
    them at once, several times faster than parsing the strings one by one: for the deltas that make up
    nearly all of a stream, where only their validity matters."""
    if not bodies.isascii():
        try:
            bodies.decode("utf-8")
        except UnicodeDecodeError:
            return False
    if len(bodies.translate(None, _CONTROL)) != len(bodies):
        return False
    if b"\\" not in bodies:
        return b'"' not in bodies
    bodies = bodies.replace(b"\\\\", b"")  # escaped backslashes, paired from the left as a parser does
    if b"\\u" in bodies or bodies.count(b"\\") != sum(map(bodies.count, _ESCAPES)):
        return False
    return bodies.count(b'"') == bodies.count(b'\\"')
