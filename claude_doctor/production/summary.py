"""What one exchange looked like, in the words metrics and spans use, and the interface of the places it
goes (OpenTelemetry, Prometheus, the flight recorder).

The monitor (``production/watch.py``) fills an :class:`ExchangeSummary` from the records of one exchange as
they flow and calls each :class:`Sink` at three moments. A sink never sees bytes, only this summary, so
every exporter reports the same numbers for the same stream, whether it came through an in-process client
or the recording proxy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from ..findings import Finding, Severity

PROVIDER = "anthropic"  #: ``gen_ai.provider.name``


@dataclass
class ExchangeSummary:
    """One request/response exchange, filled in as it happens (``None``: not known, or not yet)."""

    method: str
    url: str  #: redacted, as recordings hold it
    started: float  #: wall-clock time of the request (``time.time()``)
    operation: str = "chat"  #: ``gen_ai.operation.name``
    request_model: str | None = None
    max_tokens: int | None = None
    streamed: bool | None = None  #: the request asked to stream
    status: int | None = None
    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    duration: float | None = None  #: seconds from the request to the end of the body
    time_to_first_chunk: float | None = None  #: seconds from the request to the first body bytes
    chunks: int = 0
    bytes: int = 0
    longest_gap: float = 0.0  #: the longest silence between body chunks (and from the last one to the end)
    end_reason: str | None = None  #: eof, reset, timeout, cancelled, error (the recording format's words)
    error_type: str | None = None  #: ``error.type``: a mid-stream error event's type, the HTTP status, or the exception
    findings: list[Finding] = field(default_factory=list)

    @property
    def server_address(self) -> str | None:
        return urlsplit(self.url).hostname

    @property
    def server_port(self) -> int | None:
        parts = urlsplit(self.url)
        try:
            return parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:
            return None

    @property
    def is_stream(self) -> bool:
        """A streamed answer: the chunk metrics are for streams only, and an error status's body is not one."""
        return bool(self.streamed) and (self.status is None or 200 <= self.status < 300)

    @property
    def model(self) -> str | None:
        """The model to label metrics with: the one asked for, else the one that answered."""
        return self.request_model or self.response_model

    def worst(self) -> Severity | None:
        """The most severe finding's level (``None`` when there is none)."""
        return max((f.level for f in self.findings), default=None)


class Sink(Protocol):
    """Where summaries go. Calls come from the thread (or event loop) that reads the response, in the
    middle of the app's read: each must return in microseconds and never block (no network, disk or
    contended lock); work that can block goes to the sink's own worker behind a bounded queue that drops
    when full. ``exchange_finished`` runs before the app's read of the body completes, so a span the app
    or an instrumentation owns is still open. The monitor catches what a sink raises (one ``logging``
    warning, the sink left out for the rest of that exchange) but cannot interrupt a sink that blocks."""

    def exchange_started(self, summary: ExchangeSummary) -> None:
        """The request is on its way (a span starts here)."""

    def output_chunk(self, summary: ExchangeSummary, seconds: float) -> None:
        """A body chunk after the first arrived, ``seconds`` after the one before it. A sink may also
        define ``wants_chunks(summary) -> bool``, asked once after ``exchange_started``: when it says no,
        this is not called for that exchange (the call per chunk is the monitor's largest cost)."""

    def exchange_finished(self, summary: ExchangeSummary) -> None:
        """The body ended (or the request failed); ``summary.findings`` holds every finding."""
