"""The benchmark suite runs end to end: ``benchmarks/run.py --quick`` exits 0, prints a row for every
benchmark (a missing one as "not available"), and writes its results where it is told, with the
machine described. Timing thresholds are not asserted: CI machines vary."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

BENCHMARKS = ("stream (#3)", "proxy (#5)", "code (#6)", "secrets (#7)", "doctor (#8)", "soak (#15)", "monitor (#17)")


def test_quick_run_prints_a_row_for_every_benchmark(tmp_path):
    out = tmp_path / "results.md"
    committed = (
        (ROOT / "benchmarks" / "results.md").read_bytes() if (ROOT / "benchmarks" / "results.md").exists() else None
    )
    proc = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    for name in BENCHMARKS:
        mine = [row for row in rows if row.startswith(f"| {name} |")]
        assert mine, f"no row for {name}:\n{proc.stdout}"
        for row in mine:
            assert "| failed |" not in row, row
    if not (ROOT / "benchmarks" / "bench_proxy.py").exists():
        assert "not available" in next(row for row in rows if row.startswith("| proxy (#5) |"))
    text = out.read_text(encoding="utf-8")
    assert "## Machine" in text and "CPU:" in text and "Python" in text and "date:" in text
    assert all(row in text for row in rows)
    after = (ROOT / "benchmarks" / "results.md").read_bytes() if (ROOT / "benchmarks" / "results.md").exists() else None
    assert after == committed, "the committed results.md was overwritten"
