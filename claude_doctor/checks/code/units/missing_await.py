"""CD204 missing-await: an async client's coroutine discarded or used (attribute, subscript, iteration,
``with``) without ``await``; passing it to a call (``gather``) or returning it is not a use."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Coroutine


class MissingAwait(Check):
    rules = (rules.MISSING_AWAIT,)
    need = CLIENT

    def on_expression(self, ctx: Context, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            _check(ctx, node.value, "its result is discarded, so no request is sent")

    def on_subscript(self, ctx: Context, node: ast.Subscript) -> None:
        _check(ctx, node.value, "it is subscripted")

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        _check(ctx, iterable, "it is iterated")

    def on_with_item(self, ctx: Context, expr: ast.expr, node: ast.With | ast.AsyncWith, is_async: bool) -> None:
        _check(ctx, expr, "it is used in `with`")

    def on_attribute(self, ctx: Context, node: ast.Attribute) -> None:
        _check(ctx, node.value, f"`.{node.attr}` is read from it")


def _check(ctx: Context, expr: ast.expr, how: str) -> None:
    value = ctx.value(expr)
    if not isinstance(value, Coroutine) or value.call is None:
        return
    call = value.call
    shown = ctx.first_line(call)
    if expr is call:
        message = f"`{shown}` on an AsyncAnthropic client is not awaited; {how}"
        fix = f"Await it: `await {shown}`."
    else:
        name = ctx.segment(expr)
        message = f"`{name}` holds the un-awaited coroutine of `{shown}` (line {call.lineno}); {how}"
        fix = f"Await the call: `{name} = await {shown}`."
    ctx.report(rules.MISSING_AWAIT, expr, message, fix=fix)
