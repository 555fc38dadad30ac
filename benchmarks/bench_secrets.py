"""Benchmark: `claude-doctor secrets` against stock detect-secrets, same files, same run.

1. Hook: wall time of `claude-doctor secrets F1..F10` vs `detect-secrets-hook F1..F10` on a 10-file
   commit (random .py files from this venv, 3 of them with a planted key); goal ≤ 1.0× while finding
   every key.
2. Scan: throughput of `claude-doctor secrets` (git-tracked files) vs `detect-secrets scan` on a large
   tree (this venv's site-packages, copied without __pycache__ into a temp git repo, keys planted);
   goal ≥ 5× faster.

    python benchmarks/bench_secrets.py [--runs 5] [--max-mb 40] [--stock-runs 1] [--json]

``--json`` prints the rows for ``benchmarks/run.py``.

Keys are generated at run time and never printed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.secrets_corpus.corpus import fake_key  # noqa: E402

BIN = Path(sys.executable).parent
SITE = Path(sysconfig.get_paths()["purelib"])
CONTEXTS = [
    'client = anthropic.Anthropic(api_key="{key}")\n',
    "# curl -H 'x-api-key: {key}' https://api.anthropic.com/v1/models\n",
    "KEY = '{key}'\n",
]


def timed(args: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def median_run(args: list[str], cwd: Path, runs: int) -> tuple[float, subprocess.CompletedProcess]:
    timed(args, cwd)  # warm the page cache and the interpreter's .pyc files
    results = [timed(args, cwd) for _ in range(runs)]
    return statistics.median(t for t, _ in results), results[-1][1]


def build_tree(dest: Path, max_mb: float) -> tuple[int, int]:
    """Copy site-packages (sorted, up to max_mb) into a git repo; returns (files, bytes)."""
    files, size, limit = 0, 0, max_mb * 1e6 if max_mb > 0 else float("inf")
    for src in sorted(SITE.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts or src.suffix == ".pth":
            continue
        target = dest / src.relative_to(SITE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        files, size = files + 1, size + src.stat().st_size
        if size >= limit:
            break
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return files, size


def plant(files: list[Path], count: int) -> int:
    """Append a key in a different context to ``count`` of ``files``; returns how many were planted."""
    for i, path in enumerate(random.sample(files, count)):
        with path.open("a", encoding="utf-8") as out:
            out.write("\n" + CONTEXTS[i % len(CONTEXTS)].format(key=fake_key()))
    return count


def ours_found(proc: subprocess.CompletedProcess) -> int:
    return sum(1 for f in json.loads(proc.stdout)["findings"] if f["code"] == "CD301")


def bench_hook(tree: Path, runs: int) -> dict:
    py_files = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
    commit = [p.relative_to(tree) for p in random.sample(py_files, 10)]
    planted = plant([tree / p for p in commit], 3)
    names = [str(p) for p in commit]
    ours_t, ours = median_run([str(BIN / "claude-doctor"), "secrets", "--format", "json", *names], tree, runs)
    stock_t, stock = median_run([str(BIN / "detect-secrets-hook"), "--json", *names], tree, runs)
    stock_hits = stock.stdout.count('"type"') if stock.returncode == 1 else 0
    return {
        "files": 10,
        "bytes": sum((tree / p).stat().st_size for p in commit),
        "planted": planted,
        "ours_s": ours_t,
        "ours_found": ours_found(ours),
        "stock_s": stock_t,
        "stock_findings": stock_hits,
    }


def bench_scan(tree: Path, runs: int, stock_runs: int, size: int) -> dict:
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    ours_t, ours = median_run([str(BIN / "claude-doctor"), "secrets", "--format", "json"], tree, runs)
    stock_times = [timed([str(BIN / "detect-secrets"), "scan"], tree) for _ in range(stock_runs)]
    stock_t = statistics.median(t for t, _ in stock_times)
    results = json.loads(stock_times[-1][1].stdout)["results"]
    return {
        "ours_s": ours_t,
        "ours_found": ours_found(ours),
        "ours_mb_s": size / 1e6 / ours_t,
        "stock_s": stock_t,
        "stock_findings": sum(len(v) for v in results.values()),
        "stock_mb_s": size / 1e6 / stock_t,
    }


def result_rows(hook: dict, scan: dict, size: int, planted: int) -> list[dict]:
    """The measurements as rows of benchmarks/run.py's table."""
    hook_ratio = hook["ours_s"] / hook["stock_s"]
    return [
        {
            "measured": f"`secrets` as the hook, 10 files ({hook['bytes'] / 1e3:.0f} KB)",
            "ours": f"{hook['ours_s'] * 1e3:.0f} ms, found {hook['ours_found']}/{hook['planted']} keys",
            "anchor": f"`detect-secrets-hook`: {hook['stock_s'] * 1e3:.0f} ms",
            "ratio": hook_ratio,
            "goal": "≤ 1.0× and every key",
            "met": hook_ratio <= 1.0 and hook["ours_found"] >= hook["planted"],
        },
        {
            "measured": f"`secrets` full scan, {size / 1e6:.1f} MB",
            "ours": f"{scan['ours_mb_s']:.1f} MB/s, found {scan['ours_found']}/{planted} keys",
            "anchor": f"`detect-secrets scan`: {scan['stock_mb_s']:.2f} MB/s",
            "ratio": scan["stock_s"] / scan["ours_s"],
            "goal": "≥ 5× faster",
            "met": scan["stock_s"] / scan["ours_s"] >= 5,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per claude-doctor/hook measurement")
    parser.add_argument("--stock-runs", type=int, default=1, help="timed runs of the (slow) full detect-secrets scan")
    parser.add_argument("--max-mb", type=float, default=40, help="size of the tree copied from site-packages (0: all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as tmp:
        tree = Path(tmp)
        files, size = build_tree(tree, args.max_mb)
        hook = bench_hook(tree, args.runs)
        planted = hook["planted"] + plant(sorted(tree.rglob("*.py")), 7)
        scan = bench_scan(tree, args.runs, args.stock_runs, size)
    if args.json:
        setup = f"{files} files, {size / 1e6:.1f} MB of site-packages, {planted} keys planted, median of {args.runs}"
        print(json.dumps({"setup": setup, "rows": result_rows(hook, scan, size, planted)}))
        return
    print(f"tree: {files} files, {size / 1e6:.1f} MB (site-packages of {sys.executable}); {planted} keys planted")
    print(f"hook, 10 files ({hook['bytes'] / 1e3:.0f} KB, {hook['planted']} keys), median of {args.runs}:")
    print(f"  claude-doctor secrets  {hook['ours_s'] * 1e3:7.0f} ms  found {hook['ours_found']}/{hook['planted']}")
    print(f"  detect-secrets-hook    {hook['stock_s'] * 1e3:7.0f} ms  findings {hook['stock_findings']}")
    print(f"  ratio                  {hook['ours_s'] / hook['stock_s']:.2f}x  (goal <= 1.0x)")
    print(f"full scan ({size / 1e6:.1f} MB):")
    print(
        f"  claude-doctor secrets  {scan['ours_s']:7.2f} s  {scan['ours_mb_s']:7.1f} MB/s  found {scan['ours_found']}"
    )
    print(
        f"  detect-secrets scan    {scan['stock_s']:7.2f} s  {scan['stock_mb_s']:7.2f} MB/s  "
        f"findings {scan['stock_findings']} (n={args.stock_runs})"
    )
    print(f"  speed-up               {scan['stock_s'] / scan['ours_s']:.0f}x  (goal >= 5x)")


if __name__ == "__main__":
    main()
