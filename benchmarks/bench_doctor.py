"""Benchmark: `claude-doctor` (the doctor command: environment, code, secrets, recordings) on a clean
generated tree of 10k files, as a ratio to `git ls-files | xargs cat > /dev/null` on the same tree in
the same run (the cost of merely reading every file git knows). Goal: under 2 s.

The tree is a git repository (files added to the index, plus some untracked ones git does not ignore
and an ignored build folder) with the claude-doctor-secrets hook configured: mostly non-Python text
(Markdown, JSON, YAML, CSV, JS, HTML) and about 10 % Python with real SDK streaming code, plus a few
recordings under recordings/. Nothing in it is a finding, so the run must exit 0.

    python benchmarks/bench_doctor.py [--files 10000] [--python-share 0.1] [--runs 5] [--json]

``--json`` prints the rows for ``benchmarks/run.py``.

A fake, well-formed key is put in the environment (built at run time, never printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.0

PYTHON = '''\
"""Module {n}: streams an answer."""

import anthropic

client = anthropic.Anthropic()


def answer_{n}(prompt: str) -> str:
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=1024, messages=[{{"role": "user", "content": prompt}}]
    ) as stream:
        parts = []
        for text in stream.text_stream:
            parts.append(text)
    return "".join(parts)


async def answer_async_{n}(aclient: anthropic.AsyncAnthropic, prompt: str) -> str:
    async with aclient.messages.stream(
        model="claude-sonnet-4-6", max_tokens=1024, messages=[{{"role": "user", "content": prompt}}]
    ) as stream:
        return await stream.get_final_text()
'''
HOOK = "repos:\n  - repo: local\n    hooks:\n      - id: claude-doctor-secrets\n        name: keys\n"
KINDS = {
    ".md": lambda n, r: f"# Page {n}\n\n" + "\n\n".join(_words(r, 60) for _ in range(r.randint(3, 30))) + "\n",
    ".json": lambda n, r: "{" + ", ".join(f'"k{i}": "{_words(r, 3)}"' for i in range(r.randint(5, 200))) + "}\n",
    ".yaml": lambda n, r: "".join(f"key_{i}: {_words(r, 4)}\n" for i in range(r.randint(5, 150))),
    ".csv": lambda n, r: "".join(",".join(str(r.randint(0, 10**6)) for _ in range(8)) + "\n" for _ in range(200)),
    ".js": lambda n, r: "".join(f"export const v{i} = {r.randint(0, 999)}; // {_words(r, 5)}\n" for i in range(80)),
    ".html": lambda n, r: f"<html><body><h1>{n}</h1>" + "".join(f"<p>{_words(r, 30)}</p>" for _ in range(20)) + "\n",
}


def _words(r: random.Random, count: int) -> str:
    return " ".join("".join(r.choices(string.ascii_lowercase, k=r.randint(2, 9))) for _ in range(count))


def fake_key() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "sk-ant-api03-" + "".join(random.choice(alphabet) for _ in range(93)) + "AA"


def build_tree(dest: Path, files: int, python_share: float) -> tuple[int, int, int]:
    """Write ``files`` files under ``dest`` (a git repository); returns (files, python files, bytes)."""
    r = random.Random(8)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    (dest / ".pre-commit-config.yaml").write_text(HOOK, encoding="utf-8")
    (dest / ".gitignore").write_text("build/\n", encoding="utf-8")
    (dest / "recordings").mkdir()
    for name in ("clean-text.jsonl", "clean-tool-use.jsonl", "clean-pings-keep-alive.jsonl"):
        shutil.copy(ROOT / "recordings" / name, dest / "recordings" / name)
    written, pythons, size = 5, 0, 0
    suffixes = list(KINDS)
    while written < files:
        folder = dest / f"pkg{written % 40:02d}" / f"sub{written % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        if r.random() < python_share:
            path, text = folder / f"mod_{written}.py", PYTHON.format(n=written)
            pythons += 1
        else:
            suffix = r.choice(suffixes)
            path, text = folder / f"file_{written}{suffix}", KINDS[suffix](written, r)
        path.write_text(text, encoding="utf-8")
        size += len(text)
        written += 1
    # an ignored build folder that doctor must not read
    (dest / "build").mkdir()
    for i in range(500):
        (dest / "build" / f"out_{i}.py").write_text("x = 1\n" * 50, encoding="utf-8")
    # all but the last 100 files are added to the index; those stay untracked (but not ignored)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--others", "--exclude-standard"], cwd=dest, capture_output=True, check=True
    ).stdout.split(b"\0")
    names = sorted(os.fsdecode(n) for n in listed if n)
    for start in range(0, len(names) - 100, 2000):
        subprocess.run(["git", "add", "--", *names[start : min(start + 2000, len(names) - 100)]], cwd=dest, check=True)
    return written, pythons, size


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def median_run(args: list[str], cwd: Path, env: dict[str, str], runs: int) -> tuple[float, subprocess.CompletedProcess]:
    timed(args, cwd, env)  # warm the page cache and the .pyc files
    results = [timed(args, cwd, env) for _ in range(runs)]
    return statistics.median(t for t, _ in results), results[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--python-share", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_") and "proxy" not in k.lower()}
    env.update({"ANTHROPIC_API_KEY": fake_key(), "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    with tempfile.TemporaryDirectory(prefix="bench-doctor-") as tmp:
        tree = Path(tmp)
        files, pythons, size = build_tree(tree, args.files, args.python_share)
        tracked = len(subprocess.run(["git", "ls-files"], cwd=tree, capture_output=True, text=True).stdout.split())
        cat, _ = median_run(["bash", "-c", "git ls-files -z | xargs -0 cat > /dev/null"], tree, env, args.runs)
        ours, proc = median_run([sys.executable, "-m", "claude_doctor"], tree, env, args.runs)
        if proc.returncode != 0:
            sys.exit(f"claude-doctor exit {proc.returncode} on a clean tree:\n{proc.stdout}\n{proc.stderr}")
        status = [line for line in proc.stdout.splitlines() if line.startswith("[")]

    if args.json:
        row = {
            "measured": f"`claude-doctor` on a clean tree of {files:,} files ({size / 1e6:.1f} MB)",
            "ours": f"{ours:.3f} s",
            "anchor": f"`git ls-files | xargs cat`: {cat:.3f} s",
            "ratio": ours / cat,
            "goal": f"< {GOAL:.0f} s",
            "met": ours < GOAL,
        }
        print(json.dumps({"setup": f"{files} files, median of {args.runs}", "rows": [row]}))
        return

    print(
        f"tree: {files} files ({pythons} Python, {size / 1e6:.1f} MB; {tracked} tracked, {files - tracked} untracked)"
        f" + 500 git-ignored; median of {args.runs} runs after one warm-up; Python {sys.version.split()[0]}\n"
    )
    print("| command | wall time | ratio |")
    print("|---|---:|---:|")
    print(f"| `git ls-files \\| xargs cat > /dev/null` | {cat:.3f} s | 1.0× |")
    print(f"| `claude-doctor` | {ours:.3f} s | {ours / cat:.1f}× |")
    print(f"\ngoal: claude-doctor under {GOAL:.0f} s: {'met' if ours < GOAL else 'NOT met'}")
    print("\n".join(status))


if __name__ == "__main__":
    main()
