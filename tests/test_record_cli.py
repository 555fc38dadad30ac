"""``claude-doctor record`` through the real CLI: ``record -- python script.py`` end to end against
``serve``, the exit status contract, live findings on stderr and the report on stdout, the loopback
warning, Ctrl-C, and a canary key that must appear in no recording and no output."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from claude_doctor.commands.record import parse_listen
from claude_doctor.recording import open_source
from claude_doctor.serve import running
from tests.conftest import ROOT, run_cli
from tests.test_record_proxy import CANARY

APP = """
import sys, anthropic
client = anthropic.Anthropic(api_key=sys.argv[1], max_retries=0)
prompt = [{"role": "user", "content": sys.argv[1]}]
with client.messages.stream(model="claude-test", max_tokens=99, messages=prompt) as s:
    for _ in s:
        pass
raw = client.with_options(default_headers={"x-api-key": sys.argv[1]})
for _ in raw.messages.create(model="claude-test", max_tokens=99, messages=prompt, stream=True):
    pass
print("app done", file=sys.stderr)
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    script = tmp_path / "app.py"
    script.write_text(APP)
    return script


def record(url: str, out: Path, script: Path, *args: str, key: str = "sk-test-not-a-key", status: int = 0):
    return run_cli(
        "record", "--upstream", url, "--out", str(out), *args, "--", sys.executable, str(script), key, str(status)
    )


def test_record_runs_the_app_and_reports(app: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs"
    with running() as url:
        result = record(url, out, app, status=3)
    assert result.code == 3, result.stderr  # no findings: the app's own status
    assert "app done" in result.stderr
    assert result.stderr.count("record: POST /v1/messages 200") == 2
    files = sorted(out.iterdir())
    assert len(files) == 2
    for path in files:
        records = list(open_source(str(path)).records)
        assert records[-1].reason == "eof"
    assert "All clear: 2 files checked" in result.stdout


def test_findings_print_live_and_set_the_exit_status(app: Path, tmp_path: Path) -> None:
    with running(["truncate"]) as url:
        result = record(url, tmp_path / "recs", app, "--format", "json")
    assert result.code == 1
    assert "CD104 [E]" in result.stderr  # live, as the exchange completed
    assert result.codes() == ["CD104", "CD104"]
    assert result.json["summary"]["files"] == 2


def test_fail_on_error_lets_warnings_through(app: Path, tmp_path: Path) -> None:
    with running(["max-tokens"]) as url:
        result = record(url, tmp_path / "recs", app, "--fail-on", "error", status=0)
    assert result.code == 0 and "CD106" in result.stdout


def test_canary_key_appears_nowhere(app: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs"
    with running(["split:7"]) as url:
        result = record(url, out, app, "-v", key=CANARY)
    assert result.code == 0, result.stderr
    secret = CANARY[13:60]
    assert secret not in result.stdout and secret not in result.stderr
    texts = [p.read_text() for p in out.iterdir()]
    assert len(texts) == 2
    for text in texts:
        assert secret not in text and "[REDACTED len=" in text


def test_default_upstream_is_the_base_url_the_app_had(app: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs"
    with running() as url:
        result = run_cli(
            "record", "--out", str(out), "--", sys.executable, str(app), "k", "0", env={"ANTHROPIC_BASE_URL": url}
        )
    assert result.code == 0, result.stderr
    first = sorted(out.iterdir())[0]
    request = next(r for r in open_source(str(first)).records if hasattr(r, "url"))
    assert request.url == url + "/v1/messages"


def test_warns_when_not_on_loopback(tmp_path: Path) -> None:
    result = run_cli("record", "--listen", "0.0.0.0:0", "--out", str(tmp_path), "--", sys.executable, "-c", "pass")
    assert result.code == 0
    assert "warning: listening on 0.0.0.0, not loopback" in result.stderr


def test_a_command_that_cannot_run_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("record", "--out", str(tmp_path), "--", "no-such-command-claude-doctor")
    assert result.code == 2 and "cannot run 'no-such-command-claude-doctor'" in result.stderr


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "record", "--listen", "127.0.0.1:0", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**env, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    assert line.startswith("record: http://127.0.0.1:"), line
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "All clear: 0 files checked" in stdout


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ("127.0.0.1", 8766)),
        ("9000", ("127.0.0.1", 9000)),
        (":9000", ("127.0.0.1", 9000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:81", ("::1", 81)),
        ("localhost", ("localhost", 8766)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value, 8766) == expected


def test_parse_listen_rejects_a_bad_port() -> None:
    with pytest.raises(click.BadParameter):
        parse_listen("127.0.0.1:99999", 8766)


def test_json_report_is_the_only_stdout(app: Path, tmp_path: Path) -> None:
    with running() as url:
        result = record(url, tmp_path / "recs", app, "--format", "json")
    assert json.loads(result.stdout)["findings"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_recording_that_cannot_be_written_leaves_the_app_untouched(app: Path, tmp_path: Path) -> None:
    """A full disk, made by a 1,500-byte file size limit (the kernel refuses the write as it would on a
    full disk): the app's two requests complete as ever, each recording keeps the lines that fit, an
    error names each file, and the exit status is 2."""
    out = tmp_path / "recs"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    command = [sys.executable, "-m", "claude_doctor", "record", "-q", "--out", str(out)]
    with running() as url:
        proc = subprocess.run(
            [*command, "--upstream", url, "--", sys.executable, str(app), "sk-test-not-a-key", "0"],
            cwd=ROOT,
            env={**env, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500)),
        )
    assert "app done" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    files = sorted(out.iterdir())
    errors = [line for line in proc.stderr.splitlines() if line.startswith("record: error: ")]
    assert errors[:2] == [f"record: error: {f}: recording stopped: File too large" for f in files]
    assert "2 recording(s) incomplete" in errors[2]
    for f in files:
        assert f.stat().st_size <= 1500
        assert list(open_source(str(f)).records), "the lines that fit are a readable recording"
