"""What the HTML report draws of each exchange, gathered in one pass over a recording's records: when
each chunk came and how many bytes it brought, the pings, every silence longer than the idle gap, the
event grammar as a lane of chips, the text and tool input as the SDK would assemble them, and how the
stream ended.

Findings say what went wrong; this says when, so the report can draw it. Memory stays bounded however
big the recording: chunk ticks and pings are downsampled as they come (every gap is kept, with the
chunks on either side), runs of deltas become one chip, and the text is kept up to a limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..fastjson import loads_fast, parse_json
from ..recording.model import Chunk, End, Record, Request, Response, Source
from ..sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:
    from ..config import Config
    from ..findings import Finding

MAX_POINTS = 1500  #: chunk ticks drawn per exchange, at most (gap edges come on top)
MAX_PINGS = 300  #: ping marks drawn per exchange, at most
MAX_GAPS = 500  #: gaps kept per exchange: past this a hostile recording is only counted
MAX_CHIPS = 300  #: lane chips per exchange; past this only the out-of-order ones are kept
MAX_TEXT = 64 * 1024  #: characters of assembled text and tool input kept per exchange
MAX_BLOCKS = 200  #: content blocks whose text is kept per exchange
MAX_ERRORS = 20  #: error events whose message is kept per exchange
MAX_FULL = 100  #: exchanges per run kept whole for drawing; later ones keep only what the summary shows
MAX_BODY = 4096  #: bytes of a body that is not an event stream (an error's JSON) kept to show
_KEY_START_AT_END = re.compile(r"s(?:k(?:-(?:a(?:n(?:t(?:-[A-Za-z0-9_-]*)?)?)?)?)?)?\Z")
NEVER_STARTED = "(never started)"
_GRAMMAR = {"message_start", "content_block_start", "content_block_delta", "content_block_stop"}
_GRAMMAR |= {"message_delta", "message_stop", "ping", "error"}


class Sampler:
    """At most about ``limit`` items of a long series, evenly spread: every ``stride``-th item is kept,
    and the stride doubles (dropping every other kept item) when the list fills. ``pinned`` items
    (the chunks either side of a gap) are always kept; ``last`` is the series' final item."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[tuple[float, int]] = []
        self.pinned: list[tuple[float, int]] = []
        self.stride = 1
        self.seen = 0
        self.last: tuple[float, int] | None = None

    def add(self, item: tuple[float, int], pin: bool = False) -> None:
        if pin:
            self.pinned.append(item)
        elif self.seen % self.stride == 0:
            self.kept.append(item)
            if len(self.kept) > self.limit:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1
        self.last = item

    def items(self) -> list[tuple[float, int]]:
        """Every kept item in time order, the last one included."""
        every = set(self.kept) | set(self.pinned) | ({self.last} if self.last else set())
        return sorted(every)


@dataclass
class Chip:
    """One chip of the grammar lane: an event, or a run of deltas to one block. ``bad`` says what is
    out of order about it; a ``missing`` chip stands for an event that never came."""

    kind: str
    index: int | None
    first: int  #: event number
    t: float | None
    count: int = 1
    bad: str | None = None
    missing: bool = False
    length: float | None = None  #: a gap chip's silence, in seconds


@dataclass
class Block:
    """A content block as the SDK builds it: its type, a tool's name, and its text or JSON input."""

    kind: str
    name: str | None = None
    pieces: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass
class Timeline:
    """One exchange, as the report draws it."""

    path: str
    i: int
    method: str | None = None
    url: str | None = None
    status: int | None = None
    reason: str | None = None
    content_type: str | None = None
    start: float = 0.0
    head_t: float | None = None  #: when the response head came
    points: Sampler = field(default_factory=lambda: Sampler(MAX_POINTS))
    pings: Sampler = field(default_factory=lambda: Sampler(MAX_PINGS))
    chunks: int = 0
    bytes: int = 0
    untimed_chunks: int = 0  #: chunks that carry no time (imports of raw SSE, HAR)
    heard: float | None = None  #: the last recorded moment bytes (or the head) came
    gaps: list[tuple[float, float]] = field(default_factory=list)
    gaps_dropped: int = 0
    chips: list[Chip] = field(default_factory=list)
    chips_dropped: int = 0
    events: int = 0
    blocks: dict[int, Block] = field(default_factory=dict)
    blocks_dropped: int = 0
    text_chars: int = 0
    text_dropped: int = 0
    body: bytearray = field(default_factory=bytearray)
    errors: list[str] = field(default_factory=list)
    end: End | None = None
    ended: bool = False
    cut_bytes: int = 0  #: bytes of an event the body ended inside
    full: bool = True  #: False once :meth:`compact` dropped what only the drawing needs

    def compact(self) -> None:
        """Keep only what the summary row shows: a recording of thousands of exchanges stays small."""
        self.full = False
        self.points, self.pings = Sampler(1), Sampler(1)
        self.gaps, self.chips, self.blocks, self.errors = [], [], {}, []
        self.body = bytearray()

    @property
    def broken(self) -> bool:
        """The body ended inside an event, or an event the grammar needs never came."""
        return bool(self.cut_bytes) or any(chip.missing for chip in self.chips)

    @property
    def timed(self) -> bool:
        """Whether time can be drawn: every chunk carries one. Else chunks are spaced evenly, by number."""
        return not self.untimed_chunks and (self.heard is not None or (self.end is not None and self.end.t is not None))

    @property
    def last_t(self) -> float:
        """The latest moment the exchange is known at: its end, else its last chunk, else its start; with
        no timing, the last chunk's number."""
        if not self.timed:
            return float(self.chunks + 1)
        if self.end is not None and self.end.t is not None:
            return self.end.t
        return self.heard if self.heard is not None else self.start


class _Grammar:
    """The event grammar of one message, to mark the events that break it."""

    def __init__(self) -> None:
        self.started = False
        self.stopped = False
        self.open: set[int] = set()
        self.done: set[int] = set()

    def judge(self, kind: str, index: int | None) -> str | None:
        """What is wrong with ``kind`` arriving now, or ``None``; updates the state."""
        if kind in ("ping", "error"):
            return None
        if self.stopped:
            return "after message_stop"
        if kind == "message_start":
            was, self.started = self.started, True
            return "second message_start" if was else None
        if not self.started:
            return "before message_start"
        return self._block(kind, index) if kind.startswith("content_block") else self._message(kind)

    def _block(self, kind: str, index: int | None) -> str | None:
        if kind == "content_block_start":
            if index in self.open or index in self.done:
                return f"block {index} started twice"
            self.open.add(index)
            return None
        if index in self.done:
            return f"block {index} already stopped"
        if index not in self.open:
            return f"block {index} never started"
        if kind == "content_block_stop":
            self.open.discard(index)
            self.done.add(index)
        return None

    def _message(self, kind: str) -> str | None:
        if kind == "message_stop":
            self.stopped = True
        if kind in ("message_delta", "message_stop") and self.open:
            return f"block {min(self.open)} still open"
        return None if kind in _GRAMMAR else "unknown event type"


class TimelineReader:
    """Builds a :class:`Timeline` per exchange from records fed in file order (exchanges may interleave)."""

    def __init__(self, path: str, idle_gap: float, keep_full: int = MAX_FULL) -> None:
        """``keep_full``: how many exchanges to keep whole; those that end later are compacted."""
        self.path = path
        self.idle_gap = idle_gap
        self.keep_full = keep_full
        self.timelines: dict[int, Timeline] = {}
        self._decoders: dict[int, SSEDecoder] = {}
        self._grammars: dict[int, _Grammar] = {}

    def watch(self, records: Iterator[Record]) -> Iterator[Record]:
        """Pass ``records`` through unchanged, reading each on the way (so one pass serves the checks too)."""
        for record in records:
            self.add(record)
            yield record
        self.finish()

    def _timeline(self, i: int) -> Timeline:
        timeline = self.timelines.get(i)
        if timeline is None:
            timeline = self.timelines[i] = Timeline(self.path, i)
            self._decoders[i] = SSEDecoder()
            self._grammars[i] = _Grammar()
        return timeline

    def add(self, record: Record) -> None:
        """Read one record. A record of an exchange that already ended (a broken capture) is not drawn."""
        i = getattr(record, "i", None)  # notes belong to no exchange
        timeline = self._timeline(i) if i is not None else None
        if timeline is None or timeline.ended:
            return
        if isinstance(record, Chunk):
            self._chunk(timeline, record)
        elif isinstance(record, Response):
            self._response(timeline, record)
        elif isinstance(record, Request):
            timeline.method, timeline.url, timeline.start = record.method, record.url, record.t or 0.0
        elif isinstance(record, End):
            self._end(timeline, record)

    def finish(self) -> None:
        """Close the exchanges whose recording stopped without an end line."""
        for timeline in self.timelines.values():
            if not timeline.ended:
                self._close(timeline)

    @staticmethod
    def _response(timeline: Timeline, record: Response) -> None:
        timeline.status, timeline.reason, timeline.content_type = record.status, record.reason, record.content_type
        timeline.head_t = record.t
        if record.t is not None and not timeline.chunks:
            timeline.heard = record.t

    def _chunk(self, timeline: Timeline, record: Chunk) -> None:
        t, before = record.t, timeline.heard
        timeline.chunks += 1
        timeline.bytes += len(record.data)
        gap = t is not None and before is not None and t - before > self.idle_gap
        if gap:
            self._gap(timeline, before, t)
            timeline.points.pinned.append((before, timeline.bytes - len(record.data)))
        if t is None:
            timeline.untimed_chunks += 1
            t = float(timeline.chunks)  # untimed: chunks evenly spaced
        else:
            timeline.heard = t
        timeline.points.add((t, timeline.bytes), pin=gap)
        if timeline.content_type not in (None, "text/event-stream"):
            if len(timeline.body) < MAX_BODY:
                timeline.body += record.data[: MAX_BODY - len(timeline.body)]
            return
        for event in self._decoders[timeline.i].feed(record.data, record.t):
            self._event(timeline, event)

    def _gap(self, timeline: Timeline, start: float, stop: float) -> None:
        """A silence longer than the idle gap: shaded on the timeline, a chip in the lane."""
        if len(timeline.gaps) < MAX_GAPS:
            timeline.gaps.append((start, stop))
            self._chip(timeline, Chip("gap", None, timeline.events + 1, start, length=stop - start))
        else:
            timeline.gaps_dropped += 1

    def _event(self, timeline: Timeline, event: SSEEvent) -> None:
        timeline.events += 1
        data = _parsed(event.raw)
        kind = data.get("type") if isinstance(data, dict) else None
        kind = kind if isinstance(kind, str) else event.name or "(no type)"
        index = data.get("index") if isinstance(data, dict) else None
        index = index if isinstance(index, int) else None
        if kind == "ping" and event.t is not None:
            timeline.pings.add((event.t, 0))
        bad = self._grammars[timeline.i].judge(kind, index)
        if isinstance(data, dict):
            _assemble(timeline, kind, index, data)
        self._chip(timeline, Chip(kind, index, event.number, event.t, bad=bad))

    @staticmethod
    def _chip(timeline: Timeline, chip: Chip) -> None:
        """Add a chip to the lane, joining a delta to the run of deltas to the same block before it."""
        chips = timeline.chips
        last = chips[-1] if chips else None
        if (
            last is not None
            and chip.kind == last.kind
            and chip.kind in ("content_block_delta", "ping")
            and chip.index == last.index
            and chip.bad == last.bad
        ):
            last.count += 1
        elif len(chips) < MAX_CHIPS or (chip.bad and len(chips) < 2 * MAX_CHIPS):
            chips.append(chip)
        else:
            timeline.chips_dropped += 1

    def _end(self, timeline: Timeline, record: End) -> None:
        timeline.end = record
        last = timeline.heard
        if record.t is not None and last is not None and record.t - last > self.idle_gap:  # silence before the end
            self._gap(timeline, last, record.t)
        self._close(timeline)

    def _close(self, timeline: Timeline) -> None:
        """The body is over: an unfinished event, blocks never stopped and a missing message_stop become
        chips of their own, so what never came shows in the lane."""
        timeline.ended = True
        tail = self._decoders.pop(timeline.i).close()
        if tail is not None and tail.bytes:
            timeline.cut_bytes = tail.bytes
        grammar = self._grammars.pop(timeline.i)
        at = timeline.events + 1
        for index in sorted(grammar.open):
            timeline.chips.append(Chip("content_block_stop", index, at, None, missing=True, bad="never came"))
        ok = timeline.status is None or 200 <= timeline.status < 300
        errored = any(chip.kind == "error" for chip in timeline.chips)
        streamed = timeline.content_type in (None, "text/event-stream") and timeline.bytes
        if streamed and ok and not grammar.stopped and not errored:
            timeline.chips.append(Chip("message_stop", None, at, None, missing=True, bad="never came"))
        if self.keep_full > 0:
            self.keep_full -= 1
        else:
            timeline.compact()


def _parsed(raw: bytes | None) -> object:
    """An event's data as JSON (the fast parser first, as the checks do), ``None`` if it is not JSON."""
    if not raw:
        return None
    try:
        return loads_fast(raw)
    except ValueError:
        pass
    try:
        return parse_json(raw)
    except ValueError:
        return None


def _assemble(timeline: Timeline, kind: str, index: int | None, data: dict) -> None:
    """Join text, thinking and tool input per block, as the SDK does, up to :data:`MAX_TEXT`."""
    if index is not None and index not in timeline.blocks and len(timeline.blocks) >= MAX_BLOCKS:
        timeline.blocks_dropped += kind == "content_block_start"
    elif kind == "content_block_start" and index is not None:
        block = data.get("content_block") if isinstance(data.get("content_block"), dict) else {}
        name = block.get("name")
        known = timeline.blocks.get(index)  # a delta may have come first: the block is named now
        if known is None or known.kind == NEVER_STARTED:
            pieces = known.pieces if known else []
            timeline.blocks[index] = Block(str(block.get("type")), name if isinstance(name, str) else None, pieces)
    elif kind == "content_block_delta" and index is not None:
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        piece = next((delta[k] for k in ("text", "thinking", "partial_json") if isinstance(delta.get(k), str)), "")
        block = timeline.blocks.setdefault(index, Block(NEVER_STARTED))
        _keep(timeline, block, piece)
    elif kind == "error" and len(timeline.errors) < MAX_ERRORS:
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        timeline.errors.append(f"{error.get('type')}: {error.get('message')}")


def _keep(timeline: Timeline, block: Block, piece: str) -> None:
    room = MAX_TEXT - timeline.text_chars
    if len(piece) > room:
        kept = _KEY_START_AT_END.sub("", piece[: max(room, 0)])  # never the first characters of a key
        timeline.text_dropped += len(piece) - len(kept)
        piece = kept
    if piece:
        block.pieces.append(piece)
        timeline.text_chars += len(piece)


@dataclass
class Checked:
    """What ``stream --format html`` shows: the findings and errors every format has, and the timelines."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timelines: list[Timeline] = field(default_factory=list)


class _Timelines:
    """The :class:`~claude_doctor.streams.Reader` that draws: a :class:`TimelineReader` on each file's
    records, its timelines kept once the file is checked (the first :data:`MAX_FULL` whole)."""

    def __init__(self, idle_gap: float) -> None:
        self.idle_gap = idle_gap
        self.timelines: list[Timeline] = []
        self.reader: TimelineReader | None = None

    def watch(self, source: Source) -> None:
        self.reader = TimelineReader(source.path, self.idle_gap, MAX_FULL - sum(t.full for t in self.timelines))
        source.records = self.reader.watch(source.records)

    def checked(self, source: Source) -> None:
        if self.reader is not None:
            self.timelines += [self.reader.timelines[i] for i in sorted(self.reader.timelines)]


def read_paths(paths: list[str], config: Config, skipped: list[str] | None = None) -> Checked:
    """``streams.check_paths`` with a :class:`TimelineReader` on the records as the checks read them:
    one pass over each file, so standard input and a 50 MB recording are read once."""
    from ..streams import check_paths

    timelines = _Timelines(config.idle_gap)
    findings, files, errors, warnings = check_paths(paths, config, skipped, timelines)
    return Checked(findings, files, errors, warnings, timelines.timelines)
