"""Shared helpers for the ``claude-doctor code`` tests: write a module, run the real CLI on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import CliResult, run_cli

CASES = Path(__file__).resolve().parent


def write(folder: Path, source: str, name: str = "app.py") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def check(path: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    return run_cli("code", str(path), "--format", "json", *args, cwd=cwd, env=env)


def found(result: CliResult, *codes: str) -> list[tuple[str, int]]:
    """``(code, line)`` of every finding (or only those with the given codes), sorted."""
    return sorted((f["code"], f["line"]) for f in result.json["findings"] if not codes or f["code"] in codes)


def lint(folder: Path, source: str, *codes: str, name: str = "app.py") -> list[tuple[str, int]]:
    """Write ``source`` and return its findings, asserting the run itself worked."""
    result = check(write(folder, source, name))
    assert result.code in (0, 1), result.stderr
    return found(result, *codes)
