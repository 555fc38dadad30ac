"""``rules`` and ``explain``: both read the one rule registry."""

from __future__ import annotations

import codecs
import json
import os
import sys
from typing import BinaryIO

import click

from ..findings import all_rules, get_rule, unknown_rule
from ..options import fail
from ..rule_pages import markdown_table, rule_dict, rule_page


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["human", "json", "markdown"]),
    default="human",
    help="Output format (markdown is the table of docs/rules.md).",
)
def rules(fmt: str) -> None:
    """List every rule: code, name, area and default severity."""
    table = all_rules()
    if fmt == "json":
        click.echo(json.dumps([rule_dict(r) for r in table], ensure_ascii=False, indent=2))
        return
    if fmt == "markdown":
        click.echo(markdown_table())
        return
    width = max(len(r.name) for r in table)
    for rule in table:
        click.echo(f"{rule.code}  {rule.name:<{width}}  {rule.area.value:<7}  {rule.severity.letter}  {rule.summary}")


@click.command()
@click.argument("what", required=False, metavar="CODE|NAME|-|FILE")
@click.option("--format", "fmt", type=click.Choice(["human", "json"]), default="human", help="Output format.")
def explain(what: str | None, fmt: str) -> None:
    """Explain a rule (by code or name), or read a traceback or log from FILE or `-` (stdin) and say
    which failure it shows and how to fix it. A long log is read from its end (the last 1 MiB).

    Exit status when reading a traceback: 0 when it shows a known failure, 1 when it shows none (as
    grep does: explain answers "is this a known failure?", so finding one is success), 2 when the
    input cannot be read."""
    if what is None:
        fail("explain needs a rule code (e.g. CD104), a rule name, or - to read a traceback from stdin")
    rule = get_rule(what)
    if rule is not None:
        click.echo(json.dumps(rule_dict(rule), ensure_ascii=False, indent=2) if fmt == "json" else rule_page(rule))
        return
    if what == "-":
        text = _text(_tail(sys.stdin.buffer, "stdin"), "stdin")
    elif os.path.isdir(what):
        fail(f"{what}: is a folder; explain reads a file holding a traceback")
    elif os.path.lexists(what):
        text = _text(_read(what), what)
    elif _looks_like_path(what):
        fail(f"{what}: no such file")
    else:
        fail(unknown_rule(what))
    from ..tracebacks import diagnose, render_matches

    matches = diagnose(text)
    click.echo(render_matches(matches, fmt))
    sys.exit(0 if matches else 1)


def _looks_like_path(word: str) -> bool:
    """``error.txt`` or ``logs/app``: a file name, where a rule code or name never has a dot or slash."""
    return "/" in word or os.sep in word or bool(os.path.splitext(word)[1])


def _read(path: str) -> bytes:
    """A regular file's last ``MAX_TEXT_BYTES`` (a pipe or device is refused: it may never end)."""
    from ..errors import InputError
    from ..files import open_regular

    try:
        with open_regular(path) as stream:
            return _tail(stream, path)
    except InputError as exc:
        fail(str(exc))
        raise


def _tail(stream: BinaryIO, name: str) -> bytes:
    """The last ``MAX_TEXT_BYTES`` of a stream, read in chunks so that memory stays bounded whatever
    comes in (``< /dev/zero`` included: a NUL byte outside UTF-16 text means binary data, which holds
    no traceback, and ends the read). Reading a part only is said on stderr."""
    from ..files import MAX_TEXT_BYTES, MIB

    head = stream.read(MIB)
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    kept, total = head, len(head)
    while utf16 or b"\0" not in kept:
        chunk = stream.read(MIB)
        if not chunk:
            break
        total += len(chunk)
        kept = (kept + chunk)[-MAX_TEXT_BYTES:]
    if b"\0" in kept and not utf16:
        return kept  # binary data: _text says so
    if total > len(kept):
        click.echo(
            f"claude-doctor: note: {name}: read the last {len(kept) // MIB} MiB of {total / MIB:,.0f} MiB only",
            err=True,
        )
        kept = head[:2] + kept[len(kept) % 2 :] if utf16 else kept
    return kept


def _text(data: bytes, name: str) -> str:
    """Decode leniently, as a pasted log may hold anything (a UTF-16 file from a Windows shell
    included); a NUL byte means a binary file, which holds no traceback to read."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    if b"\0" in data:
        fail(f"{name}: not text (a binary file); explain reads a traceback or log")
    return data.decode("utf-8", "replace")
