"""Shared test helpers: run the real CLI in a subprocess, as a user would, or in this process (the fast
layer); and the two test layers: ``python -m pytest`` runs the fast one, ``pytest -m slow`` the rest."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

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


def _cli_environment(env: dict[str, str] | None) -> dict[str, str]:
    """The user's environment without their key or settings, plus the test's own variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    base.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    base.update(env or {})
    return base


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run ``python -m claude_doctor ARGS`` in a subprocess with a clean, key-free environment."""
    base = _cli_environment(env)
    proc = subprocess.run(
        [sys.executable, "-m", "claude_doctor", *args],
        cwd=cwd or ROOT,
        env=base,
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def invoke_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> CliResult:
    """``run_cli`` in this process: the same entry point (``claude_doctor.cli.run``, with its redaction
    and its last line of defence), the same clean environment, stdin and working folder, the same
    result, without the cost of a new interpreter. ``timeout`` is accepted for the same signature; an
    in-process run cannot be cut short."""
    from claude_doctor.cli import run

    runner = CliRunner()
    target = _cli_environment(env)
    changes: dict[str, str | None] = {k: None for k in os.environ if k not in target}
    changes.update(target)
    with runner.isolation(input=stdin, env=changes) as (out, err, _), _inside(cwd or ROOT, args):
        code = _exit_status(run)
    return CliResult(code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace"))


@contextlib.contextmanager
def _inside(cwd: Path, args: tuple[str, ...]) -> Iterator[None]:
    """The working folder, ``sys.argv``, ``__main__`` (click names the program after it: ``python -m
    claude_doctor``) and signal handlers of a fresh process, put back afterwards."""
    saved_cwd, saved_argv, saved_main = os.getcwd(), sys.argv, sys.modules["__main__"]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    os.chdir(cwd)
    sys.argv = [str(ROOT / "claude_doctor" / "__main__.py"), *args]
    sys.modules["__main__"] = types.SimpleNamespace(__package__="claude_doctor")
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.modules["__main__"] = saved_main
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _exit_status(entry: Callable[[], object]) -> int:
    """What the process would have exited with."""
    try:
        entry()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        sys.stderr.write(f"{code}\n")
        return 1
    return 0


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


#: Modules that are end-to-end as a whole: the real CLI in subprocesses beside real servers, real git,
#: real pre-commit, the benchmarks, soak and resource-limit runs. ``pytest -m slow`` runs them.
SLOW_MODULES = frozenset(
    {
        "test_benchmarks_smoke",
        "test_canary",
        "test_hostile_files",
        "test_hostile_servers",
        "test_polish_io",
        "test_proxy_data",
        "test_record_cli",
        "test_secrets_history",
        "test_secrets_precommit",
        "test_stream_realworld",
        "test_survival",
    }
)


#: Single tests (``module::function``, or ``module::function[case]`` for one case) of fast modules that
#: run a real app in a subprocess per case, read whole real-world trees or time themselves on big input.
SLOW_TESTS = frozenset(
    {
        "test_code_prefilter::test_a_tree_checked_with_and_without_the_prefilter_gives_exactly_the_same_findings",
        "test_explain::test_a_long_log_of_tracebacks_is_read_in_linear_time",
        "test_explain::test_a_traceback_logged_without_source_lines_is_still_recognised",
        "test_explain::test_explain_names_the_failure_in_a_real_traceback",
        "test_fuzz::test_cli_on_generated_files",
        "test_leaks_and_words::test_a_key_echoed_over_text_deltas_is_in_no_recording_and_on_no_screen",
        "test_leaks_and_words::test_a_stream_the_sdk_closed_where_it_raised_is_named_for_that_not_a_cut",
        "test_leaks_and_words::test_an_encoded_body_is_recorded_decoded_and_checked",
        "test_live::test_a_stall_longer_than_the_timeout_is_cd103_and_the_sdk_verdict_says_read_timeout",
        "test_live::test_an_unreachable_api_names_the_tcp_step",
        "test_live::test_live_json_output_is_pure_json",
        "test_live::test_the_key_never_appears_in_any_byte_written_or_printed",
        "test_record_proxy::test_fault_bytes_are_exact[buffer]",
        "test_secrets_scan::test_canary_key_never_appears_in_any_output",
        "test_serve::test_many_concurrent_clients",
        "test_serve_faults::test_fault_sdk_and_checks[buffer]",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test of a slow module and each slow test, so that the two lists here say
    what the fast layer leaves out (``addopts`` deselects them; ``pytest -m slow`` selects them)."""
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


def _is_slow(item: pytest.Item) -> bool:
    module = item.module.__name__.rpartition(".")[2] if item.module is not None else ""
    function = getattr(item, "originalname", item.name)
    return module in SLOW_MODULES or {f"{module}::{function}", f"{module}::{item.name}"} & SLOW_TESTS != set()
