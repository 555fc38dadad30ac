"""`claude-doctor secrets` on files: CD301 in every context, placeholders, CD302, CD303, baselines, the
detect-secrets plugin, exit codes, and a canary key that must never be printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claude_doctor.keys import find_keys, fingerprint, is_placeholder
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)
from tests.secrets_corpus.corpus import fake_key, marker_values, materialize, target_name, templates

DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


# -- every context, exactly where the key is ------------------------------------------------------


def test_every_positive_context_is_found_at_the_key(tmp_path: Path) -> None:
    values = marker_values()
    written = materialize("positive", tmp_path, values)
    result = run_cli("secrets", "--format", "json", *written, cwd=tmp_path)
    assert result.code == 1, result.stderr
    by_file = {f["path"]: f for f in result.json["findings"] if f["code"] == "CD301"}
    assert sorted(by_file) == sorted(written)
    for name, (key,) in written.items():
        finding = by_file[name]
        lines = (tmp_path / name).read_text("utf-8").split("\n")
        line = lines[finding["line"] - 1]
        assert line[finding["column"] - 1 :].startswith(key), name
        assert fingerprint(key) in finding["message"]
        assert key not in result.stdout


def test_placeholders_and_near_misses_are_not_keys(tmp_path: Path) -> None:
    written = materialize("negative", tmp_path, marker_values())
    assert len(written) >= 10
    result = run_cli("secrets", "--format", "json", *written, cwd=tmp_path)
    assert result.code == 0, result.stdout
    assert result.json["findings"] == []


@pytest.mark.parametrize(
    "text",
    [
        "sk-ant-...",
        "sk-ant-api03-xxxx",
        "sk-ant-api03-…",
        "sk-ant-api03-<your-key>",
        "sk-ant-api03-${ANTHROPIC_KEY}",
        "sk-ant-api03-" + "x" * 93 + "AA",
        "sk-ant-api03-" + "0" * 93 + "AA",
        "sk-ant-api03-" + "ab" * 46 + "cAA",
        "sk-ant-api03-YOUR-API-KEY-HERE" + "0aZ9-_" * 11 + "abcAA",
        "sk-ant-oat01-your-oauth-token-here-" + "0" * 40,
        marker_values()["SEQ"],
        fake_key("api03", 92),
        fake_key("api03", 94),
        fake_key("admin01", 91),
        fake_key("api03", tail="BB"),
        fake_key("oat01", 37),
    ],
)
def test_placeholder_rules(text: str) -> None:
    assert find_keys(f'key = "{text}"') == []


def test_random_keys_are_never_placeholders() -> None:
    kinds = [("api03", 93), ("admin01", 93), ("oat01", 40), ("ort01", 95)]
    for kind, body in kinds:
        for _ in range(2000):
            key = fake_key(kind, body)
            assert not is_placeholder(key), fingerprint(key)
            assert find_keys(f"x={key}\n") == [(2, key)]


def test_noqa_and_detect_secrets_allowlist_pragma_silence_a_line(tmp_path: Path) -> None:
    key = fake_key()
    write(tmp_path, "a.py", f'A = "{key}"  # noqa: CD301\n')
    write(tmp_path, "b.py", f'B = "{key}"  # pragma: allowlist secret\n')
    write(tmp_path, "c.py", f'# pragma: allowlist nextline secret\nC = "{key}"\n')
    write(tmp_path, "d.py", f'D = "{key}"  # noqa: CD201\n')
    result = run_cli("secrets", "--format", "json", "a.py", "b.py", "c.py", "d.py", cwd=tmp_path)
    assert [(f["path"], f["line"]) for f in result.json["findings"]] == [("d.py", 1)]


def test_keys_in_binary_and_odd_files_are_found(tmp_path: Path) -> None:
    key = fake_key()
    (tmp_path / "blob.bin").write_bytes(b"\x00\xff\xfe" + b"\n" * 3 + key.encode() + b"\x00\x89PNG")
    write(tmp_path, "two.txt", f"{key} and {fake_key('admin01')}\n")
    result = run_cli("secrets", "--format", "json", "blob.bin", "two.txt", cwd=tmp_path)
    assert [(f["path"], f["line"], f["column"]) for f in result.json["findings"]] == [
        ("blob.bin", None, None),  # lines mean nothing in a binary file: the message gives the byte offset
        ("two.txt", 1, 1),
        ("two.txt", 1, 114),
    ]
    assert result.json["findings"][0]["message"].endswith(", at byte 6 of a binary file")
    human = run_cli("secrets", "blob.bin", cwd=tmp_path).stdout
    assert human.startswith(f"blob.bin: CD301 [E] Anthropic API key {fingerprint(key)}, at byte 6 of a binary file\n")


# -- which files, exit codes ----------------------------------------------------------------------


def test_default_scans_git_tracked_files_and_passes_clean(repo: Path) -> None:
    write(repo, "clean.py", 'KEY = "sk-ant-..."\n')
    git(repo, "add", "clean.py")
    result = run_cli("secrets", cwd=repo)
    assert result.code == 0, result.stdout + result.stderr
    assert "All clear: 1 file checked" in result.stdout

    write(repo, "untracked.py", f'KEY = "{fake_key()}"\n')
    assert run_cli("secrets", cwd=repo).code == 0
    write(repo, "sub/tracked.py", f'KEY = "{fake_key()}"\n')
    git(repo, "add", "sub/tracked.py")
    result = run_cli("secrets", "--format", "json", cwd=repo)
    assert result.code == 1
    assert [f["path"] for f in result.json["findings"]] == ["sub/tracked.py"]
    result = run_cli("secrets", "--format", "json", ".", cwd=repo / "sub")
    assert [f["path"] for f in result.json["findings"]] == ["tracked.py"]


def test_missing_file_and_outside_git_are_usage_errors(tmp_path: Path) -> None:
    result = run_cli("secrets", "nope.py", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == "claude-doctor: error: nope.py: no such file or folder"
    result = run_cli("secrets", cwd=tmp_path)  # outside git: every file under the folder, like `code`
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_select_and_fail_on_apply(tmp_path: Path) -> None:
    write(tmp_path, "k.txt", fake_key())
    assert run_cli("secrets", "--ignore", "CD301", "k.txt", cwd=tmp_path).code == 0
    sarif = run_cli("secrets", "--format", "sarif", "k.txt", cwd=tmp_path)
    assert sarif.code == 1
    assert json.loads(sarif.stdout)["runs"][0]["results"][0]["ruleId"] == "CD301"


# -- messages a user reads in a blocked commit ----------------------------------------------------


def test_each_fix_is_printed_once_after_its_findings(tmp_path: Path) -> None:
    keys = [fake_key() for _ in range(3)]
    names = [write(tmp_path, f"k{n}.py", f'KEY = "{key}"\n').name for n, key in enumerate(keys)]
    admin = fake_key("admin01")
    write(tmp_path, "z.py", f'ADMIN = "{admin}"\n')
    result = run_cli("secrets", *names, "z.py", cwd=tmp_path)
    assert result.code == 1
    lines = result.stdout.splitlines()
    fixes = [line for line in lines if line.startswith("  fix")]
    assert len(fixes) == 2, result.stdout  # one per kind of credential, not one per finding
    assert lines[3].startswith("  fix (all 3 above): Revoke the key now in the Claude Console (Settings → API keys)")
    assert lines[:3] == [f"k{n}.py:1:8: CD301 [E] Anthropic API key {fingerprint(k)}" for n, k in enumerate(keys)]
    assert lines[4] == f"z.py:1:10: CD301 [E] Anthropic Admin API key {fingerprint(admin)}"
    assert lines[5].startswith("  fix: Revoke the Admin key now in the Claude Console (Settings → Admin keys")
    quiet = run_cli("secrets", "-q", *names, cwd=tmp_path)
    assert "fix" not in quiet.stdout and len(quiet.stdout.splitlines()) == 3
    findings = run_cli("secrets", "--format", "json", *names, cwd=tmp_path).json["findings"]
    assert all(f["fix"].startswith("Revoke the key now") for f in findings)  # JSON keeps it per finding


@pytest.mark.parametrize(
    ("kind", "says", "never"),
    [
        ("api03", ["Settings → API keys", "`ANTHROPIC_API_KEY`"], ["Admin keys", "setup-token"]),
        ("admin01", ["Settings → Admin keys", "members, workspaces"], ["`ANTHROPIC_API_KEY`", "Settings → API keys"]),
        ("oat01", ["claude setup-token", "`CLAUDE_CODE_OAUTH_TOKEN`"], ["Settings → API keys", "`ANTHROPIC_API_KEY`"]),
        ("ort01", ["refresh token", "`/login`"], ["Settings → API keys", "`ANTHROPIC_API_KEY`"]),
    ],
)
def test_each_kind_of_credential_gets_its_own_advice(tmp_path: Path, kind: str, says: list, never: list) -> None:
    key = fake_key(kind, 93 if kind in ("api03", "admin01") else 95)
    write(tmp_path, "a.txt", key)
    write(tmp_path, "rec.jsonl", recording([["x-api-key", key]]))
    result = run_cli("secrets", "--format", "json", "a.txt", "rec.jsonl", cwd=tmp_path)
    for finding in result.json["findings"]:
        assert all(text in finding["fix"] for text in says), (finding["code"], finding["fix"])
        assert not any(text in finding["fix"] for text in never), (finding["code"], finding["fix"])
    assert [f["code"] for f in result.json["findings"]] == ["CD301", "CD302"]


# -- CD302: recordings ----------------------------------------------------------------------------


def recording(headers: list[list[str]], body_text: str = "hi") -> str:
    lines = [
        {
            "k": "meta",
            "format": "claude-doctor/recording",
            "v": 1,
            "recorded_at": None,
            "source": "hand",
            "tool": "test",
            "redacted": [],
        },
        {
            "k": "request",
            "i": 0,
            "t": 0.0,
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "headers": headers,
            "json": {
                "model": "m",
                "max_tokens": 5,
                "stream": True,
                "messages": [{"role": "user", "content": body_text}],
            },
        },
        {
            "k": "response",
            "i": 0,
            "t": 0.1,
            "status": 200,
            "reason": "OK",
            "http_version": "HTTP/1.1",
            "headers": [["content-type", "text/event-stream"]],
        },
        {"k": "chunk", "i": 0, "t": 0.2, "text": "event: ping\ndata: " + json.dumps({"type": "ping", "x": body_text})},
        {"k": "end", "i": 0, "t": 0.3, "reason": "eof"},
    ]
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_recording_with_unredacted_key_is_cd302_once(tmp_path: Path) -> None:
    key = fake_key()
    write(tmp_path, "rec.jsonl", recording([["x-api-key", key]], body_text=f"my key is {key}"))
    result = run_cli("secrets", "--format", "json", "rec.jsonl", cwd=tmp_path)
    assert result.code == 1
    [finding] = result.json["findings"]
    assert (finding["code"], finding["line"], finding["exchange"]) == ("CD302", 2, 0)
    assert "unredacted `x-api-key` request header" in finding["message"]
    assert fingerprint(key) in finding["message"]
    assert key not in result.stdout


def test_recording_credentials_other_than_keys(tmp_path: Path) -> None:
    token = "Bearer " + "q" * 12 + "Zr9" * 10
    write(tmp_path, "a.jsonl", recording([["Authorization", token]]))
    write(tmp_path, "b.jsonl", recording([["x-api-key", "[REDACTED len=108]"], ["cookie", ""]]))
    oat = fake_key("oat01")
    write(tmp_path, "c.jsonl", recording([["x-api-key", "[REDACTED len=108]"]], body_text=oat))
    result = run_cli("secrets", "--format", "json", "a.jsonl", "b.jsonl", "c.jsonl", cwd=tmp_path)
    found = [(f["path"], f["line"], f["message"]) for f in result.json["findings"]]
    assert found == [
        ("a.jsonl", 2, f"unredacted `authorization` request header in the recording: a value {fingerprint(token)}"),
        (
            "c.jsonl",
            2,
            f"unredacted key in a `request` line in the recording: Anthropic OAuth access token {fingerprint(oat)}",
        ),
    ]
    assert token not in result.stdout


# -- CD303: .env files ----------------------------------------------------------------------------


def test_env_file_not_ignored_is_cd303(repo: Path) -> None:
    write(repo, ".env", "DEBUG=1\nexport ANTHROPIC_API_KEY=\n")
    write(repo, ".env.example", "ANTHROPIC_API_KEY=\n")
    write(repo, "config/prod.env", "CLAUDE_CODE_OAUTH_TOKEN=\n")
    write(repo, "other.env", "OPENAI_API_KEY=\n")
    git(repo, "add", ".env.example", "other.env")
    result = run_cli("secrets", "--format", "json", cwd=repo)
    found = [(f["code"], f["path"], f["line"]) for f in result.json["findings"]]
    assert found == [("CD303", ".env", 2), ("CD303", "config/prod.env", 1)]
    assert result.code == 1

    write(repo, ".gitignore", ".env\n*.env\n")
    git(repo, "add", ".gitignore")
    result = run_cli("secrets", "--format", "json", cwd=repo)
    assert result.json["findings"] == [], result.stdout
    # A tracked file is not ignored, whatever .gitignore says.
    git(repo, "add", "-f", ".env")
    assert [f["path"] for f in run_cli("secrets", "--format", "json", cwd=repo).json["findings"]] == [".env"]


def test_env_outside_git_is_silent(tmp_path: Path) -> None:
    write(tmp_path, ".env", "ANTHROPIC_API_KEY=\n")
    assert run_cli("secrets", ".env", cwd=tmp_path).code == 0


# -- baselines ------------------------------------------------------------------------------------


def test_stock_detect_secrets_baseline_accepts_what_it_lists(repo: Path) -> None:
    quoted, bare = fake_key(), fake_key()
    write(repo, "app.py", f'token = "{quoted}"\n')
    write(repo, "notes.md", f"key: `{bare}`\n")
    git(repo, "add", ".")
    baseline = subprocess.run([DETECT_SECRETS, "scan"], cwd=repo, capture_output=True, text=True, check=True).stdout
    write(repo, ".secrets.baseline", baseline)
    result = run_cli("secrets", "--format", "json", "--baseline", ".secrets.baseline", "app.py", "notes.md", cwd=repo)
    # Stock detect-secrets saw the quoted key (as a high-entropy string), not the Markdown one.
    assert [f["path"] for f in result.json["findings"]] == ["notes.md"]


def test_baseline_made_with_our_plugin_accepts_everything(repo: Path) -> None:
    import claude_doctor.secrets_plugin as plugin

    write(repo, "notes.md", f"key: `{fake_key()}`\n")
    write(repo, "app.py", f'client = anthropic.Anthropic(api_key="{fake_key()}")\n')
    git(repo, "add", ".")
    scan = [DETECT_SECRETS, "scan", "--plugin", plugin.__file__, "--disable-filter", plugin.INDIRECT_REFERENCE]
    baseline = subprocess.run(scan, cwd=repo, capture_output=True, text=True, check=True).stdout
    types = {s["type"] for entries in json.loads(baseline)["results"].values() for s in entries}
    assert "Anthropic API Key" in types
    write(repo, ".secrets.baseline", baseline)
    result = run_cli("secrets", "--baseline", ".secrets.baseline", cwd=repo)
    assert result.code == 0, result.stdout
    # The file is never rewritten: no line-number churn in commits.
    assert (repo / ".secrets.baseline").read_text() == baseline


def test_bad_baseline_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "b.json", '{"plugins_used": []}')
    result = run_cli("secrets", "--baseline", "b.json", "b.json", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == 'claude-doctor: error: b.json: not a detect-secrets baseline (no valid "results")'


# -- the detect-secrets plugin --------------------------------------------------------------------


def test_plugin_in_detect_secrets_own_scanner_sees_the_sdk_line(tmp_path: Path) -> None:
    """Stock settings hide ``Anthropic(api_key=…)`` from every plugin (``is_indirect_reference``); the
    config we publish keeps it, and registers the plugin by name with no path."""
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    from claude_doctor.secrets_plugin import INDIRECT_REFERENCE, AnthropicKeyDetector, detect_secrets_config

    path = write(tmp_path, "app.py", f'client = anthropic.Anthropic(api_key="{fake_key()}")\nx = "sk-ant-..."\n')
    config = detect_secrets_config()
    assert "path" not in config["plugins_used"][0]
    with transient_settings(config):
        collection = SecretsCollection()
        collection.scan_file(str(path))
    assert [(s.type, s.line_number) for _, s in collection] == [(AnthropicKeyDetector.secret_type, 1)]

    stock = config | {"filters_used": [*config["filters_used"], {"path": INDIRECT_REFERENCE}]}
    with transient_settings(stock):
        collection = SecretsCollection()
        collection.scan_file(str(path))
    assert list(collection) == []


def test_hook_path_does_not_import_the_sdk_or_detect_secrets_for_clean_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "Use `sk-ant-api03-...` as a placeholder.\n")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "claude_doctor", "secrets", "a.md"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = {"anthropic", "httpx", "httpx2", "detect_secrets", "requests"}
    assert not {m for m in imported if m.split(".")[0] in heavy}


# -- the canary -----------------------------------------------------------------------------------


def test_canary_key_never_appears_in_any_output(repo: Path) -> None:
    canary = fake_key()
    write(repo, "app.py", f'client = Anthropic(api_key="{canary}")\n')
    write(repo, ".env", f"ANTHROPIC_API_KEY={canary}\n")
    write(repo, "rec.jsonl", recording([["x-api-key", canary], ["authorization", f"Bearer {canary}"]], canary))
    write(repo, "broken.jsonl", '{"k":"meta","format":"claude-doctor/recording","v":1}\n{"k":"request", ' + canary)
    write(repo, "bad.baseline", '{"results": {"app.py": [{"hashed_secret": "' + canary + '"}]}}')
    git(repo, "add", "app.py", "rec.jsonl", "broken.jsonl")
    git(repo, "commit", "-q", "-m", f"add {canary} by mistake")
    runs = [
        ("secrets",),
        ("secrets", "-v", "--format", "json"),
        ("secrets", "--format", "sarif"),
        ("secrets", "--history", "-v"),
        ("secrets", "--history", "--format", "json"),
        ("secrets", "--baseline", "bad.baseline"),
        ("secrets", "app.py", "missing-" + canary),
    ]
    for args in runs:
        result = run_cli(*args, cwd=repo)
        assert result.code in (1, 2), args
        assert canary not in result.stdout + result.stderr, args
        assert canary[13:-2] not in result.stdout + result.stderr, args
    assert fingerprint(canary) in run_cli("secrets", cwd=repo).stdout


def test_every_template_has_a_target_name() -> None:
    names = [target_name(t) for kind in ("positive", "negative") for t in templates(kind)]
    assert len(names) == len(set(names)) >= 50
    assert ".env" in names
