"""CD203 async-iter-sync-for: plain ``for`` over an async stream, its ``text_stream`` or an
``AsyncStream``, with the edit adding ``async`` to a ``for`` statement inside ``async def``."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result

WHAT = {"stream": "an async MessageStream", "text_stream": "an async `text_stream`", "raw_stream": "an `AsyncStream`"}


class AsyncIterSyncFor(Check):
    rules = (rules.ASYNC_ITER_SYNC_FOR,)
    need = CLIENT

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        value = ctx.value(iterable)
        if is_async or not (isinstance(value, Result) and value.client.is_async and value.kind in WHAT):
            return
        is_statement = isinstance(where, ast.For)
        ctx.report(
            rules.ASYNC_ITER_SYNC_FOR,
            where,
            f"`for` over `{ctx.segment(iterable)}`, {WHAT[value.kind]}: it needs `async for`",
            fix=f"`async {ctx.line_text(where)}`" if is_statement else "Use `async for` in the comprehension.",
            edits=[ctx.insert_async(where)] if is_statement and ctx.in_async else [],
        )
