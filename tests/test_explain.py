"""``claude-doctor explain -`` on real tracebacks: each symptom the streaming guide and the issue list is
produced by running a small program with the real SDK (or httpx, httpx2, requests) against ``serve`` or
a loopback socket that misbehaves, and its stderr is fed to ``explain -`` in a subprocess, as a user
would paste it. Nothing here is hand-typed traceback text."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import string
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from claude_doctor.serve import running

from .conftest import invoke_cli as run_cli  # in-process (the fast layer)

MODEL = "claude-sonnet-4-6"
SSE_START = (
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":'
    '"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"stop_sequence":null,"usage":'
    '{"input_tokens":5,"output_tokens":1}}}\n\n'
)


def canary_key() -> str:
    """A well-formed API key built at run time (never a key-shaped literal in the repository)."""
    alphabet = string.ascii_letters + string.digits + "_-"
    return "sk-ant-api03-" + "".join(random.choice(alphabet) for _ in range(93)) + "AA"


# -- a loopback socket that answers badly, for what ``serve`` does not do ---------------------------


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@contextlib.contextmanager
def closing_server(reply: bytes) -> Iterator[str]:
    """A loopback HTTP server that reads each request, writes ``reply`` (maybe nothing, maybe a
    response cut short) and closes the connection. Yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                _read_request(conn)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


CUT_MID_BODY = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    + f"{len(SSE_START.encode()):x}\r\n{SSE_START}\r\n".encode()
)
CUT_MID_BODY_FIXED_LENGTH = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 5000\r\n\r\n" + SSE_START.encode()
)


# -- running a program and capturing its traceback ----------------------------------------------------


def traceback_of(tmp_path: Path, program: str, base_url: str | None = None, key: str = "") -> str:
    """Run ``program`` as a file (so the traceback shows source lines) and return its stderr; it must
    end in an uncaught exception."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(program).replace("KEY", key or canary_key()), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
        env["BASE_URL"] = base_url
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0, f"the program did not fail:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback (most recent call last)" in proc.stderr, proc.stderr
    return proc.stderr


def explain(text: str, *args: str):
    return run_cli("explain", "-", *args, stdin=text.encode("utf-8"))


def first_code(text: str) -> str:
    result = explain(text, "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    matches = result.json["matches"]
    assert matches, result.stdout
    for match in matches:
        assert match["fix"] and match["says"] and match["evidence"]
    return matches[0]["code"]


SDK = """
import os
import anthropic
client = anthropic.Anthropic(api_key="KEY", max_retries=0)
MESSAGES = [{"role": "user", "content": "Say hello"}]
"""
STREAM_BODY = f"""
with client.messages.stream(model="{MODEL}", max_tokens=64, messages=MESSAGES) as stream:
    for text in stream.text_stream:
        print(text, end="")
print(stream.get_final_message().stop_reason)
"""
STREAM_TEXT = SDK + STREAM_BODY
RAW_SSE = """
import json, os
import {lib}
blocks = {blocks}
with {lib}.stream(
    "POST",
    os.environ["BASE_URL"] + "/v1/messages",
    headers={{"x-api-key": "KEY", "anthropic-version": "2023-06-01"}},
    json={{"model": "{model}", "max_tokens": 64, "stream": True, "messages": [{{"role": "user", "content": "hi"}}]}},
) as response:
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "content_block_start":
            blocks{append}
        elif event["type"] == "content_block_delta":
            blocks[event["index"]] += event["delta"]["text"]
"""


@dataclass
class Case:
    program: str
    expect: str  # the rule code ``explain`` must lead with
    last_line: str  # what the traceback's last line says (proves the failure is the one meant)
    faults: tuple[str, ...] = ()
    reply: bytes | None = None  # a closing_server reply instead of serve


CASES: dict[str, Case] = {
    "httpx2.ReadTimeout mid-stream": Case(
        SDK.replace("max_retries=0", "max_retries=0, timeout=anthropic.Timeout(5.0, read=0.5)") + STREAM_BODY,
        "CD103",
        "httpx2.ReadTimeout",
        faults=("stall:3",),
    ),
    "httpx.ReadTimeout (the old httpx package, hand-written client)": Case(
        """
        import os, httpx
        with httpx.stream(
            "POST",
            os.environ["BASE_URL"] + "/v1/messages",
            headers={"x-api-key": "KEY", "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            timeout=httpx.Timeout(5.0, read=0.5),
        ) as response:
            for line in response.iter_lines():
                print(line)
        """,
        "CD103",
        "httpx.ReadTimeout",
        faults=("stall:3",),
    ),
    "requests ConnectionError: the server closed without answering": Case(
        """
        import os, requests
        response = requests.post(
            os.environ["BASE_URL"] + "/v1/messages",
            headers={"x-api-key": "KEY", "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            stream=True,
        )
        """,
        "CD104",
        "requests.exceptions.ConnectionError: ('Connection aborted.'",
        reply=b"",
    ),
    "requests ConnectionError: read timed out mid-stream": Case(
        """
        import os, requests
        response = requests.post(
            os.environ["BASE_URL"] + "/v1/messages",
            headers={"x-api-key": "KEY", "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            stream=True,
            timeout=(5, 0.5),
        )
        for line in response.iter_lines():
            print(line)
        """,
        "CD103",
        "requests.exceptions.ConnectionError",
        faults=("stall:3",),
    ),
    "requests ChunkedEncodingError: the server closed mid-body": Case(
        """
        import os, requests
        response = requests.post(os.environ["BASE_URL"] + "/v1/messages", json={}, stream=True)
        for line in response.iter_lines():
            print(line)
        """,
        "CD104",
        "requests.exceptions.ChunkedEncodingError",
        reply=CUT_MID_BODY_FIXED_LENGTH,
    ),
    "RemoteProtocolError: peer closed connection (incomplete chunked read)": Case(
        STREAM_TEXT,
        "CD104",
        "httpx2.RemoteProtocolError: peer closed connection without sending complete message body",
        reply=CUT_MID_BODY,
    ),
    "httpx2.ReadError: TCP reset mid-stream": Case(STREAM_TEXT, "CD104", "httpx2.", faults=("reset",)),
    "IndexError out of the SDK's accumulator": Case(
        STREAM_TEXT, "CD105", "IndexError: list index out of range", faults=("reorder",)
    ),
    "KeyError in hand-written SSE code": Case(
        RAW_SSE.format(lib="httpx2", blocks="{}", append='[event["index"]] = ""', model=MODEL),
        "CD105",
        "KeyError: 0",
        faults=("reorder",),
    ),
    "IndexError in hand-written SSE code": Case(
        RAW_SSE.format(lib="httpx", blocks="[]", append='.append("")', model=MODEL),
        "CD105",
        "IndexError: list index out of range",
        faults=("reorder",),
    ),
    "RateLimitError (429)": Case(STREAM_TEXT, "CD109", "anthropic.RateLimitError: Error code: 429", ("status:429",)),
    "PermissionDeniedError (403)": Case(
        STREAM_TEXT, "CD110", "anthropic.PermissionDeniedError: Error code: 403", ("status:403",)
    ),
    "APIStatusError with status 200 (overloaded_error mid-stream)": Case(
        STREAM_TEXT, "CD108", "anthropic.APIStatusError: {'type': 'error'", ("error-event:overloaded_error",)
    ),
    "'Message' object has no attribute 'text_stream'": Case(
        SDK
        + f"""
message = client.messages.create(model="{MODEL}", max_tokens=64, messages=MESSAGES)
for text in message.text_stream:
    print(text, end="")
""",
        "CD211",
        "AttributeError: 'Message' object has no attribute 'text_stream'",
    ),
    "'Stream' object has no attribute 'text_stream'": Case(
        SDK
        + f"""
stream = client.messages.create(model="{MODEL}", max_tokens=64, messages=MESSAGES, stream=True)
for text in stream.text_stream:
    print(text, end="")
""",
        "CD212",
        "AttributeError: 'Stream' object has no attribute 'text_stream'",
    ),
    "'Stream' object has no attribute 'get_final_message'": Case(
        SDK
        + f"""
stream = client.messages.create(model="{MODEL}", max_tokens=64, messages=MESSAGES, stream=True)
for event in stream:
    pass
print(stream.get_final_message())
""",
        "CD212",
        "AttributeError: 'Stream' object has no attribute 'get_final_message'",
    ),
    "RuntimeError: There is no current event loop (worker thread)": Case(
        SDK
        + f"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
aclient = anthropic.AsyncAnthropic(api_key="KEY")
def work():
    loop = asyncio.get_event_loop()
    return loop.run_until_complete(aclient.messages.create(model="{MODEL}", max_tokens=64, messages=MESSAGES))
with ThreadPoolExecutor(thread_name_prefix="worker") as pool:
    print(pool.submit(work).result())
""",
        "CD205",
        "RuntimeError: There is no current event loop in thread",
    ),
    "Event loop is closed (AsyncAnthropic reused across asyncio.run)": Case(
        SDK
        + f"""
import asyncio
aclient = anthropic.AsyncAnthropic(api_key="KEY", max_retries=0)
async def ask():
    async with aclient.messages.stream(model="{MODEL}", max_tokens=64, messages=MESSAGES) as stream:
        return await stream.get_final_text()
print(asyncio.run(ask()))
print(asyncio.run(ask()))
""",
        "CD207",
        "anthropic.APIConnectionError: Connection error.",
    ),
    "ValueError: Streaming is required": Case(
        SDK.replace(", max_retries=0", "")
        + f"""
message = client.messages.create(model="{MODEL}", max_tokens=64000, messages=MESSAGES)
""",
        "CD216",
        "ValueError: Streaming is required for operations that may take longer than 10 minutes",
    ),
    "TypeError: httpx.Timeout is from the httpx package": Case(
        """
        import anthropic, httpx
        client = anthropic.Anthropic(api_key="KEY", timeout=httpx.Timeout(30.0, connect=5.0))
        """,
        "CD218",
        "TypeError: Invalid `timeout` argument; `httpx.Timeout` is from the `httpx` package",
    ),
    "bare AssertionError from get_final_message()": Case(STREAM_TEXT, "CD113", "AssertionError", faults=("json",)),
}


def produce(tmp_path: Path, case: Case) -> str:
    if case.reply is not None:
        with closing_server(case.reply) as url:
            return traceback_of(tmp_path, case.program, url)
    with running(list(case.faults), retry_after=0.05) as url:
        return traceback_of(tmp_path, case.program, url)


@pytest.mark.parametrize("name", list(CASES))
def test_explain_names_the_failure_in_a_real_traceback(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    text = produce(tmp_path, case)
    assert case.last_line in text.strip().splitlines()[-1] or case.last_line in text, text
    assert first_code(text) == case.expect, text


def test_event_loop_is_closed_is_the_cause_in_that_traceback(tmp_path: Path) -> None:
    text = produce(tmp_path, CASES["Event loop is closed (AsyncAnthropic reused across asyncio.run)"])
    assert "RuntimeError: Event loop is closed" in text


def test_human_output_leads_with_the_rule_and_its_fix(tmp_path: Path) -> None:
    text = produce(tmp_path, CASES["RemoteProtocolError: peer closed connection (incomplete chunked read)"])
    result = explain(text)
    assert result.code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("CD104 truncated-stream: ")
    assert "\n  seen: httpx2.RemoteProtocolError: peer closed connection" in result.stdout
    assert "\nFix\n" in result.stdout
    assert "Traceback" not in result.stderr


def test_explain_reads_a_file_too(tmp_path: Path) -> None:
    text = produce(tmp_path, CASES["RateLimitError (429)"])
    saved = tmp_path / "error.txt"
    saved.write_text(text, encoding="utf-8")
    result = run_cli("explain", str(saved), "--format", "json")
    assert result.code == 0
    assert result.json["matches"][0]["code"] == "CD109"


@pytest.mark.parametrize(
    "text",
    [
        'Traceback (most recent call last):\n  File "app.py", line 1, in <module>\n    1 / 0\n'
        "ZeroDivisionError: division by zero\n",
        "everything is fine\n",
        "",
    ],
)
def test_unrecognised_text_exits_1(text: str) -> None:
    human = explain(text)
    assert human.code == 1
    assert "No known Claude streaming failure" in human.stdout
    machine = explain(text, "--format", "json")
    assert machine.code == 1
    assert machine.json == {"matches": []}


def test_a_key_inside_the_traceback_never_appears_in_the_output(tmp_path: Path) -> None:
    key = canary_key()
    program = f"""
    import requests
    requests.post("{{url}}/v1/messages?key={key}", json={{}}, timeout=5)
    """
    # Nothing listens on this port: requests puts the whole URL, key included, in its message.
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    text = traceback_of(tmp_path, program.replace("{url}", f"http://127.0.0.1:{port}"), key=key)
    assert key in text.splitlines()[-1]
    body = key[len("sk-ant-api03-") : -2]
    for fmt in ("human", "json"):
        result = explain(text, "--format", fmt)
        assert result.code == 0, result.stdout
        for output in (result.stdout, result.stderr):
            assert key not in output
            assert body[:16] not in output and body[-16:] not in output
    assert explain(text, "--format", "json").json["matches"][0]["code"] == "CD408"


def test_a_key_on_the_source_line_is_redacted_from_the_evidence(tmp_path: Path) -> None:
    key = canary_key()
    text = traceback_of(tmp_path, CASES["TypeError: httpx.Timeout is from the httpx package"].program, key=key)
    assert key in text  # the source line of the failing call holds it
    result = explain(text, "--format", "json")
    assert result.code == 0
    assert key not in result.stdout and key[20:60] not in result.stdout
    assert json.loads(result.stdout)["matches"][0]["code"] == "CD218"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("bare AssertionError from get_final_message()", "CD113"),
        ("IndexError out of the SDK's accumulator", "CD105"),
    ],
)
def test_a_traceback_logged_without_source_lines_is_still_recognised(tmp_path: Path, name: str, code: str) -> None:
    """Loggers and `traceback.format_exception` without source (or a frozen install) print only the
    `File …, in name` lines."""
    text = produce(tmp_path, CASES[name])
    frames_only = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    assert "__final_message_snapshot" not in frames_only
    assert first_code(frames_only) == code


def test_a_long_log_of_tracebacks_is_read_in_linear_time(tmp_path: Path) -> None:
    """A whole log piped in (thousands of SDK tracebacks) must not make explain hang."""
    text = produce(tmp_path, CASES["httpx2.ReadTimeout mid-stream"])
    log = text * 3000  # about 10 MB
    result = run_cli("explain", "-", "--format", "json", stdin=log.encode(), timeout=30)
    assert result.code == 0
    assert result.json["matches"][0]["code"] == "CD103"
