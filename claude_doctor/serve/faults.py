"""How each fault rewrites the plan of an answer. What a fault is, its name and argument, lives in
:mod:`claude_doctor.faults`, free of aiohttp so that the CLI can reject a bad ``--fault`` without
importing a server; this module applies the parsed :class:`~claude_doctor.faults.Faults`.

Event faults rewrite events (content first, then cuts); transport faults then add silences and the
reset at the middle, and change pacing and chunking.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ..faults import Faults
from ..synth import error_event, sse
from .replies import EVENT_DELAY, STATUS_ERRORS, Piece, Reply, middle_of, new_id


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
    error = Piece(error_event(error_type, message, request_id), EVENT_DELAY, event="error")
    reply.pieces[reply.middle :] = [error]


def apply_event_faults(reply: Reply, faults: Faults, max_tokens: int) -> None:
    """Faults that rewrite events. Order matters: content changes first, then cuts."""
    if faults.max_tokens:
        _max_tokens(reply, max_tokens)
    if not reply.event_stream:
        return
    if faults.no_pings:
        reply.pieces = [p for p in reply.pieces if p.event != "ping"]
        reply.middle = middle_of(reply.pieces)
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
