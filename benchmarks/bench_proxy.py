"""What the recording proxy costs: added latency per chunk (p50/p99) and throughput as a ratio to
direct, at 1 and 100 concurrent streams.

Three processes, as in real use: an upstream (aiohttp) that stamps each event with the monotonic time
it was written, the proxy (the real ``claude-doctor record`` CLI, recording and checking every
exchange to a temporary folder), and this process as the client (aiohttp), which reads each event's
stamp on arrival. Latency is measured direct and through the proxy; the difference is what the proxy
adds. Throughput streams large SSE bodies as fast as they go.

    python benchmarks/bench_proxy.py            # prints a markdown table
    python benchmarks/bench_proxy.py --quick    # fewer events, for a smoke run

Goals (issue 5): p99 added latency under 1 ms per chunk; throughput at least 90 % of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STAMP = re.compile(rb'"sent_ns":(\d+)')


# -- the upstream ------------------------------------------------------------------------------------------


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _delta(text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})


async def _upstream_handler(request):
    """``?events=N&pace=MS`` stamps N small deltas, one every MS, after ``delay`` ms (so that opening
    100 connections at once is not counted as per-chunk latency); ``?bytes=N`` sends N bytes of
    deltas flat out in 16 KiB writes."""
    from aiohttp import web

    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})  # noqa: CD220 - a loopback test upstream, no proxy in front
    await response.prepare(request)
    start = {"type": "message_start", "message": {"id": "msg_bench", "type": "message", "role": "assistant"}}
    await response.write(_event("message_start", start))
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    await response.write(_event("content_block_start", block))
    if "bytes" in request.query:
        piece = _delta("lorem ipsum dolor sit amet " * 600)
        for _ in range(max(1, int(request.query["bytes"]) // len(piece))):
            await response.write(piece)
    else:
        pace = float(request.query.get("pace", "10")) / 1000
        await asyncio.sleep(float(request.query.get("delay", "0")) / 1000)
        for _ in range(int(request.query.get("events", "100"))):
            await asyncio.sleep(pace)
            stamped = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi "}}
            await response.write(_event("content_block_delta", {**stamped, "sent_ns": time.monotonic_ns()}))
    await response.write(_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}
    await response.write(_event("message_delta", delta))
    await response.write(_event("message_stop", {"type": "message_stop"}))
    await response.write_eof()
    return response


def _run_upstream(port: int) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/v1/messages", _upstream_handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


# -- the client --------------------------------------------------------------------------------------------


@dataclass
class Run:
    latencies_ms: list[float]
    bytes: int
    seconds: float


async def _one(session, url: str, query: str, latencies: list[float]) -> int:
    total = 0
    async with session.post(f"{url}/v1/messages?{query}", json={"stream": True}) as response:
        async for data in response.content.iter_any():
            now = time.monotonic_ns()
            total += len(data)
            latencies.extend((now - int(m)) / 1e6 for m in STAMP.findall(data))
    return total


async def _many(url: str, query: str, streams: int) -> Run:
    import aiohttp

    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=False) as session:
        started = time.monotonic()
        sizes = await asyncio.gather(*(_one(session, url, query, latencies) for _ in range(streams)))
        seconds = time.monotonic() - started
    return Run(latencies, sum(sizes), seconds)


def measure(url: str, query: str, streams: int) -> Run:
    return asyncio.run(_many(url, query, streams))


# -- orchestration -----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and bytes")
    args = parser.parse_args()
    events, size = (50, 2_000_000) if args.quick else (200, 8_000_000)

    up_port, proxy_port = _free_port(), _free_port()
    upstream = multiprocessing.Process(target=_run_upstream, args=(up_port,), daemon=True)
    upstream.start()
    _wait_listening(up_port)
    out = tempfile.mkdtemp(prefix="bench-proxy-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proxy = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "record", "-q", "--listen", f"127.0.0.1:{proxy_port}"]
        + ["--upstream", f"http://127.0.0.1:{up_port}", "--out", out],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_listening(proxy_port)
    direct_url, proxy_url = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{proxy_port}"
    rows = []
    try:
        measure(proxy_url, "events=5&pace=1", 4)  # warm up both paths
        measure(direct_url, "events=5&pace=1", 4)
        for streams in (1, 100):
            latency_query = f"events={events if streams == 1 else events // 4}&pace=10&delay=300"
            direct, proxied = measure(direct_url, latency_query, streams), measure(proxy_url, latency_query, streams)
            per_stream = size if streams == 1 else size // 20
            flat_direct = measure(direct_url, f"bytes={per_stream}", streams)
            flat_proxied = measure(proxy_url, f"bytes={per_stream}", streams)
            rows.append((streams, direct, proxied, flat_direct, flat_proxied))
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        upstream.terminate()
    recordings = len(list(Path(out).iterdir()))
    _print(rows, recordings)


def _print(rows: list[tuple[int, Run, Run, Run, Run]], recordings: int) -> None:
    print(
        "| streams | chunks | direct p50 / p99 (ms) | proxied p50 / p99 (ms) | added p50 / p99 (ms) "
        "| direct MB/s | proxied MB/s | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for streams, direct, proxied, flat_direct, flat_proxied in rows:
        d50, d99 = _percentile(direct.latencies_ms, 0.5), _percentile(direct.latencies_ms, 0.99)
        p50, p99 = _percentile(proxied.latencies_ms, 0.5), _percentile(proxied.latencies_ms, 0.99)
        rate_direct = flat_direct.bytes / flat_direct.seconds / 1e6
        rate_proxied = flat_proxied.bytes / flat_proxied.seconds / 1e6
        print(
            f"| {streams} | {len(proxied.latencies_ms)} | {d50:.3f} / {d99:.3f} | {p50:.3f} / {p99:.3f} "
            f"| {p50 - d50:.3f} / {p99 - d99:.3f} | {rate_direct:.0f} | {rate_proxied:.0f} "
            f"| {rate_proxied / rate_direct:.0%} |"
        )
    print(
        f"\n{recordings} recordings written (every exchange through the proxy, warm-up included), "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
