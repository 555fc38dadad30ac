"""Run every benchmark and print one table: what was measured, our figure, the anchor measured in the
same run, the ratio, the goal (from the issue that set it), and whether it is met. The table, with the
machine it ran on, is written to ``benchmarks/results.md``.

    python benchmarks/run.py                 # full size (several minutes); writes benchmarks/results.md
    python benchmarks/run.py --quick         # a small version of each, well under a minute: a smoke test
    python benchmarks/run.py --only stream --out /tmp/results.md
    python benchmarks/run.py --only stream --note "busy: 7 other jobs on the 2 cores"

``--only`` into a results file that exists keeps the rows of the benchmarks it does not run (their
figures from an earlier run, said so under the table), so one benchmark can be re-measured alone.
``--note`` adds a line on the state of the machine (busy, on battery, …) to the machine description.

Each benchmark runs in its own subprocess (``bench_*.py --json``), so memory and start-up figures are
not disturbed by the others. A benchmark whose script is missing gets a "not available" row; one that
fails gets a "failed" row and the exit status is 1. ``--quick`` figures are too small to judge the
goals by, so the "met" column says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    issue: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHES = (
    Bench("stream", "bench_stream.py", "#3", (), ("--quick",)),
    Bench("proxy", "bench_proxy.py", "#5", (), ("--quick",)),
    Bench("code", "bench_code.py", "#6", (), ("--lines", "4000", "--repeat", "1")),
    Bench("secrets", "bench_secrets.py", "#7", (), ("--runs", "1", "--stock-runs", "1", "--max-mb", "1")),
    Bench("doctor", "bench_doctor.py", "#8", (), ("--files", "400", "--runs", "1")),
    Bench("soak", "bench_soak.py", "#15", (), ("--quick",)),
    Bench("monitor", "bench_monitor.py", "#17", (), ("--quick",)),
)
#: goals of a benchmark whose script is missing, so the table still shows every issue's goal
PENDING_GOALS = {"proxy": ("p99 added latency per chunk; throughput through the proxy", "< 1 ms; ≥ 90 % of direct")}


@dataclass
class Outcome:
    bench: Bench
    status: str  # "ok", "not available", "failed"
    rows: list[dict]
    setup: str = ""
    seconds: float = 0.0
    detail: str = ""  # raw output of a benchmark without --json, or the error


def run_bench(bench: Bench, quick: bool, timeout: float | None) -> Outcome:
    script = HERE / bench.script
    if not script.exists():
        measured, goal = PENDING_GOALS.get(bench.name, (bench.name, "–"))
        row = {
            "measured": measured,
            "ours": "not available",
            "anchor": f"benchmarks/{bench.script} is missing",
            "ratio": None,
            "goal": goal,
            "met": None,
        }
        return Outcome(bench, "not available", [row])
    args = [sys.executable, str(script), *(bench.quick if quick else bench.full)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    try:
        proc = subprocess.run([*args, "--json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _failed(bench, f"timed out after {timeout:.0f} s", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith("{"):
                try:
                    data = json.loads(line)
                except ValueError:
                    break
                return Outcome(bench, "ok", list(data["rows"]), data.get("setup", ""), seconds)
    tail = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
    return _failed(bench, f"exit {proc.returncode}: {tail}", seconds)


def _failed(bench: Bench, why: str, seconds: float) -> Outcome:
    row = {"measured": bench.name, "ours": "failed", "anchor": why, "ratio": None, "goal": "–", "met": None}
    return Outcome(bench, "failed", [row], seconds=seconds, detail=why)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(outcomes: list[Outcome], quick: bool) -> str:
    lines = [
        "| benchmark | measured | ours | anchor (same run) | ratio | goal | met |",
        "|---|---|---|---|---:|---|---|",
    ]
    for outcome in outcomes:
        for row in outcome.rows:
            ratio = "–" if row.get("ratio") is None else f"{row['ratio']:.2f}×"
            met = row.get("met")
            if outcome.status != "ok" or met is None:
                verdict = outcome.status if outcome.status != "ok" else "–"
            elif quick:
                verdict = "(quick run: not judged)"
            else:
                verdict = "yes" if met else "**no**"
            name = f"{outcome.bench.name} ({row.get('issue', outcome.bench.issue)})"
            cells = (name, row["measured"], row["ours"], row["anchor"], ratio, row["goal"], verdict)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"- CPU: {cpu}, {os.cpu_count()} cores ({usable} usable)\n"
        f"- memory: {memory or 'unknown'}\n"
        f"- Python {platform.python_version()} ({platform.python_implementation()})\n"
        f"- OS: {platform.platform()}\n"
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}"
    )


@dataclass
class Kept:
    """The rows and setup lines of the benchmarks not run this time, from the results file there was."""

    rows: list[str]
    setups: list[str]


def kept_results(path: Path, ran: set[str]) -> Kept:
    """What ``path`` says of every benchmark not in ``ran``: its table rows and its setup line."""
    if not path.exists():
        return Kept([], [])
    rows, setups = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| ") and not line.startswith("| benchmark |"):
            name = line[2:].split(" (", 1)[0]
            if name in {b.name for b in BENCHES} and name not in ran:
                rows.append(line)
        elif line.startswith("- ") and ":" in line:
            name = line[2:].split(":", 1)[0]
            if name in {b.name for b in BENCHES} and name not in ran:
                setups.append(line)
    return Kept(rows, setups)


def report(outcomes: list[Outcome], quick: bool, command: str, kept: Kept | None = None, note: str = "") -> str:
    kept = kept or Kept([], [])
    ran = ", ".join(o.bench.name for o in outcomes)
    parts = [
        "# Benchmark results",
        "",
        f"Generated by `{command}`; do not edit by hand. Ratios compare our figure with the anchor measured "
        "in the same run (for speeds: how many times faster we are; for wall times: ours ÷ anchor).",
        "",
        "## Machine",
        "",
        machine() + (f"\n- note: {note}" if note else ""),
        "",
        "## Results" + (" (quick run: sizes too small to judge the goals)" if quick else ""),
        "",
        table(outcomes, quick) + "".join("\n" + row for row in kept.rows),
        "",
    ]
    if kept.rows:
        parts += [
            f"Rows of {ran} measured on the date above; the others are from an earlier run of the same command.",
            "",
        ]
    parts += ["## Setups", ""]
    for outcome in outcomes:
        setup = outcome.setup or outcome.status
        parts.append(f"- {outcome.bench.name}: {setup}; {outcome.seconds:.1f} s")
    parts += kept.setups
    for outcome in outcomes:
        if outcome.detail and outcome.status == "ok":
            parts += ["", f"## {outcome.bench.name} report", "", outcome.detail]
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version of each benchmark (CI smoke test)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="where to write the results")
    parser.add_argument("--only", action="append", choices=[b.name for b in BENCHES], help="run only these")
    parser.add_argument("--note", default="", help="a line on the state of the machine, for the results")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    timeout = 300.0 if args.quick else None
    outcomes = []
    for bench in chosen:
        print(f"running {bench.name} …", file=sys.stderr, flush=True)
        outcomes.append(run_bench(bench, args.quick, timeout))
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    kept = kept_results(args.out, {b.name for b in chosen}) if args.only else None
    text = report(outcomes, args.quick, command, kept, args.note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(table(outcomes, args.quick))
    print(f"\nwritten to {args.out}", file=sys.stderr)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
