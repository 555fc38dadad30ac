"""In-process: the streams ``synth`` builds for ``serve`` are the API's grammar, carry the whole
message, and pass ``claude-doctor stream`` clean; ``serve`` sends exactly these bytes."""

from __future__ import annotations

import json
from pathlib import Path

from claude_doctor import synth
from claude_doctor.serve.replies import build_message, synthetic_reply
from claude_doctor.sse import SSEDecoder
from tests.conftest import invoke_cli

REQUEST = {
    "model": synth.DEFAULT_MODEL,
    "max_tokens": 2048,
    "stream": True,
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "tools": [{"name": "get_weather", "input_schema": {"properties": {"city": {"type": "string"}}}}],
    "messages": [{"role": "user", "content": "Weather in Zürich? 😀"}],
}


def _reassemble(wire: list[bytes]) -> tuple[list[str], list[dict]]:
    """Event names, and the content blocks the deltas build (what a client accumulates)."""
    decoder = SSEDecoder()
    events = [e for chunk in wire for e in decoder.feed(chunk)]
    blocks: list[dict] = []
    for event in events:
        data = json.loads(event.data)
        if event.name == "content_block_start":
            blocks.append({**data["content_block"], "partial_json": ""})
        elif event.name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking"}.get(delta["type"])
            if field:
                block[field] += delta[field]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            else:
                block["partial_json"] += delta["partial_json"]
    for block in blocks:
        raw = block.pop("partial_json")
        if block["type"] == "tool_use":
            block["input"] = json.loads(raw)
    return [e.name for e in events], blocks


def test_message_events_carry_the_whole_message_in_the_api_order() -> None:
    message = build_message(REQUEST)
    names, blocks = _reassemble(synth.message_events(message))
    assert blocks == message["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use"]
    assert names[:3] == ["message_start", "content_block_start", "ping"]  # the API pings after the first start
    assert names.count("ping") == 1
    assert names[-2:] == ["message_delta", "message_stop"]


def test_message_events_pass_the_stream_checks_clean(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.sse"
    path.write_bytes(b"".join(synth.message_events(build_message(REQUEST))))
    result = invoke_cli("stream", str(path), "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    assert result.codes() == []


def test_serve_streams_the_synth_bytes() -> None:
    reply = synthetic_reply(REQUEST, stream=True)
    sent = [piece.data for piece in reply.pieces]
    message = json.loads(sent[0].partition(b"data: ")[2])["message"]
    final = json.loads(sent[-2].partition(b"data: ")[2])
    names, blocks = _reassemble(sent)
    rebuilt = {**message, "content": blocks, "stop_reason": final["delta"]["stop_reason"]}
    rebuilt["usage"] = {**message["usage"], **final["usage"]}
    assert sent == synth.message_events(rebuilt)
    assert [p.event for p in reply.pieces] == names
