"""Acceptance for the recording proxy (``claude-doctor record``): real loopback servers, the real SDK,
no key and no network beyond 127.0.0.1.

For every ``serve`` fault: the bytes a client gets through the proxy are the bytes ``serve`` sent (its
sha256), the recording's chunks join to the same bytes, the SDK behaves through the proxy as it does
direct, and chunks arrive at the pace they were sent. Then load (100 streams), the ways a connection
ends (upstream reset, client gone, stall, upstream unreachable), headers and compression passed
through untouched, and a canary key that must appear in no recording."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest
from aiohttp import web

from claude_doctor.capture.proxy import Captured, RecordingProxy, running
from claude_doctor.config import Config
from claude_doctor.faults import parse_faults
from claude_doctor.recording import Chunk, End, Request, Response, open_source
from claude_doctor.serve import MockAPI, ServeOptions
from tests.loopback import app_server

#: A key-shaped canary (108 chars, random body): it must reach the upstream and no recording.
CANARY = (
    "sk-ant-api03-"
    + "Kq7ZpW3xR9vTmB2nL8cY4hJ6dF1gS5aE0uIoXw_Nq-Vb3Rt7Yz5Hc9Mp2Lk4Jd8Gf6Sa1Qe0Wr3Ty5Ui7Op9As2Df4Gxy"
    + "AA"
)
BODY = {"model": "claude-test", "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-test-not-a-key"}

#: fault -> how the recording must end
FAULTS = {
    "none": [],
    "truncate": ["truncate"],
    "truncate:0": ["truncate:0"],
    "stall:0.3": ["stall:0.3"],
    "no-pings": ["no-pings"],
    "reorder": ["reorder"],
    "json": ["json"],
    "status:429": ["status:429"],
    "status:401": ["status:401"],
    "status:529": ["status:529"],
    "error-event": ["error-event"],
    "split:1": ["split:1"],
    "split:7": ["split:7"],
    "buffer": ["buffer"],
    "drip:5": ["drip:5"],
    "max-tokens": ["max-tokens"],
    "bad-json": ["bad-json"],
    "reset": ["reset"],
    "drip+reset": ["drip:5", "reset"],
}
RESETS = {"reset", "drip+reset"}


@contextlib.contextmanager
def serving(faults: list[str], ping_interval: float = 0.1) -> Iterator[MockAPI]:
    with MockAPI(ServeOptions(parse_faults(faults), speed=float("inf"), ping_interval=ping_interval)) as api:
        yield api


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def captured(proxy: RecordingProxy, n: int) -> list[Captured]:
    """The proxy closes an exchange's recording just after the app has its last byte."""
    wait_for(lambda: len(proxy.captured) >= n)
    return proxy.captured


def read_back(path: str) -> tuple[list, bytes, End | None]:
    """Every record of a recording, its body and its end (and proof that it parses)."""
    records = list(open_source(path).records)
    body = b"".join(r.data for r in records if isinstance(r, Chunk))
    end = next((r for r in records if isinstance(r, End)), None)
    return records, body, end


def fetch_raw(url: str, headers: dict | None = None) -> tuple[bytes, list[tuple[float, bytes]], str | None]:
    """POST a stream request; the body bytes as received, each read with its arrival time, and the
    error that ended the read, if any."""
    got: list[tuple[float, bytes]] = []
    error = None
    started = time.monotonic()
    try:
        with (
            httpx2.Client(timeout=10) as client,
            client.stream("POST", url + "/v1/messages", headers=headers or HEADERS, json=BODY) as response,
        ):
            for data in response.iter_raw():
                got.append((time.monotonic() - started, data))
    except httpx2.TransportError as exc:
        error = type(exc).__name__
    return b"".join(d for _, d in got), got, error


def sdk_outcome(base_url: str, read_timeout: float = 5.0) -> str:
    client = anthropic.Anthropic(
        api_key="sk-test-not-a-key", base_url=base_url, max_retries=0, timeout=httpx2.Timeout(read_timeout)
    )
    try:
        with client.messages.stream(model="claude-test", max_tokens=256, messages=BODY["messages"]) as stream:
            message = stream.get_final_message()
        return f"returned stop_reason={message.stop_reason}"
    except Exception as exc:
        kind = type(exc)
        name = "ReadFailure" if kind in (httpx2.ReadError, httpx2.RemoteProtocolError) else kind.__name__
        return f"raised {name}"
    finally:
        client.close()


# -- every fault, byte-exact --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_bytes_are_exact(name: str, tmp_path: Path) -> None:
    with serving(FAULTS[name]) as api, running(api.url, tmp_path) as proxy:
        body, _, error = fetch_raw(proxy.url)
        (exchange,) = captured(proxy, 1)
        wait_for(lambda: len(api.exchanges) == 1)
    assert hashlib.sha256(body).hexdigest() == api.exchanges[0].sha256, "client bytes differ from what serve sent"
    records, recorded, end = read_back(exchange.recording)
    assert recorded == body
    assert end is not None and end.reason == ("reset" if name in RESETS else "eof")
    assert (error is not None) == (name in RESETS)
    response = next(r for r in records if isinstance(r, Response))
    assert response.status == api.exchanges[0].status
    request = next(r for r in records if isinstance(r, Request))
    assert request.json == BODY and request.url == api.url + "/v1/messages"


@pytest.mark.parametrize("name", ["none", "truncate", "reorder", "json", "status:529", "error-event", "reset"])
def test_sdk_behaves_the_same_through_the_proxy(name: str, tmp_path: Path) -> None:
    with serving(FAULTS[name]) as api, running(api.url, tmp_path) as proxy:
        direct = sdk_outcome(api.url)
        proxied = sdk_outcome(proxy.url)
        captured(proxy, 1)
    assert proxied == direct


def test_findings_come_as_each_exchange_completes(tmp_path: Path) -> None:
    with serving(["truncate"]) as api, running(api.url, tmp_path) as proxy:
        fetch_raw(proxy.url)
        (exchange,) = captured(proxy, 1)
    assert [f.code for f in exchange.findings] == ["CD104"]
    assert exchange.findings[0].path == exchange.recording


# -- timing -----------------------------------------------------------------------------------------------


def _arrivals(chunks: list[tuple[float, bytes]]) -> list[tuple[int, float]]:
    """(byte offset reached, seconds after the first byte) for each read."""
    out, offset = [], 0
    for t, data in chunks:
        offset += len(data)
        out.append((offset, t - chunks[0][0]))
    return out


def _time_at(arrivals: list[tuple[int, float]], offset: int) -> float:
    return next(t for reached, t in arrivals if reached >= offset)


@pytest.fixture
def fast_gil_switch() -> Iterator[None]:
    """serve, the proxy and the client share one process here (in real use the proxy has its own): a
    thread waiting for the GIL would otherwise wait up to the 5 ms switch interval, which is not
    the proxy's delay."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("fast_gil_switch")
def test_chunks_arrive_at_the_pace_they_were_sent(tmp_path: Path) -> None:
    with serving(["drip:40"]) as api, running(api.url, tmp_path) as proxy:
        _, direct, _ = fetch_raw(api.url)
        _, proxied, _ = fetch_raw(proxy.url)
        (exchange,) = captured(proxy, 1)
    direct_at, proxied_at = _arrivals(direct), _arrivals(proxied)
    assert direct_at[-1][0] == proxied_at[-1][0] and len(direct) >= 10
    # The baseline is the pace itself, measured in this run: a proxy that held a chunk back until the
    # next one came would add a whole gap; scheduling on a busy machine adds a few ms.
    gap = statistics.median(b[1] - a[1] for a, b in itertools.pairwise(direct_at))
    # against a direct run: two runs of serve's own timers drift apart on a busy machine, so compare
    # the pace (the time between chunks), for the typical chunk
    proxied_then = [_time_at(proxied_at, offset) for offset, _ in direct_at]
    deltas = [
        abs((p2 - p1) - (d2[1] - d1[1]))
        for (p1, p2), (d1, d2) in zip(itertools.pairwise(proxied_then), itertools.pairwise(direct_at))
    ]
    assert statistics.median(deltas) < gap / 4, (gap, deltas)
    # against the same run: when the proxy got each chunk (its recording) and when the client did
    records = [r for r in open_source(exchange.recording).records if isinstance(r, Chunk)]
    tapped = _arrivals([(r.t, r.data) for r in records])
    added = [abs(_time_at(proxied_at, offset) - t) for offset, t in tapped]
    assert statistics.median(added) < gap / 4, (gap, added)
    assert sum(a >= gap for a in added) <= 1, (gap, added)


def test_a_stall_does_not_hold_back_bytes_before_it(tmp_path: Path) -> None:
    with serving(["stall:0.6"]) as api, running(api.url, tmp_path) as proxy:
        _, chunks, _ = fetch_raw(proxy.url)
        captured(proxy, 1)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(chunks)]
    assert chunks[0][0] < 0.3, "bytes sent before the stall waited for it"
    assert max(gaps) > 0.55


# -- how exchanges end -----------------------------------------------------------------------------------


def test_client_gone_closes_upstream_and_records_cancelled(tmp_path: Path) -> None:
    with serving(["stall:1"]) as api, running(api.url, tmp_path) as proxy:
        with (
            httpx2.Client() as client,
            client.stream("POST", proxy.url + "/v1/messages", headers=HEADERS, json=BODY) as r,
        ):
            next(r.iter_raw())  # read a little, then hang up mid-stream
        (exchange,) = captured(proxy, 1)
        wait_for(lambda: len(api.exchanges) == 1, timeout=5)
    assert exchange.end == "cancelled"
    assert api.exchanges[0].outcome == "client gone"
    _, _, end = read_back(exchange.recording)
    assert end is not None and end.reason == "cancelled"


def test_read_timeout_in_the_sdk_is_recorded_as_cancelled(tmp_path: Path) -> None:
    with serving(["stall:1"]) as api, running(api.url, tmp_path) as proxy:
        assert sdk_outcome(proxy.url, read_timeout=0.3) == "raised ReadTimeout"
        (exchange,) = captured(proxy, 1)
    assert exchange.end == "cancelled"


def test_upstream_unreachable_breaks_the_client_connection(tmp_path: Path) -> None:
    with running("http://127.0.0.1:9", tmp_path) as proxy:
        assert sdk_outcome(proxy.url) == "raised APIConnectionError"
        (exchange,) = captured(proxy, 1)
    assert exchange.status is None and exchange.end == "error"
    assert exchange.error.startswith("TCP step failed")
    _, _, end = read_back(exchange.recording)
    assert end is not None and end.reason == "error" and end.error


def test_sdk_retries_through_the_proxy_are_each_recorded(tmp_path: Path) -> None:
    options = ServeOptions(parse_faults(["status:529"]), speed=float("inf"), retry_after=0.01)
    with MockAPI(options) as api, running(api.url, tmp_path) as proxy:
        client = anthropic.Anthropic(api_key="sk-test-not-a-key", base_url=proxy.url, max_retries=2)
        with pytest.raises(anthropic.OverloadedError):
            client.messages.create(model="claude-test", max_tokens=10, messages=BODY["messages"])
        exchanges = captured(proxy, 3)
    assert len(api.exchanges) == 3, "the proxy added or dropped attempts"
    assert [e.status for e in exchanges] == [529, 529, 529]
    assert len({e.recording for e in exchanges}) == 3


# -- load --------------------------------------------------------------------------------------------------


async def _stream(client: httpx2.AsyncClient, url: str) -> bytes:
    async with client.stream("POST", url + "/v1/messages", headers=HEADERS, json=BODY) as response:
        return b"".join([data async for data in response.aiter_raw()])


async def _many(url: str, n: int) -> list[bytes]:
    limits = httpx2.Limits(max_connections=n)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(*(_stream(client, url) for _ in range(n)))


def test_100_concurrent_streams(tmp_path: Path) -> None:
    with serving(["drip:2", "split:50"]) as api, running(api.url, tmp_path) as proxy:
        bodies = asyncio.run(_many(proxy.url, 100))
        exchanges = captured(proxy, 100)
        wait_for(lambda: len(api.exchanges) == 100)
    sent = sorted(e.sha256 for e in api.exchanges)
    assert sorted(hashlib.sha256(b).hexdigest() for b in bodies) == sent
    assert len(list(tmp_path.iterdir())) == 100
    recorded = []
    for exchange in exchanges:
        _, body, end = read_back(exchange.recording)
        assert end is not None and end.reason == "eof"
        recorded.append(hashlib.sha256(body).hexdigest())
    assert sorted(recorded) == sent


# -- headers, compression, secrets ------------------------------------------------------------------------


async def _echo(request: web.Request) -> web.Response:
    """Answers with the request line and headers exactly as they arrived, plus a custom status."""
    seen = {"path": request.raw_path, "headers": [[k.decode(), v.decode()] for k, v in request.raw_headers]}
    return web.json_response(seen, status=418, reason="Teapot Here", headers={"anthropic-ratelimit-x": "7"})


async def _gzipped(request: web.Request) -> web.StreamResponse:
    body = gzip.compress(b'event: ping\ndata: {"type":"ping"}\n\n' * 200, mtime=0)  # same bytes every time
    response = web.StreamResponse(headers={"content-type": "text/event-stream", "content-encoding": "gzip"})  # noqa: CD220 - a loopback test upstream
    await response.prepare(request)
    for start in range(0, len(body), 40):
        await response.write(body[start : start + 40])
    await response.write_eof()
    return response


def test_headers_and_status_pass_through_unchanged(tmp_path: Path) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    sent = [
        ("x-api-key", CANARY),
        ("authorization", f"Bearer {CANARY}"),
        ("anthropic-version", "2023-06-01"),
        ("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
        ("x-stainless-retry-count", "0"),
        ("x-custom", "kept"),
    ]
    with app_server(app) as upstream, running(upstream, tmp_path) as proxy:
        with httpx2.Client() as client:
            r = client.post(
                proxy.url + "/v1/messages?beta=true", headers=sent + [("connection", "keep-alive")], content=b"{}"
            )
        (exchange,) = captured(proxy, 1)
    assert (r.status_code, r.reason_phrase, r.headers["anthropic-ratelimit-x"]) == (418, "Teapot Here", "7")
    seen = r.json()
    assert seen["path"] == "/v1/messages?beta=true"
    received = [(k.lower(), v) for k, v in seen["headers"]]
    for pair in sent:
        assert pair in received
    hosts = [v for k, v in received if k == "host"]
    assert hosts == [upstream.removeprefix("http://")]
    text = Path(exchange.recording).read_text()
    assert CANARY not in text and CANARY[20:60] not in text
    assert "[REDACTED len=108]" in text and "[REDACTED len=115]" in text


def test_compressed_body_reaches_the_client_as_sent_and_is_recorded_decoded(tmp_path: Path) -> None:
    app = web.Application()
    app.router.add_post("/v1/messages", _gzipped)
    with app_server(app) as upstream:
        direct, _, _ = fetch_raw(upstream)
        with running(upstream, tmp_path) as proxy:
            proxied, _, _ = fetch_raw(proxy.url)
            (exchange,) = captured(proxy, 1)
    assert proxied == direct and proxied[:2] == b"\x1f\x8b"
    records, body, end = read_back(exchange.recording)
    assert body == gzip.decompress(direct)
    response = next(r for r in records if isinstance(r, Response))
    assert response.header("content-encoding") == "gzip"
    assert end is not None and end.reason == "eof"


def test_canary_key_never_reaches_a_recording(tmp_path: Path) -> None:
    """As x-api-key, as Bearer, in the prompt, and echoed back by the API split across chunks."""
    body = {**BODY, "messages": [{"role": "user", "content": CANARY}]}
    with serving(["split:7"]) as api, running(api.url, tmp_path) as proxy:
        for headers in ({"x-api-key": CANARY}, {"authorization": f"Bearer {CANARY}"}):
            with httpx2.Client() as client:
                r = client.post(proxy.url + "/v1/messages", headers={**headers, "anthropic-version": "x"}, json=body)
            assert r.status_code == 200 and CANARY[:40] in r.text, "the app must get the body unchanged"
        exchanges = captured(proxy, 2)
    for exchange in exchanges:
        text = Path(exchange.recording).read_text()
        assert CANARY[13:40] not in text
        assert json.loads(text.splitlines()[0])["redacted"]


def test_upstream_hop_takes_the_environment_proxy_as_the_sdk_would(tmp_path: Path, monkeypatch) -> None:
    """HTTP_PROXY carries the proxy's own upstream requests (a corporate proxy stays in the path, as it
    was for the app); NO_PROXY takes a host out of it, as for the SDK."""
    asked: list[str] = []

    async def corporate(request: web.Request) -> web.Response:
        asked.append(str(request.url))
        return web.Response(text="through the corporate proxy")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", corporate)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with app_server(app) as corporate_url, serving([]) as api:
        monkeypatch.setenv("HTTP_PROXY", corporate_url)
        with running("http://api.example.invalid", tmp_path / "via") as proxy, httpx2.Client(trust_env=False) as c:
            via = c.post(proxy.url + "/v1/messages", headers=HEADERS, json=BODY)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with running(api.url, tmp_path / "direct") as proxy:
            direct, _, error = fetch_raw(proxy.url)
    assert (via.status_code, via.text) == (200, "through the corporate proxy")
    assert asked == ["http://api.example.invalid/v1/messages"]
    assert error is None and direct.rstrip().endswith(b'data: {"type":"message_stop"}')


def test_recorded_at_loopback_only_by_default(tmp_path: Path) -> None:
    with running("http://127.0.0.1:9", tmp_path) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")


def test_config_reaches_the_checks(tmp_path: Path) -> None:
    config = Config()
    config.idle_gap = 0.2
    with serving(["stall:0.4"]) as api, running(api.url, tmp_path, config) as proxy:
        fetch_raw(proxy.url)
        (exchange,) = captured(proxy, 1)
    assert [f.code for f in exchange.findings] == ["CD102"]
