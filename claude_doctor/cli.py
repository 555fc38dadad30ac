"""The ``claude-doctor`` command: a click group whose subcommands load only when used, so that
``--version``, ``rules`` and the pre-commit hook never pay for the SDK or httpx."""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import sys

import click

from . import __version__
from .options import TIMELINE_FORMATS, fail, report_options

#: name -> (module, attribute, one-line help). The help is here so ``--help`` imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "doctor": ("claude_doctor.commands.doctor", "doctor", "Check environment, code, secrets and recordings (default)."),
    "stream": ("claude_doctor.commands.stream", "stream", "Check recorded streams for every stream failure (CD1xx)."),
    "live": ("claude_doctor.commands.live", "live", "Make one real streaming request, record it and check it."),
    "record": ("claude_doctor.commands.record", "record", "Run a recording proxy between your app and the API."),
    "replay": ("claude_doctor.commands.replay", "replay", "Play a recording in the terminal at its recorded pace."),
    "serve": ("claude_doctor.commands.serve", "serve", "Serve a recording or synthetic stream with injected faults."),
    "drill": ("claude_doctor.commands.drill", "drill", "Run your app once per stream failure: which does it survive?"),
    "code": ("claude_doctor.commands.code", "code", "Static checks for streaming and asyncio mistakes (CD2xx)."),
    "secrets": ("claude_doctor.commands.secrets", "secrets", "Scan for Anthropic keys (CD3xx); the pre-commit hook."),
    "explain": ("claude_doctor.commands.rules", "explain", "Explain a rule, or which failure a traceback shows."),
    "rules": ("claude_doctor.commands.rules", "rules", "List every rule: code, name, area, severity."),
}


#: Top-level modules of the ``all`` extra (pyproject.toml).
_EXTRA_MODULES = frozenset({"anthropic", "httpx", "httpx2", "aiohttp"})
_GROUP_ONLY = frozenset({"-h", "--help", "-V", "--version"})


class LazyGroup(click.Group):
    """Subcommands import on use; with no subcommand named, the arguments belong to ``doctor``, so
    ``claude-doctor``, ``claude-doctor src/ --live`` and ``claude-doctor doctor src/`` are the same."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        at = self._first_word(args)
        word = args[at] if at is not None else None
        asks_group = any(arg in _GROUP_ONLY for arg in args[:at])
        if word not in COMMANDS and not asks_group:
            if word is not None:
                _refuse_mistyped_command(word)
            args = ["doctor", *args]
        return super().parse_args(ctx, args)

    def _first_word(self, args: list[str]) -> int | None:
        """Where the first argument that is neither an option nor an option's value is: the command
        name, or doctor's PATH."""
        takes_value = {
            opt for p in self.params if isinstance(p, click.Option) and not (p.is_flag or p.count) for opt in p.opts
        }
        skip = False
        for at, arg in enumerate(args):
            if skip:
                skip = False
            elif arg == "--":
                return None
            elif arg.startswith("-") and arg != "-":
                skip = arg in takes_value
            else:
                return at
        return None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _, _) in COMMANDS.items() if importlib.util.find_spec(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or name not in self.list_commands(ctx):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _refuse_mistyped_command(word: str) -> None:
    """``claude-doctor strem`` would otherwise check a folder named ``strem`` and say it does not
    exist; a word near a command name, and no path, is a mistyped command."""
    if "/" in word or "." in word or os.path.exists(word):
        return
    import difflib  # only on this path: start-up matters

    near = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.7)
    if near:
        fail(f"no such command {word!r}. Did you mean {near[0]!r}?")


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="With no command, `claude-doctor [PATH] [--live]` runs `doctor` on PATH (default: the current folder).",
)
@click.version_option(__version__, "-V", "--version", prog_name="claude-doctor")
@report_options(formats=TIMELINE_FORMATS)
@click.pass_context
def main(ctx: click.Context, **options) -> None:
    """Find and explain what breaks Claude streaming: in your environment, your code, your
    repository and your recorded streams."""
    ctx.ensure_object(dict)["options"] = options
    _hand_down(ctx, {name: value for name, value in options.items() if value not in (None, 0)})


def _hand_down(ctx: click.Context, given: dict[str, object]) -> None:
    """Options given before the command reach it, or stop the run: never silently ignored.

    A checking command takes every shared option and merges the group's values itself
    (``options.settings``); any other command gets those it has an option for as defaults
    (``--format json rules``), and an error for the rest."""
    command = ctx.command.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
    if command is None or not given:
        return
    own = {param.name: param for param in command.params}
    if all(name in own for name in ctx.params):
        return
    for name, value in given.items():
        flag = next("/".join(p.opts) for p in ctx.command.params if p.name == name)
        param = own.get(name)
        if param is None:
            fail(f"{flag} does not apply to `{ctx.invoked_subcommand}`")
        choices = getattr(param.type, "choices", None)
        if choices is not None and value not in choices:
            fail(f"{flag} {value} does not apply to `{ctx.invoked_subcommand}` (it takes {', '.join(choices)})")
    ctx.default_map = {ctx.invoked_subcommand: given}


def run() -> None:
    """The console entry point: ``main`` with a last line of defence, so that a bug in a check ends
    as one line on stderr and exit 2, not a traceback (``CLAUDE_DOCTOR_DEBUG=1`` shows it).

    click's own usage errors echo the argument they reject (``--format sk-ant-…``, ``--sk-ant-…``, an
    unknown command), so they are printed here, through the same redaction as findings, for every
    command at once."""
    try:
        status = main(standalone_mode=False)
    except click.ClickException as exc:
        _show_redacted(exc)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    except Exception as exc:  # anything click did not already turn into an exit status
        _refuse_without_extra(exc)
        if os.environ.get("CLAUDE_DOCTOR_DEBUG"):
            raise
        from .keys import redact_text

        click.echo(
            f"claude-doctor: internal error: {type(exc).__name__}: {redact_text(str(exc))[:300]} "
            "(please report it; CLAUDE_DOCTOR_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


def _refuse_without_extra(exc: Exception) -> None:
    """The core install (what the pre-commit hook gets) leaves out the SDK and the HTTP stacks; a command
    that needs one says which and how to add it, instead of an internal error."""
    missing = (getattr(exc, "name", None) or "").partition(".")[0]
    if isinstance(exc, ModuleNotFoundError) and missing in _EXTRA_MODULES:
        fail(f"this command needs {missing}, which the core install leaves out: pip install 'claude-doctor[all]'")


def _show_redacted(exc: click.ClickException) -> None:
    """click's usage line, hint and error, with every key-like run replaced by its redacted stand-in."""
    from .keys import redact_text

    shown = io.StringIO()
    exc.show(file=shown)
    click.echo(redact_text(shown.getvalue()), err=True, nl=False)
