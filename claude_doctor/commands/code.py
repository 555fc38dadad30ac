"""``claude-doctor code PATH…``: the static checks (CD2xx, and CD301 keys) on Python files and
notebooks, with ``--fix`` for the mechanical ones."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..findings import Finding, matches
from ..options import Settings, fail, finish, report_options, settings
from ..report.human import plural


@click.command("code")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--fix", is_flag=True, help="Rewrite files to fix CD202, CD203, CD214 and CD219, keeping formatting and comments."
)
@report_options
@click.pass_context
def code(ctx: click.Context, paths: tuple[Path, ...], fix: bool, **options) -> None:
    """Static checks for the streaming and asyncio mistakes no linter catches (CD2xx), and
    hardcoded keys (CD301). PATH is a file, a notebook or a folder (default: the current folder);
    folders are walked the way git sees them, so `.gitignore`d files and virtualenvs are skipped."""
    from ..checks.code.checker import Options, selected_rules
    from ..checks.code.runner import check_files, sdk_major
    from ..checks.code.walk import collect_files
    from ..files import WalkNotes

    targets = list(paths) or [Path(".")]
    opts = settings(ctx, config_from=targets[0], **options)
    notes = WalkNotes()
    files, errors = collect_files(targets, opts.config.exclude, opts.config.root, notes)
    if not files and not errors:
        fail(f"{', '.join(map(str, targets))}: no Python files or notebooks found")
    rules = selected_rules(opts.config.select, opts.config.ignore)
    check_options = Options(min_timeout=opts.config.min_timeout, sdk_major=sdk_major(), rules=rules)
    warnings = _skipped_virtualenvs(notes.virtualenvs, opts) + notes.irregular_note()
    if check_options.sdk_major is None:  # e.g. the core install (`pip install claude-doctor`, the hook's)
        warnings.append("CD218/CD219 not checked: no anthropic installed here (pip install 'claude-doctor[all]')")
    if fix:
        warnings += _fix(files, check_options, opts)
    results = check_files(files, check_options)
    findings = [finding for result in results for finding in result.findings]
    errors += [result.error for result in results if result.error]
    warnings += [warning for result in results for warning in result.warnings]
    readable = [Path(result.path) for result in results if not result.error]
    if matches("CD301", opts.config.select) and not matches("CD301", opts.config.ignore):
        secret_findings, secret_errors = _secrets(readable, warnings)
        findings += secret_findings
        errors += secret_errors
    checked = sum(1 for result in results if not result.error and not result.skipped)
    finish(opts, findings, checked, errors=errors, warnings=warnings)


def _skipped_virtualenvs(virtualenvs: list[Path], opts: Settings) -> list[str]:
    """The virtualenvs the walk left out: a note on stderr in human output (leaving them out is the
    point, not a problem), a ``warnings`` entry in JSON and SARIF."""
    if not virtualenvs:
        return []
    names = ", ".join(f"{path}{os.sep}" for path in virtualenvs)
    note = f"skipped {plural(len(virtualenvs), 'virtualenv')} (pyvenv.cfg and an interpreter): {names}"
    if opts.fmt != "human":
        return [note]
    if not opts.quiet:
        click.echo(f"claude-doctor: note: {note}", err=True)
    return []


def _fix(files: list[Path], check_options, opts: Settings) -> list[str]:
    """Fix the files in place; returns one warning per fixable finding that was left as it was."""
    from ..checks.code.fixes import fix_file

    results = [fix_file(path, check_options, opts.selected) for path in files]
    total = sum(result.fixed for result in results)
    if total and opts.fmt == "human" and not opts.quiet:
        count = sum(1 for result in results if result.fixed)
        click.echo(f"Fixed {plural(total, 'problem')} in {plural(count, 'file')}.", err=True)
    return [line for result in results for line in result.not_fixed]


def _secrets(files: list[Path], warnings: list[str]) -> tuple[list[Finding], list[str]]:
    """CD301: hardcoded keys, from the secrets checker (files too large to scan add a warning)."""
    if not files:
        return [], []
    from ..checks.secrets import scan_files

    return scan_files(files, warnings)
