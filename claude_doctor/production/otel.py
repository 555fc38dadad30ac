"""OpenTelemetry for the monitor: a span per exchange in the GenAI semantic conventions' words, each finding a
span event, and the conventions' client metrics plus the stream's longest gap and a findings counter.

Exporters are never configured here: the spans and points go to the providers the app set up (``OTEL_*``
variables, ``opentelemetry-instrument``, or its own code), the global ones unless others are passed. This is
the only module that imports ``opentelemetry``, and nothing imports it unless the app asks for OpenTelemetry
(the ``otel`` extra), so without it the monitor costs nothing here.

Nothing is counted twice: when an instrumentation (``opentelemetry-instrumentation-anthropic``) already made
a GenAI client span for the call, the findings go on that span as events and no second span is made; see
:func:`_host_span`. A span this module owns is ended by a worker thread, because ending it runs the app's span
processors, and a ``SimpleSpanProcessor`` exports inline: an exporter that hangs would otherwise hang the
app's stream.
"""

from __future__ import annotations

import atexit
import contextvars
import heapq
import itertools
import logging
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ..findings import Finding
from ..keys import redact_text
from .summary import PROVIDER, ExchangeSummary

#: The API's providers that keep nothing: the default before an SDK is set, and the explicit no-op.
NO_OP_METER_PROVIDERS = frozenset({"_ProxyMeterProvider", "NoOpMeterProvider"})

log = logging.getLogger("claude_doctor.monitor")

SCOPE = "claude_doctor"  #: the tracer's and the meter's instrumentation scope
FINDING_EVENT = "claude_doctor.finding"
FINDINGS_SPAN = "claude_doctor.findings"  #: carries the events when the instrumentation's span already ended

#: The GenAI conventions' boundaries for all three client duration histograms (seconds).
GENAI_SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
#: Dense around the API's 15 s ping cadence, where a proxy's idle timeout bites (CD102).
LONGEST_GAP_BUCKETS = (0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0)

# Attribute names (the GenAI semantic conventions; ``server.*`` and ``error.type`` are stable).
OPERATION = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  #: the older name of gen_ai.provider.name, still set by some instrumentations
REQUEST_MODEL = "gen_ai.request.model"
MAX_TOKENS = "gen_ai.request.max_tokens"
STREAM = "gen_ai.request.stream"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# The instrumentation's span of the call the current request belongs to, when one started in this thread or task.
_INSTRUMENTATION_SPAN: contextvars.ContextVar[Any] = contextvars.ContextVar("claude_doctor_genai_span", default=None)
_NOT_INSTRUMENTED = ("/count_tokens", "/batches", "/files")  #: API paths no GenAI span is made for
_SPOTTED: weakref.WeakSet[Any] = weakref.WeakSet()  #: the tracer providers that have a spotter
_SPOTTED_LOCK = threading.Lock()


@dataclass
class _Exchange:
    """What the sink keeps about one exchange between its start and its end."""

    span: Span
    owned: bool  #: made by us (we end it), else an instrumentation's span we add to
    spotted: bool = False  #: an instrumentation's span found by the spotter, not as the current span
    chunk_attributes: dict[str, Any] | None = None


class OtelSink:
    """A monitor sink (see ``production/summary.py``) that reports each exchange to OpenTelemetry.

    ``tracer_provider`` and ``meter_provider`` default to the global ones. ``queue_size`` bounds the spans
    waiting for the worker that ends them; when it is full (an exporter stuck for that long) a span is dropped,
    with one warning, rather than delaying the app. ``orphan_grace``: an instrumentation's span still open
    that many seconds after its exchange ended was left open for good (see :meth:`_SpanEnder.end_if_left_open`)
    and is ended, so that it and the findings on it are exported."""

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        *,
        queue_size: int = 1024,
        orphan_grace: float = 5.0,
    ) -> None:
        from .. import __version__

        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._orphan_grace = orphan_grace
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self._duration = _seconds_histogram(
            meter, "gen_ai.client.operation.duration", "GenAI operation duration.", GENAI_SECONDS_BUCKETS
        )
        self._first_chunk = _seconds_histogram(
            meter,
            "gen_ai.client.operation.time_to_first_chunk",
            "Time from the request to the first chunk of the response stream.",
            GENAI_SECONDS_BUCKETS,
        )
        self._per_chunk = _seconds_histogram(
            meter,
            "gen_ai.client.operation.time_per_output_chunk",
            "Time from the end of the previous chunk to the end of this one, for each chunk after the first.",
            GENAI_SECONDS_BUCKETS,
        )
        self._longest_gap = _seconds_histogram(
            meter,
            "claude_doctor.stream.longest_gap",
            "Each stream's longest silence between body chunks (and from the last one to its end).",
            LONGEST_GAP_BUCKETS,
        )
        self._findings = meter.create_counter(
            "claude_doctor.findings", unit="{finding}", description="Findings of the stream checks, by rule code."
        )
        self._open: dict[int, _Exchange] = {}
        self._ender = _SpanEnder(queue_size)
        self._spotting = False
        self._spot_instrumentation_spans()

    # -- the Sink interface -------------------------------------------------------------------------------

    def exchange_started(self, summary: ExchangeSummary) -> None:
        """Adopt the instrumentation's span for this call, or start ours (a child of the current span)."""
        self._spot_instrumentation_spans()
        host, spotted = _host_span(summary)
        if host is not None:
            exchange = _Exchange(host, owned=False, spotted=spotted)
        else:
            span = self._tracer.start_span(
                span_name(summary),
                kind=SpanKind.CLIENT,
                attributes=_request_attributes(summary),
                start_time=_ns(summary.started),
            )
            exchange = _Exchange(span, owned=True)
        key = id(summary)
        self._open[key] = exchange
        weakref.finalize(summary, self._abandon, key)

    def wants_chunks(self, summary: ExchangeSummary) -> bool:
        """Chunk points only for a stream, and only when a meter provider will keep them: with none set
        (the API's no-op or proxy provider) the point would be dropped, and each costs the app a call."""
        provider = self._meter_provider or metrics.get_meter_provider()
        return summary.is_stream and type(provider).__name__ not in NO_OP_METER_PROVIDERS

    def output_chunk(self, summary: ExchangeSummary, seconds: float) -> None:
        """One point of ``time_per_output_chunk``: the conventions count it for streamed calls only."""
        exchange = self._open.get(id(summary))
        if exchange is None or not summary.is_stream:
            return
        if exchange.chunk_attributes is None:
            exchange.chunk_attributes = _metric_attributes(summary, with_error=False)
        self._per_chunk.record(seconds, exchange.chunk_attributes)

    def exchange_finished(self, summary: ExchangeSummary) -> None:
        """Record the metrics, put the findings on the span and end it (ours: on the worker)."""
        exchange = self._open.pop(id(summary), None)
        self._record_metrics(summary, duration=exchange is None or exchange.owned)
        if exchange is None:
            return
        if exchange.owned:
            self._finish_own(exchange.span, summary)
        else:
            self._finish_adopted(exchange, summary)

    # -- the rest -----------------------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the spans handed to the worker are ended (``False`` if ``timeout`` passed first)."""
        return self._ender.flush(timeout)

    def _record_metrics(self, summary: ExchangeSummary, *, duration: bool) -> None:
        """``duration`` is left out when an instrumentation's span was adopted: it records its own."""
        if duration and summary.duration is not None:
            self._duration.record(summary.duration, _metric_attributes(summary, with_error=True))
        if summary.is_stream:
            streaming = _metric_attributes(summary, with_error=False)
            if summary.time_to_first_chunk is not None:
                self._first_chunk.record(summary.time_to_first_chunk, streaming)
            if summary.chunks:
                self._longest_gap.record(summary.longest_gap, streaming)
        model = summary.model
        for finding in summary.findings:
            labels = {"code": finding.code, "severity": finding.level.label}
            if model:
                labels[REQUEST_MODEL] = model
            self._findings.add(1, labels)

    def _finish_own(self, span: Span, summary: ExchangeSummary) -> None:
        if not span.is_recording():
            return  # no SDK behind the API (or a sampler said no): nothing to add, nothing to end
        span.set_attributes(_response_attributes(summary))
        _add_finding_events(span, summary)
        if summary.error_type:
            span.set_status(Status(StatusCode.ERROR, summary.error_type))
        end = summary.started + summary.duration if summary.duration is not None else None
        self._ender.end(span, _ns(end) if end is not None else None)

    def _finish_adopted(self, exchange: _Exchange, summary: ExchangeSummary) -> None:
        """Add what the instrumentation's span lacks, inline (it must happen before that span ends; nothing
        here does I/O). Its status stays the instrumentation's own, unless it leaves the span open."""
        span = exchange.span
        if not span.is_recording():
            self._findings_span(span, summary)
            return
        present = getattr(span, "attributes", None) or {}
        everything = {**_request_attributes(summary), **_response_attributes(summary)}
        span.set_attributes({k: v for k, v in everything.items() if k not in present})
        _add_finding_events(span, summary)
        if exchange.spotted:
            end = _ns(summary.started + summary.duration) if summary.duration is not None else None
            self._ender.end_if_left_open(span, end, summary.error_type, self._orphan_grace)

    def _findings_span(self, host: Span, summary: ExchangeSummary) -> None:
        """The instrumentation ended its span before the body did (a stream left unread): the findings go
        on a small child of it, without GenAI attributes, so no tool counts the call twice."""
        if not summary.findings:
            return
        context = trace.set_span_in_context(host, Context())
        span = self._tracer.start_span(FINDINGS_SPAN, context, kind=SpanKind.INTERNAL, start_time=_ns(summary.started))
        _add_finding_events(span, summary)
        self._ender.end(span, None)

    def _abandon(self, key: int) -> None:
        """The monitor dropped an exchange without finishing it (it failed inside): end our span anyway."""
        exchange = self._open.pop(key, None)
        if exchange is not None and exchange.owned:
            self._ender.end(exchange.span, None)

    def _spot_instrumentation_spans(self) -> None:
        """Once the tracer provider is an SDK one (the global one may be set after this sink is made): watch it
        for the spans instrumentations start. One spotter per provider, however many sinks share it."""
        if self._spotting:
            return
        provider = self._tracer_provider or trace.get_tracer_provider()
        add = getattr(provider, "add_span_processor", None)
        if add is None:
            return  # no SDK (yet): the current span is all there is to go by
        self._spotting = True
        with _SPOTTED_LOCK:
            if provider not in _SPOTTED:
                _SPOTTED.add(provider)
                add(_InstrumentationSpotter())


def span_name(summary: ExchangeSummary) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``, as the conventions name a client span."""
    model = summary.model
    return f"{summary.operation} {model}" if model else summary.operation


def _host_span(summary: ExchangeSummary) -> tuple[Span | None, bool]:
    """The span an instrumentation made for this very call, if there is one to add to, and whether it was
    found by the spotter rather than as the current span.

    ``opentelemetry-instrumentation-anthropic`` starts its span without making it current, so it is found by
    :class:`_InstrumentationSpotter`, which notes the GenAI spans starting in this thread or task; an
    instrumentation that does make its span current is found as the current span. Either way it must be
    recording, of kind CLIENT, say it is ``anthropic``'s and not name another model. Any other current span
    (the app's ``handle request``) is a parent: ours becomes its child."""
    spotted, current = _INSTRUMENTATION_SPAN.get(), trace.get_current_span()
    for span in (spotted, current):
        if span is not None and _is_genai_client_span(span) and _same_call(span, summary):
            return span, span is not current
    return None, False


def _is_genai_client_span(span: Any) -> bool:
    if not span.is_recording() or getattr(span, "kind", None) is not SpanKind.CLIENT:
        return False
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None and scope.name == SCOPE:
        return False
    attributes = getattr(span, "attributes", None) or {}
    return PROVIDER in (attributes.get(PROVIDER_NAME), attributes.get(SYSTEM))


def _same_call(span: Any, summary: ExchangeSummary) -> bool:
    """Could this request be the call the span is for? Not one the instrumentations leave alone (token
    counting, batches, listings) made while that span is still open, nor one for another model."""
    if summary.method not in ("POST", "") or any(word in summary.url for word in _NOT_INSTRUMENTED):
        return False
    asked = (getattr(span, "attributes", None) or {}).get(REQUEST_MODEL)
    return asked is None or summary.request_model is None or asked == summary.request_model


class _InstrumentationSpotter:
    """A span processor that only remembers, per thread or task, the last GenAI client span started there."""

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        if getattr(span, "kind", None) is SpanKind.CLIENT and _is_genai_client_span(span):
            _INSTRUMENTATION_SPAN.set(span)

    def on_end(self, span: Any) -> None:
        pass

    def _on_ending(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@dataclass
class _End:
    span: Span
    end_time: int | None


@dataclass
class _EndIfLeftOpen:
    deadline: float  #: ``time.monotonic()`` after which the span counts as left open
    span: Span
    end_time: int | None
    error_type: str | None


class _SpanEnder:
    """Ends spans on a daemon thread, so a span processor that exports inline cannot stall the app."""

    def __init__(self, size: int) -> None:
        self._queue: queue.Queue[_End | _EndIfLeftOpen | threading.Event] = queue.Queue(size)
        self._left_open: list[tuple[float, int, _EndIfLeftOpen]] = []  # a heap, the worker's own
        self._order = itertools.count()  # breaks deadline ties in the heap
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned = False

    def end(self, span: Span, end_time: int | None) -> None:
        self._put(_End(span, end_time))

    def end_if_left_open(self, span: Span, end_time: int | None, error_type: str | None, grace: float) -> None:
        """``opentelemetry-instrumentation-anthropic`` (0.62) never ends its span when the stream raises (an
        ``error`` event, a 529 on ``messages.stream``) or is closed before its end: the span, the findings on it
        included, would never be exported. When it is still open ``grace`` seconds after the exchange ended, it
        is ended at the exchange's end, with status ERROR when the exchange failed."""
        self._put(_EndIfLeftOpen(time.monotonic() + grace, span, end_time, error_type))

    def flush(self, timeout: float) -> bool:
        """Wait for the spans handed over so far to be ended (those waiting for their grace are not waited for)."""
        if self._thread is None:
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _put(self, item: _End | _EndIfLeftOpen) -> None:
        self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._warn_once("the OpenTelemetry span exporter is not keeping up; dropped a claude-doctor span")

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="claude-doctor-otel", daemon=True)
                self._thread.start()
                atexit.register(self.flush, 2.0)

    def _run(self) -> None:
        while True:
            wait = max(0.0, self._left_open[0][0] - time.monotonic()) if self._left_open else None
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            try:
                self._take(item)
                self._end_left_open()
            except Exception as exc:  # an exporter's failure is the app's exporter's, never ours to raise
                self._warn_once(f"ending a claude-doctor span failed: {type(exc).__name__}")

    def _take(self, item: _End | _EndIfLeftOpen | threading.Event | None) -> None:
        if isinstance(item, threading.Event):
            item.set()
        elif isinstance(item, _End):
            item.span.end(end_time=item.end_time)
        elif isinstance(item, _EndIfLeftOpen):
            heapq.heappush(self._left_open, (item.deadline, next(self._order), item))

    def _end_left_open(self) -> None:
        now = time.monotonic()
        while self._left_open and self._left_open[0][0] <= now:
            item = heapq.heappop(self._left_open)[2]
            if item.span.is_recording():
                if item.error_type:
                    item.span.set_status(Status(StatusCode.ERROR, item.error_type))
                item.span.end(end_time=item.end_time)

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)


def _seconds_histogram(meter: Any, name: str, description: str, buckets: tuple[float, ...]) -> Any:
    return meter.create_histogram(
        name, unit="s", description=description, explicit_bucket_boundaries_advisory=list(buckets)
    )


def _request_attributes(summary: ExchangeSummary) -> dict[str, Any]:
    """What is known when the request leaves (the conventions want these at span creation, for sampling)."""
    attributes: dict[str, Any] = {OPERATION: summary.operation, PROVIDER_NAME: PROVIDER}
    _put(attributes, REQUEST_MODEL, summary.request_model)
    _put(attributes, MAX_TOKENS, summary.max_tokens)
    if summary.streamed:
        attributes[STREAM] = True
    _put(attributes, SERVER_ADDRESS, summary.server_address)
    _put(attributes, SERVER_PORT, summary.server_port)
    return attributes


def _response_attributes(summary: ExchangeSummary) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    _put(attributes, RESPONSE_ID, summary.response_id)
    _put(attributes, RESPONSE_MODEL, summary.response_model)
    if summary.finish_reasons:
        attributes[FINISH_REASONS] = list(summary.finish_reasons)
    _put(attributes, INPUT_TOKENS, _input_tokens(summary))
    _put(attributes, OUTPUT_TOKENS, summary.output_tokens)
    _put(attributes, CACHE_READ_TOKENS, summary.cache_read_tokens)
    _put(attributes, CACHE_CREATION_TOKENS, summary.cache_creation_tokens)
    if summary.is_stream:
        _put(attributes, TIME_TO_FIRST_CHUNK, summary.time_to_first_chunk)
    _put(attributes, ERROR_TYPE, summary.error_type)
    return attributes


def _input_tokens(summary: ExchangeSummary) -> int | None:
    """The conventions count cached input too: Anthropic's ``input_tokens`` leaves the cache's out."""
    if summary.input_tokens is None:
        return None
    return summary.input_tokens + (summary.cache_read_tokens or 0) + (summary.cache_creation_tokens or 0)


def _metric_attributes(summary: ExchangeSummary, *, with_error: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {OPERATION: summary.operation, PROVIDER_NAME: PROVIDER}
    _put(attributes, REQUEST_MODEL, summary.request_model)
    _put(attributes, RESPONSE_MODEL, summary.response_model)
    _put(attributes, SERVER_ADDRESS, summary.server_address)
    _put(attributes, SERVER_PORT, summary.server_port)
    if with_error:
        _put(attributes, ERROR_TYPE, summary.error_type)
    return attributes


def _add_finding_events(span: Span, summary: ExchangeSummary) -> None:
    for finding in summary.findings:
        span.add_event(FINDING_EVENT, _finding_attributes(finding), timestamp=_finding_time(finding, summary))


def _finding_attributes(finding: Finding) -> dict[str, str]:
    return {
        "code": finding.code,
        "name": finding.rule.name,
        "severity": finding.level.label,
        "message": redact_text(finding.message),
    }


def _finding_time(finding: Finding, summary: ExchangeSummary) -> int | None:
    """A finding's ``t`` counts from the request, as a recording's times do."""
    return _ns(summary.started + finding.t) if finding.t is not None else None


def _put(attributes: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attributes[key] = value


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
