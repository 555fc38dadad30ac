"""``claude-doctor secrets``: the Anthropic-key scan (CD301–CD303) and the pre-commit hook entry.

Kept import-light for the hook: click and the stdlib up front; detect-secrets is imported only when a
line holds a key shape or a baseline is given, and the SDK and httpx never are."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click

from ..checks import secrets as scan
from ..checks.secrets_history import scan_history
from ..errors import DoctorError
from ..findings import Finding
from ..options import fail, finish, report_options, settings


class _FilesAfterOptions(click.Command):
    """Refuses an argument that names an existing file but would be read as an option: a staged file
    called ``--history`` must never turn the hook into a history scan that passes, and one called
    ``-q.py`` deserves better than "no such option". After ``--`` (the published hook passes it) every
    argument is a file."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {
            opt for p in self.params if isinstance(p, click.Option) and not (p.is_flag or p.count) for opt in p.opts
        }
        after_value = False
        for arg in args:
            if arg == "--":
                break
            if not after_value and arg.startswith("-") and arg != "-" and os.path.lexists(arg):
                fail(f"{arg!r} is a file here but reads as an option: put file names after `--` (secrets -- FILE…)")
            after_value = arg in takes_value
        return super().parse_args(ctx, args)


@click.command(cls=_FilesAfterOptions)
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--history",
    is_flag=True,
    help="Scan every commit of every ref instead of files; name the commit where each key first appeared.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A detect-secrets baseline (.secrets.baseline): secrets it lists in a file are not reported there.",
)
@report_options
@click.pass_context
def secrets(ctx: click.Context, files: tuple[Path, ...], history: bool, baseline: Path | None, **options) -> None:
    """Find Anthropic API keys, Admin keys and OAuth tokens (CD301), credentials in recordings (CD302)
    and `.env` files git does not ignore (CD303). FILES default to the git-tracked files under the
    current folder (plus untracked `.env` files git would add). Messages show a fingerprint, never a key.

    As a pre-commit hook it gets the staged files and exits 1 when any holds a key."""
    opts = settings(ctx, **options)
    if history and files:
        fail("--history scans the whole history; it takes no FILES")
    try:
        known = scan.load_baseline(baseline) if baseline else set()
        warnings: list[str] = []
        if history:
            found, checked, errors = _history()
        else:
            found, checked, errors = _files(files, warnings)
    except DoctorError as exc:
        fail(str(exc))
    kept = [f for f in found if not scan.accepted_by(known, f)]
    finish(opts, kept, checked, errors, warnings)


def _files(files: tuple[Path, ...], warnings: list[str]) -> tuple[list[Finding], int, list[str]]:
    """No FILES means the current folder, walked like any folder named (git's view, else every file).
    Files left out (too large, pipes) add a line to ``warnings`` and are not counted as checked."""
    from ..files import WalkNotes

    notes = WalkNotes()
    paths = scan.expand(files or (Path("."),), notes)
    skipped: list[str] = []
    findings, errors = scan.scan_files(paths, skipped)
    warnings += notes.irregular_note() + skipped
    checked = len(paths) - len(skipped)
    return findings + scan.env_findings(paths), checked, notes.unreadable + errors


def _history() -> tuple[list[Finding], int, list[str]]:
    if not _in_git_repository():
        fail("--history needs a git repository")
    findings, files = scan_history()
    return findings, files, []


def _in_git_repository() -> bool:
    """Asked up front so that outside a repository the user reads what to do, not git's complaint."""
    try:
        proc = subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True, check=False)
    except OSError:
        return False
    return proc.returncode == 0
