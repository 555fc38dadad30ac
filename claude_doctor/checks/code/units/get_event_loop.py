"""CD205 get-event-loop: ``asyncio.get_event_loop()`` outside a coroutine whose loop is then run. The
walk tells this check which bodies handle the missing loop (``try``/``except RuntimeError``,
``suppress(RuntimeError)``); a loop fetched only to be saved and restored is never run, so silent."""

from __future__ import annotations

import ast

from .. import rules
from ..context import Check, Context, Need
from ..resolve import Instance, Resource, Sym, Value, dotted

#: Loop methods that need the loop ``get_event_loop()`` returned: the use CD205 is about.
LOOP_RUNNERS = ("run_until_complete", "run_forever")
#: Exceptions whose handler means the code expects ``get_event_loop()`` to fail without a loop.
NO_LOOP_HANDLERS = frozenset({"RuntimeError", "Exception", "BaseException"})


class GetEventLoop(Check):
    rules = (rules.GET_EVENT_LOOP,)
    need = Need(("asyncio",), (("get_event_loop",), LOOP_RUNNERS))

    def __init__(self) -> None:
        self.loops: dict[int, ast.Call] = {}  #: unguarded ``get_event_loop()`` calls outside coroutines
        self.runs: dict[int, list[ast.Call]] = {}  #: id of such a call -> the loop.run_…(…) calls on it

    def guards_body(self, ctx: Context, node: ast.With | ast.AsyncWith | ast.Try) -> bool:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            return any(_suppresses_no_loop(ctx, item.context_expr) for item in node.items)
        return any(_handles_no_loop(handler.type) for handler in node.handlers)

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        if isinstance(func, Sym):
            if func.qualname == "asyncio.get_event_loop" and not ctx.in_async and not ctx.guard_depth:
                self.loops[id(node)] = node
        elif isinstance(node.func, ast.Attribute) and node.func.attr in LOOP_RUNNERS and not isinstance(func, Resource):
            self._record_run(ctx, node, node.func.value)

    def _record_run(self, ctx: Context, node: ast.Call, loop: ast.expr) -> None:
        """``loop.run_until_complete(...)``: every ``get_event_loop()`` the name may hold (one per branch)."""
        named = isinstance(loop, ast.Name)
        for value in ctx.resolver.candidates(loop.id, ctx.scope) if named else [ctx.value(loop)]:
            if isinstance(value, Instance) and value.qualname == "asyncio.get_event_loop":
                self.runs.setdefault(id(value.call), []).append(node)

    def finish(self, ctx: Context) -> None:
        for key, call in self.loops.items():
            runs = self.runs.get(key)
            if not runs:
                continue
            run = min(runs, key=lambda r: (r.lineno < call.lineno, r.lineno))  # the next one after the call
            ctx.report(
                rules.GET_EVENT_LOOP,
                call,
                f"`asyncio.get_event_loop()` outside a coroutine, and its loop is run by `.{run.func.attr}(...)` "
                f"on line {run.lineno}: with no current loop Python 3.14 raises RuntimeError (3.12-3.13 warn)",
                fix="Use `asyncio.run(main())`; inside a coroutine, `asyncio.get_running_loop()`.",
            )


def _suppresses_no_loop(ctx: Context, expr: ast.expr) -> bool:
    """``with contextlib.suppress(RuntimeError):`` (or a broader exception)."""
    if not isinstance(expr, ast.Call):
        return False
    func = ctx.value(expr.func)
    return (
        isinstance(func, Sym)
        and func.qualname == "contextlib.suppress"
        and any(_handles_no_loop(arg) for arg in expr.args)
    )


def _handles_no_loop(handler: ast.expr | None) -> bool:
    """Whether an ``except`` clause's type (``None`` for a bare ``except:``) catches RuntimeError."""
    if handler is None:
        return True
    names = handler.elts if isinstance(handler, ast.Tuple) else [handler]
    return any((dotted(name) or "").rpartition(".")[2] in NO_LOOP_HANDLERS for name in names)
