"""``curl -i``: status line, headers, blank line, body. 100-continue and proxy CONNECT preambles come
first and are skipped."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...errors import RecordingError
from ..model import Chunk, End, Meta, Record, Response, Source
from .common import BLOCK, parse_head, stream_events
from .peek import Peek

_PREAMBLE = re.compile(rb"^HTTP/[\d.]+ (100|200 Connection established|101)\b", re.IGNORECASE)


def sniff(peek: Peek) -> bool:
    return peek.text.startswith(b"HTTP/")


def read(peek: Peek) -> Source:
    stream, path = peek.stream, peek.path
    data = peek.text
    while True:
        head_end = re.search(rb"\r?\n\r?\n", data)
        if head_end is None:
            more = stream.read(BLOCK)
            if not more:
                raise RecordingError(path, "curl -i output ends inside the response headers")
            data += more
            continue
        if _PREAMBLE.match(data):
            data = data[head_end.end() :]
            continue
        break
    if not data.startswith(b"HTTP/"):
        raise RecordingError(path, "curl -i output has no response status line after its preamble")
    # split on LF only: str.splitlines() would also cut a header value at \x85 or \x1c
    head = [line.rstrip("\r") for line in data[: head_end.start()].decode("latin-1").split("\n")]
    status, reason, version, headers = parse_head(head)
    rest = data[head_end.end() :]

    def records() -> Iterator[Record]:
        yield Response(0, None, status, reason, version, headers)
        for piece in stream_events(stream, rest):
            yield Chunk(0, None, piece)
        yield End(0, None, "eof")

    return Source(path, "curl-i", Meta(source="import:curl"), records())
