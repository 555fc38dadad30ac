"""``serve`` as an API: realistic synthetic answers, recording playback, many clients, and the CLI's
contract (URL printed, clean Ctrl-C, one-line errors with exit 2)."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import socket
import time

import anthropic
import httpx
import pytest

from claude_doctor.capture.live import Capture, capture
from claude_doctor.checks.stream import check_source
from claude_doctor.config import Config
from claude_doctor.errors import UsageProblem
from claude_doctor.faults import FAULTS, Faults, parse_faults
from claude_doctor.recording import Chunk, RecordingWriter, open_source, read_recording
from claude_doctor.serve import MockAPI, ServeOptions, running

from .conftest import RECORDINGS, start_serve

MESSAGES = [{"role": "user", "content": "Tell me about café culture"}]


def fetch(url: str) -> Capture:
    """One streaming request through the ``live`` capture path."""
    body = b'{"model":"m","max_tokens":9,"stream":true,"messages":[]}'
    headers = [("x-api-key", "k"), ("anthropic-version", "2023-06-01")]
    return capture(f"{url}/v1/messages", headers, body, RecordingWriter(io.BytesIO(), "test"))


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-test", base_url=url, max_retries=0)


def test_synthetic_text_stream_is_what_the_sdk_expects() -> None:
    with running() as url, client(url).messages.stream(model="m", max_tokens=512, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert "café culture" in text and "😀" in text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 1 and message.id.startswith("msg_")


def test_tool_use_when_tools_are_given() -> None:
    tools = [
        {
            "name": "lookup",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["c", "f"]}},
            },
        }
    ]
    with (
        running() as url,
        client(url).messages.stream(model="m", max_tokens=512, messages=MESSAGES, tools=tools) as stream,
    ):
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    tool = message.content[-1]
    assert tool.type == "tool_use" and tool.name == "lookup"
    assert tool.input == {"city": "example", "days": 1, "unit": "c"}


def test_thinking_when_asked() -> None:
    with (
        running() as url,
        client(url).messages.stream(
            model="m", max_tokens=2048, messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 1024}
        ) as stream,
    ):
        message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].signature


def test_non_streaming_create_and_count_tokens() -> None:
    with running() as url:
        message = client(url).messages.create(model="m", max_tokens=512, messages=MESSAGES)
        count = client(url).messages.count_tokens(model="m", messages=MESSAGES)
    assert message.stop_reason == "end_turn" and message.content[0].text
    assert count.input_tokens > 0


def test_small_max_tokens_stops_with_max_tokens_as_the_api_does() -> None:
    with running() as url:
        message = client(url).messages.create(model="m", max_tokens=3, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_accepts_x_api_key_and_bearer_and_refuses_no_credential() -> None:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    base = {"anthropic-version": "2023-06-01"}
    with running() as url:
        by_key = httpx.post(f"{url}/v1/messages", json=body, headers={**base, "x-api-key": "k"})
        by_bearer = httpx.post(f"{url}/v1/messages", json=body, headers={**base, "authorization": "Bearer k"})
        none = httpx.post(f"{url}/v1/messages", json=body, headers=base)
        no_version = httpx.post(f"{url}/v1/messages", json=body, headers={"x-api-key": "k"})
        missing = httpx.post(f"{url}/v1/messages", json={"model": "m"}, headers={**base, "x-api-key": "k"})
        unknown = httpx.get(f"{url}/v1/nothing")
    assert by_key.status_code == by_bearer.status_code == 200
    assert none.status_code == 401 and none.json()["error"]["type"] == "authentication_error"
    assert no_version.status_code == 400
    assert missing.status_code == 400 and "max_tokens" in missing.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"


def test_pings_fill_long_waits_at_the_configured_interval() -> None:
    with MockAPI(ServeOptions(parse_faults(["drip:100", "truncate:6"]), ping_interval=0.03)) as api:
        body = {"model": "m", "max_tokens": 64, "stream": True, "messages": MESSAGES}
        response = httpx.post(
            f"{api.url}/v1/messages",
            json=body,
            headers={"anthropic-version": "2023-06-01", "x-api-key": "k"},
            timeout=10,
        )
    assert response.text.count("event: ping") >= 12  # one after the first block, three per 100 ms wait


def test_many_concurrent_clients() -> None:
    async def one(url: str) -> str:
        async with (
            anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0) as c,
            c.messages.stream(model="m", max_tokens=256, messages=MESSAGES) as stream,
        ):
            return (await stream.get_final_message()).stop_reason

    async def many(url: str) -> list[str]:
        return await asyncio.gather(*(one(url) for _ in range(50)))

    with running(["drip:20"]) as url:
        started = time.monotonic()
        results = asyncio.run(many(url))
        elapsed = time.monotonic() - started
    assert results == ["end_turn"] * 50
    assert elapsed < 10  # side by side: one stream takes about 0.6 s, so 50 in turn would take 30 s


def test_replays_a_recording_byte_exact() -> None:
    path = RECORDINGS / "clean-text.jsonl"
    recorded = b"".join(r.data for r in open_source(str(path)).records if isinstance(r, Chunk))
    with running(recording=open_source(str(path))) as url:
        result = fetch(url)
    assert result.body == recorded
    assert ("request-id", "req_011CVZvLoGLsEeCaHq8SbzJE") in result.headers


def test_replays_a_recorded_reset_as_a_reset() -> None:
    with running(recording=open_source(str(RECORDINGS / "cd104-reset-mid-event.jsonl"))) as url:
        result = fetch(url)
    assert result.end == "reset"


def test_replays_recorded_exchanges_in_turn() -> None:
    """Request n gets exchange n, so a recorded 429-then-200 replays as the SDK's retry would see it."""
    with running(recording=open_source(str(RECORDINGS / "cd109-rate-limited-then-retried.jsonl"))) as url:
        first = fetch(url)
        second = fetch(url)
    assert (first.status, second.status) == (429, 200)
    assert dict(first.headers)["retry-after"]


@pytest.mark.parametrize(
    ("faults", "codes"),
    [
        ([], []),
        (["reorder"], ["CD105"]),
        (["truncate:5"], ["CD104"]),
        (["error-event"], ["CD108"]),
        (["max-tokens"], ["CD106"]),
        (["bad-json"], ["CD117"]),
        (["reset"], ["CD104"]),
        (["split:3"], []),
        (["no-pings"], ["CD102"]),
        (["status:529"], ["CD111"]),
    ],
)
def test_faults_apply_to_a_replayed_recording(faults: list[str], codes: list[str]) -> None:
    recording = open_source(str(RECORDINGS / "clean-tool-use.jsonl"))
    with running(faults, recording=recording, ping_interval=0.2) as url:  # no-pings pauses 0.4 s
        sink = io.BytesIO()
        body = b'{"model":"m","max_tokens":500,"stream":true,"messages":[]}'
        capture(
            f"{url}/v1/messages", [("x-api-key", "k"), ("anthropic-version", "1")], body, RecordingWriter(sink, "live")
        )
    source = read_recording(io.BytesIO(sink.getvalue()), "replayed.jsonl")
    assert sorted({f.code for f in check_source(source, Config(idle_gap=0.3))}) == codes


def test_no_pings_strips_recorded_pings() -> None:
    recording = open_source(str(RECORDINGS / "clean-pings-keep-alive.jsonl"))
    with running(["no-pings"], recording=recording, ping_interval=0.1) as url:
        result = fetch(url)
    assert b"event: ping" not in result.body and b"message_stop" in result.body


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (["nope"], "unknown fault 'nope'"),
        (["stall"], "needs an argument"),
        (["stall:soon"], "is not a number"),
        (["split:0"], "must be at least 1"),
        (["status:200"], "between 400 and 599"),
        (["reset:3"], "takes no argument"),
        (["error-event:bogus_error"], "unknown error type"),
        (["drip:5", "drip:6"], "given twice"),
    ],
)
def test_bad_fault_specs_are_usage_problems(spec: list[str], problem: str) -> None:
    with pytest.raises(UsageProblem, match=problem):
        parse_faults(spec)


def test_every_fault_parses_and_combines() -> None:
    specs = [
        "truncate:5",
        "stall:1",
        "no-pings",
        "reorder",
        "json",
        "status:529",
        "error-event:api_error",
        "split:7",
        "buffer",
        "drip:10",
        "max-tokens",
        "bad-json",
        "reset",
    ]
    assert {s.split(":")[0] for s in specs} == set(FAULTS)
    plan = parse_faults(specs)
    assert plan == Faults(5, 1.0, True, True, True, 529, "api_error", 7, True, 0.01, True, True, True)


# -- the command line -----------------------------------------------------------------------------


def test_cli_serves_prints_its_url_and_stops_cleanly_on_ctrl_c() -> None:
    proc, url, _ = start_serve("--fault", "max-tokens", "--speed", "max")
    try:
        message = client(url).messages.create(model="m", max_tokens=50, messages=MESSAGES)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert url.startswith("http://127.0.0.1:")
    assert message.stop_reason == "max_tokens"
    assert proc.returncode == 0
    assert "POST /v1/messages 200" in err and "stopped" in err and "Traceback" not in err


def test_cli_busy_port_is_a_one_line_error(cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = cli("serve", "--port", str(busy.getsockname()[1]))
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "port in use" in result.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--fault", "explode"], "unknown fault 'explode'"),
        (["--fault", "drip:fast"], "'fast' is not a number"),
        (["/no/such/recording.jsonl"], "no such file or folder"),
    ],
)
def test_cli_bad_input_is_a_one_line_error(cli, args: list[str], problem: str) -> None:
    result = cli("serve", *args)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and problem in result.stderr


def test_cli_unreadable_recording_is_a_one_line_error(cli, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"k": "meta", "format": "claude-doctor/recording", "v": 1}) + "\n{not json\n")
    result = cli("serve", str(bad))
    assert result.code == 2 and "bad.jsonl" in result.stderr and result.stderr.strip().count("\n") == 0


def test_a_recorded_connection_failure_replays_as_a_reset_before_any_header(tmp_path) -> None:
    path = tmp_path / "refused.jsonl"
    lines = [
        {"k": "meta", "format": "claude-doctor/recording", "v": 1, "source": "hand", "redacted": []},
        {"k": "request", "i": 0, "t": 0.0, "method": "POST", "url": "https://api.anthropic.com/v1/messages"},
        {"k": "end", "i": 0, "t": 0.1, "reason": "error", "error": "ConnectError"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with running(recording=open_source(str(path))) as url:
        result = fetch(url)
    assert result.status is None and result.step == "HTTP" and "reset" in result.error.lower()
