"""Realistic Messages API streams, built in code: the bundled recordings, the tests and ``serve`` all
use these so that a synthetic stream looks exactly like the API's (the event grammar of the Messages
API's streaming docs). Every synthetic stream ``serve`` sends is built here (:func:`message_events`)."""

from __future__ import annotations

import json
from typing import Any

API_VERSION = "2026-10-21"
DEFAULT_MODEL = "claude-sonnet-4-6"
REQUEST_ID = "req_011CVZvLoGLsEeCaHq8SbzJE"  #: the request id of the fixed streams built here


def sse(name: str, data: Any) -> bytes:
    """One wire event, compact JSON with raw UTF-8 as the API sends it."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()


PING = sse("ping", {"type": "ping"})


def message_start(
    model: str = DEFAULT_MODEL, input_tokens: int = 25, msg_id: str = "msg_01XFDUDYJgAACzvnptvVoYEL"
) -> bytes:
    return sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )


def block_start(index: int, block: dict) -> bytes:
    return sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def delta(index: int, payload: dict) -> bytes:
    return sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": payload})


def block_stop(index: int) -> bytes:
    return sse("content_block_stop", {"type": "content_block_stop", "index": index})


def message_delta(stop_reason: str = "end_turn", output_tokens: int = 12) -> bytes:
    return sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )


MESSAGE_STOP = sse("message_stop", {"type": "message_stop"})


def error_payload(error_type: str, message: str, request_id: str = REQUEST_ID) -> dict:
    """The API's error object: the body of an HTTP error, and the data of ``event: error``."""
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_event(
    error_type: str = "overloaded_error", message: str = "Overloaded", request_id: str = REQUEST_ID
) -> bytes:
    return sse("error", error_payload(error_type, message, request_id))


def text_block(index: int, words: list[str]) -> list[bytes]:
    """A text block streamed a few words per delta."""
    out = [block_start(index, {"type": "text", "text": ""})]
    out += [delta(index, {"type": "text_delta", "text": w}) for w in words]
    return out + [block_stop(index)]


def thinking_block(index: int, thoughts: list[str], signature: str = "EqQBCkgIARABGAIiQL") -> list[bytes]:
    out = [block_start(index, {"type": "thinking", "thinking": "", "signature": ""})]
    out += [delta(index, {"type": "thinking_delta", "thinking": t}) for t in thoughts]
    out.append(delta(index, {"type": "signature_delta", "signature": signature}))
    return out + [block_stop(index)]


def tool_use_block(
    index: int, name: str, json_parts: list[str], tool_id: str = "toolu_01A09q90qw90lq917835lq9"
) -> list[bytes]:
    out = [block_start(index, {"type": "tool_use", "id": tool_id, "name": name, "input": {}})]
    out += [delta(index, {"type": "input_json_delta", "partial_json": p}) for p in json_parts]
    return out + [block_stop(index)]


def text_message(words: list[str], stop_reason: str = "end_turn", model: str = DEFAULT_MODEL) -> list[bytes]:
    """A complete streamed text answer: message_start, one text block, message_delta, message_stop."""
    return [message_start(model), PING, *text_block(0, words), message_delta(stop_reason, len(words)), MESSAGE_STOP]


def message_events(message: dict) -> list[bytes]:
    """The wire events the API streams for the complete ``message`` (a Messages API response body):
    message_start with no content, each block as start, deltas, stop (a ping after the first block
    starts, as the API sends it), then message_delta and message_stop. ``serve`` answers with these."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events = [sse("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        wire = _block_events(index, block)
        if index == 0:
            wire.insert(1, PING)
        events += wire
    events += [message_delta(message["stop_reason"], message["usage"]["output_tokens"]), MESSAGE_STOP]
    return events


def _block_events(index: int, block: dict) -> list[bytes]:
    """A complete content block streamed: text a few words per delta, thinking then its signature, tool
    input as JSON cut every 12 characters."""
    if block["type"] == "text":
        return text_block(index, _word_groups(block["text"], 3))
    if block["type"] == "thinking":
        return thinking_block(index, _word_groups(block["thinking"], 4), block["signature"])
    raw = json.dumps(block["input"], ensure_ascii=False)
    return tool_use_block(index, block["name"], [raw[i : i + 12] for i in range(0, len(raw), 12)], block["id"])


def _word_groups(text: str, size: int) -> list[str]:
    """Split text into deltas of ``size`` words, the way the model streams it."""
    parts = text.split(" ")
    return [" ".join(parts[i : i + size]) + (" " if i + size < len(parts) else "") for i in range(0, len(parts), size)]


def event_name(wire: bytes) -> str:
    """The ``event:`` name of one wire event built here."""
    return wire[len(b"event: ") : wire.index(b"\n")].decode()


def json_message(
    text: str, stop_reason: str = "end_turn", model: str = DEFAULT_MODEL, output_tokens: int = 12
) -> bytes:
    """The non-streaming answer to the same request."""
    return json.dumps(
        {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": output_tokens},
        },
        separators=(",", ":"),
    ).encode()


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps(error_payload(error_type, message), separators=(",", ":")).encode()


#: Text deltas as the API sends them: a word or two each, with their leading spaces.
WORDS = [
    "Streaming",
    *(
        " " + w
        for w in [
            "lets",
            "you",
            "show",
            "Claude's",
            "answer",
            "as",
            "it",
            "is",
            "written,",
            "word",
            "by",
            "word,",
            "instead",
            "of",
            "all",
            "at",
            "once",
            "at",
            "the",
            "end.",
            "Café,",
            "naïve,",
            "日本語",
            "and",
            "😀",
            "travel",
            "as",
            "UTF-8.",
        ]
    ),
]
