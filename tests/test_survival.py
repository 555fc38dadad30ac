"""Fault survival of the two servers, each run as a real subprocess on loopback: ``serve`` and the
recording proxy (``record``, in front of a small upstream in this process that streams a fixed body, or
resets the connection mid-stream when asked).

Under client disconnects mid-stream (FIN and RST), upstream resets, slowloris-style clients (headers sent
byte by byte; a client that reads very slowly), oversized headers and bodies, and 100 concurrent
streams, each server must keep serving (a normal request succeeds afterwards), deliver every byte of the
exchanges that complete, and give back its resources: open file descriptors (``/proc/PID/fd``) back to
the baseline, memory roughly back. Every loop is bounded; every test takes a few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to count descriptors")

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}
REQUEST = b'{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello there"}]}'
IDS = re.compile(rb'"(?:msg|toolu|req)_[A-Za-z0-9]+"')


# -- the upstream for the proxy: a fixed SSE body, paced, or a reset mid-stream ---------------------


def _events(count: int) -> bytes:
    start = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":'
        b'"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":'
        b'{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
        b'{"type":"text","text":""}}\n\n'
    )
    deltas = b"".join(
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
        b'"text":"word %d caf\xc3\xa9 "}}\n\n' % n
        for n in range(count)
    )
    end = (
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"output_tokens":9}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    return start + deltas + end


UPSTREAM_BODY = _events(40)


class Upstream:
    """An HTTP/1.1 server on a thread: answers every POST with UPSTREAM_BODY in chunked pieces, 2 ms
    apart, then closes (so the proxy pools no idle upstream connections, and every descriptor left open
    after the load is the proxy's own); a request whose body holds ``"reset"`` gets half the body, then
    an RST."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop
        ).result(5)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            body = await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
                b"request-id: req_1\r\nconnection: close\r\n\r\n"
            )
            cut = len(UPSTREAM_BODY) // 2 if b'"reset"' in body else None
            for at in range(0, len(UPSTREAM_BODY), 512):
                piece = UPSTREAM_BODY[at : at + 512]
                if cut is not None and at >= cut:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.002)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, AttributeError):
            pass
        finally:
            writer.close()


# -- the servers under test, as subprocesses ------------------------------------------------------


@dataclass
class Server:
    kind: str
    url: str
    proc: subprocess.Popen
    out: Path

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def alive(self) -> None:
        assert self.proc.poll() is None, f"{self.kind} exited with {self.proc.returncode}"


def _start(args: list[str], pattern: bytes, stream_name: str, cwd: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    pipe = proc.stdout if stream_name == "stdout" else proc.stderr
    seen = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = pipe.readline()
        seen += line
        match = re.search(pattern, line)
        if match:
            # keep draining the pipes so that a chatty log never blocks the server
            for p in (proc.stdout, proc.stderr):
                threading.Thread(target=lambda p=p: [None for _ in iter(p.readline, b"")], daemon=True).start()
            return proc, match.group(1).decode()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"server did not start: {seen!r}")


@contextlib.contextmanager
def server(kind: str, tmp_path: Path) -> Iterator[Server]:
    if kind == "serve":
        proc, url = _start(
            ["serve", "--port", "0", "--fault", "drip:2"], rb"listening on (http://\S+)", "stdout", tmp_path
        )
        try:
            yield Server(kind, url, proc, tmp_path)
        finally:
            proc.terminate()
            proc.wait(10)
        return
    with Upstream() as upstream:
        out = tmp_path / "recs"
        proc, url = _start(
            ["record", "--listen", "127.0.0.1:0", "--upstream", upstream, "--out", str(out)],
            rb"record: (http://\S+) ->",
            "stderr",
            tmp_path,
        )
        try:
            yield Server(kind, url, proc, out)
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(params=["serve", "proxy"])
def srv(request, tmp_path: Path) -> Iterator[Server]:
    with server(request.param, tmp_path) as s:
        normal(s)  # warm up: imports done, first exchange served
        yield s


def normal(s: Server, body: bytes = REQUEST) -> bytes:
    """One ordinary streaming request, read to the end; returns the body after checking it is whole."""
    with httpx.Client(timeout=20) as client:
        response = client.post(s.url + "/v1/messages", content=body, headers=HEADERS)
        assert response.status_code == 200, response.text
        data = response.read()
    assert_whole(s, data)
    return data


def assert_whole(s: Server, data: bytes) -> None:
    assert data.rstrip().endswith(b'data: {"type":"message_stop"}'), data[-200:]
    if s.kind == "proxy":
        assert data == UPSTREAM_BODY  # every byte, in order
    else:
        assert IDS.sub(b"ID", data) == IDS.sub(b"ID", REFERENCE.setdefault("serve", data))


REFERENCE: dict[str, bytes] = {}


def assert_recovered(s: Server, baseline_fds: int, baseline_rss: float) -> None:
    """Still serving; descriptors back to the baseline within a few seconds; memory roughly back."""
    s.alive()
    normal(s)
    deadline = time.monotonic() + 10
    while s.fds() > baseline_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s.fds() <= baseline_fds, f"{s.kind}: {s.fds()} open descriptors, {baseline_fds} before the load"
    assert s.rss_mb() < baseline_rss + 60, f"{s.kind}: {s.rss_mb():.0f} MB resident, {baseline_rss:.0f} MB before"


def baseline(s: Server) -> tuple[int, float]:
    time.sleep(0.2)
    return s.fds(), s.rss_mb()


def raw_request(body: bytes = REQUEST, extra: bytes = b"") -> bytes:
    head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    )
    return head + extra + b"\r\n" + body


def connect(s: Server) -> socket.socket:
    host, port = s.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


# -- the tests --------------------------------------------------------------------------------------


def test_client_disconnects_mid_stream(srv: Server) -> None:
    fds, rss = baseline(srv)
    for n in range(30):
        sock = connect(srv)
        sock.sendall(raw_request())
        got = b""
        while len(got) < 300 + n * 20:
            piece = sock.recv(4096)
            if not piece:
                break
            got += piece
        assert got.startswith(b"HTTP/1.1 200")
        if n % 2:  # half of them reset (RST), half close (FIN)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert_recovered(srv, fds, rss)


def test_upstream_resets_mid_stream(tmp_path: Path) -> None:
    with server("proxy", tmp_path) as s:
        normal(s)
        fds, rss = baseline(s)
        for _ in range(10):
            broken = REQUEST[:-1] + b',"x":"reset"}'
            with (
                httpx.Client(timeout=10) as client,
                pytest.raises(httpx.HTTPError),
                client.stream("POST", s.url + "/v1/messages", content=broken, headers=HEADERS) as response,
            ):
                got = b"".join(response.iter_bytes())
                assert got != UPSTREAM_BODY  # never a complete-looking body for a broken exchange
                raise AssertionError("the proxy ended a broken body cleanly")
        assert_recovered(s, fds, rss)
        assert len(list(s.out.iterdir())) == 12  # every exchange recorded, the broken ones included


def test_slowloris_headers_byte_by_byte(srv: Server) -> None:
    fds, rss = baseline(srv)
    request = raw_request()
    slow = [connect(srv) for _ in range(5)]
    head_end = request.index(b"\r\n\r\n") + 4
    deadline = time.monotonic() + 8
    for at in range(head_end):  # about 170 bytes, one every 20 ms, on 5 connections at once
        for sock in slow:
            sock.sendall(request[at : at + 1])
        time.sleep(0.02)
        if at % 40 == 0:
            normal(srv)  # others are served meanwhile
        assert time.monotonic() < deadline
    for sock in slow:
        sock.sendall(request[head_end:])
    for sock in slow:  # the slow requests are answered in full too
        data = _read_http(sock)
        assert_whole(srv, data)
        sock.close()
    assert_recovered(srv, fds, rss)


def test_a_client_that_reads_very_slowly(srv: Server) -> None:
    fds, rss = baseline(srv)
    sock = connect(srv)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.sendall(raw_request())
    got = b""
    for _ in range(20):  # 100 bytes every 50 ms, for a second (or until the end of a short answer)
        if got.endswith(b"0\r\n\r\n"):
            break
        got += sock.recv(100)
        time.sleep(0.05)
        if _ % 5 == 0:
            normal(srv)
    sock.settimeout(10)
    body = _read_http(sock, got)
    sock.close()
    assert_whole(srv, body)
    assert_recovered(srv, fds, rss)


def _read_http(sock: socket.socket, got: bytes = b"") -> bytes:
    """Read one chunked HTTP response to its end; returns the decoded body."""
    while b"\r\n0\r\n\r\n" not in got and not got.endswith(b"0\r\n\r\n"):
        piece = sock.recv(65536)
        if not piece:
            break
        got += piece
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    return body


@pytest.mark.parametrize("what", ["one huge header", "many headers", "huge body"])
def test_oversized_requests_are_refused_and_serving_goes_on(srv: Server, what: str) -> None:
    fds, rss = baseline(srv)
    for _ in range(3):
        sock = connect(srv)
        try:
            if what == "one huge header":
                sock.sendall(raw_request(extra=b"x-big: " + b"a" * 200_000 + b"\r\n"))
            elif what == "many headers":
                sock.sendall(raw_request(extra=b"".join(b"x-h%d: v\r\n" % n for n in range(5000))))
            else:
                limit = 32 if srv.kind == "serve" else 256
                size = (limit + 8) * 1024 * 1024
                sock.sendall(
                    raw_request(body=b"", extra=b"").replace(b"content-length: 0", b"content-length: %d" % size)
                )
                chunk = b"x" * 1024 * 1024
                with contextlib.suppress(OSError):
                    for _ in range(limit + 8):
                        sock.sendall(chunk)
            answer = b""
            with contextlib.suppress(OSError):
                answer = sock.recv(4096)
        finally:
            sock.close()
        status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/") else b"closed"
        assert status in (b"400", b"413", b"431", b"closed"), answer[:200]
    assert_recovered(srv, fds, rss)  # the proxy once kept each refused body (256 MB) alive: fixed


def test_100_concurrent_streams(srv: Server) -> None:
    fds, rss = baseline(srv)

    async def one(client: httpx.AsyncClient) -> bytes:
        response = await client.post(srv.url + "/v1/messages", content=REQUEST, headers=HEADERS)
        assert response.status_code == 200
        return response.content

    async def all_at_once() -> list[bytes]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(100)))

    bodies = asyncio.run(all_at_once())
    for body in bodies:
        assert_whole(srv, body)
    assert_recovered(srv, fds, rss)
    if srv.kind == "proxy":
        assert len(list(srv.out.iterdir())) == 1 + 100 + 1  # the warm-up and recovery exchanges too
