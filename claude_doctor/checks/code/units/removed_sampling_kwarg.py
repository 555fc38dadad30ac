"""CD219 removed-sampling-kwarg: ``temperature``/``top_p``/``top_k`` as keywords on SDK 1.x+, with the
``--fix`` edits that move them all into one ``extra_body``."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import keyword

SAMPLING_KWARGS = ("temperature", "top_p", "top_k")


class RemovedSamplingKwarg(Check):
    rules = (rules.REMOVED_SAMPLING_KWARG,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        major = ctx.options.sdk_major
        if not call.is_request or not major or major < 1:
            return
        node = call.node
        method = "stream" if call.is_stream else call.method
        found = [k for k in node.keywords if k.arg in SAMPLING_KWARGS]
        if not found:
            return
        entries = ", ".join(f'"{k.arg}": {ctx.segment(k.value)}' for k in found)
        names = ", ".join(f"`{k.arg}`" for k in found)
        ctx.report(
            rules.REMOVED_SAMPLING_KWARG,
            node,
            f"{names} passed as keyword to `{method}(...)`; anthropic {major}.x raises "
            f"\"TypeError: Messages.{method}() got an unexpected keyword argument '{found[0].arg}'\"",
            fix=f"Pass them in the body: `extra_body={{{entries}}}`.",
            edits=_sampling_edits(ctx, node, found),
        )


def _sampling_edits(ctx: Context, node: ast.Call, found: list[ast.keyword]) -> list[tuple[int, int, str]]:
    """All of ``found`` moved into one ``extra_body``: the last becomes ``extra_body={...}`` (or
    they join an ``extra_body`` dict literal) and the others are deleted, each with its own comma,
    so no two edits overlap. No edits beside a ``**kwargs``, which may hold an ``extra_body`` already."""
    entries = [f'"{k.arg}": {ctx.segment(k.value)}' for k in found]
    extra = keyword(node, "extra_body")
    if any(k.arg is None for k in node.keywords):
        return []
    if extra is None:
        *removed, last = found
        start = ctx.offset(last.lineno, last.col_offset)
        end = ctx.offset(last.end_lineno, last.end_col_offset)
        edits = [(start, end, "extra_body={" + ", ".join(entries) + "}")]
    elif isinstance(extra.value, ast.Dict) and None not in extra.value.keys:
        removed = found
        edits = [_dict_insert(ctx, extra.value, entries)]
    else:
        return []
    arguments = sorted([*node.args, *node.keywords], key=lambda a: (a.lineno, a.col_offset))
    at_end = []
    for argument in reversed(arguments):
        if argument not in removed:
            break
        at_end.append(argument)
    removals = [ctx.remove_keyword(node, k, comma_before=k in at_end) for k in removed]
    if any(r is None for r in removals):
        return []
    return edits + removals


def _dict_insert(ctx: Context, node: ast.Dict, entries: list[str]) -> tuple[int, int, str]:
    close = ctx.offset(node.end_lineno, node.end_col_offset) - 1
    before = close - 1
    while before > 0 and ctx.source[before : before + 1] in b" \t\r\n":
        before -= 1
    needs_comma = ctx.source[before : before + 1] not in (b",", b"{")
    return (before + 1, before + 1, (", " if needs_comma else "") + ", ".join(entries))
