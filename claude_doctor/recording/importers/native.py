"""claude-doctor's own recording (v1 JSON Lines, see ``recording/jsonl.py``): told by its first line,
the meta line, or, as a last resort, by a document that is that meta line alone."""

from __future__ import annotations

import io

from ..jsonl import read_recording
from ..model import Source
from .peek import Peek


def sniff(peek: Peek) -> bool:
    return peek.text.startswith(b"{") and b'"k":"meta"' in peek.text.split(b"\n", 1)[0].replace(b" ", b"")


def read(peek: Peek) -> Source:
    return read_recording(peek.stream, peek.path, peek.raw)


def sniff_document(peek: Peek) -> bool:
    """A meta line whose JSON spans lines, which the first line alone does not show."""
    return peek.document is not None and peek.document.get("k") == "meta"


def read_document(peek: Peek) -> Source:
    return read_recording(io.BytesIO(peek.data or b""), peek.path)
