"""Watch one exchange as its records flow: fill an :class:`ExchangeSummary`, run the stream checks on it
and tell each sink, without ever raising into the code that reads the response.

An :class:`ExchangeWatch` is the ``listener`` of one ``capture.transport.ExchangeRecorder``: the in-process
monitored client makes one per request, and the recording proxy makes one per exchange it forwards, so
both report the same numbers for the same bytes. It keeps no body: the stream checks decode the events as
they pass (``checks.stream.StreamAnalyzer``), and an observer check reads the few fields a summary needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from operator import sub
from typing import Any

from ..checks.stream import Check, Exchange, StreamAnalyzer
from ..config import Config
from ..fastjson import loads_fast
from ..findings import matches
from ..keys import redact_text
from ..recording.model import Chunk, End, Record, Request, Response
from .summary import ExchangeSummary, Sink

logger = logging.getLogger("claude_doctor.monitor")
#: Chunks arriving within ``WINDOW`` seconds of the first of a window are checked together (see
#: :class:`ChunkWindow`): far below any silence a check reports, and it makes a fast stream cheap. The
#: stream wrapper holds a monitored client's chunks for as long (it asks ``ExchangeWatch.hold``).
WINDOW = 0.02
HELD_BYTES = 64 * 1024

#: Who has already been warned about (the monitor itself, or a sink's class) with which exception type:
#: a failure that repeats on every exchange is said once per process, not once per request.
_WARNED: set[tuple[str, str]] = set()


def warn_once(who: str, exc: BaseException, what: str) -> None:
    """Log one redacted line, without a traceback, the first time ``who`` fails this way."""
    key = (who, type(exc).__name__)
    text = redact_text(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:300]
    if key in _WARNED:
        logger.debug("claude-doctor: %s failed again (%s)", who, text)
        return
    _WARNED.add(key)
    logger.warning("claude-doctor: %s failed (%s); %s; the app is not affected", who, text, what)


class ChunkWindow:
    """Joins chunks that arrive back to back before they go on to ``emit(t, data)`` (the stream checks,
    the flight recorder's writer): both cost mostly per call, and a client reading a fast stream gets
    one chunk per event. The first chunk of a window goes on alone, at its own time; the ones that
    follow within :data:`WINDOW` seconds of it (up to :data:`HELD_BYTES`) go on as one chunk timed at
    the last of them, when the next window opens or at ``close()``. So the first byte's time and every
    silence between windows stay exact, and no silence inside a window is longer than the window."""

    def __init__(self, emit: Callable[[float, bytes], object]) -> None:
        self.emit = emit
        self.held: list[bytes] = []
        self.size = 0
        self.opened: float | None = None  #: when the window opened (``None``: no window is open)
        self.last = 0.0

    def push(self, t: float, data: bytes) -> None:
        if self.opened is not None and t - self.opened <= WINDOW and self.size < HELD_BYTES:
            self.held.append(data)
            self.size += len(data)
            self.last = t
            return
        self.close()
        self.opened = t
        self.emit(t, data)

    def push_run(self, datas: list[bytes], times: list[float]) -> None:
        """Chunks already gathered as one window (they span no longer than :data:`WINDOW`): the first goes
        on alone at its time, the rest as one chunk at the last one's."""
        self.close()
        self.emit(times[0], datas[0])
        if len(datas) > 1:
            self.emit(times[-1], b"".join(datas[1:]))

    def close(self) -> None:
        """Pass on what the window holds, and close it."""
        held, self.held, self.size, self.opened = self.held, [], 0, None
        if held:
            self.emit(self.last, b"".join(held))


class _Observer(Check):
    """Reads what a summary needs from the events (response id and model, stop reason, usage, a
    mid-stream error); subclassed per exchange to name the summary it fills."""

    summary: ExchangeSummary
    events = frozenset({"message_start", "message_delta", "error"})

    def on_event(self, ex: Exchange, ev: Any, kind: str, obj: dict) -> None:
        summary = self.summary
        if kind == "message_start":
            _take_message(summary, obj.get("message"))
        elif kind == "message_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict):
                _take_stop_reason(summary, delta.get("stop_reason"))
            _take_usage(summary, obj.get("usage"))
        else:
            error = obj.get("error")
            kind_of_error = error.get("type") if isinstance(error, dict) else None
            if isinstance(kind_of_error, str) and summary.error_type is None:
                summary.error_type = kind_of_error

    def on_end(self, ex: Exchange) -> None:
        """A body that is one JSON message (``stream: false``) holds what the events would have."""
        if ex.body_kind == "json" and ex.ok and ex.body:
            try:
                message = loads_fast(bytes(ex.body))
            except ValueError:
                return
            _take_message(self.summary, message)
            if isinstance(message, dict):
                _take_stop_reason(self.summary, message.get("stop_reason"))


def _take_message(summary: ExchangeSummary, message: object) -> None:
    if not isinstance(message, dict):
        return
    if isinstance(message.get("id"), str):
        summary.response_id = message["id"]
    if isinstance(message.get("model"), str):
        summary.response_model = message["model"]
    _take_usage(summary, message.get("usage"))


def _take_stop_reason(summary: ExchangeSummary, reason: object) -> None:
    if isinstance(reason, str):
        summary.finish_reasons = [reason]


_USAGE = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_creation_tokens"),
)


def _take_usage(summary: ExchangeSummary, usage: object) -> None:
    """Usage counts are cumulative: a later event's number replaces an earlier one."""
    if not isinstance(usage, dict):
        return
    for key, name in _USAGE:
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            setattr(summary, name, value)


def _request_fields(summary: ExchangeSummary, body: object) -> None:
    if not isinstance(body, dict):
        return
    if isinstance(body.get("model"), str):
        summary.request_model = body["model"]
    if isinstance(body.get("max_tokens"), int) and not isinstance(body.get("max_tokens"), bool):
        summary.max_tokens = body["max_tokens"]
    summary.streamed = bool(body.get("stream"))


class ExchangeWatch:
    """The listener for the records of ONE exchange (``ExchangeRecorder(listener=ExchangeWatch(...))``).

    ``config`` selects the stream checks as for ``claude-doctor stream`` (``None``: every rule);
    ``sinks`` get ``exchange_started`` at the request, ``output_chunk`` for each body chunk after the
    first and ``exchange_finished`` at the end, with every finding in ``summary.findings``;
    ``on_finished(summary)`` is called last (the flight recorder decides there whether to keep the
    exchange); ``path`` is the name findings carry.

    It never raises: an exception of its own is logged once (a ``logging`` warning on
    ``claude_doctor.monitor``, redacted, no traceback) and the exchange is no longer watched; a sink
    that raises is warned about the same way and left out for the rest of this exchange."""

    def __init__(
        self,
        config: Config | None = None,
        sinks: Iterable[Sink] = (),
        *,
        on_finished: Callable[[ExchangeSummary], object] | None = None,
        path: str = "monitor",
    ) -> None:
        self.config = config or Config()
        self.sinks = list(sinks)
        self._chunk_hooks = [sink.output_chunk for sink in self.sinks]
        self.on_finished = on_finished
        self.path = path
        self.summary: ExchangeSummary | None = None
        self.analyzer: StreamAnalyzer | None = None
        self.stopped = False  #: the watch failed, or the exchange ended: later records are ignored
        self._last_chunk: float | None = None
        self._window: ChunkWindow | None = None

    def __call__(self, record: Record) -> None:
        if record.__class__ is Chunk:
            self.take_chunk(record.t or 0.0, record.data, record.i)
            return
        if self.stopped:
            return
        try:
            self._take(record)
        except Exception as exc:
            self._give_up(exc)

    def take_chunk(self, t: float, data: bytes, i: int = 0) -> None:
        """A body chunk: nearly every record, so the recorder hands it here without a record object, and
        it is handled without a further call."""
        if self.stopped:
            return
        try:
            summary = self.summary or self._summary()
            last = self._last_chunk
            if last is None:
                summary.time_to_first_chunk = t
            else:
                gap = t - last
                if gap > summary.longest_gap:
                    summary.longest_gap = gap
                for hook in self._chunk_hooks:
                    try:
                        hook(summary, gap)
                    except Exception as exc:
                        self._drop(hook.__self__, exc)
            self._last_chunk = t
            summary.chunks += 1
            summary.bytes += len(data)
            (self._window or self._open_window(i)).push(t, data)
        except Exception as exc:
            self._give_up(exc)

    #: how long the stream wrapper may hold chunks back before ``take_chunks`` (see ``ExchangeRecorder.holds``)
    hold = WINDOW

    def take_chunks(self, datas: list[bytes], times: list[float], i: int = 0) -> None:
        """Chunks the stream wrapper held back together, with their arrival times (they never span a
        silence longer than the wrapper's hold): the summary and the sinks hear each chunk, and the checks
        get them as ``ChunkWindow`` would give them, the first alone at its own time and the rest joined
        at the last one's, so the first byte's time and every silence stay exact."""
        if self.stopped or not datas:
            return
        try:
            summary = self.summary or self._summary()
            last = self._last_chunk
            if last is None:
                summary.time_to_first_chunk = times[0]
                gaps = list(map(sub, times[1:], times))
            else:
                gaps = list(map(sub, times, [last, *times]))
            if gaps and max(gaps) > summary.longest_gap:
                summary.longest_gap = max(gaps)
            for hook in self._chunk_hooks:
                self._hear_chunks(hook, summary, gaps)
            self._last_chunk = times[-1]
            summary.chunks += len(datas)
            summary.bytes += sum(map(len, datas))
            (self._window or self._open_window(i)).push_run(datas, times)
        except Exception as exc:
            self._give_up(exc)

    def _hear_chunks(
        self, hook: Callable[[ExchangeSummary, float], object], summary: ExchangeSummary, gaps: list[float]
    ) -> None:
        try:
            for gap in gaps:
                hook(summary, gap)
        except Exception as exc:
            self._drop(hook.__self__, exc)

    def _give_up(self, exc: Exception) -> None:
        self.stopped = True
        warn_once("the monitor", exc, "it stopped watching this exchange")

    def _take(self, record: Record) -> None:
        if isinstance(record, Response):
            self._summary().status = record.status
            self._analyzer().add(record)
        elif isinstance(record, Request):
            self._request(record)
        elif isinstance(record, End):
            self._end(record)

    def _summary(self) -> ExchangeSummary:
        """The summary, begun at the request (or at the first record, for a listener joined late)."""
        if self.summary is None:
            self.summary = ExchangeSummary("", "", time.time())
        return self.summary

    def _analyzer(self) -> StreamAnalyzer:
        if self.analyzer is None:
            observer = type("Observer", (_Observer,), {"summary": self._summary()})
            self.analyzer = StreamAnalyzer(self.path, self.config, observers=(observer,))
        return self.analyzer

    def _request(self, record: Request) -> None:
        summary = self._summary()
        summary.method, summary.url = record.method, record.url
        _request_fields(summary, record.json)
        self._analyzer().add(record)
        self._tell("exchange_started", summary)
        self._chunk_hooks = [s.output_chunk for s in self.sinks if _wants_chunks(s, summary)]

    def _open_window(self, i: int) -> ChunkWindow:
        analyzer = self._analyzer()
        self._window = ChunkWindow(lambda t, data: analyzer.add(Chunk(i, t, data)))
        return self._window

    def _end(self, record: End) -> None:
        summary = self._summary()
        self.stopped = True
        summary.end_reason = record.reason
        summary.duration = record.t
        if self._last_chunk is not None and record.t is not None:
            summary.longest_gap = max(summary.longest_gap, record.t - self._last_chunk)
        if self._window is not None:
            self._window.close()
        select, ignore = self.config.select, self.config.ignore
        found = self._analyzer().add(record)
        summary.findings = [f for f in found if matches(f.code, select) and not matches(f.code, ignore)]
        if summary.error_type is None:
            failed = summary.status is not None and not 200 <= summary.status < 300
            summary.error_type = str(summary.status) if failed else record.error_type
        self._tell("exchange_finished", summary)
        if self.on_finished is not None:
            self.on_finished(summary)

    def _tell(self, hook: str, *args: Any) -> None:
        """Call ``hook`` on each sink; one that raises is warned about once and dropped for this exchange."""
        for sink in list(self.sinks):
            try:
                getattr(sink, hook)(*args)
            except Exception as exc:
                self._drop(sink, exc)

    def _drop(self, sink: Sink, exc: Exception) -> None:
        if sink in self.sinks:
            self.sinks.remove(sink)
            self._chunk_hooks = [hook for hook in self._chunk_hooks if hook.__self__ is not sink]
        warn_once(f"the sink {type(sink).__qualname__}", exc, "it is left out for this exchange")


def _wants_chunks(sink: Sink, summary: ExchangeSummary) -> bool:
    """Whether ``sink`` hears this exchange's chunks: its ``wants_chunks(summary)`` if it has one (a sink
    with nowhere to send them says no, and the busiest path of the monitor skips it), else yes."""
    wants = getattr(sink, "wants_chunks", None)
    if wants is None:
        return True
    try:
        return bool(wants(summary))
    except Exception as exc:
        warn_once(f"the sink {type(sink).__qualname__}", exc, "it hears no chunks of this exchange")
        return False
