"""CD213 stream-without-with: the manager ``messages.stream(...)`` returns, used (discarded, awaited,
iterated, an attribute read) instead of entered with ``with``/``async with``."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result

MANAGER_PROTOCOL = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__"})


class StreamWithoutWith(Check):
    rules = (rules.STREAM_WITHOUT_WITH,)
    need = CLIENT

    def on_expression(self, ctx: Context, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call) and _is_manager(ctx.value(node.value)):
            _report(ctx, node.value, node.value, "the call's result is discarded: no request is sent")

    def on_await(self, ctx: Context, node: ast.Await) -> None:
        value = ctx.value(node.value)
        if _is_manager(value):
            _report(ctx, node.value, value.call, "it is awaited")

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        value = ctx.value(iterable)
        if _is_manager(value):
            _report(ctx, iterable, value.call, "it is iterated")

    def on_attribute(self, ctx: Context, node: ast.Attribute) -> None:
        value = ctx.value(node.value)
        if _is_manager(value) and node.attr not in MANAGER_PROTOCOL:
            _report(ctx, node.value, value.call, f"`.{node.attr}` is read from it")


def _is_manager(value) -> bool:
    return isinstance(value, Result) and value.kind == "manager"


def _report(ctx: Context, use: ast.expr, call: ast.Call, how: str) -> None:
    value = ctx.value(call)
    keyword_ = "async with" if isinstance(value, Result) and value.client.is_async else "with"
    ctx.report(
        rules.STREAM_WITHOUT_WITH,
        use,
        f"`messages.stream(...)` (line {call.lineno}) is used without `{keyword_}`: {how}",
        fix=f"Enter it: `{keyword_} {ctx.first_line(call)} as stream:` and use `stream` inside the block.",
    )
