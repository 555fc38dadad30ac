"""Stream analysis speed and memory, and CLI start-up, each as a ratio to an anchor measured in the
same run (issue 3's goals):

- ``claude-doctor stream`` on a 50 MB recording vs the SDK's own ``SSEDecoder`` + ``json.loads`` on the
  same chunks in memory: goal ≥ 1.5× (events/s);
- peak memory of ``claude-doctor stream`` on recordings of growing size: goal < 100 MB whatever the size;
- ``claude-doctor --version`` and ``claude-doctor rules`` wall time vs ``python -c "import click"``: goal ≤ 1.5×.

    python benchmarks/bench_stream.py             # 50 MB, 5 repeats
    python benchmarks/bench_stream.py --quick     # 2 MB, 1 repeat: a smoke test
    python benchmarks/bench_stream.py --json      # the rows as JSON (for benchmarks/run.py)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from claude_doctor import synth
from claude_doctor.checks.stream import check_records, check_source
from claude_doctor.config import Config
from claude_doctor.recording import RecordingWriter, open_source
from claude_doctor.recording.model import Chunk, End, Request, Response

_TEXT = "the of and to in is that for it as with stream token model delta event Claude answer café naïve "
WORDS = (_TEXT + "résumé — “quoted” 日本語 中文 😀 🚀 ✓ λ").split()


def make_body(target: int, seed: int = 1) -> tuple[bytes, int]:
    """A long, realistic stream: text, thinking and tool_use blocks of short deltas, pings between."""
    rnd = random.Random(seed)
    parts = [synth.message_start()]
    size, index, events = len(parts[0]), 0, 1
    while size < target:
        kind = rnd.choices(("text", "thinking", "tool_use"), (8, 1, 1))[0]
        n = rnd.randint(200, 2000)
        if kind == "text":
            block = synth.text_block(index, [" " + " ".join(rnd.choices(WORDS, k=rnd.randint(1, 4))) for _ in range(n)])
        elif kind == "thinking":
            block = synth.thinking_block(index, [" " + " ".join(rnd.choices(WORDS, k=3)) for _ in range(n)])
        else:
            pieces = json.dumps({"q": " ".join(rnd.choices(WORDS, k=n))}, ensure_ascii=False)
            block = synth.tool_use_block(index, "search", [pieces[i : i + 12] for i in range(0, len(pieces), 12)])
        for n_event, event in enumerate(block):
            parts.append(event)
            if n_event % 100 == 99:
                parts.append(synth.PING)
        index += 1
        size = sum(map(len, parts))
        events = len(parts)
    parts += [synth.message_delta(), synth.MESSAGE_STOP]
    return b"".join(parts), events + 2


def random_chunks(body: bytes, seed: int = 2) -> list[bytes]:
    rnd = random.Random(seed)
    out, pos = [], 0
    while pos < len(body):
        step = rnd.randint(1, 4096)
        out.append(body[pos : pos + step])
        pos += step
    return out


def write_recording(path: Path, chunks: list[bytes]) -> None:
    with path.open("wb") as f:
        w = RecordingWriter(f, "synthetic")
        w.request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], b'{"stream":true}')
        w.response(0, 0.1, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        for n, chunk in enumerate(chunks):
            w.chunk(0, 0.2 + n * 1e-4, chunk)
        w.end(0, 0.2 + len(chunks) * 1e-4, "eof")


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sdk_decode(chunks: list[bytes]) -> int:
    from anthropic._streaming import SSEDecoder

    n = 0
    for sse in SSEDecoder().iter_bytes(iter(chunks)):
        if sse.data:
            json.loads(sse.data)
        n += 1
    return n


def ours_in_memory(chunks: list[bytes]) -> int:
    records = [
        Request(0, 0.0, "POST", "u", [], json={"stream": True}),
        Response(0, 0.1, 200, "OK", None, [("content-type", "text/event-stream")]),
    ]
    records += [Chunk(0, 0.2, c) for c in chunks]
    records.append(End(0, 0.3, "eof"))
    findings = check_records(records, "mem", Config())
    assert not findings, findings
    return 0


def ours_from_file(path: Path) -> int:
    findings = check_source(open_source(str(path)), Config())
    assert not findings, findings
    return 0


def peak_rss_mb(args: list[str]) -> float:
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def wall(args: list[str], repeat: int) -> float:
    return median_time(lambda: subprocess.run(args, stdout=subprocess.DEVNULL, check=False), repeat)


def result_rows(rows, rss: float, rss4: float, size: int, version: float, rules: float, click: float) -> list[dict]:
    """The measurements as rows of benchmarks/run.py's table."""
    out = [
        {
            "measured": name,
            "ours": f"{ours / 1e3:,.0f} k events/s",
            "anchor": f"SDK SSEDecoder + json.loads: {anchor / 1e3:,.0f} k events/s",
            "ratio": ratio,
            "goal": goal,
            "met": ratio >= 1.5,
        }
        for name, ours, anchor, ratio, goal in rows
    ]
    out.append(
        {
            "measured": f"peak memory, `stream` on {size / 1e6:.0f} MB and {4 * size / 1e6:.0f} MB",
            "ours": f"{rss:.0f} MB / {rss4:.0f} MB",
            "anchor": "–",
            "ratio": None,
            "goal": "< 100 MB",
            "met": max(rss, rss4) < 100,
        }
    )
    for name, seconds in (("`claude-doctor --version`", version), ("`claude-doctor rules`", rules)):
        out.append(
            {
                "measured": f"start-up, {name}",
                "ours": f"{seconds * 1e3:.0f} ms",
                "anchor": f"`python -c 'import click'`: {click * 1e3:.0f} ms",
                "ratio": seconds / click,
                "goal": "≤ 1.5×",
                "met": seconds / click <= 1.5,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 MB, 1 repeat")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    if args.quick:
        args.mb, args.repeat = 2, 1
    body, events = make_body(int(args.mb * 1e6))
    chunks = random_chunks(body)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.jsonl"
        write_recording(path, chunks)
        sdk = median_time(lambda: sdk_decode(chunks), args.repeat)
        mem = median_time(lambda: ours_in_memory(chunks), args.repeat)
        disk = median_time(lambda: ours_from_file(path), args.repeat)
        rows.append(("stream analysis, from the recording file", events / disk, events / sdk, sdk / disk, "≥ 1.5×"))
        rows.append(("stream analysis, chunks in memory", events / mem, events / sdk, sdk / mem, "≥ 1.5×"))
        cli = [sys.executable, "-m", "claude_doctor", "stream", str(path)]
        rss = peak_rss_mb(cli)
        big = Path(tmp) / "bigger.jsonl"
        write_recording(big, chunks * 4)
        rss4 = peak_rss_mb([sys.executable, "-m", "claude_doctor", "stream", str(big)])
        click = wall([sys.executable, "-c", "import click"], args.repeat * 2)
        version = wall([sys.executable, "-m", "claude_doctor", "--version"], args.repeat * 2)
        rules = wall([sys.executable, "-m", "claude_doctor", "rules"], args.repeat * 2)
    if args.json:
        print(
            json.dumps(
                {
                    "setup": f"{len(body) / 1e6:.1f} MB, {events:,} events, median of {args.repeat}",
                    "rows": result_rows(rows, rss, rss4, len(body), version, rules, click),
                }
            )
        )
        return
    print(
        f"# stream benchmark: {len(body) / 1e6:.1f} MB, {events:,} events, {len(chunks):,} chunks; "
        f"median of {args.repeat}\n"
    )
    print("| measured | ours | anchor (same run) | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for name, ours, anchor, ratio, goal in rows:
        print(
            f"| {name} | {ours / 1e3:,.0f} k events/s | SDK SSEDecoder + json.loads: {anchor / 1e3:,.0f} k "
            f"events/s | {ratio:.2f}× | {goal} |"
        )
    print(
        f"| peak memory, `stream` on {len(body) / 1e6:.0f} MB / {4 * len(body) / 1e6:.0f} MB | {rss:.0f} MB / "
        f"{rss4:.0f} MB | – | – | < 100 MB |"
    )
    print(
        f"| `claude-doctor --version` | {version * 1e3:.0f} ms | `python -c 'import click'`: {click * 1e3:.0f} ms | "
        f"{version / click:.2f}× | ≤ 1.5× |"
    )
    print(
        f"| `claude-doctor rules` | {rules * 1e3:.0f} ms | `python -c 'import click'`: {click * 1e3:.0f} ms | "
        f"{rules / click:.2f}× | ≤ 1.5× |"
    )


if __name__ == "__main__":
    main()
