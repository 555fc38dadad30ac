"""What the recording proxy costs: added latency per chunk (p50/p99) and throughput as a ratio to
direct, at 1 and 100 concurrent streams.

Three processes, as in real use: an upstream (aiohttp) that sends well-formed Messages streams, the
proxy (the real ``claude-doctor record`` CLI, recording and checking every exchange to a temporary
folder), and this process as the client. Each figure is measured direct and through the proxy in the
same run, alternating, and the median of ``--repeat`` rounds is kept.

- Latency: the upstream stamps each small delta with the monotonic time it was written; the client
  reads the stamp on arrival; what the proxy adds is the difference between the two paths. Streams
  start at independent phases, as independent API streams do (100 streams phase-locked to the same
  millisecond are a burst no real traffic makes; ``--lockstep`` measures that worst case).
- Throughput, two clients: a raw reader (aiohttp, bytes counted and dropped: the proxy's capacity, on
  a machine where all three processes share the cores) and the ``anthropic`` SDK's own
  ``messages.stream()`` (what an app sees).

    python benchmarks/bench_proxy.py            # prints a markdown table
    python benchmarks/bench_proxy.py --json     # the rows for benchmarks/run.py
    python benchmarks/bench_proxy.py --quick    # fewer events, for a smoke run

Goals (issue 5): p99 added latency under 1 ms per chunk; throughput at least 90 % of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STAMP = re.compile(rb'"sent_ns":(\d+)')
LATENCY_GOAL_MS = 1.0
THROUGHPUT_GOAL = 0.9


# -- the upstream ------------------------------------------------------------------------------------------


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data}, separators=(',', ':'))}\n\n".encode()


def _delta(text: str, **extra: int) -> bytes:
    return _event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": text}, **extra})


MESSAGE = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "content": [],
    "model": "claude-bench",
    "stop_reason": None,
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}
HEAD = _event("message_start", {"message": MESSAGE}) + _event(
    "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
)
END_TURN = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 9}}
TAIL = _event("content_block_stop", {"index": 0}) + _event("message_delta", END_TURN) + _event("message_stop", {})


async def _upstream_handler(request):
    """``?events=N&pace=MS`` sends N small stamped deltas, one every MS, after ``delay`` ms (so that
    opening 100 connections is not counted as per-chunk latency) plus, unless ``lockstep``, a random
    phase within one pace; ``?events=N&size=B`` sends N deltas of B bytes of text flat out."""
    from aiohttp import web

    await request.read()
    query = request.query
    response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})  # noqa: CD220 - a loopback test upstream, no proxy in front
    await response.prepare(request)
    await response.write(HEAD)
    events = int(query.get("events", "100"))
    if "size" in query:
        piece = _delta(("lorem ipsum dolor sit amet " * (1 + int(query["size"]) // 27))[: int(query["size"])])
        batch = max(1, 16384 // len(piece))
        for start in range(0, events, batch):
            await response.write(piece * min(batch, events - start))
    else:
        pace = float(query.get("pace", "10")) / 1000
        phase = 0.0 if "lockstep" in query else random.uniform(0, pace)
        await asyncio.sleep(float(query.get("delay", "0")) / 1000 + phase)
        for _ in range(events):
            await asyncio.sleep(pace)
            await response.write(_delta("hi ", sent_ns=time.monotonic_ns()))
    await response.write(TAIL)
    await response.write_eof()
    return response


def _quiet_collector() -> None:
    """Keep this harness's own garbage collections out of the figures: what is alive now (aiohttp,
    the SDK after warm-up) is frozen, so a full collection no longer walks it. Measured without this,
    a client's collection stalled every stream for 10-15 ms, direct and proxied alike."""
    gc.collect()
    gc.freeze()


def _run_upstream(port: int) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/v1/messages", _upstream_handler)
    _quiet_collector()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


# -- the clients -------------------------------------------------------------------------------------------


@dataclass
class Run:
    latencies_ms: list[float]
    amount: int  #: bytes for the raw reader, text deltas for the SDK
    seconds: float


async def _raw_one(session, url: str, query: str, latencies: list[float]) -> int:
    total = 0
    async with session.post(f"{url}/v1/messages?{query}", json={"stream": True}) as response:
        async for data in response.content.iter_any():
            now = time.monotonic_ns()
            total += len(data)
            if b"sent_ns" in data:
                latencies.extend((now - int(m)) / 1e6 for m in STAMP.findall(data))
    return total


async def _raw(url: str, query: str, streams: int) -> Run:
    import aiohttp

    latencies: list[float] = []
    headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, headers=headers, auto_decompress=False) as session:
        started = time.monotonic()
        sizes = await asyncio.gather(*(_raw_one(session, url, query, latencies) for _ in range(streams)))
        seconds = time.monotonic() - started
    return Run(latencies, sum(sizes), seconds)


async def _sdk(url: str, query: str, streams: int) -> Run:
    """The SDK's ``messages.stream()``, every event parsed and the message accumulated, as an app does;
    the amount is the text deltas received."""
    import anthropic

    client = anthropic.AsyncAnthropic(base_url=url, api_key="bench", max_retries=0)

    async def one() -> int:
        async with client.messages.stream(
            model="claude-bench",
            max_tokens=1024,
            messages=[{"role": "user", "content": "hi"}],
            extra_query=dict(p.split("=") for p in query.split("&")),
        ) as stream:
            deltas = sum([event.type == "content_block_delta" async for event in stream])
            await stream.get_final_message()
        return deltas

    started = time.monotonic()
    sizes = await asyncio.gather(*(one() for _ in range(streams)))
    seconds = time.monotonic() - started
    await client.close()
    return Run([], sum(sizes), seconds)


def measure(client: Callable, url: str, query: str, streams: int) -> Run:
    return asyncio.run(client(url, query, streams))


def alternate(client: Callable, urls: tuple[str, str], query: str, streams: int, repeat: int) -> list[list[Run]]:
    """``repeat`` rounds of direct then proxied, so that a slow moment of the machine hits both."""
    runs: list[list[Run]] = [[], []]
    for _ in range(repeat):
        for path, url in enumerate(urls):
            runs[path].append(measure(client, url, query, streams))
    return runs


# -- orchestration -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def _latency_row(streams: int, runs: list[list[Run]]) -> dict:
    """Paired rounds: each round's proxied percentile minus the same round's direct one, then the
    median over rounds (the range is shown too), so that a slow moment of the machine, which both paths
    of a round share, does not pass for the proxy's cost."""
    pairs = list(zip(*runs, strict=True))
    added = {
        q: sorted(_percentile(p.latencies_ms, q) - _percentile(d.latencies_ms, q) for d, p in pairs)
        for q in (0.5, 0.99)
    }
    direct = {q: statistics.median(_percentile(d.latencies_ms, q) for d, _ in pairs) for q in (0.5, 0.99)}
    spread = f" (rounds: {added[0.99][0]:+.2f} to {added[0.99][-1]:+.2f})" if len(pairs) > 1 else ""
    p50, p99 = statistics.median(added[0.5]), statistics.median(added[0.99])
    chunks = len(runs[1][0].latencies_ms)
    return {
        "measured": f"added latency per chunk, {streams} concurrent stream(s), {chunks:,} chunks a round",
        "ours": f"{p50:+.3f} ms p50 / {p99:+.3f} ms p99{spread}",
        "anchor": f"direct: {direct[0.5]:.3f} / {direct[0.99]:.3f} ms p50 / p99",
        "ratio": None,
        "goal": f"p99 < {LATENCY_GOAL_MS:g} ms",
        "met": p99 < LATENCY_GOAL_MS,
    }


def _throughput_row(what: str, unit: str, streams: int, runs: list[list[Run]]) -> dict:
    scale = 1e6 if unit == "MB/s" else 1
    direct, proxied = (statistics.median(r.amount / r.seconds / scale for r in path) for path in runs)
    return {
        "measured": f"throughput through the proxy, {what}, {streams} concurrent stream(s)",
        "ours": f"{proxied:,.0f} {unit}",
        "anchor": f"direct: {direct:,.0f} {unit}",
        "ratio": proxied / direct,
        "goal": f"≥ {THROUGHPUT_GOAL:.2f}× (90 % of direct)",
        "met": proxied / direct >= THROUGHPUT_GOAL,
    }


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from ``/proc`` (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_all(urls: tuple[str, str], quick: bool, repeat: int, lockstep: bool, proxy_pid: int) -> tuple[list[dict], str]:
    """The rows, and the proxy's CPU time per chunk it forwarded, recorded and checked at 100 streams."""
    events, flat, sdk_events = (50, 500, 2_000) if quick else (200, 4_000, 20_000)
    timing = "&lockstep=1" if lockstep else ""
    rows = []
    for streams in (1, 100):
        latency = f"events={events}&pace=10&delay={300 if streams == 1 else 1000}{timing}"
        before = cpu_seconds(proxy_pid)
        runs = alternate(_raw, urls, latency, streams, repeat)
        after = cpu_seconds(proxy_pid)
        rows.append(_latency_row(streams, runs))
    chunks = sum(len(r.latencies_ms) for r in runs[1])
    cpu = "" if before is None or after is None else f"; proxy CPU {(after - before) / chunks * 1e6:.0f} µs a chunk"
    clients = (
        (_raw, "raw reader, 16 kB deltas", "MB/s", flat, 16_000),
        (_sdk, "SDK `messages.stream()`, 12-byte deltas", "deltas/s", sdk_events, 12),
    )
    for client, what, unit, count, size in clients:
        for streams in (1, 100):
            query = f"events={count if streams == 1 else count // 20}&size={size}"
            rows.append(_throughput_row(what, unit, streams, alternate(client, urls, query, streams, repeat)))
    return rows, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and bytes")
    parser.add_argument("--repeat", type=int, default=None, help="rounds per figure (median kept) [7, quick 1]")
    parser.add_argument("--lockstep", action="store_true", help="start every stream's deltas in the same ms")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 7)

    up_port, proxy_port = free_port(), free_port()
    upstream = multiprocessing.Process(target=_run_upstream, args=(up_port,), daemon=True)
    upstream.start()
    wait_listening(up_port)
    out = tempfile.mkdtemp(prefix="bench-proxy-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and "proxy" not in k.lower()}
    proxy = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "record", "-q", "--listen", f"127.0.0.1:{proxy_port}"]
        + ["--upstream", f"http://127.0.0.1:{up_port}", "--out", out],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(proxy_port)
    urls = (f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{proxy_port}")
    try:
        for url in urls:  # warm up both paths and both clients
            measure(_raw, url, "events=5&pace=1", 4)
            measure(_sdk, url, "events=5&size=12", 4)
        _quiet_collector()
        rows, cpu = run_all(urls, args.quick, repeat, args.lockstep, proxy.pid)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        upstream.terminate()
    recordings = len(list(Path(out).iterdir()))
    setup = (
        f"median of {repeat} round(s); {recordings} recordings written (every exchange through the proxy); "
        f"streams {'in lockstep' if args.lockstep else 'at independent phases'}{cpu} (100 streams, recorded and "
        f"checked); {os.cpu_count()} CPUs shared by upstream, proxy and client"
    )
    if args.json:
        print(json.dumps({"setup": setup, "rows": rows}))
        return
    print("| measured | through the proxy | direct | ratio | goal | met |\n|---|---|---|---:|---|---|")
    for row in rows:
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        met = "yes" if row["met"] else "no"
        print(f"| {row['measured']} | {row['ours']} | {row['anchor']} | {ratio} | {row['goal']} | {met} |")
    print(f"\n{setup}")


if __name__ == "__main__":
    main()
