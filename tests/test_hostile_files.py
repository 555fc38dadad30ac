"""Hostile files and paths: one bad file never aborts a run, nothing hangs, memory stays bounded, and
the words name the file and the problem. Every case runs the real CLI in a subprocess with a timeout
(a hang fails the test instead of stalling the suite); memory is bounded with ``RLIMIT_AS``."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from claude_doctor import synth
from tests.conftest import ROOT

HANG = 30  #: seconds: far above any of these runs, far below "forever"
MB = 1 << 20


@dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8")  # raises if the output is not valid UTF-8


def run(
    *args: str,
    cwd: Path,
    memory: int | None = None,
    stdin: BinaryIO | int = subprocess.DEVNULL,
    prefix: tuple[str, ...] = (),
) -> Run:
    """``claude-doctor ARGS`` in ``cwd``; with ``memory``, under an address-space limit of that many
    bytes (a read that grows without bound then dies instead of passing); ``prefix`` runs it through
    another command (setpriv)."""

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", "PYTHONPATH": str(ROOT)})
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "claude_doctor", *args],
        cwd=cwd,
        env=env,
        stdin=stdin,
        capture_output=True,
        timeout=HANG,
        preexec_fn=limit,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


#: Runs the command given as its arguments and writes the child's peak resident memory to stderr.
PEAK = (
    sys.executable,
    "-c",
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(f'peak-rss-kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr); "
    "sys.exit(code)",
)


def peak_mb(result: Run) -> float:
    """The peak resident memory of a run made with ``prefix=PEAK``."""
    return int(result.err.rsplit("peak-rss-kb=", 1)[1]) / 1024


def assert_sane(result: Run) -> None:
    """What no hostile file may cause: a traceback, an internal error, a click usage block."""
    assert "Traceback" not in result.err
    assert "internal error" not in result.err
    assert "Usage:" not in result.err


def fake_key() -> str:
    body = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(93))
    return f"sk-ant-api03-{body}AA"


def recording(path: Path) -> Path:
    """A clean raw-SSE capture of one answer."""
    path.write_bytes(b"".join(synth.text_message(["Hello", " there"])))
    return path


def project(folder: Path) -> Path:
    """A small project: one Python file holding a key (CD301, so that "the rest is still checked" is
    visible as a finding) and a recordings/ folder with one clean capture."""
    folder.mkdir()
    (folder / "app.py").write_text(f'import anthropic\nKEY = "{fake_key()}"\n')
    (folder / "recordings").mkdir()
    recording(folder / "recordings" / "ok.sse")
    return folder


# -- item 8: one bad file never aborts the run ------------------------------------------------------


def test_json_nested_100000_deep_is_one_error_naming_the_file(tmp_path: Path) -> None:
    """Was: RecursionError, "internal error", no file named, the clean capture's result lost."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    recording(folder / "ok.sse")
    (folder / "deep.har").write_text('{"log": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = run("stream", "recordings", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert "recordings/deep.har: JSON nested too deeply to read" in result.err
    assert "Checked 1 file" in result.stdout


def _deep_recording(path: Path, key: str) -> Path:
    """A claude-doctor recording whose request line holds a key and a body nested 100,000 deep."""
    meta = json.dumps({"k": "meta", "format": "claude-doctor/recording", "v": 1})
    deep = '{"k": "request", "i": 0, "headers": {"x-api-key": "' + key + '"}, "json": '
    path.write_text(meta + "\n" + deep + "[" * 100_000 + "]" * 100_000 + "}\n")
    return path


@pytest.mark.parametrize("command", ["stream", "replay", "serve"])
def test_a_recording_line_nested_100000_deep_is_one_error(tmp_path: Path, command: str) -> None:
    """Was: RecursionError as an internal error from the line reader (replay, serve)."""
    _deep_recording(tmp_path / "deep.jsonl", fake_key())
    result = run(command, "deep.jsonl", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert result.err == "claude-doctor: error: deep.jsonl: JSON nested too deeply to read\n"


def test_secrets_still_finds_the_key_on_a_line_nested_too_deeply(tmp_path: Path) -> None:
    """Was: RecursionError as an internal error, no result at all."""
    _deep_recording(tmp_path / "deep.jsonl", fake_key())
    result = run("secrets", "-q", "deep.jsonl", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 1
    assert "deep.jsonl:2:" in result.stdout and "CD302" in result.stdout


def test_a_notebook_holding_a_100000_digit_number_is_not_an_internal_error(tmp_path: Path) -> None:
    """Was: "internal error in claude-doctor (ValueError: Exceeds the limit (4300 digits)…)"."""
    (tmp_path / "big.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "execution_count": ' + "9" * 100_000 + ', "source": ["x = 1"]}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    (tmp_path / "app.py").write_text(f'import anthropic\nKEY = "{fake_key()}"\n')
    result = run("code", "--format", "json", ".", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert "big.ipynb: not a Jupyter notebook" in result.err
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["CD301"]


def _unreadable_runner(tmp_path: Path) -> tuple[str, ...]:
    """How to run the CLI so that a chmod 000 folder cannot be read: as is for a normal user; as root
    (CI), with the capabilities that bypass file permissions dropped (setpriv); else skip."""
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0)
    try:
        os.listdir(probe)
    except PermissionError:
        return ()
    finally:
        probe.chmod(0o755)
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a chmod 000 folder stays readable")
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


@pytest.mark.parametrize("command", ["code", "secrets", "stream", "doctor"])
def test_an_unreadable_subfolder_is_named_and_the_rest_is_checked(tmp_path: Path, command: str) -> None:
    """Was: PermissionError as an internal error (code, secrets, doctor), or "no recordings found"
    with the unreadable folder not named (stream)."""
    prefix = _unreadable_runner(tmp_path)
    root = project(tmp_path / "proj")
    locked = root / "recordings" / "locked"
    locked.mkdir()
    (locked / "app2.py").write_text("import anthropic\n")
    locked.chmod(0)
    try:
        target = "proj/recordings" if command == "stream" else "proj"
        result = run(command, target, cwd=tmp_path, prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert_sane(result)
    if command == "doctor":  # a file it could not check counts as a warning: exit 1, named in its area
        assert result.code == 1
        assert "proj/recordings/locked: not checked (cannot list the folder (permission denied))" in result.stdout
        assert "CD301" in result.stdout
        return
    assert result.code == 2
    assert "claude-doctor: error: proj/recordings/locked: cannot list the folder (permission denied)" in result.err
    assert "All clear" not in result.stdout
    if command == "stream":
        assert "Checked 1 file" in result.stdout  # recordings/ok.sse
    else:
        assert "proj/app.py:2:8: CD301" in result.stdout


def test_an_unreadable_path_named_is_one_line_not_a_usage_block(tmp_path: Path) -> None:
    """Was: click's three-line "Usage: … Error: Invalid value for '[FILES]...': Path … is not readable"."""
    prefix = _unreadable_runner(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = run("secrets", "locked", cwd=tmp_path, prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert_sane(result)
    assert result.code == 2
    assert result.err == "claude-doctor: error: locked: cannot list the folder (permission denied)\n"


def _symlink_loop(folder: Path) -> None:
    (folder / "loop_a.py").symlink_to("loop_b.py")
    (folder / "loop_b.py").symlink_to("loop_a.py")


@pytest.mark.parametrize("command", ["code", "secrets", "stream"])
def test_a_symlink_loop_named_is_a_loop_not_no_such_file(tmp_path: Path, command: str) -> None:
    """Was: an internal error (code: RuntimeError from Path.resolve) or "no such file" (secrets, stream)."""
    _symlink_loop(tmp_path)
    result = run(command, "loop_a.py", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert result.err == "claude-doctor: error: loop_a.py: a symlink loop (too many levels of symbolic links)\n"


def test_a_symlink_loop_in_a_folder_is_named_and_the_rest_is_checked(tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    _symlink_loop(root)
    result = run("code", "proj", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert "proj/loop_a.py: a symlink loop" in result.err
    assert "CD301" in result.stdout


# -- item 9: a FIFO never hangs a command ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "target", "pipe"),
    [
        ("code", "proj", "proj/pipe.py"),
        ("secrets", "proj", "proj/pipe.py"),
        ("stream", "proj/recordings", "proj/recordings/pipe.jsonl"),
        ("doctor", "proj", "proj/recordings/pipe.jsonl"),
    ],
)
def test_a_fifo_in_a_folder_is_skipped_with_a_note(tmp_path: Path, command: str, target: str, pipe: str) -> None:
    """Was: every one of these blocked forever opening the pipe (here: the timeout)."""
    project(tmp_path / "proj")
    os.mkfifo(tmp_path / "proj" / "pipe.py")
    os.mkfifo(tmp_path / "proj" / "recordings" / "pipe.jsonl")
    result = run(command, target, cwd=tmp_path)
    assert_sane(result)
    if command == "doctor":
        assert f"{pipe}: not checked (not a regular file)" in result.stdout
        return
    note = "file that is not a regular file" if command != "secrets" else "files that are not regular files"
    assert (
        f"claude-doctor: warning: skipped {1 + (command == 'secrets')} {note} (a named pipe, socket or device)"
        in result.err
    )
    assert pipe in result.err
    assert result.code == (0 if command == "stream" else 1)  # the key in app.py is still found
    assert "All clear" not in result.stdout


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("code", "pipe.py"),
        ("secrets", "pipe.py"),
        ("stream", "pipe.jsonl"),
        ("replay", "pipe.jsonl"),
        ("serve", "pipe.jsonl"),
        ("explain", "pipe.py"),
    ],
)
def test_a_fifo_named_is_refused_in_one_line(tmp_path: Path, command: str, name: str) -> None:
    """Was: a hang (stream, replay, serve, secrets) or "no such file" (code, explain)."""
    os.mkfifo(tmp_path / name)
    result = run(command, name, cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert result.err == f"claude-doctor: error: {name}: a named pipe (FIFO), not a regular file: not read\n"


# -- item 11: bounded memory on any input ---------------------------------------------------------


def test_secrets_on_dev_zero_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Was: read /dev/zero whole (past 2 GB; here it dies at the limit)."""
    result = run("secrets", "/dev/zero", cwd=tmp_path, memory=400 * MB)
    assert_sane(result)
    assert result.code == 2
    assert result.err == "claude-doctor: error: /dev/zero: a device, not a regular file: not read\n"


def test_explain_stdin_from_dev_zero_ends_in_bounded_memory(tmp_path: Path) -> None:
    """Was: ``sys.stdin.buffer.read()`` of an endless stream."""
    with open("/dev/zero", "rb") as zero:
        result = run("explain", "-", cwd=tmp_path, memory=400 * MB, stdin=zero)
    assert_sane(result)
    assert result.code == 2
    assert "stdin: not text (a binary file)" in result.err


def test_explain_reads_a_long_log_from_its_end(tmp_path: Path) -> None:
    """Was: the first 1 MiB of the file, silently, so the traceback at the end of a long log was missed."""
    log = tmp_path / "app.log"
    with log.open("w") as f:
        for n in range(40_000):
            f.write(f"2026-01-01 INFO request {n} served in 12 ms\n")
        f.write('Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n')
        f.write("httpx.RemoteProtocolError: peer closed connection without sending complete message body\n")
    assert log.stat().st_size > 1 * MB
    result = run("explain", "app.log", cwd=tmp_path, memory=400 * MB)
    assert_sane(result)
    assert result.code == 0
    assert result.stdout.startswith("CD104")
    assert "claude-doctor: note: app.log: read the last 1 MiB of 2 MiB only" in result.err


def test_code_skips_a_10_mb_generated_file_in_bounded_memory(tmp_path: Path) -> None:
    """Was: about 120 times the file in memory (1.2 GB for 10 MB); under the limit, a MemoryError
    misreported as "too deeply nested to parse", exit 2."""
    with (tmp_path / "generated.py").open("w") as f:
        f.write("import anthropic\n")
        f.write("TABLE = [1, 2, 3]\n" * 600_000)
    (tmp_path / "app.py").write_text(f'import anthropic\nKEY = "{fake_key()}"\n')
    result = run("code", ".", cwd=tmp_path, memory=500 * MB, prefix=PEAK)
    assert_sane(result)
    assert result.code == 1
    assert "claude-doctor: warning: generated.py: larger than 2 MiB (10 MiB): not checked" in result.err
    assert "app.py:2:8: CD301" in result.stdout
    assert peak_mb(result) < 150  # the project index parsed it too, until the limit (MemoryError) hid it


def test_secrets_leaves_out_a_file_over_the_limit_with_a_warning(tmp_path: Path) -> None:
    """Was: read whole, however large (2.4 times its size in memory)."""
    with (tmp_path / "data.bin").open("wb") as f:
        f.truncate(80 * MB)  # sparse: costs no disk
    (tmp_path / "app.py").write_text(f'KEY = "{fake_key()}"\n')
    result = run("secrets", "data.bin", "app.py", cwd=tmp_path, memory=250 * MB, prefix=PEAK)
    assert_sane(result)
    assert result.code == 1
    assert "claude-doctor: warning: data.bin: larger than 64 MiB (80 MiB): not checked" in result.err
    assert "Found 1 problem in 1 file" in result.stdout
    assert peak_mb(result) < 100


# -- item 13: the right words ---------------------------------------------------------------------


def _names_with_a_key(folder: Path) -> None:
    key = f'KEY = "{fake_key()}"\n'.encode()
    for name in (b"bad\xff name.py", b"new\nline.py", b"sp ace%.py"):
        (folder / os.fsdecode(name)).write_bytes(key)


def test_json_output_stays_valid_utf8_with_a_file_name_that_is_not(tmp_path: Path) -> None:
    """Was: the raw 0xff byte in the JSON text (invalid UTF-8, which JSON readers reject)."""
    _names_with_a_key(tmp_path)
    result = run("secrets", "--format", "json", ".", cwd=tmp_path)
    paths = sorted(f["path"] for f in json.loads(result.stdout)["findings"])
    assert paths == ["bad\\xff name.py", "new\nline.py", "sp ace%.py"]


def test_sarif_uris_are_percent_encoded(tmp_path: Path) -> None:
    """Was: invalid UTF-8, a raw space, a raw newline and a bare % in ``artifactLocation.uri``."""
    _names_with_a_key(tmp_path)
    result = run("secrets", "--format", "sarif", ".", cwd=tmp_path)
    results = json.loads(result.stdout)["runs"][0]["results"]
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results)
    assert uris == ["bad%FF%20name.py", "new%0Aline.py", "sp%20ace%25.py"]


def test_a_newline_in_a_file_name_does_not_split_a_line(tmp_path: Path) -> None:
    _names_with_a_key(tmp_path)
    result = run("secrets", "-q", ".", "missing\nfile.py", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(": CD301 [E] " in line for line in lines)
    assert r"new\nline.py:1:8: CD301" in result.stdout
    assert result.err == "claude-doctor: error: missing\\nfile.py: no such file or folder\n"


def test_nul_bytes_in_python_source_name_the_line(tmp_path: Path) -> None:
    """Was: "syntax error on line None"."""
    (tmp_path / "broken.py").write_bytes(b"import anthropic\nx = 1\n\x00\n")
    result = run("code", "broken.py", cwd=tmp_path)
    assert_sane(result)
    assert result.code == 2
    assert result.err == "claude-doctor: error: broken.py: not Python source: a NUL byte on line 3\n"


def test_explain_states_its_exit_status_and_keeps_it(tmp_path: Path) -> None:
    """``explain -`` answers "is this a known failure?" like grep (0 yes, 1 no): a documented exception
    to 0 clean / 1 found, said in --help."""
    assert "Exit status when reading a traceback: 0 when it shows a known failure" in " ".join(
        run("explain", "--help", cwd=tmp_path).stdout.split()
    )
    (tmp_path / "known.txt").write_text("httpx.ReadTimeout: timed out\n")
    (tmp_path / "unknown.txt").write_text("all good\n")
    with (tmp_path / "known.txt").open("rb") as known, (tmp_path / "unknown.txt").open("rb") as unknown:
        codes = (
            run("explain", "-", cwd=tmp_path, stdin=known).code,
            run("explain", "-", cwd=tmp_path, stdin=unknown).code,
        )
    assert codes == (0, 1)
