"""What a user sees at the edges of I/O: every SARIF result has a location GitHub accepts, ``live`` checks
its recording path before it costs anything and names the SDK's own error, and ``serve`` logs the events
and time it really sent, makes ``buffer`` diagnosable, and prints a URL a client can use."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx

from claude_doctor.faults import parse_faults
from claude_doctor.serve import MockAPI, ServeOptions

from .conftest import RECORDINGS, run_cli, start_serve

NO_KEY = {"ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": ""}
SYNC_IN_ASYNC = "import anthropic\n\n\nasync def handler():\n    return anthropic.Anthropic().models.list()\n"
REQUEST = {"model": "m", "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


# -- SARIF: a location for every result --------------------------------------------------------------


def sarif_results(*args: str, cwd: Path, env: dict[str, str] | None = None) -> list[dict]:
    result = run_cli(*args, "--format", "sarif", cwd=cwd, env=env)
    assert result.code in (0, 1), result.stderr
    results = result.json["runs"][0]["results"]
    for found in results:  # what GitHub code scanning needs of each result, or it rejects the whole file
        location = found["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] and location["region"]["startLine"] >= 1, found
    return results


def uri(results: list[dict], code: str) -> str:
    found = next(r for r in results if r["ruleId"] == code)
    return found["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def test_an_environment_finding_points_at_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    results = sarif_results(cwd=tmp_path, env=NO_KEY)
    assert uri(results, "CD403") == "pyproject.toml"


def test_the_project_file_is_found_in_the_folder_checked(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("anthropic\n")
    (project / "main.py").write_text(SYNC_IN_ASYNC)
    results = sarif_results("app", cwd=tmp_path, env=NO_KEY)
    assert uri(results, "CD201") == "app/main.py"
    assert uri(results, "CD403") == "app/requirements.txt"


def test_the_doctors_path_anchors_findings_even_when_none_names_a_file(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    results = sarif_results("app", cwd=tmp_path, env=NO_KEY)
    assert {r["ruleId"] for r in results} == {"CD403"}
    assert uri(results, "CD403") == "app/pyproject.toml"


def test_without_a_project_file_the_folder_itself_is_the_location(tmp_path: Path) -> None:
    results = sarif_results(cwd=tmp_path, env=NO_KEY)
    assert uri(results, "CD403") == "."


def test_a_live_finding_has_a_location(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'app'\n")
    results = sarif_results("live", cwd=tmp_path, env={"ANTHROPIC_BASE_URL": closed_port(), "ANTHROPIC_API_KEY": "k"})
    assert uri(results, "CD408") == "pyproject.toml"


# -- live: the recording path, and what the SDK raises ----------------------------------------------


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed when the block ends: nothing listens


def test_an_unwritable_record_path_fails_before_anything_is_sent() -> None:
    with MockAPI(ServeOptions(parse_faults([]), speed=float("inf"))) as api:
        result = run_cli(
            "live", "--record", "/nonexistent/p.jsonl", env={"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "k"}
        )
    assert result.code == 2
    assert result.stderr == "claude-doctor: error: /nonexistent/p.jsonl: cannot write: No such file or directory\n"
    assert result.stdout == ""  # not even the "live: POST …" line: nothing was about to be sent
    assert api.exchanges == []


def test_a_connect_failure_names_the_sdks_httpx2_error_and_offers_no_recording() -> None:
    result = run_cli("live", env={"ANTHROPIC_BASE_URL": closed_port(), "ANTHROPIC_API_KEY": "k"})
    assert result.code == 1
    verdict = next(line for line in result.stdout.splitlines() if line.startswith("live: the SDK"))
    assert verdict == (
        "live: the SDK (anthropic, messages.stream) raises anthropic.APIConnectionError: Connection error. "
        "(after 2 retries by default), caused by httpx2.ConnectError: [Errno 111] Connection refused"
    )
    assert "--record" not in result.stdout
    assert result.stdout.count("CD408") == 1


def test_a_connect_failure_leaves_no_recording_behind(tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    result = run_cli("live", "--record", str(out), env={"ANTHROPIC_BASE_URL": closed_port(), "ANTHROPIC_API_KEY": "k"})
    assert result.code == 1
    assert f"live: no recording kept in {out}: no answer came back" in result.stdout.splitlines()
    assert not out.exists()


# -- serve: the log line, buffer, the URL ----------------------------------------------------------


def stop(proc: subprocess.Popen) -> str:
    """Ctrl-C, and what the server wrote on stderr."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    return err


def post(url: str) -> bytes:
    with httpx.stream("POST", url + "/v1/messages", json=REQUEST, headers=HEADERS, timeout=30) as response:
        assert response.status_code == 200
        return response.read()


def logged(err: str) -> tuple[str, float]:
    match = re.search(r"^POST /v1/messages (200 stream, \d+ events), (\d+\.\d\d)s, complete$", err, re.MULTILINE)
    assert match, err
    return match.group(1), float(match.group(2))


def test_a_replay_logs_the_events_it_sent_and_how_long_it_took() -> None:
    proc, url, _ = start_serve(str(RECORDINGS / "clean-text.jsonl"))
    try:
        post(url)
    finally:
        err = stop(proc)
    counted, seconds = logged(err)
    assert counted == "200 stream, 35 events"
    assert 2.1 <= seconds < 3.5  # the recording ends at t=2.12 s and is replayed at its pace


def test_a_raw_sse_capture_replays_as_a_200_event_stream() -> None:
    proc, url, _ = start_serve(str(RECORDINGS / "imports" / "curl-N.sse"), "--speed", "max")
    try:
        body = post(url)
    finally:
        err = stop(proc)
    assert body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert logged(err)[0] == "200 stream, 16 events"


def test_buffer_alone_is_diagnosed_as_cd114(tmp_path: Path) -> None:
    out = tmp_path / "buffered.jsonl"
    proc, url, _ = start_serve("--fault", "buffer")
    try:
        live = run_cli("live", "--record", str(out), env={"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "k"})
    finally:
        err = stop(proc)
    assert live.code == 1, live.stdout + live.stderr
    assert run_cli("stream", str(out), "--format", "json").codes() == ["CD114"]
    assert logged(err)[1] >= 3.0


def test_a_wildcard_bind_warns_and_prints_a_url_a_client_can_use() -> None:
    proc, url, banner = start_serve("--host", "0.0.0.0", "--speed", "max")
    try:
        body = post(url)
    finally:
        err = stop(proc)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    assert f"(export ANTHROPIC_BASE_URL={url};" in banner
    assert b"message_stop" in body
    assert (
        "claude-doctor serve: warning: listening on 0.0.0.0, not loopback: anyone who can reach this port "
        "can send requests to it and read what it serves"
    ) in err.splitlines()
