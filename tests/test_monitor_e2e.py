"""The monitor end to end: the real ``anthropic`` SDK with a monitored ``httpx2`` client against ``serve``
on loopback, each fault found as ``claude-doctor stream`` finds it, sync and async, the app's text and
bytes the same as without the monitor; and the monitor never breaking the app (a sink or the monitor
raising, a full disk under the flight recorder)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import anthropic
import httpx2
import pytest

import claude_doctor
from claude_doctor.checks.stream import StreamAnalyzer
from claude_doctor.config import Config
from claude_doctor.production import watch as watch_module
from claude_doctor.recording import Chunk, open_source
from claude_doctor.serve import running
from tests.conftest import RECORDINGS, ROOT, invoke_cli, run_cli, start_serve
from tests.test_monitor import ListSink, RaisingSink

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Say hello"}]
BODY = {"model": "claude-test", "max_tokens": 256, "stream": True, "messages": MESSAGES}
HEADERS = {"x-api-key": "test", "anthropic-version": "2023-06-01"}
#: each fault, and what the monitor (like ``claude-doctor stream``) finds on its bytes
FAULTS = [
    ([], []),
    (["truncate"], ["CD104"]),
    (["error-event"], ["CD108"]),
    (["reorder"], ["CD104", "CD105"]),
    (["max-tokens"], ["CD106"]),
    (["stall:1"], ["CD102"]),
    (["status:529"], ["CD111"]),
]
SHORT_GAP = Config(idle_gap=0.5)  # so that a one-second stall is an idle gap (CD102)


@pytest.fixture(autouse=True)
def fresh_warnings():
    watch_module._WARNED.clear()
    yield
    watch_module._WARNED.clear()


def sdk_text(url: str, http_client) -> str:
    """What the app gets: the streamed text, then the exception it saw (if any)."""
    client = anthropic.Anthropic(base_url=url, api_key="test", http_client=http_client, max_retries=0)
    text: list[str] = []
    try:
        with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            text.extend(stream.text_stream)
    except Exception as exc:
        text.append(f"<{type(exc).__name__}>")
    finally:
        client.close()
    return "".join(text)


async def async_sdk_text(url: str, http_client) -> str:
    client = anthropic.AsyncAnthropic(base_url=url, api_key="test", http_client=http_client, max_retries=0)
    text: list[str] = []
    try:
        async with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            text.extend([piece async for piece in stream.text_stream])
    except Exception as exc:
        text.append(f"<{type(exc).__name__}>")
    finally:
        await client.close()
    return "".join(text)


def raw_body(url: str, http_client: httpx2.Client) -> bytes:
    with http_client, http_client.stream("POST", f"{url}/v1/messages", json=BODY, headers=HEADERS) as response:
        return b"".join(response.iter_raw())


def recorded_body(name: str) -> bytes:
    return b"".join(r.data for r in open_source(str(RECORDINGS / name)).records if isinstance(r, Chunk))


@pytest.mark.parametrize(("faults", "codes"), FAULTS, ids=lambda v: ",".join(v) or "clean")
def test_each_fault_is_found_and_the_app_sees_the_same_text(faults, codes) -> None:
    sink = ListSink()
    with running(faults) as url:
        plain = sdk_text(url, httpx2.Client())
        watched = sdk_text(url, claude_doctor.monitored_client(sinks=[sink], otel=False, config=SHORT_GAP))
    assert watched == plain
    (summary,) = sink.finished
    assert [f.code for f in summary.findings] == codes
    assert summary.request_model == "claude-test" and summary.max_tokens == 256 and summary.streamed


@pytest.mark.parametrize(("faults", "codes"), FAULTS, ids=lambda v: ",".join(v) or "clean")
def test_each_fault_is_found_async(faults, codes) -> None:
    sink = ListSink()

    async def both(url: str) -> tuple[str, str]:
        plain = await async_sdk_text(url, httpx2.AsyncClient())
        client = claude_doctor.async_monitored_client(sinks=[sink], otel=False, config=SHORT_GAP)
        return plain, await async_sdk_text(url, client)

    with running(faults) as url:
        plain, watched = asyncio.run(both(url))
    assert watched == plain
    assert [[f.code for f in s.findings] for s in sink.finished] == [codes]


def test_summary_of_a_real_exchange() -> None:
    sink = ListSink()
    with running(["max-tokens"]) as url:
        sdk_text(url, claude_doctor.monitored_client(sinks=[sink], otel=False))
    (summary,) = sink.finished
    assert summary.status == 200 and summary.response_id.startswith("msg_")
    assert summary.finish_reasons == ["max_tokens"] and summary.output_tokens == 256
    assert summary.end_reason == "eof" and summary.server_address == "127.0.0.1"
    assert summary.duration >= summary.time_to_first_chunk >= 0 and summary.chunks >= 1


def test_monitor_an_existing_client_keeps_its_settings() -> None:
    sink = ListSink()
    with running(["truncate"]) as url:
        http = httpx2.Client(timeout=httpx2.Timeout(42.0))
        client = anthropic.Anthropic(base_url=url, api_key="test", http_client=http, max_retries=0)
        assert claude_doctor.monitor(client, sinks=[sink], otel=False) is client
        claude_doctor.monitor(client, sinks=[sink], otel=False)  # twice: still watched once
        with client.with_options(timeout=30).messages.stream(
            model="claude-test", max_tokens=256, messages=MESSAGES
        ) as stream:
            stream.until_done()
        client.close()
    assert http.timeout.read == 42.0
    assert [[f.code for f in s.findings] for s in sink.finished] == [["CD104"]]


def test_monitor_an_async_client() -> None:
    sink = ListSink()

    async def run(url: str) -> None:
        client = claude_doctor.monitor(
            anthropic.AsyncAnthropic(base_url=url, api_key="test", max_retries=0), sinks=[sink], otel=False
        )
        async with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            await stream.until_done()
        await client.close()

    with running(["error-event"]) as url, pytest.raises(anthropic.APIStatusError):
        asyncio.run(run(url))
    assert [[f.code for f in s.findings] for s in sink.finished] == [["CD108"]]


def test_retries_are_exchanges_of_their_own() -> None:
    sink = ListSink()
    with running(["status:529"], retry_after=0.01) as url:
        client = anthropic.Anthropic(
            base_url=url, api_key="test", max_retries=2, http_client=claude_doctor.monitored_client(sinks=[sink])
        )
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(model="claude-test", max_tokens=256, messages=MESSAGES)
    assert [(s.status, s.error_type, s.streamed) for s in sink.finished] == [(529, "529", False)] * 3


# -- never breaks the app ------------------------------------------------------------------------


def test_a_raising_sink_leaves_the_bytes_alone(caplog) -> None:
    expected = recorded_body("clean-text.jsonl")
    with running((), open_source(str(RECORDINGS / "clean-text.jsonl"))) as url:
        got = [raw_body(url, claude_doctor.monitored_client(sinks=[RaisingSink()], otel=False)) for _ in range(2)]
    assert got == [expected, expected]
    assert len([r for r in caplog.records if r.name == "claude_doctor.monitor"]) == 1


def test_the_monitor_raising_inside_leaves_the_bytes_alone(caplog, monkeypatch) -> None:
    def broken(self, record):
        raise MemoryError("the monitor ran out")

    monkeypatch.setattr(StreamAnalyzer, "add", broken)
    expected = recorded_body("clean-text.jsonl")
    sink = ListSink()
    with running((), open_source(str(RECORDINGS / "clean-text.jsonl"))) as url:
        got = raw_body(url, claude_doctor.monitored_client(sinks=[sink], otel=False))
        text = sdk_text(url, claude_doctor.monitored_client(sinks=[sink], otel=False))
        assert text == sdk_text(url, httpx2.Client())
    assert got == expected and sink.finished == []
    (warning,) = [r for r in caplog.records if r.name == "claude_doctor.monitor"]
    assert "MemoryError" in warning.getMessage()


FULL_DISK = textwrap.dedent(
    """
    import hashlib, json, logging, resource, signal, sys
    import httpx2
    from claude_doctor import FlightRecorder, monitored_client
    from claude_doctor.recording import open_source
    from claude_doctor.serve import running

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s: %(message)s")
    logging.getLogger("claude_doctor.monitor").setLevel(logging.DEBUG)
    body = {"model": "claude-test", "max_tokens": 256, "stream": True,
            "messages": [{"role": "user", "content": "Say hello"}]}
    folder, recording = sys.argv[1], sys.argv[2]
    out = {}
    with running(["truncate:20"], open_source(recording)) as url:
        def fetch(client):
            with client, client.stream("POST", url + "/v1/messages", json=body,
                                       headers={"x-api-key": "test", "anthropic-version": "2023-06-01"}) as r:
                return hashlib.sha256(b"".join(r.iter_raw())).hexdigest()
        out["plain"] = fetch(httpx2.Client())
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        on_disk = FlightRecorder(folder, spool_memory=1)        # the spool fails while the stream flows
        in_memory = FlightRecorder(folder)                       # the spool fits; keeping it fails
        out["spool"] = fetch(monitored_client(flight_recorder=on_disk, otel=False))
        out["keep"] = fetch(monitored_client(flight_recorder=in_memory, otel=False))
    print(json.dumps(out))
    """
)


def test_a_full_disk_under_the_flight_recorder_leaves_the_app_alone(tmp_path: Path) -> None:
    folder = tmp_path / "flight"
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(folder), str(RECORDINGS / "clean-text.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["spool"] == out["keep"] == out["plain"]
    assert list(folder.iterdir()) == []  # nothing half-written, no spool left behind
    said = [line for line in proc.stderr.splitlines() if line.startswith("claude_doctor.monitor")]
    assert [line.split(":")[0] for line in said] == ["claude_doctor.monitor WARNING", "claude_doctor.monitor DEBUG"]
    assert "flight recorder" in said[0] and "File too large" in said[1]  # said once; the second time, quietly
    assert "Traceback" not in proc.stderr


# -- the flight recorder's files, read by the tools ----------------------------------------------


def test_flight_recordings_replay_and_serve_as_they_are(tmp_path: Path) -> None:
    with running(["truncate:6"]) as url:
        original = sdk_text(url, claude_doctor.monitored_client(flight_recorder=tmp_path, otel=False))
        sdk_text(url, claude_doctor.monitored_client(flight_recorder=str(tmp_path), otel=False))
    first, second = sorted(tmp_path.iterdir())
    assert first.name.endswith("-CD104.jsonl") and second.name.endswith("-CD104.jsonl")
    replayed = run_cli("replay", str(first), "--speed", "max", "--format", "json")
    assert replayed.code == 1 and replayed.codes() == ["CD104"]
    proc, url, _ = start_serve(str(first), "--speed", "max")
    try:
        assert sdk_text(url, httpx2.Client()) == original
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_import_stays_light() -> None:
    code = (
        "import sys, claude_doctor; claude_doctor.monitor; claude_doctor.FlightRecorder; "
        "claude_doctor.monitored_client; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx2', 'anthropic', 'opentelemetry'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.stdout.strip() == "[]", proc.stderr


def test_the_flight_files_hold_what_the_monitor_found(tmp_path: Path) -> None:
    """The monitor checks back-to-back chunks together; ``stream`` on the kept bytes must agree."""
    sink = ListSink()
    flight = claude_doctor.FlightRecorder(tmp_path, min_severity="info")
    for faults, _ in FAULTS:
        with running(faults) as url:
            client = claude_doctor.monitored_client(sinks=[sink], otel=False, config=SHORT_GAP, flight_recorder=flight)
            sdk_text(url, client)
    found = sorted(sorted(f.code for f in s.findings) for s in sink.finished if s.findings)
    result = invoke_cli("stream", str(tmp_path), "--idle-gap", "0.5", "--format", "json")
    by_file: dict[str, list[str]] = {}
    for finding in result.json["findings"]:
        by_file.setdefault(finding["path"], []).append(finding["code"])
    assert sorted(sorted(codes) for codes in by_file.values()) == found
    assert len(found) == len(FAULTS) - 1  # every fault kept, the clean exchange not


def long_recording(path: Path, deltas: int = 2000) -> Path:
    """One exchange of ``deltas`` text deltas, one chunk per event: a fast stream of many chunks, the
    case the stream wrapper holds back in runs."""
    from claude_doctor import synth
    from claude_doctor.recording import RecordingWriter

    with path.open("wb") as stream:
        writer = RecordingWriter(stream, "sdk")
        writer.request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json.dumps(BODY).encode())
        writer.response(0, 0.1, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        for n, event in enumerate(synth.text_message([f" w{i}" for i in range(deltas)], model="claude-test")):
            writer.chunk(0, 0.1 + n * 0.0001, event)
        writer.end(0, 0.2, "eof")
    return path


@pytest.mark.parametrize("faults", [[], ["stall:1"]], ids=["fast", "stalled"])
def test_a_long_fast_stream_is_seen_whole_as_the_recorder_sees_it(tmp_path: Path, faults: list[str]) -> None:
    """Every chunk of a long stream reaches the checks and the summary (held back in runs, never lost):
    the same bytes and chunks as ``recording_client`` writes, and the same findings as ``stream`` gives."""
    sink = ListSink()
    recording = tmp_path / "sdk.jsonl"
    with running(faults, open_source(str(long_recording(tmp_path / "long.jsonl")))) as url:
        recorded = sdk_text(url, claude_doctor.recording_client(str(recording)))
        watched = sdk_text(url, claude_doctor.monitored_client(sinks=[sink], otel=False, config=SHORT_GAP))
        watched_async = asyncio.run(
            async_sdk_text(url, claude_doctor.async_monitored_client(sinks=[sink], otel=False, config=SHORT_GAP))
        )
    assert watched == watched_async == recorded and recorded.count(" w") == 2000
    chunks = [r for r in open_source(str(recording)).records if isinstance(r, Chunk)]
    analyzer = StreamAnalyzer("sdk", SHORT_GAP)  # what `stream` finds in the recording, at the same idle gap
    for record in open_source(str(recording)).records:
        analyzer.add(record)
    codes = sorted({f.code for f in analyzer.finish()})
    assert len(sink.finished) == 2
    for summary in sink.finished:
        assert summary.chunks > 1
        assert summary.bytes == sum(len(c.data) for c in chunks)
        assert sorted({f.code for f in summary.findings}) == codes == (["CD102"] if faults else [])
