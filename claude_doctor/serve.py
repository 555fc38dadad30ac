"""A local Messages API with faults injected: ``claude-doctor serve`` and the :func:`running` test helper.

The real SDK, curl and the user's own client talk to it unchanged through ``ANTHROPIC_BASE_URL``, so a
failure seen once in production (a stall, a reset, a proxy that buffers) can be reproduced on demand.
It answers from a synthetic stream built from the request, or replays a recording at its recorded pace.

Built on aiohttp because it is a maintained HTTP/1.1 server that still hands over the transport, which
``reset`` needs to send a real TCP RST (``SO_LINGER`` 0, then abort). Import it lazily (the CLI does).

The body of every answer is planned first as a list of :class:`Piece` (bytes and the wait before them),
then faults rewrite the plan, then :class:`_Sender` writes it out with pings filling long waits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from .errors import UsageProblem
from .faults import BUFFER_HOLD, Faults, parse_faults
from .recording.model import Chunk, End, Response, Source
from .sse import SSEDecoder
from .synth import PING, sse
from .web import ConnectionGuard, ServerLog, abort, connection_cap, cut_off, hardened_runner, listen, read_body

DEFAULT_PING_INTERVAL = 15.0  #: the API's keep-alive cadence (see CD102)
DEFAULT_RETRY_AFTER = 1.0  #: seconds; small so that a client with retries left comes back quickly
FIRST_BYTE_DELAY = 0.1  #: synthetic time to first event at --speed 1
EVENT_DELAY = 0.02  #: synthetic time between events at --speed 1
MAX_BODY = 32 * 1024 * 1024  #: the API's request size limit (the API's documented limit)
#: What a client dials for a server bound to every address.
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

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


@dataclass
class Exchange:
    """One answered request, kept for tests and the server's log line."""

    method: str
    path: str
    status: int
    stream: bool
    events: int = 0
    seconds: float = 0.0
    outcome: str = "complete"
    sha256: str = ""  #: of every body byte sent, pings included: tests compare it with a capture


def new_id(prefix: str) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(24))


def error_body(error_type: str, message: str, request_id: str) -> dict:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_reply(status: int, message: str | None = None, retry_after: float = DEFAULT_RETRY_AFTER) -> Reply:
    """An error answer with the API's body and headers (retry-after and rate-limit headers on 429)."""
    error_type, default = STATUS_ERRORS.get(status, ("api_error" if status >= 500 else "invalid_request_error", ""))
    request_id = new_id("req_011C")
    body = json.dumps(error_body(error_type, message or default or f"HTTP {status}", request_id)).encode()
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


def _words(text: str, size: int = 3) -> list[str]:
    """Split text into deltas of a few words, the way the model streams it."""
    parts = text.split(" ")
    return [" ".join(parts[i : i + size]) + (" " if i + size < len(parts) else "") for i in range(0, len(parts), size)]


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


def _block_events(index: int, block: dict) -> Iterator[tuple[str, dict]]:
    kind = block["type"]
    if kind == "text":
        start, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": w} for w in _words(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": w} for w in _words(block["thinking"], 4)]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        start = {**block, "input": {}}
        raw = json.dumps(block["input"], ensure_ascii=False)
        deltas = [{"type": "input_json_delta", "partial_json": raw[i : i + 12]} for i in range(0, len(raw), 12)]
    yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
    if index == 0:
        yield "ping", {"type": "ping"}
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def stream_events(message: dict) -> list[tuple[str, dict]]:
    """The event sequence the API sends for ``message`` (the streaming grammar, ping after the first
    block starts, as the API does)."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def synthetic_reply(body: dict, stream: bool) -> Reply:
    """What the API would send for ``body``: an event stream, or a JSON message."""
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
    pieces = [Piece(sse(name, data), EVENT_DELAY, event=name) for name, data in stream_events(message)]
    pieces[0].wait = FIRST_BYTE_DELAY
    return Reply(200, headers, pieces, event_stream=True, middle=_middle(pieces))


def _middle(pieces: list[Piece]) -> int:
    """Where mid-stream faults go: after half of the content deltas (at least one), else half way."""
    deltas = [i for i, p in enumerate(pieces) if p.event == "content_block_delta"]
    if not deltas:
        return len(pieces) // 2
    return deltas[max(0, (len(deltas) + 1) // 2 - 1)] + 1


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
    reply.middle = _middle(pieces) if events_needed else len(pieces) // 2
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


# -- faults -----------------------------------------------------------------------------------------


def _with_data(piece: Piece, data: bytes) -> Piece:
    return replace(piece, data=data)


def _event_json(piece: Piece) -> dict | None:
    line = next((ln for ln in piece.data.split(b"\n") if ln.startswith(b"data:")), None)
    if line is None:
        return None
    try:
        value = json.loads(line[5:])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _max_tokens(reply: Reply, max_tokens: int) -> None:
    for index, piece in enumerate(reply.pieces):
        data = _event_json(piece)
        if piece.event == "message_delta" and data is not None:
            data.setdefault("delta", {})["stop_reason"] = "max_tokens"
            data.setdefault("usage", {})["output_tokens"] = max_tokens
            reply.pieces[index] = _with_data(piece, sse("message_delta", data))
        elif not reply.event_stream and data is None and piece.data.startswith(b"{"):
            message = json.loads(piece.data)
            message["stop_reason"] = "max_tokens"
            reply.pieces[index] = _with_data(piece, json.dumps(message, ensure_ascii=False).encode())


def _reorder(reply: Reply) -> None:
    """Move the first delta in front of its block's start: the grammar break behind a bare IndexError."""
    pieces = reply.pieces
    delta = next((i for i, p in enumerate(pieces) if p.event == "content_block_delta"), None)
    start = next((i for i, p in enumerate(pieces) if p.event == "content_block_start"), None)
    if delta is not None and start is not None and start < delta:
        moved = pieces.pop(delta)
        pieces.insert(start, moved)


def _bad_json(reply: Reply) -> None:
    """Tool input in Python-dict quotes when there is tool JSON (CD117), else a data line cut in half
    (CD113): both are things gateways and hand-rolled relays have been seen to send."""
    pieces = reply.pieces
    for index, piece in enumerate(pieces):
        data = _event_json(piece)
        delta = (data or {}).get("delta") or {}
        if delta.get("type") == "input_json_delta" and '"' in delta.get("partial_json", ""):
            delta["partial_json"] = delta["partial_json"].replace('"', "'")
            pieces[index] = _with_data(piece, sse("content_block_delta", data))
            return
    for index, piece in enumerate(pieces):
        if piece.event == "content_block_delta":
            head, _, rest = piece.data.partition(b"data: ")
            pieces[index] = _with_data(piece, head + b"data: " + rest[: len(rest) // 2] + b"\n\n")
            return


def _error_event(reply: Reply, error_type: str) -> None:
    request_id = next((v for k, v in reply.headers if k.lower() == "request-id"), None) or new_id("req_011C")
    message = next((m for t, m in STATUS_ERRORS.values() if t == error_type), "An error occurred")
    error = Piece(sse("error", error_body(error_type, message, request_id)), EVENT_DELAY, event="error")
    reply.pieces[reply.middle :] = [error]


def apply_event_faults(reply: Reply, faults: Faults, max_tokens: int) -> None:
    """Faults that rewrite events. Order matters: content changes first, then cuts."""
    if faults.max_tokens:
        _max_tokens(reply, max_tokens)
    if not reply.event_stream:
        return
    if faults.no_pings:
        reply.pieces = [p for p in reply.pieces if p.event != "ping"]
        reply.middle = _middle(reply.pieces)
    if faults.bad_json:
        _bad_json(reply)
    if faults.reorder:
        _reorder(reply)
    if faults.error_event:
        _error_event(reply, faults.error_event)
    if faults.truncate is not None:
        del reply.pieces[faults.truncate :]
        reply.middle = min(reply.middle, len(reply.pieces))


def apply_transport_faults(reply: Reply, faults: Faults, ping_interval: float) -> None:
    """Faults on bytes and time: silences and the reset go in at the middle, then pacing and splitting."""
    inserts: list[Piece] = []
    if faults.no_pings and reply.event_stream:
        inserts.append(Piece(b"", 2 * ping_interval, kind="silence", scaled=False))
    if faults.stall is not None:
        inserts.append(Piece(b"", faults.stall, kind="silence", scaled=False))
    if faults.reset:
        inserts.append(Piece(b"", 0.0, kind="reset"))
        del reply.pieces[reply.middle :]
    reply.pieces[reply.middle : reply.middle] = inserts
    if faults.drip is not None:
        for piece in reply.pieces:
            if piece.kind == "data":
                piece.wait, piece.scaled = faults.drip, False
    if faults.split is not None:
        reply.pieces = _split(reply.pieces, faults.split)


def _split(pieces: list[Piece], size: int) -> list[Piece]:
    """Re-cut the body into ``size``-byte chunks at absolute offsets, so characters are cut too. Bytes
    too few for a chunk wait for the next piece, as they would in a real splitting relay."""
    out: list[Piece] = []
    carry = b""
    for piece in pieces:
        if piece.kind != "data":
            if carry:
                out.append(Piece(carry))
                carry = b""
            out.append(piece)
            continue
        data = carry + piece.data
        cut = len(data) - len(data) % size
        for start in range(0, cut, size):
            chunk = data[start : start + size]
            out.append(replace(piece, data=chunk) if start == 0 else Piece(chunk))
        carry = data[cut:]
    if carry:
        out.append(Piece(carry))
    return out


# -- writing the answer -----------------------------------------------------------------------------


class _Sender:
    """Writes a :class:`Reply` to one client: waits (scaled by speed), pings when a wait would leave the
    connection quiet for a ping interval, buffers for ``buffer``, resets for ``reset``. Counts the SSE
    events that actually went out (recorded chunks carry no event names, and faults cut and add some)."""

    def __init__(self, request: web.Request, reply: Reply, options: ServeOptions) -> None:
        self.request = request
        self.reply = reply
        self.options = options
        self.pings = reply.event_stream and reply.synthetic_pace and not options.faults.no_pings
        self.held: list[bytes] | None = [] if options.faults.buffer else None
        self.response: web.StreamResponse | None = None
        self.started = 0.0
        self.last_write = 0.0
        self.events = 0
        self.decoder = SSEDecoder() if reply.event_stream else None
        self.digest = hashlib.sha256()

    async def send(self) -> str:
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        await asyncio.sleep(self._scaled(self.reply.head_wait))
        if self.reply.status == 0:
            self._reset()
            return "reset"
        self.response = web.StreamResponse(status=self.reply.status, headers=self.reply.headers)
        if self.reply.event_stream:
            self.response.enable_chunked_encoding()
        else:
            self.response.content_length = sum(len(p.data) for p in self.reply.pieces)
        await self.response.prepare(self.request)
        self.last_write = loop.time()
        for piece in self.reply.pieces:
            wait = self._scaled(piece.wait) if piece.scaled else piece.wait
            await self._wait(wait, silent=piece.kind == "silence")
            if piece.kind == "reset":
                await self._flush()
                self._reset()
                return "reset"
            await self._write(piece.data)
        await self._flush()
        await self.response.write_eof()
        return "complete"

    def _scaled(self, seconds: float) -> float:
        return 0.0 if math.isinf(self.options.speed) else seconds / self.options.speed

    async def _wait(self, seconds: float, silent: bool) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.pings and not silent and self.last_write + self.options.ping_interval < deadline:
            await asyncio.sleep(max(0.0, self.last_write + self.options.ping_interval - loop.time()))
            await self._write(PING)
        await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def _write(self, data: bytes) -> None:
        self.last_write = asyncio.get_running_loop().time()
        if not data:
            return
        self.digest.update(data)
        if self.held is not None:
            self.held.append(data)
        else:
            await self._send(data)

    async def _flush(self) -> None:
        """Let go of what ``buffer`` held, no earlier than BUFFER_HOLD after the request came in."""
        if self.held:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self.started + BUFFER_HOLD - loop.time()))
            await self._send(b"".join(self.held))
            self.held = []

    async def _send(self, data: bytes) -> None:
        await self.response.write(data)
        if self.decoder is not None:
            self.events += len(self.decoder.feed(data))

    def _reset(self) -> None:
        abort(self.request, reset=True)


# -- the application --------------------------------------------------------------------------------


@dataclass
class ServeOptions:
    faults: Faults = field(default_factory=Faults)
    exchanges: list[RecordedExchange] | None = None  #: replay these instead of synthesising
    speed: float = 1.0  #: divides recorded and synthetic waits; ``math.inf`` for no waits
    ping_interval: float = DEFAULT_PING_INTERVAL
    retry_after: float = DEFAULT_RETRY_AFTER
    on_exchange: Callable[[Exchange], None] | None = None


class MockAPI:
    """The mock Messages API. Use :meth:`start`/:meth:`stop` inside a running loop (the CLI), or as a
    context manager, which runs it on its own loop in a background thread (tests, notebooks)."""

    def __init__(self, options: ServeOptions, host: str = "127.0.0.1", port: int = 0) -> None:
        self.options = options
        self.host = host
        self.port = port
        self.exchanges: list[Exchange] = []  #: every answered request, in order
        self._counter = itertools.count()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.log = ServerLog("claude-doctor serve")  #: every line the server and aiohttp log
        self.stopping = False  #: set by :meth:`stop`: a stream cut off now was cut off by the server
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL a client on this machine uses: loopback for a server bound to every address."""
        host = WILDCARD_HOSTS.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self) -> None:
        """Bind and listen; a busy port or a bad host raises :class:`UsageProblem`."""
        guard = ConnectionGuard(connection_cap(fds_per_connection=1), self.log)
        self._runner = hardened_runner(self.app(), guard, shutdown_timeout=0.2)
        await self._runner.setup()
        try:
            self._listener = await listen(self._runner, guard, self.host, self.port)
        except OSError as exc:
            await self._runner.cleanup()
            reason = "port in use" if exc.errno in (48, 98, 10048) else (exc.strerror or str(exc))
            raise UsageProblem(f"cannot listen on {self.host}:{self.port}: {reason}") from None
        self.port = self._listener.sockets[0].getsockname()[1]

    def hurry(self) -> None:
        """End every open connection now instead of giving each its grace period (a second Ctrl-C)."""
        cut_off(self._runner)

    async def stop(self) -> None:
        """Stop listening, then end the open connections; the counts of any trouble are said last."""
        self.stopping = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.log.summary()

    # -- background thread, for tests

    def __enter__(self) -> MockAPI:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run_thread, args=(ready, failure), daemon=True, name="claude-doctor-serve"
        )
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run_thread(self, ready: threading.Event, failure: list[BaseException]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop.wait()
            await self.stop()

        asyncio.run(main())

    # -- handlers

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        number = next(self._counter)
        reply, stream, max_tokens = await self._plan(request, number)
        if reply.status < 300:
            apply_event_faults(reply, self.options.faults, max_tokens)
        apply_transport_faults(reply, self.options.faults, self.options.ping_interval)
        sender = _Sender(request, reply, self.options)
        try:
            outcome = await sender.send()
        except (ConnectionError, asyncio.CancelledError):
            outcome = "server stopped" if self.stopping else "client gone"
        seconds = time.monotonic() - started
        digest = sender.digest.hexdigest()
        self._log(Exchange(request.method, request.path, reply.status, stream, sender.events, seconds, outcome, digest))
        return sender.response or web.Response(status=502)  # never sent: the connection is already gone

    async def _plan(self, request: web.Request, number: int) -> tuple[Reply, bool, int]:
        body, problem = await _read_body(request)
        if problem is not None:
            return problem, False, 0
        stream = bool(body.get("stream"))
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 0
        faults = self.options.faults
        if faults.status is not None:
            return error_reply(faults.status, retry_after=self.options.retry_after), stream, max_tokens
        if faults.json and stream:
            return synthetic_reply(body, stream=False), stream, max_tokens
        if self.options.exchanges:
            exchange = self.options.exchanges[number % len(self.options.exchanges)]
            return recorded_reply(exchange, faults.events_needed), stream, max_tokens
        return synthetic_reply(body, stream), stream, max_tokens

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body, problem = await _read_body(request, count_tokens=True)
        if problem is not None:
            return web.Response(status=problem.status, body=problem.pieces[0].data, headers=problem.headers)
        tokens = max(1, len(json.dumps([body.get("system"), body.get("messages"), body.get("tools")])) // 4)
        return web.json_response({"input_tokens": tokens}, headers={"request-id": new_id("req_011C")})

    async def _not_found(self, request: web.Request) -> web.Response:
        reply = error_reply(404, f"Not found: {request.method} {request.path}")
        return web.Response(status=404, body=reply.pieces[0].data, headers=reply.headers)

    def _log(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        if self.options.on_exchange is not None:
            self.options.on_exchange(exchange)


async def _read_body(request: web.Request, count_tokens: bool = False) -> tuple[dict, Reply | None]:
    """Check what the API checks first: a credential, anthropic-version, a JSON body with its required
    fields. Any key is accepted, as ``x-api-key`` or ``Authorization: Bearer``."""
    auth = request.headers.get("authorization", "")
    if not request.headers.get("x-api-key") and not auth.lower().startswith("bearer "):
        return {}, error_reply(401, "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return {}, error_reply(400, "anthropic-version: header is required")
    raw = await read_body(request)
    if raw is None:
        return {}, error_reply(413)
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, error_reply(400, "There was an error parsing the body of your request as JSON.")
    if not isinstance(body, dict):
        return {}, error_reply(400, "Request body must be a JSON object.")
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    missing = next((name for name in required if name not in body), None)
    if missing is not None:
        return {}, error_reply(400, f"{missing}: Field required")
    return body, None


@contextlib.contextmanager
def running(
    faults: list[str] | tuple[str, ...] | Faults = (),
    recording: Source | None = None,
    *,
    speed: float = math.inf,
    ping_interval: float = DEFAULT_PING_INTERVAL,
    retry_after: float = DEFAULT_RETRY_AFTER,
    port: int = 0,
) -> Iterator[str]:
    """Run the mock API in a background thread for the ``with`` block and yield its base URL.

    Made for tests (the project's and users')::

        @pytest.fixture
        def stalled_api():
            with running(["stall:2"]) as url:
                yield url

    The default ``speed`` is ``math.inf`` (no synthetic pacing) so tests stay fast; explicit faults
    (``stall``, ``drip``, ``no-pings``) keep their own timing."""
    plan = faults if isinstance(faults, Faults) else parse_faults(list(faults))
    exchanges = load_exchanges(recording) if recording is not None else None
    options = ServeOptions(plan, exchanges, speed, ping_interval, retry_after)
    with MockAPI(options, port=port) as api:
        yield api.url
