"""Shared test helpers: run the real CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "recordings"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def codes(self) -> list[str]:
        """Finding codes from ``--format json`` output, in report order."""
        return [f["code"] for f in self.json["findings"]]


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run ``python -m claude_doctor ARGS`` in a subprocess with a clean, key-free environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    base.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    base.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "claude_doctor", *args],
        cwd=cwd or ROOT,
        env=base,
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli():
    return run_cli


def start_serve(*args: str) -> tuple[subprocess.Popen, str, str]:
    """``claude-doctor serve`` in a subprocess on a free port; returns it, its base URL and the
    "listening on" line it printed (the user's export line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "serve", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(2):
        line = proc.stdout.readline()
        if "listening on" in line:
            return proc, line.split()[2], line
    proc.kill()
    raise AssertionError(f"serve did not start: {proc.stderr.read()}")
