"""The fast layer runs the CLI in this process (``invoke_cli``): it must say and exit exactly what the
real CLI in a subprocess does, or the fast tests would check something a user never sees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RECORDINGS, ROOT, invoke_cli, run_cli

CASES = {
    "findings as json": ("stream", str(RECORDINGS / "cd104-truncated-stream.jsonl"), "--format", "json"),
    "human report": ("stream", str(RECORDINGS)),
    "usage error names the program": ("stream", "--format", "xml", str(RECORDINGS)),
    "mistyped command": ("strem",),
    "missing file": ("stream", "no-such-file.jsonl"),
    "rules table": ("rules",),
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_in_process_run_is_the_subprocess_run(args: tuple[str, ...]) -> None:
    assert invoke_cli(*args) == run_cli(*args)


def test_in_process_run_reads_stdin_and_works_in_the_given_folder(tmp_path: Path) -> None:
    (tmp_path / "run.jsonl").write_bytes((RECORDINGS / "cd102-idle-gap.jsonl").read_bytes())
    args = ("stream", "run.jsonl", "-", "--format", "json")
    stdin = (RECORDINGS / "cd106-max-tokens.jsonl").read_bytes()
    ours = invoke_cli(*args, cwd=tmp_path, stdin=stdin)
    assert ours == run_cli(*args, cwd=tmp_path, stdin=stdin)
    assert os.getcwd() != str(tmp_path)


def test_in_process_run_leaves_out_the_users_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key in the environment of the test run is not the CLI's: the run is as with none."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "x" * 95)
    assert invoke_cli("--format", "json", str(RECORDINGS)) == run_cli("--format", "json", str(RECORDINGS))
    assert os.environ["ANTHROPIC_API_KEY"].startswith("sk-ant-api03-"), "put back after the run"


@pytest.mark.slow
def test_the_default_run_leaves_out_the_slow_layer_and_m_slow_runs_only_it() -> None:
    def collected(*args: str) -> set[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:]
        return {line for line in proc.stdout.splitlines() if "::" in line}

    fast, slow = collected(), collected("-m", "slow")
    assert fast and slow and not fast & slow
    assert "tests/test_secrets_precommit.py" in {node.partition("::")[0] for node in slow}
    assert "tests/test_cli_in_process.py::test_in_process_run_leaves_out_the_users_key" in fast
