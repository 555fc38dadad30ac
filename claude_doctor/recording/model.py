"""The records a recording is made of (docs/recording-format.md), shared by every reader and writer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FORMAT = "claude-doctor/recording"
VERSION = 1
END_REASONS = ("eof", "reset", "timeout", "cancelled", "error")
#: The ``error_type`` of a ``cancelled`` end that the recording proxy wrote as it shut down: the proxy,
#: not the client, cut the exchange off.
PROXY_STOPPED = "claude_doctor.ProxyStopped"

Headers = list[tuple[str, str]]


def header(headers: Headers, name: str) -> str | None:
    """First value of a header, case-insensitively."""
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


@dataclass
class Meta:
    source: str
    recorded_at: str | None = None
    tool: str | None = None
    redacted: list[str] = field(default_factory=list)


@dataclass
class Request:
    i: int
    t: float | None
    method: str
    url: str
    headers: Headers
    json: Any = None
    text: str | None = None
    body: bytes | None = None

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def wants_stream(self) -> bool | None:
        """``True``/``False`` when the JSON body says, ``None`` when the body is unknown. Bedrock asks to
        stream by its URL (``invoke-with-response-stream``), not by the body."""
        if self.url.split("?")[0].endswith("/invoke-with-response-stream"):
            return True
        if isinstance(self.json, dict):
            return bool(self.json.get("stream"))
        return None


@dataclass
class Response:
    i: int
    t: float | None
    status: int | None
    reason: str | None
    http_version: str | None
    headers: Headers

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def content_type(self) -> str | None:
        value = self.header("content-type")
        return value.split(";")[0].strip().lower() if value else None


@dataclass(slots=True)
class Chunk:
    i: int
    t: float | None
    data: bytes


@dataclass
class End:
    i: int
    t: float | None
    reason: str
    error: str | None = None
    error_type: str | None = None


@dataclass
class Note:
    text: str


Record = Request | Response | Chunk | End | Note


@dataclass
class Source:
    """An opened recording or import: its meta and a lazy stream of records.

    ``warnings`` fills as records are read (a truncated last line, an import that lost timing)."""

    path: str
    kind: str
    meta: Meta
    records: Iterator[Record]
    warnings: list[str] = field(default_factory=list)


def answered(records: Iterator[Record], seen: set[int]) -> Iterator[Record]:
    """Pass records through, adding to ``seen`` each exchange that got an answer: a response head,
    body bytes or an end line. A capture in which no exchange got one holds nothing to check, and
    must not read as clean."""
    for record in records:
        if isinstance(record, (Response, Chunk, End)):
            seen.add(record.i)
        yield record
