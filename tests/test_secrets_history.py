"""`claude-doctor secrets --history`: keys anywhere in any commit, named by the commit that added them."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def history(repo: Path, cwd: Path | None = None) -> list[tuple[str | None, int | None, str]]:
    """(path, line, message) of every finding of ``secrets --history``, which must exit 1 and never print a
    key."""
    result = run_cli("secrets", "--history", "--format", "json", cwd=cwd or repo)
    assert result.code == 1, result.stdout + result.stderr
    assert "sk-ant-api03-" not in result.stdout.replace("sk-ant-api03-…", "")
    return [(f["path"], f["line"], f["message"]) for f in result.json["findings"]]


def two_commits(repo: Path) -> tuple[str, str]:
    """A key in the root commit, and one on line 3 of a file whose lines 1 and 3 change together."""
    first, second = fake_key(), fake_key()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "cfg/a.py", f"x = 1\nKEY = '{first}'\n")
    write(repo, "b.txt", "1\n2\n3\n4\n")
    write(repo, "sub/s.txt", "s\n")
    commit(repo, "root")
    write(repo, "b.txt", f"one\n2\nKEY = '{second}'\n4\n")
    commit(repo, "second")
    return first, second


@pytest.mark.parametrize(
    "settings",
    [
        {"diff.noprefix": "true"},  # no b/ prefix: every path was read as "not a file"
        {"log.showRoot": "false"},  # the root commit's diff is not shown at all
        {"diff.interHunkContext": "5"},  # context lines inside a hunk shifted the line numbers
        {"diff.relative": "true"},  # run from sub/, only sub/ was diffed
        {  # everything a user's config can set at once
            "diff.noprefix": "true",
            "diff.mnemonicPrefix": "true",
            "color.ui": "always",
            "color.diff": "always",
            "diff.external": "false",
            "log.showSignature": "true",
            "log.diffMerges": "first-parent",
            "diff.renames": "copies",
            "core.quotePath": "true",
        },
    ],
    ids=lambda settings: "+".join(settings) if len(settings) < 3 else "all-at-once",
)
def test_no_git_setting_makes_history_blind(tmp_path: Path, settings: dict[str, str]) -> None:
    first, second = two_commits(tmp_path)
    for name, value in settings.items():
        git(tmp_path, "config", name, value)
    found = history(tmp_path, cwd=tmp_path / "sub")
    assert [(path, line) for path, line, _ in found] == [("b.txt", 3), ("cfg/a.py", 2)]
    assert fingerprint(first) in found[1][2] and fingerprint(second) in found[0][2]


def test_paths_git_quotes_are_unquoted_not_skipped(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    names = ['notes/my "quoted" file.txt', "notes/tab\there.txt", "notes/with space.txt", "notes/naïve\\back.txt"]
    for name in names:
        write(tmp_path, name, f"first line\nkey: {fake_key()}\n")
    commit(tmp_path, "notes")
    git(tmp_path, "config", "core.quotePath", "true")  # octal escapes for the non-ASCII name
    assert sorted((path, line) for path, line, _ in history(tmp_path)) == sorted((name, 2) for name in names)


def test_key_added_only_by_a_merge_resolution_is_found_at_the_merge(tmp_path: Path) -> None:
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    write(repo, "settings.py", "A = 1\nB = 2\n")
    commit(repo, "start")
    git(repo, "checkout", "-q", "-b", "side")
    side_key, merge_key = fake_key(), fake_key()
    write(repo, "side.py", f"KEY = '{side_key}'\n")
    on_side = commit(repo, "side key")
    git(repo, "checkout", "-q", "main")
    write(repo, "main.py", "pass\n")
    commit(repo, "main work")
    git(repo, "merge", "-q", "--no-commit", "side")
    write(repo, "settings.py", f"A = 1\nKEY = '{merge_key}'\nB = 2\n")  # an "evil merge": only the merge has it
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "merge side")
    merge = git(repo, "rev-parse", "HEAD").strip()

    found = history(repo)
    assert [(path, line) for path, line, _ in found] == [("settings.py", 2), ("side.py", 1)]
    assert fingerprint(merge_key) in found[0][2] and merge[:10] in found[0][2]
    assert fingerprint(side_key) in found[1][2] and on_side[:10] in found[1][2]  # not re-reported at the merge


def test_key_in_a_commit_message_is_reported_with_its_commit(tmp_path: Path) -> None:
    repo = tmp_path
    git(repo, "init", "-q", "-b", "main")
    write(repo, "README.md", "# demo\n")
    key, in_subject = fake_key(), fake_key("oat01", 60)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "configure the client", "-m", f"tried it with\n{key}\nand it works")
    sha = git(repo, "rev-parse", "HEAD").strip()
    write(repo, "README.md", "# demo\n\nmore\n")
    git(repo, "commit", "-q", "-am", f"oops {in_subject}")

    found = history(repo)
    assert [(path, line) for path, line, _ in found] == [(None, None), (None, None)]
    messages = sorted(message for _, _, message in found)
    date = git(repo, "log", "-1", "--format=%cs", sha).strip()
    assert messages[0] == (
        f"Anthropic API key {fingerprint(key)} in the message of commit {sha[:10]} "
        f"({date}, 'configure the client'), line 4"
    )
    assert messages[1].startswith(f"Anthropic OAuth access token {fingerprint(in_subject)} in the message of commit")
    assert "'oops [REDACTED len=" in messages[1] and in_subject not in messages[1]
