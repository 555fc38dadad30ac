"""``rules`` and ``explain``: both read the one rule registry."""

from __future__ import annotations

import json
import sys
import textwrap

import click

from ..findings import Rule, all_rules, get_rule
from ..options import fail


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "markdown"]),
    default="human",
    help="Output format (markdown is the README's table).",
)
def rules(fmt: str) -> None:
    """List every rule: code, name, area and default severity."""
    table = all_rules()
    if fmt == "json":
        click.echo(json.dumps([_rule_dict(r) for r in table], ensure_ascii=False, indent=2))
        return
    if fmt == "markdown":
        click.echo(markdown_table())
        return
    width = max(len(r.name) for r in table)
    for rule in table:
        click.echo(f"{rule.code}  {rule.name:<{width}}  {rule.area.value:<7}  {rule.severity.letter}  {rule.summary}")


def markdown_table() -> str:
    """The rule table the README embeds (a test keeps the two in sync)."""
    rows = ["| code | name | area | severity | what it finds |", "|---|---|---|---|---|"]
    for r in all_rules():
        summary = r.summary.replace("|", "\\|")
        rows.append(f"| {r.code} | {r.name} | {r.area.value} | {r.severity.label} | {summary} |")
    return "\n".join(rows)


def _rule_dict(rule: Rule) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "area": rule.area.value,
        "severity": rule.severity.label,
        "summary": rule.summary,
        "why": rule.why,
        "fix": rule.fix,
        "symptoms": list(rule.symptoms),
    }


def rule_page(rule: Rule) -> str:
    """A rule's full text, as ``explain`` prints it (like ``ruff rule``)."""
    wrap = lambda text: textwrap.fill(text, width=88, initial_indent="  ", subsequent_indent="  ")  # noqa: E731
    parts = [
        f"{rule.code} {rule.name} ({rule.area.title}, {rule.severity.label})",
        "",
        rule.summary,
        "",
        "Why",
        wrap(rule.why),
        "",
        "Fix",
        wrap(rule.fix),
    ]
    if rule.symptoms:
        parts += ["", "What you may see", *(f"  {s}" for s in rule.symptoms)]
    return "\n".join(parts)


@click.command()
@click.argument("what", required=False, metavar="CODE|-|FILE")
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human", help="Output format.")
def explain(what: str | None, fmt: str) -> None:
    """Explain a rule (by code or name), or read a traceback from FILE or `-` (stdin) and say which
    failure it shows and how to fix it."""
    if what is None:
        fail("explain needs a rule code (e.g. CD104), a rule name, or - to read a traceback from stdin")
    rule = get_rule(what)
    if rule is not None:
        click.echo(json.dumps(_rule_dict(rule), ensure_ascii=False, indent=2) if fmt == "json" else rule_page(rule))
        return
    if what == "-" or (not what.upper().startswith("CD") and _is_file(what)):
        from ..tracebacks import explain_text

        # bytes, decoded leniently like a file: a pasted log may hold anything (and PYTHONIOENCODING may be strict)
        text = sys.stdin.buffer.read().decode("utf-8", "replace") if what == "-" else _read(what)
        sys.exit(explain_text(text, fmt))
    fail(f"unknown rule {what!r} (run `claude-doctor rules` for the list)")


def _is_file(path: str) -> bool:
    import os

    return os.path.isfile(path)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 20)
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})")
        raise
