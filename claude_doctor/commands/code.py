"""``claude-doctor code PATH…``: the static checks (CD2xx, and CD301 keys) on Python files and
notebooks, with ``--fix`` for the mechanical ones."""

from __future__ import annotations

from pathlib import Path

import click

from ..findings import Finding
from ..options import Settings, fail, finish, report_options, settings


@click.command("code")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--fix", is_flag=True, help="Rewrite files to fix CD202, CD203, CD214 and CD219, keeping formatting and comments."
)
@report_options
@click.pass_context
def code(ctx: click.Context, paths: tuple[Path, ...], fix: bool, **options) -> None:
    """Static checks for the streaming and asyncio mistakes no linter catches (CD2xx), and
    hardcoded keys (CD301). PATH is a file, a notebook or a folder (default: the current folder);
    folders are walked the way git sees them, so `.gitignore`d files and virtualenvs are skipped."""
    from ..checks.code.checker import Options
    from ..checks.code.runner import check_files, sdk_major
    from ..checks.code.walk import collect_files

    targets = list(paths) or [Path(".")]
    opts = settings(ctx, config_from=targets[0], **options)
    files, errors = collect_files(targets, opts.config.exclude, opts.config.root)
    if not files and not errors:
        fail(f"{', '.join(map(str, targets))}: no Python files or notebooks found")
    check_options = Options(min_timeout=opts.config.min_timeout, sdk_major=sdk_major())
    if fix:
        _fix(files, check_options, opts)
    results = check_files(files, check_options)
    findings = [finding for result in results for finding in result.findings]
    errors += [result.error for result in results if result.error]
    checked = [Path(result.path) for result in results if not result.error]
    secret_findings, secret_errors = _secrets(checked)
    findings += secret_findings
    errors += secret_errors
    if opts.verbose:
        for note in (note for result in results for note in result.notes):
            click.echo(f"claude-doctor: note: {note}", err=True)
    finish(opts, findings, len(checked), errors=errors)


def _fix(files: list[Path], check_options, opts: Settings) -> None:
    from ..checks.code.fixes import fix_file

    fixed = {path: fix_file(path, check_options, opts.selected) for path in files}
    total = sum(fixed.values())
    if total and opts.fmt == "human" and not opts.quiet:
        count = sum(1 for n in fixed.values() if n)
        click.echo(
            f"Fixed {total} problem{'s' if total != 1 else ''} in {count} file{'s' if count != 1 else ''}.", err=True
        )


def _secrets(files: list[Path]) -> tuple[list[Finding], list[str]]:
    """CD301: hardcoded keys, from the secrets checker."""
    if not files:
        return [], []
    from ..checks.secrets import scan_files

    return scan_files(files)
