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

import importlib
from dataclasses import dataclass
from typing import Any

from .common import MAX_WHOLE_FILE, NotARecording, Rewound
from .peek import Peek

__all__ = [
    "FORMATS",
    "MAX_WHOLE_FILE",
    "TRACE_ASCII_WARNING",
    "Format",
    "NotARecording",
    "Peek",
    "Rewound",
    "unknown_reason",
]


@dataclass(frozen=True)
class Format:
    """A format an input may be in: its name, how it is told from the others, and its importer:
    ``module.sniff`` and ``module.read`` (or the functions named by ``sniff``/``read``) of the module
    named, imported the first time the format is asked, so that reading a recording imports no other
    format's parser."""

    name: str
    module: str
    sniff_name: str = "sniff"
    read_name: str = "read"

    def _function(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), name)

    def sniff(self, peek: Peek) -> bool:
        return self._function(self.sniff_name)(peek)

    def read(self, peek: Peek) -> Any:
        return self._function(self.read_name)(peek)


#: Asked in this order; the first whose ``sniff`` says yes reads the input. Streamed formats are told
#: by their first bytes; the document formats after them by the parsed JSON or YAML, read whole once,
#: so they come last.
FORMATS: tuple[Format, ...] = (
    Format("recording", "native"),
    Format("curl-i", "curl_include"),
    Format("curl-trace", "curl_trace"),
    Format("curl-v", "curl_verbose"),
    Format("sse", "raw_sse"),
    Format("har", "har"),
    Format("vcr", "vcr"),
    Format("vcr-exchange", "vcr", "sniff_exchange", "read_exchange"),
    Format("recording-document", "native", "sniff_document", "read_document"),
)


def __getattr__(name: str) -> Any:
    """``TRACE_ASCII_WARNING`` from its format's module, imported on first use like the formats."""
    if name == "TRACE_ASCII_WARNING":
        from .curl_trace import TRACE_ASCII_WARNING

        return TRACE_ASCII_WARNING
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
