"""``claude-doctor record``: a recording reverse proxy between an app and the API.

Standalone it listens (loopback, port 8766 by default) until Ctrl-C; with ``-- CMD…`` it listens on a
free port, runs CMD with ``ANTHROPIC_BASE_URL`` pointing at itself, and stops when CMD exits. Either
way each exchange is saved as one recording and checked as it completes: a line per exchange and its
findings go to stderr as they happen (so they never mix with the app's stdout), the report goes to
stdout at the end. Exit status: CMD's (0 standalone), or 1 when findings reach ``--fail-on``.

With ``--metrics HOST:PORT`` it also serves Prometheus ``/metrics`` there (a sidecar scraped by the
user's Prometheus): the monitor's metrics and findings counters, from the same checks.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..keys import redact_text
from ..options import Settings, fail, idle_gap_option, report_options, settings
from ..web import StopSignals, warn_if_exposed

if TYPE_CHECKING:
    from ..capture.proxy import Captured, RecordingProxy

DEFAULT_PORT = 8766  #: next to ``serve``'s 8765
DEFAULT_METRICS_PORT = 9464  #: OpenTelemetry's Prometheus exporter's port
DEFAULT_OUT = "recordings/captured"


def parse_listen(value: str, default_port: int, option: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT``, ``:PORT``, ``PORT`` or ``HOST`` (loopback and the default port fill in)."""
    host, port = "127.0.0.1", str(default_port)
    if value.isdigit():
        port = value
    elif value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif value.count(":") == 1:
        host, port = value.split(":")
        host = host or "127.0.0.1"
    elif value:
        host = value
    if not port.isdigit() or not 0 <= int(port) <= 65535 or not host.strip() or (":" in host and not _is_v6(host)):
        raise click.BadParameter(f"{value!r}: expected HOST:PORT with a port from 0 to 65535", param_hint=option)
    return host, int(port)


def _is_v6(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def parse_metrics(value: str | None) -> tuple[str, int] | None:
    """``--metrics``: where to serve ``/metrics``, as ``--listen`` reads it (a port alone binds loopback,
    a host alone takes port 9464); prometheus-client must be installed."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter(f"{value!r}: expected HOST:PORT with a port from 0 to 65535", param_hint="--metrics")
    where = parse_listen(value.strip(), DEFAULT_METRICS_PORT, "--metrics")
    try:
        import prometheus_client
    except ImportError:
        fail("--metrics needs prometheus-client: pip install 'claude-doctor[all]'")
    # ``_created`` series would double every series scraped; this process is ours alone
    prometheus_client.disable_created_metrics()
    return where


def default_upstream() -> str:
    """Where the app was talking before: ``ANTHROPIC_BASE_URL`` as it was, else the public API."""
    from ..capture.proxy import PUBLIC_API

    return os.environ.get("ANTHROPIC_BASE_URL") or PUBLIC_API


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("--listen", default=None, metavar="HOST:PORT", help=f"Where to listen [127.0.0.1:{DEFAULT_PORT}].")
@click.option("--upstream", default=None, metavar="URL", help="Where to forward [ANTHROPIC_BASE_URL, else the API].")
@click.option(
    "--out",
    type=click.Path(file_okay=False, writable=True),
    default=DEFAULT_OUT,
    show_default=True,
    metavar="DIR",
    help="One recording per exchange goes here (redacted: safe to share).",
)
@click.option(
    "--metrics",
    default=None,
    metavar="HOST:PORT",
    help=f"Also serve Prometheus /metrics there (PORT alone: on 127.0.0.1; HOST alone: port {DEFAULT_METRICS_PORT}).",
)
@idle_gap_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD…]")
@report_options
@click.pass_context
def record(
    ctx: click.Context,
    listen: str | None,
    upstream: str | None,
    out: str,
    metrics: str | None,
    command: tuple[str, ...],
    **options,
) -> None:
    """Record every exchange between your app and the API, exactly as it was, while the app runs.

    Point ANTHROPIC_BASE_URL at the proxy, or give the app's command after `--` and it is run with
    ANTHROPIC_BASE_URL set:  claude-doctor record -- python app.py"""
    opts = settings(ctx, **options)
    host, port = parse_listen(listen or "", 0 if command and listen is None else DEFAULT_PORT)
    scrape = parse_metrics(metrics)
    target = (upstream or default_upstream()).rstrip("/")
    if not target.startswith(("http://", "https://")):
        fail(f"--upstream {target!r}: expected an http:// or https:// URL")
    proxy = _proxy(target, Path(out), host, port, scrape, opts)
    proxy.log.take_over("aiohttp", "asyncio")
    warn_if_exposed("record", host, "through it and read what it records")
    if scrape is not None:
        warn_if_exposed("record", scrape[0], "to /metrics and read the models and findings counted")
    try:
        code = _run(_main(proxy, list(command), target, opts))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place
        code = 130
    _report(opts, proxy, code)


def _run(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run`` on the loop that records and checks only while it has nothing to forward; on
    Windows, whose selector loop cannot run ``-- CMD``, on the default loop (recording then follows
    each chunk in the next loop iteration)."""
    from ..capture.idle import IdleLoop

    with asyncio.Runner(loop_factory=None if sys.platform == "win32" else IdleLoop) as runner:
        return runner.run(main)


def _proxy(
    upstream: str, out: Path, host: str, port: int, metrics: tuple[str, int] | None, opts: Settings
) -> RecordingProxy:
    from ..capture.proxy import ProxyOptions, RecordingProxy

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{out}: cannot create: {exc.strerror or exc}")
    options = ProxyOptions(upstream, out, host, port, opts.config, on_exchange=_Live(opts), metrics=metrics)
    return RecordingProxy(options)


async def _main(proxy: RecordingProxy, command: list[str], upstream: str, opts: Settings) -> int:
    """Serve until Ctrl-C (standalone) or until CMD exits; returns the exit status to pass on."""
    metrics = proxy.options.metrics
    if metrics is not None:
        await _listening(proxy.start_metrics(), *metrics)
    await _listening(proxy.start(), proxy.options.host, proxy.options.port)
    _settle_garbage_collector()
    say = _say(opts)
    say(f"record: {proxy.url} -> {redact_text(upstream)}, recordings in {proxy.options.out}/")
    if proxy.metrics_url is not None:
        say(f"record: Prometheus metrics at {proxy.metrics_url}")
    hurrying = "open exchanges are cut off, each recorded to its end"
    with StopSignals(proxy.hurry, proxy.log, hurrying) as signals:
        try:
            if command:
                return await _run_child(proxy, command, signals)
            say(f"record: export ANTHROPIC_BASE_URL={proxy.url}  (Ctrl-C to stop)")
            await signals.stop.wait()
            return 0
        finally:
            signals.stop.set()  # from now on, a signal hurries the shutdown
            await proxy.stop()


async def _listening(start: Coroutine[Any, Any, None], host: str, port: int) -> None:
    """Await a server's start; a port that cannot be bound is a one-line error, exit 2."""
    try:
        await start
    except OSError as exc:
        reason = "port in use" if exc.errno in (48, 98, 10048) else (exc.strerror or str(exc))
        fail(f"cannot listen on {host}:{port}: {reason}")


def _settle_garbage_collector() -> None:
    """Move everything alive at start (modules, aiohttp, the rule table) out of the collector's sight.
    Otherwise each full collection walks it all while every stream waits: measured at 100 streams, a
    10 ms pause; with this, about 1 ms. This process is ours alone, so nothing frozen here is left to
    leak."""
    import gc

    gc.collect()
    gc.freeze()


async def _run_child(proxy: RecordingProxy, command: list[str], signals: StopSignals) -> int:
    """Run CMD against the proxy (``signals`` says what a signal does meanwhile). Returns CMD's status
    (128+N when a signal N ended it, as a shell says)."""
    env = dict(os.environ, ANTHROPIC_BASE_URL=proxy.url)
    for name in ("NO_PROXY", "no_proxy"):  # an HTTP(S)_PROXY must not capture the loopback hop
        env[name] = ",".join(p for p in (env.get(name), "127.0.0.1", "localhost", "::1") if p)
    try:
        child = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as exc:
        fail(f"cannot run {command[0]!r}: {exc.strerror or exc}")
    signals.child = child
    code = await child.wait()
    return 128 - code if code < 0 else code


def _say(opts: Settings):
    """Narrative lines go to stderr, so the app's stdout and the report stay clean."""

    def say(line: str) -> None:
        if not opts.quiet:
            click.echo(line, err=True)

    return say


class _Live:
    """Prints each exchange and its findings on stderr the moment it completes."""

    def __init__(self, opts: Settings) -> None:
        self.opts = opts
        self.color = opts.color and sys.stderr.isatty()

    def __call__(self, captured: Captured) -> None:
        from ..report.human import format_finding

        status = captured.status if captured.status is not None else "---"
        line = (
            f"record: {captured.method} {captured.path} {status}, {captured.bytes:,} B in {captured.chunks} chunks, "
            f"{captured.seconds:.2f}s, {captured.end}"
        )
        if captured.error:
            line += f" ({captured.error})"
        if not self.opts.quiet:
            click.echo(redact_text(f"{line} -> {captured.recording}"), err=True)
        if captured.recording_failed:  # even with -q: the recording the user asked for is incomplete
            click.echo(redact_text(f"record: error: {captured.recording}: {captured.recording_failed}"), err=True)
        for finding in captured.findings:
            if self.opts.selected(finding):
                text = format_finding(finding, color=self.color)
                click.echo("  " + redact_text(text), err=True, color=self.color)


def _report(opts: Settings, proxy: RecordingProxy, code: int) -> None:
    """The whole report on stdout, then exit: 1 for findings at or above --fail-on, else ``code``, else
    2 when a recording could not be written in full."""
    from ..report import Report, render

    kept = [f for f in proxy.findings if opts.selected(f)]
    report = Report(kept, proxy.exchanges)
    text = render(report, opts.fmt, color=opts.color, verbose=opts.verbose, quiet=opts.quiet)
    if text:
        click.echo(redact_text(text), color=opts.color)
    failed = proxy.failed_recordings
    if failed:
        untouched = "the app's traffic went through untouched"
        click.echo(f"record: error: {failed} recording(s) incomplete (see above); {untouched}", err=True)
    sys.exit(1 if any(f.level >= opts.fail_on for f in kept) else code or (2 if failed else 0))
