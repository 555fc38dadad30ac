"""The recording proxy's data path (``claude-doctor record``): the request body goes upstream byte-exact
(a gzip body stays gzip), a body of any size is streamed in bounded memory and recorded in bounded
lines that ``stream``, ``replay`` and ``serve`` read back, and no file name carries request text that
could be a secret. Real loopback servers, the real CLI in a subprocess where its memory is measured,
the real SDK; no key and no network beyond 127.0.0.1."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from aiohttp import web

from claude_doctor.capture.proxy import running
from claude_doctor.faults import parse_faults
from claude_doctor.recording import Request, open_source
from claude_doctor.recording.jsonl import BODY_PART
from claude_doctor.serve import MockAPI, ServeOptions
from tests.conftest import ROOT
from tests.loopback import app_server

#: A key-shaped canary (108 chars, random body): it must reach the upstream and no file or output.
CANARY = (
    "sk-ant-api03-"
    + "Zt4Lm8Qw2Er6Ty0Ui3Op7As1Df5Gh9Jk2Lz4Xc8Vb6Nm0Qa3Ws7Ed1Rf5Tg9Yh2Uj6Ik4Ol8Pz0Xs3Cd7Vf1Bg5Nh9Mj-"
    + "AA"
)
#: the answer every test upstream gives: a short, complete message stream
SSE = b"".join(
    f"event: {json.loads(data)['type']}\ndata: {data}\n\n".encode()
    for data in (
        '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],'
        '"model":"claude-test","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}',
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}',
        '{"type":"content_block_stop","index":0}',
        '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}',
        '{"type":"message_stop"}',
    )
)
MIB = 1024 * 1024


# -- a loopback upstream that says what it received ---------------------------------------------------


async def _hashing_upstream(request: web.Request) -> web.StreamResponse:
    """Reads the body as it arrives (never whole), answers with its sha256, size and encoding in
    headers, then a complete message stream."""
    digest = hashlib.sha256()
    size = 0
    while data := await request.content.readany():
        digest.update(data)
        size += len(data)
    headers = {
        "content-type": "text/event-stream",
        "x-body-sha256": digest.hexdigest(),
        "x-body-size": str(size),
        "x-body-encoding": request.headers.get("content-encoding", "none"),
    }
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    await response.write(SSE)
    await response.write_eof()
    return response


def hashing_upstream() -> contextlib.AbstractContextManager[str]:
    """The upstream above on a free loopback port, bodies left as sent (no decompression)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _hashing_upstream)
    return app_server(app, auto_decompress=False)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_doctor", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


# -- 7: gzip request bodies --------------------------------------------------------------------------


def test_gzip_request_body_reaches_upstream_byte_exact_and_is_recorded_decoded(tmp_path: Path) -> None:
    """Was: the proxy forwarded the decompressed bytes still labelled ``content-encoding: gzip``, so
    the API (here ``serve``) answered 500 where a direct request got 200."""
    body = json.dumps(
        {"model": "claude-test", "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    ).encode()
    sent = gzip.compress(body, mtime=0)
    headers = {
        "content-type": "application/json",
        "content-encoding": "gzip",
        "x-api-key": "sk-test-not-a-key",
        "anthropic-version": "2023-06-01",
    }
    with hashing_upstream() as upstream, running(upstream, tmp_path / "echo") as proxy:
        answer = httpx2.post(proxy.url + "/v1/messages", content=sent, headers=headers, timeout=10)
        wait_for(lambda: len(proxy.captured) == 1)
    assert answer.status_code == 200
    assert answer.headers["x-body-encoding"] == "gzip"
    assert answer.headers["x-body-sha256"] == hashlib.sha256(sent).hexdigest()
    [recording] = (tmp_path / "echo").iterdir()
    [request] = [r for r in open_source(str(recording)).records if isinstance(r, Request)]
    assert request.json == json.loads(body)  # the checks see the request the API decodes

    with MockAPI(ServeOptions(parse_faults([]), speed=float("inf"))) as api:
        direct = httpx2.post(api.url + "/v1/messages", content=sent, headers=headers, timeout=10)
        with running(api.url, tmp_path / "serve") as proxy:
            proxied = httpx2.post(proxy.url + "/v1/messages", content=sent, headers=headers, timeout=10)
    assert (direct.status_code, proxied.status_code) == (200, 200)
    assert b"message_stop" in proxied.content


# -- 4: file names ------------------------------------------------------------------------------------


def test_a_key_in_the_url_path_never_reaches_a_file_name(tmp_path: Path) -> None:
    """Was: ``<stamp>-0000-sk-ant-api03-…-v1-messages.jsonl``: the key, on disk, in every listing. A
    base URL with a key or token in its path (``/<key>/v1/messages``) is how a gateway might be set up;
    the name keeps only the API's own words."""
    with hashing_upstream() as upstream, running(upstream, tmp_path) as proxy:
        for path in (f"/{CANARY}/v1/messages", f"/v1/messages/{CANARY}?beta=true", "/v1/messages/count_tokens"):
            assert httpx2.post(proxy.url + path, json={"stream": True}, timeout=10).status_code == 200
        wait_for(lambda: len(proxy.captured) == 3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3
    for name in names:
        assert "sk-ant" not in name and CANARY[13:33] not in name, name
    assert [re.sub(r"^\d{8}-\d{6}-\d{4}-", "", n) for n in names] == [
        "_-v1-messages.jsonl",
        "v1-messages-_.jsonl",
        "v1-messages-count_tokens.jsonl",
    ]
    for path in tmp_path.iterdir():
        assert CANARY.encode() not in path.read_bytes()


# -- 6: a 100 MB request body -------------------------------------------------------------------------


def _rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _big_body(size: int, keys_at: tuple[int, ...]) -> tuple[Iterator[bytes], Any]:
    """A JSON request of ``size`` bytes, made 1 MiB at a time (never whole in memory), with the canary
    key starting at each offset of the text in ``keys_at``; returns the pieces and the running sha256
    of what was yielded."""
    prefix = b'{"model":"claude-test","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"'
    suffix = b'"}]}'
    filler = size - len(prefix) - len(suffix)
    digest = hashlib.sha256()

    def text(start: int, end: int) -> bytes:
        out = bytearray(b"a" * (end - start))
        for at in keys_at:
            for n, byte in enumerate(CANARY.encode()):
                if start <= at + n < end:
                    out[at + n - start] = byte
        return bytes(out)

    def pieces() -> Iterator[bytes]:
        for piece in (prefix, *(text(s, min(s + MIB, filler)) for s in range(0, filler, MIB)), suffix):
            digest.update(piece)
            yield piece

    return pieces(), digest


def post_through_record_cli(
    upstream: str, out: Path, content: Any, headers: dict[str, str]
) -> tuple[httpx2.Response, int, str]:
    """POST ``content`` through a ``claude-doctor record`` process; returns the answer, how far the
    proxy's RSS rose above its own baseline (taken after a warm-up request) while it forwarded, and
    everything the proxy printed."""
    proxy = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "record", "--listen", "127.0.0.1:0", "--upstream", upstream]
        + ["--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+)", proxy.stderr.readline()).group(1)
        warm = httpx2.post(url + "/v1/messages", json={"stream": True, "x": "a" * 100_000}, timeout=10)
        assert warm.status_code == 200
        time.sleep(0.3)
        baseline = peak = _rss(proxy.pid)
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss(proxy.pid))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            answer = httpx2.post(url + "/v1/messages", content=content, headers=headers, timeout=120)
        finally:
            done.set()
            watcher.join()
    finally:
        proxy.send_signal(signal.SIGINT)
        stdout, stderr = proxy.communicate(timeout=60)
    return answer, peak - baseline, stdout + stderr


def test_a_100_mb_request_body_streams_in_bounded_memory_and_reads_back(tmp_path: Path) -> None:
    """Was: the proxy read the body whole (330–630 MB RSS) and wrote it as one 100 MB line that its
    own reader refused ("line longer than 64 MiB"). Now the body is streamed upstream byte-exact, the
    proxy's memory grows by far less than the body, the recording's lines stay short, keys split
    between pieces are redacted, and ``stream``, ``replay`` and ``serve`` read the recording."""
    size = 100 * MIB
    # one key across the first 1 MiB line boundary, one in the streamed part past 32 MiB
    pieces, digest = _big_body(size, keys_at=(MIB - 100, 40 * MIB + 12_345))
    out = tmp_path / "recs"
    with hashing_upstream() as upstream:
        answer, grown, output = post_through_record_cli(upstream, out, pieces, {"content-length": str(size)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-body-size"] == str(size)
    assert answer.headers["x-body-sha256"] == digest.hexdigest()
    assert grown < 80 * MIB, f"proxy RSS grew {grown / MIB:.0f} MiB for a {size // MIB} MiB body"
    assert CANARY not in output and "Traceback" not in output

    [big] = [p for p in out.iterdir() if p.stat().st_size > size // 2]
    data = big.read_bytes()
    assert CANARY.encode() not in data and CANARY[13:40].encode() not in data
    assert max(len(line) for line in data.split(b"\n")) < MIB
    del data

    checked = cli("stream", str(big))
    assert checked.returncode in (0, 1), checked.stdout + checked.stderr
    assert "line longer" not in checked.stdout + checked.stderr and "Traceback" not in checked.stderr
    assert "over 32 MiB" in checked.stderr  # the checks went without the request, and say so
    replayed = cli("replay", str(big), "--speed", "max", "--view", "text")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "ok" in replayed.stdout

    served = subprocess.Popen(
        [sys.executable, "-m", "claude_doctor", "serve", str(big), "--port", "0", "--speed", "max"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        lines = [served.stdout.readline(), served.stdout.readline()]
        serve_url = re.search(r"listening on (http://\S+)", "".join(lines)).group(1)
        client = anthropic.Anthropic(api_key="sk-test-not-a-key", base_url=serve_url, max_retries=0)
        with client.messages.stream(model="claude-test", max_tokens=16, messages=[]) as stream:
            assert stream.get_final_text() == "ok"
    finally:
        served.send_signal(signal.SIGINT)
        served.communicate(timeout=30)


def test_an_sdk_body_over_one_line_is_recorded_in_parts_and_joined_back(tmp_path: Path) -> None:
    """The SDK's own recorder writes the same shape: a 3 MiB request (an image, say) is recorded in
    lines of at most 256 KiB and read back as the one JSON request it was."""
    import claude_doctor

    image = "b" * (3 * MIB)
    path = tmp_path / "run.jsonl"
    with hashing_upstream() as upstream:
        client = anthropic.Anthropic(
            api_key="sk-test-not-a-key", base_url=upstream, http_client=claude_doctor.recording_client(str(path))
        )
        messages = [{"role": "user", "content": [{"type": "text", "text": image}]}]
        with client.messages.stream(model="claude-test", max_tokens=16, messages=messages) as stream:
            assert stream.get_final_text() == "ok"
        client.close()
    lines = path.read_bytes().split(b"\n")
    assert max(len(line) for line in lines) < BODY_PART + 4096
    assert sum(b'"k":"request_body"' in line for line in lines) == 13  # 3 MiB and the JSON around it
    [request] = [r for r in open_source(str(path)).records if isinstance(r, Request)]
    assert request.json["messages"][0]["content"][0]["text"] == image
    assert request.wants_stream is True
    assert os.path.getsize(path) > 3 * MIB


def test_a_request_cut_off_mid_body_is_recorded_with_what_arrived(tmp_path: Path) -> None:
    """Was: the recording held a meta and an end line and no request, so nothing said what the app had
    sent before it went away."""
    head = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with hashing_upstream() as upstream, running(upstream, tmp_path) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            sock.sendall(head + b'{"model":"claude-test"')
            time.sleep(0.2)
        wait_for(lambda: len(proxy.captured) == 1)
    [captured] = proxy.captured
    assert captured.end == "cancelled"
    [request] = [r for r in open_source(captured.recording).records if isinstance(r, Request)]
    assert request.url.endswith("/v1/messages")
    assert request.text == '{"model":"claude-test"'


def test_a_gzip_bomb_goes_upstream_as_sent_and_is_recorded_as_it_came(tmp_path: Path) -> None:
    """A 200 KB gzip body that inflates to 256 MiB: sent on byte-exact (was: inflated by the proxy
    and sent labelled gzip), and recorded as it came, the proxy's memory never holding it inflated."""
    sent = gzip.compress(b"\0" * (256 * MIB), compresslevel=9, mtime=0)
    assert len(sent) < 300_000
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    out = tmp_path / "recs"
    with hashing_upstream() as upstream:
        answer, grown, output = post_through_record_cli(upstream, out, sent, headers)
    assert answer.status_code == 200
    assert answer.headers["x-body-sha256"] == hashlib.sha256(sent).hexdigest()
    assert grown < 80 * MIB, f"proxy RSS grew {grown / MIB:.0f} MiB"
    assert "Traceback" not in output
    [bomb] = [p for p in out.iterdir() if p.stat().st_size > 200_000]
    [request] = [r for r in open_source(str(bomb)).records if isinstance(r, Request)]
    assert request.body == sent
