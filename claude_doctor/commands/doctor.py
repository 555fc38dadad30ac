"""``claude-doctor [PATH]``: environment, code, secrets and recordings in one report.

A project often holds a file that cannot be checked (a broken fixture, a half-written recording). The
doctor does not stop or exit 2 for it: the file is named in its area (marked at least ``!``) and in the
summary, and counts as a warning for the exit status. Exit 2 stays for usage errors and a bad PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import DoctorError
from ..findings import Area, Severity
from ..options import Settings, fail, redact_text, report_options, settings
from ..report.doctor import Section, Unchecked
from ..report.human import plural


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
@report_options
@click.pass_context
def doctor(ctx: click.Context, path: Path, live: bool, python: str | None, **options) -> None:
    """Check a project: the environment it runs in (CD4xx), its code (CD2xx), its files for keys
    (CD3xx) and the recordings under PATH/recordings (CD1xx). With --live, one real request too."""
    if not path.is_dir():
        fail(f"{path}: no such folder")
    _check_listable(path)
    opts = settings(ctx, config_from=path, **options)
    sections: dict[Area, Section] = {}
    try:
        sections[Area.ENV] = _environment(path, python)
    except (DoctorError, ValueError) as exc:
        fail(str(exc))
    sections[Area.CODE] = _code(path, opts)
    sections[Area.SECRETS], files = _secrets(path)
    sections[Area.STREAM] = _streams(path, opts)
    if live:
        _add_live_probe(sections, opts)
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
    as the other commands' error lines do)."""
    from ..report import Report, render
    from ..report.doctor import render_doctor

    if opts.fmt == "human" and not opts.quiet:
        click.echo(redact_text(render_doctor(path, sections, files, opts.color)), color=opts.color)
        return
    for unchecked in (u for section in sections.values() for u in section.unchecked):
        click.echo(redact_text(f"claude-doctor: warning: {unchecked}"), err=True)
    findings = [f for section in sections.values() for f in section.findings]
    text = render(Report(findings, files, root=str(path)), opts.fmt, color=opts.color, quiet=opts.quiet)
    if text:
        click.echo(redact_text(text), color=opts.color)


def _exit_status(sections: dict[Area, Section], opts: Settings) -> int:
    """1 for findings at or above --fail-on; a file that could not be checked counts as a warning."""
    levels = [f.level for section in sections.values() for f in section.findings]
    levels += [Severity.WARNING for section in sections.values() if section.unchecked]
    return 1 if any(level >= opts.fail_on for level in levels) else 0


def _environment(path: Path, python: str | None) -> Section:
    from ..checks.env import check_environment

    findings, facts = check_environment(path, python)
    note = " · ".join(
        part
        for part in (
            f"anthropic {facts.sdk_version}" if facts.sdk_version else "no anthropic SDK",
            facts.credential or "no key",
            facts.base_url,
        )
        if part
    )
    return Section(findings, note)


def _add_live_probe(sections: dict[Area, Section], opts: Settings) -> None:
    """One real streaming request: a failure to reach the API belongs to the environment, what the
    stream itself showed to the streams; the Streams line says whether the request was sent at all."""
    from .live import credential, probe_findings

    found = probe_findings(opts)
    env, streams = sections[Area.ENV], sections[Area.STREAM]
    env.findings += [f for f in found if f.rule.area is Area.ENV]
    streams.findings += [f for f in found if f.rule.area is Area.STREAM]
    failed = sorted({f.code for f in found if f.rule.area is Area.ENV})
    if credential() is None:
        streams.note += "; live request not sent: no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN"
    elif failed:
        streams.note += f"; live request failed: {', '.join(failed)}"
    else:
        streams.note += " + the live request"


def _code(path: Path, opts: Settings) -> Section:
    from ..checks.code.checker import Options
    from ..checks.code.runner import check_files, sdk_major
    from ..checks.code.walk import collect_files
    from ..files import WalkNotes

    notes = WalkNotes()
    files, walk_errors = collect_files([path], opts.config.exclude, opts.config.root, notes)
    results = check_files(files, Options(min_timeout=opts.config.min_timeout, sdk_major=sdk_major()))
    findings = [f for result in results for f in result.findings]
    unchecked = [Unchecked.parse(error) for error in walk_errors]
    unchecked += [Unchecked(r.path, r.error.removeprefix(f"{r.path}: ")) for r in results if r.error]
    unchecked += [Unchecked.parse(warning) for r in results for warning in r.warnings]  # cells, newer Python
    unchecked += [Unchecked(where, "not a regular file") for where in notes.irregular]
    checked = [Path(result.path) for result in results if not result.error and not result.skipped]
    notebooks = sum(1 for p in checked if p.suffix == ".ipynb")
    note = plural(len(checked) - notebooks, "Python file")
    if notebooks:
        note += f", {plural(notebooks, 'notebook')}"
    return Section(findings, note, unchecked)


def _secrets(path: Path) -> tuple[Section, int]:
    """CD3xx over every project file; the file count is the report's (code and recordings are among them)."""
    from ..checks import secrets as scan
    from ..files import WalkNotes, project_files

    notes = WalkNotes()
    files = project_files(path, notes=notes)
    skipped: list[str] = []
    findings, scan_errors = scan.scan_files(files, skipped)
    findings += scan.env_findings(files)
    note = f"{plural(len(files) - len(skipped), 'file')} scanned for keys"
    problems = notes.unreadable + scan_errors + skipped + [f"{where}: not a regular file" for where in notes.irregular]
    return Section(findings, note, [Unchecked.parse(problem) for problem in problems]), len(files)


def _streams(path: Path, opts: Settings) -> Section:
    folder = path / "recordings"
    if not folder.is_dir():
        return Section([], "no recordings/ folder")
    from .stream import check_paths

    findings, count, stream_errors, _ = check_paths([str(folder)], opts.config)
    return Section(findings, plural(count, "recording"), [Unchecked.parse(error) for error in stream_errors])
