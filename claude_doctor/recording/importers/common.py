"""What every importer shares: the error that says an input is no format at all, the limits, the
stream re-read from its sniffed head, and the helpers that turn a body into the records a recording
holds (one chunk per SSE event) and read the loose shapes other tools write (statuses as strings,
``Name: value`` header lines, JSON bodies)."""

from __future__ import annotations

import binascii
import io
import json
import re
from collections.abc import Iterator
from typing import IO, Any

from ...errors import RecordingError
from ..model import Chunk, End, Headers, Record

BLOCK = 1 << 16
MAX_WHOLE_FILE = 256 * 1024 * 1024  # HAR and cassettes are parsed whole
_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")
#: what ``curl -N -w '\n[curl http_code=%{http_code}]'`` prints after the body: curl's, not the API's
WRITE_OUT = re.compile(rb"\[curl((?: [\w.]+=[^\s\]]*)*)\][ \t\r\n]*\Z")
WRITE_OUT_TAIL = 512


class NotARecording(RecordingError):
    """The content is no recording format at all (as opposed to a recording that is broken): a file
    found in a folder is then skipped, while a file named on the command line is still an error."""


class Rewound(io.RawIOBase):
    """The sniffed head followed by the rest of the stream, readable line by line."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def events_as_chunks(body: bytes) -> Iterator[bytes]:
    """One chunk per SSE event, as the format asks of imports without chunk boundaries."""
    if b"\n\n" not in body and b"\r\r" not in body and b"\r\n\r\n" not in body:
        if body:  # no event boundary: skip the (slow, lookbehind) split, ~25 MB/s on long lines
            yield body
        return
    for piece in _EVENT_END.split(body):
        if piece:
            yield piece


def _last_boundary(data: bytes) -> int:
    """Offset just past the last complete event in ``data``, or 0."""
    ends = [data.rfind(sep) + len(sep) for sep in (b"\n\n", b"\r\r", b"\r\n\r\n") if sep in data]
    return max(ends, default=0)


def without_write_out(data: bytes) -> bytes:
    """The body without the ``curl -w`` line after it, which is no part of the stream (it would read
    as an unfinished event)."""
    tail = data[-WRITE_OUT_TAIL:]
    match = WRITE_OUT.search(tail)
    if match is None:
        return data
    cut = len(data) - len(tail) + match.start()
    if data[cut - 1 : cut] == b"\n" and data[cut - 2 : cut - 1] not in (b"\n", b"\r", b""):
        cut -= 1  # the newline -w printed first, after a body cut mid-line; after a whole line it is harmless
    return data[:cut]


def stream_events(stream: IO[bytes], first: bytes) -> Iterator[bytes]:
    """Per-event chunks from a stream of any size, in bounded memory."""
    carry = first
    while True:
        block = stream.read(BLOCK)
        if not block:
            yield from events_as_chunks(without_write_out(carry))
            return
        data = carry + block
        cut = _last_boundary(data)
        if cut == 0 and len(data) > 4 * BLOCK:
            cut = len(data)  # no event boundary in 256 KiB: pass the bytes on as they are
        yield from events_as_chunks(data[:cut])
        carry = data[cut:]


def guarded(records: Iterator[Record], path: str, what: str) -> Iterator[Record]:
    """Turn a malformed document's Python errors (a string where an object belongs, bad base64, bad
    chunked framing) into the one-line error every unreadable input gets."""
    try:
        yield from records
    except (AttributeError, TypeError, ValueError, KeyError, binascii.Error) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise RecordingError(path, f"malformed {what} ({detail})") from None


def status_code(value: Any) -> int | None:
    """An HTTP status from a document that may hold it as a string, or as anything at all."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def body_records(i: int, body: bytes, end_t: float | None = None) -> Iterator[Record]:
    """A whole body as the records of exchange ``i``: one chunk per event, then the end."""
    for piece in events_as_chunks(body):
        yield Chunk(i, None, piece)
    yield End(i, end_t, "eof")


def header_lines(lines: list[str]) -> Headers:
    """``Name: value`` lines as pairs; a line without a colon is no header."""
    return [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in lines if ":" in h)]


def parse_head(lines: list[str]) -> tuple[int | None, str | None, str | None, Headers]:
    """A response head (status line, then header lines) as status, reason, HTTP version and headers."""
    status_line, *rest = lines or [""]
    parts = status_line.split(None, 2)
    version = parts[0] if parts else None
    status = int(parts[1]) if len(parts) > 1 and parts[1].isascii() and parts[1].isdigit() else None
    reason = parts[2].strip() if len(parts) > 2 else None
    return status, reason, version, header_lines(rest)


def request_target(lines: list[str]) -> tuple[str, str, Headers, str]:
    """A request head's method, target, headers and ``Host`` (``""`` when none was sent)."""
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]
    headers = header_lines(lines[1:])
    host = next((v for k, v in headers if k.lower() == "host"), "")
    return method, target, headers, host


def json_or_none(body: bytes) -> Any:
    """A JSON object body, or ``None`` when the body is not one."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def as_dict(value: Any) -> dict:
    """``value`` if it is a mapping, else an empty one: documents hold anything anywhere."""
    return value if isinstance(value, dict) else {}
