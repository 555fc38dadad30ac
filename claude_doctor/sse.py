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
from bisect import bisect_right
from itertools import accumulate, repeat
from operator import add, getitem

BOM = b"\xef\xbb\xbf"
_ANY_EOL = re.compile(rb"\r\n|\r|\n")
DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
LONG_LINE = 512  #: a line this long is split faster by `find` than by `bytes.split`
#: the API's keep-alive, which may come between any two events: a run of one name may hold some
_PING = b"event: ping"
_NEXT_PING = b"\n\n" + _PING + b"\ndata: "


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


class EventRun:
    """Consecutive events in the plain form the API sends (``event: NAME``, ``data: …``, a blank line, LF
    only), decoded in bulk from ``region``, their bytes without the last blank line: ``names`` holds each
    event's name, ``data_lines`` its data line *with* the ``data: `` prefix (a hot loop slices it off only
    where it parses). The region is not even split into lines until something asks for them:
    :meth:`without` and :func:`data_between` read it whole, at the cost of a pass or a copy and no object
    per event. :meth:`event` builds the :class:`SSEEvent` of one of them, exactly as the line-by-line path would have,
    for the few that a check looks at; offsets are worked out only then."""

    __slots__ = (
        "_data_lines",
        "_lines",
        "_starts",
        "_times",
        "end",
        "id",
        "names",
        "number",
        "offset",
        "region",
        "t",
    )

    def __init__(
        self,
        names: list[str],
        region: bytes,
        lines: list[bytes] | None,
        number: int,
        offset: int,
        t: float | None,
        id: str | None,
    ) -> None:
        self.names = names
        self.region = region
        self._lines = lines  # event, data and blank lines in turn (the last blank line is not in region)
        self._data_lines: list[bytes] | None = None
        self.number = number  #: the number of the first event
        self.offset = offset  #: body offset of the first event; ``end`` is that of the byte after the last
        self.end = offset + len(region) + 2
        self.t = t  #: the arrival time of the chunk that completed the last event
        self.id = id
        self._starts: list[int] | None = None
        self._times: tuple[list[int], list[float | None]] | None = None

    @classmethod
    def joined(cls, runs: list[EventRun]) -> EventRun:
        """Runs that follow each other in the body (each begins where the one before ends, under the same
        event ID) as one, each event keeping the time of the chunk that completed it: routed at once, they
        cost their checks one call instead of one per chunk."""
        first = runs[0]
        names = [name for run in runs for name in run.names]
        region = b"\n\n".join([run.region for run in runs])
        out = cls(names, region, None, first.number, first.offset, runs[-1].t, first.id)
        out._times = (list(accumulate(len(run) for run in runs)), [run.t for run in runs])
        return out

    def time_of(self, j: int) -> float | None:
        """The arrival time of the ``j``-th event (from 0)."""
        if self._times is None:
            return self.t
        counts, times = self._times
        return times[bisect_right(counts, j)]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = _split(self.region, b"\n")
        return self._lines

    @property
    def data_lines(self) -> list[bytes]:
        if self._data_lines is None:
            self._data_lines = self.lines[1::3]
        return self._data_lines

    def without(self, events: tuple[bytes, ...], count: int) -> bytes | None:
        """The region without its ``count`` events that are each exactly one of ``events`` (an event's two
        lines, as a plain ping is sent), the others joined as before; ``None`` unless there are exactly
        that many. Found with no line split: a match starts at a line start and ends at a line end, and
        a line that begins with ``event:`` is the first of an event, so each match is one such event."""
        region = self.region
        for event in events:
            if not count:
                break
            needle = b"\n" + event + b"\n"  # (the blank line's newline, and its own last one)
            shorter = region.replace(needle, b"")  # one newline each side: back-to-back events all match
            count -= (len(region) - len(shorter)) // len(needle)
            if shorter.startswith(event + b"\n\n"):
                shorter, count = shorter[len(event) + 2 :], count - 1
            if shorter == event:
                shorter, count = b"", count - 1
            elif shorter.endswith(b"\n\n" + event):
                shorter, count = shorter[: -len(event) - 2], count - 1
            region = shorter
        return region if count == 0 else None

    def event(self, j: int) -> SSEEvent:
        """The ``j``-th event of the run (from 0)."""
        lines = self.lines
        head = len(lines[3 * j])
        if j == len(self.names) - 1:
            start = self.end - head - len(lines[3 * j + 1]) - 3
        else:
            if self._starts is None:  # each event is its two lines and three newlines
                sizes = map(add, map(len, lines[0::3]), map(len, self.data_lines))
                self._starts = list(accumulate(sizes, initial=self.offset))
            start = self._starts[j] + 3 * j
        data = lines[3 * j + 1]
        end = start + head + len(data) + 3
        number, data_at = self.number + j, start + head + 7
        return SSEEvent(number, self.names[j], data[6:], start, end, self.time_of(j), self.id, None, False, data_at)

    def events(self) -> list[SSEEvent]:
        return [self.event(j) for j in range(len(self.names))]


def _with_pings(name: str, region: bytes, count: int) -> list[str]:
    """The names of a region's ``count`` plain events, each ``name`` or a ping: where each ping is, is
    told by the blank lines before it (a ping is one event in a hundred, so this is about one pass)."""
    names = [name] * count
    blanks, start = 0, 0
    at = region.find(_NEXT_PING)
    while at >= 0:
        blanks += region.count(b"\n\n", start, at)
        names[blanks + 1] = "ping"
        blanks, start = blanks + 1, at + 2
        at = region.find(_NEXT_PING, start)
    return names


def data_between(region: bytes, count: int, prefix: bytes, suffix: bytes) -> bytes | None:
    """What lies between ``prefix`` and ``suffix`` in the data line (``data: `` included) of each of the
    ``count`` plain events of ``region``, joined with LF; ``None`` unless they all have the first one's
    name, and each of their data lines starts with the one, ends with the other and is long enough for
    both. A count and a split of the whole region, and no call per event: for a hot path that only needs
    the middles (the strings of deltas) of thousands of events at once."""
    if count <= 0:
        return None
    newline = region.find(b"\n")
    least = len(prefix) + len(suffix)
    first = region.find(b"\n", newline + 1)
    if (first if first >= 0 else len(region)) - newline - 1 < least or len(region) - region.rfind(b"\n") - 1 < least:
        return None
    if not region.startswith(prefix, newline + 1) or not region.endswith(suffix):
        return None
    # ``between`` holds the blank line, so it is found between events only, once at most at each; a data
    # line in the middle too short for both would make two of them overlap, and be counted once
    between = suffix + b"\n\n" + region[:newline] + b"\n" + prefix
    if region.count(between) != count - 1:
        return None
    # so each blank line is in one ``between``, which starts with ``suffix``: split there (a short separator
    # is found fast, where a long one costs a set-up at each match) and drop what is left of ``between``
    pieces = region[: len(region) - len(suffix)].split(suffix + b"\n\n")
    return b"\n".join(map(getitem, pieces, repeat(slice(len(between) - len(suffix) - 2, None))))


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
        self._id: str | None = None  # the last event ID buffer, decoded: kept across events, as the spec says
        self._names: dict[bytes, str] = {}  # decoded event names
        self._plain_names: dict[bytes, str] = {}  # ``event: NAME`` lines → NAME, for runs of plain events
        self._next: dict[bytes, bytes] = {}
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
        out: list[SSEEvent] = []
        for item in self.feed_runs(chunk, t):
            if item.__class__ is EventRun:
                out += item.events()
            else:
                out.append(item)
        return out

    def feed_runs(self, chunk: bytes, t: float | None = None) -> list[SSEEvent | EventRun]:
        """:meth:`feed` for a hot loop: the same events, in order, but those in the API's plain form come
        as :class:`EventRun`\\ s, which cost no object per event."""
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
        scan_from = max(0, len(buf) - len(chunk))
        if not self._any_cr and b"\r" in chunk:
            self._any_cr = True
            scan_from = 0  # lines kept for the LF-only path are split with the rest from now on
        if self._lf_ends_cr:  # a CRLF split across chunks: its CR already ended the line
            self._lf_ends_cr = False
            if buf[:1] == b"\n":
                del buf[:1]
                self._pos += 1
        out: list[SSEEvent | EventRun] = []
        # what was in the buffer before this chunk holds no line terminator, or only the lines of an event
        # still in flight, so only the new bytes need searching: a long event costs O(n), not O(n * cap)
        if self._any_cr:
            self._take_any_eol(out, t, scan_from)
        else:
            self._take_lf(out, t, scan_from)
        if len(buf) > self.max_event_bytes:
            self._take_kept_lines(out, t)
            if len(buf) > self.max_event_bytes:
                self._skip_overlong_line()
        return out

    def close(self) -> SSETail | None:
        """End of input. Returns the unterminated remainder, if any; the spec discards it, we report it."""
        if not self._started and self._buf:
            self._started = True
        if not self._overflow:
            self._take_kept_lines([], self._last_t)  # an event in flight: no blank line among them
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

    def _take_lf(self, out: list[SSEEvent | EventRun], t: float | None, scan_from: int = 0) -> None:
        """LF-only input: finish an event begun line by line (after an overlong line), take the whole
        events that follow at once, and keep the lines of the event still in flight in the buffer, so that
        the chunk that ends it takes it whole too."""
        buf = self._buf
        last = buf.rfind(b"\n", scan_from)
        if last < 0:
            return
        done = 0
        if self._start is not None or self._overflow:
            done = self._finish_pending(last, out, t)
            if self._start is not None or self._overflow:  # its blank line has not come yet
                if done <= last:
                    self._lines(_split(bytes(buf[done:last]), b"\n"), repeat(1), out, t)
                del buf[: last + 1]
                return
        # the kept lines hold no blank line, so a new one ends in the new bytes
        cut = buf.rfind(b"\n\n", max(done, scan_from - 1), last + 1)
        if cut >= done:
            region = bytes(buf[done:cut])
            run = self._plain_run(region, t)
            if run is not None:
                out.append(run)
            else:
                self._whole_events(_split(region, b"\n\n"), out, t)
            done = cut + 2
        del buf[:done]

    def _take_kept_lines(self, out: list[SSEEvent | EventRun], t: float | None) -> None:
        """Read the lines kept for an event in flight line by line: at the end of input, or when they
        outgrow the event cap."""
        buf = self._buf
        last = buf.rfind(b"\n")
        if last >= 0:
            self._lines(_split(bytes(buf[:last]), b"\n"), repeat(1), out, t)
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

    def _plain_run(self, region: bytes, t: float | None) -> EventRun | None:
        """Whole LF-framed events (``region`` ends before the blank line of the last one) as one run, when
        every one of them is in the plain form; ``None`` otherwise. The form is checked in bulk, first
        for events of one name (a run of deltas): the region starts with a known ``event: NAME`` line and
        a ``data: `` line, and every blank line but none is followed by the same two, or by a ping's (each
        event then has two lines at least, so a count of all the lines says none has more); else line by line:
        the lines come in threes, every third is blank, every first is a known ``event: NAME`` line, and
        exactly one line in three starts with ``data: ``, which can then only be the second of each."""
        if len(region) > self.max_event_bytes:
            return None
        head = region[: region.find(b"\n")]
        name = self._plain_names.get(head)
        if name is not None and region.startswith(b"data: ", len(head) + 1):
            k = region.count(self._next[head]) + 1
            newlines = region.count(b"\n")
            if newlines == 3 * k - 2:  # so those are all the lines there are
                return self._new_run([name] * k, region, None, t)
            pings = region.count(_NEXT_PING) if head != _PING else 0
            if pings and newlines == 3 * (k + pings) - 2 and self._learn_names([_PING]):
                return self._new_run(_with_pings(name, region, k + pings), region, None, t)
        lines = _split(region, b"\n")
        k, extra = divmod(len(lines) + 1, 3)
        if extra or any(lines[2::3]) or region.count(b"\ndata: ") != k:
            return None
        heads = lines[0::3]
        names = list(map(self._plain_names.get, heads))
        if not all(names):
            if not self._learn_names(heads):
                return None
            names = list(map(self._plain_names.get, heads))
        return self._new_run(names, region, lines, t)

    def _new_run(self, names: list[str], region: bytes, lines: list[bytes] | None, t: float | None) -> EventRun:
        run = EventRun(names, region, lines, self.events + 1, self._pos, t, self._id)
        self.events += len(names)
        self._pos = run.end
        return run

    def _learn_names(self, heads: list[bytes]) -> bool:
        """Remember the ``event: NAME`` lines of ``heads`` (a handful of names in all); ``False`` when one
        is no such line or its name is empty or not UTF-8 (the line-by-line path reports that)."""
        plain = self._plain_names
        for head in heads:
            if head in plain:
                continue
            if not head.startswith(b"event: ") or len(head) == 7 or len(plain) >= 256:
                return False
            try:
                plain[head] = head[7:].decode("utf-8")
            except UnicodeDecodeError:
                return False
            self._next[head] = b"\n\n" + head + b"\ndata: "  # where the next event of that name starts
        return True

    def _whole_events(self, blocks: list[bytes], out: list[SSEEvent], t: float | None) -> None:
        """The fast path for complete LF-framed events: a block that is exactly ``event: NAME`` and one
        ``data: …`` line (all the API sends) becomes an event directly; anything else goes line by line."""
        pos = self._pos
        names = self._names
        cap = self.max_event_bytes
        event_id = self._id
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
                event_id = self._id
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
                self._id = value.decode("utf-8", "replace")
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
            self._id,
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
