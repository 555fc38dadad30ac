"""Importers: other people's captures turned into the same records a recording holds.

Each importer yields what its format can know and ``None`` for the rest (recording-format.md,
"Imports"; replay-perf.md §1.6): raw SSE has no status or timing, ``curl -i`` adds the head,
``curl --trace`` has per-read bytes and times, HAR and vcrpy have whole bodies only."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any

from ..errors import RecordingError
from .model import Chunk, End, Headers, Meta, Record, Request, Response, Source

BLOCK = 1 << 16
MAX_WHOLE_FILE = 256 * 1024 * 1024  # HAR and cassettes are parsed whole
_EVENT_END = re.compile(rb"(?<=\n\n)|(?<=\r\n\r\n)|(?<=\r\r)")


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


def _stream_events(stream: IO[bytes], first: bytes) -> Iterator[bytes]:
    """Per-event chunks from a stream of any size, in bounded memory."""
    carry = first
    while True:
        block = stream.read(BLOCK)
        if not block:
            yield from events_as_chunks(carry)
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
    def records() -> Iterator[Record]:
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
    body_bytes = "\n".join(body).encode("utf-8")

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


_HEX_OFFSET = re.compile(r"[0-9a-f]{4,}: ")  # curl prints it with %4.4zx: 0x10000 has five digits


def _trace_blocks(text: str) -> Iterator[tuple[float | None, str, bytes]]:
    """(seconds since midnight or None, what, bytes) for each block of a ``curl --trace`` file."""
    ts: float | None = None
    what = ""
    remaining = 0
    data = bytearray()
    for line in text.split("\n"):
        head = _TRACE_HEAD.match(line)
        if head:
            if what:
                yield ts, what, bytes(data)
            ts = _seconds(head.group("ts"))
            what = head.group("what")
            remaining = int(head.group("n") or 0) if what != "Info" else 0
            data = bytearray()
            continue
        offset = _HEX_OFFSET.match(line) if remaining else None
        if offset:
            pairs = line[offset.end() :].split(" ")
            take = min(16, remaining)
            try:
                data += bytes(int(p, 16) for p in pairs[:take])
            except ValueError:
                raise ValueError(f"bad hex dump line {line[:40]!r} (use --trace, not --trace-ascii)") from None
            remaining -= take
    if what:
        yield ts, what, bytes(data)


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
    raw = first + stream.read(MAX_WHOLE_FILE)
    try:
        blocks = list(_trace_blocks(raw.decode("utf-8", "replace")))
    except ValueError as exc:
        raise RecordingError(path, f"curl --trace: {exc}") from None
    start = next((ts for ts, what, _ in blocks if what.startswith("Send") and ts is not None), None)

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
        yield from _trace_response(blocks, rel)

    return Source(path, "curl-trace", Meta(source="import:curl"), _guarded(records(), path, "curl --trace file"))


def _trace_response(blocks, rel) -> Iterator[Record]:
    head_lines: list[str] = []
    head_t = None
    dechunker: _Dechunker | None = None
    last_t = None
    for ts, what, data in blocks:
        if what == "Recv header":
            line = data.decode("latin-1").rstrip("\r\n")
            if line.startswith("HTTP/"):
                head_lines, head_t = [line], rel(ts)
            elif line:
                head_lines.append(line)
        elif what == "Recv data":
            if dechunker is None:
                status, reason, version, headers = _parse_head(head_lines or ["HTTP/1.1"])
                yield Response(0, head_t, status, reason, version, headers)
                chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
                dechunker = _Dechunker() if chunked else None
                plain = dechunker is None
            payload = data if plain else dechunker.feed(data)
            last_t = rel(ts)
            if payload:
                yield Chunk(0, last_t, payload)
    if dechunker is None and head_lines:
        status, reason, version, headers = _parse_head(head_lines)
        yield Response(0, head_t, status, reason, version, headers)
    yield End(0, last_t, "eof")


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
    interactions = doc.get("interactions")
    if not isinstance(interactions, list):
        raise RecordingError(path, "cassette has no interactions list")

    def records() -> Iterator[Record]:
        for i, interaction in enumerate(interactions):
            yield from _vcr_interaction(i, interaction)

    return Source(path, "vcr", Meta(source="import:vcr"), _guarded(records(), path, "vcrpy cassette"))


def _vcr_headers(obj: Any) -> Headers:
    if not isinstance(obj, dict):
        return []
    pairs: Headers = []
    for name, values in obj.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((str(name), str(value)))
    return pairs


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, dict) and "string" in value:
        return _as_bytes(value["string"])
    return b""


def _decompress(data: bytes, headers: Headers) -> bytes:
    encoding = next((v.lower() for k, v in headers if k.lower() == "content-encoding"), "")
    try:
        if "gzip" in encoding:
            return gzip.decompress(data)
        if "deflate" in encoding:
            return zlib.decompress(data)
    except (OSError, zlib.error):
        return data
    return data


def _vcr_interaction(i: int, interaction: dict) -> Iterator[Record]:
    req = interaction.get("request") or {}
    body = _as_bytes(req.get("body"))
    yield Request(
        i,
        None,
        str(req.get("method") or "POST"),
        str(req.get("uri") or ""),
        _vcr_headers(req.get("headers")),
        json=_json_or_none(body) if body else None,
    )
    resp = interaction.get("response") or {}
    status = resp.get("status") or {}
    headers = _vcr_headers(resp.get("headers"))
    yield Response(i, None, _status(status.get("code")), status.get("message"), None, headers)
    yield from _body_records(i, _decompress(_as_bytes(resp.get("body")), headers))
