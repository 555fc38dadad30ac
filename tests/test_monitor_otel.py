"""The OpenTelemetry sink on a real SDK pipeline (in-memory exporter and reader): the span, its finding
events and the metric points an exchange gives, whose span gets the findings when another one exists, and
an exporter that hangs. The fast tests drive the sink with summaries built by hand; the slow ones run a real
``anthropic`` client, monitored, against ``serve``."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from claude_doctor.findings import Finding, get_rule
from claude_doctor.production.otel import GENAI_SECONDS_BUCKETS, LONGEST_GAP_BUCKETS, OtelSink
from claude_doctor.production.summary import ExchangeSummary

MODEL = "claude-sonnet-4-5"
URL = "http://127.0.0.1:8123/v1/messages"


class Pipeline:
    """A tracer provider with an in-memory exporter, a meter provider with an in-memory reader, and the sink."""

    def __init__(self, exporter: SpanExporter | None = None) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter or self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.sink = OtelSink(self.tracer_provider, self.meter_provider)

    def finished(self) -> list:
        assert self.sink.flush(5.0)
        return list(self.spans.get_finished_spans())

    def scopes_of(self, metric: str) -> set[str]:
        """The instrumentation scopes that recorded ``metric``."""
        data = self.reader.get_metrics_data()
        return {
            scope.scope.name
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            if any(m.name == metric for m in scope.metrics)
        }

    def points(self) -> dict[str, list]:
        """Every data point of each metric the sink made, by metric name."""
        data = self.reader.get_metrics_data()
        found: dict[str, list] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline()


def finding(code: str, message: str, t: float | None = None) -> Finding:
    rule = get_rule(code)
    assert rule is not None
    return Finding(rule, message, path="monitor", t=t)


def summary(**fields: object) -> ExchangeSummary:
    base: dict[str, object] = {
        "method": "POST",
        "url": URL,
        "started": time.time(),
        "request_model": MODEL,
        "max_tokens": 1024,
        "streamed": True,
    }
    base.update(fields)
    return ExchangeSummary(**base)  # type: ignore[arg-type]


def run_exchange(sink: OtelSink, s: ExchangeSummary, gaps: tuple[float, ...] = (0.01, 0.02)) -> None:
    """What the monitor does for one stream: started, a chunk after the first for each gap, finished."""
    sink.exchange_started(s)
    for gap in gaps:
        sink.output_chunk(s, gap)
    s.chunks = len(gaps) + 1
    s.longest_gap = max(gaps, default=0.0)
    s.time_to_first_chunk = s.time_to_first_chunk or 0.05
    s.duration = s.duration or 0.2
    sink.exchange_finished(s)


def test_a_clean_stream_is_one_client_span_in_the_genai_conventions(pipeline: Pipeline) -> None:
    s = summary(response_id="msg_01", response_model=MODEL, finish_reasons=["end_turn"])
    s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_creation_tokens = 10, 25, 100, 5
    run_exchange(pipeline.sink, s)
    [span] = pipeline.finished()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.request.stream": True,
        "server.address": "127.0.0.1",
        "server.port": 8123,
        "gen_ai.response.id": "msg_01",
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 115,  # Anthropic's input_tokens plus both cache counts, as the conventions say
        "gen_ai.usage.output_tokens": 25,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.cache_creation.input_tokens": 5,
        "gen_ai.response.time_to_first_chunk": 0.05,
    }
    assert span.events == ()
    assert span.end_time - span.start_time == pytest.approx(0.2e9, abs=1e3)  # the exchange's time, not the worker's


def test_each_finding_is_an_event_at_its_time_and_a_failed_exchange_is_an_error(pipeline: Pipeline) -> None:
    s = summary(error_type="overloaded_error")
    s.findings = [
        finding("CD108", "An `event: error` (overloaded_error) arrived after a 200.", t=0.12),
        finding("CD104", "The stream ended without message_stop."),
    ]
    run_exchange(pipeline.sink, s)
    [span] = pipeline.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "overloaded_error"
    first, second = span.events
    assert first.name == second.name == "claude_doctor.finding"
    assert dict(first.attributes) == {
        "code": "CD108",
        "name": "error-event",
        "severity": "error",
        "message": "An `event: error` (overloaded_error) arrived after a 200.",
    }
    assert first.timestamp == int((s.started + 0.12) * 1e9)
    assert second.attributes["code"] == "CD104"
    assert second.timestamp >= span.start_time


def test_a_key_in_a_finding_message_never_reaches_the_span(pipeline: Pipeline) -> None:
    key = "sk-ant-api03-" + "A" * 93 + "AA"
    s = summary(findings=[finding("CD112", f"HTTP 400: invalid x-api-key {key}")], status=400, error_type="400")
    run_exchange(pipeline.sink, s)
    [span] = pipeline.finished()
    assert key not in span.events[0].attributes["message"]


def test_metrics_have_the_conventions_names_buckets_and_attributes(pipeline: Pipeline) -> None:
    s = summary(response_model=MODEL, findings=[finding("CD106", "stop_reason is max_tokens")])
    run_exchange(pipeline.sink, s, gaps=(0.01, 0.02, 3.0))
    points = pipeline.points()
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": 8123,
    }
    [duration] = points["gen_ai.client.operation.duration"]
    assert dict(duration.attributes) == base and duration.sum == pytest.approx(0.2)
    assert tuple(duration.explicit_bounds) == GENAI_SECONDS_BUCKETS
    [first] = points["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1 and first.sum == pytest.approx(0.05)
    per_chunk = points["gen_ai.client.operation.time_per_output_chunk"]
    assert sum(p.count for p in per_chunk) == 3 and sum(p.sum for p in per_chunk) == pytest.approx(3.03)
    [gap] = points["claude_doctor.stream.longest_gap"]
    assert gap.sum == pytest.approx(3.0) and tuple(gap.explicit_bounds) == LONGEST_GAP_BUCKETS
    [count] = points["claude_doctor.findings"]
    assert count.value == 1
    assert dict(count.attributes) == {"code": "CD106", "severity": "warning", "gen_ai.request.model": MODEL}


def test_a_failed_request_has_error_type_on_its_duration_and_no_stream_metrics(pipeline: Pipeline) -> None:
    s = summary(status=529, error_type="529", findings=[finding("CD111", "HTTP 529 overloaded")])
    pipeline.sink.exchange_started(s)
    s.duration, s.chunks, s.time_to_first_chunk = 0.01, 1, 0.01
    pipeline.sink.exchange_finished(s)
    points = pipeline.points()
    [duration] = points["gen_ai.client.operation.duration"]
    assert duration.attributes["error.type"] == "529"
    [count] = points["claude_doctor.findings"]
    assert count.attributes["code"] == "CD111" and count.attributes["severity"] == "error"
    for name in ("gen_ai.client.operation.time_to_first_chunk", "claude_doctor.stream.longest_gap"):
        assert name not in points  # an error's JSON body is no stream


def test_a_request_that_did_not_stream_reports_no_chunk_metrics(pipeline: Pipeline) -> None:
    s = summary(streamed=False)
    run_exchange(pipeline.sink, s)
    points = pipeline.points()
    assert "gen_ai.client.operation.duration" in points
    for name in ("time_to_first_chunk", "time_per_output_chunk"):
        assert f"gen_ai.client.operation.{name}" not in points
    [span] = pipeline.finished()
    assert "gen_ai.request.stream" not in span.attributes
    assert "gen_ai.response.time_to_first_chunk" not in span.attributes


def test_the_apps_outer_span_gets_our_span_as_a_child(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        run_exchange(pipeline.sink, summary(findings=[finding("CD104", "cut")]))
    spans = {span.name: span for span in pipeline.finished()}
    ours = spans[f"chat {MODEL}"]
    assert ours.parent is not None and ours.parent.span_id == outer.get_span_context().span_id
    assert spans["handle request"].events == ()
    assert [e.attributes["code"] for e in ours.events] == ["CD104"]


def instrumentation_span(tracer: trace.Tracer) -> trace.Span:
    """A span as ``opentelemetry-instrumentation-anthropic`` starts it (the test makes it current or not)."""
    attributes = {"gen_ai.provider.name": "anthropic", "gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL}
    return tracer.start_span("anthropic.chat", kind=SpanKind.CLIENT, attributes=attributes)


@pytest.mark.parametrize("current", [False, True], ids=["started-only", "made-current"])
def test_an_instrumentations_span_gets_the_findings_and_no_second_span_is_made(
    pipeline: Pipeline, current: bool
) -> None:
    tracer = pipeline.tracer_provider.get_tracer("opentelemetry.instrumentation.anthropic")
    host = instrumentation_span(tracer)
    s = summary(response_id="msg_02", findings=[finding("CD104", "cut")])
    if current:
        with trace.use_span(host, end_on_exit=True):
            run_exchange(pipeline.sink, s)
    else:
        run_exchange(pipeline.sink, s)
        host.end()
    [span] = pipeline.finished()
    assert span.name == "anthropic.chat"
    assert [e.attributes["code"] for e in span.events] == ["CD104"]
    assert span.attributes["gen_ai.response.id"] == "msg_02"  # an attribute it lacked
    assert span.attributes["gen_ai.request.model"] == MODEL


def test_an_instrumentation_span_for_another_model_is_left_alone(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer_provider.get_tracer("opentelemetry.instrumentation.anthropic")
    host = instrumentation_span(tracer)
    run_exchange(pipeline.sink, summary(request_model="claude-haiku-4-5", findings=[finding("CD104", "cut")]))
    host.end()
    spans = {span.name: span for span in pipeline.finished()}
    assert spans["anthropic.chat"].events == ()
    assert [e.attributes["code"] for e in spans["chat claude-haiku-4-5"].events] == ["CD104"]


def test_an_instrumentations_span_left_open_is_ended_so_its_findings_are_exported(pipeline: Pipeline) -> None:
    pipeline.sink = OtelSink(pipeline.tracer_provider, pipeline.meter_provider, orphan_grace=0.05)
    tracer = pipeline.tracer_provider.get_tracer("opentelemetry.instrumentation.anthropic")
    instrumentation_span(tracer)  # and never ended, as the instrumentation does when a stream raises
    s = summary(error_type="overloaded_error", findings=[finding("CD108", "error event")])
    run_exchange(pipeline.sink, s)
    [span] = wait_for_spans(pipeline, 1)
    assert span.name == "anthropic.chat" and span.status.status_code is StatusCode.ERROR
    assert [e.attributes["code"] for e in span.events] == ["CD108"]
    assert span.end_time == int((s.started + s.duration) * 1e9)  # at the exchange's end, not the grace's


def test_a_token_count_while_the_instrumentations_span_is_open_gets_a_span_of_its_own(pipeline: Pipeline) -> None:
    tracer = pipeline.tracer_provider.get_tracer("opentelemetry.instrumentation.anthropic")
    host = instrumentation_span(tracer)
    run_exchange(pipeline.sink, summary(url=URL + "/count_tokens", streamed=False))
    host.end()
    names = sorted(span.name for span in pipeline.finished())
    assert names == ["anthropic.chat", f"chat {MODEL}"]


def test_findings_after_the_instrumentations_span_ended_go_on_a_child_without_genai_attributes(
    pipeline: Pipeline,
) -> None:
    tracer = pipeline.tracer_provider.get_tracer("opentelemetry.instrumentation.anthropic")
    host = instrumentation_span(tracer)
    s = summary(findings=[finding("CD104", "cut")])
    pipeline.sink.exchange_started(s)
    host.end()  # e.g. the app stopped reading and the instrumentation closed its span first
    s.duration = 0.1
    pipeline.sink.exchange_finished(s)
    spans = {span.name: span for span in pipeline.finished()}
    assert set(spans) == {"anthropic.chat", "claude_doctor.findings"}
    child = spans["claude_doctor.findings"]
    assert child.parent.span_id == spans["anthropic.chat"].context.span_id
    assert not any(key.startswith("gen_ai.") for key in child.attributes)
    assert [e.attributes["code"] for e in child.events] == ["CD104"]


def test_without_an_sdk_the_sink_does_nothing_and_starts_no_thread() -> None:
    from opentelemetry.metrics import NoOpMeterProvider

    before = threading.active_count()
    sink = OtelSink(trace.NoOpTracerProvider(), NoOpMeterProvider())
    run_exchange(sink, summary(findings=[finding("CD104", "cut")]))
    assert threading.active_count() == before
    assert sink.flush(1.0)


class HangingExporter(SpanExporter):
    """An exporter whose ``export`` blocks until released, like one whose collector stopped answering."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def export(self, spans: object) -> SpanExportResult:
        self.calls += 1
        self.entered.set()
        self.release.wait()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_an_exporter_that_hangs_never_blocks_the_exchange() -> None:
    exporter = HangingExporter()
    pipeline = Pipeline(exporter)
    try:
        done = threading.Event()

        def exchanges() -> None:
            for _ in range(50):
                run_exchange(pipeline.sink, summary(findings=[finding("CD104", "cut")]))
            done.set()

        worker = threading.Thread(target=exchanges, daemon=True)
        worker.start()
        assert done.wait(30), "the exchanges waited on the hanging exporter"
        assert exporter.entered.wait(10) and exporter.calls == 1  # the worker is stuck in the first export
    finally:
        exporter.release.set()
    assert pipeline.sink.flush(10)
    assert exporter.calls == 50


def test_a_full_queue_drops_spans_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    exporter = HangingExporter()
    pipeline = Pipeline(exporter)
    pipeline.sink = OtelSink(pipeline.tracer_provider, pipeline.meter_provider, queue_size=2)
    try:
        with caplog.at_level("WARNING", logger="claude_doctor.monitor"):
            for _ in range(10):
                run_exchange(pipeline.sink, summary())
    finally:
        exporter.release.set()
    warnings = [r for r in caplog.records if "dropped a claude-doctor span" in r.getMessage()]
    assert len(warnings) == 1
    assert pipeline.sink.flush(10)


def test_an_exchange_the_monitor_abandoned_still_ends_its_span(pipeline: Pipeline) -> None:
    s = summary()
    pipeline.sink.exchange_started(s)
    del s  # the monitor failed inside and let go of the exchange without finishing it
    import gc

    gc.collect()
    [span] = pipeline.finished()
    assert span.name == f"chat {MODEL}"


# -- end to end: a real anthropic client, monitored, against serve (slow) ------------------------------------

#: Each fault of ``serve`` and the finding codes the monitor must put on the exchange's span.
FAULTS = {
    "clean": set(),
    "truncate": {"CD104"},
    "error-event:overloaded_error": {"CD108"},
    "reorder": {"CD105"},
    "max-tokens": {"CD106"},
    "status:529": {"CD111"},
}
FAILED = {"error-event:overloaded_error": "overloaded_error", "status:529": "529"}


def monitored_http_client(sink: OtelSink, *, is_async: bool = False) -> object:
    """The monitored ``httpx2`` client the app hands to the SDK, reporting to ``sink`` only."""
    from claude_doctor.production.client import async_monitored_client, monitored_client

    make = async_monitored_client if is_async else monitored_client
    return make(sinks=[sink], otel=False)


def stream_text(client: object) -> str:
    """What an app does: stream a message and keep its text; an SDK error is what the app would see."""
    try:
        with client.messages.stream(  # type: ignore[attr-defined]
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Hello"}]
        ) as stream:
            return "".join(stream.text_stream)
    except Exception as exc:  # the app's own error handling: the test compares what it saw
        return f"raised {type(exc).__name__}"


def sdk_client(url: str, http_client: object | None = None) -> object:
    import anthropic

    return anthropic.Anthropic(base_url=url, api_key="test", max_retries=0, http_client=http_client)


def wait_for_spans(pipeline: Pipeline, count: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        spans = pipeline.finished()
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def codes(span: object) -> set[str]:
    return {event.attributes["code"] for event in span.events if event.name == "claude_doctor.finding"}  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_monitored_client_reports_each_fault_of_serve(pipeline: Pipeline, fault: str) -> None:
    from urllib.parse import urlsplit

    from claude_doctor.serve import running

    with running([] if fault == "clean" else [fault]) as url:
        plain = stream_text(sdk_client(url))
        seen = stream_text(sdk_client(url, monitored_http_client(pipeline.sink)))
    assert seen == plain  # the app sees exactly what it sees unmonitored
    [span] = pipeline.finished()
    assert span.name == f"chat {MODEL}" and span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.request.max_tokens"] == 1024
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == urlsplit(url).port
    assert FAULTS[fault] <= codes(span)
    if fault == "clean":
        assert codes(span) == set()
    points = pipeline.points()
    [duration] = points["gen_ai.client.operation.duration"]
    assert duration.count == 1
    counted = {p.attributes["code"]: p.value for p in points.get("claude_doctor.findings", [])}
    assert set(counted) == codes(span) and all(value == 1 for value in counted.values())
    if fault in FAILED:
        assert span.status.status_code is StatusCode.ERROR
        assert attributes["error.type"] == FAILED[fault]
        assert duration.attributes["error.type"] == FAILED[fault]
        return
    assert span.status.status_code is StatusCode.UNSET
    assert attributes["gen_ai.response.id"].startswith("msg_")
    assert attributes["gen_ai.response.model"]
    assert attributes["gen_ai.usage.input_tokens"] > 0
    [first] = points["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1
    if fault in ("clean", "max-tokens"):
        reason = "max_tokens" if fault == "max-tokens" else "end_turn"
        assert attributes["gen_ai.response.finish_reasons"] == (reason,)
        assert attributes["gen_ai.usage.output_tokens"] > 0


@pytest.fixture
def instrumented(pipeline: Pipeline):
    """``opentelemetry-instrumentation-anthropic`` on the same providers, for the test only."""
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=pipeline.tracer_provider, meter_provider=pipeline.meter_provider)
    pipeline.sink = OtelSink(pipeline.tracer_provider, pipeline.meter_provider, orphan_grace=0.2)
    try:
        yield pipeline
    finally:
        instrumentor.uninstrument()


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_with_the_anthropic_instrumentation_the_findings_land_on_its_span(instrumented: Pipeline, fault: str) -> None:
    from claude_doctor.serve import running

    with running([] if fault == "clean" else [fault]) as url:
        stream_text(sdk_client(url, monitored_http_client(instrumented.sink)))
        spans = wait_for_spans(instrumented, 1)
    [span] = spans  # the instrumentation's, and no second one of ours
    assert span.name == "anthropic.chat"
    assert FAULTS[fault] <= codes(span)
    assert span.attributes["server.port"] > 0  # an attribute it lacked, added
    if fault in FAILED:
        # it leaves its span open when the stream raises; the sink ends it so the findings are exported
        assert span.status.status_code is StatusCode.ERROR
    points = instrumented.points()
    counted = {p.attributes["code"] for p in points.get("claude_doctor.findings", [])}
    assert counted == codes(span)
    scopes = instrumented.scopes_of("gen_ai.client.operation.duration")
    assert "claude_doctor" not in scopes  # the instrumentation records the call's duration: not counted twice


@pytest.mark.slow
def test_an_async_client_inside_the_apps_span_gets_a_child_span(pipeline: Pipeline) -> None:
    import asyncio

    import anthropic

    from claude_doctor.serve import running

    tracer = pipeline.tracer_provider.get_tracer("app")

    async def app(url: str) -> str:
        client = anthropic.AsyncAnthropic(
            base_url=url, api_key="test", max_retries=0, http_client=monitored_http_client(pipeline.sink, is_async=True)
        )
        with tracer.start_as_current_span("handle request"):
            async with client.messages.stream(
                model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Hello"}]
            ) as stream:
                return "".join([text async for text in stream.text_stream])

    with running(["truncate"]) as url:
        asyncio.run(app(url))
    spans = {span.name: span for span in pipeline.finished()}
    ours, outer = spans[f"chat {MODEL}"], spans["handle request"]
    assert ours.parent.span_id == outer.context.span_id
    assert codes(ours) == {"CD104"} and codes(outer) == set()


@pytest.mark.slow
def test_an_async_client_with_the_instrumentation_puts_the_findings_on_its_span(instrumented: Pipeline) -> None:
    import asyncio

    import anthropic

    from claude_doctor.serve import running

    async def app(url: str) -> None:
        http_client = monitored_http_client(instrumented.sink, is_async=True)
        client = anthropic.AsyncAnthropic(base_url=url, api_key="test", max_retries=0, http_client=http_client)
        calls = [asyncio.create_task(async_stream(client)) for _ in range(3)]  # three tasks at once
        await asyncio.gather(*calls)

    async def async_stream(client: anthropic.AsyncAnthropic) -> None:
        async with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "Hello"}]
        ) as stream:
            await stream.get_final_message()

    with running(["max-tokens"]) as url:
        asyncio.run(app(url))
    spans = wait_for_spans(instrumented, 3)
    assert [span.name for span in spans] == ["anthropic.chat"] * 3
    for span in spans:  # each call's finding on its own span: none lost, none on a neighbour's
        assert [event.attributes["code"] for event in span.events if event.name == "claude_doctor.finding"] == ["CD106"]


@pytest.mark.slow
def test_an_exporter_that_hangs_does_not_delay_the_apps_streams() -> None:
    from claude_doctor.serve import running

    exporter = HangingExporter()
    pipeline = Pipeline(exporter)
    runs = 5
    try:
        with running(["truncate"]) as url:
            plain_client = sdk_client(url)
            began = time.monotonic()
            plain = [stream_text(plain_client) for _ in range(runs)]
            baseline = time.monotonic() - began
            client = sdk_client(url, monitored_http_client(pipeline.sink))
            began = time.monotonic()
            seen = [stream_text(client) for _ in range(runs)]
            monitored = time.monotonic() - began
        assert seen == plain
        assert exporter.entered.wait(10) and exporter.calls == 1  # stuck in the first export all along
        assert monitored < 10 * baseline + 5.0, f"{monitored:.2f}s monitored vs {baseline:.2f}s plain"
    finally:
        exporter.release.set()
    assert pipeline.sink.flush(10)
    assert exporter.calls == runs


@pytest.mark.slow
def test_importing_claude_doctor_does_not_import_opentelemetry() -> None:
    import subprocess
    import sys

    code = "import sys, claude_doctor, claude_doctor.production; print('opentelemetry' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
