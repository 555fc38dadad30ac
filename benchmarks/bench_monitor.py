"""What the in-process monitor costs (issue 17's goals), each figure against a plain client in the same run:

- speed: the SDK's ``messages.stream()`` text deltas per second with a monitored client (OpenTelemetry
  on its global providers when installed, as by default; then with a flight recorder too) vs a plain
  ``httpx2`` client, against ``claude-doctor serve FILE --speed max`` (a subprocess) replaying one long
  stream; the variants alternate within each repetition and the median of each is kept: goal ≥ 0.95×.
  Beside it, the stricter figure: the app process's CPU time per delta (where ``serve`` shares the
  cores, a plain client waits for it part of the time, and the monitor's work partly fills that wait);
- memory: peak traced memory (``tracemalloc``) of reading one stream through a monitored client, with a
  flight recorder, for a 1k- and a 20k-delta stream: constant in the stream's length;
- the flight recorder's folder after it kept more failing exchanges than it may hold: within its bounds.

    python benchmarks/bench_monitor.py             # 20k-delta streams, 7 repetitions
    python benchmarks/bench_monitor.py --quick     # 2k deltas, 2 repetitions: a smoke test
    python benchmarks/bench_monitor.py --json      # the rows as JSON (for benchmarks/run.py)
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anthropic
import httpx2

from claude_doctor import FlightRecorder, monitored_client, synth
from claude_doctor.recording import RecordingWriter

ROOT = Path(__file__).resolve().parent.parent
SPEED_GOAL = 0.95
MEMORY_GOAL = 1.25  #: the 20k-delta stream's peak over the 1k one's: "constant", with room for noise
MESSAGES = [{"role": "user", "content": "Say hello"}]
WORDS = ("the", "of", "and", "to", "stream", "token", "model", "delta", "event", "Claude", "café", "naïve", "😀")


def write_recording(path: Path, deltas: int) -> None:
    """One exchange: a text message of ``deltas`` short deltas, one chunk per event, as the API sends."""
    words = [" " + WORDS[i % len(WORDS)] for i in range(deltas)]
    body = {"model": "claude-bench", "max_tokens": 64000, "stream": True, "messages": MESSAGES}
    with path.open("wb") as stream:
        writer = RecordingWriter(stream, "sdk")
        writer.request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json.dumps(body).encode())
        writer.response(0, 0.1, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        for n, event in enumerate(synth.text_message(words, model="claude-bench")):
            writer.chunk(0, 0.1 + n * 0.001, event)
        writer.end(0, 0.1 + deltas * 0.001, "eof")


@contextmanager
def serving(path: Path, *faults: str) -> Iterator[str]:
    """``claude-doctor serve FILE --speed max`` on a free loopback port, stopped afterwards."""
    args = [sys.executable, "-m", "claude_doctor", "serve", str(path), "--speed", "max", "--port", "0"]
    args += [f"--fault={fault}" for fault in faults]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(2):
            line = proc.stdout.readline()
            if "listening on" in line:
                yield line.split()[2]
                return
        raise RuntimeError("serve did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def sdk_deltas(url: str, http_client: httpx2.Client) -> tuple[int, float, float]:
    """Text deltas the SDK yields from one ``messages.stream()``, the wall seconds it took and the CPU
    seconds this process spent (the app is CPU-bound here: on a quiet machine the two agree, on a
    shared one only the CPU time is not stretched by other processes)."""
    client = anthropic.Anthropic(base_url=url, api_key="bench", http_client=http_client, max_retries=0)
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    with client.messages.stream(model="claude-bench", max_tokens=64000, messages=MESSAGES) as stream:
        for event in stream:
            count += event.type == "text"
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.close()
    return count, seconds, cpu


def speed(url: str, flight: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """Median deltas per wall second and per CPU second of each client, the variants alternating within
    each repetition."""
    variants: dict[str, Callable[[], httpx2.Client]] = {
        "plain": httpx2.Client,
        "monitored": monitored_client,
        "monitored + flight recorder": lambda: monitored_client(flight_recorder=FlightRecorder(flight)),
    }
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for make in variants.values():  # warm up: imports, connections, the OpenTelemetry sink
        sdk_deltas(url, make())
    for _ in range(repeat):
        for name, make in variants.items():
            gc.collect()
            count, seconds, cpu = sdk_deltas(url, make())
            rates[name].append((count / seconds, count / cpu))
    return {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in rates.items()
    }


def in_process(deltas: int, repeat: int) -> tuple[float, float]:
    """CPU seconds per delta of the SDK's ``messages.stream()`` over an in-process transport
    (``httpx2.MockTransport`` yielding one chunk per event: no server, no socket), plain and monitored
    (default sinks), alternating; medians. Load on a shared machine hardly moves it, unlike the figure
    against ``serve``, so it shows the monitor's cost beside the SDK's own work alone."""
    import statistics as stats

    words = [" " + WORDS[i % len(WORDS)] for i in range(deltas)]
    events = synth.text_message(words, model="claude-bench")

    class Body(httpx2.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from events

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())

    variants = {
        "plain": lambda: httpx2.Client(transport=httpx2.MockTransport(answer)),
        "monitored": lambda: monitored_client(transport=httpx2.MockTransport(answer)),
    }
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for make in variants.values():
        sdk_deltas("http://127.0.0.1:9", make())
    for _ in range(repeat):
        for name, make in variants.items():
            gc.collect()
            count, _, seconds = sdk_deltas("http://127.0.0.1:9", make())
            cpu[name].append(seconds / count)
    return stats.median(cpu["plain"]), stats.median(cpu["monitored"])


def peak_memory(url: str, flight: Path) -> int:
    """Peak traced bytes while one stream is read through a monitored client with a flight recorder
    (the bytes read are dropped, so what grows is the monitor's)."""
    client = monitored_client(flight_recorder=FlightRecorder(flight))
    body = {"model": "claude-bench", "max_tokens": 64000, "stream": True, "messages": MESSAGES}
    gc.collect()
    tracemalloc.start()
    try:
        with client.stream("POST", f"{url}/v1/messages", json=body, headers={"x-api-key": "bench"}) as response:
            for _ in response.iter_raw():
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        client.close()


def flight_bounds(url: str, folder: Path, exchanges: int) -> tuple[int, int, FlightRecorder]:
    """Keep ``exchanges`` failing exchanges in a folder that may hold fewer; its files and bytes after."""
    recorder = FlightRecorder(folder, max_files=5, max_bytes=3 * 2**20)
    client = anthropic.Anthropic(
        base_url=url, api_key="bench", max_retries=0, http_client=monitored_client(flight_recorder=recorder)
    )
    for _ in range(exchanges):
        with client.messages.stream(model="claude-bench", max_tokens=64000, messages=MESSAGES) as stream:
            stream.until_done()
    client.close()
    files = recorder.files()
    return len(files), sum(size for _, size in files), recorder


def run(deltas: int, repeat: int) -> tuple[list[dict], str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        long, short = tmp_path / "long.jsonl", tmp_path / "short.jsonl"
        write_recording(long, deltas)
        write_recording(short, 1000)
        with serving(long) as url:
            rates = speed(url, tmp_path / "flight-speed", repeat)
            big = peak_memory(url, tmp_path / "flight-memory")
        plain, plain_cpu = rates.pop("plain")
        alone_plain, alone_monitored = in_process(deltas, repeat)
        rows.append(
            {
                "measured": "SDK messages.stream() CPU per text delta over an in-process transport (no server), "
                "monitored vs plain",
                "ours": f"{alone_monitored * 1e6:.1f} µs (+{(alone_monitored - alone_plain) * 1e6:.1f} µs)",
                "anchor": f"plain client {alone_plain * 1e6:.1f} µs",
                "ratio": alone_plain / alone_monitored,
                "goal": "– (the SDK without the network: the monitor's share is largest here)",
                "met": None,
            }
        )
        for name, (rate, rate_cpu) in rates.items():
            rows.append(
                {
                    "measured": f"SDK messages.stream() text deltas/s, {name} vs plain client",
                    "ours": f"{rate:,.0f}/s",
                    "anchor": f"plain client {plain:,.0f}/s",
                    "ratio": rate / plain,
                    # the goal is the monitor's; keeping bad streams is an extra a user opts into
                    "goal": f"≥ {SPEED_GOAL}×" if name == "monitored" else "– (what the flight recorder adds)",
                    "met": rate / plain >= SPEED_GOAL if name == "monitored" else None,
                }
            )
            rows.append(
                {
                    "measured": f"CPU time of the app per text delta, {name} vs plain client (the stricter cost)",
                    "ours": f"{1e6 / rate_cpu:.1f} µs (+{1e6 / rate_cpu - 1e6 / plain_cpu:.1f} µs)",
                    "anchor": f"plain client {1e6 / plain_cpu:.1f} µs",
                    "ratio": plain_cpu / rate_cpu,
                    "goal": "– (shown as plain's rate ÷ ours)",
                    "met": None,
                }
            )
        with serving(short) as url:
            small = peak_memory(url, tmp_path / "flight-memory")
        rows.append(
            {
                "measured": f"peak memory of one monitored stream (flight recorder on), {deltas:,} vs 1,000 deltas",
                "ours": f"{big / 1024:,.0f} KiB",
                "anchor": f"{small / 1024:,.0f} KiB",
                "ratio": big / small,
                "goal": f"constant (≤ {MEMORY_GOAL}×)",
                "met": big / small <= MEMORY_GOAL,
            }
        )
        with serving(short, "truncate:500") as url:
            files, size, recorder = flight_bounds(url, tmp_path / "flight-bounds", 12)
        rows.append(
            {
                "measured": "flight recorder folder after 12 kept exchanges (CD104, ~90 KiB each)",
                "ours": f"{files} files, {size / 2**20:.2f} MiB",
                "anchor": f"max_files {recorder.max_files}, max_bytes {recorder.max_bytes / 2**20:.0f} MiB",
                "ratio": None,
                "goal": "within both bounds",
                "met": files <= recorder.max_files and size <= recorder.max_bytes,
            }
        )
    setup = f"{deltas:,}-delta stream from `serve --speed max`, {repeat} alternating repetitions, median"
    return rows, setup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2k deltas, 2 repetitions")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    deltas, repeat = (2000, 2) if args.quick else (args.deltas, args.repeat)
    rows, setup = run(deltas, repeat)
    if args.json:
        print(json.dumps({"rows": rows, "setup": setup}))
        return 0
    print("| measured | ours | anchor | ratio | goal | met |\n|---|---|---|---:|---|---|")
    for row in rows:
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        print(f"| {row['measured']} | {row['ours']} | {row['anchor']} | {ratio} | {row['goal']} | {row['met']} |")
    print(f"\n{setup}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
