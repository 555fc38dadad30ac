"""Recording format v1: the streaming reader and the flushing, redacting writer."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
from collections.abc import Iterator
from typing import IO, Any

from .. import __version__
from ..errors import RecordingError
from ..fastjson import json_line, loads_fast, parse_json
from ..keys import redact_headers, redact_pieces, redact_text
from .model import FORMAT, VERSION, Chunk, End, Headers, Meta, Note, Record, Request, Response, Source
from .redaction import ChunkRedactor, is_event_stream

MAX_LINE_BYTES = 64 * 1024 * 1024
_PIECE = 1 << 18  #: read a block this size at a time
MAX_INLINE_BODY = 1 << 20  #: a request body longer than this goes in ``request_body`` lines after its request
#: request body bytes one ``request_body`` line holds at most: well under what the redactor holds back
#: while a key may be in flight, so a key split between two lines is still redacted whole
BODY_PART = 256 * 1024
#: a body in parts is joined for the checks up to this size (the API's own limit is 32 MB); past it the
#: checks go without it, with a warning
MAX_JOINED_BODY = 32 * 1024 * 1024


# -- reading --------------------------------------------------------------------------------------


def read_recording(stream: IO[bytes], path: str, head: bytes = b"") -> Source:
    """Open a v1 recording (``head``: bytes already read from ``stream``, which come first). The meta
    line is checked now; the rest streams lazily, a block at a time, so a 1 GB recording is read in
    bounded memory."""
    lines = _numbered_lines(_blocks(stream, path, head), path)
    try:
        number, first, _ = next(lines)
    except StopIteration:
        raise RecordingError(path, "empty file") from None
    obj = _parse(first, path, number)
    if obj.get("k") != "meta" or obj.get("format") != FORMAT:
        raise RecordingError(path, f"first line is not a {FORMAT} meta line", number)
    if obj.get("v") != VERSION:
        raise RecordingError(path, f"unsupported recording version v={obj.get('v')!r} (this tool reads v=1)", number)
    meta = Meta(
        source=str(obj.get("source") or "unknown"),
        recorded_at=obj.get("recorded_at"),
        tool=obj.get("tool"),
        redacted=[str(n) for n in obj["redacted"]] if isinstance(obj.get("redacted"), list) else [],
    )
    source = Source(path, "recording", meta, iter(()))
    order = _ExchangeOrder(path, source.warnings)
    source.records = order.records(_records(lines, path, source.warnings, order))
    return source


def _blocks(stream: IO[bytes], path: str, head: bytes) -> Iterator[bytes]:
    if head:
        yield head
    while True:
        try:
            block = stream.read(_PIECE)
        except OSError as exc:
            raise RecordingError(path, f"read failed: {exc.strerror or exc}") from None
        if not block:
            return
        yield block


def _numbered_lines(blocks: Iterator[bytes], path: str) -> Iterator[tuple[int, bytes | bytearray, bool]]:
    """Yield ``(line number, bytes without the newline, ended with newline)``, split on b"\\n" only
    (U+2028 is legal JSON), blank lines left out. Blocks are split whole (a call per line costs more than
    the line); a line that runs on past its block grows one buffer in place, up to the line cap."""
    number = 0
    held: bytearray | None = None  # a line begun in an earlier block
    for block in blocks:
        lines = block.split(b"\n")
        if held is not None:
            held += lines[0]
            if len(held) > MAX_LINE_BYTES:
                raise RecordingError(path, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB", number + 1)
            if len(lines) == 1:
                continue
            lines[0] = held
            held = None
        rest = lines.pop()
        if rest:
            held = bytearray(rest)
        for line in lines:
            number += 1
            if len(line) > 1 or line.strip():  # blank lines are skipped; no copy of long ones
                yield number, line, True
    if held is not None and (len(held) > 1 or held.strip()):
        yield number + 1, held, False


def _parse(line: bytes, path: str, number: int) -> dict:
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordingError(path, f"not valid JSON ({_short(exc)})", number) from None
    if not isinstance(obj, dict):
        raise RecordingError(path, f"expected a JSON object, got {type(obj).__name__}", number)
    return obj


def _short(exc: Exception) -> str:
    text = str(exc)
    return text.split(":")[0] if len(text) > 80 else text


def _parse_line(line: bytes) -> object:
    """Chunk lines (nearly all of a recording, with no numbers but ``i`` and ``t``) by the fast parser;
    the others, whose bodies may hold integers that must come back exact, by ``parse_json``."""
    if line.startswith(b'{"k":"chunk"'):
        try:
            return loads_fast(line)
        except ValueError:
            pass  # parse_json has the last word, and the message
    return parse_json(line)


def _records(
    lines: Iterator[tuple[int, bytes, bool]], path: str, warnings: list[str], order: _ExchangeOrder
) -> Iterator[Record]:
    """The records in order, ``order`` told the number of each line read. A request whose body comes in
    ``request_body`` lines is held until the first line that is not one of them, and then given with its
    body joined. A chunk line as the recorder writes it (nearly all of a recording) is read on a short
    path: the same checks, fewer calls."""
    pending: _PartsBody | None = None
    strays: set[int] = set()  # exchanges with request_body lines not right after their request
    for number, line, terminated in lines:
        order.number = number
        if pending is None and line.startswith(b'{"k":"chunk"'):
            chunk = _plain_chunk(line)
            if chunk is not None:
                yield chunk
                continue
        try:
            obj = _parse_line(line)
        except ValueError as exc:
            if not terminated:
                warnings.append(f"{path}:{number}: truncated last line ignored (the capture was cut off)")
                break
            raise RecordingError(path, f"not valid JSON ({_short(exc)})", number) from None
        if not isinstance(obj, dict):
            raise RecordingError(path, f"expected a JSON object, got {type(obj).__name__}", number)
        try:
            if obj.get("k") == "request_body":
                i, data = _index(obj), _bytes_field(obj)
                if pending is not None and pending.request.i == i:
                    pending.add(data)
                elif i not in strays:
                    strays.add(i)
                    warnings.append(
                        f"{path}:{number}: request body lines of exchange {i} away from its request ignored"
                    )
                continue
            record = _record(obj)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise RecordingError(path, f"bad {obj.get('k')!r} line: {_field_problem(exc)}", number) from None
        if pending is not None:
            yield pending.joined(path, warnings)
            pending = None
        if isinstance(record, Request) and obj.get("parts") is True:
            pending = _PartsBody(record)
        elif record is not None:
            yield record
    if pending is not None:
        yield pending.joined(path, warnings)


def _plain_chunk(line: bytes) -> Chunk | None:
    """A ``chunk`` line with an ``i``, a float ``t`` and a ``text``, as the recorder writes them; ``None``
    for anything else (the full path reads it, and says what is wrong)."""
    try:
        obj = loads_fast(line)
    except ValueError:
        return None
    if obj.__class__ is not dict or obj.get("k") != "chunk":
        return None
    i, t, text = obj.get("i"), obj.get("t"), obj.get("text")
    if i.__class__ is not int or i < 0 or t.__class__ is not float or text.__class__ is not str:
        return None
    return Chunk(i, t, text.encode("utf-8", "surrogatepass"))


class _PartsBody:
    """A request whose body follows in ``request_body`` lines: the parts are joined up to
    ``MAX_JOINED_BODY`` (past that only counted, so a reader's memory stays bounded)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.data = bytearray()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size <= MAX_JOINED_BODY:
            self.data += data
        else:
            self.data = bytearray()

    def joined(self, path: str, warnings: list[str]) -> Request:
        request = self.request
        if self.size > MAX_JOINED_BODY:
            warnings.append(
                f"{path}: exchange {request.i}: request body of {self.size:,} bytes is over "
                f"{MAX_JOINED_BODY // (1024 * 1024)} MiB: the checks that read the request go without it"
            )
        elif self.data:
            _set_body(request, bytes(self.data))
        return request


def _set_body(request: Request, body: bytes) -> None:
    """Give a joined body the field the one-line form would have: ``json`` for a JSON object, else
    ``text`` for UTF-8, else the bytes."""
    try:
        parsed = parse_json(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        request.json = parsed
        return
    try:
        request.text = body.decode("utf-8")
    except UnicodeDecodeError:
        request.body = body


class _ExchangeOrder:
    """Names what is wrong when an exchange's lines are out of order (a second ``end``, an ``end``
    before any other line of its exchange, lines after the ``end``, a second ``request``): the checks
    would otherwise read the pieces as exchanges that look fine. A stray ``end`` is dropped; the
    rest is read as it comes, each defect said once in the source's warnings with its line."""

    def __init__(self, path: str, warnings: list[str]) -> None:
        self.path = path
        self.warnings = warnings
        self.number = 0  # the line just read
        self.started: dict[int, int] = {}  # exchange → line of its first line (or request)
        self.ended: dict[int, int] = {}  # exchange → line of its end

    def records(self, records: Iterator[Record]) -> Iterator[Record]:
        started = self.started
        for record in records:
            common = record.__class__ is Chunk and record.i in started  # by far the most records
            if common or isinstance(record, Note) or self._in_order(record):
                yield record

    def _in_order(self, record: Chunk | Request | Response | End) -> bool:
        i, here = record.i, self.number
        if i in self.ended:
            if isinstance(record, End):
                return self._warn(
                    f"a second `end` line for exchange {i} (the first is on line {self.ended[i]}); ignored"
                )
            self._warn(
                f"exchange {i} goes on after its `end` (line {self.ended[i]}): two exchanges share index {i}; "
                "read as two"
            )
            del self.ended[i]
            self.started[i] = here
            return True
        if isinstance(record, End):
            if i not in self.started:
                return self._warn(f"an `end` line for exchange {i} before any other line of it; ignored")
            self.ended[i] = here
            del self.started[i]
        elif isinstance(record, Request) and i in self.started:
            self._warn(
                f"a second `request` line for exchange {i} (the first is on line {self.started[i]}) before its "
                f"`end`: two exchanges share index {i}"
            )
            self.started[i] = here
        else:
            self.started.setdefault(i, here)
        return True

    def _warn(self, text: str) -> bool:
        self.warnings.append(f"{self.path}:{self.number}: {text}")
        return False


def _field_problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _time(obj: dict) -> float | None:
    t = obj.get("t")
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(f"t must be a number or null, got {t!r}")
    return float(t)


def _index(obj: dict) -> int:
    i = obj["i"]
    if isinstance(i, bool) or not isinstance(i, int) or i < 0:
        raise ValueError(f"i must be a non-negative integer, got {i!r}")
    return i


def _headers(obj: dict) -> Headers:
    pairs = obj.get("headers") or []
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
    ):
        raise ValueError("headers must be a list of [name, value] string pairs")
    return [(k, v) for k, v in pairs]


def _bytes_field(obj: dict) -> bytes:
    """The bytes of a ``chunk`` or ``request_body`` line: ``text`` (UTF-8) or ``b64``."""
    if "text" in obj:
        text = obj["text"]
        if not isinstance(text, str):
            raise ValueError("text must be a string")
        return text.encode("utf-8", "surrogatepass")
    return base64.b64decode(obj["b64"], validate=True)


def _record(obj: dict) -> Record | None:
    kind = obj.get("k")
    if kind == "chunk":
        return Chunk(_index(obj), _time(obj), _bytes_field(obj))
    if kind == "request":
        body = base64.b64decode(obj["b64"], validate=True) if "b64" in obj else None
        return Request(
            _index(obj),
            _time(obj),
            str(obj.get("method") or "POST"),
            str(obj.get("url") or ""),
            _headers(obj),
            json=obj.get("json"),
            text=obj.get("text"),
            body=body,
        )
    if kind == "response":
        status = obj.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise ValueError(f"status must be an integer, got {status!r}")
        return Response(_index(obj), _time(obj), status, obj.get("reason"), obj.get("http_version"), _headers(obj))
    if kind == "end":
        reason = obj.get("reason") or "error"
        return End(_index(obj), _time(obj), str(reason), obj.get("error"), obj.get("error_type"))
    if kind == "note":
        return Note(str(obj.get("text", "")))
    return None  # unknown kinds are ignored, as the format requires


# -- writing --------------------------------------------------------------------------------------


def _round(t: float | None) -> float | None:
    return None if t is None else round(t, 6)


class RecordingWriter:
    """Writes recording format v1, one flushed line per record, redacting before anything is written.

    The meta line goes out with the first request, so that it can name the headers that request had
    redacted; a crash at any point leaves a valid prefix."""

    def __init__(self, stream: IO[bytes], source: str, recorded_at: str | None = None) -> None:
        self._stream = stream
        self._source = source
        self._recorded_at = recorded_at or _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        )
        self._meta_written = False
        #: chunks and request body parts, by (kind, exchange), held while a key may be in flight
        self._held: dict[tuple[str, int], ChunkRedactor] = {}
        self._failed: OSError | None = None

    def _write(self, obj: dict) -> None:
        """Write one line. After a failed write (a full disk) every later one fails the same way without
        writing, so that no line lands after a half-written one."""
        if self._failed is not None:
            raise OSError(self._failed.errno, self._failed.strerror)
        try:
            self._stream.write(json_line(obj))
            self._stream.flush()
        except OSError as exc:
            self._failed = exc
            raise

    def _meta(self, redacted: set[str]) -> None:
        if not self._meta_written:
            self._meta_written = True
            self._write(
                {
                    "k": "meta",
                    "format": FORMAT,
                    "v": VERSION,
                    "recorded_at": self._recorded_at,
                    "source": self._source,
                    "tool": f"claude-doctor {__version__}",
                    "redacted": sorted(redacted),
                }
            )

    def request(
        self,
        i: int,
        t: float | None,
        method: str,
        url: str,
        headers: Headers,
        body: bytes | None,
        parts: bool = False,
    ) -> None:
        """Write the request. A body over ``MAX_INLINE_BODY`` bytes, or one still to come (``parts``: the
        caller sends it with ``request_body`` as it arrives), goes in ``request_body`` lines after it,
        so that no line grows with the body."""
        safe, names = redact_headers(headers)
        self._meta(names)
        obj: dict[str, Any] = {
            "k": "request",
            "i": i,
            "t": _round(t),
            "method": method,
            "url": redact_text(url),
            "headers": [list(p) for p in safe],
        }
        parts = parts or (body is not None and len(body) > MAX_INLINE_BODY)
        if parts:
            obj["parts"] = True
        else:
            obj.update(_body_fields(body))
        self._write(obj)
        if parts and body:
            self.request_body(i, t, body)

    def request_body(self, i: int, t: float | None, data: bytes) -> None:
        """Write request body bytes (after a ``parts`` request) in lines of at most ``BODY_PART`` bytes,
        cut between UTF-8 characters; a key split between calls is redacted whole, as in chunks."""
        for piece in _utf8_slices(data, BODY_PART):
            self._hold("request_body", i, t, piece)

    def response(
        self,
        i: int,
        t: float | None,
        status: int | None,
        reason: str | None,
        http_version: str | None,
        headers: Headers,
    ) -> None:
        self._meta(set())
        self._release(("request_body", i))
        self._held[("chunk", i)] = ChunkRedactor(is_event_stream(headers))
        safe, _ = redact_headers(headers)
        self._write(
            {
                "k": "response",
                "i": i,
                "t": _round(t),
                "status": status,
                "reason": reason,
                "http_version": http_version,
                "headers": [list(p) for p in safe],
            }
        )

    def chunk(self, i: int, t: float | None, data: bytes) -> None:
        """Write a chunk. Chunks wait while a key may be in flight (the bytes end like the start of one,
        an event is not complete, a content block's text ends like the start of one), so that a key
        split across chunks or across text deltas is still found and redacted whole (``ChunkRedactor``)."""
        self._meta(set())
        self._release(("request_body", i))
        self._hold("chunk", i, t, data)

    def _hold(self, kind: str, i: int, t: float | None, data: bytes) -> None:
        redactor = self._held.get((kind, i))
        if redactor is None:
            redactor = self._held[kind, i] = ChunkRedactor(event_stream=kind == "chunk")
        self._write_pieces(kind, i, redactor.push(t, data))

    def _release(self, key: tuple[str, int]) -> None:
        redactor = self._held.pop(key, None)
        if redactor is not None:
            self._write_pieces(*key, redactor.close())

    def _write_pieces(self, kind: str, i: int, pieces: list[tuple[float | None, bytes]]) -> None:
        for t, data in pieces:
            self._write({"k": kind, "i": i, "t": _round(t), **_chunk_fields(data)})

    def flush(self) -> None:
        """Write every held chunk (the writer's owner calls this, or ``end``, before closing)."""
        for key in list(self._held):
            self._release(key)

    def end(
        self, i: int, t: float | None, reason: str, error: str | None = None, error_type: str | None = None
    ) -> None:
        self._meta(set())
        self._release(("request_body", i))
        self._release(("chunk", i))
        obj: dict[str, Any] = {"k": "end", "i": i, "t": _round(t), "reason": reason}
        if error is not None:
            obj["error"] = redact_text(error)
        if error_type is not None:
            obj["error_type"] = error_type
        self._write(obj)

    def note(self, text: str) -> None:
        self._meta(set())
        self._write({"k": "note", "text": redact_text(text)})


def _utf8_slices(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` in slices of at most ``size`` bytes, each cut before a UTF-8 lead byte where one is
    near, so that text stays ``text`` in the file."""
    start = 0
    while len(data) - start > size:
        cut = start + size
        back = cut
        while back > cut - 4 and back > start + 1 and 0x80 <= data[back] < 0xC0:
            back -= 1
        cut = back if 0x80 <= data[cut] < 0xC0 and not 0x80 <= data[back] < 0xC0 else cut
        yield data[start:cut]
        start = cut
    if start < len(data):
        yield data[start:]


def _chunk_fields(data: bytes) -> dict[str, str]:
    """``text`` when the bytes are UTF-8 on their own, else ``b64``; the bytes come redacted."""
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _body_fields(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _chunk_fields(redact_pieces([body])[0])
    text = redact_text(text)
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"text": text}
    return {"json": parsed} if isinstance(parsed, dict) else {"text": text}


def write_source(source: Source, stream: IO[bytes]) -> None:
    """Re-write any opened source (an import, say) as a v1 recording."""
    writer = RecordingWriter(stream, source.meta.source, source.meta.recorded_at)
    for record in source.records:
        if isinstance(record, Request):
            body = record.body
            if record.json is not None:
                body = json.dumps(record.json, ensure_ascii=False).encode()
            elif record.text is not None:
                body = record.text.encode()
            writer.request(record.i, record.t, record.method, record.url, record.headers, body)
        elif isinstance(record, Response):
            writer.response(record.i, record.t, record.status, record.reason, record.http_version, record.headers)
        elif isinstance(record, Chunk):
            writer.chunk(record.i, record.t, record.data)
        elif isinstance(record, End):
            writer.end(record.i, record.t, record.reason, record.error, record.error_type)
        elif isinstance(record, Note):
            writer.note(record.text)
