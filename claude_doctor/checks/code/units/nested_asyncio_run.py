"""CD206 nested-asyncio-run: ``asyncio.run(...)`` where a loop already runs (inside ``async def``, or at
the top level of a notebook cell)."""

from __future__ import annotations

import ast

from .. import rules
from ..context import Check, Context, Need
from ..resolve import Sym, Value

#: ``asyncio.run`` needs ``asyncio`` imported and ``run`` read from it (or imported from it).
ASYNCIO_RUN = Need(("asyncio",), (("run",),))


def is_asyncio_run(func: Value | None) -> bool:
    return isinstance(func, Sym) and func.qualname == "asyncio.run"


def loop_is_running(ctx: Context) -> bool:
    """Whether a loop already runs where the walk is: inside ``async def``, or a notebook cell's top level."""
    return ctx.in_async or (ctx.options.notebook and ctx.scope.kind == "module")


class NestedAsyncioRun(Check):
    rules = (rules.NESTED_ASYNCIO_RUN,)
    need = ASYNCIO_RUN

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        if not is_asyncio_run(func) or not loop_is_running(ctx):
            return
        coroutine = ctx.segment(node.args[0]) if node.args else "main()"
        if ctx.in_async:
            message = "`asyncio.run(...)` inside `async def`: a loop is already running"
            fix = f"Await the coroutine instead: `await {coroutine}`."
        else:
            message = "`asyncio.run(...)` in a notebook cell: its loop is already running"
            fix = f"Use top-level await in the cell: `await {coroutine}`."
        ctx.report(rules.NESTED_ASYNCIO_RUN, node, message, fix=fix)
