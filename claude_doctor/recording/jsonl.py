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
from ..keys import KEY_START_AT_END_RE, redact_headers, redact_pieces, redact_text
from .model import FORMAT, VERSION, Chunk, End, Headers, Meta, Note, Record, Request, Response, Source

MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_KEY_BYTES = 256  # longer than any key shape
MAX_HELD_BYTES = 1024 * 1024  # past this a "key" is not one: write it out
_PIECE = 1 << 20


# -- reading --------------------------------------------------------------------------------------


def read_recording(stream: IO[bytes], path: str) -> Source:
    """Open a v1 recording. The meta line is checked now; the rest streams lazily, one line at a time,
    so a 1 GB recording is read in bounded memory."""
    lines = _numbered_lines(stream, path)
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
    source.records = _records(lines, path, source.warnings)
    return source


def _numbered_lines(stream: IO[bytes], path: str) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line number, bytes, ended with newline)``, split on b"\\n" only (U+2028 is legal JSON)."""
    number = 0
    while True:
        try:
            line = stream.readline(_PIECE)
            if len(line) == _PIECE and not line.endswith(b"\n"):
                # a long line: grow one buffer in place (readline(limit) of a huge line holds two copies)
                line = bytearray(line)
                while len(line) <= MAX_LINE_BYTES and not line.endswith(b"\n"):
                    more = stream.readline(min(_PIECE, MAX_LINE_BYTES + 1 - len(line)))
                    if not more:
                        break
                    line += more
        except OSError as exc:
            raise RecordingError(path, f"read failed: {exc.strerror or exc}") from None
        if not line:
            return
        number += 1
        terminated = line.endswith(b"\n")
        if not terminated and len(line) > MAX_LINE_BYTES:
            raise RecordingError(path, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB", number)
        if len(line) > 2 or line.strip():  # blank lines are skipped; no copy of long ones
            yield number, line, terminated


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


def _records(lines: Iterator[tuple[int, bytes, bool]], path: str, warnings: list[str]) -> Iterator[Record]:
    for number, line, terminated in lines:
        try:
            obj = _parse_line(line)
        except ValueError as exc:
            if not terminated:
                warnings.append(f"{path}:{number}: truncated last line ignored (the capture was cut off)")
                return
            raise RecordingError(path, f"not valid JSON ({_short(exc)})", number) from None
        if not isinstance(obj, dict):
            raise RecordingError(path, f"expected a JSON object, got {type(obj).__name__}", number)
        try:
            record = _record(obj)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise RecordingError(path, f"bad {obj.get('k')!r} line: {_field_problem(exc)}", number) from None
        if record is not None:
            yield record


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


def _record(obj: dict) -> Record | None:
    kind = obj.get("k")
    if kind == "chunk":
        if "text" in obj:
            text = obj["text"]
            if not isinstance(text, str):
                raise ValueError("text must be a string")
            data = text.encode("utf-8", "surrogatepass")
        else:
            data = base64.b64decode(obj["b64"], validate=True)
        return Chunk(_index(obj), _time(obj), data)
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
        self._held: dict[int, list[tuple[float | None, bytes]]] = {}  # chunks that may end inside a key
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

    def request(self, i: int, t: float | None, method: str, url: str, headers: Headers, body: bytes | None) -> None:
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
        obj.update(_body_fields(body))
        self._write(obj)

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
        """Write a chunk. One whose end could be the start of a key waits for the next chunk of its
        exchange, so that a key split across chunks is still found and redacted whole."""
        self._meta(set())
        held = self._held.setdefault(i, [])
        held.append((t, data))
        if KEY_START_AT_END_RE.search(_tail(held)) and sum(len(d) for _, d in held) < MAX_HELD_BYTES:
            return
        self._release(i)

    def _release(self, i: int) -> None:
        held = self._held.pop(i, [])
        for (t, _), data in zip(held, redact_pieces([d for _, d in held]), strict=True):
            self._write({"k": "chunk", "i": i, "t": _round(t), **_chunk_fields(data)})

    def flush(self) -> None:
        """Write every held chunk (the writer's owner calls this, or ``end``, before closing)."""
        for i in list(self._held):
            self._release(i)

    def end(
        self, i: int, t: float | None, reason: str, error: str | None = None, error_type: str | None = None
    ) -> None:
        self._meta(set())
        self._release(i)
        obj: dict[str, Any] = {"k": "end", "i": i, "t": _round(t), "reason": reason}
        if error is not None:
            obj["error"] = redact_text(error)
        if error_type is not None:
            obj["error_type"] = error_type
        self._write(obj)

    def note(self, text: str) -> None:
        self._meta(set())
        self._write({"k": "note", "text": redact_text(text)})


def _tail(held: list[tuple[float | None, bytes]]) -> bytes:
    """The last ``MAX_KEY_BYTES`` of the held chunks, however many chunks that takes: a key echoed back
    in reads of a few bytes each must still be seen whole."""
    parts: list[bytes] = []
    size = 0
    for _, data in reversed(held):
        parts.append(data)
        size += len(data)
        if size >= MAX_KEY_BYTES:
            break
    return b"".join(reversed(parts))[-MAX_KEY_BYTES:]


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
