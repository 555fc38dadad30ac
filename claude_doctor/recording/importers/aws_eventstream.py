"""Bedrock's AWS event stream (``invoke-with-response-stream``): binary frames, each holding one
Messages API event. Not a file format of its own: a cassette's response body, turned into the SSE the
Messages API sends so that every check reads it as it reads the API's own stream."""

from __future__ import annotations

import base64
import binascii
import json
import struct

from ..model import Headers

AWS_EVENT_STREAM = "application/vnd.amazon.eventstream"
_AWS_STRING = 7  # the only header value type Bedrock's frames use


def as_event_stream(body: bytes, headers: Headers) -> tuple[bytes, Headers]:
    """The body and headers as the checks read them: an AWS event stream (Bedrock's
    ``invoke-with-response-stream``) becomes the SSE the Messages API sends, its content-type
    ``text/event-stream`` (as a decoded body loses its Content-Encoding); any other body stays as it is."""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if ctype.split(";")[0].strip().lower() != AWS_EVENT_STREAM:
        return body, headers
    sse_headers = [(k, "text/event-stream") if k.lower() == "content-type" else (k, v) for k, v in headers]
    return aws_events_as_sse(body), sse_headers


def aws_events_as_sse(data: bytes) -> bytes:
    """Bedrock frames each Messages API event in binary (lengths, headers, CRCs) with its JSON base64'd
    in ``{"bytes": …}``. As SSE, one event per frame, the API's JSON byte for byte, the checks read it
    as they read the API's own stream; an exception frame becomes an ``error`` event. A frame cut off
    at the end is left out, so the stream lacks its end, as it did. Raises ``ValueError`` for a frame
    that cannot be read."""
    out = bytearray()
    pos = 0
    try:
        while pos + 12 <= len(data):
            total, head_size = struct.unpack_from(">II", data, pos)
            if total < 16 + head_size:
                raise ValueError("bad frame length")
            if pos + total > len(data):
                break
            headers = _frame_headers(data[pos + 12 : pos + 12 + head_size])
            out += _frame_event(headers, json.loads(data[pos + 12 + head_size : pos + total - 4]))
            pos += total
    except (ValueError, LookupError, TypeError, AttributeError, struct.error, binascii.Error) as exc:
        raise ValueError(f"its AWS event stream cannot be read at byte {pos}: {exc or type(exc).__name__}") from None
    return bytes(out)


def _frame_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    at = 0
    while at < len(raw):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode("utf-8")
        kind = raw[at + 1 + size]
        if kind != _AWS_STRING:
            raise ValueError(f"header {name} has value type {kind}")
        (length,) = struct.unpack_from(">H", raw, at + 2 + size)
        headers[name] = raw[at + 4 + size : at + 4 + size + length].decode("utf-8")
        at += 4 + size + length
    return headers


def _frame_event(headers: dict[str, str], payload: dict) -> bytes:
    if headers.get(":message-type") == "event":
        if "bytes" not in payload:
            raise ValueError(f"a {headers.get(':event-type')} event, not a Messages API one (Bedrock's Converse API?)")
        data = base64.b64decode(payload["bytes"], validate=True)
        event = json.loads(data)
        if "type" not in event:
            raise ValueError("an event with no type, not a Messages API one (the Text Completions API?)")
        return b"event: " + str(event["type"]).encode() + b"\ndata: " + data + b"\n\n"
    error_type = headers.get(":exception-type") or headers.get(":error-code") or "error"
    message = payload.get("message") or payload.get("Message") or headers.get(":error-message") or ""
    error = {"type": "error", "error": {"type": error_type, "message": str(message)}}
    return b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"
