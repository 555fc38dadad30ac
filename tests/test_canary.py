"""Canary keys: a unique, well-formed fake key (built at run time, never a literal in the repository)
is sent through every path that sees credentials, and must be absent, whole or in part, from every
byte the tool writes to disk, prints on stdout or stderr, or logs.

Paths: ``live`` against ``serve``; ``serve``'s request log; ``record -- CMD`` and the transport recorder
(``recording_client``); importers of ``curl -v``, ``curl --trace``, HAR and vcrpy (YAML and JSON) with
the key in request headers, read by ``stream`` (every format) and ``replay`` (every view); ``explain -``
fed a traceback holding the key; error messages about files named with, or holding, the key; ``code``,
``secrets`` and ``doctor`` output; and the ``RecordingWriter`` itself.

Every command runs with ``HOME`` and the working directory inside a temporary folder whose every file is
read back afterwards; recordings found there are also decoded (base64 chunks included)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from claude_doctor.recording import RecordingWriter, open_source
from claude_doctor.recording.model import Chunk, Request, Response
from claude_doctor.serve import running
from tests.conftest import ROOT, CliResult, run_cli

ALPHABET = string.ascii_letters + string.digits + "_-"


class Canary:
    """One fresh key, the places that must not hold it, and the checks."""

    def __init__(self, tmp_path: Path) -> None:
        self.body = "".join(secrets.choice(ALPHABET) for _ in range(93))
        self.key = "sk-ant-api03-" + self.body + "AA"
        self.inputs = tmp_path / "inputs"  # files the user gives the tool (they hold the key on purpose)
        self.out = tmp_path / "out"  # everything the tool may write: cwd, HOME, --out, --record
        self.inputs.mkdir()
        self.out.mkdir()
        self.env = {"HOME": str(self.out), "XDG_CACHE_HOME": str(self.out / ".cache"), "TMPDIR": str(self.out)}

    @property
    def forms(self) -> list[str]:
        """The key and its partial forms: the 93-character body and three 24-character slices of it."""
        b = self.body
        return [self.key, b, b[:24], b[35:59], b[-24:]]

    def assert_absent(self, text: str | bytes, where: str) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for form in self.forms:
            assert form not in text, f"{where} holds the canary key (or {len(form)} characters of it)"
        assert base64.b64encode(self.key.encode()).decode()[:40] not in text, f"{where} holds the key in base64"

    def assert_clean(self, *results: CliResult) -> None:
        for n, result in enumerate(results):
            self.assert_absent(result.stdout, f"stdout of command {n}")
            self.assert_absent(result.stderr, f"stderr of command {n}")
            assert "Traceback" not in result.stdout + result.stderr, result.stderr
        self.assert_disk_clean()

    def assert_disk_clean(self) -> None:
        for path in sorted(self.out.rglob("*")):
            if path.is_file():
                self.assert_absent(path.name, f"the name of {path}")
                self.assert_absent(path.read_bytes(), str(path))
                if path.suffix == ".jsonl":
                    self.assert_recording_clean(path)

    def assert_recording_clean(self, path: Path) -> None:
        for record in open_source(str(path)).records:
            if isinstance(record, Chunk):
                self.assert_absent(record.data, f"a chunk of {path}")
            elif isinstance(record, (Request, Response)):
                self.assert_absent(repr(record), f"{type(record).__name__} of {path}")

    def cli(self, *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> CliResult:
        return run_cli(*args, cwd=self.out, env={**self.env, **(env or {})}, stdin=stdin)


@pytest.fixture
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path)


def test_each_test_gets_its_own_key(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Canary(tmp_path / "a"), Canary(tmp_path / "b")
    assert a.key != b.key and len(a.key) == 108 and a.key.endswith("AA")


# -- live, against serve ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", [None, "reset", "status:401", "error-event"])
def test_live(canary: Canary, fault: str | None) -> None:
    out = canary.out / "live.jsonl"
    with running([fault] if fault else []) as url:
        env = {"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": canary.key}
        human = canary.cli("live", "--record", str(out), "--prompt", f"repeat {canary.key}", "-v", env=env)
        machine = canary.cli("live", "--format", "json", env=env)
    assert out.exists() and human.code in (0, 1) and machine.code in (0, 1), human.stderr
    canary.assert_clean(human, machine)


def test_live_with_the_key_as_auth_token_and_a_malformed_key(canary: Canary) -> None:
    with running() as url:
        token = canary.cli("live", env={"ANTHROPIC_BASE_URL": url, "ANTHROPIC_AUTH_TOKEN": canary.key})
        spaced = canary.cli("live", env={"ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": f" {canary.key}\n"})
    canary.assert_clean(token, spaced)


# -- serve: its request log -------------------------------------------------------------------------


def test_serve_request_log(canary: Canary) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(canary.env, NO_COLOR="1", PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "serve", "--port", "0", "--speed", "max"],
        cwd=canary.out,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = None
        deadline = time.monotonic() + 20
        banner = b""
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            banner += line
            if b"listening on " in line:
                url = line.split(b"listening on ", 1)[1].split()[0].decode()
        assert url, banner
        body = {"model": "m", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": canary.key}]}
        with httpx.Client(base_url=url, timeout=10) as client:
            for headers in (
                {"x-api-key": canary.key, "anthropic-version": "2023-06-01"},
                {"authorization": f"Bearer {canary.key}", "anthropic-version": "2023-06-01"},
                {"x-api-key": canary.key},  # 400: no anthropic-version
            ):
                assert client.post("/v1/messages", json=body, headers=headers).status_code in (200, 400)
            client.post("/v1/messages", content=canary.key.encode(), headers={"x-api-key": canary.key})
            client.post(f"/v1/{canary.key}?key={canary.key}", json=body, headers={"x-api-key": canary.key})
            client.get(f"/{canary.key}", headers={"x-api-key": canary.key})
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=10)
    log = stderr.decode()
    assert log.count("POST /v1/messages") >= 3, log
    canary.assert_absent(banner + stdout, "serve's stdout")
    canary.assert_absent(log, "serve's request log")
    canary.assert_disk_clean()


# -- record and the transport recorder --------------------------------------------------------------

APP = """
import sys, anthropic
key = sys.argv[1]
client = anthropic.Anthropic(api_key=key, max_retries=1)
prompt = [{"role": "user", "content": "say " + key}]
try:
    with client.messages.stream(model="claude-test", max_tokens=99, messages=prompt) as s:
        for _ in s:
            pass
except anthropic.APIStatusError:
    pass
try:
    client.messages.create(model="claude-test", max_tokens=99, messages="not a list " + key, stream=True)
except anthropic.APIStatusError:
    pass
"""


@pytest.mark.parametrize("fault", [None, "split:7", "status:429"])
def test_record(canary: Canary, fault: str | None) -> None:
    script = canary.inputs / "app.py"
    script.write_text(APP, encoding="utf-8")
    recs = canary.out / "recs"
    with running([fault] if fault else [], retry_after=0) as url:
        result = canary.cli(
            "record", "--upstream", url, "--out", str(recs), "-v", "--", sys.executable, str(script), canary.key
        )
    assert result.code in (0, 1), result.stderr
    assert any(recs.iterdir())
    canary.assert_clean(result)


def test_transport_recorder(canary: Canary) -> None:
    import anthropic

    from claude_doctor import recording_client

    path = canary.out / "sdk.jsonl"
    with running(["split:5"]) as url:
        client = anthropic.Anthropic(
            api_key=canary.key, base_url=url, http_client=recording_client(str(path)), max_retries=0
        )
        prompt = [{"role": "user", "content": f"echo {canary.key}"}]
        with client.messages.stream(model="claude-test", max_tokens=50, messages=prompt) as stream:
            assert stream.get_final_message().content
        client.with_options(default_headers={"authorization": f"Bearer {canary.key}"}).messages.create(
            model="claude-test", max_tokens=50, messages=prompt
        )
        client.close()
    assert path.stat().st_size > 0
    canary.assert_disk_clean()


def test_recording_writer(canary: Canary) -> None:
    path = canary.out / "w.jsonl"
    key = canary.key.encode()
    body = json.dumps({"messages": [{"role": "user", "content": canary.key}], "api_key": canary.key}).encode()
    with path.open("wb") as f:
        writer = RecordingWriter(f, "synthetic")
        headers = [("x-api-key", canary.key), ("authorization", f"Bearer {canary.key}"), ("cookie", f"k={canary.key}")]
        writer.request(0, 0.0, "POST", f"https://api.anthropic.com/v1/messages?key={canary.key}", headers, body)
        writer.response(0, 0.1, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream"), ("x-echo", canary.key)])
        event = b'data: {"type":"content_block_delta","delta":{"text":"' + key + b'"}}\n\n'
        for n, at in enumerate((3, 30, 70, 100, len(event))):  # the key split over several chunks
            writer.chunk(0, 0.2 + n / 10, event[[0, 3, 30, 70, 100][n] : at])
        writer.chunk(0, 0.8, b"\xff\xfe binary " + key + b"\x00")
        writer.end(0, 0.9, "eof")
    canary.assert_disk_clean()


# -- importers, read by stream and replay -----------------------------------------------------------

SSE = (ROOT / "recordings" / "imports" / "curl-N.sse").read_bytes()


def _hexdump(direction: str, kind: str, data: bytes, stamp: str) -> str:
    lines = [f"{stamp} {direction} {kind}, {len(data)} bytes (0x{len(data):x})"]
    for at in range(0, len(data), 16):
        piece = data[at : at + 16]
        hexes = " ".join(f"{b:02x}" for b in piece).ljust(48)
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in piece)
        lines.append(f"{at:04x}: {hexes}{shown}")
    return "\n".join(lines) + "\n"


def _imports(key: str) -> dict[str, bytes]:
    request_body = json.dumps({"model": "m", "max_tokens": 9, "stream": True, "messages": []})
    head = (
        "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
        f"x-api-key: {key}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\n\r\n"
    )
    verbose = (
        "* Connected to api.anthropic.com\n> POST /v1/messages HTTP/1.1\n> Host: api.anthropic.com\n"
        f"> x-api-key: {key}\n> authorization: Bearer {key}\n>\n< HTTP/1.1 200 OK\n"
        "< content-type: text/event-stream\n<\n"
    ).encode() + SSE
    trace = (
        "12:00:00.000000 == Info: Connected to api.anthropic.com\n"
        + _hexdump("=>", "Send header", head.encode(), "12:00:00.100000")
        + _hexdump("=>", "Send data", request_body.encode(), "12:00:00.100100")
        + _hexdump("<=", "Recv header", b"HTTP/1.1 200 OK\r\n", "12:00:00.200000")
        + _hexdump("<=", "Recv header", b"content-type: text/event-stream\r\n", "12:00:00.200000")
        + _hexdump("<=", "Recv header", b"\r\n", "12:00:00.200000")
        + _hexdump("<=", "Recv data", SSE, "12:00:00.300000")
    ).encode()
    har = json.loads((ROOT / "recordings" / "imports" / "devtools.har").read_bytes())
    for entry in har["log"]["entries"]:
        entry["request"]["headers"] = [
            {"name": "x-api-key", "value": key},
            {"name": "Authorization", "value": f"Bearer {key}"},
            *entry["request"]["headers"],
        ]
        entry["request"]["url"] += f"?key={key}"
    cassette = yaml.safe_load((ROOT / "recordings" / "imports" / "cassette.yaml").read_bytes())
    for interaction in cassette["interactions"]:
        interaction["request"]["headers"]["x-api-key"] = [key]
        interaction["request"]["headers"]["Authorization"] = [f"Bearer {key}"]
    error = SSE.replace(
        b"event: message_stop",
        b'event: error\ndata: {"type":"error","error":{"message":"' + key.encode() + b'"}}\n\nevent: message_stop',
    )
    return {
        "curl-v.txt": verbose,
        "curl.trace": trace,
        "devtools.har": json.dumps(har).encode(),
        "cassette.yaml": yaml.safe_dump(cassette).encode(),
        "cassette.json": json.dumps(cassette).encode(),
        "echo.sse": error,
        "curl-i.txt": b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\r\n"
        + json.dumps(
            {"type": "error", "error": {"type": "authentication_error", "message": f"bad key {key}"}}
        ).encode(),
    }


def test_importers_through_stream_and_replay(canary: Canary) -> None:
    files = []
    for name, data in _imports(canary.key).items():
        path = canary.inputs / name
        path.write_bytes(data)
        files.append(str(path))
    results = [
        canary.cli("stream", *files),
        canary.cli("stream", "-v", "--format", "json", *files),
        canary.cli("stream", "--format", "sarif", *files),
        canary.cli("stream", "-", stdin=Path(files[0]).read_bytes()),
    ]
    for path in files:
        for view in ("text", "events", "raw"):
            result = canary.cli("replay", "--speed", "max", "--view", view, path)
            if view == "raw" and Path(path).name in BODY_HOLDS_KEY:
                # `--view raw` gives the body back byte for byte (`> body.sse`), as `cat` would: a key the
                # server put in the body stays on stdout; the markers on stderr must still not show it
                assert result.code in (0, 1)
                canary.assert_absent(result.stderr, f"replay --view raw {path}: stderr")
                continue
            results.append(result)
    assert all(r.code in (0, 1) for r in results), [(r.code, r.stderr) for r in results]
    canary.assert_clean(*results)


BODY_HOLDS_KEY = ("echo.sse", "curl-i.txt")


def test_serve_replaying_an_import_logs_no_key(canary: Canary) -> None:
    path = canary.inputs / "devtools.har"
    path.write_bytes(_imports(canary.key)["devtools.har"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(canary.env, NO_COLOR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "serve", str(path), "--port", "0", "--speed", "max"],
        cwd=canary.out,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline() + proc.stdout.readline()
        url = line.split(b"listening on ", 1)[1].split()[0].decode()
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        body = {"model": "m", "max_tokens": 9, "stream": True, "messages": []}
        assert httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=10).status_code == 200
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=10)
    canary.assert_absent(line + stdout + stderr, "serve replaying an import")


# -- explain, error messages, code, secrets, doctor ---------------------------------------------------


def test_explain_a_traceback_holding_the_key(canary: Canary) -> None:
    key = canary.key
    text = (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n'
        f'    client = anthropic.Anthropic(api_key="{key}")\n'
        f"httpx.ReadTimeout: The read operation timed out (headers={{'x-api-key': '{key}'}})\n"
        f"anthropic.AuthenticationError: Error code: 401 - {{'error': {{'message': 'invalid x-api-key {key}'}}}}\n"
        f"ANTHROPIC_API_KEY={key}\n"
    )
    (canary.inputs / "tb.txt").write_text(text, encoding="utf-8")
    results = [
        canary.cli("explain", "-", stdin=text.encode()),
        canary.cli("explain", "--format", "json", "-", stdin=text.encode()),
        canary.cli("explain", str(canary.inputs / "tb.txt")),
        canary.cli("explain", "-", stdin=f"x-api-key: {key}".encode()),
    ]
    assert results[0].code == 0, results[0].stdout
    canary.assert_clean(*results)


def test_error_messages_about_files_named_with_or_holding_the_key(canary: Canary) -> None:
    named = canary.inputs / f"{canary.key}.jsonl"
    named.write_bytes(b"\x00\x01 garbage " + canary.key.encode())
    folder = canary.inputs / f"dir-{canary.key}"
    folder.mkdir()
    holding = canary.inputs / "bad.jsonl"
    holding.write_bytes(b'{"k":"meta","format":"claude-doctor/recording","v":9,"key":"' + canary.key.encode() + b'"}\n')
    python = canary.inputs / f"m_{canary.key}.py"
    python.write_text(f'import anthropic\nx = "{canary.key}" +\n', encoding="utf-8")
    missing = canary.inputs / f"missing-{canary.key}"
    results = [
        canary.cli("stream", str(named)),
        canary.cli("stream", str(folder)),
        canary.cli("stream", str(missing)),
        canary.cli("stream", str(holding)),
        canary.cli("stream", "--format", "json", str(named), str(holding), str(missing)),
        canary.cli("replay", str(named)),
        canary.cli("replay", str(missing)),
        canary.cli("serve", str(missing), "--port", "0"),
        canary.cli("code", str(python)),
        canary.cli("code", str(missing)),
        canary.cli("secrets", str(missing), str(named)),
        canary.cli("explain", str(missing)),
    ]
    assert all(r.code in (1, 2) for r in results), [(r.code, r.stdout, r.stderr) for r in results]
    canary.assert_clean(*results)


def test_code_secrets_and_doctor_output(canary: Canary) -> None:
    project = canary.out / "project"  # doctor and secrets may write nothing here either
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    key = canary.key
    (project / "app.py").write_text(
        "import anthropic\n"
        f'client = anthropic.Anthropic(api_key="{key}", timeout=1)\n'
        f'message = client.messages.create(model="m", max_tokens=9, messages=[], api_key="{key}")\n'
        f"print(message.text_stream)  # {key}\n",
        encoding="utf-8",
    )
    (project / ".env").write_text(f"ANTHROPIC_API_KEY={key}\n", encoding="utf-8")
    (project / "notes.md").write_text(f"curl -H 'x-api-key: {key}' https://api.anthropic.com\n", encoding="utf-8")
    recordings = project / "recordings"
    recordings.mkdir()
    (recordings / "leak.har").write_bytes(_imports(key)["devtools.har"])
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    env = {"ANTHROPIC_API_KEY": key + " "}
    results = []
    for args in (
        ("code", "."),
        ("code", "--format", "json", "."),
        ("code", "--format", "sarif", "."),
        ("code", "--fix", "."),
        ("secrets",),
        ("secrets", "--format", "json"),
        ("secrets", "--format", "sarif", "app.py", ".env", "notes.md"),
        ("doctor", "."),
        ("doctor", "--format", "json", "."),
    ):
        result = run_cli(*args, cwd=project, env={**canary.env, **env})
        results.append(result)
    assert results[4].code == 1 and "CD301" in results[4].stdout, results[4].stdout + results[4].stderr
    (canary.out / "project" / "app.py").unlink()  # the project's own inputs hold the key on purpose
    (canary.out / "project" / ".env").unlink()
    (canary.out / "project" / "notes.md").unlink()
    (recordings / "leak.har").unlink()
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr
        canary.assert_absent(result.stdout, "stdout")
        canary.assert_absent(result.stderr, "stderr")
    for path in project.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            canary.assert_absent(path.read_bytes(), str(path))
