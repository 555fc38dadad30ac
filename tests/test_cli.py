"""The command line contract: rules/explain read one registry, selection, exit codes, formats,
colour, config, and start-up that never pays for the SDK."""

from __future__ import annotations

import json
import subprocess
import sys

from claude_doctor.findings import all_rules
from tests.conftest import RECORDINGS, ROOT
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

TRUNCATED = str(RECORDINGS / "cd104-truncated-stream.jsonl")
REFUSAL = str(RECORDINGS / "cd107-refusal.jsonl")  # an info finding
GAP = str(RECORDINGS / "cd102-idle-gap.jsonl")  # a warning


def test_rules_lists_every_design_code_once():
    result = run_cli("rules")
    assert result.code == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    expected = [f"CD{n}" for n in range(101, 118)]
    assert listed[: len(expected)] == expected
    assert len(listed) == len(set(listed)) == len(all_rules())


def test_rules_json_has_why_and_fix_for_every_rule():
    for rule in run_cli("rules", "--format", "json").json:
        assert rule["why"] and rule["fix"] and rule["summary"], rule["code"]
        assert rule["severity"] in ("error", "warning", "info")


def test_explain_by_code_and_by_name():
    by_code = run_cli("explain", "CD104")
    by_name = run_cli("explain", "truncated-stream")
    assert by_code.code == by_name.code == 0
    assert by_code.stdout == by_name.stdout
    assert by_code.stdout.startswith("CD104 truncated-stream (Streams, error)")
    assert "Why" in by_code.stdout and "Fix" in by_code.stdout and "RemoteProtocolError" in by_code.stdout


def test_explain_unknown_rule_is_a_usage_error():
    result = run_cli("explain", "CD999")
    assert result.code == 2
    assert (
        result.stderr.strip() == "claude-doctor: error: unknown rule 'CD999' (run `claude-doctor rules` for the list)"
    )


def test_select_and_ignore_by_code_prefix_and_name():
    both = [TRUNCATED, GAP]
    assert sorted(run_cli("stream", *both, "--format", "json").codes()) == ["CD102", "CD104"]
    assert run_cli("stream", *both, "--format", "json", "--select", "CD104").codes() == ["CD104"]
    assert run_cli("stream", *both, "--format", "json", "--select", "idle-gap").codes() == ["CD102"]
    assert run_cli("stream", *both, "--format", "json", "--ignore", "CD10").codes() == []
    assert run_cli("stream", *both, "--format", "json", "--ignore", "CD102,CD104").code == 0


def test_group_options_apply_to_subcommands():
    assert run_cli("--format", "json", "stream", TRUNCATED).codes() == ["CD104"]


def test_fail_on_sets_the_exit_status():
    assert run_cli("stream", REFUSAL).code == 0  # info does not fail by default
    assert run_cli("stream", REFUSAL, "--fail-on", "info").code == 1
    assert run_cli("stream", GAP).code == 1  # warning fails by default
    assert run_cli("stream", GAP, "--fail-on", "error").code == 0


def test_config_select_ignore_and_fail_on(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.claude-doctor]\nignore = ["CD104"]\nfail-on = "error"\n')
    result = run_cli("stream", TRUNCATED, GAP, "--format", "json", cwd=tmp_path)
    assert result.codes() == ["CD102"] and result.code == 0


def test_bad_config_is_one_line_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.claude-doctor]\nidle-gaps = 3\n")
    result = run_cli("stream", TRUNCATED, cwd=tmp_path)
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "unknown key 'idle-gaps'" in result.stderr


def run_in_terminal(*args: str, env: dict[str, str]) -> str:
    """Run the CLI with stdout on a pseudo-terminal, as a user's shell would."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", *args], stdout=slave, stderr=slave, cwd=ROOT, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_colour_on_a_terminal_unless_no_color():
    import os

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[" in run_in_terminal("stream", TRUNCATED, env=env)
    assert "\x1b[" not in run_in_terminal("stream", TRUNCATED, env={**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_in_terminal("stream", TRUNCATED, "--no-color", env=env)
    assert "\x1b[" not in run_cli("stream", TRUNCATED).stdout  # a pipe


def test_json_output_fields_are_stable():
    finding = run_cli("stream", TRUNCATED, "--format", "json").json["findings"][0]
    assert set(finding) >= {
        "code",
        "name",
        "severity",
        "message",
        "fix",
        "path",
        "line",
        "column",
        "cell",
        "event",
        "t",
    }
    assert finding["line"] is None and finding["cell"] is None


def test_sarif_has_one_descriptor_per_rule_and_results():
    sarif = run_cli("stream", TRUNCATED, GAP, "--format", "sarif").json
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == [r.code for r in all_rules()]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"CD102", "CD104"}
    assert results["CD104"]["level"] == "error" and results["CD102"]["level"] == "warning"
    loc = results["CD104"]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "recordings/cd104-truncated-stream.jsonl"
    assert results["CD104"]["properties"]["event"] == 12


def test_quiet_prints_findings_only():
    lines = run_cli("stream", TRUNCATED, "-q").stdout.splitlines()
    assert len(lines) == 1 and " CD104 [E] " in lines[0]


def test_no_file_is_a_usage_error():
    result = run_cli("stream", "does-not-exist.jsonl")
    assert result.code == 2
    assert result.stderr.strip() == "claude-doctor: error: does-not-exist.jsonl: no such file or folder"


def test_unknown_command_exits_2():
    assert run_cli("frobnicate").code == 2


def test_startup_imports_nothing_heavy():
    heavy = ("anthropic", "httpx", "httpx2", "aiohttp", "detect_secrets", "yaml")
    for args in (["--version"], ["rules"], ["stream", TRUNCATED]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "claude_doctor", *args], capture_output=True, text=True, cwd=ROOT
        )
        imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
        assert not imported & set(heavy), (args, imported & set(heavy))


def test_json_output_is_parseable_for_every_example():
    for path in RECORDINGS.rglob("*.*"):
        out = run_cli("stream", str(path), "--format", "json")
        assert out.code in (0, 1), (path, out.stderr)
        json.loads(out.stdout)
