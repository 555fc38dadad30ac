"""``claude-doctor live``: one real streaming request, captured byte-exact, recorded, checked, and
replayed into the SDK to say what it would have raised. Costs are stated before the request is sent."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from .. import __version__
from ..findings import Finding
from ..options import Settings, fail, finish, idle_gap_option, report_options, settings
from ..synth import API_VERSION

if TYPE_CHECKING:
    from ..capture.live import Capture

DEFAULT_MODEL = "claude-haiku-4-5"
DEFAULT_PROMPT = "Count from 1 to 20, one number per line."
PUBLIC_API = "https://api.anthropic.com"


def credential() -> str | None:
    """The key the SDK would use: ANTHROPIC_API_KEY, else ANTHROPIC_AUTH_TOKEN; empty counts as unset."""
    return os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN") or None


@click.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Model to ask.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Output token cap: the most this probe can cost in output.",
)
@click.option("--prompt", default=DEFAULT_PROMPT, help="The user message sent.")
@click.option(
    "--record",
    "record",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    metavar="FILE",
    help="Keep the recording here (it is redacted: safe to share).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Read timeout: give up after this long without a byte.",
)
@idle_gap_option
@report_options
@click.pass_context
def live(
    ctx: click.Context,
    model: str,
    max_tokens: int,
    prompt: str,
    record: str | None,
    timeout: float,
    **options,
) -> None:
    """Make one real streaming request to ANTHROPIC_BASE_URL (default the public API) with the key from
    the environment, record it byte-exact with timing, check it (CD1xx), and say what the SDK would
    have done with those bytes."""
    opts = settings(ctx, **options)
    key = credential()
    if key is None:
        finish(opts, [_no_credentials()], files=0)
    url = messages_url()
    request = _request(model, max_tokens, prompt)
    sink = _open_record(record)
    say = _Say(opts)
    say(f"live: POST {url}  model={model}  max_tokens={max_tokens} (at most {max_tokens} output tokens billed)")
    findings, result = _probe(url, key, request, sink, record, timeout, opts)
    _summarise(say, request, result, record)
    finish(opts, findings, files=1)


def messages_url() -> str:
    return (os.environ.get("ANTHROPIC_BASE_URL") or PUBLIC_API).rstrip("/") + "/v1/messages"


def _request(model: str, max_tokens: int, prompt: str) -> dict:
    return {"model": model, "max_tokens": max_tokens, "stream": True, "messages": [{"role": "user", "content": prompt}]}


def probe_findings(opts: Settings) -> list[Finding]:
    """``claude-doctor --live``: the default probe (DEFAULT_MODEL, 64 output tokens at most), findings
    only. Without a key nothing is sent; the environment check already reports CD403."""
    key = credential()
    if key is None:
        return []
    request = _request(DEFAULT_MODEL, 64, DEFAULT_PROMPT)
    findings, _ = _probe(messages_url(), key, request, io.BytesIO(), None, 60.0, opts)
    return findings


def _open_record(path: str | None) -> IO[bytes]:
    """Where the recording goes, opened before anything is sent: a path that cannot be written fails
    at once, before the request costs the user tokens."""
    if path is None:
        return io.BytesIO()
    try:
        return open(path, "wb")  # closed by _probe
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}")


def _no_credentials() -> Finding:
    from ..checks.env_rules import NO_CREDENTIALS

    return Finding(
        NO_CREDENTIALS,
        "Neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set (or they are empty); no request was sent.",
    )


def _headers(key: str) -> list[tuple[str, str]]:
    """What the SDK 2.x sends (``anthropic._client``): the key as a Bearer token, its API version."""
    return [
        ("anthropic-version", API_VERSION),
        ("authorization", f"Bearer {key}"),
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("user-agent", f"claude-doctor/{__version__}"),
    ]


def _probe(
    url: str, key: str, request: dict, sink: IO[bytes], record: str | None, timeout: float, opts: Settings
) -> tuple[list[Finding], Capture]:
    """Capture into ``sink`` (the file ``record``, or memory), then check what was written: the checks
    read the recording, so they see exactly what a later ``claude-doctor stream FILE`` would. A file
    that got no answer is removed: it would hold only our own request."""
    from ..capture.live import capture
    from ..checks.stream import check_source
    from ..recording import RecordingWriter, read_recording

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
    findings = check_source(read_recording(io.BytesIO(data), record or "<live>"), opts.config)
    return findings, result


def _summarise(say: _Say, request: dict, result: Capture, record: str | None) -> None:
    from ..capture.live import sdk_verdict, usage_summary

    if result.status is not None:
        model, usage = usage_summary(result)
        tokens = ", ".join(f"{k} {v}" for k, v in usage.items() if isinstance(v, int)) or "not reported"
        say(
            f"live: HTTP {result.status}, {len(result.body):,} bytes in {len(result.chunks)} chunks, "
            f"{result.seconds:.2f}s, ended: {result.end}"
        )
        say(f"live: model {model or 'not reported'}; usage: {tokens}")
    say(f"live: the SDK (anthropic, messages.stream) {sdk_verdict(request, result)}")
    if record and result.status is not None:
        say(f"live: recording written to {record}")
    elif record:
        say(f"live: no recording kept in {record}: no answer came back")
    elif result.status is not None:
        say("live: use --record FILE to keep the recording")


class _Say:
    """Narrative lines: on stdout with human output, on stderr when stdout carries JSON or SARIF."""

    def __init__(self, opts: Settings) -> None:
        self.err = opts.fmt != "human"
        self.quiet = opts.quiet

    def __call__(self, line: str) -> None:
        if not self.quiet:
            click.echo(line, err=self.err)


class _Progress:
    """One self-rewriting stderr line while the stream runs (time, bytes, events, current gap); only
    used on a terminal, so pipes and CI logs get no control codes."""

    def __init__(self) -> None:
        from ..sse import SSEDecoder

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
