"""The one walk over a module's AST for every code rule (CD2xx): :class:`Checker` keeps the scope, loop
and guard state in a :class:`~.context.Context` and hands each node to the hooks of the checks that
run, as ruff does. Each rule's check is a unit in ``units/`` and :data:`CHECKS` is the table mapping a
code to it; the checks of rules not selected are not made, so they cost nothing."""

from __future__ import annotations

import ast
from collections.abc import Callable

from ...findings import matches
from .context import Check, ClientCall, Context, Hit, Options
from .resolve import FastVisitor, Resource
from .units.async_client_across_runs import AsyncClientAcrossRuns
from .units.async_iter_sync_for import AsyncIterSyncFor
from .units.async_stream_sync_with import AsyncStreamSyncWith
from .units.delta_without_event_type import DeltaWithoutEventType
from .units.get_event_loop import GetEventLoop
from .units.helper_on_raw_stream import HelperOnRawStream
from .units.long_request_without_stream import LongRequestWithoutStream
from .units.missing_await import MissingAwait
from .units.missing_max_tokens import MissingMaxTokens
from .units.nested_asyncio_run import NestedAsyncioRun
from .units.old_httpx_object import OldHttpxObject
from .units.relay_without_anti_buffering import RelayWithoutAntiBuffering
from .units.removed_sampling_kwarg import RemovedSamplingKwarg
from .units.short_timeout import ShortTimeout
from .units.stream_kwarg_on_stream import StreamKwargOnStream
from .units.stream_without_with import StreamWithoutWith
from .units.sync_client_in_async import SyncClientInAsync
from .units.text_stream_on_message import TextStreamOnMessage

__all__ = ["CHECKS", "CHECKS_BY_RULE", "Checker", "Hit", "Options", "checks_for", "selected_rules"]

#: Every code check, in the order their hooks run at one node, which is the order their findings
#: come in (``--fix`` takes the first of two overlapping edits): a client call's checks first, then
#: the uses of results, then the checks that report once the module is walked (CD207, CD220, CD205).
CHECKS: tuple[type[Check], ...] = (
    SyncClientInAsync,  # CD201
    OldHttpxObject,  # CD218
    RemovedSamplingKwarg,  # CD219
    MissingMaxTokens,  # CD215
    StreamKwargOnStream,  # CD214
    ShortTimeout,  # CD217
    LongRequestWithoutStream,  # CD216
    MissingAwait,  # CD204
    StreamWithoutWith,  # CD213
    TextStreamOnMessage,  # CD211
    HelperOnRawStream,  # CD212
    AsyncStreamSyncWith,  # CD202
    AsyncIterSyncFor,  # CD203
    DeltaWithoutEventType,  # CD221
    NestedAsyncioRun,  # CD206
    AsyncClientAcrossRuns,  # CD207
    RelayWithoutAntiBuffering,  # CD220
    GetEventLoop,  # CD205
)

#: Each code rule's code → the checks that can report it: what ``--select`` runs, and where to look.
CHECKS_BY_RULE: dict[str, tuple[type[Check], ...]] = {
    rule.code: tuple(cls for cls in CHECKS if rule in cls.rules) for cls in CHECKS for rule in cls.rules
}

_HOOKS = (
    "on_call",
    "on_client_call",
    "on_iteration",
    "on_with_item",
    "on_expression",
    "on_attribute",
    "on_subscript",
    "on_await",
    "on_assign",
    "on_tuple",
    "guards_body",
    "finish",
)


def checks_for(codes: frozenset[str] | None) -> tuple[type[Check], ...]:
    """The checks that can report one of ``codes`` (every check for ``None``), in :data:`CHECKS` order."""
    if codes is None:
        return CHECKS
    return tuple(cls for cls in CHECKS if any(rule.code in codes for rule in cls.rules))


def selected_rules(select: list[str], ignore: list[str]) -> frozenset[str]:
    """The codes of the code rules ``select`` picks and ``ignore`` leaves (``Options.rules``): the
    commands pass their selection so that only those checks run. ``per-file-ignores`` is applied to the
    findings later, file by file."""
    return frozenset(code for code in CHECKS_BY_RULE if matches(code, select) and not matches(code, ignore))


class Checker(FastVisitor):
    """One module's code checks, those ``options.rules`` selects. ``source`` is the module's UTF-8 bytes
    (for columns and edits)."""

    def __init__(self, tree: ast.Module, source: bytes, options: Options, path: str | None = None) -> None:
        self.tree = tree
        self.ctx = Context(tree, source, options, path)
        checks = [cls() for cls in checks_for(options.rules)]
        self.hooks: dict[str, list[Callable]] = {
            name: [getattr(c, name) for c in checks if getattr(type(c), name) is not getattr(Check, name)]
            for name in _HOOKS
        }

    def run(self) -> list[Hit]:
        self._visit_body(self.tree.body)
        for finish in self.hooks["finish"]:
            finish(self.ctx)
        return self.ctx.hits

    def _call(self, hook: str, *args) -> None:
        for method in self.hooks[hook]:
            method(self.ctx, *args)

    # -- scopes --------------------------------------------------------------------------------

    def _visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def _in_scope(self, node: ast.AST, visit: Callable[[], None]) -> None:
        ctx = self.ctx
        outer, depth, guards = ctx.scope, ctx.loop_depth, ctx.guard_depth
        ctx.scope, ctx.loop_depth, ctx.guard_depth = ctx.resolver.scope_of(node), 0, 0
        visit()
        ctx.scope, ctx.loop_depth, ctx.guard_depth = outer, depth, guards

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self._in_scope(node, lambda: self._visit_body(node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for expr in [*node.args.defaults, *node.args.kw_defaults]:
            if expr is not None:
                self.visit(expr)
        self._in_scope(node, lambda: self.visit(node.body))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expr)
        self._in_scope(node, lambda: self._visit_body(node.body))

    # -- statements ----------------------------------------------------------------------------

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._call("on_iteration", node.iter, node, isinstance(node, ast.AsyncFor))
        self.visit(node.iter)
        self.visit(node.target)
        self.ctx.loop_depth += 1
        self._visit_body(node.body)
        self.ctx.loop_depth -= 1
        self._visit_body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self.ctx.loop_depth += 1
        self._visit_body(node.body)
        self.ctx.loop_depth -= 1
        self._visit_body(node.orelse)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._call("on_iteration", node.iter, node.iter, bool(node.is_async))
        self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            self._call("on_with_item", item.context_expr, node, is_async)
            self.visit(item)
        self._visit_guarded(node, node.body)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        self._visit_guarded(node, node.body)
        for part in (node.handlers, node.orelse, node.finalbody):
            self._visit_body(part)

    visit_TryStar = visit_Try

    def _visit_guarded(self, node: ast.With | ast.AsyncWith | ast.Try, body: list[ast.stmt]) -> None:
        """``body`` with :attr:`Context.guard_depth` one deeper when a check says ``node`` guards it."""
        guarded = any(guards(self.ctx, node) for guards in self.hooks["guards_body"])
        self.ctx.guard_depth += guarded
        self._visit_body(body)
        self.ctx.guard_depth -= guarded

    def visit_Expr(self, node: ast.Expr) -> None:
        self._call("on_expression", node)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        self._call("on_assign", node)

    # -- expressions ---------------------------------------------------------------------------

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self.generic_visit(node)
        self._call("on_tuple", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._call("on_attribute", node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._call("on_subscript", node)
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self._call("on_await", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if not (self.hooks["on_call"] or self.hooks["on_client_call"]):
            self.generic_visit(node)
            return
        func = self.ctx.value(node.func)
        if isinstance(func, Resource) and self.hooks["on_client_call"]:
            call = ClientCall(node, func)
            self._call("on_client_call", call)
        self._call("on_call", node, func)
        self.generic_visit(node)
