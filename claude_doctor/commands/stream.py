"""``claude-doctor stream FILE…``: every stream failure in recorded or pasted streams."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import DoctorError
from ..findings import Finding
from ..options import fail, finish, idle_gap_option, report_options, settings


def check_paths(paths: list[str], config) -> tuple[list[Finding], int, list[str], list[str]]:
    """Check each recording; an unreadable one becomes an error line and the others still run.
    Returns the findings, how many files were read, the error lines and the read warnings."""
    from ..checks.stream import check_source
    from ..recording import find_recordings, open_source

    findings: list[Finding] = []
    errors: list[str] = []
    warnings: list[str] = []
    files = find_recordings(paths)
    for path in files:
        try:
            source = open_source(path)
            findings += check_source(source, config)
        except DoctorError as exc:
            errors.append(str(exc))
            continue
        warnings += source.warnings
    return findings, len(files) - len(errors), errors, warnings


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE…")
@idle_gap_option
@report_options
@click.pass_context
def stream(ctx: click.Context, files: tuple[str, ...], **options) -> None:
    """Check recorded streams (CD1xx).

    FILE may be a claude-doctor recording, raw SSE text (`curl -N` output), `curl -i`/`-v` output,
    a `curl --trace` file, a HAR file or a vcrpy cassette: the format is told by content. A folder
    means every recording in it; `-` reads standard input."""
    opts = settings(ctx, **options)
    for path in files:
        if path != "-" and not Path(path).exists():
            fail(f"{path}: no such file or folder")
    findings, count, errors, warnings = check_paths(list(files), opts.config)
    if count == 0 and not errors:
        fail(f"{', '.join(files)}: no recordings found")
    finish(opts, findings, count, errors, warnings)
