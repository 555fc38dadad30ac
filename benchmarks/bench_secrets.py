"""Benchmark: `claude-doctor secrets` against stock detect-secrets, same files, same run.

1. Hook: wall time of `claude-doctor secrets F1..Fn` vs `detect-secrets-hook F1..Fn` on a 1-file and
   a 10-file commit (random .py files from this venv, with 1 and 3 planted keys); goal ≤ 1.0× while
   finding every key.
2. Scan: throughput of `claude-doctor secrets` (git-tracked files) vs `detect-secrets scan` on a large
   tree (this venv's site-packages, copied without __pycache__ into a temp git repo, keys planted);
   goal ≥ 5× faster.
3. History: `claude-doctor secrets --history` on a repository of 2,000 commits (Python files from this
   venv edited a line at a time, keys added and removed again, one in a commit message) vs `git log
   --all -p | grep -c sk-ant-` on the same repository, the floor any history scan stands on; goal ≤ 2×.

    python benchmarks/bench_secrets.py [--runs 5] [--max-mb 40] [--stock-runs 1] [--commits 2000] [--hook-only] [--json]

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


def median_pair(
    first: list[str], second: list[str], cwd: Path, runs: int
) -> tuple[tuple[float, subprocess.CompletedProcess], tuple[float, subprocess.CompletedProcess]]:
    """Both commands' medians, their runs interleaved: on a shared machine a burst of load then slows
    both alike instead of whichever happened to run during it."""
    timed(first, cwd), timed(second, cwd)  # warm-up
    pairs = [(timed(first, cwd), timed(second, cwd)) for _ in range(runs)]
    return tuple(  # type: ignore[return-value]
        (statistics.median(t for t, _ in side), side[-1][1]) for side in zip(*pairs, strict=True)
    )


def build_tree(dest: Path, max_mb: float) -> tuple[int, int]:
    """Copy site-packages (sorted, up to max_mb) into a git repo; returns (files, bytes)."""
    files, size, limit = 0, 0, max_mb * 1e6 if max_mb > 0 else float("inf")
    for src in sorted(SITE.rglob("*")):
        # Built extension modules are not what a repository holds, and one (brotli's) alone would fill
        # the quick run's 1 MB, leaving no Python files to commit.
        if not src.is_file() or "__pycache__" in src.parts or src.suffix in (".pth", ".so", ".pyd", ".dylib"):
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


def bench_hook(tree: Path, runs: int, files: int = 10) -> dict:
    py_files = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 200_000)
    commit = [p.relative_to(tree) for p in random.sample(py_files, files)]
    planted = plant([tree / p for p in commit], min(3, files))
    names = [str(p) for p in commit]
    ours_args = [str(BIN / "claude-doctor"), "secrets", "--format", "json", *names]
    (ours_t, ours), (stock_t, stock) = median_pair(
        ours_args, [str(BIN / "detect-secrets-hook"), "--json", *names], tree, runs
    )
    stock_hits = stock.stdout.count('"type"') if stock.returncode == 1 else 0
    return {
        "files": files,
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


def n_files(hook: dict) -> str:
    return f"{hook['files']} file{'s' if hook['files'] != 1 else ''}"


def hook_row(hook: dict) -> dict:
    ratio = hook["ours_s"] / hook["stock_s"]
    return {
        "measured": f"`secrets` as the hook, {n_files(hook)} ({hook['bytes'] / 1e3:.0f} KB)",
        "ours": f"{hook['ours_s'] * 1e3:.0f} ms, found {hook['ours_found']}/{hook['planted']} keys",
        "anchor": f"`detect-secrets-hook`: {hook['stock_s'] * 1e3:.0f} ms",
        "ratio": ratio,
        "goal": "≤ 1.0× and every key",
        "met": ratio <= 1.0 and hook["ours_found"] >= hook["planted"],
    }


def print_hook(hook: dict, runs: int) -> None:
    print(f"hook, {n_files(hook)} ({hook['bytes'] / 1e3:.0f} KB, {hook['planted']} keys), median of {runs}:")
    print(f"  claude-doctor secrets  {hook['ours_s'] * 1e3:7.0f} ms  found {hook['ours_found']}/{hook['planted']}")
    print(f"  detect-secrets-hook    {hook['stock_s'] * 1e3:7.0f} ms  findings {hook['stock_findings']}")
    print(f"  ratio                  {hook['ours_s'] / hook['stock_s']:.2f}x  (goal <= 1.0x)")


def build_history(dest: Path, commits: int, every: int = 200) -> int:
    """``commits`` commits written with ``git fast-import`` (a second, not minutes): 40 files from
    site-packages, one edited per commit; every ``every``-th commit adds a key and the next removes it,
    and one commit message holds a key. Returns how many keys were planted."""
    sources = sorted(p for p in SITE.rglob("*.py") if 2_000 < p.stat().st_size < 20_000)
    files = {f"src/m{i:02}.py": p.read_text("utf-8", "replace").splitlines() for i, p in enumerate(sources[:40])}
    names, stream, planted = sorted(files), [], 0
    for n in range(commits):
        name, message = names[n % len(names)], f"edit {names[n % len(names)]}"
        if n % every == every // 2:
            files[name].insert(len(files[name]) // 2, f'API_KEY = "{fake_key()}"')
            planted += 1
        elif n % every == every // 2 + 1:
            name = names[(n - 1) % len(names)]
            files[name] = [line for line in files[name] if "API_KEY" not in line]
        else:
            note = "# see the sk-ant-... placeholder in the docs" if n % 7 == 0 else f"x{n} = {n}"
            files[name].insert(n % len(files[name]), note)
        if n == commits // 3:
            message += f"\n\ntested with {fake_key()}"
            planted += 1
        data = ("\n".join(files[name]) + "\n").encode()
        head = f"commit refs/heads/main\ncommitter t <t@example.com> {1_600_000_000 + n * 60} +0000\n"
        stream.append(f"{head}data {len(message.encode())}\n{message}\nM 100644 inline {name}\ndata {len(data)}\n")
        stream[-1] = stream[-1].encode() + data + b"\n"
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=dest, input=b"".join(stream), check=True)
    return planted


def bench_history(runs: int, commits: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        repo = Path(tmp)
        planted = build_history(repo, commits)
        ours_t, ours = median_run([str(BIN / "claude-doctor"), "secrets", "--history", "--format", "json"], repo, runs)
        floor_t, _ = median_run(["sh", "-c", "git log --all -p | grep -c sk-ant-"], repo, runs)
    return {
        "commits": commits,
        "planted": planted,
        "ours_s": ours_t,
        "ours_found": ours_found(ours),
        "floor_s": floor_t,
    }


def history_row(history: dict) -> dict:
    ratio = history["ours_s"] / history["floor_s"]
    return {
        "measured": f"`secrets --history`, {history['commits']:,} commits",
        "ours": f"{history['ours_s'] * 1e3:.0f} ms, found {history['ours_found']}/{history['planted']} keys",
        "anchor": f"`git log --all -p | grep -c sk-ant-`: {history['floor_s'] * 1e3:.0f} ms",
        "ratio": ratio,
        "goal": "≤ 2× and every key",
        "met": ratio <= 2 and history["ours_found"] >= history["planted"],
    }


def print_history(history: dict, runs: int) -> None:
    print(f"history, {history['commits']} commits ({history['planted']} keys), median of {runs}:")
    print(f"  claude-doctor secrets --history   {history['ours_s'] * 1e3:7.0f} ms  found {history['ours_found']}")
    print(f"  git log --all -p | grep -c sk-ant-  {history['floor_s'] * 1e3:7.0f} ms")
    print(f"  ratio                             {history['ours_s'] / history['floor_s']:.2f}x  (goal <= 2x)")


def result_rows(hooks: list[dict], scan: dict, size: int, planted: int) -> list[dict]:
    """The measurements as rows of benchmarks/run.py's table."""
    return [
        *map(hook_row, hooks),
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
    parser.add_argument("--commits", type=int, default=2000, help="commits in the --history benchmark's repository")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")
    parser.add_argument("--hook-only", action="store_true", help="only the hook part (no full scan)")
    args = parser.parse_args()
    random.seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as tmp:
        tree = Path(tmp)
        files, size = build_tree(tree, args.max_mb)
        hooks = [bench_hook(tree, args.runs, 1), bench_hook(tree, args.runs, 10)]
        if args.hook_only:
            for hook in hooks:
                print_hook(hook, args.runs)
            return
        planted = sum(hook["planted"] for hook in hooks) + plant(sorted(tree.rglob("*.py")), 7)
        scan = bench_scan(tree, args.runs, args.stock_runs, size)
    history = bench_history(args.runs, args.commits)
    if args.json:
        setup = f"{files} files, {size / 1e6:.1f} MB of site-packages, {planted} keys planted, median of {args.runs}"
        print(json.dumps({"setup": setup, "rows": [*result_rows(hooks, scan, size, planted), history_row(history)]}))
        return
    print(f"tree: {files} files, {size / 1e6:.1f} MB (site-packages of {sys.executable}); {planted} keys planted")
    for hook in hooks:
        print_hook(hook, args.runs)
    print(f"full scan ({size / 1e6:.1f} MB):")
    print(
        f"  claude-doctor secrets  {scan['ours_s']:7.2f} s  {scan['ours_mb_s']:7.1f} MB/s  found {scan['ours_found']}"
    )
    print(
        f"  detect-secrets scan    {scan['stock_s']:7.2f} s  {scan['stock_mb_s']:7.2f} MB/s  "
        f"findings {scan['stock_findings']} (n={args.stock_runs})"
    )
    print(f"  speed-up               {scan['stock_s'] / scan['ours_s']:.0f}x  (goal >= 5x)")
    print_history(history, args.runs)


if __name__ == "__main__":
    main()
