"""``claude-doctor replay FILE``: play a recording in the terminal at its recorded pace, then the
findings summary for it."""

from __future__ import annotations

import contextlib
import sys

import click

from ..errors import DoctorError
from ..options import fail, finish, idle_gap_option, report_options, settings, speed_option


@click.command()
@click.argument("file", metavar="FILE")
@speed_option
@click.option(
    "--view",
    type=click.Choice(["text", "events", "raw"]),
    default="text",
    show_default=True,
    help="text as a user saw it, one line per event, or the exact bytes (markers on stderr).",
)
@click.option(
    "--exchange",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Only exchange N (0, 1, …: an SDK retry is a second exchange) [all].",
)
@idle_gap_option
@report_options
@click.pass_context
def replay(ctx: click.Context, file: str, speed: float, view: str, exchange: int | None, **options) -> None:
    """Play a recording (or an import: raw SSE, curl, HAR, vcrpy) at its recorded pace, marking long gaps,
    pings, errors and where the stream broke; then list the findings. `-` reads standard input."""
    from ..checks.stream import StreamAnalyzer
    from ..recording import open_source
    from ..replay import ExchangePicker, Player, ReplayOptions, Screen

    opts = settings(ctx, **options)
    picker = ExchangePicker(exchange)
    try:
        source = open_source(file)
        analyzer = StreamAnalyzer(source.path, opts.config)
        text_out = sys.stdout if opts.fmt == "human" and view != "raw" else sys.stderr
        marks = sys.stderr if view == "raw" else text_out
        screen = Screen(text_out, marks, color=opts.color and marks.isatty())
        raw = sys.stdout.buffer if view == "raw" else None
        player = Player(ReplayOptions(speed, view, opts.config.idle_gap, screen.color), screen, raw)
        player.play(picker.pick(source.records), also=analyzer.add)
    except DoctorError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail(f"{file}: replay interrupted")
    except BrokenPipeError:
        sys.exit(0)
    if exchange is not None and exchange not in picker.seen:
        fail(f"{source.path}: no exchange {exchange} (it has {_exchanges(picker.seen)})")
    screen.text("\n")
    if view == "raw" and exchange is None and len(picker.seen) > 1 and not opts.quiet:
        click.echo(f"claude-doctor: note: {len(picker.seen)} exchanges; --exchange N picks one", err=True)
    # With --view raw, stdout holds the body bytes: the summary goes to stderr with the markers.
    with contextlib.redirect_stdout(sys.stderr if view == "raw" else sys.stdout):
        finish(opts, analyzer.finish(source.warnings), 1, warnings=source.warnings)


def _exchanges(seen: set[int]) -> str:
    if not seen:
        return "no exchanges"
    return f"exchange {min(seen)}" if len(seen) == 1 else f"exchanges {min(seen)}–{max(seen)}"
