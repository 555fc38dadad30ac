"""Raw SSE, as ``curl -N`` prints it: the body alone, its status known only from a ``curl -w`` line."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import IO

from ..model import Chunk, End, Meta, Record, Response, Source
from .common import WRITE_OUT, WRITE_OUT_TAIL, status_code, stream_events
from .peek import Peek

_SSE_FIELD = re.compile(rb"^(?:event|data|id|retry)(?::|\r?\n)|^:", re.MULTILINE)


def sniff(peek: Peek) -> bool:
    return bool(_SSE_FIELD.match(peek.text))


def read(peek: Peek) -> Source:
    stream, first = peek.stream, peek.raw
    status = _write_out_status(stream, first)

    def records() -> Iterator[Record]:
        if status is not None:
            yield Response(0, None, status, None, None, [])
        for piece in stream_events(stream, first):
            yield Chunk(0, None, piece)
        yield End(0, None, "eof")

    return Source(peek.path, "sse", Meta(source="import:curl"), records())


def _write_out_status(stream: IO[bytes], first: bytes) -> int | None:
    """The ``http_code`` a ``curl -w`` line at the end of the input gives, read ahead when the input is
    a file (raw SSE has no status line of its own); ``None`` when there is none or it cannot be seen."""
    tail = first[-WRITE_OUT_TAIL:]
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            if end > here:
                stream.seek(max(here, end - WRITE_OUT_TAIL))
                tail = (first + stream.read())[-WRITE_OUT_TAIL:]
            stream.seek(here)
    except (OSError, ValueError):
        return None
    match = WRITE_OUT.search(tail)
    fields = dict(re.findall(rb"([\w.]+)=([^\s\]]*)", match.group(1))) if match else {}
    status = status_code(fields.get(b"http_code", b"").decode("ascii", "replace"))
    return status or None  # curl prints 000 when no response came
