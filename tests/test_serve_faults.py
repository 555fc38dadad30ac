"""Acceptance: for every fault, the real SDK (sync and async) against ``serve`` on loopback, then the
same exchange captured by the ``live`` code path and checked, so each row of docs/serve.md's fault table
(fault → what the SDK does → our code) is measured here, not asserted from memory."""

from __future__ import annotations

import asyncio
import io
import json
import time
from dataclasses import dataclass

import anthropic
import httpx2
import pytest

from claude_doctor.capture.live import capture
from claude_doctor.checks.stream import check_source
from claude_doctor.config import Config
from claude_doctor.faults import parse_faults
from claude_doctor.recording import RecordingWriter, read_recording
from claude_doctor.serve import MockAPI, ServeOptions, running

PING_INTERVAL = 0.2  # no-pings pauses for two of these
IDLE_GAP = 0.3  # CD102 threshold for these tests
READ_TIMEOUT = 2.0
MESSAGES = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]


@dataclass
class Case:
    faults: list[str]
    outcome: str  # "returned stop_reason=…" or "raised module.Class"
    codes: list[str]
    read_timeout: float = READ_TIMEOUT
    tools: bool = False


CASES = {
    "truncate": Case(["truncate"], "returned stop_reason=None", ["CD104"]),
    "truncate:0": Case(["truncate:0"], "raised AssertionError", ["CD104"]),
    "stall-timeout": Case(["stall:1.0"], "raised httpx2.ReadTimeout", ["CD103"], read_timeout=0.4),
    "stall-gap": Case(["stall:0.5"], "returned stop_reason=end_turn", ["CD102"]),
    "no-pings": Case(["no-pings"], "returned stop_reason=end_turn", ["CD102"]),
    "reorder": Case(["reorder"], "raised IndexError", ["CD105"]),
    "json": Case(["json"], "raised AssertionError", ["CD115"]),
    "status:429": Case(["status:429"], "raised anthropic.RateLimitError", ["CD109"]),
    "status:403": Case(["status:403"], "raised anthropic.PermissionDeniedError", ["CD110"]),
    "status:401": Case(["status:401"], "raised anthropic.AuthenticationError", ["CD110"]),
    "status:400": Case(["status:400"], "raised anthropic.BadRequestError", ["CD112"]),
    "status:529": Case(["status:529"], "raised anthropic.OverloadedError", ["CD111"]),
    "status:500": Case(["status:500"], "raised anthropic.InternalServerError", ["CD111"]),
    "error-event": Case(["error-event"], "raised anthropic.APIStatusError", ["CD108"]),
    "error-event:api_error": Case(["error-event:api_error"], "raised anthropic.APIStatusError", ["CD108"]),
    "split:1": Case(["split:1"], "returned stop_reason=end_turn", []),
    "split:5": Case(["split:5"], "returned stop_reason=end_turn", []),
    "buffer": Case(
        ["buffer"],
        "returned stop_reason=end_turn",
        ["CD102", "CD114"],
        read_timeout=5.0,
    ),
    "drip:30": Case(["drip:30"], "returned stop_reason=end_turn", []),
    "max-tokens": Case(["max-tokens"], "returned stop_reason=max_tokens", ["CD106"]),
    "bad-json": Case(["bad-json"], "raised json.JSONDecodeError", ["CD113"]),
    "bad-json+tools": Case(["bad-json"], "raised ValueError", ["CD117"], tools=True),
    "reset": Case(["reset"], "raised httpx2.ReadError|httpx2.RemoteProtocolError", ["CD104"]),
    "split+truncate": Case(["split:3", "truncate:6"], "returned stop_reason=None", ["CD104"]),
    "drip+reset": Case(["drip:10", "reset"], "raised httpx2.ReadError|httpx2.RemoteProtocolError", ["CD104"]),
}


def _name(exc: BaseException) -> str:
    module = type(exc).__module__.split(".")[0]
    return type(exc).__name__ if module == "builtins" else f"{module}.{type(exc).__name__}"


def _kwargs(case: Case) -> dict:
    kwargs = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": MESSAGES}
    if case.tools:
        kwargs["tools"] = TOOLS
    return kwargs


def sdk_sync(url: str, case: Case) -> tuple[str, object]:
    timeout = httpx2.Timeout(case.read_timeout, connect=2.0)
    client = anthropic.Anthropic(api_key="sk-test", base_url=url, max_retries=0, timeout=timeout)
    try:
        with client.messages.stream(**_kwargs(case)) as stream:
            for _ in stream:
                pass
            message = stream.get_final_message()
        return f"returned stop_reason={message.stop_reason}", message
    except Exception as exc:
        return f"raised {_name(exc)}", exc
    finally:
        client.close()


async def _sdk_async(url: str, case: Case) -> tuple[str, object]:
    timeout = httpx2.Timeout(case.read_timeout, connect=2.0)
    client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=url, max_retries=0, timeout=timeout)
    try:
        async with client.messages.stream(**_kwargs(case)) as stream:
            async for _ in stream:
                pass
            message = await stream.get_final_message()
        return f"returned stop_reason={message.stop_reason}", message
    except Exception as exc:
        return f"raised {_name(exc)}", exc
    finally:
        await client.close()


def sdk_async(url: str, case: Case) -> tuple[str, object]:
    return asyncio.run(_sdk_async(url, case))


def capture_codes(url: str, case: Case) -> list[str]:
    """The ``live`` capture path against serve, then the stream checks on what it wrote."""
    body = {**_kwargs(case), "stream": True}
    headers = [
        ("anthropic-version", "2023-06-01"),
        ("authorization", "Bearer sk-test"),
        ("content-type", "application/json"),
    ]
    sink = io.BytesIO()
    capture(
        f"{url}/v1/messages",
        headers,
        json.dumps(body).encode(),
        RecordingWriter(sink, "live"),
        read_timeout=case.read_timeout,
    )
    source = read_recording(io.BytesIO(sink.getvalue()), "capture.jsonl")
    return sorted({f.code for f in check_source(source, Config(idle_gap=IDLE_GAP))})


def _matches(outcome: str, expected: str) -> bool:
    verb, _, names = expected.partition(" ")
    return any(outcome == f"{verb} {name}" for name in names.split("|"))


@pytest.mark.parametrize("name", list(CASES))
def test_fault_sdk_and_checks(name: str) -> None:
    case = CASES[name]
    with running(case.faults, ping_interval=PING_INTERVAL) as url:
        sync_outcome, _ = sdk_sync(url, case)
        async_outcome, _ = sdk_async(url, case)
        codes = capture_codes(url, case)
    assert _matches(sync_outcome, case.outcome), sync_outcome
    assert _matches(async_outcome, case.outcome), async_outcome
    assert codes == case.codes


def test_error_event_is_a_200_status_error_with_its_type() -> None:
    case = Case(["error-event:rate_limit_error"], "", [])
    with running(case.faults) as url:
        _, exc = sdk_sync(url, case)
    assert isinstance(exc, anthropic.APIStatusError)
    assert exc.status_code == 200
    assert exc.type == "rate_limit_error"


def test_status_429_carries_retry_after_and_rate_limit_headers() -> None:
    case = Case(["status:429"], "", [])
    with running(case.faults, retry_after=7) as url:
        _, exc = sdk_sync(url, case)
    assert isinstance(exc, anthropic.RateLimitError)
    assert exc.response.headers["retry-after"] == "7"
    assert exc.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert exc.request_id and exc.request_id.startswith("req_")
    assert exc.body["error"]["type"] == "rate_limit_error"


def test_the_sdk_retries_a_529_twice_then_raises() -> None:
    with MockAPI(ServeOptions(parse_faults(["status:529"]), speed=float("inf"))) as api:
        client = anthropic.Anthropic(api_key="sk-test", base_url=api.url, max_retries=2)
        started = time.monotonic()
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(**_kwargs(Case([], "", [])))
        elapsed = time.monotonic() - started
    assert len(api.exchanges) == 3
    assert elapsed < 5  # no retry-after on a 529: the SDK's own backoff (0.5 s, then 1 s, with jitter)


def test_bad_json_with_tools_is_the_sdk_tool_parse_error() -> None:
    case = CASES["bad-json+tools"]
    with running(case.faults) as url:
        _, exc = sdk_sync(url, case)
    assert "Unable to parse tool parameter JSON" in str(exc)


def test_drip_paces_each_event() -> None:
    case = Case(["drip:40"], "", [])
    with running(case.faults) as url:
        started = time.monotonic()
        outcome, _ = sdk_sync(url, case)
        elapsed = time.monotonic() - started
    assert outcome == "returned stop_reason=end_turn"
    assert elapsed > 0.4  # a dozen events, 40 ms each
