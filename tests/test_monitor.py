"""The monitor without a network: the bundled recordings' records driven through the same
``ExchangeRecorder`` a monitored client uses, so each check is what a user's sink, log or flight folder
would show. The real SDK against ``serve`` is in ``test_monitor_e2e.py``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from claude_doctor.capture.transport import ExchangeRecorder
from claude_doctor.checks.stream import StreamAnalyzer
from claude_doctor.config import Config
from claude_doctor.production import watch as watch_module
from claude_doctor.production.client import Monitor
from claude_doctor.production.flight import FlightRecorder
from claude_doctor.production.summary import ExchangeSummary
from claude_doctor.production.watch import ChunkWindow, ExchangeWatch
from claude_doctor.recording import Chunk, End, Request, Response, open_source
from tests.conftest import RECORDINGS, invoke_cli

KEY = "sk-ant-api03-" + "A" * 93 + "AA"


class ListSink:
    """What an exporter would see: each call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.finished: list[ExchangeSummary] = []

    def exchange_started(self, summary: ExchangeSummary) -> None:
        self.calls.append(("started", summary.request_model))

    def output_chunk(self, summary: ExchangeSummary, seconds: float) -> None:
        self.calls.append(("chunk", seconds))

    def exchange_finished(self, summary: ExchangeSummary) -> None:
        self.calls.append(("finished", [f.code for f in summary.findings]))
        self.finished.append(summary)


class RaisingSink(ListSink):
    def output_chunk(self, summary: ExchangeSummary, seconds: float) -> None:
        raise RuntimeError(f"exporter down, key {KEY}")


def drive(name: str, recorder_for) -> None:
    """Play a bundled recording's exchanges into recorders made by ``recorder_for(i)``, as the transport
    does: the request, the response head, each chunk at its time, the end."""
    recorders: dict[int, ExchangeRecorder] = {}
    for record in open_source(str(RECORDINGS / name)).records:
        if isinstance(record, Request):
            recorder = recorders[record.i] = recorder_for(record.i)
            body = json.dumps(record.json).encode() if record.json is not None else None
            recorder.request(record.method, record.url, [*record.headers, ("x-api-key", KEY)], body)
        elif isinstance(record, Response):
            recorders[record.i].response(record.status, record.reason, record.http_version, record.headers, t=record.t)
        elif isinstance(record, Chunk):
            recorders[record.i].chunk(record.data, t=record.t)
        elif isinstance(record, End):
            exc = TimeoutError(record.error) if record.reason == "timeout" else None
            recorders[record.i].end(record.reason, exc, t=record.t)


def watched(name: str, *sinks, config: Config | None = None) -> list[ExchangeSummary]:
    sink = ListSink()
    drive(name, lambda i: ExchangeRecorder(None, i, listener=ExchangeWatch(config, [sink, *sinks])))
    return sink.finished


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Each test sees the monitor's once-per-process warnings afresh."""
    watch_module._WARNED.clear()
    yield
    watch_module._WARNED.clear()


def test_summary_of_a_clean_stream() -> None:
    (summary,) = watched("clean-text.jsonl")
    assert (summary.method, summary.request_model, summary.max_tokens, summary.streamed) == (
        "POST",
        "claude-sonnet-4-6",
        1024,
        True,
    )
    assert summary.status == 200 and summary.response_id.startswith("msg_")
    assert summary.finish_reasons == ["end_turn"]
    assert (summary.input_tokens, summary.output_tokens) == (25, 29)
    assert summary.end_reason == "eof" and summary.error_type is None and summary.findings == []
    assert summary.chunks == 35 and summary.bytes > 0 and summary.time_to_first_chunk is not None
    assert summary.server_address is not None


@pytest.mark.parametrize(
    ("name", "codes", "error_type"),
    [
        ("cd104-truncated-stream.jsonl", ["CD104"], None),
        ("cd108-overloaded-error-event.jsonl", ["CD108"], "overloaded_error"),
        ("cd111-overloaded-529.jsonl", ["CD111"], "529"),
        ("cd103-read-timeout.jsonl", ["CD103"], "TimeoutError"),
        ("cd106-max-tokens.jsonl", ["CD106"], None),
    ],
)
def test_findings_and_error_type_are_the_stream_commands(name: str, codes: list[str], error_type: str) -> None:
    (summary,) = watched(name)
    assert [f.code for f in summary.findings] == codes
    assert summary.error_type == error_type
    source = open_source(str(RECORDINGS / name))
    analyzer = StreamAnalyzer(name, Config())
    for record in source.records:
        analyzer.add(record)
    assert sorted(f.code for f in analyzer.finish()) == sorted(codes)


def test_each_retry_is_an_exchange_of_its_own() -> None:
    first, second = watched("cd109-rate-limited-then-retried.jsonl")
    assert (first.status, first.error_type, [f.code for f in first.findings]) == (429, "429", ["CD109"])
    assert (second.status, second.error_type, second.findings) == (200, None, [])


def test_sinks_hear_every_moment_in_order() -> None:
    sink = ListSink()
    drive("cd102-idle-gap.jsonl", lambda i: ExchangeRecorder(None, i, listener=ExchangeWatch(None, [sink])))
    kinds = [kind for kind, _ in sink.calls]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    (summary,) = sink.finished
    assert kinds.count("chunk") == summary.chunks - 1
    assert max(seconds for kind, seconds in sink.calls if kind == "chunk") == pytest.approx(summary.longest_gap)
    assert summary.longest_gap > 15 and sink.calls[-1] == ("finished", ["CD102"])


class NoChunksSink(ListSink):
    """A sink with nowhere to send chunk points for this exchange (as OpenTelemetry with no meter provider)."""

    def wants_chunks(self, summary: ExchangeSummary) -> bool:
        return False


def test_a_sink_that_wants_no_chunks_hears_the_rest() -> None:
    quiet, sink = NoChunksSink(), ListSink()
    drive("cd102-idle-gap.jsonl", lambda i: ExchangeRecorder(None, i, listener=ExchangeWatch(None, [quiet, sink])))
    assert [kind for kind, _ in quiet.calls] == ["started", "finished"]
    assert quiet.finished[0].longest_gap > 15 and quiet.finished[0].chunks > 1  # still counted for it
    assert [kind for kind, _ in sink.calls].count("chunk") == sink.finished[0].chunks - 1


def test_the_otel_sink_takes_chunk_points_only_when_a_meter_provider_keeps_them() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider

    from claude_doctor.production.otel import OtelSink

    summary = ExchangeSummary("POST", "https://api.anthropic.com/v1/messages", 0.0, streamed=True, status=200)
    assert OtelSink(meter_provider=MeterProvider()).wants_chunks(summary)
    assert not OtelSink(meter_provider=NoOpMeterProvider()).wants_chunks(summary)
    summary.status = 529  # an error's JSON body is no stream
    assert not OtelSink(meter_provider=MeterProvider()).wants_chunks(summary)


def test_a_sink_that_raises_is_warned_about_once_and_left_out(caplog) -> None:
    bad = RaisingSink()
    with caplog.at_level(logging.WARNING, logger="claude_doctor.monitor"):
        summaries = watched("clean-text.jsonl", bad) + watched("cd106-max-tokens.jsonl", bad)
    assert [[f.code for f in s.findings] for s in summaries] == [[], ["CD106"]]  # the other sink heard all
    (warning,) = caplog.records
    assert "RaisingSink" in warning.getMessage() and "the app is not affected" in warning.getMessage()
    assert KEY not in warning.getMessage() and warning.exc_info is None
    assert [kind for kind, _ in bad.calls] == ["started", "started"]  # dropped at its first failure each time


def test_the_monitor_failing_inside_stops_watching_that_exchange(caplog, monkeypatch) -> None:
    def broken(self, record):
        raise ValueError(f"bug with {KEY}")

    monkeypatch.setattr(StreamAnalyzer, "add", broken)
    sink = ListSink()
    with caplog.at_level(logging.WARNING, logger="claude_doctor.monitor"):
        for _ in range(3):
            drive("clean-text.jsonl", lambda i: ExchangeRecorder(None, i, listener=ExchangeWatch(None, [sink])))
    assert sink.finished == []  # no exchange was watched to its end
    (warning,) = caplog.records
    assert "stopped watching" in warning.getMessage() and KEY not in warning.getMessage()


def test_a_listener_that_raises_never_reaches_the_recorder(caplog) -> None:
    def listener(record):
        raise RuntimeError("boom")

    recorder = ExchangeRecorder(None, 0, listener=listener)
    with caplog.at_level(logging.WARNING, logger="claude_doctor.monitor"):
        recorder.request("POST", "http://127.0.0.1/v1/messages", [], b"{}")
        recorder.chunk(b"data", t=0.1)
        recorder.end("eof")
    assert recorder.chunks == 1 and recorder.reason == "eof" and len(caplog.records) == 1


def test_the_selection_of_rules_applies() -> None:
    (summary,) = watched("cd106-max-tokens.jsonl", config=Config(ignore=["CD106"]))
    assert summary.findings == [] and summary.finish_reasons == ["max_tokens"]
    (summary,) = watched("cd104-truncated-stream.jsonl", config=Config(select=["CD106"]))
    assert summary.findings == [] and summary.end_reason == "eof"


# -- the flight recorder -------------------------------------------------------------------------


def fly(recorder: FlightRecorder, *names: str) -> None:
    monitor = Monitor(otel=False, flight_recorder=recorder)
    for name in names:
        drive(name, lambda i: monitor.exchange())


def kept(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_flight_keeps_only_exchanges_with_findings_at_the_severity(tmp_path: Path) -> None:
    fly(FlightRecorder(tmp_path, min_severity="error"), "clean-text.jsonl", "cd106-max-tokens.jsonl")
    fly(FlightRecorder(tmp_path), "cd104-truncated-stream.jsonl")
    names = kept(tmp_path)
    assert len(names) == 1 and names[0].endswith("-CD104.jsonl")  # CD106 is a warning, below "error"
    text = (tmp_path / names[0]).read_text()
    assert KEY not in text and '"source":"sdk"' in text


def test_flight_recordings_are_read_by_stream_as_they_are(tmp_path: Path) -> None:
    fly(FlightRecorder(tmp_path), "cd108-overloaded-error-event.jsonl", "cd111-overloaded-529.jsonl")
    result = invoke_cli("stream", str(tmp_path), "--format", "json")
    assert sorted(result.codes()) == ["CD108", "CD111"] and result.code == 1
    assert not any(f.startswith(".") for f in kept(tmp_path))  # no spool or half-written file is left


def test_flight_folder_is_bounded_by_count_oldest_first(tmp_path: Path) -> None:
    recorder = FlightRecorder(tmp_path, max_files=3)
    for name in ["cd104-truncated-stream.jsonl", "cd105-delta-before-block.jsonl", "cd106-max-tokens.jsonl"]:
        fly(recorder, name)
    fly(recorder, "cd108-overloaded-error-event.jsonl", "cd111-overloaded-529.jsonl")
    names = kept(tmp_path)
    assert [n.rsplit("-", 1)[1] for n in names] == ["CD106.jsonl", "CD108.jsonl", "CD111.jsonl"]


def test_flight_folder_is_bounded_by_bytes(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    fly(FlightRecorder(probe), "cd104-truncated-stream.jsonl")
    (one,) = probe.iterdir()
    size = one.stat().st_size
    folder = tmp_path / "bounded"
    recorder = FlightRecorder(folder, max_bytes=int(size * 2.5))
    fly(recorder, *["cd104-truncated-stream.jsonl"] * 4)
    assert len(kept(folder)) == 2 and sum(p.stat().st_size for p in folder.iterdir()) <= size * 2.5


def test_an_exchange_larger_than_the_folder_is_not_kept(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="claude_doctor.monitor"):
        fly(FlightRecorder(tmp_path, max_bytes=500), "cd104-truncated-stream.jsonl")
    assert kept(tmp_path) == []
    assert "max_bytes" in caplog.text and "not kept" in caplog.text


def test_flight_recorder_refuses_a_bad_severity(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        FlightRecorder(tmp_path, min_severity="loud")


def test_user_files_in_the_flight_folder_are_never_pruned(tmp_path: Path) -> None:
    (tmp_path / "notes.jsonl").write_text("mine")
    recorder = FlightRecorder(tmp_path, max_files=1)
    fly(recorder, "cd104-truncated-stream.jsonl", "cd108-overloaded-error-event.jsonl")
    assert "notes.jsonl" in kept(tmp_path) and len(kept(tmp_path)) == 2


def test_back_to_back_chunks_are_checked_together_with_exact_silences() -> None:
    emitted: list[tuple[float, bytes]] = []
    window = ChunkWindow(lambda t, data: emitted.append((t, data)))
    for t, data in [(0.0, b"a"), (0.005, b"b"), (0.01, b"c"), (5.0, b"d"), (5.001, b"e")]:
        window.push(t, data)
    window.close()
    assert emitted == [(0.0, b"a"), (0.01, b"bc"), (5.0, b"d"), (5.001, b"e")]  # the 4.99 s silence is intact


def test_an_apps_own_otel_sink_is_not_doubled() -> None:
    otel = pytest.importorskip("claude_doctor.production.otel")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    mine = otel.OtelSink(TracerProvider(), MeterProvider())
    assert Monitor([mine]).sinks == [mine]
    assert Monitor([mine], otel=False).sinks == [mine]
    assert [type(s).__name__ for s in Monitor().sinks] == ["OtelSink"]


def test_monitor_refuses_what_is_not_a_client() -> None:
    import claude_doctor

    with pytest.raises(TypeError, match="Anthropic or AsyncAnthropic client, not dict"):
        claude_doctor.monitor({})
