"""CD202 async-stream-sync-with: plain ``with`` over an async client's ``messages.stream(...)``, with the
edit adding ``async`` when the ``with`` is inside ``async def``."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result


class AsyncStreamSyncWith(Check):
    rules = (rules.ASYNC_STREAM_SYNC_WITH,)
    need = CLIENT

    def on_with_item(self, ctx: Context, expr: ast.expr, node: ast.With | ast.AsyncWith, is_async: bool) -> None:
        value = ctx.value(expr)
        if is_async or not (isinstance(value, Result) and value.kind == "manager" and value.client.is_async):
            return
        ctx.report(
            rules.ASYNC_STREAM_SYNC_WITH,
            node,
            f"`with` over `{ctx.first_line(expr)}` from an `{value.client.class_name}` client: it needs `async with`",
            fix=f"`async {ctx.line_text(node)}`",
            edits=[ctx.insert_async(node)] if ctx.in_async else [],
        )
