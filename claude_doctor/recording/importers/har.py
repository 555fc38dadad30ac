"""HAR 1.2 (browsers' dev tools, mitmproxy, Charles): a JSON document with ``log.entries``, each a
whole request and response. Only the entries that call the Messages API are read when there are any."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from ...errors import RecordingError
from ..model import End, Headers, Meta, Record, Request, Response, Source
from .common import as_dict, body_records, guarded, json_or_none, status_code
from .peek import Peek


def sniff(peek: Peek) -> bool:
    log = (peek.document or {}).get("log")
    return isinstance(log, dict) and "entries" in log


def read(peek: Peek) -> Source:
    doc, path = peek.document or {}, peek.path
    log = doc.get("log")
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RecordingError(path, "HAR file has no log.entries list of objects")
    chosen = [e for e in entries if "/v1/messages" in str(as_dict(e.get("request")).get("url", ""))] or entries
    warnings: list[str] = []

    def records() -> Iterator[Record]:
        for i, entry in enumerate(chosen):
            yield from _har_entry(i, entry, path, warnings)

    recorded_at = chosen[0].get("startedDateTime") if chosen else None
    meta = Meta(source="import:har", recorded_at=recorded_at if isinstance(recorded_at, str) else None)
    return Source(path, "har", meta, guarded(records(), path, "HAR file"), warnings)


def _har_headers(obj: dict) -> Headers:
    return [(str(h.get("name", "")), str(h.get("value", ""))) for h in obj.get("headers") or []]


def _har_entry(i: int, entry: dict, path: str, warnings: list[str]) -> Iterator[Record]:
    req = entry.get("request") or {}
    post = (req.get("postData") or {}).get("text")
    body = post.encode("utf-8") if isinstance(post, str) else None
    yield Request(
        i,
        0.0,
        str(req.get("method") or "POST"),
        str(req.get("url") or ""),
        _har_headers(req),
        json=json_or_none(body) if body else None,
        body=body if body and json_or_none(body) is None else None,
    )
    resp = entry.get("response") or {}
    timings = entry.get("timings") or {}
    head_ms = sum(
        v
        for k, v in timings.items()
        if k in ("blocked", "dns", "connect", "send", "wait") and isinstance(v, (int, float)) and v > 0
    )
    yield Response(
        i,
        round(head_ms / 1000, 6) if timings else None,
        status_code(resp.get("status")),
        resp.get("statusText"),
        resp.get("httpVersion"),
        _har_headers(resp),
    )
    content = resp.get("content") or {}
    text = content.get("text")
    if not isinstance(text, str) or not text:
        warnings.append(
            f"{path}: entry {i} has no response body (streamed flows in mitmproxy and SSE in browsers "
            "are often exported without one)"
        )
        yield End(i, None, "eof")
        return
    data = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode("utf-8")
    total = entry.get("time")
    yield from body_records(i, data, round(total / 1000, 6) if isinstance(total, (int, float)) else None)
