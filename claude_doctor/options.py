"""The options every checking command shares, and the one place that turns findings into output
and an exit status (0 clean, 1 findings at or above --fail-on, 2 unreadable input)."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from .errors import DoctorError
from .findings import Finding, Severity, matches, unknown_selector
from .report import FORMATS, Report, render

if TYPE_CHECKING:  # the config module (pathlib, fnmatch, tomllib) loads only when a command runs
    from pathlib import Path

    from .config import Config


def _split_codes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str] | None:
    """The comma-separated selectors, each checked against the rule registry: a typo that selects
    nothing would silently turn a check off."""
    if not value:
        return None
    codes = [c.strip() for v in value for c in v.split(",") if c.strip()]
    problem = unknown_selector(codes)
    if problem:
        fail(f"{param.opts[0]}: {problem}")
    return codes


def _severity(ctx: click.Context, param: click.Parameter, value: str | None) -> Severity | None:
    return Severity.parse(value) if value else None


#: ``--format html``, the timeline page: only the commands that read streams (``stream``, the doctor) draw it
TIMELINE_FORMATS = (*FORMATS, "html")


def report_options(func: Callable | None = None, *, formats: tuple[str, ...] = FORMATS) -> Callable:
    """Attach --format/--select/--ignore/--fail-on/--no-color/-q/-v. All default to None so that a
    value given to the group (``claude-doctor --format json``) or the config file can fill them.
    ``@report_options(formats=TIMELINE_FORMATS)`` for a command that also draws the HTML page."""
    if func is None:
        return lambda f: report_options(f, formats=formats)
    decorators = [
        click.option("--format", "fmt", type=click.Choice(formats), default=None, help="Output format [human]."),
        click.option(
            "--select",
            multiple=True,
            callback=_split_codes,
            metavar="CODES",
            help="Only these rules: codes, prefixes (CD1) or names, comma-separated.",
        ),
        click.option("--ignore", multiple=True, callback=_split_codes, metavar="CODES", help="Skip these rules."),
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "info"]),
            default=None,
            callback=_severity,
            help="Lowest severity that makes the exit status 1 [warning].",
        ),
        click.option("--no-color", is_flag=True, default=None, help="No ANSI colour (also: NO_COLOR=1)."),
        click.option("-q", "--quiet", is_flag=True, default=None, help="Findings only: no fixes, no summary."),
        click.option("-v", "--verbose", count=True, help="Say more: read warnings, files checked."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def idle_gap_option(func: Callable) -> Callable:
    """``--idle-gap SECONDS`` for the commands that look at stream timing; ``settings`` applies it."""
    return click.option(
        "--idle-gap",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="Silence longer than this is CD102 [15, the API's ping cadence].",
    )(func)


def parse_speed(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """``--speed 2`` plays twice as fast; ``max`` drops every wait that is not a fault's own."""
    if value == "max":
        return math.inf
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or 'max'") from None
    if not speed > 0 or math.isinf(speed):
        raise click.BadParameter("must be a positive number or 'max'")
    return speed


def speed_option(func: Callable) -> Callable:
    """``--speed 1|2|…|max`` for the commands that play a stream at its pace (``serve``, ``replay``)."""
    option = click.option(
        "--speed", default="1", callback=parse_speed, metavar="1|2|…|max", help="Pace multiplier [1]."
    )
    return option(func)


@dataclass
class Settings:
    """Resolved options: command line, then the group's options, then pyproject.toml, then defaults."""

    fmt: str
    select: list[str]
    ignore: list[str]
    fail_on: Severity
    color: bool
    quiet: bool
    verbose: int
    config: Config

    def selected(self, finding: Finding) -> bool:
        code = finding.code
        if not matches(code, self.select) or matches(code, self.ignore):
            return False
        return not matches(code, self.config.ignored_for(finding.path))


def settings(ctx: click.Context, config_from: Path | None = None, **given) -> Settings:
    parent = (ctx.find_root().obj or {}).get("options", {})

    def pick(name: str):
        value = given.get(name)
        return value if value is not None else parent.get(name)

    from .config import load_config

    try:
        config = load_config(config_from)
    except DoctorError as exc:
        fail(str(exc))
    if given.get("idle_gap") is not None:
        config.idle_gap = given["idle_gap"]
    no_color = pick("no_color") or bool(os.environ.get("NO_COLOR"))
    fmt = pick("fmt") or "human"
    _refuse_format(ctx, fmt)
    config.select = pick("select") or config.select  # the stream checks run only for selected rules
    config.ignore = (pick("ignore") or []) + config.ignore
    return Settings(
        fmt=fmt,
        select=config.select,
        ignore=config.ignore,
        fail_on=pick("fail_on") or config.fail_on,
        color=not no_color and fmt == "human" and sys.stdout.isatty(),
        quiet=bool(pick("quiet")),
        verbose=(given.get("verbose") or 0) + (parent.get("verbose") or 0),
        config=config,
    )


def _refuse_format(ctx: click.Context, fmt: str) -> None:
    """A format given to the group (``claude-doctor --format html code .``) that this command cannot write
    is a usage error naming the formats it takes, as one given to the command itself is."""
    taken = next((p.type.choices for p in ctx.command.params if p.name == "fmt"), FORMATS)
    if fmt not in taken:
        fail(f"--format {fmt} does not apply to `{ctx.command.name}` (it takes {', '.join(taken)})")


def redact_text(text: str) -> str:
    """Keys hidden (``claude_doctor.keys``, imported only when the text may hold one: start-up matters)."""
    if "sk-ant-" not in text:
        return text
    from .keys import redact_text as redact

    return redact(text)


def message_line(kind: str, message: str) -> str:
    """``claude-doctor: KIND: message`` as one line, whatever a file name in it holds (a newline, bytes
    that are not UTF-8), with any key hidden (a path or a body may hold one)."""
    from .files import printable

    return redact_text(f"claude-doctor: {kind}: {printable(message)}")


def fail(message: str) -> None:
    """One line on stderr, exit 2: the way every unreadable input and bad option ends."""
    click.echo(message_line("error", message), err=True)
    sys.exit(2)


def finish(
    opts: Settings,
    findings: Iterable[Finding],
    files: int,
    errors: list[str] = (),
    warnings: list[str] = (),
    page: Callable[[Report], str] | None = None,
) -> None:
    """Filter, print and exit with the contract's status. ``page`` draws ``--format html`` (the
    command that offers it knows what else the page shows); its warnings go to stderr too, since the
    page is usually written to a file."""
    kept = [f for f in findings if opts.selected(f)]
    report = Report(kept, files, list(errors), list(warnings))
    if opts.fmt in ("human", "html"):
        for warning in report.warnings:
            click.echo(message_line("warning", warning), err=True)
    nothing_read = opts.fmt == "human" and report.errors and not report.files  # the error lines say it all
    if opts.fmt == "html" and page is not None:
        text = page(report)
    elif nothing_read:
        text = ""
    else:
        text = render(report, opts.fmt, color=opts.color, verbose=opts.verbose, quiet=opts.quiet)
    if text:
        click.echo(redact_text(text), color=opts.color)  # messages quote bodies, which may echo a key
    exit_for(opts, kept, report.errors)


def exit_for(opts: Settings, kept: list[Finding], errors: list[str]) -> None:
    """Print the input errors and exit: 2 if there were any, else 1 for findings at or above --fail-on."""
    for error in errors:
        click.echo(message_line("error", error), err=True)
    if errors:
        sys.exit(2)
    sys.exit(1 if any(f.level >= opts.fail_on for f in kept) else 0)
