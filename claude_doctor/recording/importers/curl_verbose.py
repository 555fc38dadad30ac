"""``curl -v … 2>&1``: ``>`` request head, ``<`` response head, ``*`` notes, the body in between."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..model import Meta, Record, Request, Response, Source
from .common import body_records, parse_head, request_target, without_write_out
from .peek import Peek


def sniff(peek: Peek) -> bool:
    return bool(re.match(rb"^(?:\* |> |< )", peek.text))


def read(peek: Peek) -> Source:
    text = (peek.text + peek.stream.read()).decode("utf-8", "replace")
    request_lines: list[str] = []
    response_lines: list[str] = []
    body: list[str] = []
    for line in text.split("\n"):
        stripped = line.rstrip("\r")
        if stripped.startswith("> "):
            request_lines.append(stripped[2:])
        elif stripped.startswith("< "):
            if stripped[2:].startswith("HTTP/"):
                response_lines = []  # a later status line (after 100 Continue) wins
            response_lines.append(stripped[2:])
        elif stripped.startswith(("* ", "{ [", "} [")) or stripped in (">", "<", "*"):
            continue
        else:
            body.append(line)
    body_bytes = without_write_out("\n".join(body).encode("utf-8"))

    def records() -> Iterator[Record]:
        if request_lines:
            method, target, headers, host = request_target(request_lines)
            yield Request(0, None, method, f"https://{host}{target}" if host else target, headers)
        if response_lines:
            status, reason, version, headers = parse_head([h for h in response_lines if h])
            yield Response(0, None, status, reason, version, headers)
        yield from body_records(0, body_bytes.lstrip(b"\n"))

    return Source(peek.path, "curl-v", Meta(source="import:curl"), records())
