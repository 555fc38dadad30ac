"""One real streaming request, captured, recorded and checked: what ``live`` and ``doctor --live``
share. The request is the SDK's own (its headers, its API version); the checks read the recording
written, so they see exactly what a later ``claude-doctor stream FILE`` would."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from . import __version__
from .synth import API_VERSION

if TYPE_CHECKING:
    from .capture.live import Capture
    from .config import Config
    from .findings import Finding

DEFAULT_MODEL = "claude-haiku-4-5"
DEFAULT_PROMPT = "Count from 1 to 20, one number per line."
DEFAULT_MAX_TOKENS = 64
DEFAULT_TIMEOUT = 60.0
PUBLIC_API = "https://api.anthropic.com"


def credential() -> str | None:
    """The key the SDK would use: ANTHROPIC_API_KEY, else ANTHROPIC_AUTH_TOKEN; empty counts as unset."""
    return os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or None


def messages_url() -> str:
    return (os.environ.get("ANTHROPIC_BASE_URL") or PUBLIC_API).rstrip("/") + "/v1/messages"


def probe_request(model: str, max_tokens: int, prompt: str) -> dict:
    return {"model": model, "max_tokens": max_tokens, "stream": True, "messages": [{"role": "user", "content": prompt}]}


def probe_findings(config: Config) -> list[Finding]:
    """``claude-doctor --live``: the default probe (DEFAULT_MODEL, 64 output tokens at most), findings
    only. Without a key nothing is sent; the environment check already reports CD403."""
    key = credential()
    if key is None:
        return []
    request = probe_request(DEFAULT_MODEL, DEFAULT_MAX_TOKENS, DEFAULT_PROMPT)
    findings, _ = probe(messages_url(), key, request, io.BytesIO(), None, DEFAULT_TIMEOUT, config)
    return findings


def _headers(key: str) -> list[tuple[str, str]]:
    """What the SDK 2.x sends (``anthropic._client``): the key as a Bearer token, its API version."""
    return [
        ("anthropic-version", API_VERSION),
        ("authorization", f"Bearer {key}"),
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("user-agent", f"claude-doctor/{__version__}"),
    ]


def probe(
    url: str, key: str, request: dict, sink: IO[bytes], record: str | None, timeout: float, config: Config
) -> tuple[list[Finding], Capture]:
    """Capture into ``sink`` (the file ``record``, or memory), then check what was written. A file
    that got no answer is removed: it would hold only our own request."""
    from .capture.live import capture
    from .checks.stream import check_source
    from .recording import RecordingWriter, read_recording

    progress = _Progress() if sys.stderr.isatty() else None
    try:
        result = capture(
            url,
            _headers(key),
            json.dumps(request).encode(),
            RecordingWriter(sink, "live"),
            read_timeout=timeout,
            on_chunk=progress.chunk if progress else None,
        )
    finally:
        if progress:
            progress.stop()
    data = sink.getvalue() if isinstance(sink, io.BytesIO) else None
    sink.close()
    if record is not None:
        data = Path(record).read_bytes()
        if result.status is None:
            Path(record).unlink()
            record = None
    findings = check_source(read_recording(io.BytesIO(data), record or "<live>"), config)
    return findings, result


class _Progress:
    """One self-rewriting stderr line while the stream runs (time, bytes, events, current gap); only
    used on a terminal, so pipes and CI logs get no control codes."""

    def __init__(self) -> None:
        from .sse import SSEDecoder

        self.decoder = SSEDecoder()
        self.started = time.monotonic()
        self.last = self.started
        self.bytes = 0
        self.events = 0
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def chunk(self, t: float, data: bytes) -> None:
        with self.lock:
            self.bytes += len(data)
            self.events += len(self.decoder.feed(data, t))
            self.last = time.monotonic()

    def _run(self) -> None:
        while not self.done.wait(0.1):
            now = time.monotonic()
            with self.lock:
                line = (
                    f"  {now - self.started:6.1f}s  {self.bytes:>9,} B  {self.events:>5} events  "
                    f"gap {now - self.last:5.1f}s"
                )
            sys.stderr.write("\r" + line)
            sys.stderr.flush()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()
