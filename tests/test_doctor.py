"""``claude-doctor`` (the ``doctor`` command) as a user runs it: in a project folder, with no
subcommand, on temp project trees built to hold one problem each. Asserts the ✓ / ! / ✗ line per
area, the findings grouped under their area, the codes in ``--format json`` and the exit status.
Nothing leaves loopback and no real key is needed (keys are built at run time)."""

from __future__ import annotations

import random
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import RECORDINGS, CliResult
from .conftest import invoke_cli as run_cli  # in-process (the fast layer)

AREAS = ("Environment", "Code", "Secrets", "Streams")
MARK = {"ok": "✓", "warn": "!", "bad": "✗"}
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")

CLEAN_CODE = """\
import anthropic

client = anthropic.Anthropic()


def ask(prompt: str) -> str:
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        return "".join(stream.text_stream)
"""
SYNC_IN_ASYNC = """\
from anthropic import Anthropic

client = Anthropic()


async def handler(prompt: str) -> str:
    message = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=1024, messages=[{"role": "user", "content": prompt}]
    )
    return message.content[0].text
"""
HOOK_CONFIG = """\
repos:
  - repo: https://github.com/example/claude-doctor
    rev: v0.1.0
    hooks:
      - id: claude-doctor-secrets
"""


def make_key() -> str:
    """A well-formed API key, built at run time: no key-shaped literal is ever committed."""
    alphabet = string.ascii_letters + string.digits + "_-"
    return "sk-ant-api03-" + "".join(random.choice(alphabet) for _ in range(93)) + "AA"


@pytest.fixture(autouse=True)
def no_proxy_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_cli`` passes our environment on; a proxy set on the machine running the tests must not
    leak into the projects' environment checks."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def project(tmp_path: Path, files: dict[str, str], *, repo: bool = True, hook: bool = True) -> Path:
    """A project folder holding ``files`` (and app.py with clean code unless given); a git repository
    with the secrets hook configured unless told otherwise. Files are left untracked unless the test
    adds them: doctor must see what `git add .` would commit."""
    root = tmp_path / "proj"
    root.mkdir()
    files = {"app.py": CLEAN_CODE, **files}
    if hook:
        files.setdefault(".pre-commit-config.yaml", HOOK_CONFIG)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if repo:
        git(root, "init", "-q")
    return root


def doctor(root: Path, *args: str, key: str | None = "well-formed", **env: str) -> tuple[CliResult, CliResult]:
    """Run ``claude-doctor ARGS`` (human) and ``claude-doctor --format json ARGS`` in ``root``."""
    environment = dict(env)
    if key is not None:
        environment["ANTHROPIC_API_KEY"] = make_key() if key == "well-formed" else key
    human = run_cli(*args, cwd=root, env=environment)
    machine = run_cli("--format", "json", *args, cwd=root, env=environment)
    return human, machine


def statuses(stdout: str) -> dict[str, str]:
    """{area: mark} from the status block at the top of the human report."""
    return {area: mark for mark, area in re.findall(r"^\[(.)\] (\w+) ", stdout, re.MULTILINE)}


def section(stdout: str, area: str) -> str:
    """The indented findings printed under ``area``'s heading ('' when the area has none)."""
    match = re.search(rf"^{area}\n((?:  .*\n?)+)", stdout, re.MULTILINE)
    return match.group(1) if match else ""


def assert_marks(stdout: str, **expected: str) -> None:
    """Every area has a status line; the named ones have the given mark, the others ✓."""
    marks = statuses(stdout)
    assert list(marks) == list(AREAS), stdout
    want = {area: MARK[expected.get(area.lower(), "ok")] for area in AREAS}
    assert marks == want, stdout


# -- a clean project ---------------------------------------------------------------------------------


def test_a_clean_project_prints_all_ticks_and_exits_0(tmp_path: Path) -> None:
    root = project(tmp_path, {"README.md": "# demo\n", "lib/util.py": "def f() -> int:\n    return 1\n"})
    git(root, "add", ".")
    human, machine = doctor(root)
    assert human.code == 0, human.stdout + human.stderr
    assert_marks(human.stdout)
    assert len(re.findall(r"^\[✓\] \w+ +no problems \(", human.stdout, re.MULTILINE)) == 4
    assert "anthropic " in human.stdout and "sk-ant-api03-…" in human.stdout  # SDK version, key fingerprint
    assert human.stdout.strip().splitlines()[-1] == "All clear: 4 files checked, no problems found."
    for area in AREAS:
        assert section(human.stdout, area) == ""
    assert machine.code == 0
    assert machine.json["findings"] == []
    assert machine.json["summary"]["error"] == machine.json["summary"]["warning"] == 0
    assert human.stderr == "" and machine.stderr == ""


def test_doctor_is_the_default_command_and_takes_a_path(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    key = make_key()
    by_default = run_cli(cwd=root, env={"ANTHROPIC_API_KEY": key})
    named = run_cli("doctor", str(root), cwd=tmp_path, env={"ANTHROPIC_API_KEY": key})
    assert by_default.code == named.code == 0
    assert statuses(by_default.stdout) == statuses(named.stdout)
    assert f"on {root.resolve()}" in named.stdout


# -- one problem per project ---------------------------------------------------------------------------


def test_hardcoded_key_is_an_error_under_secrets_and_never_printed(tmp_path: Path) -> None:
    key = make_key()
    root = project(tmp_path, {"settings.py": f'ANTHROPIC_KEY = "{key}"\n'})
    human, machine = doctor(root)
    assert human.code == machine.code == 1
    assert_marks(human.stdout, secrets="bad")
    found = section(human.stdout, "Secrets")
    assert "settings.py:1:" in found and "CD301 [E]" in found and "fix: Revoke the key" in found
    assert f"…{key[-4:]}, 108 chars" in found  # the fingerprint, not the key
    assert machine.codes() == ["CD301"]
    for output in (human.stdout, human.stderr, machine.stdout, machine.stderr):
        assert key not in output and key[13:40] not in output


def test_hardcoded_key_in_a_tracked_file(tmp_path: Path) -> None:
    key = make_key()
    root = project(tmp_path, {"config/keys.yaml": f"anthropic:\n  api_key: {key}\n"})
    git(root, "add", ".")
    _, machine = doctor(root)
    assert machine.code == 1
    assert [(f["code"], f["path"], f["line"]) for f in machine.json["findings"]] == [("CD301", "config/keys.yaml", 2)]


def test_a_key_in_a_gitignored_file_is_not_reported(tmp_path: Path) -> None:
    root = project(tmp_path, {".gitignore": "secrets/\n", "secrets/key.txt": make_key() + "\n"})
    human, machine = doctor(root)
    assert human.code == 0, human.stdout
    assert machine.json["findings"] == []


def test_sync_client_in_async_code_is_a_warning_under_code(tmp_path: Path) -> None:
    root = project(tmp_path, {"app.py": SYNC_IN_ASYNC})
    human, machine = doctor(root)
    assert human.code == machine.code == 1  # --fail-on defaults to warning
    assert_marks(human.stdout, code="warn")
    found = section(human.stdout, "Code")
    assert "app.py:7:15: CD201 [W]" in found and "fix:" in found
    assert machine.codes() == ["CD201"]
    assert run_cli("--fail-on", "error", cwd=root, env={"ANTHROPIC_API_KEY": make_key()}).code == 0


def test_unignored_env_file_with_the_key(tmp_path: Path) -> None:
    key = make_key()
    root = project(tmp_path, {".env": f"ANTHROPIC_API_KEY={key}\n"})
    human, machine = doctor(root)
    assert human.code == 1
    assert_marks(human.stdout, secrets="bad")
    found = section(human.stdout, "Secrets")
    assert ".env:1" in found and "CD303 [W]" in found and "CD301 [E]" in found
    assert sorted(machine.codes()) == ["CD301", "CD303"]
    assert key not in human.stdout + machine.stdout


def test_ignored_env_file_is_fine(tmp_path: Path) -> None:
    root = project(tmp_path, {".gitignore": ".env\n", ".env": f"ANTHROPIC_API_KEY={make_key()}\n"})
    human, _ = doctor(root)
    assert human.code == 0, human.stdout
    assert_marks(human.stdout)


def test_a_truncated_stream_under_recordings(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    (root / "recordings").mkdir()
    shutil.copy(RECORDINGS / "cd104-truncated-stream.jsonl", root / "recordings" / "bad.jsonl")
    shutil.copy(RECORDINGS / "clean-text.jsonl", root / "recordings" / "good.jsonl")
    human, machine = doctor(root)
    assert human.code == machine.code == 1
    assert_marks(human.stdout, streams="bad")
    assert re.search(r"^\[✗\] Streams .*\(2 recordings\)$", human.stdout, re.MULTILINE), human.stdout
    found = section(human.stdout, "Streams")
    assert "bad.jsonl" in found and "CD104 [E]" in found and "good.jsonl" not in found
    assert machine.codes() == ["CD104"]


def test_proxy_variable_is_reported_without_its_credentials(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    human, machine = doctor(root, HTTPS_PROXY="http://alice:s3cret-pw@proxy.corp.example:3128")
    assert human.code == 0  # info only
    assert_marks(human.stdout)
    found = section(human.stdout, "Environment")
    assert "CD405 [I]" in found and "proxy.corp.example:3128" in found
    assert "s3cret-pw" not in human.stdout + machine.stdout
    assert machine.codes() == ["CD405"]
    assert run_cli("--fail-on", "info", cwd=root, env={"ANTHROPIC_API_KEY": make_key(), "HTTPS_PROXY": "x:1"}).code == 1


def test_no_proxy_for_the_api_host_silences_cd405(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    _, machine = doctor(root, HTTPS_PROXY="http://proxy.corp.example:3128", NO_PROXY="api.anthropic.com")
    assert machine.codes() == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        pytest.param("quoted", "wrapped in quotes", id="quotes"),
        pytest.param("newline", "whitespace", id="trailing-newline"),
        pytest.param("short", "is 60 characters where an api03 key has 108", id="truncated"),
        pytest.param("sk-proj-0123456789abcdefghij", "does not start with sk-ant-", id="other-provider"),
    ],
)
def test_malformed_key_in_the_environment(tmp_path: Path, value: str, says: str) -> None:
    good = make_key()
    key = {"quoted": f'"{good}"', "newline": good + "\n", "short": good[:60]}.get(value, value)
    root = project(tmp_path, {})
    human, machine = doctor(root, key=key)
    assert human.code == machine.code == 1
    assert_marks(human.stdout, environment="bad")
    found = section(human.stdout, "Environment")
    assert "CD404 [E]" in found and says in found
    assert machine.codes() == ["CD404"]
    if value != "sk-proj-0123456789abcdefghij":
        assert good[13:60] not in human.stdout + machine.stdout


def test_no_key_at_all(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    human, machine = doctor(root, key=None)
    assert human.code == machine.code == 1
    assert_marks(human.stdout, environment="bad")
    assert "no key" in human.stdout.splitlines()[2]
    assert "CD403 [E]" in section(human.stdout, "Environment")
    assert machine.codes() == ["CD403"]
    _, empty = doctor(root, key="")
    assert empty.codes() == ["CD403"]


def test_an_auth_token_counts_as_a_credential(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    _, machine = doctor(root, key=None, ANTHROPIC_AUTH_TOKEN="oauth-token-value-0123456789")
    assert machine.codes() == []


def test_plain_http_base_url_to_another_host(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    human, machine = doctor(root, ANTHROPIC_BASE_URL="http://llm-gateway.corp.example:8080")
    assert human.code == 1
    assert_marks(human.stdout, environment="warn")
    found = section(human.stdout, "Environment")
    assert "CD406 [W]" in found and "clear text" in found
    assert [(f["code"], f["severity"]) for f in machine.json["findings"]] == [("CD406", "warning")]


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787", "http://localhost:8787", "https://gw.corp.example"])
def test_other_base_url_overrides_are_info(tmp_path: Path, url: str) -> None:
    root = project(tmp_path, {})
    human, machine = doctor(root, ANTHROPIC_BASE_URL=url)
    assert human.code == 0
    assert [(f["code"], f["severity"]) for f in machine.json["findings"]] == [("CD406", "info")]


def test_pre_commit_hook_missing(tmp_path: Path) -> None:
    root = project(tmp_path, {}, hook=False)
    human, machine = doctor(root)
    assert human.code == 0  # info
    assert "CD407 [I]" in section(human.stdout, "Environment")
    assert machine.codes() == ["CD407"]
    (root / ".pre-commit-config.yaml").write_text("repos:\n  - repo: local\n    hooks: []\n", encoding="utf-8")
    _, machine = doctor(root)
    assert machine.codes() == ["CD407"]


def test_outside_a_git_repository(tmp_path: Path) -> None:
    """No hook to miss and no .gitignore, but the files are still scanned for keys."""
    key = make_key()
    root = project(tmp_path, {"notes.txt": f"my key is {key}\n"}, repo=False, hook=False)
    human, machine = doctor(root)
    assert human.code == 1, human.stdout + human.stderr
    assert "internal error" not in human.stderr
    assert_marks(human.stdout, secrets="bad")
    assert machine.codes() == ["CD301"]


def test_every_problem_at_once_is_grouped_by_area(tmp_path: Path) -> None:
    key = make_key()
    root = project(tmp_path, {"app.py": SYNC_IN_ASYNC, "settings.py": f'KEY = "{key}"\n'}, hook=False)
    (root / "recordings").mkdir()
    shutil.copy(RECORDINGS / "cd104-truncated-stream.jsonl", root / "recordings")
    human, machine = doctor(root, key=None, HTTPS_PROXY="http://proxy.corp.example:3128")
    assert human.code == machine.code == 1
    assert_marks(human.stdout, environment="bad", code="warn", secrets="bad", streams="bad")
    headings = [line for line in human.stdout.splitlines() if line in AREAS]
    assert headings == list(AREAS)  # sections in the same order as the status lines
    env = section(human.stdout, "Environment")
    assert env.index("CD403") < env.index("CD405") < env.index("CD407")  # errors first
    assert "CD201" in section(human.stdout, "Code") and "CD301" in section(human.stdout, "Secrets")
    assert "CD104" in section(human.stdout, "Streams")
    last = human.stdout.strip().splitlines()
    assert any(
        re.fullmatch(r"Found 6 problems in \d+ files: 3 errors, 1 warning, 2 infos\.", line) for line in last[-2:]
    ), last
    assert sorted(machine.codes()) == ["CD104", "CD201", "CD301", "CD403", "CD405", "CD407"]
    summary = machine.json["summary"]
    assert (summary["error"], summary["warning"], summary["info"]) == (3, 1, 2)
    assert key not in human.stdout + machine.stdout


def test_select_and_ignore_apply_to_the_report(tmp_path: Path) -> None:
    root = project(tmp_path, {"app.py": SYNC_IN_ASYNC}, hook=False)
    human = run_cli("--ignore", "CD201", cwd=root, env={"ANTHROPIC_API_KEY": make_key()})
    assert human.code == 0
    assert "CD201" not in human.stdout
    machine = run_cli("--format", "json", "--select", "CD201", cwd=root, env={"ANTHROPIC_API_KEY": make_key()})
    assert machine.codes() == ["CD201"]


def test_sarif_output(tmp_path: Path) -> None:
    root = project(tmp_path, {"app.py": SYNC_IN_ASYNC})
    result = run_cli("--format", "sarif", cwd=root, env={"ANTHROPIC_API_KEY": make_key()})
    assert result.code == 1
    sarif = result.json
    assert sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["CD201"]


# -- the SDK in another interpreter ---------------------------------------------------------------------


def test_python_pointing_at_a_venv_without_the_sdk(tmp_path: Path) -> None:
    venv = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    root = project(tmp_path, {})
    human, machine = doctor(root, "doctor", "--python", str(python))
    assert human.code == machine.code == 1
    assert_marks(human.stdout, environment="warn")
    found = section(human.stdout, "Environment")
    assert "CD401 [W]" in found and str(python) in found and "fix:" in found
    assert "no anthropic SDK" in human.stdout.splitlines()[2]
    assert machine.codes() == ["CD401"]
    _, ours = doctor(root, "doctor", "--python", sys.executable)
    assert ours.codes() == []


def test_python_that_is_not_an_interpreter_is_a_usage_error(tmp_path: Path) -> None:
    root = project(tmp_path, {})
    result = run_cli(
        "doctor", "--python", str(tmp_path / "nope" / "python"), cwd=root, env={"ANTHROPIC_API_KEY": make_key()}
    )
    assert result.code == 2
    assert "Traceback" not in result.stderr and "nope" in result.stderr


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("doctor", str(tmp_path / "missing"), cwd=tmp_path)
    assert result.code == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["{root}"], ["{root}", "--python", "{python}"], ["--format", "json", "{root}", "--ignore", "CD201"]],
    ids=["PATH", "--python", "options-around-PATH"],
)
def test_doctor_arguments_without_the_subcommand_name(tmp_path: Path, args: list[str]) -> None:
    """DESIGN: `claude-doctor [doctor] [PATH] [--live]`: doctor's own arguments work without its name."""
    root = project(tmp_path, {"app.py": SYNC_IN_ASYNC})
    given = [a.format(root=root, python=sys.executable) for a in args]
    result = run_cli(*given, cwd=tmp_path, env={"ANTHROPIC_API_KEY": make_key()})
    if "--ignore" in given:
        assert result.code == 0 and result.json["findings"] == [], result.stdout + result.stderr
    else:
        assert result.code == 1, result.stderr
        assert f"on {root.resolve()}" in result.stdout and "CD201" in section(result.stdout, "Code")


# -- --live against the local mock API ----------------------------------------------------------------


def _live_env(base_url: str) -> dict[str, str]:
    fake = "sk-ant-api03-" + "".join(random.choices(string.ascii_letters + string.digits, k=93)) + "AA"
    return {"ANTHROPIC_API_KEY": fake, "ANTHROPIC_BASE_URL": base_url}


@pytest.mark.parametrize("faults, expected", [([], set()), (["truncate:5"], {"CD104"}), (["reorder"], {"CD105"})])
def test_live_probe_checks_the_real_stream(tmp_path, faults, expected):
    from claude_doctor.serve import running

    with running(faults) as url:
        result = run_cli("--live", str(tmp_path), "--format", "json", env=_live_env(url))
    stream_codes = {f["code"] for f in result.json["findings"] if f["code"].startswith("CD1")}
    assert stream_codes == expected, result.stdout
    assert "CD408" not in result.codes()


def test_live_probe_names_the_failing_step(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("--live", str(tmp_path), "--format", "json", env=_live_env(f"http://127.0.0.1:{port}"))
    (unreachable,) = [f for f in result.json["findings"] if f["code"] == "CD408"]
    assert unreachable["message"].startswith("TCP step failed")
    assert result.code == 1
