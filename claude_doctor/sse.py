"""The project's one SSE decoder: incremental, spec-exact, and honest about what it saw.

The SDK's decoder drops what a doctor needs to see (a BOM'd first event, data-only events, the final
event without a blank line) and raises on invalid UTF-8, so this one follows the WHATWG event-stream
rules (https://html.spec.whatwg.org/multipage/server-sent-events.html) and *reports* every deviation
instead. It works on bytes: lines are split on CR, LF or CRLF before anything is decoded, so an event
split anywhere (inside a CRLF, inside a UTF-8 character) decodes the same as one delivered whole.
Memory is bounded by the largest single event, capped at ``max_event_bytes``.

Where it deliberately differs from a browser: an event that has an ``event:`` field but no ``data:``
is still dispatched (``data`` is ``None``), because the API never sends one and a checker must see it.
"""

from __future__ import annotations

import re
from itertools import repeat

BOM = b"\xef\xbb\xbf"
_ANY_EOL = re.compile(rb"\r\n|\r|\n")
DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
LONG_LINE = 512  #: a line this long is split faster by `find` than by `bytes.split`


class SSEEvent:
    """One dispatched event. ``offset``/``end`` are byte offsets in the body (a stripped BOM's 3 bytes
    are counted, so offsets match the raw bytes), ``t`` is the arrival time of the chunk that completed
    it, ``number`` counts dispatched events from 1. ``raw`` is the data as bytes (lines joined with LF);
    ``data`` decodes it on demand, so the hot path can hand bytes straight to a JSON parser."""

    __slots__ = ("_data_at", "end", "id", "name", "name_bad_at", "number", "offset", "oversize", "raw", "retry", "t")

    def __init__(
        self,
        number: int,
        name: str | None,
        raw: bytes | None,
        offset: int,
        end: int,
        t: float | None,
        id: str | None = None,
        retry: int | None = None,
        oversize: bool = False,
        data_at: int | list[int] | None = None,
        name_bad_at: int | None = None,
    ) -> None:
        self.number = number
        self.name = name
        self.raw = raw
        self.offset = offset
        self.end = end
        self.t = t
        self.id = id
        self.retry = retry
        self.oversize = oversize
        self._data_at = data_at
        self.name_bad_at = name_bad_at  #: offset of invalid UTF-8 in the event name, if any

    @property
    def data(self) -> str | None:
        """The data as text; invalid UTF-8 becomes U+FFFD, as the spec says."""
        return None if self.raw is None else self.raw.decode("utf-8", "replace")

    @property
    def invalid_utf8_at(self) -> int | None:
        """Body offset of the first byte that is not UTF-8, in the name or the data; ``None`` if valid."""
        if self.name_bad_at is not None:
            return self.name_bad_at
        if self.raw is None:
            return None
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            data_at = self._data_at if self._data_at is not None else self.offset
            offsets = data_at if isinstance(data_at, list) else [data_at]
            return _offset_in_body(self.raw.split(b"\n"), offsets, exc.start)
        return None

    def __repr__(self) -> str:
        data = self.data if self.data is None or len(self.data) < 60 else self.data[:57] + "..."
        return f"SSEEvent(#{self.number} {self.name!r} {data!r} @{self.offset}-{self.end} t={self.t})"


class SSETail:
    """What was left at end of input: an event whose blank line never came.

    ``event`` holds whatever fields were complete (``None`` if only comments or nothing), and
    ``lines_complete`` says whether the input ended on a line terminator (a final event that only
    lacks its blank line) or in the middle of a line (a connection cut mid-event)."""

    __slots__ = ("bytes", "event", "lines_complete")

    def __init__(self, event: SSEEvent | None, lines_complete: bool, nbytes: int) -> None:
        self.event = event
        self.lines_complete = lines_complete
        self.bytes = nbytes


def _split(data: bytes, sep: bytes) -> list[bytes]:
    """``data.split(sep)`` for ``b"\\n"`` or ``b"\\n\\n"``. ``bytes.split`` walks every byte (about 1 GB/s
    here); on long lines (a big text or tool-input delta) a ``find`` per line, which is memchr, is
    several times faster. Short data, or data whose first two lines are short, goes to ``split``."""
    if len(data) < 4 * LONG_LINE:
        return data.split(sep)
    first = data.find(b"\n", 0, LONG_LINE)
    if first >= 0 and data.find(b"\n", first + 1, first + 1 + LONG_LINE) >= 0:
        return data.split(sep)
    out = []
    find = data.find
    start = 0
    pos = find(b"\n")
    step = len(sep)
    while pos >= 0:
        if step == 1 or data.startswith(b"\n", pos + 1):
            out.append(data[start:pos])
            start = pos + step
            pos = find(b"\n", start)
        else:
            pos = find(b"\n", pos + 1)
    out.append(data[start:])
    return out


class SSEDecoder:
    """Feed it chunks with their arrival times; it returns the events each chunk completed.

    >>> d = SSEDecoder()
    >>> [e.name for e in d.feed(b"event: ping\\ndata: {}\\n", 0.1)] + [e.name for e in d.feed(b"\\n", 0.2)]
    ['ping']
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self.bom = False  #: a UTF-8 BOM preceded the first event (the SDK then drops that event)
        self.bytes_seen = 0
        self.events = 0
        self._buf = bytearray()
        self._pos = 0  # body offset of _buf[0]
        self._started = False
        self._any_cr = False
        self._lf_ends_cr = False  # the input so far ended in CR: a leading LF completes that CRLF
        self._last_t: float | None = None
        self._overflow = False  # the current line outgrew the cap and is being skipped
        self._id: bytes | None = None  # the last event ID buffer: kept across events, as the spec says
        self._names: dict[bytes, str] = {}  # decoded event names
        self._bad_name_at: int | None = None
        self._reset_pending()

    def _reset_pending(self) -> None:
        self._name: bytes | None = None
        self._data: list[bytes] = []
        self._data_size = 0
        self._data_at: list[int] = []  # body offset of each data value, for invalid-UTF-8 offsets
        self._name_at = 0
        self._retry: int | None = None
        self._start: int | None = None
        self._oversize = False

    # -- input ---------------------------------------------------------------------------------

    def feed(self, chunk: bytes, t: float | None = None) -> list[SSEEvent]:
        """Consume one chunk; return the events whose terminating blank line it contained."""
        if not chunk:
            return []
        self.bytes_seen += len(chunk)
        self._last_t = t
        buf = self._buf
        buf += chunk
        if not self._started:
            if len(buf) < 3 and BOM.startswith(bytes(buf)):
                return []
            self._started = True
            if buf.startswith(BOM):
                self.bom = True
                del buf[:3]
                self._pos = 3
        if not self._any_cr and b"\r" in chunk:
            self._any_cr = True
        if self._lf_ends_cr:  # a CRLF split across chunks: its CR already ended the line
            self._lf_ends_cr = False
            if buf[:1] == b"\n":
                del buf[:1]
                self._pos += 1
        out: list[SSEEvent] = []
        # what was in the buffer before this chunk holds no line terminator, so only the new bytes
        # need searching: a long line costs O(n), not O(n * cap)
        scan_from = max(0, len(buf) - len(chunk))
        if self._any_cr:
            self._take_any_eol(out, t, scan_from)
        else:
            self._take_lf(out, t, scan_from)
        if len(buf) > self.max_event_bytes:
            self._skip_overlong_line()
        return out

    def close(self) -> SSETail | None:
        """End of input. Returns the unterminated remainder, if any; the spec discards it, we report it."""
        if not self._started and self._buf:
            self._started = True
        rest = bytes(self._buf)
        lines_complete = not rest and not self._overflow
        if rest and not self._overflow:
            self._field(rest, self._pos)
        if self._overflow:
            self._oversize = True
        self._buf.clear()
        if self._start is None and not rest:
            return None if lines_complete else SSETail(None, False, 0)
        start = self._start if self._start is not None else self._pos
        nbytes = self._pos + len(rest) - start
        event = self._build(self._pos + len(rest), self._last_t) if self._has_fields() else None
        self._reset_pending()
        return SSETail(event, lines_complete, nbytes)

    # -- line splitting ------------------------------------------------------------------------

    def _take_lf(self, out: list[SSEEvent], t: float | None, scan_from: int = 0) -> None:
        """LF-only input: finish a pending event line by line, take whole events on the fast path, and
        leave the lines of an event still in flight to the line-by-line path."""
        buf = self._buf
        last = buf.rfind(b"\n", scan_from)
        if last < 0:
            return
        done = 0
        if self._start is not None or self._overflow:
            done = self._finish_pending(last, out, t)
        if self._start is None and not self._overflow:  # no event in flight: whole events follow
            cut = buf.rfind(b"\n\n", done, last + 1)
            if cut >= done:
                self._whole_events(_split(bytes(buf[done:cut]), b"\n\n"), out, t)
                done = cut + 2
        if done <= last:
            self._lines(_split(bytes(buf[done:last]), b"\n"), repeat(1), out, t)
        del buf[: last + 1]

    def _finish_pending(self, last: int, out: list[SSEEvent], t: float | None) -> int:
        """Take the lines up to and including the blank line that ends the pending event; returns how
        many bytes that was (0 if its blank line has not arrived yet)."""
        buf = self._buf
        if buf[:1] == b"\n":
            self._lines([b""], repeat(1), out, t)
            return 1
        j = buf.find(b"\n\n", 0, last + 1)
        if j < 0:
            return 0
        self._lines([*_split(bytes(buf[:j]), b"\n"), b""], repeat(1), out, t)
        return j + 2

    def _whole_events(self, blocks: list[bytes], out: list[SSEEvent], t: float | None) -> None:
        """The fast path for complete LF-framed events: a block that is exactly ``event: NAME`` and one
        ``data: …`` line (all the API sends) becomes an event directly; anything else goes line by line."""
        pos = self._pos
        names = self._names
        cap = self.max_event_bytes
        event_id = self._id_text()
        append = out.append
        for block in blocks:
            newline = block.find(b"\n")
            if (
                newline > 7
                and block.startswith(b"event: ")
                and block.startswith(b"data: ", newline + 1)
                and block.find(b"\n", newline + 1) < 0
                and len(block) <= cap
            ):
                raw_name = block[7:newline]
                name = names.get(raw_name)
                bad_name_at = None
                if name is None:
                    name = self._name_text(raw_name, pos + 7)
                    bad_name_at, self._bad_name_at = self._bad_name_at, None
                self.events += 1
                end = pos + len(block) + 2
                append(
                    SSEEvent(
                        self.events,
                        name,
                        block[newline + 7 :],
                        pos,
                        end,
                        t,
                        event_id,
                        None,
                        False,
                        pos + newline + 7,
                        bad_name_at,
                    )
                )
                pos = end
            else:
                self._pos = pos
                self._lines([*block.split(b"\n"), b""], repeat(1), out, t)
                pos = self._pos
                event_id = self._id_text()
        self._pos = pos

    def _name_text(self, raw: bytes, at: int) -> str:
        """Decode an event name, remembering valid ones (there are a handful) so the fast path skips it."""
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._bad_name_at = at + exc.start
            return raw.decode("utf-8", "replace")
        if len(self._names) < 256:
            self._names[raw] = name
        return name

    def _id_text(self) -> str | None:
        return self._id.decode("utf-8", "replace") if self._id is not None else None

    def _take_any_eol(self, out: list[SSEEvent], t: float | None, scan_from: int = 0) -> None:
        buf = self._buf
        lines: list[bytes] = []
        terms: list[int] = []
        start = 0
        for m in _ANY_EOL.finditer(buf, scan_from):
            if m.end() == len(buf) and m.group() == b"\r":
                self._lf_ends_cr = True  # a CR at the end may be the first half of a CRLF
            lines.append(bytes(buf[start : m.start()]))
            terms.append(m.end() - m.start())
            start = m.end()
        if start:
            del buf[:start]
            self._lines(lines, terms, out, t)

    def _skip_overlong_line(self) -> None:
        self._pos += len(self._buf)
        self._buf.clear()
        self._overflow = True
        self._oversize = True
        if self._start is None:
            self._start = self._pos

    # -- fields and dispatch -------------------------------------------------------------------

    def _lines(self, lines: list[bytes], terms, out: list[SSEEvent], t: float | None) -> None:
        """The hot loop: ``data: `` and ``event: `` lines (all the API sends) are handled inline."""
        pos = self._pos
        for line, term in zip(lines, terms):
            if self._overflow:  # the tail of a line we already gave up on
                self._overflow = False
            elif not line:
                if self._start is not None:
                    if self._data or self._name is not None or self._oversize:
                        out.append(self._build(pos + term, t))
                    self._reset_pending()
            else:
                if self._start is None:
                    self._start = pos
                if line[:6] == b"data: ":
                    self._add_data(line[6:], pos + 6)
                elif line[:7] == b"event: ":
                    self._name = line[7:]
                    self._name_at = pos + 7
                elif line[0] != 0x3A:  # ":" starts a comment
                    self._field(line, pos)
            pos += len(line) + term
        self._pos = pos

    def _field(self, line: bytes, at: int) -> None:
        """One field line; ``at`` is its body offset."""
        if self._start is None:
            self._start = self._pos
        if line.startswith(b"data: "):
            self._add_data(line[6:], at + 6)
            return
        colon = line.find(b":")
        if colon < 0:
            name, value, skip = line, b"", len(line)
        else:
            name, value, skip = line[:colon], line[colon + 1 :], colon + 1
            if value[:1] == b" ":
                value = value[1:]
                skip += 1
        if name == b"data":
            self._add_data(value, at + skip)
        elif name == b"event":
            self._name = value
            self._name_at = at + skip
        elif name == b"id":
            if b"\0" not in value:
                self._id = value
        elif name == b"retry" and value.isdigit() and value.isascii():
            self._retry = int(value)

    def _add_data(self, value: bytes, at: int) -> None:
        self._data_size += len(value) + 1
        if self._data_size > self.max_event_bytes:
            self._oversize = True
            return
        self._data.append(value)
        self._data_at.append(at)

    def _has_fields(self) -> bool:
        return bool(self._data) or self._name is not None or self._oversize

    def _build(self, end: int, t: float | None) -> SSEEvent:
        start = self._start if self._start is not None else end
        name = self._name_text(self._name, self._name_at) if self._name is not None else None
        name_bad_at, self._bad_name_at = self._bad_name_at, None
        data = self._data
        raw = (data[0] if len(data) == 1 else b"\n".join(data)) if data else None
        self.events += 1
        return SSEEvent(
            self.events,
            name,
            raw,
            start,
            end,
            t,
            self._id_text(),
            self._retry,
            self._oversize,
            self._data_at,
            name_bad_at,
        )


def _offset_in_body(parts: list[bytes], offsets: list[int], offset_in_joined: int) -> int:
    """Body offset of a byte inside data lines joined with ``\n``, from each line's own offset."""
    for part, at in zip(parts, offsets):
        if offset_in_joined <= len(part):
            return at + offset_in_joined
        offset_in_joined -= len(part) + 1
    return offsets[-1] + len(parts[-1])
