"""Rule selection and the command line's edges, as a new user meets them: a mistyped rule code or
command is a usage error with a suggestion (never a silently disabled check), options given before
the command apply to it or are refused, and `explain` tells a missing or binary file from a rule."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from tests.conftest import RECORDINGS
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

TRUNCATED = str(RECORDINGS / "cd104-truncated-stream.jsonl")
FOR_THE_LIST = "(run `claude-doctor rules` for the list)"


def error_line(result) -> str:
    """The one stderr line of a usage error (exit 2, nothing on stdout)."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- unknown rule selectors ----------------------------------------------------------------------


def test_a_mistyped_code_in_select_is_an_error_naming_the_nearest_codes():
    line = error_line(run_cli("stream", TRUNCATED, "--select", "CD14"))
    assert line == f"claude-doctor: error: --select: unknown rule 'CD14'; did you mean CD104 or CD114? {FOR_THE_LIST}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["code", "claude_doctor/cli.py", "--select", "CD999"], f"--select: unknown rule 'CD999' {FOR_THE_LIST}"),
        (["code", "claude_doctor/cli.py", "--select", "nonsense-rule"], "--select: unknown rule 'nonsense-rule' "),
        (["stream", TRUNCATED, "--ignore", "CD102,truncated-stram"], "did you mean truncated-stream?"),
        (["--select", "CD14", "stream", TRUNCATED], "--select: unknown rule 'CD14'"),
        (["--ignore", "CD9", "secrets", "README.md"], f"--ignore: unknown rule 'CD9' {FOR_THE_LIST}"),
    ],
)
def test_every_selector_that_matches_no_rule_is_refused(args: list[str], expected: str):
    assert expected in error_line(run_cli(*args))


@pytest.mark.parametrize("selector", ["ALL", "CD1", "CD10", "cd104", "truncated-stream", "CD104,idle-gap"])
def test_codes_prefixes_names_and_all_still_select(selector: str):
    result = run_cli("stream", TRUNCATED, "--format", "json", "--select", selector)
    assert result.code == 1, result.stderr
    assert result.codes() == ["CD104"]


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('select = ["CD1", "CD14"]', "select"),
        ('extend-select = ["nonsense-rule"]', "extend-select"),
        ('ignore = ["CD2O1"]', "ignore"),
        ('per-file-ignores = {"app.py" = ["CD999"]}', 'per-file-ignores."app.py"'),
    ],
)
def test_unknown_rules_in_the_config_file_name_the_file_and_the_key(tmp_path: Path, table: str, key: str):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.claude-doctor]\n{table}\n", encoding="utf-8")
    line = error_line(run_cli("stream", TRUNCATED, cwd=tmp_path))
    assert line.startswith(f"claude-doctor: error: {pyproject}: [tool.claude-doctor]: {key}: unknown rule '")


def test_a_valid_config_selection_still_applies(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.claude-doctor]\nselect = ["CD10", "idle-gap"]\n', encoding="utf-8")
    result = run_cli("stream", TRUNCATED, "--format", "json", cwd=tmp_path)
    assert result.code == 1 and result.codes() == ["CD104"]


# -- mistyped commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "typed", "meant"),
    [
        (["strem"], "strem", "stream"),
        (["streams", "x"], "streams", "stream"),
        (["--format", "json", "rule"], "rule", "rules"),
    ],
)
def test_a_mistyped_command_says_which_command_was_meant(tmp_path: Path, args: list[str], typed: str, meant: str):
    line = error_line(run_cli(*args, cwd=tmp_path))
    assert line == f"claude-doctor: error: no such command '{typed}'. Did you mean '{meant}'?"


def test_a_folder_named_like_a_command_is_still_checked_by_the_doctor(tmp_path: Path):
    (tmp_path / "strem").mkdir()
    result = run_cli("strem", "--format", "json", cwd=tmp_path)
    assert result.code in (0, 1), result.stderr
    assert json.loads(result.stdout)["version"] == 1


def test_a_missing_folder_unlike_any_command_is_still_a_missing_folder(tmp_path: Path):
    assert error_line(run_cli("somefolder", cwd=tmp_path)) == "claude-doctor: error: somefolder: no such folder"


def test_top_level_help_says_that_bare_claude_doctor_runs_the_doctor():
    result = run_cli("--help")
    assert result.code == 0
    assert "`claude-doctor [PATH] [--live]` runs `doctor`" in " ".join(result.stdout.split())


# -- options given before the command ------------------------------------------------------------


def test_format_before_rules_and_explain_applies_to_them():
    listed = run_cli("--format", "json", "rules")
    assert listed.code == 0 and listed.json[0]["code"] == "CD101"
    explained = run_cli("--format", "json", "explain", "CD104")
    assert explained.code == 0 and explained.json["name"] == "truncated-stream"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--format", "sarif", "rules"], "--format sarif does not apply to `rules` (it takes human, json, markdown)"),
        (
            ["--format", "sarif", "explain", "CD104"],
            "--format sarif does not apply to `explain` (it takes human, json)",
        ),
        (["--select", "CD1", "rules"], "--select does not apply to `rules`"),
        (["-q", "explain", "CD104"], "-q/--quiet does not apply to `explain`"),
        (["--format", "json", "serve", "--port", "0", "missing.jsonl"], "--format does not apply to `serve`"),
    ],
)
def test_options_before_a_command_that_cannot_use_them_are_refused(args: list[str], expected: str):
    assert error_line(run_cli(*args)) == f"claude-doctor: error: {expected}"


# -- explain with files --------------------------------------------------------------------------


def test_explain_a_binary_file_is_a_usage_error(tmp_path: Path):
    (tmp_path / "bin.dat").write_bytes(bytes(range(256)) * 4)
    line = error_line(run_cli("explain", "bin.dat", cwd=tmp_path))
    assert line == "claude-doctor: error: bin.dat: not text (a binary file); explain reads a traceback or log"


@pytest.mark.parametrize("name", ["missing.txt", "logs/app"])
def test_explain_a_missing_file_says_no_such_file(tmp_path: Path, name: str):
    assert error_line(run_cli("explain", name, cwd=tmp_path)) == f"claude-doctor: error: {name}: no such file"


def test_explain_a_mistyped_code_suggests_the_rule():
    line = error_line(run_cli("explain", "truncated-stram"))
    assert (
        line == f"claude-doctor: error: unknown rule 'truncated-stram'; did you mean truncated-stream? {FOR_THE_LIST}"
    )


def test_explain_reads_a_utf16_log_saved_by_a_windows_shell(tmp_path: Path):
    text = "Traceback (most recent call last):\nhttpx2.ReadTimeout: The read operation timed out\n"
    (tmp_path / "err.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    result = run_cli("explain", "err.txt", "--format", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.json["matches"][0]["code"] == "CD103"


def test_explain_by_code_name_and_stdin_still_work():
    assert run_cli("explain", "CD104").stdout.startswith("CD104 truncated-stream")
    assert run_cli("explain", "truncated-stream").stdout.startswith("CD104 truncated-stream")
    piped = run_cli("explain", "-", stdin=b"httpx2.ReadTimeout: The read operation timed out\n")
    assert piped.code == 0 and piped.stdout.startswith("CD103 read-timeout")
