"""CD207 async-client-across-runs: one async client used by the coroutines of more than one
``asyncio.run(...)`` (or of one run inside a loop), found once the whole module is known."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from .. import rules
from ..context import Check, Context, Need
from ..resolve import Client, Function, Scope, Value
from .nested_asyncio_run import ASYNCIO_RUN, is_asyncio_run, loop_is_running


@dataclass
class _Run:
    call: ast.Call
    scope: Scope
    in_loop: bool


class AsyncClientAcrossRuns(Check):
    rules = (rules.ASYNC_CLIENT_ACROSS_RUNS,)
    need = Need(ASYNCIO_RUN.modules, ASYNCIO_RUN.words, client=True)

    def __init__(self) -> None:
        self.runs: list[_Run] = []

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        if is_asyncio_run(func) and not loop_is_running(ctx):  # a nested run is CD206's
            self.runs.append(_Run(node, ctx.scope, ctx.loop_depth > 0))

    def finish(self, ctx: Context) -> None:
        seen: dict[int, int] = {}  # id(client origin) -> line of the first run using it
        for run in sorted(self.runs, key=lambda r: (r.call.lineno, r.call.col_offset)):
            clients = _clients_of_run(ctx, run)
            shared = [c for c in clients if id(c.origin) in seen]
            if shared:
                client = shared[0]
                ctx.report(
                    rules.ASYNC_CLIENT_ACROSS_RUNS,
                    run.call,
                    f"this `asyncio.run` reuses the `{client.class_name}` client created on line "
                    f"{client.origin.lineno}, already used by the `asyncio.run` on line {seen[id(client.origin)]}; "
                    "its pooled connections belong to the closed loop",
                    fix="Do all the work inside one `asyncio.run(main())`, or create the client inside the coroutine.",
                )
            elif clients and run.in_loop:
                client = clients[0]
                ctx.report(
                    rules.ASYNC_CLIENT_ACROSS_RUNS,
                    run.call,
                    f"this `asyncio.run` runs once per loop iteration and reuses the `{client.class_name}` client "
                    f"created on line {client.origin.lineno} each time; its pooled connections belong to the first, "
                    "closed loop",
                    fix="Loop inside one coroutine and call `asyncio.run(main())` once, or create the client "
                    "inside the coroutine.",
                )
            for client in clients:
                seen.setdefault(id(client.origin), run.call.lineno)


def _clients_of_run(ctx: Context, run: _Run) -> list[Client]:
    if not run.call.args or not isinstance(run.call.args[0], ast.Call):
        return []
    coroutine = run.call.args[0]
    found: dict[int, Client] = {}
    for arg in [*coroutine.args, *(k.value for k in coroutine.keywords)]:
        _add_client(found, ctx.resolver.value(arg, run.scope), None)
    function = ctx.resolver.value(coroutine.func, run.scope)
    if isinstance(function, Function) and isinstance(function.node, ast.AsyncFunctionDef):
        _collect_clients(ctx, function.node, found, depth=3, visited=set())
    return list(found.values())


def _collect_clients(ctx: Context, node: ast.AST, found: dict[int, Client], depth: int, visited: set[int]) -> None:
    """Async clients a function uses that were created outside it (module globals, closures)."""
    if id(node) in visited:
        return
    visited.add(id(node))
    scopes = ctx.resolver.scopes
    for child, scope in _names_and_calls(node, scopes[id(node)], scopes):
        value = ctx.resolver.value(child, scope)
        if isinstance(child, ast.Name):
            _add_client(found, value, node)
        elif depth > 1:
            func = ctx.resolver.value(child.func, scope)
            if isinstance(func, Function):
                _collect_clients(ctx, func.node, found, depth - 1, visited)


def _add_client(found: dict[int, Client], value: Value | None, inside: ast.AST | None) -> None:
    if not isinstance(value, Client) or not value.is_async or value.origin is None:
        return
    if inside is not None and inside.lineno <= value.origin.lineno <= inside.end_lineno:
        return
    found.setdefault(id(value.origin), value)


def _names_and_calls(node: ast.AST, scope: Scope, scopes: dict[int, Scope]) -> Iterator[tuple[ast.expr, Scope]]:
    """Every loaded ``Name`` and every ``Call`` under ``node``, each with the scope it is evaluated in."""
    stack: list[tuple[ast.AST, Scope]] = [(child, scope) for child in ast.iter_child_nodes(node)]
    while stack:
        child, where = stack.pop()
        if (isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)) or isinstance(child, ast.Call):
            yield child, where
        inner = where
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            inner = scopes.get(id(child), where)
        stack.extend((grandchild, inner) for grandchild in ast.iter_child_nodes(child))
