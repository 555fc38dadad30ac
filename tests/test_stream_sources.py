"""Where ``stream`` and ``replay`` get their recordings and how they word what they find: a folder
means every recording in it (stray files are skipped with a note, broken recordings are still
errors), a request that never got an answer is CD408, a retried 429 closed unread is not "no body",
and ``replay --exchange N`` picks one exchange's bytes."""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

from claude_doctor.recording import Chunk, RecordingWriter, open_source
from tests.conftest import RECORDINGS
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

URL = "https://api.anthropic.com/v1/messages"
STREAM_REQUEST = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True, "messages": []}).encode()
RETRIED = RECORDINGS / "cd109-rate-limited-then-retried.jsonl"
REFUSED = "aiohttp.ClientConnectorError: Cannot connect to host 127.0.0.1:1 ssl:default [Connect call failed]"


def stderr_lines(result) -> list[str]:
    return result.stderr.strip().splitlines()


def write(
    path: Path,
    *,
    status: int | None = None,
    chunks: tuple[bytes, ...] = (),
    end: tuple[str, str | None] | None = ("eof", None),
    headers: tuple[tuple[str, str], ...] = (("content-type", "text/event-stream"),),
) -> Path:
    """A one-exchange recording: the request, then a response head if ``status``, the chunks, and an
    ``end`` line with (reason, error) unless ``end`` is None."""
    with path.open("wb") as f:
        writer = RecordingWriter(f, "proxy")
        writer.request(0, 0.0, "POST", URL, [("content-type", "application/json")], STREAM_REQUEST)
        if status is not None:
            writer.response(0, 0.3, status, None, "HTTP/1.1", list(headers))
        for n, data in enumerate(chunks):
            writer.chunk(0, 0.4 + n / 100, data)
        if end is not None:
            reason, error = end
            writer.end(0, 0.5, reason, error, error.split(":")[0] if error else None)
        writer.flush()
    return path


def folder_of(tmp_path: Path, *recordings: str, **others: bytes) -> Path:
    """A folder holding copies of bundled recordings and other files, by name."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in recordings:
        shutil.copy(RECORDINGS / name, folder / name)
    for name, data in others.items():
        (folder / name.replace("_", ".")).write_bytes(data)
    return folder


# -- a folder means every recording in it --------------------------------------------------------


def test_stray_files_in_a_folder_are_skipped_with_one_note(tmp_path: Path) -> None:
    folder = folder_of(
        tmp_path,
        "clean-text.jsonl",
        "cd104-truncated-stream.jsonl",
        notes_txt=b"remember to rotate the key\n",
        config_json=b'{"log": {"level": "debug"}, "retries": 3}\n',
    )
    result = run_cli("stream", str(folder))
    assert result.code == 1, result.stderr  # the truncated stream's CD104, not exit 2
    assert stderr_lines(result) == [
        f"claude-doctor: note: skipped 2 files that are not recordings: {folder}/config.json, {folder}/notes.txt"
    ]
    assert "CD104" in result.stdout and "in 2 files" in result.stdout


def test_the_note_names_the_first_three_files(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, "clean-text.jsonl", a_txt=b"a\n", b_txt=b"b\n", c_log=b"", d_yaml=b"x: 1\n")
    result = run_cli("stream", str(folder))
    assert result.code == 0
    assert stderr_lines(result) == [
        f"claude-doctor: note: skipped 4 files that are not recordings: {folder}/a.txt, {folder}/b.txt, "
        f"{folder}/c.log, …"
    ]
    assert "All clear: 1 file checked" in result.stdout


def test_a_folder_with_no_recordings_is_still_an_error(tmp_path: Path) -> None:
    folder = folder_of(tmp_path, notes_txt=b"nothing here\n")
    result = run_cli("stream", str(folder))
    assert result.code == 2
    assert stderr_lines(result) == [
        f"claude-doctor: error: {folder}: no recordings found (skipped 1 file that is not a recording: "
        f"{folder}/notes.txt)"
    ]


def _half_written(path: Path) -> None:
    lines = (RECORDINGS / "clean-text.jsonl").read_bytes().split(b"\n")
    lines[4] = lines[4][:30]  # a line cut in the middle of the file, not at its end
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        ("half.jsonl", _half_written, "half.jsonl:5: not valid JSON"),
        ("devtools.har", lambda p: p.write_bytes(b'{"log": {"entries": [ }'), "devtools.har: not valid JSON"),
        ("garbage.jsonl", lambda p: p.write_bytes(bytes(range(256)) * 4), "garbage.jsonl: binary data"),
        ("empty.sse", lambda p: p.write_bytes(b""), "empty.sse: empty file"),
    ],
)
def test_a_broken_recording_in_a_folder_is_still_an_error(tmp_path: Path, name: str, make, problem: str) -> None:
    folder = folder_of(tmp_path, "clean-text.jsonl")
    make(folder / name)
    result = run_cli("stream", str(folder))
    assert result.code == 2
    (line,) = stderr_lines(result)  # the error, and no note: the file was not skipped
    assert line.startswith(f"claude-doctor: error: {folder}/{problem}")


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("config.json", b'{"retries": 3}', "JSON that is neither a recording, a HAR file nor a vcrpy cassette"),
        ("notes.txt", b"remember to rotate the key\n", "not a recording or a known capture"),
    ],
)
def test_a_file_named_on_the_command_line_is_an_error_when_it_is_no_recording(
    tmp_path: Path, name: str, data: bytes, problem: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = run_cli("stream", str(path))
    assert result.code == 2
    (line,) = stderr_lines(result)
    assert line.startswith(f"claude-doctor: error: {path}: {problem}")


def test_the_doctor_skips_stray_files_in_recordings(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    shutil.copy(RECORDINGS / "cd104-truncated-stream.jsonl", tmp_path / "recordings")
    (tmp_path / "recordings" / "README.txt").write_text("how these were made\n")
    result = run_cli("doctor", str(tmp_path), "--format", "json")
    assert result.code == 1, result.stderr  # findings, not unreadable input
    assert "CD104" in result.codes() and "README.txt" not in result.stdout + result.stderr


# -- a request that never got an answer (CD408) ----------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "error", "step"),
    [
        ("error", REFUSED, "TCP"),
        ("error", "httpx.ConnectError: [Errno 111] Connection refused", "TCP"),
        ("error", "httpx.ConnectError: [Errno -2] Name or service not known", "DNS"),
        ("error", "aiohttp.ClientConnectorDNSError: Cannot connect to host nowhere.invalid:443 ssl:default", "DNS"),
        ("error", "httpx.ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", "TLS"),
        ("error", "aiohttp.ClientProxyConnectionError: Cannot connect to host proxy:3128 ssl:default", "proxy"),
        ("reset", "httpx.RemoteProtocolError: Server disconnected without sending a response.", "HTTP"),
    ],
)
def test_a_request_with_no_response_is_cd408_naming_the_step_and_the_error(
    tmp_path: Path, reason: str, error: str, step: str
) -> None:
    path = write(tmp_path / "refused.jsonl", end=(reason, error))
    result = run_cli("stream", str(path), "--format", "json")
    assert result.code == 1
    (finding,) = result.json["findings"]
    assert (finding["code"], finding["severity"]) == ("CD408", "error")
    assert finding["message"].startswith(f"{step} step failed reaching {URL}: {error};")
    assert finding["fix"].startswith("Follow the step named in the message")


def test_an_unnamed_error_still_says_no_response(tmp_path: Path) -> None:
    path = write(tmp_path / "refused.jsonl", end=("error", "TimeoutError"))
    (finding,) = run_cli("stream", str(path), "--format", "json").json["findings"]
    assert finding["code"] == "CD408" and finding["message"].startswith(f"No response from {URL}: TimeoutError;")


@pytest.mark.parametrize(("reason", "codes"), [("timeout", ["CD103"]), ("cancelled", [])])
def test_a_request_given_up_on_is_not_cd408(tmp_path: Path, reason: str, codes: list[str]) -> None:
    path = write(tmp_path / "waited.jsonl", end=(reason, None))
    assert run_cli("stream", str(path), "--format", "json").codes() == codes


def test_replay_marks_the_missing_response_and_reports_cd408(tmp_path: Path) -> None:
    path = write(tmp_path / "refused.jsonl", end=("error", REFUSED))
    result = run_cli("replay", "--speed", "max", str(path))
    assert result.code == 1
    assert f"[no response at t=0.50s: error: {REFUSED}]" in result.stdout
    assert "CD408" in result.stdout and "All clear" not in result.stdout


def test_record_against_an_unreachable_upstream_gives_a_recording_that_fails(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on once the block ends
        s.bind(("127.0.0.1", 0))
        upstream = f"http://127.0.0.1:{s.getsockname()[1]}"
    app = tmp_path / "app.py"
    app.write_text(
        "import anthropic\n"
        "client = anthropic.Anthropic(api_key='sk-test-not-a-key', max_retries=0)\n"
        "try:\n"
        "    with client.messages.stream(model='m', max_tokens=9, messages=[]) as s:\n"
        "        list(s)\n"
        "except anthropic.APIConnectionError:\n"
        "    pass\n"
    )
    out = tmp_path / "recs"
    run_cli("record", "--upstream", upstream, "--out", str(out), "--", sys.executable, str(app))
    (recording,) = out.iterdir()
    result = run_cli("stream", str(recording), "--format", "json")
    assert result.code == 1 and result.codes() == ["CD408"]
    assert result.json["findings"][0]["message"].startswith(f"TCP step failed reaching {upstream}/v1/messages: ")


def test_a_stream_head_with_no_body_and_no_end_line_is_a_cut_capture(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.jsonl", status=200, end=None)
    warning = (
        f"claude-doctor: warning: {path}: exchange 0 stops after its response head (HTTP 200, no body, no end "
        "line), so whether its stream worked is unknown (was the capture cut off?)"
    )
    assert stderr_lines(run_cli("stream", str(path))) == [warning]
    replayed = run_cli("replay", "--speed", "max", str(path))
    assert stderr_lines(replayed) == [warning]  # replay used to drop the read warnings
    assert "[the recording stops here, after 0 events, with no end line: how the stream ended is unknown]" in (
        replayed.stdout
    )


# -- an answer closed unread ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "said"),
    [
        (429, "cancelled", "HTTP 429, body not read (the client closed it);"),
        (529, "cancelled", "HTTP 529, body not read (the client closed it)."),
        (429, "eof", "HTTP 429 (no body);"),
    ],
)
def test_a_retried_error_closed_unread_is_not_called_empty(tmp_path: Path, status: int, reason: str, said: str) -> None:
    path = write(tmp_path / "retried.jsonl", status=status, end=(reason, None), headers=())
    (finding,) = run_cli("stream", str(path), "--format", "json").json["findings"]
    assert finding["message"].startswith(said)


# -- replay --exchange N ----------------------------------------------------------------------------


def body_of(path: Path, i: int | None = None) -> bytes:
    return b"".join(r.data for r in open_source(str(path)).records if isinstance(r, Chunk) and i in (None, r.i))


def raw(*args: str):
    return run_cli("replay", "--speed", "max", "--view", "raw", *args)


@pytest.mark.parametrize("i", [0, 1])
def test_replay_raw_exchange_gives_one_exchange_body(i: int) -> None:
    result = raw("--exchange", str(i), str(RETRIED))
    assert result.stdout.encode() == body_of(RETRIED, i)
    assert "note:" not in result.stderr


def test_replay_raw_of_several_exchanges_says_how_to_pick_one() -> None:
    result = raw(str(RETRIED))
    assert result.stdout.encode() == body_of(RETRIED)  # all of them, as before
    assert "claude-doctor: note: 2 exchanges; --exchange N picks one" in stderr_lines(result)
    assert "note:" not in raw(str(RECORDINGS / "clean-text.jsonl")).stderr


def test_replay_exchange_that_is_not_there_is_exit_2() -> None:
    result = run_cli("replay", "--speed", "max", "--exchange", "7", str(RETRIED))
    assert result.code == 2
    assert stderr_lines(result)[-1] == f"claude-doctor: error: {RETRIED}: no exchange 7 (it has exchanges 0–1)"


def test_replay_exchange_checks_only_that_exchange() -> None:
    assert run_cli("replay", "--speed", "max", "--exchange", "1", str(RETRIED)).code == 0
    picked = run_cli("replay", "--speed", "max", "--exchange", "0", "--format", "json", str(RETRIED))
    assert picked.code == 1 and picked.codes() == ["CD109"]
