"""`claude-doctor secrets --history`: keys anywhere in any commit, named by the commit that added them."""

from __future__ import annotations

from pathlib import Path

from claude_doctor.keys import fingerprint
from tests.conftest import run_cli
from tests.secrets_corpus.corpus import fake_key
from tests.test_secrets_scan import git, write


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_key_added_then_deleted_is_found_at_the_commit_that_added_it(tmp_path: Path) -> None:
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    write(repo, "README.md", "# demo\n")
    commit(repo, "start")
    key, other = fake_key(), fake_key("admin01")
    write(repo, "app/config.py", f'import os\n\nDEBUG = True\nKEY = "{key}"\n')
    added = commit(repo, "add config")
    write(repo, "app/settings.py", f'KEY = "{key}"\n')
    commit(repo, "copy the key elsewhere")
    write(repo, "app/config.py", 'import os\n\nDEBUG = True\nKEY = os.environ["ANTHROPIC_API_KEY"]\n')
    (repo / "app/settings.py").unlink()
    commit(repo, "remove the key")
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "notes.txt", f"admin: {other}\n")
    on_side = commit(repo, "side branch key")
    git(repo, "checkout", "-q", "main")

    assert run_cli("secrets", cwd=repo).code == 0

    result = run_cli("secrets", "--history", "--format", "json", cwd=repo)
    assert result.code == 1, result.stderr
    found = [(f["code"], f["path"], f["line"], f["column"]) for f in result.json["findings"]]
    assert found == [("CD301", "app/config.py", 4, 8), ("CD301", "notes.txt", 1, 8)]
    messages = [f["message"] for f in result.json["findings"]]
    assert messages[0] == (
        f"Anthropic API key {fingerprint(key)}, first committed in {added[:10]} "
        f"({git(repo, 'log', '-1', '--format=%cs', added).strip()}, 'add config')"
    )
    assert on_side[:10] in messages[1] and "Admin API key" in messages[1]
    assert key not in result.stdout


def test_history_of_a_clean_repo_and_outside_git(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, "a.py", 'KEY = "sk-ant-api03-xxxx"\n')
    commit(tmp_path, "placeholder only")
    result = run_cli("secrets", "--history", cwd=tmp_path)
    assert result.code == 0, result.stdout
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    result = run_cli("secrets", "--history", cwd=outside, env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert result.code == 2
    assert result.stderr.strip() == "claude-doctor: error: --history needs a git repository"
