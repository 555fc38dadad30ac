"""``curl --trace`` (every byte, with ``--trace-time`` the time of each read) or ``--trace-ascii``
(the same, but line feeds and non-ASCII bytes printed as '.': said in a warning)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ...errors import RecordingError
from ..model import Chunk, End, Meta, Record, Request, Response, Source
from .common import MAX_WHOLE_FILE, guarded, json_or_none, parse_head, request_target
from .peek import Peek

#: a trace's first lines: curl's notes and what it sent and received, each perhaps after a time
_TRACE = re.compile(rb"^(?:\d\d:\d\d:\d\d\.\d+ )?(?:== Info:|=> Send|<= Recv)", re.MULTILINE)
_TRACE_HEAD = re.compile(
    r"^(?:(?P<ts>\d\d:\d\d:\d\d\.\d+) )?(?P<dir>==|=>|<=) (?P<what>Info|Send header|Recv header|Send data|Recv data"
    r"|Send SSL data|Recv SSL data)(?:, (?P<n>\d+) bytes)?"
)


#: curl prints the offset with %4.4zx (0x10000 has five digits); an editor may strip the space after it
_HEX_OFFSET = re.compile(r"(?P<offset>[0-9a-f]{4,}):(?: |$)")
_HEX_PAIR = re.compile(r"[0-9a-f]{2}")
#: where ``--trace-ascii`` may have printed an event stream's line feed as '.': before a blank line,
#: another field or the end
_MAYBE_LINE_END = re.compile(rb"\.(?=\.|event:|data:|\Z)")
_EVENT_LINE = re.compile(rb"event: ?[A-Za-z0-9_-]*")


def sniff(peek: Peek) -> bool:
    return bool(_TRACE.search(peek.raw[:4096]))


def _trace_blocks(text: str) -> Iterator[tuple[float | None, str, bytes, bool]]:
    """(seconds since midnight or None, what, bytes, exact) for each block of a ``curl --trace`` file
    (a hex dump: exact) or a ``--trace-ascii`` one (see :func:`_ascii_bytes`: not exact)."""
    head: re.Match | None = None
    lines: list[tuple[int, str]] = []
    for line in text.split("\n"):
        match = _TRACE_HEAD.match(line)
        if match:
            if head is not None:
                yield _trace_block(head, lines)
            head, lines = match, []
            continue
        offset = _HEX_OFFSET.match(line.rstrip("\r")) if head is not None else None
        if offset:
            lines.append((int(offset.group("offset"), 16), line[offset.end() :].rstrip("\r")))
    if head is not None:
        yield _trace_block(head, lines)


def _trace_block(head: re.Match, lines: list[tuple[int, str]]) -> tuple[float | None, str, bytes, bool]:
    what = head.group("what")
    size = int(head.group("n") or 0) if what != "Info" else 0
    if not size:
        return _seconds(head.group("ts")), what, b"", True
    hexdump = bool(lines) and _is_hex_line(lines[0][1], min(16, size))
    data = _hex_bytes(lines, size) if hexdump else _ascii_bytes(lines, size)
    return _seconds(head.group("ts")), what, data, hexdump


def _is_hex_line(text: str, count: int) -> bool:
    """Whether a dump line starts with ``count`` hex pairs, as each ``--trace`` line does."""
    pairs = text.split(" ")[:count]
    return len(pairs) == count and all(_HEX_PAIR.fullmatch(p) for p in pairs)


def _hex_bytes(lines: list[tuple[int, str]], size: int) -> bytes:
    """A ``--trace`` block: 16 bytes a line in hex, then the same bytes as text (ignored)."""
    data = bytearray()
    for _, text in lines:
        take = min(16, size - len(data))
        pairs = text.split(" ")[:take]
        try:
            data += bytes(int(p, 16) for p in pairs)
        except ValueError:
            raise ValueError(f"bad hex dump line {text[:40]!r}") from None
    return bytes(data)


def _ascii_bytes(lines: list[tuple[int, str]], size: int) -> bytes:
    """A ``--trace-ascii`` block. curl prints 64 bytes a line and starts a new line after each CRLF,
    which it does not print: the next line's offset says where one was. Every other byte outside
    printable ASCII (a line feed, each byte of a UTF-8 character) is printed as '.', and stays one
    here, so the length is kept (:func:`restore_line_feeds` puts an event stream's line feeds back)."""
    data = bytearray()
    for n, (offset, text) in enumerate(lines):
        if offset != len(data):
            raise ValueError(f"--trace-ascii line at offset {offset:04x} does not follow the one before")
        data += text.encode("ascii", "replace")
        end = lines[n + 1][0] if n + 1 < len(lines) else size
        if end - len(data) == 2:
            data += b"\r\n"
    return bytes(data)  # shorter than announced when curl was stopped mid-block


def restore_line_feeds(body: bytes) -> bytes:
    """Put back the line feeds ``--trace-ascii`` printed as '.' in an event stream, where SSE puts them:
    after an ``event:`` name, after a ``data:`` line's JSON value (which holds no raw line feed), and
    as blank lines. The length is kept; a line that is none of these (a stream cut inside an event)
    ends the restoring, its dots left as printed."""
    out = bytearray(body)
    pos = 0
    while pos < len(body):
        if body[pos] == 0x2E:  # a '.' where a line starts: a blank line
            out[pos] = 0x0A
            pos += 1
            continue
        end = _field_line_end(body, pos)
        if end is None:
            break
        out[end] = 0x0A
        pos = end + 1
    return bytes(out)


def _field_line_end(body: bytes, pos: int) -> int | None:
    """Where the ``event:`` or ``data:`` line at ``pos`` ends (its '.'), or ``None``."""
    name = _EVENT_LINE.match(body, pos)
    if name:
        return name.end() if body[name.end() : name.end() + 1] == b"." else None
    if not body.startswith(b"data:", pos):
        return None
    for end in _MAYBE_LINE_END.finditer(body, pos + 5):
        try:
            json.loads(body[pos + 5 : end.start()])
        except ValueError:
            continue
        return end.start()
    return None


def _seconds(ts: str | None) -> float | None:
    if not ts:
        return None
    h, m, s = ts.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


class _Dechunker:
    """Removes HTTP/1.1 chunked framing from bytes that arrive in arbitrary reads."""

    def __init__(self) -> None:
        self.buf = b""
        self.left = 0  # bytes of chunk data still to come
        self.need_crlf = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while self.buf and not self.done:
            if self.left:
                take = self.buf[: self.left]
                out += take
                self.left -= len(take)
                self.buf = self.buf[len(take) :]
                if not self.left:
                    self.need_crlf = True
                continue
            if self.need_crlf:
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.need_crlf = False
                continue
            line_end = self.buf.find(b"\r\n")
            if line_end < 0:
                break
            size_text = self.buf[:line_end].split(b";")[0].strip() or b"0"
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ValueError(f"bad chunked framing: chunk size {size_text[:20]!r}") from None
            self.buf = self.buf[line_end + 2 :]
            if size == 0:
                self.done = True
            self.left = size
        return bytes(out)


def read(peek: Peek) -> Source:
    path = peek.path
    raw = peek.raw + peek.stream.read(MAX_WHOLE_FILE)
    try:
        found = list(_trace_blocks(raw.decode("utf-8", "replace")))
    except ValueError as exc:
        raise RecordingError(path, f"curl --trace: {exc}") from None
    blocks = [(ts, what, data) for ts, what, data, _ in found]
    exact = all(block[3] for block in found)
    start = next((ts for ts, what, _ in blocks if what.startswith("Send") and ts is not None), None)
    warnings = [] if exact else [f"{path}: {TRACE_ASCII_WARNING}"]

    def rel(ts: float | None) -> float | None:
        if ts is None or start is None:
            return None
        return round((ts - start) % 86400, 6)

    def records() -> Iterator[Record]:
        head = b"".join(d for _, w, d in blocks if w == "Send header")
        body = b"".join(d for _, w, d in blocks if w == "Send data")
        if head:
            method, target, headers, host = request_target(head.decode("latin-1").split("\r\n"))
            req_body = json_or_none(body)
            yield Request(
                0,
                0.0 if start is not None else None,
                method,
                f"https://{host}{target}",
                headers,
                json=req_body,
                body=None if req_body is not None else body or None,
            )
        reads = list(_trace_response(blocks, rel))
        yield from reads if exact else _with_line_feeds(reads)

    source = Source(path, "curl-trace", Meta(source="import:curl"), guarded(records(), path, "curl --trace file"))
    source.warnings += warnings
    return source


TRACE_ASCII_WARNING = (
    "curl --trace-ascii prints line feeds and every byte outside ASCII as '.': the event stream's line feeds "
    "were put back where SSE places them, but its non-ASCII text and UTF-8 were not checked (`curl --trace` "
    "keeps every byte)"
)


def _trace_response(blocks, rel) -> Iterator[Record]:
    head_lines: list[str] = []
    head_t = None
    dechunker: _Dechunker | None = None
    answered = False
    last_t = None
    for ts, what, data in blocks:
        if what == "Recv header":
            line = data.decode("latin-1").rstrip("\r\n")
            if line.startswith("HTTP/"):
                head_lines, head_t = [line], rel(ts)
            elif line:
                head_lines.append(line)
        elif what == "Recv data":
            if not answered:
                answered = True
                status, reason, version, headers = parse_head(head_lines or ["HTTP/1.1"])
                yield Response(0, head_t, status, reason, version, headers)
                chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
                dechunker = _Dechunker() if chunked else None
            payload = data if dechunker is None else dechunker.feed(data)
            last_t = rel(ts)
            if payload:
                yield Chunk(0, last_t, payload)
    if not answered and head_lines:
        status, reason, version, headers = parse_head(head_lines)
        yield Response(0, head_t, status, reason, version, headers)
    yield End(0, last_t, "eof")


def _with_line_feeds(reads: list[Record]) -> Iterator[Record]:
    """A ``--trace-ascii`` response with its event stream's line feeds put back across the whole body,
    each read keeping its size and time."""
    chunks = [r for r in reads if isinstance(r, Chunk)]
    body = restore_line_feeds(b"".join(c.data for c in chunks))
    at = 0
    for record in reads:
        if isinstance(record, Chunk):
            record = Chunk(record.i, record.t, body[at : at + len(record.data)])
            at += len(record.data)
        yield record
