"""Recording format v1 (docs/recording-format.md): the writer's exact bytes, line discipline and
redaction, and the reader's tolerance (truncated last line, unknown kinds and keys)."""

from __future__ import annotations

import base64
import json
import random
import secrets
import string
from pathlib import Path

import pytest

from claude_doctor import synth
from claude_doctor.errors import RecordingError
from claude_doctor.recording import Chunk, End, RecordingWriter, Request, Response, open_source, write_source

URL = "https://api.anthropic.com/v1/messages"
KEY_ALPHABET = string.ascii_letters + string.digits + "-_"


def fake_key() -> str:
    """An Anthropic-key-shaped string, built at run time so that no key is ever committed."""
    return "sk-ant-api03-" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(93)) + "AA"


def write(path: Path, chunks: list[bytes], *, headers=(), response_headers=(), body: bytes | None = None) -> Path:
    with path.open("wb") as f:
        w = RecordingWriter(f, "live", "2026-11-25T12:00:00.000Z")
        w.request(0, 0.0, "POST", URL, list(headers), body if body is not None else b'{"stream":true}')
        w.response(0, 0.4, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream"), *response_headers])
        for n, c in enumerate(chunks):
            w.chunk(0, 0.5 + n / 1000, c)
        w.end(0, 0.9, "eof")
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line]


def records(path: Path):
    source = open_source(str(path))
    return source, list(source.records)


def chunk_bytes(recs) -> list[bytes]:
    return [r.data for r in recs if isinstance(r, Chunk)]


# -- exact bytes -----------------------------------------------------------------------------------


def test_round_trip_keeps_exact_bytes_and_chunk_boundaries(tmp_path):
    body = b"".join(synth.text_message(synth.WORDS))
    rng = random.Random(3)
    inside_char = body.index("😀".encode()) + 2
    cuts = sorted({*rng.sample(range(1, len(body)), 60), inside_char})
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    path = write(tmp_path / "r.jsonl", chunks)
    source, recs = records(path)
    assert source.kind == "recording" and source.warnings == []
    assert chunk_bytes(recs) == chunks
    assert b"".join(chunk_bytes(recs)) == body
    # a chunk ending inside a multibyte character is not valid UTF-8 alone: it goes to b64
    for obj, raw in zip([o for o in lines(path) if o["k"] == "chunk"], chunks):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            assert "b64" in obj and "text" not in obj
            assert base64.b64decode(obj["b64"]) == raw
        else:
            assert obj["text"] == raw.decode() and "b64" not in obj
    kinds = [o["k"] for o in lines(path)]
    assert any("b64" in o for o in lines(path) if o["k"] == "chunk"), "the cut points should split a character"
    assert kinds[0] == "meta" and kinds.count("meta") == 1 and kinds[-1] == "end"


def test_invalid_utf8_chunk_goes_to_b64_and_comes_back(tmp_path):
    chunks = [b"data: \xff\xfe\n\n", b"\xe2\x82", b"\xac ok", b"", b"\x00\r\n"]
    path = write(tmp_path / "r.jsonl", chunks)
    _, recs = records(path)
    assert chunk_bytes(recs) == chunks
    objs = [o for o in lines(path) if o["k"] == "chunk"]
    assert ["b64" in o for o in objs] == [True, True, True, False, False]


def test_u2028_and_u0085_inside_strings_survive(tmp_path):
    text = 'data: {"t":"a\u2028b\u2029c\u0085d\x1c"}\n\n'.encode()
    path = write(tmp_path / "r.jsonl", [text], body='{"content":"x\u2028y"}'.encode())
    raw = path.read_bytes()
    assert "\u2028".encode() in raw  # written raw (ensure_ascii=False), not as an escape
    _, recs = records(path)
    assert chunk_bytes(recs) == [text]
    req = next(r for r in recs if isinstance(r, Request))
    assert req.json == {"content": "x\u2028y"}
    assert len(raw.split(b"\n")) - 1 == 5  # meta, request, response, chunk, end


def test_request_json_that_has_no_utf8_form_is_still_written(tmp_path):
    """JSON allows a lone ``\\ud83d`` escape and integers past 64 bits; Python parses both, but the
    first has no UTF-8 form. The line is written with ASCII escapes instead and reads back equal."""
    body = b'{"messages":[{"role":"user","content":"half \\ud83d a pair"}],"seed":18446744073709551616}'
    path = write(tmp_path / "r.jsonl", [b"data: {}\n\n"], body=body)
    _, recs = records(path)
    request = next(r for r in recs if isinstance(r, Request))
    assert request.json == json.loads(body)
    assert request.json["messages"][0]["content"] == "half \ud83d a pair"
    assert chunk_bytes(recs) == [b"data: {}\n\n"]


def test_lines_are_compact_json_with_keys_in_table_order(tmp_path):
    path = tmp_path / "r.jsonl"
    with path.open("wb") as f:
        w = RecordingWriter(f, "live", "2026-11-25T12:00:00.000Z")
        w.request(0, 0.0, "POST", URL, [("x-api-key", "k" * 10)], b'{"model":"m","stream":true}')
        w.response(0, 0.4123456789, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        w.chunk(0, 0.5, "data: é\n\n".encode())
        w.chunk(0, 0.6, b"\xff")
        w.end(0, 0.9, "error", "boom", "RemoteProtocolError")
    objs = lines(path)
    assert [list(o) for o in objs] == [
        ["k", "format", "v", "recorded_at", "source", "tool", "redacted"],
        ["k", "i", "t", "method", "url", "headers", "json"],
        ["k", "i", "t", "status", "reason", "http_version", "headers"],
        ["k", "i", "t", "text"],
        ["k", "i", "t", "b64"],
        ["k", "i", "t", "reason", "error", "error_type"],
    ]
    assert objs[0]["format"] == "claude-doctor/recording" and objs[0]["v"] == 1
    assert objs[1]["headers"] == [["x-api-key", "[REDACTED len=10]"]]
    assert objs[2]["t"] == 0.412346  # rounded to microseconds
    raw = path.read_text("utf-8")
    assert '"text":"data: é\\n\\n"' in raw  # raw UTF-8, compact separators
    assert ", " not in raw.replace("data: ", "") and '": ' not in raw


def test_each_line_is_flushed_while_the_writer_is_open(tmp_path):
    path = tmp_path / "live.jsonl"
    with path.open("wb") as f:
        w = RecordingWriter(f, "live")
        w.request(0, 0.0, "POST", URL, [], b'{"stream":true}')
        assert [o["k"] for o in lines(path)] == ["meta", "request"]
        w.response(0, 0.4, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        w.chunk(0, 0.5, synth.message_start())
        # a crash now leaves a valid prefix that the reader accepts
        assert path.read_bytes().endswith(b"\n")
        _, recs = records(path)
        assert [type(r) for r in recs] == [Request, Response, Chunk]
        w.end(0, 0.6, "eof")
    assert [o["k"] for o in lines(path)][-1] == "end"


# -- redaction -------------------------------------------------------------------------------------


def test_credential_headers_are_redacted_with_their_length(tmp_path):
    key = fake_key()
    headers = [
        ("x-api-key", key),
        ("Authorization", "Bearer " + key),
        ("Cookie", "session=abc123"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", key),  # duplicates are kept
    ]
    path = write(tmp_path / "r.jsonl", [b"data: {}\n\n"], headers=headers)
    raw = path.read_text("utf-8")
    assert key not in raw and key[13:60] not in raw and "abc123" not in raw and "dXNlcjpwYXNz" not in raw
    objs = lines(path)
    assert objs[1]["headers"] == [
        ["x-api-key", "[REDACTED len=108]"],
        ["Authorization", "[REDACTED len=115]"],
        ["Cookie", "[REDACTED len=14]"],
        ["Proxy-Authorization", "[REDACTED len=18]"],
        ["anthropic-version", "2023-06-01"],
        ["x-api-key", "[REDACTED len=108]"],
    ]
    assert set(objs[0]["redacted"]) == {"x-api-key", "authorization", "cookie", "proxy-authorization"}


def test_set_cookie_in_the_response_is_redacted(tmp_path):
    path = write(tmp_path / "r.jsonl", [b"data: {}\n\n"], response_headers=[("Set-Cookie", "cf=secretvalue; path=/")])
    assert "secretvalue" not in path.read_text("utf-8")
    assert ["Set-Cookie", "[REDACTED len=22]"] in lines(path)[2]["headers"]


@pytest.mark.xfail(
    strict=True,
    reason="bug: meta is written with the first request, so a credential header seen only in the response "
    "(set-cookie) is redacted but never listed in meta.redacted",
)
def test_set_cookie_redaction_is_listed_in_meta(tmp_path):
    path = write(tmp_path / "r.jsonl", [b"data: {}\n\n"], response_headers=[("set-cookie", "cf=secret")])
    assert "set-cookie" in lines(path)[0]["redacted"]


def test_key_in_request_body_chunk_url_error_and_note_is_redacted(tmp_path):
    key = fake_key()
    path = tmp_path / "r.jsonl"
    with path.open("wb") as f:
        w = RecordingWriter(f, "live")
        w.request(0, 0.0, "POST", URL + "?k=" + key, [("x-note", "key " + key)], json.dumps({"prompt": key}).encode())
        w.request(1, 0.0, "POST", URL, [], b"not json " + key.encode())
        w.request(2, 0.0, "POST", URL, [], b"\xff binary " + key.encode())
        w.response(0, 0.4, 200, "OK", "HTTP/1.1", [])
        w.chunk(0, 0.5, f'data: {{"text":"{key}"}}\n\n'.encode())
        w.chunk(0, 0.6, b"\xff" + key.encode())
        w.end(0, 0.9, "error", f"auth failed for {key}", "APIError")
        w.note(f"hand note {key}")
    raw = path.read_bytes()
    assert key.encode() not in raw and key[13:100].encode() not in raw
    for obj in lines(path)[1:]:
        if "b64" in obj:
            assert key[13:100].encode() not in base64.b64decode(obj["b64"])
    assert raw.count(b"[REDACTED len=108]") >= 7
    objs = lines(path)
    assert objs[1]["json"] == {"prompt": "[REDACTED len=108]"}


@pytest.mark.parametrize("cut", [1, 5, 7, 30, 107])
def test_key_split_across_chunks_is_redacted(tmp_path, cut):
    key = fake_key()
    data = f'data: {{"text":"{key}"}}\n\n'.encode()
    at = data.index(b"sk-ant-") + cut
    path = write(tmp_path / "r.jsonl", [data[:at], data[at:]])
    raw = path.read_bytes()
    assert key[40:].encode() not in raw and key[13:20].encode() not in raw
    chunks = [obj for obj in lines(path) if obj["k"] == "chunk"]
    assert len(chunks) == 2  # both reads are still there, with their times
    assert "".join(c["text"] for c in chunks) == data.decode().replace(key, "[REDACTED len=108]")


@pytest.mark.parametrize("size", [1, 5, 10, 33])
def test_key_split_over_many_small_chunks_is_redacted(tmp_path, size):
    """The API echoing a key back arrives in reads of a few bytes each (``serve split:5``): no read may
    carry any part of it."""
    key = fake_key()
    data = f'data: {{"text":"say {key} twice {key}"}}\n\n'.encode()
    pieces = [data[n : n + size] for n in range(0, len(data), size)]
    path = write(tmp_path / "r.jsonl", pieces)
    raw = path.read_bytes()
    for start in range(13, len(key) - 8, 8):
        assert key[start : start + 8].encode() not in raw
    chunks = [obj for obj in lines(path) if obj["k"] == "chunk"]
    assert len(chunks) == len(pieces)
    assert "".join(c["text"] for c in chunks) == data.decode().replace(key, "[REDACTED len=108]")


# -- reading ---------------------------------------------------------------------------------------


def test_truncated_last_line_is_a_warning_not_fatal(tmp_path):
    path = write(tmp_path / "r.jsonl", [synth.message_start(), synth.PING])
    data = path.read_bytes()
    cut = data[: data.rindex(b'{"k":"end"') + 12]  # mid-line, no newline
    path.write_bytes(cut)
    source, recs = records(path)
    assert chunk_bytes(recs) == [synth.message_start(), synth.PING]
    assert not any(isinstance(r, End) for r in recs)
    assert len(source.warnings) == 1 and "truncated" in source.warnings[0] and str(path) in source.warnings[0]


def test_invalid_json_on_a_complete_line_is_an_error_naming_the_line(tmp_path):
    path = write(tmp_path / "r.jsonl", [synth.PING])
    text = path.read_bytes().split(b"\n")
    text.insert(3, b'{"k":"chunk", oops}')
    path.write_bytes(b"\n".join(text))
    source = open_source(str(path))
    with pytest.raises(RecordingError) as err:
        list(source.records)
    assert str(err.value).startswith(f"{path}:4: ")


def test_unknown_kinds_and_unknown_keys_are_ignored(tmp_path):
    path = write(tmp_path / "r.jsonl", [synth.message_start(), synth.PING])
    objs = lines(path)
    objs[0]["future_field"] = {"x": 1}
    for o in objs[1:]:
        o["extra"] = [1, 2, 3]
    objs.insert(3, {"k": "checkpoint", "i": 0, "whatever": True})
    objs.insert(4, {"k": "note", "text": "hand-written"})
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), "utf-8")
    source, recs = records(path)
    assert source.warnings == []
    assert chunk_bytes(recs) == [synth.message_start(), synth.PING]
    assert [type(r).__name__ for r in recs] == ["Request", "Response", "Note", "Chunk", "Chunk", "End"]


def test_blank_lines_and_crlf_line_ends_are_tolerated(tmp_path):
    path = write(tmp_path / "r.jsonl", [synth.PING])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n\n"))
    _, recs = records(path)
    assert chunk_bytes(recs) == [synth.PING]


def test_hand_written_fixture_with_null_times(tmp_path):
    path = tmp_path / "hand.jsonl"
    path.write_text(
        '{"k":"meta","format":"claude-doctor/recording","v":1,"recorded_at":null,"source":"hand","tool":null,'
        '"redacted":[]}\n'
        + "".join(
            json.dumps({"k": "chunk", "i": 0, "t": None, "text": e.decode()}) + "\n" for e in synth.text_message(["Hi"])
        ),
        "utf-8",
    )
    source, recs = records(path)
    assert source.meta.source == "hand" and source.meta.recorded_at is None
    assert all(r.t is None for r in recs)
    assert b"".join(chunk_bytes(recs)) == b"".join(synth.text_message(["Hi"]))


def test_several_exchanges_keep_their_index(tmp_path):
    path = tmp_path / "two.jsonl"
    with path.open("wb") as f:
        w = RecordingWriter(f, "proxy")
        for i in (0, 1):
            w.request(i, 0.0, "POST", URL, [], b'{"stream":true}')
            w.response(i, 0.1, 529 if i == 0 else 200, "", "HTTP/1.1", [])
            w.chunk(i, 0.2, b"x%d" % i)
            w.end(i, 0.3, "eof")
    _, recs = records(path)
    assert [(type(r).__name__, r.i) for r in recs if not isinstance(r, Request)] == [
        ("Response", 0),
        ("Chunk", 0),
        ("End", 0),
        ("Response", 1),
        ("Chunk", 1),
        ("End", 1),
    ]


def test_an_import_rewritten_as_a_recording_keeps_the_body(tmp_path):
    raw = b"".join(synth.text_message(synth.WORDS[:6]))
    sse = tmp_path / "curl.sse"
    sse.write_bytes(raw)
    out = tmp_path / "out.jsonl"
    with out.open("wb") as f:
        write_source(open_source(str(sse)), f)
    source, recs = records(out)
    assert source.meta.source == "import:curl"
    assert b"".join(chunk_bytes(recs)) == raw
    assert all(r.t is None for r in recs if isinstance(r, Chunk))


def test_long_lines_over_a_megabyte_read_back_exactly(tmp_path):
    big = b"data: " + "é😀x".encode() * 400_000 + b"\n\n"  # a ~3.6 MB chunk line, and one in b64
    chunks = [synth.message_start(), big, big[:-3] + b"\xff\n\n"]
    path = write(tmp_path / "long.jsonl", chunks)
    _, recs = records(path)
    assert chunk_bytes(recs) == chunks


@pytest.mark.parametrize("size", [1, 2, 7, 100])
def test_lines_cut_across_read_blocks_read_as_whole_lines(tmp_path, size):
    """The reader takes the file a block at a time: a line (and a CRLF, a blank line, the last line with
    no newline) cut anywhere by the blocks reads the same as in one block, line numbers included."""
    from claude_doctor.recording.jsonl import _numbered_lines

    path = write(tmp_path / "r.jsonl", [synth.message_start(), synth.PING, "é😀".encode() * 50])
    data = path.read_bytes().replace(b"\n", b"\r\n\n", 2)[:-1]  # blank lines, CRLF, no final newline
    blocks = [data[i : i + size] for i in range(0, len(data), size)]
    assert list(_numbered_lines(iter(blocks), "r")) == list(_numbered_lines(iter([data]), "r"))
    numbered = list(_numbered_lines(iter(blocks), "r"))
    assert [n for n, _, _ in numbered] == [1, 3, 5, 6, 7, 8, 9]
    assert [ended for _, _, ended in numbered] == [True] * 6 + [False]
    assert [bytes(line) for _, line, _ in numbered] == [x for x in data.split(b"\n") if x.strip()]
