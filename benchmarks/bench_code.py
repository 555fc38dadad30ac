"""How fast ``claude-doctor code`` checks a large tree, against ``ruff check --select ALL`` and
``python -m py_compile`` on the same tree in the same run.

The tree is a copy of the installed ``anthropic`` package's sources (real SDK code, full of the names
the checker resolves) trimmed to about ``--lines`` lines, plus generated application modules that
exercise every rule. Run: ``python benchmarks/bench_code.py [--lines 100000] [--repeat 3] [--json]``
(``--json``: the rows for ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
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
    if args.json:
        print(
            json.dumps(
                {"setup": f"{files} files, {lines:,} lines, best of {args.repeat}", "rows": result_rows(times, lines)}
            )
        )
        return
    print(f"tree: {files} files, {lines:,} lines (anthropic sources + generated app modules)")
    print(f"{'tool':<26}{'seconds':>9}{'lines/s':>12}{'claude-doctor ÷ tool':>23}")
    for name, seconds in times.items():
        ratio = (lines / ours) / (lines / seconds)
        print(f"{name:<26}{seconds:>9.2f}{lines / seconds:>12,.0f}{ratio:>22.2f}x")
    verdict = "meets" if ours < 3.0 * lines / 100_000 else "misses"
    print(f"goal 100k lines < 3 s: {verdict} ({ours * 100_000 / lines:.2f} s per 100k lines)")


if __name__ == "__main__":
    main()
