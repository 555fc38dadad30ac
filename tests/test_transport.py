"""The recorder for code: ``claude_doctor.recording_client`` (and its async twin) with the real SDK
against ``serve`` on loopback. It must write what the proxy writes for the same traffic, record how
each body ended (retries as separate exchanges), redact, and stay out of ``import claude_doctor``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx2
import pytest

import claude_doctor
from claude_doctor.capture.proxy import running as recording_proxy
from claude_doctor.recording import Chunk, End, Request, Response, open_source
from claude_doctor.serve import running
from tests.test_record_proxy import CANARY, captured

MESSAGES = [{"role": "user", "content": "Say hello"}]
SDK_IDENTITY = {"user-agent", "x-stainless-async"}


def sdk_stream(base_url: str, http_client: httpx2.Client, **kwargs) -> str:
    client = anthropic.Anthropic(api_key="sk-test-not-a-key", base_url=base_url, http_client=http_client, **kwargs)
    try:
        with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            return str(stream.get_final_message().stop_reason)
    except Exception as exc:
        return type(exc).__name__
    finally:
        http_client.close()


def exchanges(path: Path) -> dict[int, dict]:
    """Each exchange of a recording, comparable across capture paths: no timing, the body joined,
    and the headers that change with every answer (date) left out."""
    out: dict[int, dict] = {}
    for record in open_source(str(path)).records:
        if isinstance(record, (Request, Response, Chunk, End)):
            ex = out.setdefault(record.i, {"body": b""})
        if isinstance(record, Request):
            ex["request"] = (record.method, record.url, record.headers, record.json)
        elif isinstance(record, Response):
            headers = [(k, v) for k, v in record.headers if k.lower() != "date"]
            ex["response"] = (record.status, record.reason, record.http_version, headers)
        elif isinstance(record, Chunk):
            ex["body"] += record.data
        elif isinstance(record, End):
            ex["end"] = record.reason
    return out


@pytest.fixture
def replayed(tmp_path: Path) -> str:
    """A recording of one synthetic stream, so that serve answers every request with the same bytes."""
    with running() as url, recording_proxy(url, tmp_path / "seed") as proxy:
        sdk_stream(proxy.url, httpx2.Client())
        (seed,) = captured(proxy, 1)
    return seed.recording


def test_transport_writes_what_the_proxy_writes(replayed: str, tmp_path: Path) -> None:
    with running(recording=open_source(replayed)) as url:
        sdk_stream(url, claude_doctor.recording_client(str(tmp_path / "sdk.jsonl")), max_retries=0)
        with recording_proxy(url, tmp_path / "proxy") as proxy:
            sdk_stream(proxy.url, httpx2.Client(), max_retries=0)
            (exchange,) = captured(proxy, 1)
    by_sdk, by_proxy = exchanges(tmp_path / "sdk.jsonl"), exchanges(Path(exchange.recording))
    assert by_sdk == by_proxy
    assert by_sdk[0]["end"] == "eof" and b"message_stop" in by_sdk[0]["body"]
    assert open_source(str(tmp_path / "sdk.jsonl")).meta.source == "sdk"


def test_async_transport_records_the_same(replayed: str, tmp_path: Path) -> None:
    async def main(url: str) -> None:
        client = anthropic.AsyncAnthropic(
            api_key="sk-test-not-a-key",
            base_url=url,
            max_retries=0,
            http_client=claude_doctor.async_recording_client(str(tmp_path / "async.jsonl")),
        )
        async with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            await stream.get_final_message()
        await client.close()

    with running(recording=open_source(replayed)) as url:
        asyncio.run(main(url))
        sdk_stream(url, claude_doctor.recording_client(str(tmp_path / "sync.jsonl")), max_retries=0)
    by_async, by_sync = exchanges(tmp_path / "async.jsonl"), exchanges(tmp_path / "sync.jsonl")
    for ex in (by_async[0], by_sync[0]):  # the SDK says which client it is in these headers
        method, url, headers, body = ex["request"]
        ex["request"] = (method, url, [h for h in headers if h[0].lower() not in SDK_IDENTITY], body)
    assert by_async == by_sync


@pytest.mark.parametrize(
    ("faults", "outcome", "end"),
    [
        (["reset"], ("ReadError", "RemoteProtocolError"), "reset"),
        (["truncate"], ("None",), "eof"),
        (["stall:1"], ("ReadTimeout",), "timeout"),
    ],
)
def test_transport_records_how_the_body_ended(faults, outcome, end, tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with running(faults) as url:
        got = sdk_stream(url, claude_doctor.recording_client(str(path), timeout=0.3), max_retries=0)
    assert got in outcome
    assert exchanges(path)[0]["end"] == end


def test_closing_early_is_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with running(["drip:20"]) as url:
        client = anthropic.Anthropic(
            api_key="sk-test-not-a-key", base_url=url, http_client=claude_doctor.recording_client(str(path))
        )
        with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
            next(iter(stream))
        client.close()
    assert exchanges(path)[0]["end"] == "cancelled"


def test_sdk_retries_are_exchanges_of_one_recording(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with running(["status:529"], retry_after=0.01) as url:
        assert sdk_stream(url, claude_doctor.recording_client(str(path)), max_retries=2) == "OverloadedError"
    recorded = exchanges(path)
    assert sorted(recorded) == [0, 1, 2]
    assert [recorded[i]["response"][0] for i in range(3)] == [529, 529, 529]


def test_unreachable_is_recorded_as_error(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    assert sdk_stream("http://127.0.0.1:9", claude_doctor.recording_client(str(path)), max_retries=0) == (
        "APIConnectionError"
    )
    (ex,) = exchanges(path).values()
    assert ex["end"] == "error" and "response" not in ex


def test_canary_key_is_redacted(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with running(["split:5"]) as url:
        http_client = claude_doctor.recording_client(str(path))
        client = anthropic.Anthropic(api_key=CANARY, base_url=url, http_client=http_client, max_retries=0)
        with client.messages.stream(model="m", max_tokens=99, messages=[{"role": "user", "content": CANARY}]) as s:
            assert CANARY[:40] in s.get_final_text(), "the SDK must get the body unchanged"
        client.close()
    text = path.read_text()
    assert CANARY[13:40] not in text and "[REDACTED len=115]" in text


def test_import_claude_doctor_stays_light() -> None:
    code = "import sys, claude_doctor; print(sorted(m for m in ('httpx2', 'aiohttp', 'anthropic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


FULL_DISK_APP = """
import resource, sys, warnings
import anthropic, claude_doctor
from claude_doctor.serve import running
resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))  # writes past 1,500 bytes fail, as on a full disk
with running() as url, warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    client = anthropic.Anthropic(
        api_key="sk-test-not-a-key", base_url=url, max_retries=0,
        http_client=claude_doctor.recording_client(sys.argv[1]),
    )
    texts = []
    prompt = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        with client.messages.stream(model="claude-test", max_tokens=99, messages=prompt) as s:
            texts.append(s.get_final_text())
    client.close()
print(len(texts), all(texts))
for w in seen:
    print(w.category.__name__, w.message)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_recording_that_cannot_be_written_never_breaks_the_app(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    proc = subprocess.run([sys.executable, "-c", FULL_DISK_APP, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "2 True", "both streams reached the app whole"
    assert lines[1:] == [
        f"RuntimeWarning claude-doctor: {path}: recording stopped: File too large; the app is not affected"
    ]
    assert path.stat().st_size <= 1500
    assert list(open_source(str(path)).records), "the lines that fit are a readable recording"
