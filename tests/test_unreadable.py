"""What `code`, `secrets` and the doctor say about what they could not check: a file that does not
parse, a folder with nothing in it, a broken recording, a request never sent, a folder outside git.
None of them may say "All clear" while something went unchecked, and the exit status agrees."""

from __future__ import annotations

import json
import random
import shutil
import socket
import string
from pathlib import Path

import pytest

from .conftest import RECORDINGS
from .conftest import invoke_cli as run_cli  # in-process (the fast layer)

BROKEN = "def broken(:\n    import anthropic\n"  # names the SDK, so it could hold a finding and is parsed
WARNS = "import asyncio\n\nloop = asyncio.get_event_loop()\nloop.run_forever()\n"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy set on the test machine must not add CD405 to the doctor's environment area."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def make_key() -> str:
    """A well-formed API key built at run time, so no key-shaped literal is committed."""
    alphabet = string.ascii_letters + string.digits
    return "sk-ant-api03-" + "".join(random.choices(alphabet, k=93)) + "AA"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def outside_git(tmp_path: Path, **env: str) -> dict[str, str]:
    """Keep git from finding a repository above tmp_path; a well-formed key unless one is given."""
    return {"GIT_CEILING_DIRECTORIES": str(tmp_path), "ANTHROPIC_API_KEY": make_key(), **env}


def area_line(stdout: str, area: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line[4:].startswith(area + " ")]
    return line


# -- code ---------------------------------------------------------------------------------------------


def test_code_reports_the_file_it_could_not_check_and_exits_2(tmp_path: Path) -> None:
    write(tmp_path, {"syntax.py": BROKEN, "empty.py": ""})
    result = run_cli("code", "syntax.py", "empty.py", cwd=tmp_path)
    assert result.code == 2
    assert result.stdout.strip() == "Checked 1 file: no problems found, but 1 file could not be checked."
    assert result.stderr.strip() == "claude-doctor: error: syntax.py: syntax error on line 1: invalid syntax"


def test_code_on_a_folder_reports_findings_and_the_unparsable_file(tmp_path: Path) -> None:
    write(tmp_path / "src", {"bad.py": BROKEN, "loop.py": WARNS})
    result = run_cli("code", "src", cwd=tmp_path)
    assert result.code == 2
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("src/loop.py:3:8: CD205 [W]")
    assert lines[-1] == "Found 1 problem in 1 file: 1 warning; 1 file could not be checked."
    assert "All clear" not in result.stdout
    assert result.stderr.strip() == "claude-doctor: error: src/bad.py: syntax error on line 1: invalid syntax"
    machine = run_cli("code", "src", "--format", "json", cwd=tmp_path)
    assert machine.code == 2 and machine.codes() == ["CD205"]


def test_code_on_a_folder_without_python_files_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / "docs", {"README.md": "# not code\n"})
    result = run_cli("code", "docs", cwd=tmp_path)
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == "claude-doctor: error: docs: no Python files or notebooks found"


# -- the doctor: files it could not check --------------------------------------------------------------


def test_doctor_names_a_python_file_it_could_not_parse(tmp_path: Path) -> None:
    write(tmp_path / "proj", {"app.py": "print('hi')\n", "fixtures/broken.py": BROKEN})
    env = outside_git(tmp_path)
    result = run_cli("proj", cwd=tmp_path, env=env)
    assert result.code == 1, result.stdout + result.stderr
    assert (
        area_line(result.stdout, "Code")
        == "[!] Code         no problems (1 Python file; could not check proj/fixtures/broken.py)"
    )
    assert "  proj/fixtures/broken.py: not checked (syntax error on line 1: invalid syntax)" in result.stdout
    assert (
        result.stdout.strip().splitlines()[-1] == "Checked 2 files: no problems found, but 1 file could not be checked."
    )
    assert result.stderr == ""
    assert run_cli("proj", "--fail-on", "error", cwd=tmp_path, env=env).code == 0
    machine = run_cli("proj", "--format", "json", cwd=tmp_path, env=env)
    assert machine.code == 1 and machine.json["findings"] == []
    assert machine.stderr.strip() == (
        "claude-doctor: warning: proj/fixtures/broken.py: not checked (syntax error on line 1: invalid syntax)"
    )


def test_doctor_names_the_first_few_unparsable_files_then_counts(tmp_path: Path) -> None:
    write(tmp_path / "proj", {f"bad{n}.py": BROKEN for n in range(5)})
    result = run_cli("proj", cwd=tmp_path, env=outside_git(tmp_path))
    assert result.code == 1
    assert area_line(result.stdout, "Code").endswith(
        "(0 Python files; could not check proj/bad0.py, proj/bad1.py, proj/bad2.py and 2 more)"
    )
    assert "5 files could not be checked." in result.stdout.strip().splitlines()[-1]


def test_doctor_names_a_broken_recording_and_never_says_all_clear(tmp_path: Path) -> None:
    root = write(tmp_path / "proj", {"recordings/broken.jsonl": "not json at all\n{\n"})
    shutil.copy(RECORDINGS / "clean-text.jsonl", root / "recordings" / "good.jsonl")
    result = run_cli("proj", cwd=tmp_path, env=outside_git(tmp_path))
    assert result.code == 1, result.stdout + result.stderr
    streams = area_line(result.stdout, "Streams")
    assert streams.startswith("[!] Streams      no problems (1 recording; could not check proj/recordings/broken.jsonl")
    assert "All clear" not in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("but 1 file could not be checked.")


def test_doctor_is_fine_with_a_project_without_python_files(tmp_path: Path) -> None:
    write(tmp_path / "proj", {"README.md": "# docs only\n"})
    result = run_cli("proj", cwd=tmp_path, env=outside_git(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    assert area_line(result.stdout, "Code") == "[✓] Code         no problems (0 Python files)"
    assert result.stdout.strip().splitlines()[-1] == "All clear: 1 file checked, no problems found."


def test_doctor_counts_python_files_and_notebooks_apart(tmp_path: Path) -> None:
    notebook = {
        "cells": [{"cell_type": "code", "source": "x = 1\n"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(tmp_path / "proj", {"app.py": "x = 1\n", "demo.ipynb": json.dumps(notebook)})
    result = run_cli("proj", cwd=tmp_path, env=outside_git(tmp_path))
    assert area_line(result.stdout, "Code") == "[✓] Code         no problems (1 Python file, 1 notebook)"


# -- the doctor: -q and --live -------------------------------------------------------------------------


def test_doctor_quiet_prints_findings_only(tmp_path: Path) -> None:
    write(tmp_path / "proj", {"loop.py": WARNS, "bad.py": BROKEN})
    result = run_cli("proj", "-q", cwd=tmp_path, env=outside_git(tmp_path, ANTHROPIC_API_KEY=""))
    assert result.code == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split(" [")[0].split(": ")[-1] for line in lines] == ["CD403", "CD205"], lines
    assert lines[1].startswith("proj/loop.py:3:8: CD205 [W]")
    assert result.stderr.strip() == (
        "claude-doctor: warning: proj/bad.py: not checked (syntax error on line 1: invalid syntax)"
    )


def test_live_without_a_key_says_the_request_was_not_sent(tmp_path: Path) -> None:
    write(tmp_path / "proj", {})
    result = run_cli("proj", "--live", cwd=tmp_path, env=outside_git(tmp_path, ANTHROPIC_API_KEY=""))
    assert result.code == 1
    assert area_line(result.stdout, "Streams") == (
        "[✓] Streams      no problems (no recordings/ folder; "
        "live request not sent: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN)"
    )


def test_live_request_that_fails_says_so(tmp_path: Path) -> None:
    write(tmp_path / "proj", {})
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = outside_git(tmp_path, ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    result = run_cli("proj", "--live", cwd=tmp_path, env=env)
    assert result.code == 1
    assert area_line(result.stdout, "Streams").endswith("(no recordings/ folder; live request failed: CD408)")


def test_live_request_that_was_made_is_counted(tmp_path: Path) -> None:
    from claude_doctor.serve import running

    write(tmp_path / "proj", {})
    with running([]) as url:
        result = run_cli("proj", "--live", cwd=tmp_path, env=outside_git(tmp_path, ANTHROPIC_BASE_URL=url))
    assert area_line(result.stdout, "Streams").endswith("(no recordings/ folder + the live request)"), result.stdout


# -- secrets -------------------------------------------------------------------------------------------


def test_secrets_outside_git_walks_the_current_folder(tmp_path: Path) -> None:
    key = make_key()
    write(tmp_path, {"settings.py": f'KEY = "{key}"\n', ".venv/lib/vendored.txt": key, "notes.md": "none\n"})
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    result = run_cli("secrets", "--format", "json", cwd=tmp_path, env=outside_git(tmp_path))
    assert result.code == 1, result.stderr
    assert [(f["code"], f["path"]) for f in result.json["findings"]] == [("CD301", "settings.py")]
    assert result.json["summary"]["files"] == 2


def test_secrets_history_needs_a_repository_and_no_files(tmp_path: Path) -> None:
    write(tmp_path, {"settings.py": "x = 1\n"})
    env = outside_git(tmp_path)
    outside = run_cli("secrets", "--history", cwd=tmp_path, env=env)
    assert outside.code == 2
    assert outside.stderr.strip() == "claude-doctor: error: --history needs a git repository"
    with_files = run_cli("secrets", "--history", "settings.py", cwd=tmp_path, env=env)
    assert with_files.code == 2
    assert with_files.stderr.strip() == "claude-doctor: error: --history scans the whole history; it takes no FILES"
