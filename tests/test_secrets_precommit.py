"""The published hook, through real pre-commit: it installs claude-doctor into a fresh virtualenv (from
the package index) from a git repository holding a snapshot of this working tree, so what is tested is
the hook definition and the code on disk, committed or not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claude_doctor.keys import fingerprint
from tests.conftest import ROOT
from tests.secrets_corpus.corpus import fake_key, marker_values, materialize
from tests.test_secrets_scan import git

pytestmark = pytest.mark.slow
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))
HOOK = "claude-doctor-secrets"


@pytest.fixture(scope="session")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One PRE_COMMIT_HOME for the session, so the hook's environment is built once."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_", "PRE_COMMIT"))},
        "PRE_COMMIT_HOME": str(home),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "NO_COLOR": "1",
    }


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree's files (tracked, and untracked ones git does not ignore), committed in a fresh
    repository: pre-commit installs hooks from a commit."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, snapshot / name)
    git(snapshot, "init", "-q", "-b", "main")
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-q", "-m", "snapshot")
    return snapshot


@pytest.fixture(scope="session")
def installed_config(tmp_path_factory: pytest.TempPathFactory, hook_repo: Path) -> Path:
    """A user's config pinning the snapshot's commit, kept outside the test repos."""
    rev = git(hook_repo, "rev-parse", "HEAD").strip()
    config = tmp_path_factory.mktemp("config") / "pre-commit-config.yaml"
    config.write_text(f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: {HOOK}\n")
    return config


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def corpus_repo(path: Path, kind: str) -> tuple[Path, dict[str, list[str]]]:
    git(path, "init", "-q", "-b", "main")
    written = materialize(kind, path, marker_values())
    git(path, "add", "-A")
    return path, written


def test_try_repo_blocks_a_key_in_every_context(tmp_path: Path, hook_env: dict[str, str], hook_repo: Path) -> None:
    repo, written = corpus_repo(tmp_path, "positive")
    proc = run([PRE_COMMIT, "try-repo", str(hook_repo), HOOK], repo, hook_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Anthropic keys (claude-doctor)" in output and "Failed" in output
    for name, keys in written.items():
        assert f"{name}:" in output, name
        for key in keys:
            assert fingerprint(key) in output
            assert key not in output


def test_installed_hook_blocks_a_commit_with_a_key_and_passes_placeholders(
    tmp_path: Path, hook_env: dict[str, str], installed_config: Path
) -> None:
    repo, written = corpus_repo(tmp_path, "negative")
    assert run([PRE_COMMIT, "install", "-c", str(installed_config)], repo, hook_env).returncode == 0
    proc = run(["git", "commit", "-q", "-m", "placeholders"], repo, hook_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(written) >= 10

    (repo / "app.py").write_text(f'client = anthropic.Anthropic(api_key="{marker_values()["API03"]}")\n')
    git(repo, "add", "app.py")
    proc = run(["git", "commit", "-q", "-m", "oops"], repo, hook_env)
    assert proc.returncode != 0
    assert "app.py:1:39: CD301 [E] Anthropic API key sk-ant-api03-…" in proc.stdout + proc.stderr
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_file_names_that_read_as_options_are_scanned_as_files(
    tmp_path: Path, hook_env: dict[str, str], installed_config: Path
) -> None:
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    assert run([PRE_COMMIT, "install", "-c", str(installed_config)], repo, hook_env).returncode == 0
    (repo / "-q.py").write_text("print('a file whose name starts with a dash')\n")
    git(repo, "add", "--", "-q.py")
    proc = run(["git", "commit", "-q", "-m", "dash"], repo, hook_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # not "No such option: -."

    key, other = fake_key(), fake_key("admin01")
    (repo / "--history").write_text(f"ANTHROPIC_API_KEY={key}\n")
    (repo / "-q.py").write_text(f'KEY = "{other}"\n')
    git(repo, "add", "--", "--history", "-q.py")
    proc = run(["git", "commit", "-q", "-m", "keys"], repo, hook_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f"--history:1:19: CD301 [E] Anthropic API key {fingerprint(key)}" in output
    assert f"-q.py:1:8: CD301 [E] Anthropic Admin API key {fingerprint(other)}" in output
    assert key not in output and other not in output
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_hook_environment_is_the_light_core(hook_env: dict[str, str], installed_config: Path, tmp_path: Path) -> None:
    """The hook needs click, detect-secrets and the recording readers, not the SDK or the HTTP stacks;
    the commands that do need them say so in one line, and `code` says what it could not check."""
    git(tmp_path, "init", "-q", "-b", "main")
    proc = run([PRE_COMMIT, "install-hooks", "-c", str(installed_config)], tmp_path, hook_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    envs = list(Path(hook_env["PRE_COMMIT_HOME"]).glob("repo*/py_env-*"))
    assert envs
    installed = {p.name.split("-")[0].lower() for env in envs for p in env.glob("lib/python*/site-packages/*")}
    assert "claude_doctor" in installed and "detect_secrets" in installed
    assert not installed & {"anthropic", "httpx", "httpx2", "aiohttp", "pydantic"}

    core = str(envs[0] / "bin" / "claude-doctor")  # what `pip install claude-doctor` gives
    proc = run([core, "serve", "--port", "0"], tmp_path, hook_env)
    assert (proc.returncode, proc.stderr) == (
        2,
        "claude-doctor: error: this command needs aiohttp, which the core install leaves out: "
        "pip install 'claude-doctor[all]'\n",
    )
    (tmp_path / "app.py").write_text("import anthropic\n\nclient = anthropic.Anthropic()\n")
    proc = run([core, "code", "app.py"], tmp_path, hook_env)
    assert proc.returncode == 0
    assert "warning: CD218/CD219 not checked: no anthropic installed here" in proc.stderr


def test_a_local_hook_without_the_separator_never_passes_an_option_like_name(
    tmp_path: Path, hook_env: dict[str, str]
) -> None:
    """Configs written before the hook passed `--` (or that override `args`) call `secrets FILES`: a
    staged `--history` then stops the commit with a clear error instead of scanning the history."""
    config, repo = tmp_path / "config.yaml", tmp_path / "repo"
    config.write_text(
        "repos:\n  - repo: local\n    hooks:\n      - id: keys\n        name: keys\n"
        f"        entry: {sys.executable} -m claude_doctor secrets\n        language: system\n"
    )
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    assert run([PRE_COMMIT, "install", "-c", str(config)], repo, hook_env).returncode == 0
    key = fake_key()
    (repo / "--history").write_text(f"{key}\n")
    git(repo, "add", "--", "--history")
    proc = run(["git", "commit", "-q", "-m", "key"], repo, hook_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "claude-doctor: error: '--history' is a file here but reads as an option: put file names after" in output
    assert key not in output
