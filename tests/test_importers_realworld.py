"""Cassettes as real projects write them, reduced to the shape that matters (tests/corpus/importers/,
each file citing its source repository, path and commit): every exchange in them is read, or named
as not read; none reads as a clean empty stream."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import struct
import zlib
from pathlib import Path

import yaml

from claude_doctor import synth
from claude_doctor.recording import Chunk, open_source
from tests.conftest import ROOT, run_cli

CORPUS = ROOT / "tests" / "corpus" / "importers"
RAW = b"".join(synth.text_message(synth.WORDS[:10]))


def stream_json(*paths: Path | str):
    result = run_cli("stream", *map(str, paths), "--format", "json")
    assert "Traceback" not in result.stdout + result.stderr
    return result


def findings(result) -> list[tuple[str, str]]:
    return [(f["code"], f["severity"]) for f in result.json["findings"]]


def load(name: str) -> dict:
    return yaml.safe_load((CORPUS / name).read_text())


# -- pydantic-ai: parsed_body ----------------------------------------------------------------------


def test_pydantic_ai_parsed_body_json_answer_is_a_non_streamed_call():
    result = stream_json(CORPUS / "pydantic_ai_parsed_body.yaml")
    assert (result.code, findings(result), result.json["warnings"]) == (1, [("CD101", "warning")], [])


def test_pydantic_ai_parsed_body_request_max_tokens_is_read(tmp_path):
    # above the SDK's non-streaming guard, the same call is one the SDK refuses: CD101 becomes an error
    doc = load("pydantic_ai_parsed_body.yaml")
    doc["interactions"][0]["request"]["parsed_body"]["max_tokens"] = 32000
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert findings(stream_json(path)) == [("CD101", "error")]


def test_pydantic_ai_streaming_cassette_is_clean_and_its_request_asked_to_stream(tmp_path):
    result = stream_json(CORPUS / "pydantic_ai_streaming.yaml")
    assert (result.code, findings(result), result.json["summary"]["files"]) == (0, [], 1)
    # the parsed_body request asked to stream: a JSON answer to it is CD115, not a non-streamed call
    doc = load("pydantic_ai_streaming.yaml")
    answer = load("pydantic_ai_parsed_body.yaml")["interactions"][0]["response"]
    doc["interactions"][0]["response"] = answer
    path = tmp_path / "json-answer.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert [code for code, _ in findings(stream_json(path))] == ["CD115"]


# -- dd-trace-py: aiohttp header tags, the test agent's one-exchange JSON ----------------------------


def test_ddtrace_aiohttp_cassette_with_python_tags_is_read_and_no_other_tag_runs(tmp_path):
    result = stream_json(CORPUS / "ddtrace_aiohttp_istr.yaml")
    assert (result.code, findings(result), result.json["errors"]) == (1, [("CD110", "error")], [])
    # a tag that would call something is refused as before, and nothing runs
    marker = tmp_path / "ran"
    text = (CORPUS / "ddtrace_aiohttp_istr.yaml").read_text()
    text = text.replace(
        "!!python/object/apply:multidict._multidict.istr\n      - Accept\n",
        f"!!python/object/apply:os.system\n      - touch {marker}; echo Accept\n      - extra\n",
    )
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    result = stream_json(path)
    assert result.code == 2 and not marker.exists()
    assert result.json["errors"] == [
        f"{path}: cannot read the YAML at line 9: unsupported tag !!python/object/apply:os.system"
    ]


def test_ddtrace_test_agent_json_exchange_with_a_decoded_gzip_body():
    # Reduced from DataDog/dd-trace-py tests/cassettes/anthropic/anthropic_v1_messages_post_4ff9791e.json
    # (commit 3bb9ecda22830e3303b18b0ffa5abe7586aef6a7): one {request, response} object, not a vcrpy
    # interactions list; the body is stored decoded while Content-Encoding: gzip stays in the headers.
    result = stream_json(CORPUS / "ddtrace_test_agent.json")
    assert (result.code, sorted(findings(result))) == (1, [("CD101", "warning"), ("CD106", "warning")])
    assert result.json["warnings"] == []


# -- langchain: gzip'd cassettes, masked headers; pytest-recording's folders -----------------------


def test_langchain_yaml_gz_cassettes_in_a_pytest_recording_tree(tmp_path):
    # langchain-ai/langchain libs/standard-tests/langchain_tests/conftest.py (CustomSerializer) writes
    # cassettes as gzip'd YAML, `tests/cassettes/<test>.yaml.gz`, with every header value replaced by
    # "**REDACTED**" (content-type and content-encoding too); pytest-recording lays them out as
    # tests/cassettes/<module>/<test>.yaml.
    doc = load("pydantic_ai_streaming.yaml")
    response = doc["interactions"][0]["response"]
    response["headers"] = {"content-type": ["**REDACTED**"], "content-encoding": ["**REDACTED**"]}
    folder = tmp_path / "tests" / "cassettes" / "test_chat_models"
    folder.mkdir(parents=True)
    (folder / "test_stream.yaml.gz").write_bytes(gzip.compress(yaml.safe_dump(doc).encode()))
    shutil.copy(CORPUS / "pydantic_ai_parsed_body.yaml", folder / "test_invoke.yaml")
    (tmp_path / "tests" / "conftest.py").write_text("import pytest\n")
    result = stream_json(tmp_path / "tests")
    assert result.json["summary"]["files"] == 2 and result.json["errors"] == []
    assert [(Path(f["path"]).name, f["code"]) for f in result.json["findings"]] == [("test_invoke.yaml", "CD101")]
    # named directly, and through standard input, the compressed file reads as its content
    assert (
        stream_json(folder / "test_stream.yaml.gz").code,
        findings(stream_json(folder / "test_stream.yaml.gz")),
    ) == (
        0,
        [],
    )
    piped = run_cli("stream", "-", "--format", "json", stdin=(folder / "test_stream.yaml.gz").read_bytes())
    assert (piped.code, piped.json["summary"]["files"]) == (0, 1)


def test_a_cut_gzip_cassette_is_a_one_line_error(tmp_path):
    data = gzip.compress((CORPUS / "pydantic_ai_streaming.yaml").read_bytes())
    path = tmp_path / "cut.yaml.gz"
    path.write_bytes(data[: len(data) // 2])
    result = run_cli("stream", str(path))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"claude-doctor: error: {path}: gzip-compressed file is cut off or corrupt "
        "(Compressed file ended before the end-of-stream marker was reached)"
    ]


# -- interactions that cannot be read are named, the others checked -------------------------------


def test_an_unreadable_interaction_is_named_and_the_others_are_checked(tmp_path):
    doc = load("pydantic_ai_parsed_body.yaml")
    good = doc["interactions"][0]
    no_body = json.loads(json.dumps(good))
    del no_body["response"]["parsed_body"]
    doc["interactions"] = ["not an interaction", no_body, good]
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = stream_json(path)
    assert (result.code, [f["code"] for f in result.json["findings"]]) == (1, ["CD101"])
    assert result.json["warnings"] == [
        f"{path}: exchange 0 (interaction 1) was not checked: it is not a mapping (got str)",
        f"{path}: exchange 1 (interaction 2) was not checked: its response has neither a body string nor a parsed_body",
    ]


def test_a_cassette_with_no_readable_interaction_is_not_clean(tmp_path):
    doc = load("pydantic_ai_streaming.yaml")
    response = doc["interactions"][0]["response"]
    response["headers"]["content-encoding"] = ["zstd"]
    response["body"] = {"string": b"\x28\xb5\x2f\xfd\x00\x58\x00\x00\xff"}  # binary: no text to fall back on
    path = tmp_path / "zstd.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = stream_json(path)
    assert (result.code, result.json["findings"], result.json["summary"]["files"]) == (2, [], 0)
    assert result.json["errors"] == [
        f"{path}: holds no complete exchange, so nothing in it was checked: exchange 0 (interaction 1) was not "
        "checked: its body has Content-Encoding zstd, which claude-doctor cannot decode"
    ]


def test_a_real_curl_trace_ascii_file_gives_back_the_body_curl_wrote():
    # `curl -sN --trace-ascii FILE --trace-time -o BODY` (curl 7.88.1) against `claude-doctor serve`: the
    # answer is chunked and its text holds "é" and "—"; BODY is what curl wrote, every byte.
    trace = CORPUS / "curl-7.88.1-trace-ascii.trace"
    result = stream_json(trace)
    assert (result.code, result.json["findings"], len(result.json["warnings"])) == (0, [], 1)
    assert "--trace-ascii" in result.json["warnings"][0]
    source = open_source(str(trace))
    body = b"".join(r.data for r in source.records if isinstance(r, Chunk))
    written = (CORPUS / "curl-7.88.1-trace-ascii.body").read_bytes()
    assert body == bytes(b if b < 0x80 else 0x2E for b in written)


# -- Bedrock: the answer to invoke-with-response-stream is an AWS event stream -----------------------

BEDROCK_STREAM = (
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-sonnet-20240229-v1%3A0"
    "/invoke-with-response-stream"
)


def aws_frame(headers: dict[str, str], payload: dict) -> bytes:
    """One frame of an AWS event stream: lengths, a CRC, string headers, the JSON payload, a CRC."""
    head = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode() for k, v in headers.items()
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 16 + len(head) + len(body), len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + body
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock_events(events: list[bytes]) -> bytes:
    """Each SSE event's JSON in a Bedrock ``chunk`` frame, base64'd in ``{"bytes": …}``."""
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    data = [e.split(b"data: ", 1)[1].rstrip(b"\n") for e in events]
    return b"".join(aws_frame(headers, {"bytes": base64.b64encode(d).decode()}) for d in data)


def bedrock_cassette(tmp_path: Path, body: bytes, name: str = "bedrock.yaml") -> Path:
    # Reduced from DataDog/dd-trace-py tests/contrib/botocore/bedrock_cassettes/anthropic_message_invoke_stream.yaml
    # (commit 3bb9ecda22830e3303b18b0ffa5abe7586aef6a7) and openllmetry's
    # packages/opentelemetry-instrumentation-bedrock/tests/traces/cassettes/test_anthropic/
    # test_anthropic_3_completion_streaming.yaml (traceloop/openllmetry 93429cfb9767e6b51db6cb35f6b70f758117669a):
    # a `!!binary` body of frames, the request's body with no `stream` field (the URL asks).
    request = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    doc = {
        "interactions": [
            {
                "request": {"body": json.dumps(request), "headers": {}, "method": "POST", "uri": BEDROCK_STREAM},
                "response": {
                    "body": {"string": body},
                    "headers": {
                        "Content-Type": ["application/vnd.amazon.eventstream"],
                        "X-Amzn-Bedrock-Content-Type": ["application/json"],
                    },
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


def test_bedrock_event_stream_is_read_as_the_messages_stream_it_carries(tmp_path):
    events = synth.text_message(synth.WORDS[:10])
    result = stream_json(bedrock_cassette(tmp_path, bedrock_events(events)))
    assert (result.code, result.json["findings"], result.json["errors"], result.json["warnings"]) == (0, [], [], [])
    # cut inside a frame, after a few events: a truncated stream
    cut = bedrock_events(events[:5])
    assert [f["code"] for f in stream_json(bedrock_cassette(tmp_path, cut[:-30], "cut.yaml")).json["findings"]] == [
        "CD104"
    ]
    # an exception frame mid-stream is an error event after the 200
    throttled = aws_frame(
        {":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception"},
        {"message": "Too many requests, please wait before trying again."},
    )
    result = stream_json(bedrock_cassette(tmp_path, bedrock_events(events[:4]) + throttled, "throttled.yaml"))
    assert [f["code"] for f in result.json["findings"]] == ["CD108"]
    assert "throttlingException" in result.json["findings"][0]["message"]


def test_bedrock_converse_stream_is_named_as_not_checked(tmp_path):
    # openllmetry .../test_anthropic/test_anthropic_converse_stream_with_tool_use.yaml (commit above): the
    # Converse API's frames carry `messageStart`, `contentBlockDelta`… events, not the Messages API's.
    converse = aws_frame(
        {":event-type": "messageStart", ":content-type": "application/json", ":message-type": "event"},
        {"p": "abcd", "role": "assistant"},
    )
    path = bedrock_cassette(tmp_path, converse)
    result = stream_json(path)
    assert (result.code, result.json["findings"]) == (2, [])
    assert result.json["errors"] == [
        f"{path}: holds no complete exchange, so nothing in it was checked: exchange 0 (interaction 1) was not "
        "checked: its AWS event stream cannot be read at byte 0: a messageStart event, not a Messages API one "
        "(Bedrock's Converse API?)"
    ]
