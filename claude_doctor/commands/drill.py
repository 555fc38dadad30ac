"""``claude-doctor drill -- CMD…``: run the app once per streaming failure against its own mock API, and
give each failure a verdict (recovered, failed loudly, silent wrong result, hung, not exercised).

Exit status: 0 when no verdict is in ``--fail-on`` (default: silent wrong results and hangs), 1 when one
is, 2 when nothing could be drilled: a bad option, a command that cannot be run, or a clean run that
failed, hung, made no request to the mock API or went to another host (the report still lists every
fault, as not exercised)."""

from __future__ import annotations

import shutil
import sys

import click

from ..drill.plan import DEFAULT_TIMEOUT
from ..drill.verdict import DEFAULT_FAIL_ON
from ..errors import DoctorError
from ..faults import fault_help
from ..options import fail

DEFAULT_JOBS = 4
FAIL_ON_WORDS = ("silent", "hung", "loud", "not-exercised")


def parse_fail_on(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """``silent,hung`` (the default), any of :data:`FAIL_ON_WORDS`, or ``none``."""
    words = tuple(w.strip().lower() for w in str(value).split(",") if w.strip())
    if words == ("none",):
        return ()
    unknown = [w for w in words if w not in FAIL_ON_WORDS]
    if unknown or not words:
        raise click.BadParameter(f"{value!r}: expected a comma-separated list of {', '.join(FAIL_ON_WORDS)}, or none")
    return words


@click.command(
    context_settings={"allow_interspersed_args": False},
    epilog="\b\nFaults (--fault, repeatable; join faults with + for one run):\n" + fault_help(),
)
@click.option("--fault", "faults", multiple=True, metavar="NAME[:ARG]", help="Drill this fault [every real one].")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="A run still going after this is hung; the default stall outlasts it. Set it above your app's read timeout.",
)
@click.option("--jobs", type=click.IntRange(1, 32), default=DEFAULT_JOBS, show_default=True, help="Runs side by side.")
@click.option("--format", "fmt", type=click.Choice(["human", "json", "junit"]), default="human", show_default=True)
@click.option(
    "--fail-on",
    default=",".join(DEFAULT_FAIL_ON),
    show_default=True,
    callback=parse_fail_on,
    metavar="VERDICTS",
    help="Verdicts that make the exit status 1: silent, hung, loud, not-exercised, or none.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD…")
def drill(
    faults: tuple[str, ...],
    timeout: float,
    jobs: int,
    fmt: str,
    fail_on: tuple[str, ...],
    quiet: bool,
    command: tuple[str, ...],
) -> None:
    """Run your app once per streaming failure and say which ones it survives.

    Each run gets its own mock API on loopback (ANTHROPIC_BASE_URL points at it, any key works) whose
    first answer carries the fault; a clean run comes first:  claude-doctor drill -- python app.py"""
    from ..drill.plan import plan

    if not command:
        fail("drill needs the app's command after --, e.g. claude-doctor drill -- python app.py")
    if shutil.which(command[0]) is None:
        fail(f"cannot run {command[0]!r}: no such command (or it is not executable)")
    try:
        drills = plan(faults, timeout)
    except DoctorError as exc:
        fail(str(exc))
    from ..drill import run_drill
    from ..drill.report import failing, render

    say = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    faults_said = f"{len(drills)} fault{'s' if len(drills) != 1 else ''}"
    say(f"drill: {faults_said}, {jobs} at a time, each run at most {timeout:g} s; a clean run first")
    try:
        result = run_drill(
            list(command), drills, timeout, jobs, lambda seen: say(f"drill: {seen.name}: {seen.seconds:.1f} s")
        )
    except DoctorError as exc:
        fail(str(exc))
    click.echo(render(result, fmt, fail_on))
    if result.problem is not None:
        fail(result.problem)
    sys.exit(1 if failing(result, fail_on) else 0)
