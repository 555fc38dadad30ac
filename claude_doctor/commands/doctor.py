"""``claude-doctor [PATH]``: environment, code, secrets and recordings in one report.

A project often holds a file that cannot be checked (a broken fixture, a half-written recording). The
doctor does not stop or exit 2 for it: the file is named in its area (marked at least ``!``) and in the
summary, and counts as a warning for the exit status. Exit 2 stays for usage errors and a bad PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import checkup
from ..errors import DoctorError
from ..findings import Area, Severity
from ..options import TIMELINE_FORMATS, Settings, fail, redact_text, report_options, settings
from ..report.doctor import Section


@click.command()
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, readable=False, path_type=Path))
@click.option("--live", is_flag=True, help="Also make one real streaming request and check it (costs a few tokens).")
@click.option(
    "--python",
    "python",
    metavar="PATH",
    default=None,
    help="Check the SDK installed for this interpreter (e.g. .venv/bin/python) instead of ours.",
)
@report_options(formats=TIMELINE_FORMATS)
@click.pass_context
def doctor(ctx: click.Context, path: Path, live: bool, python: str | None, **options) -> None:
    """Check a project: the environment it runs in (CD4xx), its code (CD2xx), its files for keys
    (CD3xx) and the recordings under PATH/recordings (CD1xx). With --live, one real request too.
    `--format html` writes one self-contained page, with each recording's timeline."""
    if not path.is_dir():
        fail(f"{path}: no such folder")
    _check_listable(path)
    opts = settings(ctx, config_from=path, **options)
    sections: dict[Area, Section] = {}
    try:
        sections[Area.ENV] = checkup.environment(path, python)
    except (DoctorError, ValueError) as exc:
        fail(str(exc))
    sections[Area.CODE] = checkup.code(path, opts.config)
    sections[Area.SECRETS], files = checkup.secrets(path)
    sections[Area.STREAM] = checkup.streams(path, opts.config)
    if live:
        checkup.add_live_probe(sections, opts.config)
    for section in sections.values():
        section.findings = [f for f in section.findings if opts.selected(f)]
    _print(path, sections, files, opts)
    sys.exit(_exit_status(sections, opts))


def _check_listable(path: Path) -> None:
    """A PATH that cannot be listed is a bad PATH (exit 2), said in one line before anything runs."""
    from ..files import os_reason

    try:
        os.scandir(path).close()
    except OSError as exc:
        fail(f"{path}: cannot list the folder ({os_reason(exc)})")


def _print(path: Path, sections: dict[Area, Section], files: int, opts: Settings) -> None:
    """The full report; with -q or a machine format, the findings only (files not checked go to stderr,
    as the other commands' error lines do); ``html``, the page with every area and the recordings' timelines."""
    from ..report import Report, render
    from ..report.doctor import render_doctor

    if opts.fmt == "human" and not opts.quiet:
        click.echo(redact_text(render_doctor(path, sections, files, opts.color)), color=opts.color)
        return
    for unchecked in (u for section in sections.values() for u in section.unchecked):
        click.echo(redact_text(f"claude-doctor: warning: {unchecked}"), err=True)
    if opts.fmt == "html":
        click.echo(redact_text(_html(path, sections, files, opts)))
        return
    findings = [f for section in sections.values() for f in section.findings]
    text = render(Report(findings, files, root=str(path)), opts.fmt, color=opts.color, quiet=opts.quiet)
    if text:
        click.echo(redact_text(text), color=opts.color)


def _html(path: Path, sections: dict[Area, Section], files: int, opts: Settings) -> str:
    """The doctor's page. The recordings are read again for their timelines: the areas stay checked
    exactly as for every other format, and a project's recordings are small."""
    from ..report.html import render_doctor_html
    from ..report.timeline import read_paths

    folder = path / "recordings"
    timelines = read_paths([str(folder)], opts.config).timelines if folder.is_dir() else []
    return render_doctor_html(path, sections, files, timelines)


def _exit_status(sections: dict[Area, Section], opts: Settings) -> int:
    """1 for findings at or above --fail-on; a file that could not be checked counts as a warning."""
    levels = [f.level for section in sections.values() for f in section.findings]
    levels += [Severity.WARNING for section in sections.values() if section.unchecked]
    return 1 if any(level >= opts.fail_on for level in levels) else 0
