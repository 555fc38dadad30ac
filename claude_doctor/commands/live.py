"""``claude-doctor live``: one real streaming request, captured byte-exact, recorded, checked, and
replayed into the SDK to say what it would have raised. Costs are stated before the request is sent."""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING

import click

from ..findings import Finding
from ..options import Settings, fail, finish, idle_gap_option, report_options, settings
from ..probe import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_PROMPT,
    DEFAULT_TIMEOUT,
    credential,
    messages_url,
    probe,
    probe_request,
)

if TYPE_CHECKING:
    from ..capture.live import Capture


@click.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Model to ask.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_TOKENS,
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
    default=DEFAULT_TIMEOUT,
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
    request = probe_request(model, max_tokens, prompt)
    sink = _open_record(record)
    say = _Say(opts)
    say(f"live: POST {url}  model={model}  max_tokens={max_tokens} (at most {max_tokens} output tokens billed)")
    findings, result = probe(url, key, request, sink, record, timeout, opts.config)
    _summarise(say, request, result, record)
    finish(opts, findings, files=1)


def _open_record(path: str | None) -> IO[bytes]:
    """Where the recording goes, opened before anything is sent: a path that cannot be written fails
    at once, before the request costs the user tokens."""
    if path is None:
        return io.BytesIO()
    try:
        return open(path, "wb")  # closed by probe
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}")


def _no_credentials() -> Finding:
    from ..checks.env_rules import NO_CREDENTIALS

    return Finding(
        NO_CREDENTIALS,
        "Neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set (or they are empty); no request was sent.",
    )


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
