"""How fast ``claude-doctor code`` checks a large tree, against ``ruff check --select ALL`` and
``python -m py_compile`` on the same tree in the same run.

The tree is a copy of the installed ``anthropic`` package's sources (real SDK code, full of the names
the checker resolves) trimmed to about ``--lines`` lines, plus generated application modules that
exercise every rule. A second, real tree is every ``.py`` file of this interpreter's site-packages
(``--real-tree`` for another folder), where most files never name what a rule needs: it is checked
against ``ruff check --select E,F`` (issue #13: faster than that), and with ``--verify`` its findings
are compared with those of a check that parses every file; with ``--select CODE`` the real tree is also
checked for that rule alone, which runs only its check and parses only the files it can fire in. Run:
``python benchmarks/bench_code.py [--lines 100000] [--repeat 3] [--real-tree PATH] [--verify]
[--select CD201] [--json]`` (``--json``: the rows for ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

GENERATED_SHARE = 0.2  #: part of the tree that is generated application code
APP_MODULE = """\
import asyncio
import httpx
from anthropic import Anthropic, AsyncAnthropic
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()
client = Anthropic(timeout=10)
aclient = AsyncAnthropic()


class Service{n}:
    def __init__(self):
        self.llm = AsyncAnthropic(http_client=httpx.AsyncClient())

    async def answer(self, prompt):
        message = client.messages.create(model="m", max_tokens=64, messages=[], temperature=0.2)
        with self.llm.messages.stream(model="m", max_tokens=64, messages=[], stream=True) as stream:
            for text in stream.text_stream:
                yield text

    def sync(self, prompt):
        loop = asyncio.get_event_loop()
        raw = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
        return raw.get_final_message(), loop


@app.get("/chat{n}")
async def chat{n}(q: str):
    reply = aclient.messages.create(model="m", max_tokens=64, messages=[])
    return StreamingResponse(relay(reply.content), media_type="text/event-stream")


async def relay(items):
    for item in items:
        yield item
"""


def sdk_sources() -> Path:
    spec = importlib.util.find_spec("anthropic")
    if spec is None or not spec.origin:
        sys.exit("bench_code: the anthropic package is not installed")
    return Path(spec.origin).parent


def build_tree(root: Path, target_lines: int) -> tuple[int, int]:
    """Copy SDK sources until the non-generated share is reached, then add generated modules.
    Returns (files, lines)."""
    files = lines = 0
    budget = int(target_lines * (1 - GENERATED_SHARE))
    source_root = sdk_sources()
    for path in sorted(source_root.rglob("*.py")):
        if lines >= budget:
            break
        text = path.read_text(encoding="utf-8")
        destination = root / "sdk" / path.relative_to(source_root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        files, lines = files + 1, lines + text.count("\n")
    n = 0
    while lines < target_lines:
        text = APP_MODULE.format(n=n)
        destination = root / "app" / f"service_{n:04d}.py"
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        files, lines, n = files + 1, lines + text.count("\n"), n + 1
    return files, lines


def timed(command: list[str], repeat: int) -> float:
    """Best wall time of ``repeat`` runs (the usual way to take noise out of a benchmark)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def copy_python_files(source: Path, destination: Path) -> tuple[int, int]:
    """Every ``.py`` file under ``source``, copied to ``destination`` (outside any git work tree, so the
    walk takes them all). Returns (files, lines)."""
    files = lines = 0
    for path in sorted(source.rglob("*.py")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        target = destination / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        files, lines = files + 1, lines + data.count(b"\n")
    return files, lines


def median_times(commands: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Median wall time of each command over ``repeat`` rounds, the commands taking turns within a
    round, so that the load of a shared machine weighs on each alike."""
    runs: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            runs[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in runs.items()}


def code_findings(root: Path) -> list[tuple]:
    """The CD2xx findings of ``claude-doctor code`` on ``root``, as the CLI reports them."""
    command = [sys.executable, "-m", "claude_doctor", "code", str(root), "--format", "json"]
    report = json.loads(subprocess.run(command, capture_output=True, check=False).stdout)
    return sorted(
        (f["path"], f["code"], f["line"], f["column"], f["message"])
        for f in report["findings"]
        if f["code"].startswith("CD2")
    )


def full_parse_findings(root: Path) -> list[tuple]:
    """The CD2xx findings when every file is parsed and checked: the prefilter says yes to all."""
    from claude_doctor.checks.code import runner
    from claude_doctor.checks.code.checker import Options
    from claude_doctor.checks.code.walk import collect_files

    files, _ = collect_files([root], [], None)
    runner.may_hold_finding = lambda text, project=None, codes=None: True
    results = runner.check_files(files, Options(sdk_major=runner.sdk_major()))
    return sorted((f.path, f.code, f.line, f.column, f.message) for r in results for f in r.findings)


def real_tree_rows(source: Path, repeat: int, verify: bool, select: str | None = None) -> tuple[str, list[dict]]:
    """``claude-doctor code`` against ``ruff check --select E,F`` on a copy of ``source`` (and, for
    ``select``, ``code --select`` against ``code`` with every rule)."""
    with tempfile.TemporaryDirectory(prefix="bench-code-real-") as folder:
        root = Path(folder) / "tree"
        files, lines = copy_python_files(source, root)
        ours_command = [sys.executable, "-m", "claude_doctor", "code", str(root), "--format", "json"]
        commands = {
            "claude-doctor code": ours_command,
            "ruff check --select E,F": [shutil.which("ruff") or "ruff", "check", "--select", "E,F", "--isolated"]
            + ["--no-cache", "--quiet", str(root)],
        }
        if select:
            commands["selected"] = [*ours_command, "--select", select]
        times = median_times(commands, repeat)
        same = None
        if verify:
            ours = code_findings(root)
            same = (ours == full_parse_findings(root), len(ours))
    setup = f"real tree: {source}, {files:,} files, {lines:,} lines, median of {repeat} interleaved runs"
    ours, ruff = times["claude-doctor code"], times["ruff check --select E,F"]
    verified = ""
    if same is not None:
        verified = f", {same[1]} findings, {'the same' if same[0] else 'NOT the same'} as a full parse"
    row = {
        "measured": f"`claude-doctor code`, real tree ({files:,} files, {lines:,} lines{verified})",
        "ours": f"{ours:.2f} s",
        "anchor": f"`ruff check --select E,F --no-cache`: {ruff:.2f} s",
        "ratio": ruff / ours,
        "goal": "faster than ruff E,F (#13)",
        "met": ours < ruff and (same is None or same[0]),
    }
    rows = [row]
    if select:
        rows.append(
            {
                "measured": f"`claude-doctor code --select {select}`, the same real tree",
                "ours": f"{times['selected']:.2f} s",
                "anchor": f"`claude-doctor code` (every rule): {ours:.2f} s",
                "ratio": ours / times["selected"],
                "goal": "only the selected rule's check runs: faster than every rule",
                "met": times["selected"] < ours,
            }
        )
    return setup, rows


def result_rows(times: dict[str, float], lines: int) -> list[dict]:
    """The measurements as rows of benchmarks/run.py's table: our lines/s against each anchor's."""
    ours = times["claude-doctor code"]
    per_100k = ours * 100_000 / lines
    return [
        {
            "measured": f"`claude-doctor code`, {lines:,} lines ({os.cpu_count()} cores)",
            "ours": f"{lines / ours:,.0f} lines/s ({per_100k:.2f} s per 100k lines)",
            "anchor": f"`{name}`: {lines / seconds:,.0f} lines/s",
            "ratio": seconds / ours,
            "goal": "100k lines < 3 s",
            "met": per_100k < 3.0,
        }
        for name, seconds in times.items()
        if name != "claude-doctor code"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real-tree", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    parser.add_argument("--verify", action="store_true", help="compare the real tree's findings with a full parse")
    parser.add_argument("--select", help="also time the real tree with only this rule selected (e.g. CD201)")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-code-") as folder:
        root = Path(folder)
        files, lines = build_tree(root, args.lines)
        paths = [str(p) for p in sorted(root.rglob("*.py"))]
        commands = {
            "claude-doctor code": [sys.executable, "-m", "claude_doctor", "code", str(root), "--format", "json"],
            "ruff check --select ALL": [
                shutil.which("ruff") or "ruff",
                "check",
                "--select",
                "ALL",
                "--isolated",
                "--no-cache",
                "--quiet",
                str(root),
            ],
            "python -m py_compile": [sys.executable, "-m", "py_compile", *paths],
        }
        times = {name: timed(command, args.repeat) for name, command in commands.items()}
        shutil.rmtree(root / "sdk", ignore_errors=True)
    ours = times["claude-doctor code"]
    real_setup, real_rows = real_tree_rows(args.real_tree, args.repeat, args.verify, args.select)
    if args.json:
        setup = f"{files} files, {lines:,} lines, best of {args.repeat}; {real_setup}"
        print(json.dumps({"setup": setup, "rows": result_rows(times, lines) + real_rows}))
        return
    print(f"tree: {files} files, {lines:,} lines (anthropic sources + generated app modules)")
    print(f"{'tool':<26}{'seconds':>9}{'lines/s':>12}{'claude-doctor ÷ tool':>23}")
    for name, seconds in times.items():
        ratio = (lines / ours) / (lines / seconds)
        print(f"{name:<26}{seconds:>9.2f}{lines / seconds:>12,.0f}{ratio:>22.2f}x")
    verdict = "meets" if ours < 3.0 * lines / 100_000 else "misses"
    print(f"goal 100k lines < 3 s: {verdict} ({ours * 100_000 / lines:.2f} s per 100k lines)")
    print(real_setup)
    for row in real_rows:
        print(f"{row['measured']}: {row['ours']}; {row['anchor']}; ratio {row['ratio']:.2f}x")
        print(f"goal {row['goal']}: {'meets' if row['met'] else 'misses'}")


if __name__ == "__main__":
    main()
