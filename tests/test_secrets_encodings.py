"""Keys hidden by an encoding: UTF-16 text, binary files, base64 (Kubernetes `Secret`s, `.env` values,
`Basic` headers, a recording's `b64` fields). Each is found with its own message, and the near misses
of each decoder (placeholders, wrong lengths, `[REDACTED len=N]`, base64 of anything else) stay silent.

Fake keys are made at run time (``fake_key``), so nothing key-shaped is committed."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from claude_doctor.keys import BASE64_MARKS, find_base64_keys, fingerprint
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)
from tests.secrets_corpus.corpus import fake_key, marker_values
from tests.test_secrets_scan import recording


def scan(folder: Path, *names: str) -> list[dict]:
    """The findings of `claude-doctor secrets --format json` on ``names``; a key's secret part (any
    ``sk-ant-`` not followed by a fingerprint's ``…``) never appears in the output."""
    result = run_cli("secrets", "--format", "json", *names, cwd=folder)
    assert result.code in (0, 1), result.stderr
    findings = result.json["findings"]
    for finding in findings:
        assert finding["message"].split("sk-ant-", 1)[-1].split("-", 1)[-1].startswith("…"), finding["message"]
    return findings


# -- UTF-16 text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        # Windows PowerShell 5's `>` and `Out-File` write UTF-16LE with a BOM: the shape of a `.ps1`
        # that sets `$env:ANTHROPIC_API_KEY` (as DataDog/dd-trace-py .gitlab/scripts/multi-os-tests.ps1
        # @3bb9ecda sets `$env:...` variables, there in ASCII).
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-le", b""),  # no BOM: bytes written by code (.NET `Encoding.Unicode.GetBytes`)
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-be", b""),
    ],
)
def test_key_in_utf16_text_is_found_at_its_line(tmp_path: Path, codec: str, bom: bytes) -> None:
    key = fake_key()
    text = f"# set up\r\n$env:ANTHROPIC_API_KEY = '{key}'\r\nWrite-Host ok\r\n"
    (tmp_path / "setup.ps1").write_bytes(bom + text.encode(codec))
    [finding] = scan(tmp_path, "setup.ps1")
    assert (finding["code"], finding["line"], finding["column"]) == ("CD301", 2, 27)
    assert finding["message"] == f"Anthropic API key {fingerprint(key)}, in UTF-16 text"


def test_utf16_near_misses_and_pragmas_are_silent(tmp_path: Path) -> None:
    values = marker_values()
    lines = [
        f"$a = '{values['FULLX']}'",
        f"$b = '{values['SHORT']}'",
        "$c = 'sk-ant-api03-...'",
        f"$d = '{fake_key()}'  # noqa: CD301",
    ]
    (tmp_path / "near.ps1").write_bytes(b"\xff\xfe" + "\r\n".join(lines).encode("utf-16-le"))
    assert scan(tmp_path, "near.ps1") == []


# -- binary files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [b"x", b"7", b"-", b"_", b"A", b"\x00", b"\xff", b""])
def test_key_in_binary_is_found_whatever_byte_follows(tmp_path: Path, after: bytes) -> None:
    """A key compiled into a binary (a `.pyc`, a packed asset) sits between arbitrary bytes; 64 of the
    256 could continue a key, and such a key was missed."""
    key = fake_key()
    data = bytes(range(256)) * 4 + key.encode() + after + b"\x00\x01\x02"
    (tmp_path / "app.pyc").write_bytes(data)
    [finding] = scan(tmp_path, "app.pyc")
    assert (finding["line"], finding["column"]) == (None, None)
    assert finding["message"] == f"Anthropic API key {fingerprint(key)}, at byte 1,024 of a binary file"
    human = run_cli("secrets", "app.pyc", cwd=tmp_path).stdout
    assert human.startswith("app.pyc: CD301 [E] ")  # no `1:8085`-style line and column


def test_binary_near_misses_are_silent(tmp_path: Path) -> None:
    values = marker_values()
    data = b"\x00".join(
        [values["FULLX"].encode(), b"sk-ant-api03-" + b"k" * 93, values["SEQ"].encode(), b"[REDACTED len=108]"]
    )
    (tmp_path / "blob.bin").write_bytes(b"\x00" + data + b"\x00")
    assert scan(tmp_path, "blob.bin") == []


# -- base64 -----------------------------------------------------------------------------------------


def test_the_three_base64_spellings_of_the_prefix() -> None:
    """`sk-ant-` has one base64 spelling per alignment (0, 1 or 2 bytes before it in its group of 3)."""
    for pad in range(3):
        encoded = base64.b64encode(b"q" * pad + b"sk-ant-api03-")
        assert sum(mark in encoded for mark in BASE64_MARKS) == 1, pad


@pytest.mark.parametrize("pad", [0, 1, 2])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_key_in_a_kubernetes_secret_and_env_files(tmp_path: Path, pad: int, urlsafe: bool) -> None:
    # A Kubernetes `Secret` keeps `data:` values base64-encoded (`echo -n "$KEY" | base64`); public
    # manifests hold exactly this line: `ANTHROPIC_API_KEY: c2stYW50LWFwaTAzLWV4YW1wbGU=` (a placeholder,
    # see the near misses below). A `.env` may hold `..._B64=` values, padded or not, in either alphabet.
    key = fake_key()
    prefix = ["", "\n", "u:"][pad].encode()  # the key at each of the three alignments
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    value = encode(prefix + key.encode()).decode()
    (tmp_path / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: llm\ntype: Opaque\ndata:\n  ANTHROPIC_API_KEY: {value}\n"
    )
    (tmp_path / ".env").write_text(f"DEBUG=1\nANTHROPIC_API_KEY_B64={value.rstrip('=')}\n")
    found = scan(tmp_path, "secret.yaml", ".env")
    assert [(f["path"], f["line"], f["column"]) for f in found] == [(".env", 2, 23), ("secret.yaml", 7, 22)]
    assert {f["message"] for f in found} == {f"base64-encoded Anthropic API key {fingerprint(key)}"}


def test_base64_basic_auth_header_with_an_oauth_token(tmp_path: Path) -> None:
    token = fake_key("oat01", 95)
    header = base64.b64encode(f"user:{token}".encode()).decode()
    (tmp_path / "curl.sh").write_text(f'curl -H "Authorization: Basic {header}" https://proxy.example\n')
    [finding] = scan(tmp_path, "curl.sh")
    assert finding["message"] == f"base64-encoded Anthropic OAuth access token {fingerprint(token)}"
    assert "setup-token" in finding["fix"]


def test_base64_noqa_silences_the_line(tmp_path: Path) -> None:
    value = base64.b64encode(fake_key().encode()).decode()
    (tmp_path / "a.yaml").write_text(f"k: {value}  # noqa: CD301\n")
    (tmp_path / "b.yaml").write_text(f"# pragma: allowlist nextline secret\nk: {value}\n")
    assert scan(tmp_path, "a.yaml", "b.yaml") == []


def test_base64_near_misses_are_silent(tmp_path: Path) -> None:
    values = marker_values()
    b64 = [
        base64.b64encode(text.encode()).decode()
        for text in [
            values["FULLX"],
            values["SHORT"],
            values["BB"],
            values["OAT_WORDS"],
            "[REDACTED len=108]",
            "sk-ant-api03-...",
            # public Kubernetes manifests and docs hold these placeholders, base64-encoded
            "sk-ant-api03-example",
            "sk-ant-api03-xxx",
            "sk-ant-YourAnthropicAPIKeyHere",
            "sk-ant-prod-" + "x" * 24,
            fake_key()[:60],  # a key cut short by `base64 | head -c`
        ]
    ]
    randoms = [base64.b64encode(os.urandom(n)).decode() for n in (16, 81, 300)]
    hashes = [hashlib.sha256(b"k").hexdigest(), str(uuid.uuid4()), base64.b64encode(hashlib.sha512(b"k").digest())]
    lines = [f"v{n}: {value}" for n, value in enumerate([*b64, *randoms, *map(str, hashes)])]
    (tmp_path / "near.yaml").write_text("\n".join(lines) + "\n")
    assert scan(tmp_path, "near.yaml") == []


def test_random_base64_never_decodes_to_a_key() -> None:
    blob = base64.b64encode(os.urandom(200_000))
    assert find_base64_keys(blob) == []


# -- recordings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_key_in_a_recording_b64_chunk_is_cd302(tmp_path: Path, pad: int) -> None:
    # The recorder writes a chunk that is not UTF-8 on its own as `"b64"` (claude_doctor/recording/
    # jsonl.py `_chunk_fields`), e.g. a chunk split inside a multi-byte character before `data: …`.
    key = fake_key()
    lines = recording([["x-api-key", "[REDACTED len=108]"]]).splitlines()
    chunk = b"\xe2\x80"[: 2 - pad] + b'data: {"echo": "' + key.encode() + b'"}\n\n'
    lines.insert(4, json.dumps({"k": "chunk", "i": 0, "t": 0.25, "b64": base64.b64encode(chunk).decode()}))
    (tmp_path / "rec.jsonl").write_text("\n".join(lines) + "\n")
    [finding] = scan(tmp_path, "rec.jsonl")
    assert (finding["code"], finding["line"], finding["exchange"]) == ("CD302", 5, 0)
    assert finding["message"] == (
        f"unredacted base64-encoded key in a `chunk` line in the recording: Anthropic API key {fingerprint(key)}"
    )


def test_key_in_a_recording_b64_request_body_is_cd302(tmp_path: Path) -> None:
    key = fake_key("admin01")
    lines = recording([["x-api-key", "[REDACTED len=110]"]]).splitlines()
    request = json.loads(lines[1])
    del request["json"]
    request["b64"] = base64.b64encode(json.dumps({"api_key": key}).encode()).decode()
    lines[1] = json.dumps(request)
    (tmp_path / "rec.jsonl").write_text("\n".join(lines) + "\n")
    [finding] = scan(tmp_path, "rec.jsonl")
    assert (finding["code"], finding["line"]) == ("CD302", 2)
    assert fingerprint(key) in finding["message"] and "base64-encoded" in finding["message"]
    assert "Settings → Admin keys" in finding["fix"]
