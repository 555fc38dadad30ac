"""``claude-doctor stream FILE…``: every stream failure in recorded or pasted streams."""

from __future__ import annotations

import re

import click

from ..errors import DoctorError, RecordingError
from ..findings import Finding
from ..options import fail, finish, idle_gap_option, redact_text, report_options, settings

SHOWN_SKIPPED = 3  #: how many skipped files the note names


def check_paths(
    paths: list[str], config, skipped: list[str] | None = None
) -> tuple[list[Finding], int, list[str], list[str]]:
    """Check each recording; an unreadable one becomes an error line and the others still run, and so
    does one that holds no complete exchange (a recorder killed inside its first request): it is not
    clean. Returns the findings, how many files were read, the error lines and the read warnings. A file
    found in a folder that is no recording at all is left out, and its path added to ``skipped``."""
    from ..checks.stream import check_source
    from ..files import WalkNotes
    from ..recording import find_recordings, open_source, skippable
    from ..recording.model import answered

    notes = WalkNotes()
    found = find_recordings(paths, notes)
    findings: list[Finding] = []
    errors: list[str] = list(notes.unreadable)
    warnings: list[str] = notes.irregular_note()
    count = 0
    for path, in_folder in found:
        try:
            source = open_source(path)
        except RecordingError as exc:
            if not skippable(path, in_folder, exc):
                errors.append(str(exc))
            elif skipped is not None:
                skipped.append(path)
            continue
        seen: set[int] = set()
        source.records = answered(source.records, seen)
        try:
            findings += check_source(source, config)
        except DoctorError as exc:
            errors.append(str(exc))
            continue
        if not seen:
            errors.append(nothing_checked(source.path, source.warnings))
            continue
        warnings += source.warnings
        count += 1
    return findings, count, errors, warnings


def nothing_checked(path: str, warnings: list[str]) -> str:
    """The one error line for a file in which no request got a response, a body or an end: such a
    capture is not clean. The read problems that explain it go into that line, the first one named."""
    reasons = [re.sub(rf"^{re.escape(path)}(?::(\d+))?: ", _line_prefix, w) for w in warnings]
    if not reasons:
        why = "no request in it got a response, a body or an end"
    else:
        why = reasons[0] + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")
    return str(RecordingError(path, f"holds no complete exchange, so nothing in it was checked: {why}"))


def _line_prefix(match: re.Match) -> str:
    return f"line {match.group(1)}: " if match.group(1) else ""


def skipped_note(skipped: list[str]) -> str:
    """One line naming the first few files left out of a folder, so that a recording with a wrong
    extension or format is noticed rather than silently ignored."""
    shown = ", ".join(skipped[:SHOWN_SKIPPED]) + (", …" if len(skipped) > SHOWN_SKIPPED else "")
    what = "file that is not a recording" if len(skipped) == 1 else "files that are not recordings"
    return f"skipped {len(skipped)} {what}: {shown}"


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE…")
@idle_gap_option
@report_options
@click.pass_context
def stream(ctx: click.Context, files: tuple[str, ...], **options) -> None:
    """Check recorded streams (CD1xx).

    FILE may be a claude-doctor recording, raw SSE text (`curl -N` output), `curl -i`/`-v` output,
    a `curl --trace`/`--trace-ascii` file, a HAR file or a vcrpy cassette: the format is told by content. A folder
    means every recording in it (other files there are skipped, with a note); `-` reads standard input.
    Gzip-compressed files (`.yaml.gz`) are read as their content. A file in which no exchange got a
    response or an end (a recorder killed inside its first request) is an error, exit 2, not a clean file."""
    from ..files import named_path_problem

    opts = settings(ctx, **options)
    for path in files:
        problem = path != "-" and named_path_problem(path)
        if problem:
            fail(problem)
    skipped: list[str] = []
    findings, count, errors, warnings = check_paths(list(files), opts.config, skipped)
    if count == 0 and not errors:
        left_out = ([skipped_note(skipped)] if skipped else []) + warnings  # e.g. a named pipe
        fail(f"{', '.join(files)}: no recordings found" + (f" ({'; '.join(left_out)})" if left_out else ""))
    if skipped and not opts.quiet:
        click.echo(redact_text(f"claude-doctor: note: {skipped_note(skipped)}"), err=True)
    finish(opts, findings, count, errors, warnings)
