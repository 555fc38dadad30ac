"""``claude-doctor serve``: a local Messages API that replays a recording or a synthetic stream with
faults injected, so the user's own client can be run against the failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import DoctorError
from ..faults import fault_help, parse_faults
from ..options import fail, speed_option
from ..web import StopSignals, warn_if_exposed

if TYPE_CHECKING:
    from ..serve import Exchange, MockAPI, RecordedExchange


@click.command(epilog="\b\nFaults (--fault, repeatable, combinable):\n" + fault_help())
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--fault", "faults", multiple=True, metavar="NAME[:ARG]", help="Inject a fault (see below).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@speed_option
@click.option(
    "--ping-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    metavar="SECONDS",
    help="Pings keep a synthetic stream alive this often, as the API does.",
)
@click.option(
    "--retry-after",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="retry-after sent with status:429.",
)
def serve(
    file: str | None,
    faults: tuple[str, ...],
    port: int,
    host: str,
    speed: float,
    ping_interval: float,
    retry_after: float,
) -> None:
    """Serve the Messages API on loopback: a recording (FILE) or a synthetic stream, with faults.

    Point a client at it with ANTHROPIC_BASE_URL=http://127.0.0.1:PORT (any key works). Answers
    POST /v1/messages (streaming or not) and POST /v1/messages/count_tokens. Ctrl-C stops it."""
    try:
        plan = parse_faults(faults)
        exchanges = _load(file) if file else None
    except DoctorError as exc:
        fail(str(exc))
    import asyncio

    from ..serve import MockAPI, ServeOptions

    options = ServeOptions(plan, exchanges, speed, ping_interval, retry_after, on_exchange=_log)
    api = MockAPI(options, host, port)
    api.log.take_over("aiohttp", "asyncio")
    try:
        asyncio.run(_serve(api, file))
    except KeyboardInterrupt:  # before the signal handlers were in place, or where there are none
        pass
    except DoctorError as exc:
        fail(str(exc))
    click.echo("claude-doctor serve: stopped", err=True)


def _load(path: str) -> list[RecordedExchange]:
    from ..recording import open_source
    from ..serve import load_exchanges

    return load_exchanges(open_source(path))


async def _serve(api: MockAPI, file: str | None) -> None:

    await api.start()
    warn_if_exposed("serve", api.host, "to it and read what it serves")
    what = f"replaying {file}" if file else "synthetic streams"
    click.echo(f"claude-doctor serve: {what}, faults: {api.options.faults.describe()}")
    click.echo(f"listening on {api.url}  (export ANTHROPIC_BASE_URL={api.url}; Ctrl-C to stop)")
    with StopSignals(api.hurry, api.log, "open streams are cut off") as signals:
        try:
            await signals.stop.wait()
        finally:
            signals.stop.set()  # from now on, a signal hurries the shutdown
            await api.stop()


def _log(exchange: Exchange) -> None:
    """One line per answered request on stderr, so the user sees what their client got."""
    kind = "stream" if exchange.stream else "json"
    click.echo(
        f"{exchange.method} {exchange.path} {exchange.status} {kind}, {exchange.events} events, "
        f"{exchange.seconds:.2f}s, {exchange.outcome}",
        err=True,
    )
