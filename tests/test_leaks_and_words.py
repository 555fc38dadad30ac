"""Issue 15, part D: a key the server echoes back over several text deltas is never written or printed;
a body the recorder cannot decode is said so, not diagnosed; a stream cut by the SDK itself is named
for what arrived.

Keys are canaries (``tests/test_canary.py``): fresh, well-formed, never in the repository."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import json
import random
import sys
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from claude_doctor import synth
from claude_doctor.recording import RecordingWriter, open_source
from claude_doctor.recording.model import Chunk, Note
from claude_doctor.serve import running
from claude_doctor.sse import SSEDecoder
from tests.conftest import CliResult
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)
from tests.test_canary import Canary

#: an app as users write it: stream, keep the text, print nothing of it
ECHO_APP = """
import sys, anthropic
client = anthropic.Anthropic(api_key="sk-test-not-a-key", max_retries=0)
prompt = [{"role": "user", "content": "repeat my key"}]
with client.messages.stream(model="claude-test", max_tokens=99, messages=prompt) as stream:
    text = "".join(stream.text_stream)
sys.exit(0 if sys.argv[1] in text else 3)  # the SDK did assemble the whole key
"""


@pytest.fixture
def canary(tmp_path: Path) -> Canary:
    return Canary(tmp_path)


def echo_stream(key: str, size: int) -> bytes:
    """An answer that echoes ``key`` twice in ``size``-character text deltas, as a model repeating a
    pasted key does: no delta holds more than ``size`` characters of it."""
    text = f"The key you pasted is {key}, and again: {key}. Keep it safe."
    pieces = [text[at : at + size] for at in range(0, len(text), size)]
    return b"".join([synth.message_start(), *synth.text_block(0, pieces), synth.message_delta(), synth.MESSAGE_STOP])


def assembled_text(path: Path) -> str:
    """The text a ``text_stream`` reader of the recorded body gets."""
    body = b"".join(r.data for r in open_source(str(path)).records if isinstance(r, Chunk))
    text = []
    for event in SSEDecoder().feed(body):
        data = json.loads(event.data)
        if data.get("type") == "content_block_delta":
            text.append(data["delta"].get("text", ""))
    return "".join(text)


@pytest.mark.parametrize("size", [12, 20, 40])
def test_a_key_echoed_over_text_deltas_is_in_no_recording_and_on_no_screen(canary: Canary, size: int) -> None:
    answer = canary.inputs / "echo.sse"
    answer.write_bytes(echo_stream(canary.key, size))
    app = canary.inputs / "app.py"
    app.write_text(ECHO_APP, encoding="utf-8")
    recs = canary.out / "recs"
    with running([], open_source(str(answer))) as url:
        recorded = canary.cli(
            "record", "--upstream", url, "--out", str(recs), "--", sys.executable, str(app), canary.key
        )
    assert recorded.code == 0, recorded.stdout + recorded.stderr
    (recording,) = recs.glob("*.jsonl")
    assert assembled_text(recording).count("[REDACTED len=108]") == 2
    shown = [
        canary.cli("stream", "-v", str(recs)),
        canary.cli("stream", "--format", "json", str(answer)),
        *(
            canary.cli("replay", "--speed", "max", "--view", view, str(p))
            for p in (recording, answer)
            for view in ("text", "events")
        ),
    ]
    assert all(result.code in (0, 1) for result in shown), [r.stderr for r in shown]
    assert "[REDACTED len=108]" in shown[2].stdout  # the text view says where the key was
    canary.assert_clean(recorded, *shown)
    canary.assert_absent(assembled_text(recording), "the text assembled from the recording")


def test_the_transport_recorder_redacts_a_key_echoed_over_text_deltas(canary: Canary) -> None:
    import anthropic

    from claude_doctor import recording_client

    answer = canary.inputs / "echo.sse"
    answer.write_bytes(echo_stream(canary.key, 12))
    path = canary.out / "sdk.jsonl"
    with running(["split:7"], open_source(str(answer))) as url:
        client = anthropic.Anthropic(api_key="k", base_url=url, http_client=recording_client(str(path)), max_retries=0)
        with client.messages.stream(model="m", max_tokens=9, messages=[{"role": "user", "content": "hi"}]) as stream:
            assert canary.key in "".join(stream.text_stream)  # the app gets every byte as sent
        client.close()
    canary.assert_disk_clean()
    canary.assert_absent(assembled_text(path), "the text assembled from the recording")


def test_secrets_finds_a_key_spread_over_deltas_in_a_recording(canary: Canary) -> None:
    # a recording written before the writer redacted joined text (or by hand): the key is on no line whole
    folder = canary.inputs / "recordings"
    folder.mkdir()
    body = echo_stream(canary.key, 12)
    lines = [
        {"k": "meta", "format": "claude-doctor/recording", "v": 1, "source": "proxy", "redacted": []},
        {"k": "response", "i": 0, "t": 0.1, "status": 200, "headers": [["content-type", "text/event-stream"]]},
        *({"k": "chunk", "i": 0, "t": 0.2, "text": body[at : at + 64].decode()} for at in range(0, len(body), 64)),
        {"k": "end", "i": 0, "t": 0.3, "reason": "eof"},
    ]
    (folder / "old.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    human = canary.cli("secrets", str(folder))
    machine = canary.cli("secrets", "--format", "json", str(folder))
    assert human.code == 1 and "CD302" in human.stdout, human.stdout + human.stderr
    (finding,) = json.loads(machine.stdout)["findings"]
    assert finding["code"] == "CD302" and "sk-ant-api03-…" in finding["message"]
    canary.assert_clean(human, machine)


# -- bodies the recorder must decode, or say it could not ------------------------------------------


@contextlib.contextmanager
def encoded_api(body: bytes, encoding: str) -> Iterator[str]:
    """A loopback API that answers every request with ``body`` as sent, under ``content-encoding:
    encoding``: what a CDN or a compressing proxy in front of the API hands the SDK."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-encoding", encoding)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


#: encoding as the header says it -> the body so encoded (last applied last)
ENCODINGS = {
    "br": brotli.compress,
    "gzip, identity": gzip.compress,
    "deflate, br": lambda data: brotli.compress(zlib.compress(data)),
    "gzip, br": lambda data: brotli.compress(gzip.compress(data)),
}

STREAM_APP = """
import sys, anthropic
client = anthropic.Anthropic(api_key="sk-test-not-a-key", max_retries=0)
try:
    with client.messages.stream(model="claude-test", max_tokens=99, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
except Exception as exc:
    print("raised", type(exc).__name__)
"""


def record_app(canary: Canary, url: str, app: str) -> tuple[Path, CliResult]:
    script = canary.inputs / "app.py"
    script.write_text(app, encoding="utf-8")
    recs = canary.out / "recs"
    result = canary.cli("record", "--upstream", url, "--out", str(recs), "--", sys.executable, str(script))
    (recording,) = recs.glob("*.jsonl")
    return recording, result


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_an_encoded_body_is_recorded_decoded_and_checked(canary: Canary, encoding: str) -> None:
    body = echo_stream(canary.key, 20)
    with encoded_api(ENCODINGS[encoding](body), encoding) as url:
        recording, recorded = record_app(canary, url, STREAM_APP)
    assert recorded.code == 0, recorded.stdout + recorded.stderr
    assert "raised" not in recorded.stdout
    assert assembled_text(recording).count("[REDACTED len=108]") == 2  # decoded, then redacted
    checked = canary.cli("stream", "--format", "json", str(recording))
    assert checked.code == 0 and json.loads(checked.stdout)["findings"] == [], checked.stdout
    canary.assert_clean(recorded, checked)


def test_a_body_the_recorder_cannot_decode_is_said_so_not_diagnosed(canary: Canary) -> None:
    body = gzip.compress(echo_stream(canary.key, 20))
    with encoded_api(body, "x-unheard-of") as url:
        recording, recorded = record_app(canary, url, STREAM_APP)
    notes = [r.text for r in open_source(str(recording)).records if isinstance(r, Note)]
    assert notes == [
        "exchange 0: the body has Content-Encoding x-unheard-of, which claude-doctor cannot decode; "
        "it is stored as received"
    ]
    checked = canary.cli("stream", "--format", "json", str(recording))
    report = json.loads(checked.stdout)
    assert checked.code == 0 and report["findings"] == [], checked.stdout  # no false CD104 "no events at all"
    assert any("stored still encoded (x-unheard-of" in w and "not checked" in w for w in report["warnings"]), report
    human = canary.cli("stream", str(recording))
    assert "All clear" not in human.stdout and "not checked" in human.stderr, human.stdout + human.stderr
    canary.assert_clean(recorded, checked, human)


# -- the right words ----------------------------------------------------------------------------------

TOOL_APP = """
import anthropic
client = anthropic.Anthropic(api_key="sk-test-not-a-key", max_retries=0)
tools = [{"name": "get_weather", "description": "w",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
try:
    with client.messages.stream(model="claude-test", max_tokens=99, tools=tools,
                                messages=[{"role": "user", "content": "weather?"}]) as s:
        for _ in s:
            pass
except ValueError as exc:
    print("raised", exc)
"""


NOT_JSON_APP = """
import anthropic
client = anthropic.Anthropic(api_key="sk-test-not-a-key", max_retries=0)
try:
    with client.messages.stream(model="claude-test", max_tokens=99, messages=[{"role": "user", "content": "hi"}]) as s:
        for _ in s:
            pass
except ValueError as exc:
    print("raised", type(exc).__name__)
"""


@pytest.mark.parametrize(
    ("app", "raised", "code"),
    [
        (TOOL_APP, "raised Unable to parse tool parameter JSON", "CD117"),
        (NOT_JSON_APP, "raised JSONDecodeError", "CD113"),
    ],
    ids=["tool-input", "data-line"],
)
def test_a_stream_the_sdk_closed_where_it_raised_is_named_for_that_not_a_cut(
    canary: Canary, app: str, raised: str, code: str
) -> None:
    with running(["bad-json"], speed=1) as url:  # paced: the SDK raises before the rest arrives
        recording, recorded = record_app(canary, url, app)
    assert raised in recorded.stdout, recorded.stdout + recorded.stderr
    checked = canary.cli("stream", "--format", "json", str(recording))
    findings = json.loads(checked.stdout)["findings"]
    assert [f["code"] for f in findings] == [code], findings  # no CD104 "the client closed it"
    if code == "CD117":
        assert "not JSON even in part" in findings[0]["message"]


def _lines(*records: dict) -> str:
    meta = {"k": "meta", "format": "claude-doctor/recording", "v": 1, "source": "proxy", "redacted": []}
    return "".join(json.dumps(r) + "\n" for r in (meta, *records))


def _exchange(i: int) -> list[dict]:
    body = b"".join(
        [synth.message_start(), *synth.text_block(0, ["Hi", " there"]), synth.message_delta(), synth.MESSAGE_STOP]
    )
    return [
        {
            "k": "request",
            "i": i,
            "t": 0.0,
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "headers": [],
            "json": {"model": "m", "max_tokens": 9, "stream": True, "messages": []},
        },
        {"k": "response", "i": i, "t": 0.1, "status": 200, "headers": [["content-type", "text/event-stream"]]},
        {"k": "chunk", "i": i, "t": 0.2, "text": body.decode()},
        {"k": "end", "i": i, "t": 0.3, "reason": "eof"},
    ]


@pytest.mark.parametrize(
    ("records", "said"),
    [
        (
            [*_exchange(0), {"k": "end", "i": 0, "t": 0.4, "reason": "eof"}],
            ":6: a second `end` line for exchange 0 (the first is on line 5); ignored",
        ),
        (
            [{"k": "end", "i": 0, "t": 0.3, "reason": "reset"}, *_exchange(0)],
            ":2: an `end` line for exchange 0 before any other line of it; ignored",
        ),
        (
            [*_exchange(0), *_exchange(0)],
            ":6: exchange 0 goes on after its `end` (line 5): two exchanges share index 0; read as two",
        ),
        (
            [*_exchange(0)[:2], *_exchange(0)],
            ":4: a second `request` line for exchange 0 (the first is on line 2) before its `end`: two exchanges "
            "share index 0",
        ),
    ],
    ids=["two-ends", "end-before-request", "index-reused", "two-requests"],
)
def test_lines_out_of_order_are_named(tmp_path: Path, records: list[dict], said: str) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(_lines(*records), encoding="utf-8")
    result = run_cli("stream", str(path))
    assert f"{path}{said}" in result.stderr, result.stdout + result.stderr
    assert "All clear" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("seed", range(40))
def test_the_writer_redacts_keys_however_deltas_and_reads_split_them(canary: Canary, seed: int) -> None:
    """Keys in text, thinking and tool input, split over deltas of 1–50 characters, the body read in
    pieces of 1–300 bytes (CRLF framing in some): every event still parses, each block's text holds one
    stand-in per key, and no 12 characters of a key are left in the file."""
    rnd = random.Random(seed)
    key = canary.key

    def pieces(text: str) -> list[str]:
        out, at = [], 0
        while at < len(text):
            size = rnd.randint(1, 50)
            out.append(text[at : at + size])
            at += size
        return out

    body = b"".join(
        [
            synth.message_start(),
            *synth.thinking_block(0, pieces(f"the user pasted {key} so")),
            *synth.text_block(1, pieces(f"Your key: {key}. Again:{key}, and sk-ant-nope")),
            *synth.tool_use_block(2, "save", pieces(json.dumps({"key": key}))),
            synth.message_delta(),
            synth.MESSAGE_STOP,
        ]
    )
    if seed % 4 == 3:
        body = body.replace(b"\n", b"\r\n")
    out = io.BytesIO()
    writer = RecordingWriter(out, "test")
    writer.response(0, 0.0, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
    at = 0
    while at < len(body):
        size = rnd.randint(1, 300)
        writer.chunk(0, at / 1000, body[at : at + size])
        at += size
    writer.end(0, 1.0, "eof")
    data = out.getvalue()
    path = canary.out / "w.jsonl"
    path.write_bytes(data)
    recorded = b"".join(r.data for r in open_source(str(path)).records if isinstance(r, Chunk))
    texts: dict[int, str] = {}
    for event in SSEDecoder().feed(recorded):
        parsed = json.loads(event.data)
        if parsed["type"] == "content_block_delta":
            delta = parsed["delta"]
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            texts[parsed["index"]] = texts.get(parsed["index"], "") + piece
    assert [texts[i].count("[REDACTED len=108]") for i in range(3)] == [1, 2, 1], texts
    assert json.loads(texts[2]) == {"key": "[REDACTED len=108]"}
    body_part = canary.body
    for start in range(0, len(body_part) - 12):
        assert body_part[start : start + 12].encode() not in data, f"12 key characters at {start} left in the file"
