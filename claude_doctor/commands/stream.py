"""``claude-doctor stream FILE…``: every stream failure in recorded or pasted streams."""

from __future__ import annotations

from functools import partial

import click

from ..options import TIMELINE_FORMATS, fail, finish, idle_gap_option, redact_text, report_options, settings
from ..streams import check_paths, skipped_note


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE…")
@idle_gap_option
@report_options(formats=TIMELINE_FORMATS)
@click.pass_context
def stream(ctx: click.Context, files: tuple[str, ...], **options) -> None:
    """Check recorded streams (CD1xx).

    FILE may be a claude-doctor recording, raw SSE text (`curl -N` output), `curl -i`/`-v` output,
    a `curl --trace`/`--trace-ascii` file, a HAR file or a vcrpy cassette: the format is told by content. A folder
    means every recording in it (other files there are skipped, with a note); `-` reads standard input.
    Gzip-compressed files (`.yaml.gz`) are read as their content. A file in which no exchange got a
    response or an end (a recorder killed inside its first request) is an error, exit 2, not a clean file.
    `--format html` writes one self-contained page with each exchange's timeline."""
    from ..files import named_path_problem

    opts = settings(ctx, **options)
    for path in files:
        problem = path != "-" and named_path_problem(path)
        if problem:
            fail(problem)
    skipped: list[str] = []
    page = None
    if opts.fmt == "html":
        from ..report.html import render_stream_html
        from ..report.timeline import read_paths

        checked = read_paths(list(files), opts.config, skipped)
        findings, count, errors, warnings = checked.findings, checked.files, checked.errors, checked.warnings
        page = partial(render_stream_html, timelines=checked.timelines)
    else:
        findings, count, errors, warnings = check_paths(list(files), opts.config, skipped)
    if count == 0 and not errors:
        left_out = ([skipped_note(skipped)] if skipped else []) + warnings  # e.g. a named pipe
        fail(f"{', '.join(files)}: no recordings found" + (f" ({'; '.join(left_out)})" if left_out else ""))
    if skipped and not opts.quiet:
        click.echo(redact_text(f"claude-doctor: note: {skipped_note(skipped)}"), err=True)
    finish(opts, findings, count, errors, warnings, page)
