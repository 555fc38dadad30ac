"""The two servers, ``serve`` and the ``record`` proxy, against a hostile network and an impatient user,
through the real CLI in a subprocess and real sockets on 127.0.0.1: malformed HTTP is one redacted
line, never a traceback with the request's bytes (a key among them); slowloris meets a connection cap
and does not starve a real client; Ctrl-C twice during ``record``'s shutdown still finishes every
recording and prints the report."""

from __future__ import annotations

import json
import os
import resource
import secrets
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from claude_doctor.serve import running
from tests.conftest import ROOT, run_cli

ALPHABET = string.ascii_letters + string.digits
PROMPT = [{"role": "user", "content": "hello"}]


def canary_key() -> str:
    """A key of the real shape (108 characters), new for each test so no other output can hold it."""
    return "sk-ant-api03-" + "".join(secrets.choice(ALPHABET) for _ in range(93)) + "AA"


def assert_no_key(key: str, *texts: str) -> None:
    body = key[len("sk-ant-api03-") : -2]
    for text in texts:
        for start in range(0, len(body) - 16, 8):  # any 16 characters of it
            assert body[start : start + 16] not in text, "output holds the key"


class Server:
    """``claude-doctor serve`` or ``record`` in a subprocess, with Ctrl-C acting as in a terminal and,
    optionally, an open-file limit (the cap on connections follows from it)."""

    def __init__(self, args: list[str], nofile: int | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}

        def child_setup() -> None:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's background job would ignore it
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "claude_doctor", *args],
            cwd=ROOT,
            env={**env, "NO_COLOR": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=child_setup,
        )
        self.url = self._url(args[0])

    def _url(self, command: str) -> str:
        stream = self.proc.stdout if command == "serve" else self.proc.stderr
        for _ in range(3):
            line = stream.readline()
            for word in line.split():
                if word.startswith("http://127.0.0.1:"):
                    return word
        self.proc.kill()
        raise AssertionError(f"{command} did not start: {self.proc.communicate()}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def interrupt(self, second_after: float | None = None) -> tuple[int, str, str]:
        """Ctrl-C (twice, ``second_after`` seconds apart, if given); the exit status and outputs."""
        self.proc.send_signal(signal.SIGINT)
        if second_after is not None:
            time.sleep(second_after)
            self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def upstream() -> Iterator[str]:
    with running() as url:
        yield url


def start(command: str, upstream: str, out: Path, nofile: int | None = None) -> Server:
    if command == "serve":
        return Server(["serve", "--port", "0", "--speed", "max"], nofile)
    return Server(["record", "--listen", "127.0.0.1:0", "--upstream", upstream, "--out", str(out)], nofile)


def ask(url: str, key: str, timeout: float = 20) -> str:
    """One real SDK stream; the answer's text."""
    client = anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=timeout)
    with client.messages.stream(model="claude-test", max_tokens=50, messages=PROMPT) as stream:
        return stream.get_final_text()


def send_raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(100)


def malformed(key: str) -> dict[str, bytes]:
    head = f"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n"
    return {
        "bad chunked encoding": f"{head}Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{key}\r\n".encode(),
        "unsupported HTTP version": head.replace("HTTP/1.1", "HTTP/9.9").encode() + b"\r\n",
        "request line or header too long": f"{head}X-Big: {'b' * 9000}\r\n\r\n".encode(),
        "an HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + key.encode(),
    }


# -- 1. malformed HTTP: one redacted line each, never a traceback ----------------------------------


@pytest.mark.parametrize("command", ["serve", "record"])
def test_malformed_requests_are_one_line_each_without_the_key(command: str, upstream: str, tmp_path: Path) -> None:
    key = canary_key()
    server = start(command, upstream, tmp_path)
    try:
        for data in malformed(key).values():
            assert send_raw(server.port, data).startswith(b"HTTP/1.0 400 Bad Request")
        assert ask(server.url, key)  # and the server still answers a real client
    finally:
        code, out, err = server.interrupt()
    assert code == 0, err
    assert "Traceback" not in err and "aiohttp" not in err
    assert_no_key(key, out, err)
    lines = [line for line in err.splitlines() if " 400 from 127.0.0.1: " in line]
    assert [line.split(": ", 2)[2] for line in lines] == [
        "bad chunked encoding",
        "unsupported HTTP version (this server speaks HTTP/1.1)",
        "request line or header too long",
        "an HTTP/2 preface (this server speaks HTTP/1.1)",
    ]


# -- 10. slowloris: a connection cap that keeps real clients in, one line per kind of overload -----


def slowloris(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request head and then nothing."""
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:  # the old server stops accepting when it runs out of descriptors
            sock.close()
            continue
        held.append(sock)
    return held


@pytest.mark.parametrize("command", ["serve", "record"])
def test_slowloris_does_not_starve_a_real_client(command: str, upstream: str, tmp_path: Path) -> None:
    key = canary_key()
    server = start(command, upstream, tmp_path, nofile=512)  # more slow connections than descriptors
    held: list[socket.socket] = []
    try:
        held = slowloris(server.port, 600)
        answer = ask(server.url, key)
        assert ask(server.url, key) == answer  # twice: the server keeps making room
    finally:
        for sock in held:
            sock.close()
        code, out, err = server.interrupt()
    assert code == 0, err
    assert "Traceback" not in err and "Too many open files" not in err
    assert_no_key(key, out, err)
    prefix = "claude-doctor serve" if command == "serve" else "record"
    overload = [line for line in err.splitlines() if "too many open connections" in line]
    assert len(overload) == 1 and "closing the oldest idle ones" in overload[0], err
    assert any(
        line.startswith(f"{prefix}: idle connections closed: ") and line.endswith(" in all")
        for line in err.splitlines()
    )
    assert len(err.splitlines()) < 20, err
    if command == "record":  # the real client's exchanges were recorded, whole
        result = run_cli("stream", str(tmp_path), "--format", "json")
        assert result.code == 0 and result.json["summary"]["files"] == 2, result.stderr


def test_when_every_connection_is_busy_a_new_one_is_told_503() -> None:
    body = json.dumps({"model": "claude-test", "max_tokens": 50, "messages": PROMPT, "stream": True}).encode()
    request = (
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: sk-test\r\nanthropic-version: 2023-06-01\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    server = Server(["serve", "--port", "0", "--fault", "stall:60"], nofile=340)  # a cap of 20
    busy: list[socket.socket] = []
    answers = []
    try:
        for _ in range(25):  # one by one: each is busy streaming before the next connects
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            busy.append(sock)
            sock.sendall(request)
            answers.append(sock.recv(12))
    finally:
        for sock in busy:
            sock.close()
        code, _, err = server.interrupt()
    assert answers.count(b"HTTP/1.1 200") == 20 and answers.count(b"HTTP/1.1 503") == 5, answers
    assert code == 0 and "Traceback" not in err, err
    assert err.count("too many open connections (cap 20): all busy: refusing new ones") == 1, err
    assert "claude-doctor serve: connections refused: 5 in all" in err.splitlines()


def test_a_connection_that_dribbles_its_headers_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The header timeout, shortened from its 30 s so the test is quick: a header line every 0.2 s
    keeps the connection busy but never completes the request head."""
    monkeypatch.setattr("claude_doctor.web.HEADER_TIMEOUT", 1.0)
    with running() as url, socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
        sock.settimeout(0.2)
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\n")
        started = time.monotonic()
        while time.monotonic() - started < 30:
            try:
                sock.sendall(b"x-slow: 1\r\n")
                if sock.recv(100) == b"":
                    break  # closed by the server
            except TimeoutError:
                continue
            except OSError:
                break  # reset by the server
        assert time.monotonic() - started < 15, "the server kept a connection that never sent its request head"


# -- 5 and 12. Ctrl-C twice during record's shutdown: every recording finished, the report printed -


def open_streams(url: str, count: int) -> tuple[list[threading.Thread], threading.Semaphore]:
    """``count`` SDK streams that each get their first events and then wait on a stalled upstream."""
    started = threading.Semaphore(0)

    def one() -> None:
        client = anthropic.Anthropic(base_url=url, api_key="sk-test-not-a-key", max_retries=0, timeout=60)
        try:
            with client.messages.create(model="claude-test", max_tokens=50, messages=PROMPT, stream=True) as events:
                for _ in events:
                    started.release()
                    break
                for _ in events:
                    pass
        except Exception:  # the proxy cut the stream off (the SDK raises httpx's own error): expected
            pass

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, started


@pytest.mark.parametrize("second_after", [0.05, 0.6])
def test_ctrl_c_twice_finishes_every_recording(second_after: float, tmp_path: Path) -> None:
    with running(["stall:60"]) as stalled:
        server = start("record", stalled, tmp_path)
        try:
            threads, started = open_streams(server.url, 30)
            for _ in threads:
                assert started.acquire(timeout=60), "a stream did not start"
        finally:
            code, out, err = server.interrupt(second_after)
        for thread in threads:
            thread.join(timeout=30)
    assert "Traceback" not in err, err
    assert code == 1, err  # findings: 30 streams cut off (the documented status), not 130
    assert "30 files checked" in out or "in 30 files" in out, out
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 30
    for file in files:
        ends = [line for line in map(json.loads, file.read_text().splitlines()) if line["k"] == "end"]
        assert len(ends) == 1 and ends[0]["reason"] == "cancelled", file.read_text()[-300:]
        assert ends[0]["error_type"] == "claude_doctor.ProxyStopped"
    result = run_cli("stream", str(tmp_path))
    assert result.code == 1 and "30 files" in result.stdout, result.stderr
    assert "the client closed it" not in result.stdout
    assert "the recording proxy shut down" in result.stdout


def test_ctrl_c_twice_stops_serve_cleanly() -> None:
    server = Server(["serve", "--port", "0", "--fault", "stall:60"])
    try:
        threads, started = open_streams(server.url, 10)
        for _ in threads:
            assert started.acquire(timeout=60), "a stream did not start"
    finally:
        code, _, err = server.interrupt(0.05)
    for thread in threads:
        thread.join(timeout=30)
    assert code == 0 and "Traceback" not in err and "exception" not in err.lower(), err
    assert err.count(" 200 stream, ") == err.count(", server stopped") == 10, err  # not "client gone"
    assert err.splitlines()[-1] == "claude-doctor serve: stopped"
