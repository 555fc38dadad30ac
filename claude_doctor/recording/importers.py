"""Importers: other people's captures turned into the same records a recording holds.

Each importer yields what its format can know and ``None`` for the rest (the README's "Recording
format"): raw SSE has no status or timing, ``curl -i`` adds the head, ``curl --trace`` has per-read
bytes and times, HAR and vcrpy have whole bodies only. What an importer cannot read is said in the
source's warnings, never dropped quietly."""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import struct
from collections.abc import Iterator
from typing import IO, Any

from ..errors import RecordingError
from .encoding import BodyDecoder, codings
from .model import Chunk, End, Headers, Meta, Record, Request, Response, Source

BLOCK = 1 << 16
MAX_WHOLE_FILE = 256 * 1024 * 1024  # HAR and cassettes are parsed whole
_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")
#: what ``curl -N -w '\n[curl http_code=%{http_code}]'`` prints after the body: curl's, not the API's
_WRITE_OUT = re.compile(rb"\[curl((?: [\w.]+=[^\s\]]*)*)\][ \t\r\n]*\Z")
_WRITE_OUT_TAIL = 512


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
    tail = data[-_WRITE_OUT_TAIL:]
    match = _WRITE_OUT.search(tail)
    if match is None:
        return data
    cut = len(data) - len(tail) + match.start()
    if data[cut - 1 : cut] == b"\n" and data[cut - 2 : cut - 1] not in (b"\n", b"\r", b""):
        cut -= 1  # the newline -w printed first, after a body cut mid-line; after a whole line it is harmless
    return data[:cut]


def _write_out_status(stream: IO[bytes], first: bytes) -> int | None:
    """The ``http_code`` a ``curl -w`` line at the end of the input gives, read ahead when the input is
    a file (raw SSE has no status line of its own); ``None`` when there is none or it cannot be seen."""
    tail = first[-_WRITE_OUT_TAIL:]
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            if end > here:
                stream.seek(max(here, end - _WRITE_OUT_TAIL))
                tail = (first + stream.read())[-_WRITE_OUT_TAIL:]
            stream.seek(here)
    except (OSError, ValueError):
        return None
    match = _WRITE_OUT.search(tail)
    fields = dict(re.findall(rb"([\w.]+)=([^\s\]]*)", match.group(1))) if match else {}
    status = _status(fields.get(b"http_code", b"").decode("ascii", "replace"))
    return status or None  # curl prints 000 when no response came


def _stream_events(stream: IO[bytes], first: bytes) -> Iterator[bytes]:
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


def _guarded(records: Iterator[Record], path: str, what: str) -> Iterator[Record]:
    """Turn a malformed document's Python errors (a string where an object belongs, bad base64, bad
    chunked framing) into the one-line error every unreadable input gets."""
    try:
        yield from records
    except (AttributeError, TypeError, ValueError, KeyError, binascii.Error) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise RecordingError(path, f"malformed {what} ({detail})") from None


def _status(value: Any) -> int | None:
    """An HTTP status from a document that may hold it as a string, or as anything at all."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    return None


def _body_records(i: int, body: bytes, end_t: float | None = None) -> Iterator[Record]:
    for piece in events_as_chunks(body):
        yield Chunk(i, None, piece)
    yield End(i, end_t, "eof")


def _parse_head(lines: list[str]) -> tuple[int | None, str | None, str | None, Headers]:
    status_line, *header_lines = lines or [""]
    parts = status_line.split(None, 2)
    version = parts[0] if parts else None
    status = int(parts[1]) if len(parts) > 1 and parts[1].isascii() and parts[1].isdigit() else None
    reason = parts[2].strip() if len(parts) > 2 else None
    headers = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines if ":" in h)]
    return status, reason, version, headers


# -- raw SSE (curl -N) ----------------------------------------------------------------------------


def import_raw_sse(stream: IO[bytes], first: bytes, path: str) -> Source:
    """``curl -N`` output: the body alone, its status known only from a ``curl -w`` line."""
    status = _write_out_status(stream, first)

    def records() -> Iterator[Record]:
        if status is not None:
            yield Response(0, None, status, None, None, [])
        for piece in _stream_events(stream, first):
            yield Chunk(0, None, piece)
        yield End(0, None, "eof")

    return Source(path, "sse", Meta(source="import:curl"), records())


# -- curl -i and curl -v --------------------------------------------------------------------------

_PREAMBLE = re.compile(rb"^HTTP/[\d.]+ (100|200 Connection established|101)\b", re.IGNORECASE)


def import_curl_include(stream: IO[bytes], first: bytes, path: str) -> Source:
    """``curl -i``: status line, headers, blank line, body. 100-continue and proxy CONNECT preambles
    come first and are skipped."""
    data = first
    while True:
        head_end = re.search(rb"\r?\n\r?\n", data)
        if head_end is None:
            more = stream.read(BLOCK)
            if not more:
                raise RecordingError(path, "curl -i output ends inside the response headers")
            data += more
            continue
        if _PREAMBLE.match(data):
            data = data[head_end.end() :]
            continue
        break
    if not data.startswith(b"HTTP/"):
        raise RecordingError(path, "curl -i output has no response status line after its preamble")
    # split on LF only: str.splitlines() would also cut a header value at \x85 or \x1c
    head = [line.rstrip("\r") for line in data[: head_end.start()].decode("latin-1").split("\n")]
    status, reason, version, headers = _parse_head(head)
    rest = data[head_end.end() :]

    def records() -> Iterator[Record]:
        yield Response(0, None, status, reason, version, headers)
        for piece in _stream_events(stream, rest):
            yield Chunk(0, None, piece)
        yield End(0, None, "eof")

    return Source(path, "curl-i", Meta(source="import:curl"), records())


def import_curl_verbose(stream: IO[bytes], first: bytes, path: str) -> Source:
    """``curl -v … 2>&1``: ``>`` request head, ``<`` response head, ``*`` notes, the body in between."""
    text = (first + stream.read()).decode("utf-8", "replace")
    request_lines: list[str] = []
    response_lines: list[str] = []
    body: list[str] = []
    for line in text.split("\n"):
        stripped = line.rstrip("\r")
        if stripped.startswith("> "):
            request_lines.append(stripped[2:])
        elif stripped.startswith("< "):
            if stripped[2:].startswith("HTTP/"):
                response_lines = []  # a later status line (after 100 Continue) wins
            response_lines.append(stripped[2:])
        elif stripped.startswith(("* ", "{ [", "} [")) or stripped in (">", "<", "*"):
            continue
        else:
            body.append(line)
    body_bytes = without_write_out("\n".join(body).encode("utf-8"))

    def records() -> Iterator[Record]:
        if request_lines:
            method, _, rest = request_lines[0].partition(" ")
            target = rest.rsplit(" ", 1)[0]
            headers = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in request_lines[1:] if ":" in h)]
            host = next((v for k, v in headers if k.lower() == "host"), "")
            yield Request(0, None, method, f"https://{host}{target}" if host else target, headers)
        if response_lines:
            status, reason, version, headers = _parse_head([h for h in response_lines if h])
            yield Response(0, None, status, reason, version, headers)
        yield from _body_records(0, body_bytes.lstrip(b"\n"))

    return Source(path, "curl-v", Meta(source="import:curl"), records())


# -- curl --trace ---------------------------------------------------------------------------------

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


def import_curl_trace(stream: IO[bytes], first: bytes, path: str) -> Source:
    """``curl --trace`` (every byte, with ``--trace-time`` the time of each read) or ``--trace-ascii``
    (the same, but line feeds and non-ASCII bytes printed as '.': said in a warning)."""
    raw = first + stream.read(MAX_WHOLE_FILE)
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
            lines = head.decode("latin-1").split("\r\n")
            method, _, rest = lines[0].partition(" ")
            target = rest.rsplit(" ", 1)[0]
            headers = [(k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in lines[1:] if ":" in h)]
            host = next((v for k, v in headers if k.lower() == "host"), "")
            req_body = _json_or_none(body)
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

    source = Source(path, "curl-trace", Meta(source="import:curl"), _guarded(records(), path, "curl --trace file"))
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
                status, reason, version, headers = _parse_head(head_lines or ["HTTP/1.1"])
                yield Response(0, head_t, status, reason, version, headers)
                chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
                dechunker = _Dechunker() if chunked else None
            payload = data if dechunker is None else dechunker.feed(data)
            last_t = rel(ts)
            if payload:
                yield Chunk(0, last_t, payload)
    if not answered and head_lines:
        status, reason, version, headers = _parse_head(head_lines)
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


def _json_or_none(body: bytes) -> Any:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


# -- HAR 1.2 --------------------------------------------------------------------------------------


def import_har(doc: dict, path: str) -> Source:
    log = doc.get("log")
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RecordingError(path, "HAR file has no log.entries list of objects")
    chosen = [e for e in entries if "/v1/messages" in str(_dict(e.get("request")).get("url", ""))] or entries
    warnings: list[str] = []

    def records() -> Iterator[Record]:
        for i, entry in enumerate(chosen):
            yield from _har_entry(i, entry, path, warnings)

    recorded_at = chosen[0].get("startedDateTime") if chosen else None
    meta = Meta(source="import:har", recorded_at=recorded_at if isinstance(recorded_at, str) else None)
    return Source(path, "har", meta, _guarded(records(), path, "HAR file"), warnings)


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _har_headers(obj: dict) -> Headers:
    return [(str(h.get("name", "")), str(h.get("value", ""))) for h in obj.get("headers") or []]


def _har_entry(i: int, entry: dict, path: str, warnings: list[str]) -> Iterator[Record]:
    req = entry.get("request") or {}
    post = (req.get("postData") or {}).get("text")
    body = post.encode("utf-8") if isinstance(post, str) else None
    yield Request(
        i,
        0.0,
        str(req.get("method") or "POST"),
        str(req.get("url") or ""),
        _har_headers(req),
        json=_json_or_none(body) if body else None,
        body=body if body and _json_or_none(body) is None else None,
    )
    resp = entry.get("response") or {}
    timings = entry.get("timings") or {}
    head_ms = sum(
        v
        for k, v in timings.items()
        if k in ("blocked", "dns", "connect", "send", "wait") and isinstance(v, (int, float)) and v > 0
    )
    yield Response(
        i,
        round(head_ms / 1000, 6) if timings else None,
        _status(resp.get("status")),
        resp.get("statusText"),
        resp.get("httpVersion"),
        _har_headers(resp),
    )
    content = resp.get("content") or {}
    text = content.get("text")
    if not isinstance(text, str) or not text:
        warnings.append(
            f"{path}: entry {i} has no response body (streamed flows in mitmproxy and SSE in browsers "
            "are often exported without one)"
        )
        yield End(i, None, "eof")
        return
    data = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
    total = entry.get("time")
    yield from _body_records(i, data, round(total / 1000, 6) if isinstance(total, (int, float)) else None)


# -- vcrpy cassettes ------------------------------------------------------------------------------


def import_vcr(doc: dict, path: str) -> Source:
    """A vcrpy (or pytest-recording) cassette. An interaction whose response cannot be read is left
    out with a warning naming it: it is never checked as an empty stream."""
    interactions = doc.get("interactions")
    if not isinstance(interactions, list):
        raise RecordingError(path, "cassette has no interactions list")
    warnings: list[str] = []

    def records() -> Iterator[Record]:
        for i, interaction in enumerate(interactions):
            yield from _vcr_interaction(i, interaction, path, warnings)

    return Source(path, "vcr", Meta(source="import:vcr"), _guarded(records(), path, "vcrpy cassette"), warnings)


#: a header value a recorder masked (langchain's cassettes say ``**REDACTED**`` for every header)
_MASKED = re.compile(r"^\W*(?:redacted|filtered|scrubbed)\W*$", re.IGNORECASE)


def _vcr_headers(obj: Any) -> Headers:
    """A cassette's dict of lists as pairs. A masked value says nothing about the header, so the header
    is left out, as if not recorded: a masked content-type must not read as a gateway's answer."""
    if not isinstance(obj, dict):
        return []
    pairs: Headers = []
    for name, values in obj.items():
        for value in values if isinstance(values, list) else [values]:
            if not _MASKED.match(str(value)):
                pairs.append((str(name), str(value)))
    return pairs


def _as_bytes(value: Any) -> bytes | None:
    """A cassette body as bytes: a string, ``!!binary`` bytes, or vcrpy's ``{string: …}``; ``None``
    when the body is of no known shape."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, dict) and "string" in value:
        return _as_bytes(value["string"])
    return None


def _vcr_body(side: dict) -> bytes | None:
    """The body of a cassette's request or response: ``body`` as vcrpy writes it, or ``parsed_body``
    (a JSON body stored as a YAML object, as pydantic-ai's cassettes keep it); ``None`` when there is
    none that can be read."""
    if "parsed_body" in side:
        return json.dumps(side["parsed_body"], ensure_ascii=False).encode("utf-8")
    body = side.get("body")
    return b"" if body is None and "body" in side else _as_bytes(body)


def _decompress(data: bytes, headers: Headers) -> bytes:
    """Undo each ``Content-Encoding``, last applied first (the recorders' own decoder). A recorder that
    decoded the body but kept the header (vcrpy's ``decode_compressed_response``, test agents) or masked
    its value (langchain writes ``**REDACTED**`` for every header) leaves text that does not decompress:
    that text is the body. Raises ``ValueError`` for a binary body that cannot be decoded."""
    value = ",".join(v for k, v in headers if k.lower() == "content-encoding")
    if not codings(value) and data[:2] == b"\x1f\x8b":
        value = "gzip"  # a gzip body whose header a recorder dropped
    decoder = BodyDecoder(value)
    body = decoder.whole(data)
    if decoder.problem is None:
        return body
    if _is_text(data):
        return data
    raise ValueError(f"its body has {decoder.problem}")


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _vcr_interaction(i: int, interaction: Any, path: str, warnings: list[str]) -> Iterator[Record]:
    problem = _vcr_problem(interaction)
    if problem is None:
        resp = interaction["response"]
        headers = _vcr_headers(resp.get("headers"))
        try:
            body, headers = _event_stream(_decompress(_vcr_body(resp) or b"", headers), headers)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        warnings.append(f"{path}: exchange {i} (interaction {i + 1}) was not checked: {problem}")
        return
    req = _dict(interaction.get("request"))
    req_body = _vcr_body(req) or b""
    req_json = _json_or_none(req_body) if req_body else None
    yield Request(
        i,
        None,
        str(req.get("method") or "POST"),
        str(req.get("uri") or req.get("url") or ""),
        _vcr_headers(req.get("headers")),
        json=req_json,
        body=req_body if req_body and req_json is None else None,
    )
    status = _dict(resp.get("status"))
    yield Response(i, None, _status(status.get("code")), status.get("message"), None, headers)
    yield from _body_records(i, body)


# -- Bedrock's AWS event stream ---------------------------------------------------------------------

AWS_EVENT_STREAM = "application/vnd.amazon.eventstream"
_AWS_STRING = 7  # the only header value type Bedrock's frames use


def _event_stream(body: bytes, headers: Headers) -> tuple[bytes, Headers]:
    """The body and headers as the checks read them: an AWS event stream (Bedrock's
    ``invoke-with-response-stream``) becomes the SSE the Messages API sends, its content-type
    ``text/event-stream`` (as a decoded body loses its Content-Encoding); any other body stays as it is."""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if ctype.split(";")[0].strip().lower() != AWS_EVENT_STREAM:
        return body, headers
    sse_headers = [(k, "text/event-stream") if k.lower() == "content-type" else (k, v) for k, v in headers]
    return aws_events_as_sse(body), sse_headers


def aws_events_as_sse(data: bytes) -> bytes:
    """Bedrock frames each Messages API event in binary (lengths, headers, CRCs) with its JSON base64'd
    in ``{"bytes": …}``. As SSE, one event per frame, the API's JSON byte for byte, the checks read it
    as they read the API's own stream; an exception frame becomes an ``error`` event. A frame cut off
    at the end is left out, so the stream lacks its end, as it did. Raises ``ValueError`` for a frame
    that cannot be read."""
    out = bytearray()
    pos = 0
    try:
        while pos + 12 <= len(data):
            total, head_size = struct.unpack_from(">II", data, pos)
            if total < 16 + head_size:
                raise ValueError("bad frame length")
            if pos + total > len(data):
                break
            headers = _frame_headers(data[pos + 12 : pos + 12 + head_size])
            out += _frame_event(headers, json.loads(data[pos + 12 + head_size : pos + total - 4]))
            pos += total
    except (ValueError, LookupError, TypeError, AttributeError, struct.error, binascii.Error) as exc:
        raise ValueError(f"its AWS event stream cannot be read at byte {pos}: {exc or type(exc).__name__}") from None
    return bytes(out)


def _frame_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    at = 0
    while at < len(raw):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode("utf-8")
        kind = raw[at + 1 + size]
        if kind != _AWS_STRING:
            raise ValueError(f"header {name} has value type {kind}")
        (length,) = struct.unpack_from(">H", raw, at + 2 + size)
        headers[name] = raw[at + 4 + size : at + 4 + size + length].decode("utf-8")
        at += 4 + size + length
    return headers


def _frame_event(headers: dict[str, str], payload: dict) -> bytes:
    if headers.get(":message-type") == "event":
        if "bytes" not in payload:
            raise ValueError(f"a {headers.get(':event-type')} event, not a Messages API one (Bedrock's Converse API?)")
        data = base64.b64decode(payload["bytes"], validate=True)
        event = json.loads(data)
        if "type" not in event:
            raise ValueError("an event with no type, not a Messages API one (the Text Completions API?)")
        return b"event: " + str(event["type"]).encode() + b"\ndata: " + data + b"\n\n"
    error_type = headers.get(":exception-type") or headers.get(":error-code") or "error"
    message = payload.get("message") or payload.get("Message") or headers.get(":error-message") or ""
    error = {"type": "error", "error": {"type": error_type, "message": str(message)}}
    return b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"


# -- vcrpy cassettes, continued ---------------------------------------------------------------------


def _vcr_problem(interaction: Any) -> str | None:
    """Why an interaction holds no response that can be checked, or ``None``."""
    if not isinstance(interaction, dict):
        return f"it is not a mapping (got {type(interaction).__name__})"
    resp = interaction.get("response")
    if not isinstance(resp, dict):
        return "it has no response"
    if _vcr_body(resp) is None:
        return "its response has neither a body string nor a parsed_body"
    return None
