"""The published hook, through real pre-commit: it installs claude-doctor from this repository's HEAD
into a fresh virtualenv (from the package index), so commit the hook files before running these."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from claude_doctor.keys import fingerprint
from tests.conftest import ROOT
from tests.secrets_corpus.corpus import marker_values, materialize
from tests.test_secrets_scan import git

pytestmark = pytest.mark.slow
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))
HOOK = "claude-doctor-secrets"


@pytest.fixture(scope="session")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One PRE_COMMIT_HOME for the session, so the hook's environment is built once."""
    if subprocess.run(["git", "cat-file", "-e", "HEAD:.pre-commit-hooks.yaml"], cwd=ROOT, check=False).returncode:
        pytest.fail(".pre-commit-hooks.yaml is not committed: pre-commit installs hooks from HEAD")
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
def installed_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's config pinning this repository's HEAD, kept outside the test repos."""
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    config = tmp_path_factory.mktemp("config") / "pre-commit-config.yaml"
    config.write_text(f"repos:\n  - repo: {ROOT}\n    rev: {rev.stdout.strip()}\n    hooks:\n      - id: {HOOK}\n")
    return config


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)


def corpus_repo(path: Path, kind: str) -> tuple[Path, dict[str, list[str]]]:
    git(path, "init", "-q", "-b", "main")
    written = materialize(kind, path, marker_values())
    git(path, "add", "-A")
    return path, written


def test_try_repo_blocks_a_key_in_every_context(tmp_path: Path, hook_env: dict[str, str]) -> None:
    repo, written = corpus_repo(tmp_path, "positive")
    proc = run([PRE_COMMIT, "try-repo", str(ROOT), HOOK], repo, hook_env)
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
