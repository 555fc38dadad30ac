"""Importers: other people's captures turned into the same records a recording holds.

Each importer yields what its format can know and ``None`` for the rest (docs/recording-format.md):
raw SSE has no status or timing, ``curl -i`` adds the head, ``curl --trace`` has per-read bytes and
times, HAR and vcrpy have whole bodies only. What an importer cannot read is said in the source's
warnings, never dropped quietly.

One module per format, each with a ``sniff`` (does this input look like me?) and a ``read`` (the
:class:`~claude_doctor.recording.model.Source`), both given a :class:`Peek`; :data:`FORMATS` lists
them in the order :func:`claude_doctor.recording.open_source` asks. Adding a format is one module and
one row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model import Source
from . import curl_include, curl_trace, curl_verbose, har, native, raw_sse, vcr
from .aws_eventstream import AWS_EVENT_STREAM, aws_events_as_sse
from .common import MAX_WHOLE_FILE, NotARecording, Rewound, events_as_chunks, without_write_out
from .curl_trace import TRACE_ASCII_WARNING, restore_line_feeds
from .peek import Peek

__all__ = [
    "AWS_EVENT_STREAM",
    "FORMATS",
    "MAX_WHOLE_FILE",
    "TRACE_ASCII_WARNING",
    "Format",
    "NotARecording",
    "Peek",
    "Rewound",
    "aws_events_as_sse",
    "events_as_chunks",
    "restore_line_feeds",
    "unknown_reason",
    "without_write_out",
]


@dataclass(frozen=True)
class Format:
    """A format an input may be in: its name, how it is told from the others, and its importer."""

    name: str
    sniff: Callable[[Peek], bool]
    read: Callable[[Peek], Source]


#: Asked in this order; the first whose ``sniff`` says yes reads the input. Streamed formats are told
#: by their first bytes; the document formats after them by the parsed JSON or YAML, read whole once,
#: so they come last.
FORMATS: tuple[Format, ...] = (
    Format("recording", native.sniff, native.read),
    Format("curl-i", curl_include.sniff, curl_include.read),
    Format("curl-trace", curl_trace.sniff, curl_trace.read),
    Format("curl-v", curl_verbose.sniff, curl_verbose.read),
    Format("sse", raw_sse.sniff, raw_sse.read),
    Format("har", har.sniff, har.read),
    Format("vcr", vcr.sniff, vcr.read),
    Format("vcr-exchange", vcr.sniff_exchange, vcr.read_exchange),
    Format("recording-document", native.sniff_document, native.read_document),
)


def unknown_reason(peek: Peek) -> str:
    """Why an input no format claimed is not a recording, as the one-line error says it."""
    if peek.document is not None:
        if isinstance(peek.document.get("log"), dict):
            return "JSON with a log object but no log.entries, so not a HAR file"
        return "JSON that is neither a recording, a HAR file nor a vcrpy cassette"
    if b"\0" in peek.raw:
        return (
            "binary data, not a recording (expected a claude-doctor recording, SSE text, curl output, HAR or a "
            "vcrpy cassette)"
        )
    return (
        "not a recording or a known capture (expected a claude-doctor recording, SSE text, curl -i/-v/--trace "
        "output, HAR or a vcrpy cassette)"
    )
