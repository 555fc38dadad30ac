"""Keys in a response body, found and hidden as the SDK would assemble them.

A key can reach a recording in two shapes: whole in the bytes (a header echoed in an error message), or
spread over the text deltas of one content block, 12 or 40 characters an event, so that no single chunk
or event holds more than a slice of it while ``text_stream`` prints it whole. :class:`ChunkRedactor`
takes one exchange's body chunk by chunk and gives the chunks back with both shapes redacted:

- bytes: every ``sk-ant-…`` run of the joined chunks, however the chunks split it;
- text: every ``sk-ant-…`` run of the joined ``text``, ``thinking`` or ``partial_json`` pieces of each
  content block. The delta where the key starts carries ``[REDACTED len=N]`` in place of its piece of
  the key, and every later delta loses its piece, so the assembled text holds the stand-in once and no
  event or chunk holds any character of the key. The events touched are rewritten as compact JSON.

Chunks are held, never dropped or reordered, while a key may be in flight: the bytes end like the
start of a key, an event is not complete yet, or a block's text ends like the start of a key; the hot
path (whole events in which no JSON string ends like ``s``…``sk-ant`` and no ``sk-ant-`` occurs) costs
one regex search and decodes nothing.

What is guaranteed, for an SSE body (LF or CRLF framing, any chunking): no ``sk-ant-`` run of 8 or more
key characters is left in the bytes, nor in the text of any block as the SDK joins it. What is not:
key characters spelled as JSON ``\\u`` escapes (no encoder the API or the SDK uses writes them); a key
still in flight when ``MAX_HELD_BYTES`` are held (then what is held goes out as far as it is known);
a run of key characters past ``MAX_KEY_CHARS`` (it is redacted up to there); a body whose response names
another content type than ``text/event-stream`` (only its bytes are looked at).

The writer (every recorder), ``replay`` and the ``secrets`` check of recordings share this one class.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable, Iterator

from ..fastjson import loads_fast
from ..keys import KEY_START_AT_END_RE, KEYISH_RE, edit_pieces, redact_pieces, redacted_value
from ..sse import SSEDecoder, SSEEvent
from .model import Chunk, End, Headers, Record, Response, header

MAX_KEY_BYTES = 256  #: longer than any key shape: how far back the bytes are looked at
MAX_HELD_BYTES = 1024 * 1024  #: past this a "key" is not one: what is held goes out
MAX_KEY_CHARS = 4096  #: a run of key characters in a block's text longer than this is redacted as it stands
TEXT_FIELDS = ("text", "thinking", "partial_json")  #: the delta fields the SDK joins into a block's text
_BLOCK_EVENTS = (None, "content_block_delta", "content_block_stop")
_KEY_CHARS = string.ascii_letters + string.digits + "_-"
_PREFIX = "sk-ant-"
#: in the bytes of whole events: a key, or a JSON string ending like the start of one
_MAY_START_KEY = re.compile(rb'sk-ant-|s(?:k(?:-(?:a(?:n(?:t)?)?)?)?)?"')
_MAX_PENDING = 64 * 1024  #: an event longer than this is decoded, not joined again with each read


class _Delta:
    """One text delta of a block: its event (with the body offset its decoder's offsets count from),
    its parsed data, which field holds the text, the text, and the ``(start, stop, replacement)``
    edits its text is to get."""

    __slots__ = ("at", "data", "edits", "event", "field", "piece")

    def __init__(self, event: SSEEvent, at: int, data: dict, field: str, piece: str) -> None:
        self.event = event
        self.at = at
        self.data = data
        self.field = field
        self.piece = piece
        self.edits: list[tuple[int, int, str]] = []

    def rewritten(self) -> bytes:
        """The event's data line with the edited text, as compact JSON."""
        text, pos = [], 0
        for start, stop, replacement in sorted(self.edits):
            text += [self.piece[pos:start], replacement]
            pos = stop
        text.append(self.piece[pos:])
        self.data["delta"][self.field] = "".join(text)
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ChunkRedactor:
    """One exchange's body: ``push`` each chunk, get back the chunks that may go out now (redacted),
    ``close`` at the end of the body for the rest. ``keys`` lists every key found in a block's text,
    with the number of the event where it starts."""

    def __init__(self, event_stream: bool = True) -> None:
        self._held: list[tuple[float | None, bytes]] = []
        self._held_at = 0  # body offset of the first held byte
        self._size = 0  # bytes held
        self._event_stream = event_stream
        self._decoder: SSEDecoder | None = None  # started at an event boundary when a chunk needs it
        self._pending = b""  # the bytes after the last event boundary, while there is no decoder
        self._decoder_at = 0  # body offset where the decoder started
        self._events_end = 0  # body offset just past the last complete event
        self._runs: dict[object, tuple[list[_Delta], int]] = {}  # per block: deltas a key may be spanning
        self._edited: list[_Delta] = []
        self.keys: list[tuple[int, str]] = []

    def push(self, t: float | None, data: bytes) -> list[tuple[float | None, bytes]]:
        self._held.append((t, data))
        self._size += len(data)
        if self._event_stream:
            self._decode(data)
        if self._in_flight(data) and self._size < MAX_HELD_BYTES:
            return []
        return self._release()

    def close(self) -> list[tuple[float | None, bytes]]:
        """The body ended: every key in flight ends here too."""
        return self._release()

    def _decode(self, data: bytes) -> None:
        """Read the events of the chunks that may start or continue a key. The hot path: whole LF-framed
        events with no key in flight, no ``sk-ant-`` and no JSON string ending like the start of one
        (``s"``, ``sk-an"``) are passed over without decoding (the bytes after the last of them wait in
        ``_pending``); the decoder starts at the event boundary before the first chunk that needs it,
        and stops at the next boundary with no key in flight."""
        if self._decoder is None:
            joined = self._pending + data
            if not self._runs and len(joined) <= _MAX_PENDING and b"\r" not in joined:
                cut = joined.rfind(b"\n\n") + 2
                if cut == 1:  # no boundary yet
                    self._pending = joined
                    return
                if not _MAY_START_KEY.search(joined, 0, cut):
                    self._events_end += cut
                    self._pending = joined[cut:]
                    return
            self._decoder, self._decoder_at, self._pending = SSEDecoder(), self._events_end, b""
            data = joined
        for event in self._decoder.feed(data):
            self._event(event)
        rest = self._held_at + self._size - self._events_end  # bytes of an event still to complete
        if not self._runs and rest <= _MAX_PENDING:
            self._decoder, self._pending = None, _tail(self._held, rest)

    def _in_flight(self, last: bytes) -> bool:
        if self._runs or (self._event_stream and self._held_at + self._size > self._events_end):
            return True
        tail = last if len(self._held) == 1 or len(last) >= MAX_KEY_BYTES else _tail(self._held, MAX_KEY_BYTES)
        return bool(KEY_START_AT_END_RE.search(tail, max(0, len(tail) - MAX_KEY_BYTES)))

    def _event(self, event: SSEEvent) -> None:
        self._events_end = self._decoder_at + event.end
        if event.name not in _BLOCK_EVENTS or event.raw is None or self._cannot_start_key(event):
            return
        try:
            data = loads_fast(event.raw)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        index = data.get("index")
        if data.get("type") == "content_block_stop":
            self._scan(index, final=True)
            return
        delta = data.get("delta")
        if data.get("type") != "content_block_delta" or not isinstance(delta, dict):
            return
        field = next((f for f in TEXT_FIELDS if isinstance(delta.get(f), str)), None)
        if field is None:
            return
        deltas, skip = self._runs.pop(index, ([], 0))
        deltas.append(_Delta(event, self._decoder_at, data, field, delta[field]))
        self._runs[index] = (deltas, skip)
        self._scan(index, final=False)

    def _cannot_start_key(self, event: SSEEvent) -> bool:
        """The hot path, without a JSON parse: with no key in flight, a delta laid out as the API
        sends it (its text last, ``…"}}``) that neither holds ``sk-ant-`` nor ends like its start
        changes nothing."""
        if self._runs:
            return False
        if event.name != "content_block_delta":
            return event.name is not None
        raw = event.raw
        end = len(raw) - 3
        return raw.endswith(b'"}}') and b"sk-ant-" not in raw and not KEY_START_AT_END_RE.search(raw, end - 7, end)

    def _scan(self, index: object, final: bool) -> None:
        """Redact every finished key in the block's run of deltas; keep only the deltas that a key may
        still be spanning (none when ``final``)."""
        deltas, skip = self._runs.pop(index, ([], 0))
        text = "".join(d.piece for d in deltas)
        starts = [0]
        for delta in deltas:
            starts.append(starts[-1] + len(delta.piece))
        flight = None if final else _key_in_flight(text, skip)
        if flight is not None and len(text) - flight > MAX_KEY_CHARS:
            flight = None  # no key is this long: hide what came, do not hold (or re-join) any more of it
        for match in KEYISH_RE.finditer(text, skip):
            if flight is not None and match.end() == len(text):
                break  # may go on in the next delta
            self._redact(deltas, starts, match.start(), match.end(), match.group())
        if flight is not None:
            first = max(k for k in range(len(deltas)) if starts[k] <= flight)
            self._runs[index] = (deltas[first:], flight - starts[first])

    def _redact(self, deltas: list[_Delta], starts: list[int], start: int, stop: int, key: str) -> None:
        replacement = redacted_value(key)
        for k, delta in enumerate(deltas):
            lo, hi = max(start, starts[k]), min(stop, starts[k + 1])
            if lo < hi:
                if replacement:
                    self.keys.append((delta.event.number, key))
                if not delta.edits:
                    self._edited.append(delta)
                delta.edits.append((lo - starts[k], hi - starts[k], replacement))
                replacement = ""

    def _release(self) -> list[tuple[float | None, bytes]]:
        """What is held, redacted: the rewritten events first, then every key left in the bytes. A key
        whose run is still open is cut here (the bound was reached, or the body ended)."""
        for index in list(self._runs):
            self._scan(index, final=True)
        held, self._held = self._held, []
        if len(held) == 1 and not self._edited:  # the common case, by far
            self._held_at += self._size
            self._size = 0
            t, data = held[0]
            return [(t, redact_pieces([data])[0])]
        pieces = [data for _, data in held]
        if self._edited:
            pieces = edit_pieces(pieces, self._event_edits(b"".join(pieces)))
            self._edited = []
        self._held_at += self._size
        self._size = 0
        return list(zip((t for t, _ in held), redact_pieces(pieces), strict=True))

    def _event_edits(self, joined: bytes) -> list[tuple[int, int, bytes]]:
        edits = []
        for delta in self._edited:
            start, end = delta.at + delta.event.offset - self._held_at, delta.at + delta.event.end - self._held_at
            at = joined.find(delta.event.raw, start, end) if start >= 0 else -1
            if at >= 0:
                edits.append((at, at + len(delta.event.raw), delta.rewritten()))
            elif start >= 0:  # data over several lines: the event as one
                name = f"event: {delta.event.name}\n" if delta.event.name else ""
                edits.append((start, end, name.encode() + b"data: " + delta.rewritten() + b"\n\n"))
        return sorted(edits)


def _key_in_flight(text: str, skip: int) -> int | None:
    """Where a key that the next piece may continue starts in ``text`` (from ``skip`` on): the run of
    key characters at its end holds ``sk-ant-``, or ends with the start of it."""
    run_at = max(skip, len(text.rstrip(_KEY_CHARS)))
    at = text.find(_PREFIX, run_at)
    if at >= 0:
        return at
    for size in range(min(len(_PREFIX) - 1, len(text) - run_at), 0, -1):
        if text.endswith(_PREFIX[:size]):
            return len(text) - size
    return None


def _tail(held: list[tuple[float | None, bytes]], size: int) -> bytes:
    """The last ``size`` bytes of the held chunks, however many chunks that takes: a key echoed back in
    reads of a few bytes each must still be seen whole."""
    if size <= 0:
        return b""
    parts: list[bytes] = []
    got = 0
    for _, data in reversed(held):
        parts.append(data)
        got += len(data)
        if got >= size:
            break
    return b"".join(reversed(parts))[-size:]


def is_event_stream(headers: Headers) -> bool:
    """Whether a body is to be read as SSE: yes unless its response names another content type."""
    value = header(headers, "content-type")
    return value is None or value.split(";")[0].strip().lower() == "text/event-stream"


def redacted_chunks(records: Iterable[Record], keys: list[tuple[int, int, str]] | None = None) -> Iterator[Record]:
    """The records with every exchange's chunks passed through a :class:`ChunkRedactor` (chunks come out
    later, never out of order with their exchange's end); each key found in a block's text is added
    to ``keys`` as ``(exchange, event number, key)``."""
    redactors: dict[int, ChunkRedactor] = {}

    def release(i: int, chunks: list[tuple[float | None, bytes]]) -> Iterator[Chunk]:
        for t, data in chunks:
            yield Chunk(i, t, data)

    def close(i: int) -> Iterator[Chunk]:
        redactor = redactors.pop(i, None)
        if redactor is not None:
            yield from release(i, redactor.close())
            if keys is not None:
                keys.extend((i, number, key) for number, key in redactor.keys)

    for record in records:
        if isinstance(record, Response):
            yield from close(record.i)
            redactors[record.i] = ChunkRedactor(is_event_stream(record.headers))
        elif isinstance(record, Chunk):
            redactor = redactors.setdefault(record.i, ChunkRedactor())
            yield from release(record.i, redactor.push(record.t, record.data))
            continue
        elif isinstance(record, End):
            yield from close(record.i)
        yield record
    for i in list(redactors):
        yield from close(i)
