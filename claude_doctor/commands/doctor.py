"""``claude-doctor [PATH]``: environment, code, secrets and recordings in one report."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import DoctorError
from ..findings import Area, Finding
from ..options import Settings, exit_for, fail, finish, report_options, settings


@click.command()
@click.argument("path", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
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
    opts = settings(ctx, config_from=path, **options)
    sections: dict[Area, tuple[list[Finding], str]] = {}
    errors: list[str] = []
    try:
        sections[Area.ENV] = _environment(path, python)
    except (DoctorError, ValueError) as exc:
        fail(str(exc))
    sections[Area.CODE] = _code(path, opts, errors)
    key_findings, key_note, files = _secrets(path, errors)
    sections[Area.SECRETS] = (key_findings, key_note)
    sections[Area.STREAM] = _streams(path, opts, errors)
    if live:
        _add_live_probe(sections, opts)
    findings = [f for found, _ in sections.values() for f in found]
    if opts.fmt != "human":
        finish(opts, findings, files, errors)
    from ..report.doctor import render_doctor

    kept = {area: ([f for f in found if opts.selected(f)], note) for area, (found, note) in sections.items()}
    click.echo(render_doctor(path, kept, opts.color, quiet=opts.quiet), color=opts.color)
    exit_for(opts, [f for found, _ in kept.values() for f in found], errors)


def _environment(path: Path, python: str | None) -> tuple[list[Finding], str]:
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
    return findings, note


def _add_live_probe(sections: dict[Area, tuple[list[Finding], str]], opts: Settings) -> None:
    """One real streaming request: a failure to reach the API belongs to the environment, what the
    stream itself showed to the streams."""
    from .live import probe_findings

    found = probe_findings(opts)
    reached = not any(f.rule.area is Area.ENV for f in found)
    for area in (Area.ENV, Area.STREAM):
        findings, note = sections[area]
        if area is Area.STREAM and reached:
            note += " + the live request"
        sections[area] = (findings + [f for f in found if f.rule.area is area], note)


def _code(path: Path, opts: Settings, errors: list[str]) -> tuple[list[Finding], str]:
    from ..checks.code.checker import Options
    from ..checks.code.runner import check_files, sdk_major
    from ..checks.code.walk import collect_files

    files, walk_errors = collect_files([path], opts.config.exclude, opts.config.root)
    results = check_files(files, Options(min_timeout=opts.config.min_timeout, sdk_major=sdk_major()))
    findings = [f for result in results for f in result.findings]
    unreadable = [result.error for result in results if result.error]
    checked = len(results) - len(unreadable)
    note = f"{checked} Python file{'s' if checked != 1 else ''} and notebook{'s' if checked != 1 else ''}"
    if unreadable:
        note += f", {len(unreadable)} unreadable"
    errors += walk_errors
    return findings, note


def _secrets(path: Path, errors: list[str]) -> tuple[list[Finding], str, int]:
    """CD3xx over every project file; the file count is the report's (code and recordings are among them)."""
    from ..checks import secrets as scan
    from ..files import project_files

    files = project_files(path)
    findings, scan_errors = scan.scan_files(files)
    findings += scan.env_findings(files)
    errors += scan_errors
    return findings, f"{len(files)} file{'s' if len(files) != 1 else ''} scanned for keys", len(files)


def _streams(path: Path, opts: Settings, errors: list[str]) -> tuple[list[Finding], str]:
    folder = path / "recordings"
    if not folder.is_dir():
        return [], "no recordings/ folder"
    from .stream import check_paths

    findings, count, stream_errors, _ = check_paths([str(folder)], opts.config)
    errors += stream_errors
    return findings, f"{count} recording{'s' if count != 1 else ''}"
