"""``drill`` end to end: the real CLI in a subprocess drilling the sample apps of tests/drill_apps/ (the
real SDK, real subprocesses, a mock API per run on loopback), each verdict table written by hand from
what each app does, one test per verdict kind, and the inputs drill must refuse."""

from __future__ import annotations

import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT, CliResult, run_cli

pytestmark = pytest.mark.slow

APPS = ROOT / "tests" / "drill_apps"
TIMEOUT = "20"  # the stall outlasts it; careful.py (4 s read timeout, then a retry) fits well inside it


def drill(*args: str, app: str | Path | None = None, timeout: str = TIMEOUT) -> CliResult:
    command = [sys.executable, str(APPS / app if isinstance(app, str) else app)] if app is not None else []
    return run_cli("drill", "--timeout", timeout, "--format", "json", *args, "--", *command, timeout=300)


def verdicts(result: CliResult) -> dict[str, str]:
    return {fault["fault"]: fault["verdict"] for fault in result.json["faults"]}


def test_the_naive_app_fails_silently_on_a_cut_and_max_tokens_and_loudly_on_reorder() -> None:
    """Two runs side by side (--jobs 2): each with its own mock API, none seeing another's fault."""
    result = drill("--jobs", "2", app="naive.py")
    assert verdicts(result) == {
        "truncate": "silent",
        "max-tokens": "silent",
        "error-event:overloaded_error": "loud",
        "reset": "loud",
        "stall:25": "hung",  # the SDK's default read timeout is 600 s
        "reorder": "loud",
        "json": "silent",
        "bad-json": "loud",
        "status:429": "recovered",  # the SDK retries these itself
        "status:529": "recovered",
        "split:1": "recovered",
        "buffer": "recovered",
    }
    assert result.code == 1
    faults = {fault["fault"]: fault for fault in result.json["faults"]}
    assert faults["reorder"]["run"]["exception"] == "IndexError: list index out of range"
    assert faults["reorder"]["rule"] == "CD105" and faults["reorder"]["retry_would_help"] is False
    assert faults["reset"]["retry_would_help"] is True
    assert faults["status:429"]["run"]["retry_gaps"][0] >= 1.0  # the SDK honoured retry-after: 1
    for fault in result.json["faults"]:  # each run's mock API saw that run's app alone
        requests = fault["run"]["requests"]
        assert [r["faulted"] for r in requests] == [True] + [False] * (len(requests) - 1), fault


def test_the_careful_app_recovers_everywhere() -> None:
    result = drill(app="careful.py")
    assert set(verdicts(result).values()) == {"recovered"}, result.stdout
    assert len(verdicts(result)) == 12 and result.code == 0
    retried = [f["fault"] for f in result.json["faults"] if len(f["run"]["requests"]) > 1]
    assert "truncate" in retried and "max-tokens" in retried and "stall:25" in retried


def test_the_async_relay_loses_a_cut_and_max_tokens_and_breaks_its_response_on_errors() -> None:
    result = drill(app="relay.py")
    assert verdicts(result) == {
        "truncate": "silent",  # text_stream just ends: the browser gets half an answer and a clean end
        "max-tokens": "silent",
        "error-event:overloaded_error": "loud",  # the handler raises after the headers: the response is cut
        "reset": "loud",
        "stall:25": "hung",
        "reorder": "loud",
        "json": "silent",  # no event: an empty answer
        "bad-json": "loud",
        "status:429": "recovered",
        "status:529": "recovered",
        "split:1": "recovered",
        "buffer": "recovered",
    }
    faults = {fault["fault"]: fault for fault in result.json["faults"]}
    assert "ClientPayloadError" in faults["reset"]["run"]["exception"]


def test_the_human_table_and_junit_for_ci(tmp_path: Path) -> None:
    args = ("--fault", "truncate", "--fault", "status:529")
    human = run_cli("drill", *args, "--", sys.executable, str(APPS / "naive.py"), timeout=300)
    assert human.code == 1
    lines = human.stdout.splitlines()
    assert lines[2].split() == ["fault", "verdict", "requests", "exit", "why"]
    assert lines[3].startswith("truncate") and "silent wrong result" in lines[3]
    assert "fix for truncate (CD104 truncated-stream)" in human.stdout
    assert lines[-1] == "2 faults: 1 recovered, 1 silent wrong result."
    junit = run_cli("drill", *args, "--format", "junit", "--", sys.executable, str(APPS / "naive.py"), timeout=300)
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"


def test_a_hang_is_killed_with_every_process_the_app_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    app = tmp_path / "app_with_helper.py"
    app.write_text(
        "import subprocess, sys\n"
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pids)!r}, 'a').write(f'{{helper.pid}}\\n')\n"
        f"exec(open({str(APPS / 'naive.py')!r}).read())\n"
    )
    result = drill("--fault", "stall:60", app=app, timeout="10")
    assert verdicts(result) == {"stall:60": "hung"}
    assert result.json["faults"][0]["reason"].startswith("still running 10 s after a stall")
    assert result.code == 1
    helpers = [int(pid) for pid in pids.read_text().split()]
    assert len(helpers) == 2  # the clean run's and the drill's
    assert not [pid for pid in helpers if _outlives_sigkill(pid)], "a helper the app started outlived the drill"


def _outlives_sigkill(pid: int) -> bool:
    """Whether ``pid`` is still alive well after a SIGKILL could have ended it."""
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_app_that_never_calls_the_api_exercises_no_fault() -> None:
    result = run_cli("drill", "--fault", "truncate", "--", sys.executable, "-c", "print('hello')")
    assert result.code == 2
    assert "made no request to the mock API" in result.stderr and "Traceback" not in result.stderr
    assert "not exercised" in result.stdout and "not run: the clean run made no request" in result.stdout


def test_an_app_that_ignores_the_base_url_is_named_and_nothing_leaves_the_machine(tmp_path: Path) -> None:
    app = tmp_path / "elsewhere.py"
    app.write_text(
        "import anthropic\n"
        "client = anthropic.Anthropic(base_url='https://api.anthropic.com', max_retries=0)\n"
        "client.messages.create(model='m', max_tokens=8, messages=[{'role': 'user', 'content': 'hi'}])\n"
    )
    result = run_cli("drill", "--", sys.executable, str(app), timeout=120)
    assert result.code == 2
    assert "the app ignored ANTHROPIC_BASE_URL: it tried to reach api.anthropic.com:443" in result.stderr
    assert result.stderr.count("\n") <= 2  # the progress line and the error


def test_a_clean_run_that_fails_stops_the_drill() -> None:
    result = run_cli("drill", "--", sys.executable, "-c", "raise SystemExit('no config file')")
    assert result.code == 2
    assert "the clean run (no fault) exited 1" in result.stderr and "nothing was drilled" in result.stderr
