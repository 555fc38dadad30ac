"""Soak: ``claude-doctor record`` in front of ``serve`` under hostile load for minutes, then proof that
nothing was lost, nothing leaked and nothing stayed behind.

Three processes, as in real use: an upstream (``serve``'s own app, one per fault, mounted side by side
under ``/<fault>/`` so that one proxy sees a mix: clean streams, truncations, resets, 529s, error
events, 7-byte splits, drips, stalls, bad JSON, max_tokens, JSON instead of a stream), the proxy (the
real ``claude-doctor record`` CLI, recording to a temporary folder), and this process, which runs at
the same time:

- ``--clients`` concurrent SDK clients (``anthropic.AsyncAnthropic``, no retries), each sending a
  streaming request through the proxy, reading it to the end or to the error, pausing, and again, for
  ``--duration`` seconds. The API key is a freshly made key-shaped canary; one request in five carries
  it in the prompt too, one in ten in the query string.
- ``--slowloris`` connections that send a request head one byte every few seconds and never finish.
- a stream of garbage connections: ``HTTP/9.9``, bad chunked encoding, an HTTP/2 preface, a header
  over 8 KB, random bytes, a head cut off: each carrying the canary.

Then: every request the clients sent has its recording, and every recording reads back with the
reader ``stream``/``replay``/``serve`` use and has its ``end``; the canary appears in no file and in no
output of any process (not whole, not a 24-character slice of it); and the proxy's RSS and open file
descriptors, measured before the load, are back near that baseline once the load is gone.

    python benchmarks/bench_soak.py                   # 200 clients for 5 minutes
    python benchmarks/bench_soak.py --duration 60     # shorter
    python benchmarks/bench_soak.py --quick           # 5 s of load, 20 clients: the smoke test
    python benchmarks/bench_soak.py --json            # the rows for benchmarks/run.py

Goals (issue 15): every well-formed exchange recorded and readable; zero key bytes anywhere; proxy RSS
and open FDs back to baseline after.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_proxy import free_port, wait_listening

#: fault mix: the path prefix a client picks (uniformly) -> the ``serve`` faults behind it
FAULTS = {
    "clean": [],
    "truncate": ["truncate"],
    "reset": ["reset"],
    "overloaded": ["status:529"],
    "error-event": ["error-event"],
    "split": ["split:7"],
    "drip": ["drip:20"],
    "stall": ["stall:1"],
    "bad-json": ["bad-json"],
    "max-tokens": ["max-tokens"],
    "json": ["json"],
}
RSS_SLACK = 32 * 1024 * 1024  #: "back to baseline": within this of the RSS before the load
FD_SLACK = 4  #: and within this many open file descriptors
WARM_UP = 5  #: clean exchanges before the baseline is taken


def canary() -> str:
    """A key-shaped canary, made fresh for each run (108 characters, like an API key)."""
    alphabet = string.ascii_letters + string.digits
    return "sk-ant-api03-" + "".join(secrets.choice(alphabet) for _ in range(93)) + "AA"


# -- the upstream: serve's app, one per fault --------------------------------------------------------------


def _run_upstream(port: int) -> None:
    from aiohttp import web

    from claude_doctor.faults import parse_faults
    from claude_doctor.serve import MockAPI, ServeOptions

    root = web.Application()
    for name, faults in FAULTS.items():
        root.add_subapp(f"/{name}", MockAPI(ServeOptions(parse_faults(faults), ping_interval=0.5)).app())
    web.run_app(root, host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


# -- the clients ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    garbage: int = 0
    slowloris_open: int = 0


async def _client(n: int, url: str, key: str, until: float, pause: float, tally: Tally) -> None:
    import anthropic
    import httpx2

    rng = random.Random(n)
    client = anthropic.AsyncAnthropic(api_key=key, base_url=url, max_retries=0, timeout=httpx2.Timeout(30.0))
    try:
        await asyncio.sleep(rng.uniform(0, pause))
        while time.monotonic() < until:
            fault = rng.choice(list(FAULTS))
            prompt = f"Say hi. {key}" if rng.random() < 0.2 else "Say hi."
            query = {"k": key} if rng.random() < 0.1 else None
            tally.sent += 1
            try:
                async with client.with_options(base_url=f"{url}/{fault}").messages.stream(
                    model="claude-soak",
                    max_tokens=64,
                    messages=[{"role": "user", "content": prompt}],
                    extra_query=query,
                ) as stream:
                    message = await stream.get_final_message()
                tally.outcomes[f"returned {message.stop_reason}"] += 1
            except Exception as exc:  # every fault's outcome is counted, none is a harness failure
                tally.outcomes[f"raised {type(exc).__name__}"] += 1
            await asyncio.sleep(rng.uniform(0, 2 * pause))
    finally:
        await client.close()


def _garbage(key: str) -> list[bytes]:
    k = key.encode()
    return [
        b"GET /v1/messages HTTP/9.9\r\nHost: x\r\nx-api-key: " + k + b"\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + k + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz" + k,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + k,
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + k + b"\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        os.urandom(512) + k,
        b"POST /" + k + b"/v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + k,
    ]


async def _garbage_loop(port: int, key: str, until: float, every: float, tally: Tally) -> None:
    """One garbage connection every ``every`` seconds: send, read the answer for a moment, close."""
    payloads = _garbage(key)
    n = 0
    while time.monotonic() < until:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            try:
                writer.write(payloads[n % len(payloads)])
                await writer.drain()
                await asyncio.wait_for(reader.read(4096), 2)
            finally:
                writer.close()
        n += 1
        tally.garbage += 1
        await asyncio.sleep(every)


async def _slowloris(port: int, key: str, until: float, tally: Tally) -> None:
    """A request head that never ends: one byte every 5 s, reconnecting when the server hangs up."""
    head = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key.encode() + b"\r\nX-Slow: " + b"a" * 10_000
    while time.monotonic() < until:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        except (TimeoutError, OSError):
            await asyncio.sleep(1)
            continue
        tally.slowloris_open += 1
        try:
            for byte in head:
                if time.monotonic() >= until:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(5)
        except OSError:
            pass
        finally:
            tally.slowloris_open -= 1
            writer.close()


async def load(url: str, port: int, key: str, args: argparse.Namespace) -> Tally:
    tally = Tally()
    until = time.monotonic() + args.duration
    tasks = [_client(n, url, key, until, args.pause, tally) for n in range(args.clients)]
    tasks += [_slowloris(port, key, until, tally) for _ in range(args.slowloris)]
    tasks.append(_garbage_loop(port, key, until, args.garbage_every, tally))
    await asyncio.gather(*tasks)
    return tally


# -- the proxy, measured -----------------------------------------------------------------------------------


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Watch:
    """Peak RSS and FDs of a process, sampled in the background while the load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss = _rss(pid)
        self.peak_fds = _fds(pid)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                self.peak_rss = max(self.peak_rss, _rss(self.pid))
                self.peak_fds = max(self.peak_fds, _fds(self.pid))
            await asyncio.sleep(0.25)


async def measured_load(url: str, port: int, key: str, args: argparse.Namespace, watch: Watch) -> Tally:
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(watch.run(stop))
    try:
        return await load(url, port, key, args)
    finally:
        stop.set()
        await sampler


def _settle(pid: int, seconds: float) -> tuple[int, int]:
    """RSS and FDs once the connections the load left have closed (the lowest seen in ``seconds``)."""
    rss, fds = _rss(pid), _fds(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        rss, fds = min(rss, _rss(pid)), min(fds, _fds(pid))
    return rss, fds


# -- the verdicts --------------------------------------------------------------------------------------


def check_recordings(out: Path, key: str) -> tuple[int, int, list[str]]:
    """(recordings of /v1/messages requests, how many read back whole with an end line, problems)."""
    from claude_doctor.errors import RecordingError
    from claude_doctor.recording import End, Request, open_source

    problems: list[str] = []
    requests = whole = 0
    needles = (key.encode(), key[13:37].encode(), key[-30:].encode())
    for path in sorted(out.iterdir()):
        if any(n in path.name.encode() for n in needles):
            problems.append(f"{path.name}: the key is in the file name")
        data = path.read_bytes()
        if any(n in data for n in needles):
            problems.append(f"{path.name}: key bytes in the file")
        try:
            records = list(open_source(str(path)).records)
        except RecordingError as exc:
            problems.append(f"{path.name}: unreadable: {exc}")
            continue
        if not any(isinstance(r, Request) and "/v1/messages" in r.url for r in records):
            continue
        requests += 1
        if any(isinstance(r, End) for r in records):
            whole += 1
        else:
            problems.append(f"{path.name}: no end line")
    return requests, whole, problems


def leaked(texts: dict[str, bytes], key: str) -> list[str]:
    needles = (key.encode(), key[13:37].encode(), key[-30:].encode())
    return [name for name, text in texts.items() if any(n in text for n in needles)]


def _warm(url: str, key: str) -> None:
    """A few clean exchanges, so the baseline is a proxy that has served, not one just started."""
    import anthropic

    client = anthropic.Anthropic(api_key=key, base_url=f"{url}/clean", max_retries=0)
    messages = [{"role": "user", "content": "hi"}]
    for _ in range(WARM_UP):
        with client.messages.stream(model="claude-soak", max_tokens=8, messages=messages) as stream:
            stream.get_final_message()
    client.close()


def run(args: argparse.Namespace) -> tuple[list[dict], str]:
    key = canary()
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    out, proxy_out, proxy_err = work / "recordings", work / "proxy.out", work / "proxy.err"
    up_port, proxy_port = free_port(), free_port()
    upstream = multiprocessing.Process(target=_run_upstream, args=(up_port,), daemon=True)
    upstream.start()
    wait_listening(up_port, timeout=30.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and "proxy" not in k.lower()}
    with proxy_out.open("wb") as stdout, proxy_err.open("wb") as stderr:
        proxy = subprocess.Popen(
            [sys.executable, "-m", "claude_doctor", "record", "--listen", f"127.0.0.1:{proxy_port}"]
            + ["--upstream", f"http://127.0.0.1:{up_port}", "--out", str(out)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{proxy_port}"
    try:
        wait_listening(proxy_port, timeout=30.0)
        _warm(url, key)
        base_rss, base_fds = _settle(proxy.pid, 2)
        watch = Watch(proxy.pid)
        started = time.monotonic()
        tally = asyncio.run(measured_load(url, proxy_port, key, args, watch))
        seconds = time.monotonic() - started
        after_rss, after_fds = _settle(proxy.pid, args.settle)
    finally:
        proxy.send_signal(signal.SIGINT)
        try:
            code = proxy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proxy.kill()
            code = proxy.wait()
        upstream.terminate()
        upstream.join(5)
    requests, whole, problems = check_recordings(out, key)
    files = len(list(out.iterdir()))
    expected = tally.sent + WARM_UP
    outputs = {"proxy stdout": proxy_out.read_bytes(), "proxy stderr": proxy_err.read_bytes()}
    shutil.rmtree(work)
    leaks = leaked(outputs, key)
    tracebacks = sum(text.count(b"Traceback") for text in outputs.values())
    err_lines = outputs["proxy stderr"].count(b"\n")
    rate = tally.sent / seconds
    mib = 1024 * 1024
    rows = [
        {
            "measured": f"SDK exchanges through the proxy, {args.clients} clients, {seconds:.0f} s, mixed faults",
            "ours": f"{requests:,} recorded, {whole:,} whole and readable",
            "anchor": f"{expected:,} sent ({rate:.0f}/s)",
            "ratio": whole / expected if expected else None,
            "goal": "every exchange recorded and readable",
            "met": requests == whole == expected and not [p for p in problems if "unreadable" in p],
        },
        {
            "measured": "key bytes in recordings, file names and the proxy's output",
            "ours": f"{len(problems) - sum('unreadable' in p or 'no end' in p for p in problems)} files, "
            f"{len(leaks)} outputs",
            "anchor": f"{files:,} files, {sum(map(len, outputs.values())) / mib:.1f} MiB of output",
            "ratio": None,
            "goal": "0",
            "met": not leaks and not any("key" in p for p in problems),
        },
        {
            "measured": "proxy RSS: before / peak / after the load",
            "ours": f"{base_rss / mib:.0f} / {watch.peak_rss / mib:.0f} / {after_rss / mib:.0f} MiB",
            "anchor": f"after − before: {(after_rss - base_rss) / mib:+.0f} MiB",
            "ratio": after_rss / base_rss,
            "goal": f"after within {RSS_SLACK // mib} MiB of before",
            "met": after_rss - base_rss <= RSS_SLACK,
        },
        {
            "measured": "proxy open FDs: before / peak / after the load",
            "ours": f"{base_fds} / {watch.peak_fds} / {after_fds}",
            "anchor": f"{args.slowloris} slowloris + {tally.garbage:,} garbage connections",
            "ratio": None,
            "goal": f"after within {FD_SLACK} of before",
            "met": after_fds - base_fds <= FD_SLACK,
        },
    ]
    outcomes = ", ".join(f"{n} {what}" for what, n in tally.outcomes.most_common())
    setup = (
        f"{args.clients} SDK clients (pause ≤ {2 * args.pause:g} s between requests), {args.slowloris} slowloris "
        f"connections, a garbage connection every {args.garbage_every:g} s, for {seconds:.0f} s; "
        f"{len(FAULTS)} serve fault mixes; proxy exit {code}, {tracebacks} tracebacks, {err_lines:,} stderr lines; "
        f"outcomes: {outcomes}; {os.cpu_count()} CPUs shared by upstream, proxy and clients"
    )
    if problems:
        setup += f"; first problems: {'; '.join(problems[:3])}"
    return rows, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short, small run (the smoke test)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load [300, quick 5]")
    parser.add_argument("--clients", type=int, default=None, help="concurrent SDK clients [200, quick 20]")
    parser.add_argument("--slowloris", type=int, default=None, help="slow connections held open [300, quick 20]")
    parser.add_argument("--garbage-every", type=float, default=0.1, help="seconds between garbage connections")
    parser.add_argument("--pause", type=float, default=1.0, help="mean pause between a client's requests (s)")
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to watch RSS/FDs after the load [20, past the 15 s keep-alive of idle upstream connections]",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    quick = args.quick
    args.duration = args.duration or (5 if quick else 300)
    args.clients = args.clients or (20 if quick else 200)
    args.slowloris = args.slowloris if args.slowloris is not None else (20 if quick else 300)
    args.settle = args.settle or (3 if quick else 20)
    rows, setup = run(args)
    if args.json:
        print(json.dumps({"setup": setup, "rows": rows}))
        return
    print("| measured | ours | anchor | goal | met |\n|---|---|---|---|---|")
    for row in rows:
        met = "yes" if row["met"] else "no"
        print(f"| {row['measured']} | {row['ours']} | {row['anchor']} | {row['goal']} | {met} |")
    print(f"\n{setup}")


if __name__ == "__main__":
    main()
