"""Recall and false positives of `claude-doctor secrets` against stock `detect-secrets scan`, both run
on the same freshly generated corpus in the same test; the table is printed for docs/commands.md."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from claude_doctor.keys import fingerprint
from tests.conftest import run_cli
from tests.secrets_corpus.corpus import marker_values, materialize
from tests.test_secrets_scan import git

DETECT_SECRETS = str(Path(sys.executable).with_name("detect-secrets"))


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict[str, list[str]], dict[str, list[str]]]:
    git(tmp_path, "init", "-q", "-b", "main")
    values = marker_values()
    positive = {f"pos/{k}": v for k, v in materialize("positive", tmp_path / "pos", values).items()}
    negative = {f"neg/{k}": v for k, v in materialize("negative", tmp_path / "neg", values).items()}
    git(tmp_path, "add", "-A")
    return tmp_path, positive, negative


def ours(repo: Path) -> dict[str, set[str]]:
    """File -> fingerprints reported as CD301."""
    result = run_cli("secrets", "--format", "json", "--select", "CD301", cwd=repo)
    assert result.code in (0, 1), result.stderr
    out: dict[str, set[str]] = {}
    for finding in result.json["findings"]:
        out.setdefault(finding["path"], set()).add(finding["message"])
    return out


def stock(repo: Path) -> dict[str, set[str]]:
    """File -> hashed secrets reported by default `detect-secrets scan` (all 27 plugins, default filters)."""
    proc = subprocess.run([DETECT_SECRETS, "scan"], cwd=repo, capture_output=True, text=True, check=True)
    results = json.loads(proc.stdout)["results"]
    return {path: {entry["hashed_secret"] for entry in entries} for path, entries in results.items()}


def _reported(keys: list[str], messages: set[str]) -> bool:
    return any(fingerprint(key) in message for key in keys for message in messages)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def test_corpus_recall_and_false_positives_against_stock_detect_secrets(corpus) -> None:
    repo, positive, negative = corpus
    assert len(positive) >= 20 and len(negative) >= 10
    ours_found, stock_found = ours(repo), stock(repo)
    ours_exact = [f for f, keys in positive.items() if _reported(keys, ours_found.get(f, set()))]
    stock_any = [f for f in positive if f in stock_found]
    stock_exact = [f for f, keys in positive.items() if {sha1(k) for k in keys} & stock_found.get(f, set())]
    rows = [
        (
            "claude-doctor secrets",
            len([f for f in positive if f in ours_found]),
            len(ours_exact),
            len([f for f in negative if f in ours_found]),
        ),
        (
            "detect-secrets scan 1.5.0 (defaults)",
            len(stock_any),
            len(stock_exact),
            len([f for f in negative if f in stock_found]),
        ),
    ]
    p, n = len(positive), len(negative)
    table = [
        f"| scanner | files with a key flagged (of {p}) | the key itself reported "
        f"| placeholder files flagged (of {n}) |",
        "|---|---|---|---|",
        *(f"| {name} | {hit} ({hit / p:.0%}) | {exact} ({exact / p:.0%}) | {fp} |" for name, hit, exact, fp in rows),
        "",
        "Missed by detect-secrets: " + ", ".join(f"`{f[4:]}`" for f in positive if f not in stock_found),
        "Placeholders detect-secrets flags: " + ", ".join(f"`{f[4:]}`" for f in negative if f in stock_found),
    ]
    print("\n" + "\n".join(table))

    assert sorted(ours_exact) == sorted(positive), "claude-doctor must find every key"
    assert not [f for f in negative if f in ours_found], "claude-doctor must not flag placeholders"
    assert len(stock_any) < len(positive)
