"""Stream analysis speed and memory, and CLI start-up, each as a ratio to an anchor measured in the
same run, on two shapes of stream:

- **large events** (issue 3): deltas of a few words with a leading space, pings every 100 events,
  tool input in 12-character pieces; 50 MB, about 130 bytes an event on average.
- **small events** (issue 20): what users' streams look like, the shape of the SDK-decoder study's
  generator: deltas of 1–4 words, a ping before 1 % of the events, tool input in pieces of 1–12
  characters, one long message of thinking, text and tool_use blocks (1 : 8 : 1); 20 MB, about
  155,000 events of about 130 bytes.

Both are cut into chunks of 1–4096 random bytes and written as a recording, a chunk a line, as
``record`` writes them. For each shape, in interleaved repetitions (the median of each is reported):

- the anchor: the SDK's own ``SSEDecoder`` + ``json.loads`` on the same chunks in memory;
- the bound: ``bytes.split(b"\\n\\n")`` of the whole body in memory + ``orjson.loads`` of each data line,
  about the fastest Python can go through the events at all;
- ours: the whole command ``claude-doctor stream FILE --format json`` (a subprocess, start-up
  included), the analysis of the recording file in-process, and of the chunks in memory.

Goals: large events, in-process ≥ 1.5× the anchor (issue 3); small events, the whole command
≥ 2.0× the anchor and the analysis ≥ 40 % of the bound (issue 20). Also peak memory of ``stream`` on
recordings of growing size (< 100 MB whatever the size) and start-up (``--version``, ``rules``) vs
``python -c "import click"`` (≤ 1.5×).

    python benchmarks/bench_stream.py             # full size, 5 repetitions
    python benchmarks/bench_stream.py --quick     # a tenth of the size, 1 repetition: a smoke test
    python benchmarks/bench_stream.py --json      # the rows as JSON (for benchmarks/run.py)
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from claude_doctor import synth
from claude_doctor.checks.stream import check_records, check_source
from claude_doctor.config import Config
from claude_doctor.recording import RecordingWriter, open_source
from claude_doctor.recording.model import Chunk, End, Request, Response

_TEXT = "the of and to in is that for it as with stream token model delta event Claude answer café naïve "
WORDS = (_TEXT + "résumé — “quoted” 日本語 中文 😀 🚀 ✓ λ").split()
#: the small-event generator's words: ASCII, accented, CJK, Hangul, emoji, typographic punctuation
_SMALL_TEXT = (
    "the of and to in is that for it as with was on be by this are from or stream token model delta event "
    "Claude answer request response error retry café naïve façade résumé Ωmega — “quoted” 日本語 中文 한국어 "
)
SMALL_WORDS = (_SMALL_TEXT + "😀 🚀 ✓ λ").split()
#: the API's ping as it is sent, with a space after the colon
API_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def make_body(target: int, seed: int = 1) -> tuple[bytes, int]:
    """Large events: text, thinking and tool_use blocks of short deltas, a ping every 100 events."""
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


def make_small_body(target: int, seed: int = 1) -> tuple[bytes, int]:
    """Small events, the SDK-decoder study's stream: one message of blocks of 50–3000 deltas of 1–4
    words each, a ping before 1 % of the events. Tool input comes in as many pieces of 1–12 characters
    as a text block has deltas, cut from one valid JSON object, so that the stream is clean."""
    rnd = random.Random(seed)
    parts = [synth.message_start(input_tokens=472)]
    size, index = len(parts[0]), 0

    def add(event: bytes) -> None:
        nonlocal size
        if rnd.random() < 0.01:
            parts.append(API_PING)
            size += len(API_PING)
        parts.append(event)
        size += len(event)

    while size < target:
        kind = rnd.choices(("thinking", "text", "tool_use"), (1, 8, 1))[0]
        n = rnd.randint(50, 3000)
        if kind == "tool_use":
            block = synth.tool_use_block(index, "get_weather", _json_pieces(rnd, n))
        else:
            texts = [" ".join(rnd.choice(SMALL_WORDS) for _ in range(rnd.randint(1, 4))) for _ in range(n)]
            if kind == "text":
                block = synth.text_block(index, texts)
            else:
                block = synth.thinking_block(index, texts, "EqQBCgIYAhIM" * 8)
        for event in block:
            add(event)
        index += 1
    parts += [synth.message_delta(output_tokens=len(parts)), synth.MESSAGE_STOP]
    return b"".join(parts), len(parts)


def _json_pieces(rnd: random.Random, n: int) -> list[str]:
    """``n`` pieces of 1–12 characters that join into one JSON object: ``{"q": "<words>"}``."""
    sizes = [rnd.randint(1, 12) for _ in range(n)]
    words = ""
    while len(words) < sum(sizes):
        words += " " + rnd.choice(SMALL_WORDS)
    text = json.dumps({"q": words[: max(1, sum(sizes) - 10)]}, ensure_ascii=False)
    cuts = [0]
    for size in sizes[:-1]:
        cuts.append(min(len(text), cuts[-1] + size))
    cuts.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


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


def interleaved(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """The median wall time of each function, run in turn ``repeat`` times after one warm-up round, so
    that a busy moment of a shared machine hits every one of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for n in range(repeat + 1):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            if n:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def sdk_decode(chunks: list[bytes]) -> int:
    from anthropic._streaming import SSEDecoder

    n = 0
    for sse in SSEDecoder().iter_bytes(iter(chunks)):
        if sse.data:
            json.loads(sse.data)
        n += 1
    return n


def split_bound(chunks: list[bytes]) -> int:
    """The bound: the whole body in memory, split on blank lines, each data line parsed by orjson."""
    n = 0
    for block in b"".join(chunks).split(b"\n\n"):
        if block:
            orjson.loads(block[block.find(b"data: ") + 6 :])
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


def cli(*args: str) -> list[str]:
    """The installed ``claude-doctor`` script when there is one (what a user runs), else ``-m``."""
    script = Path(sys.executable).with_name("claude-doctor")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "claude_doctor", *args]


#: The environment of every command timed: bytecode cached, as an installed package runs (a sandbox may set
#: PYTHONDONTWRITEBYTECODE, which would compile every module at every start); the cache goes to a folder of
#: its own, not into the source tree.
COMMAND_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
COMMAND_ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "claude-doctor-bench-pycache")


def whole_command(path: Path) -> None:
    proc = subprocess.run(
        cli("stream", str(path), "--format", "json"), capture_output=True, check=False, env=COMMAND_ENV
    )
    assert proc.returncode == 0 and b'"findings": []' in proc.stdout, proc.stdout[-300:] + proc.stderr[-300:]


def peak_rss_mb(args: list[str]) -> float:
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=COMMAND_ENV
    )
    return int(out.stdout.strip()) / 1024


def wall(args: list[str], repeat: int) -> float:
    return median_time(lambda: subprocess.run(args, stdout=subprocess.DEVNULL, check=False, env=COMMAND_ENV), repeat)


@dataclass
class Shape:
    """One stream shape, measured: median seconds of each variant, and its size."""

    name: str
    issue: str
    mb: float
    events: int
    chunks: int
    seconds: dict[str, float]
    rss: tuple[float, float]  #: peak MB of ``stream`` on the recording, and on one four times its size


def measure(name: str, issue: str, body: bytes, events: int, repeat: int, tmp: Path) -> Shape:
    chunks = random_chunks(body)
    path = tmp / f"{name}.jsonl"
    write_recording(path, chunks)
    seconds = interleaved(
        {
            "anchor": lambda: sdk_decode(chunks),
            "bound": lambda: split_bound(chunks),
            "command": lambda: whole_command(path),
            "file": lambda: ours_from_file(path),
            "memory": lambda: ours_in_memory(chunks),
        },
        repeat,
    )
    bigger = tmp / f"{name}-x4.jsonl"
    write_recording(bigger, chunks * 4)
    rss = (peak_rss_mb(cli("stream", str(path))), peak_rss_mb(cli("stream", str(bigger))))
    bigger.unlink()
    return Shape(name, issue, len(body) / 1e6, events, len(chunks), seconds, rss)


def shape_rows(shape: Shape) -> list[dict]:
    """A shape's measurements as rows of benchmarks/run.py's table."""
    s, n = shape.seconds, shape.events
    anchor = f"SDK SSEDecoder + json.loads: {n / s['anchor'] / 1e3:,.0f} k events/s"
    bound = f"bytes.split + orjson.loads: {n / s['bound'] / 1e3:,.0f} k events/s"
    large = shape.issue == "#3"
    variants = (
        ("the whole command `stream FILE --format json`", "command", None if large else 2.0),
        ("analysis of the recording file, in-process", "file", 1.5 if large else None),
        ("analysis of the chunks in memory", "memory", 1.5 if large else None),
    )
    rows = []
    for label, key, goal in variants:
        rows.append(
            {
                "issue": shape.issue,
                "measured": f"{shape.name}: {label}",
                "ours": f"{n / s[key] / 1e3:,.0f} k events/s",
                "anchor": anchor,
                "ratio": s["anchor"] / s[key],
                "goal": f"≥ {goal}×" if goal else "–",
                "met": s["anchor"] / s[key] >= goal if goal else None,
            }
        )
    if not large:
        for label, key in (("analysis of the recording file, in-process", "file"), ("the whole command", "command")):
            ratio = s["bound"] / s[key]
            rows.append(
                {
                    "issue": shape.issue,
                    "measured": f"{shape.name}: {label}, against the bound",
                    "ours": f"{n / s[key] / 1e3:,.0f} k events/s",
                    "anchor": bound,
                    "ratio": ratio,
                    "goal": "≥ 0.40× (40 % of the bound)" if key == "file" else "–",
                    "met": ratio >= 0.4 if key == "file" else None,
                }
            )
    rows.append(
        {
            "issue": shape.issue,
            "measured": f"{shape.name}: peak memory, `stream` on {shape.mb:.0f} MB and {4 * shape.mb:.0f} MB",
            "ours": f"{shape.rss[0]:.0f} MB / {shape.rss[1]:.0f} MB",
            "anchor": "–",
            "ratio": None,
            "goal": "< 100 MB",
            "met": max(shape.rss) < 100,
        }
    )
    return rows


def startup_rows(version: float, rules: float, click: float) -> list[dict]:
    return [
        {
            "issue": "#3",
            "measured": f"start-up, {name}",
            "ours": f"{seconds * 1e3:.0f} ms",
            "anchor": f"`python -c 'import click'`: {click * 1e3:.0f} ms",
            "ratio": seconds / click,
            "goal": "≤ 1.5×",
            "met": seconds / click <= 1.5,
        }
        for name, seconds in (("`claude-doctor --version`", version), ("`claude-doctor rules`", rules))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=50, help="size of the large-event stream")
    parser.add_argument("--small-mb", type=float, default=20, help="size of the small-event stream")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes, 1 repetition")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    if args.quick:
        args.mb, args.small_mb, args.repeat = args.mb / 10, args.small_mb / 10, 1
    with tempfile.TemporaryDirectory() as tmp:
        shapes = [
            measure("small events", "#20", *make_small_body(int(args.small_mb * 1e6)), args.repeat, Path(tmp)),
            measure("large events", "#3", *make_body(int(args.mb * 1e6)), args.repeat, Path(tmp)),
        ]
    click = wall([sys.executable, "-c", "import click"], args.repeat * 2)
    version = wall(cli("--version"), args.repeat * 2)
    rules = wall(cli("rules"), args.repeat * 2)
    rows = [row for shape in shapes for row in shape_rows(shape)] + startup_rows(version, rules, click)
    setup = "; ".join(
        f"{s.name} {s.mb:.1f} MB, {s.events:,} events, {s.chunks:,} chunks of 1–4096 bytes" for s in shapes
    )
    setup += f"; interleaved, median of {args.repeat}"
    if args.json:
        print(json.dumps({"setup": setup, "rows": rows}))
        return
    print(f"# stream benchmark: {setup}\n")
    print("| measured | ours | anchor (same run) | ratio | goal |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        print(f"| {row['measured']} | {row['ours']} | {row['anchor']} | {ratio} | {row['goal']} |")


if __name__ == "__main__":
    main()
