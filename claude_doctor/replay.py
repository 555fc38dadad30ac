"""Terminal playback of a recording (``claude-doctor replay``): the bytes at their recorded pace, with
the moments that matter marked (long gaps, pings, errors, where the stream broke).

Three views: ``text`` (what a user of ``text_stream`` would have seen, plus markers), ``events`` (one
line per SSE event, with its time) and ``raw`` (the exact body bytes on stdout, markers on stderr, so
``replay --view raw FILE > body.sse`` gives the body back). Playback is one pass over the records, so
it runs in the memory of one event whatever the recording's size. Colour only when asked for (a TTY).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from .options import redact_text
from .recording.model import Chunk, End, Record, Request, Response
from .recording.redaction import redacted_chunks
from .sse import SSEDecoder, SSEEvent

VIEWS = ("text", "events", "raw")
UNTIMED_PACE = 0.05  #: seconds between chunks that carry no time (imports, hand-written fixtures)
STYLES = {"gap": "\x1b[33m", "ping": "\x1b[2m", "error": "\x1b[31;1m", "broke": "\x1b[31;1m", "info": "\x1b[36m"}
RESET = "\x1b[0m"


@dataclass
class ReplayOptions:
    speed: float = 1.0  #: ``math.inf`` plays without waiting
    view: str = "text"
    idle_gap: float = 15.0
    color: bool = False


class Screen:
    """Text output that knows whether it is mid-line, so markers always start on their own line."""

    def __init__(self, out: IO[str], marks: IO[str], color: bool) -> None:
        self.out = out
        self.marks = marks
        self.color = color
        self.mid_line = {id(out): False, id(marks): False}

    def text(self, text: str) -> None:
        text = redact_text(text)  # a body or an error event may echo a key: never print one
        if text:
            self.out.write(text)
            self.out.flush()
            self.mid_line[id(self.out)] = not text.endswith("\n")

    def mark(self, kind: str, text: str) -> None:
        stream = self.marks
        if self.mid_line.get(id(stream)):
            stream.write("\n")
        line = redact_text(f"[{text}]")
        stream.write(f"{STYLES[kind]}{line}{RESET}\n" if self.color else line + "\n")
        stream.flush()
        self.mid_line[id(stream)] = False


@dataclass
class ExchangePicker:
    """Passes the records of one exchange (every exchange when ``only`` is None) and notes each
    exchange index it sees, so that ``replay`` can say how many there were and that ``--exchange N``
    picks one: the raw bodies of a 429 and of its retried stream, run together, are no SSE file."""

    only: int | None = None
    seen: set[int] = field(default_factory=set)

    def pick(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            i = getattr(record, "i", None)  # notes belong to no exchange
            if i is not None:
                self.seen.add(i)
            if self.only is None or i is None or i == self.only:
                yield record


class Player:
    """Plays records in file order; ``sleep`` is injectable so tests can check pacing without waiting."""

    def __init__(
        self, options: ReplayOptions, screen: Screen, raw: IO[bytes] | None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.options = options
        self.screen = screen
        self.raw = raw
        self.sleep = sleep
        self.exchanges: dict[int, _ExchangeState] = {}

    def play(self, records: Iterable[Record], also: Callable[[Record], object] | None = None) -> None:
        """Play ``records``. The text and events views hide keys as the recorders do, one echoed over
        several text deltas included (``redacted_chunks``); the raw view gives the body back as it is."""
        if self.options.view != "raw":
            records = redacted_chunks(records)
        for record in records:
            if also is not None:
                also(record)
            if isinstance(record, Request):
                self._request(record)
            elif isinstance(record, Response):
                self._response(record)
            elif isinstance(record, Chunk):
                self._chunk(record)
            elif isinstance(record, End):
                self._end(record)
        for i in list(self.exchanges):
            self._finish(i, None)

    def _state(self, i: int) -> _ExchangeState:
        return self.exchanges.setdefault(i, _ExchangeState())

    def _request(self, record: Request) -> None:
        state = self._state(record.i)
        state.stream = record.wants_stream
        kind = {True: "stream", False: "not streaming", None: "body unknown"}[record.wants_stream]
        self.screen.mark("info", f"exchange {record.i}: {record.method} {record.url} ({kind})")

    def _response(self, record: Response) -> None:
        state = self._state(record.i)
        self._wait(state, record.t)
        state.answered = True
        state.status = record.status
        if record.content_type is not None:
            state.event_stream = record.content_type == "text/event-stream"
        request_id = record.header("request-id")
        parts = [f"HTTP {record.status} {record.reason or ''}".strip(), record.content_type or "no content-type"]
        if request_id:
            parts.append(f"request-id {request_id}")
        self.screen.mark("info", f"{', '.join(parts)} at {_t(record.t)}")

    def _chunk(self, record: Chunk) -> None:
        state = self._state(record.i)
        self._wait(state, record.t)
        state.answered = True
        if self.raw is not None:
            self.raw.write(record.data)
            self.raw.flush()
        if not state.event_stream:
            if self.options.view != "raw":
                self.screen.text(record.data.decode("utf-8", "replace"))
            return
        for event in state.decoder.feed(record.data, record.t):
            state.events += 1
            self._event(state, event)

    def _wait(self, state: _ExchangeState, t: float | None) -> None:
        """Sleep for the recorded gap (scaled), and mark it first when it is longer than the idle gap."""
        gap = UNTIMED_PACE if t is None or state.last_t is None else max(0.0, t - state.last_t)
        if t is not None and state.last_t is not None and gap > self.options.idle_gap:
            self.screen.mark("gap", f"gap {gap:.1f}s with no bytes (idle threshold {self.options.idle_gap:g}s)")
        if t is not None:
            state.last_t = t
        if not math.isinf(self.options.speed):
            self.sleep(gap / self.options.speed)

    def _event(self, state: _ExchangeState, event: SSEEvent) -> None:
        data = _json(event.data)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "message_stop" or event.name == "message_stop":
            state.stopped = True
        if kind == "message_delta":
            state.stop_reason = (data.get("delta") or {}).get("stop_reason")
        if event.name == "ping":
            self.screen.mark("ping", f"ping at {_t(event.t)}")
        elif event.name == "error":
            error = (data or {}).get("error") or {} if isinstance(data, dict) else {}
            self.screen.mark("error", f"error event at {_t(event.t)}: {error.get('type')}: {error.get('message')}")
            state.errored = True
        elif self.options.view == "events":
            self.screen.text(f"{_t(event.t):>9}  #{event.number:<4} {event.name}  {_summary(data, event.data)}\n")
        elif self.options.view == "text" and isinstance(data, dict):
            self._text(data)

    def _text(self, data: dict) -> None:
        kind = data.get("type")
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            name = f" {block.get('name')}" if block.get("name") else ""
            self.screen.mark("info", f"{block.get('type')}{name} block")
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            self.screen.text(delta.get("text") or delta.get("thinking") or delta.get("partial_json") or "")
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            stop = (data.get("delta") or {}).get("stop_reason")
            self.screen.mark("info", f"stop_reason {stop}, output_tokens {usage.get('output_tokens')}")

    def _end(self, record: End) -> None:
        state = self._state(record.i)
        self._wait(state, record.t)
        self._finish(record.i, record)

    def _finish(self, i: int, end: End | None) -> None:
        state = self.exchanges.pop(i)
        tail = state.decoder.close() if state.event_stream else None
        if tail is not None and tail.bytes:
            self.screen.mark("broke", f"{tail.bytes} bytes of an unfinished event at the end")
        if end is None:
            self.screen.mark(
                "broke",
                f"the recording stops here, after {state.events} events, with no end line: how the stream "
                "ended is unknown",
            )
            return
        said = f"{end.reason}: {end.error}" if end.error else end.reason
        ok = state.status is None or state.status < 300
        if not state.answered:
            self.screen.mark("broke", f"no response at {_t(end.t)}: {said}")
        elif state.event_stream and ok and not state.stopped and not state.errored:
            self.screen.mark(
                "broke", f"stream broke here at {_t(end.t)}: {said}, after {state.events} events, no message_stop"
            )
        else:
            self.screen.mark("info", f"end at {_t(end.t)}: {said}")


@dataclass
class _ExchangeState:
    status: int | None = None
    answered: bool = False  #: a response head or body bytes arrived
    stream: bool | None = None
    event_stream: bool = True  #: until a response says otherwise: raw SSE imports have no response line
    last_t: float | None = 0.0
    events: int = 0
    stopped: bool = False
    errored: bool = False
    stop_reason: str | None = None

    def __post_init__(self) -> None:
        self.decoder = SSEDecoder()


def _t(t: float | None) -> str:
    return "t=?" if t is None else f"t={t:.2f}s"


def _json(data: str | None) -> object:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _summary(data: object, raw: str | None) -> str:
    """The one thing worth seeing in an event, for the events view."""
    if not isinstance(data, dict):
        return f"(not JSON) {(raw or '')[:60]!r}"
    delta = data.get("delta") or {}
    if data.get("type") == "content_block_delta":
        value = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or delta.get("type")
        return f"[{data.get('index')}] {value!r}"
    if data.get("type") == "content_block_start":
        return f"[{data.get('index')}] {(data.get('content_block') or {}).get('type')}"
    if data.get("type") == "message_start":
        message = data.get("message") or {}
        return f"{message.get('id')} {message.get('model')}"
    if data.get("type") == "message_delta":
        return f"stop_reason={delta.get('stop_reason')} usage={data.get('usage')}"
    return ""
