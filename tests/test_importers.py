"""Importers (raw SSE, curl -i / -v / --trace, HAR, vcrpy), as a user meets them: through
``claude-doctor stream FILE --format json``, sniffed by content, plus the exact bytes they yield."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path

import pytest
import yaml

from claude_doctor import synth
from claude_doctor.recording import Chunk, End, RecordingWriter, Request, Response, importers, open_source
from tests.conftest import RECORDINGS
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

IMPORTS = RECORDINGS / "imports"
URL = "https://api.anthropic.com/v1/messages"
CLEAN = synth.text_message(synth.WORDS[:10])
RAW = b"".join(CLEAN)
SSE_HEADERS = [("content-type", "text/event-stream; charset=utf-8"), ("request-id", "req_011CVZvLoGLsEeCaHq8SbzJE")]
REQUEST_BODY = json.dumps({"model": synth.DEFAULT_MODEL, "max_tokens": 1024, "stream": True, "messages": []})


def stream_json(*args: str, stdin: bytes | None = None):
    result = run_cli("stream", *args, "--format", "json", stdin=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def assert_clean(path: Path | str, stdin: bytes | None = None) -> None:
    result = stream_json(str(path), stdin=stdin)
    assert (result.code, result.codes(), result.json["errors"]) == (0, [], []), result.stdout + result.stderr
    assert result.json["summary"]["files"] == 1


def opened(path: Path):
    source = open_source(str(path))
    return source, list(source.records)


def body_of(recs, i: int = 0) -> bytes:
    return b"".join(r.data for r in recs if isinstance(r, Chunk) and r.i == i)


def hexdump(data: bytes) -> str:
    """``curl --trace`` hex dump lines (curl prints the offset with ``%4.4zx``)."""
    out = []
    for off in range(0, len(data), 16):
        part = data[off : off + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in part)
        out.append(f"{off:04x}: {' '.join(f'{b:02x}' for b in part):<47} {text}")
    return "\n".join(out)


def asciidump(data: bytes) -> str:
    """``curl --trace-ascii`` dump lines, as curl's ``dump()`` prints them: 64 bytes a line, a new line
    after each CRLF (not printed), '.' for every byte outside 0x20-0x7f."""
    out = []
    i = 0
    while i < len(data):
        line = ""
        c = 0
        while c < 0x40 and i + c < len(data):
            if i + c + 1 < len(data) and data[i + c : i + c + 2] == b"\r\n":
                c += 2
                break
            byte = data[i + c]
            line += chr(byte) if 0x20 <= byte < 0x80 else "."
            c += 1
            if i + c + 1 < len(data) and data[i + c : i + c + 2] == b"\r\n":
                c += 2
                break
        out.append(f"{i:04x}: {line}")
        i += c
    return "\n".join(out)


def trace_file(
    recv_blocks: list[bytes], *, status: bytes = b"HTTP/1.1 200 OK", chunked: bool = True, dump=hexdump
) -> str:
    head = b"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\ncontent-type: application/json\r\n\r\n"
    req = REQUEST_BODY.encode()
    out = [
        "10:00:00.000000 == Info: Connected to api.anthropic.com (160.79.104.10) port 443 (#0)",
        f"10:00:00.001000 => Send header, {len(head)} bytes (0x{len(head):x})",
        dump(head),
        f"10:00:00.001500 => Send data, {len(req)} bytes (0x{len(req):x})",
        dump(req),
    ]
    resp_head = [status + b"\r\n", b"content-type: text/event-stream\r\n"]
    resp_head += [b"transfer-encoding: chunked\r\n"] if chunked else []
    for line in [*resp_head, b"\r\n"]:
        out += [f"10:00:00.400000 <= Recv header, {len(line)} bytes (0x{len(line):x})", dump(line)]
    for n, block in enumerate(recv_blocks):
        out += [f"10:00:{n // 100 + 1:02d}.{(n % 100) * 10000:06d} <= Recv data, {len(block)} bytes", dump(block)]
    return "\n".join(out) + "\n"


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"


# -- the bundled examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, kind",
    [
        ("curl-N.sse", "sse"),
        ("curl-i.txt", "curl-i"),
        ("curl-trace.trace", "curl-trace"),
        ("devtools.har", "har"),
        ("cassette.yaml", "vcr"),
    ],
)
def test_each_bundled_import_is_sniffed_and_clean(name, kind):
    assert_clean(IMPORTS / name)
    source, recs = opened(IMPORTS / name)
    assert source.kind == kind
    assert body_of(recs) == RAW  # every format carries the same stream, byte for byte


def test_bundled_imports_are_all_present():
    assert sorted(p.name for p in IMPORTS.iterdir()) == sorted(
        ["curl-N.sse", "curl-i.txt", "curl-trace.trace", "devtools.har", "cassette.yaml"]
    )


def test_a_directory_means_every_recording_in_it(tmp_path):
    result = stream_json(str(IMPORTS))
    assert result.code == 0 and result.json["summary"]["files"] == 5 and result.codes() == []
    # and a failure in one file of a folder is reported with that file's path
    (tmp_path / "a.sse").write_bytes(RAW)
    (tmp_path / "b.sse").write_bytes(b"".join(CLEAN[:4]))
    (tmp_path / "notes.md").write_text("not a recording\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.sse").write_bytes(b"".join(CLEAN[:3]))
    result = stream_json(str(tmp_path))
    assert result.json["summary"]["files"] == 2
    assert {Path(f["path"]).name for f in result.json["findings"]} == {"b.sse"}
    assert "CD104" in result.codes() and result.code == 1


@pytest.mark.parametrize("name", [*sorted(p.name for p in IMPORTS.iterdir()), "../clean-text.jsonl"])
def test_any_format_may_be_gzip_compressed(tmp_path, name):
    path = tmp_path / (Path(name).name + ".gz")
    path.write_bytes(gzip.compress((IMPORTS / name).read_bytes()))
    assert_clean(path)


def test_dash_reads_stdin():
    assert_clean("-", stdin=RAW)
    result = stream_json("-", stdin=b"".join(CLEAN[:5]))
    assert result.code == 1 and "CD104" in result.codes()
    result = stream_json("-", stdin=(IMPORTS / "devtools.har").read_bytes())
    assert result.code == 0 and result.codes() == []


# -- curl --trace ------------------------------------------------------------------------------------


def test_curl_trace_dechunks_exactly_the_raw_sse_bytes():
    _, recs = opened(IMPORTS / "curl-trace.trace")
    assert body_of(recs) == (IMPORTS / "curl-N.sse").read_bytes()
    resp = next(r for r in recs if isinstance(r, Response))
    assert (resp.status, resp.reason, resp.http_version) == (200, "OK", "HTTP/1.1")
    req = next(r for r in recs if isinstance(r, Request))
    assert req.method == "POST" and req.url == URL and req.json["stream"] is True
    times = [r.t for r in recs if isinstance(r, Chunk)]
    assert times == sorted(times) and all(t is not None and t > 0 for t in times)  # per-read timing kept


@pytest.mark.parametrize("block", [1, 3, 7, 16, 100])
def test_curl_trace_dechunks_when_reads_split_the_framing_anywhere(tmp_path, block):
    framed = chunked(CLEAN)
    reads = [framed[i : i + block] for i in range(0, len(framed), block)]
    path = tmp_path / "t.trace"
    path.write_text(trace_file(reads))
    source, recs = opened(path)
    assert source.kind == "curl-trace"
    assert body_of(recs) == RAW
    assert_clean(path)


def test_curl_trace_with_chunk_extensions_and_unchunked_body(tmp_path):
    framed = b"".join(f"{len(p):X};ext=1\r\n".encode() + p + b"\r\n" for p in CLEAN) + b"0\r\n\r\n"
    path = tmp_path / "ext.trace"
    path.write_text(trace_file([framed]))
    assert body_of(opened(path)[1]) == RAW
    plain = tmp_path / "plain.trace"
    plain.write_text(trace_file([RAW[:100], RAW[100:]], chunked=False))
    assert body_of(opened(plain)[1]) == RAW
    assert_clean(plain)


def test_curl_trace_of_a_429_reports_rate_limited(tmp_path):
    body = synth.error_body("rate_limit_error", "slow down")
    path = tmp_path / "429.trace"
    path.write_text(trace_file([body], status=b"HTTP/1.1 429 Too Many Requests", chunked=False))
    result = stream_json(str(path))
    assert result.code == 1 and result.codes() == ["CD109"]


def test_curl_trace_with_reads_over_64k_keeps_every_byte(tmp_path):
    """curl prints hex offsets with ``%4.4zx``, so offsets past 0xffff have five digits."""
    big = [synth.delta(0, {"type": "text_delta", "text": "word " * 20}) for _ in range(700)]
    events = [synth.message_start(), synth.block_start(0, {"type": "text", "text": ""}), *big]
    events += [synth.block_stop(0), synth.message_delta(), synth.MESSAGE_STOP]
    raw = b"".join(events)
    assert len(raw) > 0x10000
    path = tmp_path / "big.trace"
    path.write_text(trace_file([raw], chunked=False))
    assert body_of(opened(path)[1]) == raw
    assert_clean(path)


def test_curl_trace_ascii_is_read_with_its_line_feeds_put_back_and_a_warning(tmp_path):
    # text with a UTF-8 character split over two reads, a "..." and a dot before "event:" in the text
    stream = synth.text_message(["Caf\u00e9 ", "\u2014 see... event: data: 1.5", " done."])
    raw = b"".join(stream)
    framed = chunked([raw[n : n + 97] for n in range(0, len(raw), 97)])
    path = tmp_path / "ascii.trace"
    path.write_text(trace_file([framed[n : n + 150] for n in range(0, len(framed), 150)], dump=asciidump))
    result = stream_json(str(path))
    assert (result.code, result.codes(), result.json["errors"]) == (0, [], [])
    assert result.json["warnings"] == [f"{path}: {importers.TRACE_ASCII_WARNING}"]
    _, recs = opened(path)
    assert body_of(recs) == bytes(b if b < 0x80 else 0x2E for b in raw)  # only the non-ASCII bytes are lost
    assert next(r for r in recs if isinstance(r, Request)).json["stream"] is True
    # and a stream cut inside an event is still one
    cut = raw[: raw.index(b"message_delta") + 40]
    path.write_text(trace_file([chunked([cut])], dump=asciidump))
    assert stream_json(str(path)).codes() == ["CD104"]


# -- curl -i and curl -v -----------------------------------------------------------------------------


def head(status: str, headers=SSE_HEADERS, eol: str = "\r\n") -> bytes:
    return (status + eol + "".join(f"{k}: {v}{eol}" for k, v in headers) + eol).encode()


@pytest.mark.parametrize(
    "preamble",
    [
        b"",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\nProxy-agent: squid\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
    ],
)
def test_curl_i_preambles_are_skipped(tmp_path, preamble):
    path = tmp_path / "i.txt"
    path.write_bytes(preamble + head("HTTP/2 200") + RAW)
    source, recs = opened(path)
    assert source.kind == "curl-i"
    resp = next(r for r in recs if isinstance(r, Response))
    assert (resp.status, resp.http_version) == (200, "HTTP/2")
    assert resp.content_type == "text/event-stream"
    assert body_of(recs) == RAW
    assert_clean(path)


def test_curl_i_with_lf_only_head_and_an_error_status(tmp_path):
    path = tmp_path / "529.txt"
    path.write_bytes(
        head("HTTP/1.1 529", [("content-type", "application/json")], eol="\n")
        + synth.error_body("overloaded_error", "Overloaded")
    )
    result = stream_json(str(path))
    assert result.code == 1 and result.codes() == ["CD111"]


def test_curl_i_cut_inside_the_head_is_a_one_line_error(tmp_path):
    path = tmp_path / "cut.txt"
    path.write_bytes(b"HTTP/1.1 200 OK\r\ncontent-type: text/event")
    result = stream_json(str(path))
    assert result.code == 2 and result.stderr.count("\n") == 1 and str(path) in result.stderr


def test_curl_v_output(tmp_path):
    text = (
        "* Connected to api.anthropic.com (160.79.104.10) port 443\n"
        "> POST /v1/messages HTTP/1.1\n> Host: api.anthropic.com\n> content-type: application/json\n>\n"
        "} [120 bytes data]\n"
        "< HTTP/1.1 100 Continue\n<\n"
        "< HTTP/1.1 200 OK\n< content-type: text/event-stream; charset=utf-8\n<\n"
        "{ [5 bytes data]\n"
    )
    path = tmp_path / "v.log"
    path.write_bytes(text.encode() + RAW)
    source, recs = opened(path)
    assert source.kind == "curl-v"
    resp = next(r for r in recs if isinstance(r, Response))
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    req = next(r for r in recs if isinstance(r, Request))
    assert (req.method, req.url) == ("POST", URL)
    assert body_of(recs) == RAW
    assert_clean(path)


# -- HAR ---------------------------------------------------------------------------------------------


def har(content: dict, status: int = 200, headers=SSE_HEADERS, url: str = URL) -> dict:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "Firefox", "version": "140"},
            "entries": [
                {"request": {"method": "GET", "url": "https://example.com/app.js", "headers": []}, "response": {}},
                {
                    "startedDateTime": "2026-11-25T12:00:00.000Z",
                    "time": 1500,
                    "request": {
                        "method": "POST",
                        "url": url,
                        "headers": [{"name": "x-api-key", "value": "sk-ant-placeholder"}],
                        "postData": {"mimeType": "application/json", "text": REQUEST_BODY},
                    },
                    "response": {
                        "status": status,
                        "statusText": "",
                        "httpVersion": "h2",
                        "headers": [{"name": k, "value": v} for k, v in headers],
                        "content": content,
                    },
                    "timings": {"send": 1, "wait": 400, "receive": 1099},
                },
            ],
        }
    }


@pytest.mark.parametrize("encoding", ["base64", None])
def test_har_body_plain_text_or_base64(tmp_path, encoding):
    content = {"size": len(RAW), "mimeType": "text/event-stream"}
    if encoding:
        content.update(text=base64.b64encode(RAW).decode(), encoding="base64")
    else:
        content.update(text=RAW.decode())
    path = tmp_path / "x.har"
    path.write_text(json.dumps(har(content)))
    source, recs = opened(path)
    assert source.kind == "har"
    assert body_of(recs) == RAW
    req = next(r for r in recs if isinstance(r, Request))
    assert req.url == URL and req.json["stream"] is True  # only the Messages API entry is kept
    assert_clean(path)


def test_har_truncated_stream_and_missing_body(tmp_path):
    path = tmp_path / "cut.har"
    path.write_text(json.dumps(har({"size": 10, "mimeType": "text/event-stream", "text": RAW[:900].decode()})))
    result = stream_json(str(path))
    assert result.code == 1 and "CD104" in result.codes()
    empty = tmp_path / "empty.har"
    empty.write_text(json.dumps(har({"size": 0, "mimeType": "text/event-stream"})))
    source, recs = opened(empty)
    assert body_of(recs) == b"" and any("no response body" in w for w in source.warnings)


def test_har_error_status(tmp_path):
    path = tmp_path / "401.har"
    body = synth.error_body("authentication_error", "invalid x-api-key").decode()
    path.write_text(
        json.dumps(har({"mimeType": "application/json", "text": body}, 401, [("content-type", "application/json")]))
    )
    result = stream_json(str(path))
    assert result.code == 1 and result.codes() == ["CD110"]


# -- vcrpy cassettes ---------------------------------------------------------------------------------


def cassette(body, headers: dict | None = None, status: int = 200) -> dict:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": URL,
                    "body": REQUEST_BODY,
                    "headers": {"content-type": ["application/json"]},
                },
                "response": {
                    "status": {"code": status, "message": "OK"},
                    "headers": headers or {"content-type": ["text/event-stream; charset=utf-8"]},
                    "body": {"string": body},
                },
            }
        ],
    }


def test_vcr_yaml_binary_body(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cassette(RAW)))  # bytes are written as !!binary
    assert "!!binary" in path.read_text()
    source, recs = opened(path)
    assert source.kind == "vcr" and body_of(recs) == RAW
    assert_clean(path)


def test_vcr_yaml_gzip_content_encoding(tmp_path):
    headers = {"content-type": ["text/event-stream"], "Content-Encoding": ["gzip"]}
    path = tmp_path / "gz.yml"
    path.write_text(yaml.safe_dump(cassette(gzip.compress(RAW), headers)))
    _, recs = opened(path)
    assert body_of(recs) == RAW
    resp = next(r for r in recs if isinstance(r, Response))
    assert resp.header("content-encoding") == "gzip"  # kept, so the decoding is visible
    assert_clean(path)


def test_vcr_json_cassette(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cassette(RAW.decode()), indent=2))
    source, recs = opened(path)
    assert source.kind == "vcr" and body_of(recs) == RAW
    assert_clean(path)


def test_vcr_cassette_with_a_retry_names_each_exchange(tmp_path):
    doc = cassette(RAW.decode())
    first = json.loads(json.dumps(doc["interactions"][0]))
    first["response"] = {
        "status": {"code": 529, "message": ""},
        "headers": {"content-type": ["application/json"]},
        "body": {"string": synth.error_body("overloaded_error", "Overloaded").decode()},
    }
    doc["interactions"].insert(0, first)
    path = tmp_path / "retry.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = stream_json(str(path))
    assert result.codes() == ["CD111"]
    assert result.json["findings"][0]["exchange"] == 0
    _, recs = opened(path)
    assert body_of(recs, 1) == RAW
    assert [(r.i, r.reason) for r in recs if isinstance(r, End)] == [(0, "eof"), (1, "eof")]


def raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def brotli_compress(data: bytes) -> bytes:
    import brotli

    return brotli.compress(data)


@pytest.mark.parametrize(
    "coding, compress",
    [
        ("br", brotli_compress),
        ("deflate", raw_deflate),  # what some servers send instead of RFC 9110's zlib framing
        ("gzip, br", lambda data: brotli_compress(gzip.compress(data))),
    ],
    ids=["brotli", "deflate-raw", "gzip-then-brotli"],
)
def test_vcr_brotli_and_deflate_bodies_are_decoded(tmp_path, coding, compress):
    headers = {"content-type": ["text/event-stream"], "content-encoding": [coding]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cassette(compress(RAW), headers)))
    _, recs = opened(path)
    assert body_of(recs) == RAW
    assert_clean(path)


# -- what curl -w prints after the body --------------------------------------------------------------

WRITE_OUT = b"\n[curl http_code=%d]\n"  # curl -N -w '\n[curl http_code=%{http_code}]\n'


def test_curl_write_out_line_is_not_part_of_the_stream_and_gives_the_status(tmp_path):
    cut = b"".join(CLEAN[:6])[:-20]  # the connection closed in the middle of an event
    path = tmp_path / "cut.sse"
    path.write_bytes(cut + WRITE_OUT % 200)
    _, recs = opened(path)
    assert body_of(recs) == cut
    assert [r.status for r in recs if isinstance(r, Response)] == [200]
    # a 529 pasted with its -w line is an overloaded answer, not an error event after a 200
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    path.write_bytes(error + WRITE_OUT % 529)
    assert stream_json(str(path)).codes() == ["CD111"]
    packed = tmp_path / "529.sse.gz"
    packed.write_bytes(gzip.compress(error + WRITE_OUT % 529))
    assert stream_json(str(packed)).codes() == ["CD111"]
    # through a pipe the status cannot be read ahead, but the line is still no part of the body
    result = stream_json("-", stdin=RAW + WRITE_OUT % 200)
    assert (result.code, result.codes()) == (0, [])


def test_curl_i_and_curl_v_with_a_write_out_line(tmp_path):
    cut = b"".join(CLEAN[:6])[:-20]
    path = tmp_path / "i.txt"
    path.write_bytes(head("HTTP/1.1 200 OK") + cut + WRITE_OUT % 200)
    _, recs = opened(path)
    assert body_of(recs) == cut
    verbose = b"* Connected\n> POST /v1/messages HTTP/1.1\n> Host: api.anthropic.com\n>\n< HTTP/1.1 200 OK\n"
    path = tmp_path / "v.txt"
    path.write_bytes(verbose + b"< content-type: text/event-stream\n<\n" + cut + WRITE_OUT % 200)
    _, recs = opened(path)
    assert body_of(recs) == cut


# -- a capture that holds no complete exchange -------------------------------------------------------


def recording(path: Path, chunks: list[bytes]) -> bytes:
    with path.open("wb") as out:
        writer = RecordingWriter(out, "test")
        writer.request(0, 0.0, "POST", URL, [("content-type", "application/json")], REQUEST_BODY.encode())
        writer.response(0, 0.2, 200, "OK", "HTTP/1.1", SSE_HEADERS)
        for n, piece in enumerate(chunks):
            writer.chunk(0, 0.3 + n / 100, piece)
        writer.end(0, 0.5, "eof")
    return path.read_bytes()


def test_a_recording_cut_inside_its_first_request_is_not_clean_a_later_cut_is_a_warning(tmp_path):
    data = recording(tmp_path / "full.jsonl", CLEAN)
    meta, request = data.split(b"\n")[:2]
    path = tmp_path / "killed.jsonl"
    path.write_bytes(meta + b"\n" + request[:40])
    result = stream_json(str(path))
    assert (result.code, result.json["findings"], result.json["summary"]["files"]) == (2, [], 0)
    assert result.json["errors"] == [
        f"{path}: holds no complete exchange, so nothing in it was checked: line 2: truncated last line ignored "
        "(the capture was cut off)"
    ]
    human = run_cli("stream", str(path))
    assert human.code == 2 and human.stdout == ""
    assert human.stderr.splitlines()[-1] == f"claude-doctor: error: {result.json['errors'][0]}"
    # a recorder that never sent anything leaves a meta line alone: nothing to check either
    path.write_bytes(meta + b"\n")
    result = stream_json(str(path))
    assert result.code == 2 and result.json["errors"] == [
        f"{path}: holds no complete exchange, so nothing in it was checked: no request in it got a response, "
        "a body or an end"
    ]
    # while a cut last line after a complete exchange is a warning: that exchange was checked
    path.write_bytes(data + b'{"k":"request","i":1,"t":9.0,"meth')
    result = stream_json(str(path))
    assert (result.code, result.codes(), result.json["errors"], result.json["summary"]["files"]) == (0, [], [], 1)
    last = data.count(b"\n") + 1
    assert result.json["warnings"] == [f"{path}:{last}: truncated last line ignored (the capture was cut off)"]
