"""CD211 text-stream-on-message: stream helpers, iteration or ``with`` on the ``Message`` that
``create(...)`` without ``stream=True`` returns."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result

MESSAGE_HELPERS = frozenset({"text_stream", "get_final_message", "get_final_text", "until_done"})


class TextStreamOnMessage(Check):
    rules = (rules.TEXT_STREAM_ON_MESSAGE,)
    need = CLIENT

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        value = ctx.value(iterable)
        if _is_message(value):
            _report(ctx, where, value, "iterated", "yields (field, value) tuples, not events")

    def on_with_item(self, ctx: Context, expr: ast.expr, node: ast.With | ast.AsyncWith, is_async: bool) -> None:
        value = ctx.value(expr)
        if _is_message(value):
            _report(ctx, node, value, "used in `with`", "is not a context manager")

    def on_attribute(self, ctx: Context, node: ast.Attribute) -> None:
        value = ctx.value(node.value)
        if _is_message(value) and node.attr in MESSAGE_HELPERS:
            _report(ctx, node, value, f"asked for `.{node.attr}`", "has no such attribute")


def _is_message(value) -> bool:
    return isinstance(value, Result) and value.kind == "message"


def _report(ctx: Context, node: ast.AST, value: Result, how: str, outcome: str) -> None:
    ctx.report(
        rules.TEXT_STREAM_ON_MESSAGE,
        node,
        f"the result of `create(...)` on line {value.call.lineno} has no `stream=True`, so it is a "
        f"`Message` (not a stream) and is {how}: it {outcome}",
        fix="Stream it with `with client.messages.stream(...) as stream:` and `stream.text_stream`, "
        "or read `message.content` instead.",
    )
