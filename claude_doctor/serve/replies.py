"""What ``serve`` answers, planned before anything is sent: an error, a synthetic answer built from
the request, or a recorded answer with its recorded timing.

Every answer is a :class:`Reply` whose body is a list of :class:`Piece` (bytes and the wait before
them); faults then rewrite the plan (:mod:`.faults`) and the sender writes it out (:mod:`.sender`).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .. import synth
from ..errors import UsageProblem
from ..recording.model import Chunk, End, Response, Source
from ..sse import SSEDecoder

DEFAULT_RETRY_AFTER = 1.0  #: seconds; small so that a client with retries left comes back quickly
FIRST_BYTE_DELAY = 0.1  #: synthetic time to first event at --speed 1
EVENT_DELAY = 0.02  #: synthetic time between events at --speed 1

#: HTTP status -> error type, as the API's errors page documents it.
STATUS_ERRORS = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed your organization's rate limit. Please try again later."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive", "date", "server"}


# -- the plan of one answer ------------------------------------------------------------------------


@dataclass
class Piece:
    """Bytes to write after waiting ``wait`` seconds. ``kind``: ``data``, ``silence`` (a wait during which
    no pings go out) or ``reset`` (send a TCP RST instead of finishing). ``event`` names the SSE event
    this piece starts."""

    data: bytes
    wait: float = 0.0
    kind: str = "data"
    event: str | None = None
    scaled: bool = True  #: ``--speed`` applies to recorded and synthetic pace, not to a fault's own timing


@dataclass
class Reply:
    """Status, headers and body plan of one answer; ``middle`` is where mid-stream faults go."""

    status: int
    headers: list[tuple[str, str]]
    pieces: list[Piece]
    event_stream: bool
    head_wait: float = 0.0
    middle: int = 0
    synthetic_pace: bool = True  #: pings fill long waits (a replayed recording already has its own)


def middle_of(pieces: list[Piece]) -> int:
    """Where mid-stream faults go: after half of the content deltas (at least one), else half way."""
    deltas = [i for i, p in enumerate(pieces) if p.event == "content_block_delta"]
    if not deltas:
        return len(pieces) // 2
    return deltas[max(0, (len(deltas) + 1) // 2 - 1)] + 1


def new_id(prefix: str) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(24))


# -- an error ---------------------------------------------------------------------------------------


def error_reply(status: int, message: str | None = None, retry_after: float = DEFAULT_RETRY_AFTER) -> Reply:
    """An error answer with the API's body and headers (retry-after and rate-limit headers on 429)."""
    error_type, default = STATUS_ERRORS.get(status, ("api_error" if status >= 500 else "invalid_request_error", ""))
    request_id = new_id("req_011C")
    body = json.dumps(synth.error_payload(error_type, message or default or f"HTTP {status}", request_id)).encode()
    headers = [("content-type", "application/json"), ("request-id", request_id)]
    if status == 429:
        headers += _rate_limit_headers(retry_after)
    if status in (429, 529):
        headers.append(("x-should-retry", "true"))
    return Reply(status, headers, [Piece(body)], event_stream=False)


def _rate_limit_headers(retry_after: float) -> list[tuple[str, str]]:
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + retry_after))
    return [
        ("retry-after", f"{retry_after:g}"),
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", reset),
        ("anthropic-ratelimit-tokens-limit", "40000"),
        ("anthropic-ratelimit-tokens-remaining", "0"),
        ("anthropic-ratelimit-tokens-reset", reset),
    ]


# -- the synthetic answer ---------------------------------------------------------------------------


def _last_user_text(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def _example_input(schema: Any) -> dict:
    """A plausible tool input from its JSON schema, so client code that reads ``input`` gets values."""
    samples = {"string": "example", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    out: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        out[name] = prop["enum"][0] if prop.get("enum") else samples.get(str(prop.get("type")), "example")
    return out


def build_message(body: dict) -> dict:
    """The complete assistant message the mock answers ``body`` with: thinking when asked, text, and a
    ``tool_use`` for the first tool when tools are given. Non-ASCII on purpose, so ``split`` cuts
    UTF-8 characters."""
    said = " ".join(_last_user_text(body).split())[:80]
    content: list[dict] = []
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        signature = base64.b64encode(secrets.token_bytes(48)).decode()
        content.append(
            {
                "type": "thinking",
                "thinking": f"The user wrote “{said}”. A short answer will do.",
                "signature": signature,
            }
        )
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    choice = body.get("tool_choice")
    use_tool = tools and not (isinstance(choice, dict) and choice.get("type") == "none")
    text = f"Hello from claude-doctor serve — a mock of the Messages API (café, naïve, 😀). You said: {said}"
    if use_tool:
        text = f"I'll call {tools[0]['name']} — one moment."
    content.append({"type": "text", "text": text})
    if use_tool:
        content.append(
            {
                "type": "tool_use",
                "id": new_id("toolu_01"),
                "name": tools[0]["name"],
                "input": _example_input(tools[0].get("input_schema")),
            }
        )
    output_tokens = sum(len(json.dumps(block, ensure_ascii=False)) // 4 for block in content)
    stop_reason = "tool_use" if use_tool else "end_turn"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and 0 < max_tokens < output_tokens:
        stop_reason, output_tokens = "max_tokens", max_tokens
    return {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model")),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": max(1, len(json.dumps(body.get("messages"))) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        },
    }


def synthetic_reply(body: dict, stream: bool) -> Reply:
    """What the API would send for ``body``: an event stream (built by :mod:`claude_doctor.synth`), or a
    JSON message."""
    message = build_message(body)
    request_id = new_id("req_011C")
    if not stream:
        data = json.dumps(message, ensure_ascii=False).encode()
        return Reply(
            200,
            [("content-type", "application/json"), ("request-id", request_id)],
            [Piece(data, FIRST_BYTE_DELAY)],
            event_stream=False,
        )
    headers = [
        ("content-type", "text/event-stream; charset=utf-8"),
        ("cache-control", "no-cache"),
        ("request-id", request_id),
    ]
    events = synth.message_events(message)
    pieces = [Piece(wire, EVENT_DELAY, event=synth.event_name(wire)) for wire in events]
    pieces[0].wait = FIRST_BYTE_DELAY
    return Reply(200, headers, pieces, event_stream=True, middle=middle_of(pieces))


# -- replaying a recording --------------------------------------------------------------------------


@dataclass
class RecordedExchange:
    response: Response | None
    chunks: list[Chunk] = field(default_factory=list)
    end: End | None = None


def load_exchanges(source: Source) -> list[RecordedExchange]:
    """Every exchange of a recording, in memory: ``serve`` answers request n with exchange n (cycling),
    so recorded SDK retries replay as retries."""
    exchanges: dict[int, RecordedExchange] = {}
    for record in source.records:
        if isinstance(record, (Response, Chunk, End)):
            exchange = exchanges.setdefault(record.i, RecordedExchange(None))
            if isinstance(record, Response):
                exchange.response = record
            elif isinstance(record, Chunk):
                exchange.chunks.append(record)
            else:
                exchange.end = record
    if not exchanges:
        raise UsageProblem(f"{source.path}: the recording holds no response to serve")
    return [exchanges[i] for i in sorted(exchanges)]


def recorded_reply(exchange: RecordedExchange, events_needed: bool) -> Reply:
    """A recorded answer with its recorded timing; cut per SSE event when a fault needs events."""
    response = exchange.response
    if response is None and not exchange.chunks:
        return Reply(0, [], [], event_stream=False)  # status 0: the recording has no answer, reset at once
    if response is None:  # a raw capture (curl -N) kept the body only: it was the API's event stream
        response = Response(0, None, 200, "OK", None, [("content-type", "text/event-stream")])
    headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
    event_stream = response.content_type == "text/event-stream"
    pieces = _event_pieces(exchange) if events_needed and event_stream else _chunk_pieces(exchange)
    pieces.extend(_ending(exchange, pieces))
    reply = Reply(
        response.status or 200, headers, pieces, event_stream, head_wait=response.t or 0.0, synthetic_pace=False
    )
    reply.middle = middle_of(pieces) if events_needed else len(pieces) // 2
    return reply


def _chunk_pieces(exchange: RecordedExchange) -> list[Piece]:
    previous = exchange.response.t if exchange.response and exchange.response.t is not None else 0.0
    pieces = []
    for chunk in exchange.chunks:
        if chunk.t is None:
            pieces.append(Piece(chunk.data, EVENT_DELAY))
        else:
            pieces.append(Piece(chunk.data, max(0.0, chunk.t - previous)))
            previous = chunk.t
    return pieces


def _event_pieces(exchange: RecordedExchange) -> list[Piece]:
    """Re-cut the recorded body at event boundaries (byte-exact slices), each at its arrival time."""
    body = b"".join(c.data for c in exchange.chunks)
    decoder = SSEDecoder()
    events = [e for chunk in exchange.chunks for e in decoder.feed(chunk.data, chunk.t)]
    pieces, previous, offset = [], (exchange.response.t or 0.0) if exchange.response else 0.0, 0
    for event in events:
        wait = EVENT_DELAY if event.t is None else max(0.0, event.t - previous)
        previous = event.t if event.t is not None else previous
        pieces.append(Piece(body[offset : event.end], wait, event=event.name))
        offset = event.end
    if offset < len(body):
        pieces.append(Piece(body[offset:], EVENT_DELAY))
    return pieces


def _ending(exchange: RecordedExchange, pieces: list[Piece]) -> list[Piece]:
    """How the recorded body ended: a reset or timeout is replayed as silence, then a reset."""
    end = exchange.end
    if end is None or end.reason in ("eof", "cancelled"):
        return []
    last = exchange.chunks[-1].t if exchange.chunks and exchange.chunks[-1].t is not None else None
    silence = end.t - last if end.t is not None and last is not None else 0.0
    return [Piece(b"", max(0.0, silence), kind="reset")]
