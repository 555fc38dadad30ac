"""The CD2xx visitor: walks one module's AST with :class:`~.resolve.Resolver` at hand and reports
only what the resolver proves. Each hit carries byte-offset edits when the fix is mechanical."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...findings import Rule
from ...sdk_limits import NONSTREAMING_MAX, OPUS_4_NONSTREAMING_MAX, refuses_without_streaming
from . import rules
from .project import Project
from .resolve import (
    Client,
    Const,
    Coroutine,
    FastVisitor,
    Function,
    Instance,
    Resolver,
    Resource,
    Result,
    Scope,
    Sym,
    dotted,
    has_star_kwargs,
    keyword,
    streams,
)

SAMPLING_KWARGS = ("temperature", "top_p", "top_k")
MESSAGE_HELPERS = frozenset({"text_stream", "get_final_message", "get_final_text", "until_done"})
RAW_STREAM_HELPERS = MESSAGE_HELPERS | {"current_message_snapshot", "content"}
MANAGER_PROTOCOL = frozenset({"__enter__", "__exit__", "__aenter__", "__aexit__"})
EVENT_STREAM = "text/event-stream"
#: Loop methods that need the loop ``get_event_loop()`` returned: the use CD205 is about.
LOOP_RUNNERS = frozenset({"run_until_complete", "run_forever"})
#: Exceptions whose handler means the code expects ``get_event_loop()`` to fail without a loop.
NO_LOOP_HANDLERS = frozenset({"RuntimeError", "Exception", "BaseException"})


@dataclass(frozen=True)
class Options:
    """What the checks depend on besides the source: config and the installed SDK."""

    min_timeout: float = 60.0
    sdk_major: int | None = None  #: major version of the installed ``anthropic``; None when unknown
    notebook: bool = False
    project: Project | None = field(default=None, compare=False)  #: clients other checked modules hand out


@dataclass
class Hit:
    """A finding before it has a path: ``line`` is 1-based, ``col`` a UTF-8 byte offset, and
    ``edits`` are ``(start, end, text)`` byte ranges of the module source for ``--fix``."""

    rule: Rule
    line: int
    col: int
    message: str
    fix: str | None = None
    edits: tuple[tuple[int, int, str], ...] = ()


@dataclass
class _Relay:
    """A response object that may serve ``text/event-stream`` (CD220), checked at the end."""

    call: ast.Call
    content_type_kwargs: tuple[str, ...]
    scope: Scope
    var: str | None = None  #: the name the response is assigned to, for later header writes
    extra: list[tuple[str | None, str | None]] = field(default_factory=list)  #: Flask ``(body, status, headers)``


@dataclass
class _Run:
    """An ``asyncio.run(...)`` call (CD207)."""

    call: ast.Call
    scope: Scope
    in_loop: bool
    clients: dict[int, Client] = field(default_factory=dict)


class Checker(FastVisitor):
    """One module's CD2xx checks. ``source`` is the module's UTF-8 bytes (for columns and edits)."""

    def __init__(self, tree: ast.Module, source: bytes, options: Options, path: str | None = None) -> None:
        self.tree = tree
        self.source = source
        self.options = options
        importer = str(Path(path).resolve()) if path and options.project else None
        self.resolver = Resolver(tree, options.project, importer)
        self.scope = self.resolver.module
        self.loop_depth = 0
        self.hits: list[Hit] = []
        self._reported: set[tuple[str, int]] = set()
        self._line_starts = _line_starts(source)
        self._relays: list[_Relay] = []
        self._header_writes: dict[tuple[int, str], list[tuple[str | None, str | None]]] = {}
        self._runs: list[_Run] = []
        self.guard_depth = 0  #: how many enclosing ``try``/``suppress`` blocks handle RuntimeError
        self._loops: dict[int, ast.Call] = {}  #: unguarded ``get_event_loop()`` calls outside coroutines
        self._loop_runs: dict[int, list[ast.Call]] = {}  #: id of such a call -> the loop.run_…(…) calls on it

    # -- driving -------------------------------------------------------------------------------

    def run(self) -> list[Hit]:
        self._visit_body(self.tree.body)
        self._check_runs()
        self._check_relays()
        self._check_event_loops()
        return self.hits

    def _visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def _in_scope(self, node: ast.AST, visit) -> None:
        outer, depth, guards = self.scope, self.loop_depth, self.guard_depth
        self.scope, self.loop_depth, self.guard_depth = self.resolver.scope_of(node), 0, 0
        visit()
        self.scope, self.loop_depth, self.guard_depth = outer, depth, guards

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

    @property
    def in_async(self) -> bool:
        """Whether the innermost enclosing function is an ``async def`` (a lambda or nested ``def`` is not)."""
        function = self.scope.function()
        return function is not None and function.is_async

    def value(self, expr: ast.expr):
        return self.resolver.value(expr, self.scope)

    # -- reporting -----------------------------------------------------------------------------

    def report(self, rule: Rule, node: ast.AST, message: str, fix: str | None = None, edits=()) -> None:
        key = (rule.code, id(node))
        if key in self._reported:
            return
        self._reported.add(key)
        self.hits.append(Hit(rule, node.lineno, node.col_offset, message, fix, tuple(edits)))

    def offset(self, line: int, col: int) -> int:
        return self._line_starts[line - 1] + col

    def segment(self, node: ast.AST) -> str:
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno, node.end_col_offset)
        return self.source[start:end].decode("utf-8", "replace")

    def first_line(self, node: ast.AST) -> str:
        """The node's source up to the end of its first line, for messages."""
        text = self.segment(node).split("\n", 1)
        return text[0] + (" …" if len(text) > 1 else "")

    def line_text(self, node: ast.AST) -> str:
        start = self._line_starts[node.lineno - 1]
        end = self.source.find(b"\n", start)
        return self.source[start : end if end >= 0 else len(self.source)].decode("utf-8", "replace").strip()

    # -- statements ----------------------------------------------------------------------------

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._check_iteration(node.iter, node, is_async=isinstance(node, ast.AsyncFor))
        self.visit(node.iter)
        self.visit(node.target)
        self.loop_depth += 1
        self._visit_body(node.body)
        self.loop_depth -= 1
        self._visit_body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self.loop_depth += 1
        self._visit_body(node.body)
        self.loop_depth -= 1
        self._visit_body(node.orelse)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._check_iteration(node.iter, node.iter, is_async=bool(node.is_async))
        self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        is_async = isinstance(node, ast.AsyncWith)
        for item in node.items:
            self._check_with_item(item.context_expr, node, is_async)
            self.visit(item)
        guarded = any(self._suppresses_no_loop(item.context_expr) for item in node.items)
        self._visit_guarded(node.body, guarded)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        self._visit_guarded(node.body, any(_handles_no_loop(h.type) for h in node.handlers))
        for part in (node.handlers, node.orelse, node.finalbody):
            self._visit_body(part)

    visit_TryStar = visit_Try

    def _visit_guarded(self, body: list[ast.stmt], guarded: bool) -> None:
        self.guard_depth += guarded
        self._visit_body(body)
        self.guard_depth -= guarded

    def _suppresses_no_loop(self, expr: ast.expr) -> bool:
        """``with contextlib.suppress(RuntimeError):`` (or a broader exception)."""
        if not isinstance(expr, ast.Call):
            return False
        func = self.value(expr.func)
        return (
            isinstance(func, Sym)
            and func.qualname == "contextlib.suppress"
            and any(_handles_no_loop(arg) for arg in expr.args)
        )

    def visit_Expr(self, node: ast.Expr) -> None:
        value = self.value(node.value) if isinstance(node.value, ast.Call) else None
        if isinstance(value, Coroutine) and value.call is not None:
            self._missing_await(node.value, value.call, "its result is discarded, so no request is sent")
        elif isinstance(value, Result) and value.kind == "manager":
            self._stream_without_with(node.value, node.value, "the call's result is discarded: no request is sent")
        if isinstance(node.value, ast.Call):
            self._record_header_update(node.value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
            for relay in self._relays:
                if relay.call is node.value:
                    relay.var = node.targets[0].id
        for target in node.targets:
            self._record_header_write(target, node.value)

    def visit_Tuple(self, node: ast.Tuple) -> None:
        """Flask's ``return Response(...), 200, {headers}`` adds headers to the response."""
        self.generic_visit(node)
        relay = next((r for r in self._relays if node.elts and r.call is node.elts[0]), None)
        if relay is None:
            return
        for element in node.elts[1:]:
            if isinstance(element, ast.Constant):
                continue
            pairs = self._dict_pairs(element)
            relay.extra.extend(pairs.items() if pairs is not None else [(None, None)])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._check_attribute_use(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        value = self.value(node.value)
        if isinstance(value, Coroutine) and value.call is not None:
            self._missing_await(node.value, value.call, "it is subscripted")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        value = self.value(node.value)
        if isinstance(value, Result) and value.kind == "manager":
            self._stream_without_with(node.value, value.call, "it is awaited")
        self.generic_visit(node)

    # -- uses of results -----------------------------------------------------------------------

    def _check_iteration(self, iterable: ast.expr, where: ast.AST, *, is_async: bool) -> None:
        value = self.value(iterable)
        if isinstance(value, Coroutine) and value.call is not None:
            self._missing_await(iterable, value.call, "it is iterated")
        elif not isinstance(value, Result):
            return
        elif value.kind == "manager":
            self._stream_without_with(iterable, value.call, "it is iterated")
        elif value.kind == "message":
            self._on_message(where, value, "iterated", "yields (field, value) tuples, not events")
        elif value.client.is_async and not is_async and value.kind in ("stream", "text_stream", "raw_stream"):
            self._sync_for(where, iterable, value)

    def _check_with_item(self, expr: ast.expr, node: ast.With | ast.AsyncWith, is_async: bool) -> None:
        value = self.value(expr)
        if isinstance(value, Coroutine) and value.call is not None:
            self._missing_await(expr, value.call, "it is used in `with`")
        elif isinstance(value, Result) and value.kind == "message":
            self._on_message(node, value, "used in `with`", "is not a context manager")
        elif isinstance(value, Result) and value.kind == "manager" and value.client.is_async and not is_async:
            self._sync_with(node, expr, value)

    def _check_attribute_use(self, node: ast.Attribute) -> None:
        value = self.value(node.value)
        if isinstance(value, Coroutine) and value.call is not None:
            self._missing_await(node.value, value.call, f"`.{node.attr}` is read from it")
        elif not isinstance(value, Result):
            return
        elif value.kind == "manager" and node.attr not in MANAGER_PROTOCOL:
            self._stream_without_with(node.value, value.call, f"`.{node.attr}` is read from it")
        elif value.kind == "message" and node.attr in MESSAGE_HELPERS:
            self._on_message(node, value, f"asked for `.{node.attr}`", "has no such attribute")
        elif value.kind == "raw_stream" and node.attr in RAW_STREAM_HELPERS:
            self._helper_on_raw_stream(node, value)

    def _missing_await(self, expr: ast.expr, call: ast.Call, how: str) -> None:
        shown = self.first_line(call)
        if expr is call:
            message = f"`{shown}` on an AsyncAnthropic client is not awaited; {how}"
            fix = f"Await it: `await {shown}`."
        else:
            name = self.segment(expr)
            message = f"`{name}` holds the un-awaited coroutine of `{shown}` (line {call.lineno}); {how}"
            fix = f"Await the call: `{name} = await {shown}`."
        self.report(rules.MISSING_AWAIT, expr, message, fix=fix)

    def _stream_without_with(self, use: ast.expr, call: ast.Call, how: str) -> None:
        value = self.value(call)
        keyword_ = "async with" if isinstance(value, Result) and value.client.is_async else "with"
        self.report(
            rules.STREAM_WITHOUT_WITH,
            use,
            f"`messages.stream(...)` (line {call.lineno}) is used without `{keyword_}`: {how}",
            fix=f"Enter it: `{keyword_} {self.first_line(call)} as stream:` and use `stream` inside the block.",
        )

    def _on_message(self, node: ast.AST, value: Result, how: str, outcome: str) -> None:
        self.report(
            rules.TEXT_STREAM_ON_MESSAGE,
            node,
            f"the result of `create(...)` on line {value.call.lineno} has no `stream=True`, so it is a "
            f"`Message` (not a stream) and is {how}: it {outcome}",
            fix="Stream it with `with client.messages.stream(...) as stream:` and `stream.text_stream`, "
            "or read `message.content` instead.",
        )

    def _helper_on_raw_stream(self, node: ast.Attribute, value: Result) -> None:
        kind = "AsyncStream" if value.client.is_async else "Stream"
        self.report(
            rules.HELPER_ON_RAW_STREAM,
            node,
            f"`.{node.attr}` on the raw `{kind}` from `create(..., stream=True)` on line {value.call.lineno}: "
            "only `messages.stream()` gives a `MessageStream` with that helper",
            fix=f"Use `{'async with' if value.client.is_async else 'with'} client.messages.stream(...) as stream:` "
            f"and `stream.{node.attr}`, or read `event.delta.text` from the raw events.",
        )

    def _sync_with(self, node: ast.With, expr: ast.expr, value: Result) -> None:
        edits = [self._insert_async(node)] if self.in_async else []
        self.report(
            rules.ASYNC_STREAM_SYNC_WITH,
            node,
            f"`with` over `{self.first_line(expr)}` from an `{value.client.class_name}` client: it needs `async with`",
            fix=f"`async {self.line_text(node)}`",
            edits=edits,
        )

    def _sync_for(self, where: ast.AST, iterable: ast.expr, value: Result) -> None:
        what = {
            "stream": "an async MessageStream",
            "text_stream": "an async `text_stream`",
            "raw_stream": "an `AsyncStream`",
        }[value.kind]
        is_statement = isinstance(where, ast.For)
        edits = [self._insert_async(where)] if is_statement and self.in_async else []
        fix = f"`async {self.line_text(where)}`" if is_statement else "Use `async for` in the comprehension."
        self.report(
            rules.ASYNC_ITER_SYNC_FOR,
            where,
            f"`for` over `{self.segment(iterable)}`, {what}: it needs `async for`",
            fix=fix,
            edits=edits,
        )

    def _insert_async(self, node: ast.stmt) -> tuple[int, int, str]:
        start = self.offset(node.lineno, node.col_offset)
        return (start, start, "async ")

    # -- calls ---------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = self.value(node.func)
        if isinstance(func, Resource):
            self._check_client_call(node, func)
        elif isinstance(func, Sym):
            self._check_symbol_call(node, func.qualname)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in LOOP_RUNNERS:
            self._record_loop_run(node, node.func.value)
        self.generic_visit(node)

    def _check_symbol_call(self, node: ast.Call, qualname: str) -> None:
        if qualname == "asyncio.get_event_loop":
            if not self.in_async and not self.guard_depth:
                self._loops[id(node)] = node
        elif qualname == "asyncio.run":
            self._check_asyncio_run(node)
        value = self.value(node)
        if isinstance(value, Client):
            self._check_httpx_objects(node, ("timeout", "http_client"), value.class_name)
        content_type_kwargs = _relay_class(qualname)
        if content_type_kwargs is not None:
            self._relays.append(_Relay(node, content_type_kwargs, self.scope))

    def _check_asyncio_run(self, node: ast.Call) -> None:
        coroutine = self.segment(node.args[0]) if node.args else "main()"
        if self.in_async:
            self.report(
                rules.NESTED_ASYNCIO_RUN,
                node,
                "`asyncio.run(...)` inside `async def`: a loop is already running",
                fix=f"Await the coroutine instead: `await {coroutine}`.",
            )
        elif self.options.notebook and self.scope.kind == "module":
            self.report(
                rules.NESTED_ASYNCIO_RUN,
                node,
                "`asyncio.run(...)` in a notebook cell: its loop is already running",
                fix=f"Use top-level await in the cell: `await {coroutine}`.",
            )
        else:
            self._runs.append(_Run(node, self.scope, self.loop_depth > 0))

    def _check_client_call(self, node: ast.Call, func: Resource) -> None:
        client = func.client
        method = func.path[-1]
        if not client.is_async and self.in_async and method not in ("with_options", "copy"):
            self._sync_client_in_async(node, func)
        if len(func.path) == 1 and method in ("with_options", "copy"):
            self._check_httpx_objects(node, ("timeout", "http_client"), client.class_name)
            return
        is_stream = func.is_messages("stream")
        is_create = func.is_messages("create") or func.is_messages("parse")
        if not (is_stream or is_create or func.is_messages("count_tokens")):
            return
        self._check_httpx_objects(node, ("timeout",), client.class_name)
        self._check_sampling_kwargs(node, "stream" if is_stream else method)
        if is_stream or is_create:
            self._check_max_tokens(node)
        if is_stream:
            self._check_stream_kwarg(node)
        if is_stream or (func.is_messages("create") and streams(node)):
            self._check_timeout(node, client)
        elif is_create and streams(node) is False:
            self._check_long_request(node, client)

    def _sync_client_in_async(self, node: ast.Call, func: Resource) -> None:
        client = func.client
        where = f" (created on line {client.origin.lineno})" if client.origin is not None else ""
        function = self.scope.function()
        name = getattr(function.node, "name", "<lambda>") if function else "?"
        async_name = "Async" + client.class_name if client.class_name != "Client" else "AsyncAnthropic"
        self.report(
            rules.SYNC_CLIENT_IN_ASYNC,
            node,
            f"sync `{client.class_name}` client{where} calls `{'.'.join(func.path)}(...)` inside `async def {name}`: "
            "it blocks the event loop for the whole request",
            fix=f"Use `{async_name}` and `await` it (`async with` for `messages.stream`), or "
            f"`await asyncio.to_thread(...)` for the sync call.",
        )

    def _check_max_tokens(self, node: ast.Call) -> None:
        if keyword(node, "max_tokens") or has_star_kwargs(node) or node.args:
            return
        self.report(
            rules.MISSING_MAX_TOKENS,
            node,
            f"`{self.first_line(node)}` has no `max_tokens`",
            fix="Add `max_tokens=1024` (or the most tokens the answer may use).",
        )

    def _check_stream_kwarg(self, node: ast.Call) -> None:
        stream = keyword(node, "stream")
        if stream is None:
            return
        edit = self._remove_keyword(node, stream)
        self.report(
            rules.STREAM_KWARG_ON_STREAM,
            node,
            f"`messages.stream(...)` is given `{self.segment(stream)}`; it always streams, no `stream` argument",
            fix=f"Remove `{self.segment(stream)}`.",
            edits=[edit] if edit else [],
        )

    def _check_long_request(self, node: ast.Call, client: Client) -> None:
        if keyword(node, "timeout") or client.timeout is not None or not client.timeout_known:
            return
        found = self.resolver.number(getattr(keyword(node, "max_tokens"), "value", None), self.scope)
        if found is None:
            return
        max_tokens = int(found[0])
        model = self.resolver.string(getattr(keyword(node, "model"), "value", None), self.scope)
        if not refuses_without_streaming(model, max_tokens):
            return
        if max_tokens >= NONSTREAMING_MAX:
            reason = f"`max_tokens={max_tokens}` is at least {NONSTREAMING_MAX:,}"
        else:
            reason = f"`max_tokens={max_tokens}` is above {OPUS_4_NONSTREAMING_MAX:,} for `{model}`"
        self.report(
            rules.LONG_REQUEST_WITHOUT_STREAM,
            node,
            f"non-streaming `create(...)` with {reason}: the SDK raises "
            '"ValueError: Streaming is required for operations that may take longer than 10 minutes"',
            fix="Use `with client.messages.stream(...) as stream:` and `stream.get_final_message()`, "
            "or pass `stream=True`.",
        )

    def _check_timeout(self, node: ast.Call, client: Client) -> None:
        own = keyword(node, "timeout")
        if own is not None:
            found = self.resolver.read_timeout(own.value, self.scope)
        elif client.timeout is not None and client.scope is not None:
            found = self.resolver.read_timeout(client.timeout, client.scope)
        else:
            return
        if found is None or found[0] >= self.options.min_timeout:
            return
        seconds, where = found
        shown = f"{seconds:g}"
        self.report(
            rules.SHORT_TIMEOUT,
            where,
            f"read timeout of {shown} s on a {'call' if own is not None else 'client'} that streams "
            f"(`messages.stream`/`stream=True` on line {node.lineno}); below min-timeout "
            f"{self.options.min_timeout:g} s, a pause longer than that kills the stream with httpx2.ReadTimeout",
            fix="Keep the read timeout at 60 s or more and limit only connecting: "
            "`timeout=httpx2.Timeout(600, connect=5)`.",
        )

    def _check_httpx_objects(self, node: ast.Call, names: tuple[str, ...], class_name: str) -> None:
        if not self.options.sdk_major or self.options.sdk_major < 1:
            return
        for name in names:
            arg = keyword(node, name)
            value = self.value(arg.value) if arg else None
            qualname = getattr(value, "qualname", "")
            if not qualname.startswith("httpx."):
                continue
            fixed = "httpx2." + qualname.split(".", 1)[1]
            self.report(
                rules.OLD_HTTPX_OBJECT,
                arg.value,
                f"`{name}=` gets an `{qualname}` object, but anthropic {self.options.sdk_major}.x ({class_name}) "
                f'uses `httpx2`: "TypeError: Invalid `{name}` argument; `{qualname}` is from the `httpx` package"',
                fix=f"Use `{fixed}` (`import httpx2`) instead of `{qualname}`.",
            )

    def _check_sampling_kwargs(self, node: ast.Call, method: str) -> None:
        if not self.options.sdk_major or self.options.sdk_major < 1:
            return
        found = [k for k in node.keywords if k.arg in SAMPLING_KWARGS]
        if not found:
            return
        entries = ", ".join(f'"{k.arg}": {self.segment(k.value)}' for k in found)
        names = ", ".join(f"`{k.arg}`" for k in found)
        self.report(
            rules.REMOVED_SAMPLING_KWARG,
            node,
            f"{names} passed as keyword to `{method}(...)`; anthropic {self.options.sdk_major}.x raises "
            f"\"TypeError: Messages.{method}() got an unexpected keyword argument '{found[0].arg}'\"",
            fix=f"Pass them in the body: `extra_body={{{entries}}}`.",
            edits=self._sampling_edits(node, found),
        )

    # -- CD219/CD214 edits ---------------------------------------------------------------------

    def _sampling_edits(self, node: ast.Call, found: list[ast.keyword]) -> list[tuple[int, int, str]]:
        """All of ``found`` moved into one ``extra_body``: the last becomes ``extra_body={...}`` (or
        they join an ``extra_body`` dict literal) and the others are deleted, each with its own comma,
        so no two edits overlap. No edits beside a ``**kwargs``, which may hold an ``extra_body`` already."""
        entries = [f'"{k.arg}": {self.segment(k.value)}' for k in found]
        extra = keyword(node, "extra_body")
        if any(k.arg is None for k in node.keywords):
            return []
        if extra is None:
            *removed, last = found
            start = self.offset(last.lineno, last.col_offset)
            end = self.offset(last.end_lineno, last.end_col_offset)
            edits = [(start, end, "extra_body={" + ", ".join(entries) + "}")]
        elif isinstance(extra.value, ast.Dict) and None not in extra.value.keys:
            removed = found
            edits = [self._dict_insert(extra.value, entries)]
        else:
            return []
        arguments = sorted([*node.args, *node.keywords], key=lambda a: (a.lineno, a.col_offset))
        at_end = []
        for argument in reversed(arguments):
            if argument not in removed:
                break
            at_end.append(argument)
        removals = [self._remove_keyword(node, k, comma_before=k in at_end) for k in removed]
        if any(r is None for r in removals):
            return []
        return edits + removals

    def _dict_insert(self, node: ast.Dict, entries: list[str]) -> tuple[int, int, str]:
        close = self.offset(node.end_lineno, node.end_col_offset) - 1
        before = close - 1
        while before > 0 and self.source[before : before + 1] in b" \t\r\n":
            before -= 1
        needs_comma = self.source[before : before + 1] not in (b",", b"{")
        return (before + 1, before + 1, (", " if needs_comma else "") + ", ".join(entries))

    def _remove_keyword(
        self, call: ast.Call, kw: ast.keyword, comma_before: bool = False
    ) -> tuple[int, int, str] | None:
        """The edit deleting ``kw`` and one adjacent comma: the one after it (the whole line, with its
        comment, when the keyword sits alone on it), else the one before. ``comma_before`` when every
        argument after ``kw`` goes too: each then takes the comma before it, and the edits stay apart."""
        src = self.source
        start = self.offset(kw.lineno, kw.col_offset)
        end = self.offset(kw.end_lineno, kw.end_col_offset)
        after = end
        while src[after : after + 1] in (b" ", b"\t"):
            after += 1
        if src[after : after + 1] == b"," and not comma_before:
            after += 1
            line_start = self._line_starts[kw.lineno - 1]
            rest_end = src.find(b"\n", after)
            rest = src[after : rest_end if rest_end >= 0 else len(src)]
            if not src[line_start:start].strip() and (not rest.strip() or rest.lstrip().startswith(b"#")):
                return (line_start, rest_end + 1 if rest_end >= 0 else len(src), "")
            while src[after : after + 1] in (b" ", b"\t"):
                after += 1
            return (start, after, "")
        before = start
        while before > 0 and src[before - 1 : before] in b" \t\r\n":
            before -= 1
        if src[before - 1 : before] == b",":
            return (before - 1, end, "")
        if src[before - 1 : before] == b"(":
            return (start, after, "")
        return None

    # -- CD205: a loop from get_event_loop() outside a coroutine, then run -----------------------

    def _record_loop_run(self, node: ast.Call, loop: ast.expr) -> None:
        """``loop.run_until_complete(...)``: every ``get_event_loop()`` the name may hold (one per branch)."""
        named = isinstance(loop, ast.Name)
        for value in self.resolver.candidates(loop.id, self.scope) if named else [self.value(loop)]:
            if isinstance(value, Instance) and value.qualname == "asyncio.get_event_loop":
                self._loop_runs.setdefault(id(value.call), []).append(node)

    def _check_event_loops(self) -> None:
        """CD205 only where the loop is then run: fetching one to save and restore it (test fixtures),
        or under ``except RuntimeError``, is the code handling the no-loop case on purpose."""
        for key, call in self._loops.items():
            runs = self._loop_runs.get(key)
            if not runs:
                continue
            run = min(runs, key=lambda r: (r.lineno < call.lineno, r.lineno))  # the next one after the call
            self.report(
                rules.GET_EVENT_LOOP,
                call,
                f"`asyncio.get_event_loop()` outside a coroutine, and its loop is run by `.{run.func.attr}(...)` "
                f"on line {run.lineno}: with no current loop Python 3.14 raises RuntimeError (3.12-3.13 warn)",
                fix="Use `asyncio.run(main())`; inside a coroutine, `asyncio.get_running_loop()`.",
            )

    # -- CD207: one AsyncAnthropic across asyncio.run calls -------------------------------------

    def _check_runs(self) -> None:
        seen: dict[int, int] = {}  # id(client origin) -> line of the first run using it
        for run in sorted(self._runs, key=lambda r: (r.call.lineno, r.call.col_offset)):
            clients = self._clients_of_run(run)
            shared = [c for c in clients if id(c.origin) in seen]
            if shared:
                client = shared[0]
                self.report(
                    rules.ASYNC_CLIENT_ACROSS_RUNS,
                    run.call,
                    f"this `asyncio.run` reuses the `{client.class_name}` client created on line "
                    f"{client.origin.lineno}, already used by the `asyncio.run` on line {seen[id(client.origin)]}; "
                    "its pooled connections belong to the closed loop",
                    fix="Do all the work inside one `asyncio.run(main())`, or create the client inside the coroutine.",
                )
            elif clients and run.in_loop:
                client = clients[0]
                self.report(
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

    def _clients_of_run(self, run: _Run) -> list[Client]:
        if not run.call.args or not isinstance(run.call.args[0], ast.Call):
            return []
        coroutine = run.call.args[0]
        found: dict[int, Client] = {}
        for arg in [*coroutine.args, *(k.value for k in coroutine.keywords)]:
            self._add_client(found, self.resolver.value(arg, run.scope), None)
        function = self.resolver.value(coroutine.func, run.scope)
        if isinstance(function, Function) and isinstance(function.node, ast.AsyncFunctionDef):
            self._collect_clients(function.node, found, depth=3, visited=set())
        return list(found.values())

    def _collect_clients(self, node: ast.AST, found: dict[int, Client], depth: int, visited: set[int]) -> None:
        """Async clients a function uses that were created outside it (module globals, closures)."""
        if id(node) in visited:
            return
        visited.add(id(node))
        scopes = self.resolver.scopes
        for child, scope in _names_and_calls(node, scopes[id(node)], scopes):
            value = self.resolver.value(child, scope)
            if isinstance(child, ast.Name):
                self._add_client(found, value, node)
            elif depth > 1:
                func = self.resolver.value(child.func, scope)
                if isinstance(func, Function):
                    self._collect_clients(func.node, found, depth - 1, visited)

    @staticmethod
    def _add_client(found: dict[int, Client], value, inside: ast.AST | None) -> None:
        if not isinstance(value, Client) or not value.is_async or value.origin is None:
            return
        if inside is not None and inside.lineno <= value.origin.lineno <= inside.end_lineno:
            return
        found.setdefault(id(value.origin), value)

    # -- CD220: relaying text/event-stream without anti-buffering headers -----------------------

    def _record_header_write(self, target: ast.expr, value: ast.expr) -> None:
        """``resp.headers["X"] = v``, ``resp["X"] = v`` (Django) and ``resp.content_type = v``."""
        if isinstance(target, ast.Subscript):
            owner = target.value.value if isinstance(target.value, ast.Attribute) else target.value
            if isinstance(owner, ast.Name):
                key = self.resolver.string(target.slice, self.scope)
                self._write_header(owner.id, key, value)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.attr in ("content_type", "mimetype")
        ):
            self._write_header(target.value.id, "content-type", value)

    def _record_header_update(self, call: ast.Call) -> None:
        """``resp.headers.update({...})`` or ``headers.update({...})``: every literal key, or an unknown write."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "update"):
            return
        owner = func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "headers":
            owner = owner.value
        if not isinstance(owner, ast.Name):
            return
        pairs = self._dict_pairs(call.args[0]) if len(call.args) == 1 and not call.keywords else None
        if pairs is None:
            self._header_writes.setdefault((id(self.scope), owner.id), []).append((None, None))
            return
        for key, value in pairs.items():
            self._header_writes.setdefault((id(self.scope), owner.id), []).append((key, value))

    def _write_header(self, name: str, key: str | None, value: ast.expr) -> None:
        text = self.resolver.string(value, self.scope)
        writes = self._header_writes.setdefault((id(self.scope), name), [])
        writes.append((key.lower() if key else None, text))

    def _dict_pairs(self, expr: ast.expr, scope: Scope | None = None) -> dict[str, str | None] | None:
        """A headers dict's literal keys (lower-cased) and string values; ``None`` if not provable."""
        value = self.resolver.value(expr, scope or self.scope)
        if not isinstance(value, Const) or not isinstance(value.node, ast.Dict):
            return None
        pairs: dict[str, str | None] = {}
        for key, item in zip(value.node.keys, value.node.values):
            key_text = self.resolver.string(key, scope or self.scope) if key is not None else None
            if key_text is None:
                return None
            pairs[key_text.lower()] = self.resolver.string(item, scope or self.scope)
        return pairs

    def _check_relays(self) -> None:
        for relay in self._relays:
            headers = self._relay_headers(relay)
            if headers is None:
                continue
            if EVENT_STREAM not in self._content_type(relay, headers).lower():
                continue
            missing = _missing_anti_buffering(headers)
            if missing:
                self._report_relay(relay, missing)

    def _content_type(self, relay: _Relay, headers: dict[str, str | None]) -> str:
        for name in relay.content_type_kwargs:
            arg = keyword(relay.call, name)
            if arg is not None:
                return self.resolver.string(arg.value, relay.scope) or ""
        return headers.get("content-type") or ""

    def _relay_headers(self, relay: _Relay) -> dict[str, str | None] | None:
        arg = keyword(relay.call, "headers")
        headers = self._dict_pairs(arg.value, relay.scope) if arg else {}
        if headers is None or has_star_kwargs(relay.call):
            return None
        writes = [*self._header_writes.get((id(relay.scope), relay.var or "\0"), []), *relay.extra]
        if arg is not None and isinstance(arg.value, ast.Name):
            writes += [w for (_, name), found in self._header_writes.items() if name == arg.value.id for w in found]
        for key, value in writes:
            if key is None:
                return None
            headers[key] = value
        return headers

    def _report_relay(self, relay: _Relay, missing: list[str]) -> None:
        self.hits.append(
            Hit(
                rules.RELAY_WITHOUT_ANTI_BUFFERING,
                relay.call.lineno,
                relay.call.col_offset,
                f"`{self.first_line(relay.call)}` serves text/event-stream without {' and '.join(missing)}: "
                "nginx-style proxies buffer the events and deliver them all at once",
                fix='Add `headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}` to the response.',
            )
        )


def _handles_no_loop(handler: ast.expr | None) -> bool:
    """Whether an ``except`` clause's type (``None`` for a bare ``except:``) catches RuntimeError."""
    if handler is None:
        return True
    names = handler.elts if isinstance(handler, ast.Tuple) else [handler]
    return any((dotted(name) or "").rpartition(".")[2] in NO_LOOP_HANDLERS for name in names)


def _relay_class(qualname: str) -> tuple[str, ...] | None:
    """The content-type keyword names of a web framework's response class, or ``None``."""
    root = qualname.partition(".")[0]
    short = qualname.rpartition(".")[2]
    if root in ("fastapi", "starlette") and short == "StreamingResponse":
        return ("media_type",)
    if root in ("flask", "werkzeug", "quart") and short == "Response":
        return ("mimetype", "content_type")
    if root == "django" and short in ("StreamingHttpResponse", "HttpResponse"):
        return ("content_type",)
    if root == "aiohttp" and short in ("StreamResponse", "Response"):
        return ("content_type",)
    return None


def _missing_anti_buffering(headers: dict[str, str | None]) -> list[str]:
    missing = []
    accel = headers.get("x-accel-buffering", "")
    if accel is not None and accel.strip().lower() != "no":
        missing.append("`X-Accel-Buffering: no`")
    cache = headers.get("cache-control", "")
    if cache is not None and "no-cache" not in cache.lower() and "no-store" not in cache.lower():
        missing.append("`Cache-Control: no-cache`")
    return missing


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


def _line_starts(source: bytes) -> list[int]:
    starts = [0]
    index = source.find(b"\n")
    while index >= 0:
        starts.append(index + 1)
        index = source.find(b"\n", index + 1)
    return starts
