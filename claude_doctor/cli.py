"""The ``claude-doctor`` command: a click group whose subcommands load only when used, so that
``--version``, ``rules`` and the pre-commit hook never pay for the SDK or httpx."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import click

from . import __version__
from .options import report_options

#: name -> (module, attribute, one-line help). The help is here so ``--help`` imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "doctor": ("claude_doctor.commands.doctor", "doctor", "Check environment, code, secrets and recordings (default)."),
    "stream": ("claude_doctor.commands.stream", "stream", "Check recorded streams for every stream failure (CD1xx)."),
    "live": ("claude_doctor.commands.live", "live", "Make one real streaming request, record it and check it."),
    "record": ("claude_doctor.commands.record", "record", "Run a recording proxy between your app and the API."),
    "replay": ("claude_doctor.commands.replay", "replay", "Play a recording in the terminal at its recorded pace."),
    "serve": ("claude_doctor.commands.serve", "serve", "Serve a recording or synthetic stream with injected faults."),
    "code": ("claude_doctor.commands.code", "code", "Static checks for streaming and asyncio mistakes (CD2xx)."),
    "secrets": ("claude_doctor.commands.secrets", "secrets", "Scan for Anthropic keys (CD3xx); the pre-commit hook."),
    "explain": ("claude_doctor.commands.rules", "explain", "Explain a rule, or which failure a traceback shows."),
    "rules": ("claude_doctor.commands.rules", "rules", "List every rule: code, name, area, severity."),
}


_GROUP_ONLY = frozenset({"-h", "--help", "-V", "--version"})


class LazyGroup(click.Group):
    """Subcommands import on use; with no subcommand named, the arguments belong to ``doctor``, so
    ``claude-doctor``, ``claude-doctor src/ --live`` and ``claude-doctor doctor src/`` are the same."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not any(arg in COMMANDS or arg in _GROUP_ONLY for arg in args):
            args = ["doctor", *args]
        return super().parse_args(ctx, args)

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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="claude-doctor")
@report_options
@click.pass_context
def main(ctx: click.Context, **options) -> None:
    """Find and explain what breaks Claude streaming: in your environment, your code, your
    repository and your recorded streams. With no command, runs `doctor` (on PATH, default the
    current folder)."""
    ctx.ensure_object(dict)["options"] = options


def run() -> None:
    """The console entry point: ``main`` with a last line of defence, so that a bug in a check ends
    as one line on stderr and exit 2, not a traceback (``CLAUDE_DOCTOR_DEBUG=1`` shows it)."""
    try:
        main()
    except Exception as exc:  # anything click did not already turn into an exit status
        if os.environ.get("CLAUDE_DOCTOR_DEBUG"):
            raise
        from .keys import redact_text

        click.echo(
            f"claude-doctor: internal error: {type(exc).__name__}: {redact_text(str(exc))[:300]} "
            "(please report it; CLAUDE_DOCTOR_DEBUG=1 shows the traceback)",
            err=True,
        )
        sys.exit(2)
