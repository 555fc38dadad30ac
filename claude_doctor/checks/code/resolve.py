"""What an expression is, as far as the module's own text proves it.

The checker must never guess: a finding about a "sync client" needs the name to be bound, on every
path the module shows, to ``anthropic.Anthropic(...)``. So names resolve through imports, aliases,
simple assignments, ``with … as``, ``self.x`` set in any method of the class (or a ``@property``
returning it), the return values (or return annotations) of functions in the same module, client
annotations on parameters, ``client or Anthropic()``, and what other modules of the checked project
export (:mod:`.project`); a name bound to two different things, or to anything unknown (an
unannotated parameter, a loop variable, a tuple unpacked from a call), resolves to ``None`` and
silences every rule that would need it. No user code is imported or run; the installed SDK's
sources are read (never imported) to tell which async methods return coroutines.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project import Project

SYNC_CLIENTS = frozenset({"Anthropic", "Client", "AnthropicBedrock", "AnthropicVertex", "AnthropicFoundry"})
ASYNC_CLIENTS = frozenset(
    {"AsyncAnthropic", "AsyncClient", "AsyncAnthropicBedrock", "AsyncAnthropicVertex", "AsyncAnthropicFoundry"}
)
TIMEOUT_CLASSES = frozenset({"httpx.Timeout", "httpx2.Timeout", "anthropic.Timeout"})
#: Client methods that return another client sharing the connection pool, not a request.
CLIENT_COPIES = frozenset({"with_options", "copy", "with_middleware"})
CACHE_DECORATORS = frozenset({"cache", "lru_cache", "functools.cache", "functools.lru_cache"})
PROPERTY_DECORATORS = frozenset({"property", "cached_property", "functools.cached_property"})
#: Async resource methods that return a coroutine, for when the installed SDK's sources cannot be read.
KNOWN_COROUTINES = frozenset({"create", "parse", "count_tokens", "retrieve", "update", "delete", "cancel"})
#: ``client.messages.with_streaming_response.create(...)`` gives an ``async with`` manager, not a coroutine.
STREAMING_WRAPPER = "with_streaming_response"
_DEFINITION = re.compile(rb"^(?:class (\w+)|    (async )?def (\w+))", re.MULTILINE)


@dataclass(frozen=True)
class Sym:
    """An imported module or a name inside one, by its qualified name (``anthropic.AsyncAnthropic``)."""

    qualname: str


@dataclass(frozen=True)
class Client:
    """An SDK client instance. ``origin`` is the constructor call (its identity across names and
    functions); ``timeout`` the timeout expression it was given, ``None`` when it has the default,
    and ``timeout_known`` False when that cannot be told."""

    is_async: bool
    class_name: str
    origin: ast.Call | None
    timeout: ast.expr | None = None
    timeout_known: bool = True
    scope: Scope | None = field(default=None, compare=False)  #: where ``timeout`` is written


@dataclass(frozen=True)
class Resource:
    """An attribute path on a client: ``client.messages``, ``client.beta.messages.stream``."""

    client: Client
    path: tuple[str, ...]

    def is_messages(self, method: str) -> bool:
        """``messages.<method>``, also under a ``beta`` namespace (``beta.prompt_caching.messages``)."""
        path = self.path
        if path == ("messages", method):
            return True
        return path[0] == "beta" and len(path) <= 4 and path[-2:] == ("messages", method)


@dataclass(frozen=True)
class Result:
    """What a client call gives. ``kind``: ``manager`` (``messages.stream(...)``), ``stream`` (the
    ``MessageStream`` inside ``with``), ``text_stream``, ``message`` (``create`` without streaming),
    ``raw_stream`` (``create(stream=True)``) or ``other``."""

    kind: str
    client: Client
    call: ast.Call


@dataclass(frozen=True)
class Coroutine:
    """An un-awaited coroutine; ``inner`` is what awaiting it gives. ``call`` is an async client's
    method call, or ``None`` for a coroutine from one of the module's own ``async def``s."""

    inner: Value
    call: ast.Call | None


@dataclass(frozen=True)
class Function:
    node: ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Factory:
    """A function of another module of the project; calling it gives ``returns``."""

    returns: Value


@dataclass(frozen=True)
class Const:
    """A literal: a number, a string, a dict display (for headers)."""

    node: ast.expr


@dataclass(frozen=True)
class TimeoutObject:
    """``httpx2.Timeout(...)`` and kin; ``read`` is the expression giving the read timeout."""

    qualname: str
    read: ast.expr | None
    scope: Scope = field(compare=False)


@dataclass(frozen=True)
class Instance:
    """An instance of some imported class, e.g. ``httpx.Client()``."""

    qualname: str
    call: ast.Call


Value = Sym | Client | Resource | Result | Coroutine | Function | Factory | Const | TimeoutObject | Instance


@dataclass(eq=False)
class Scope:
    """A module, class or function body: its name bindings, and for functions their returns."""

    node: ast.AST
    kind: str  #: "module", "class" or "function"
    parent: Scope | None
    bindings: dict[str, list[tuple]] = field(default_factory=dict)
    returns: list[ast.expr] = field(default_factory=list)
    is_async: bool = False
    is_generator: bool = False
    self_name: str | None = None  #: a method's first parameter
    owner: Scope | None = None  #: a method's class scope
    self_attrs: dict[str, list[tuple[ast.expr, Scope]]] = field(default_factory=dict)  #: class scopes

    def bind(self, name: str, binding: tuple) -> None:
        self.bindings.setdefault(name, []).append(binding)

    def function(self) -> Scope | None:
        """The innermost enclosing function scope (a class body is not one)."""
        scope: Scope | None = self
        while scope is not None and scope.kind == "class":
            scope = scope.parent
        return scope if scope is not None and scope.kind == "function" else None


UNKNOWN = ("unknown",)
#: Leaf nodes with nothing to check below them.
_LEAVES = (ast.Name, ast.Constant, ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


class FastVisitor(ast.NodeVisitor):
    """``ast.NodeVisitor`` with the method lookup cached per node class and leaves skipped: both
    passes walk every node of every file, so this is most of the checker's time."""

    _dispatch: dict[type, object]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        try:
            method = self._dispatch[kind]
        except KeyError:
            name = "visit_" + kind.__name__
            method = getattr(type(self), name, None)
            if method is getattr(ast.NodeVisitor, name, None):
                method = None
            self._dispatch[kind] = method
        if method is not None:
            method(self, node)
        elif not isinstance(node, _LEAVES):
            self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)


class ScopeBuilder(FastVisitor):
    """One pass that records every binding per scope; :class:`Resolver` evaluates them lazily."""

    def __init__(self, tree: ast.Module) -> None:
        self.module = Scope(tree, "module", None)
        self.scopes: dict[int, Scope] = {id(tree): self.module}
        self.scope = self.module
        self.visit_body(tree.body)

    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def _enter(self, node: ast.AST, kind: str) -> Scope:
        scope = Scope(node, kind, self.scope)
        self.scopes[id(node)] = scope
        return scope

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.scope.bind(alias.asname, ("import", alias.name))
            else:
                top = alias.name.split(".")[0]
                self.scope.bind(top, ("import", top))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            self.scope.bind(alias.asname or alias.name, ("from", node.module, node.level, alias.name))

    def _bind_target(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.scope.bind(target.id, ("expr", value, self.scope) if value is not None else UNKNOWN)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            pairs = zip(target.elts, values) if values and len(values) == len(target.elts) else None
            if pairs and not any(isinstance(t, ast.Starred) for t in target.elts):
                for sub, sub_value in pairs:
                    self._bind_target(sub, sub_value)
            else:
                for sub in target.elts:
                    self._bind_target(sub.value if isinstance(sub, ast.Starred) else sub, None)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            self._bind_self_attr(target.value.id, target.attr, value)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None)

    def _bind_self_attr(self, name: str, attr: str, value: ast.expr | None) -> None:
        scope = self.scope
        if scope.self_name == name and scope.owner is not None:
            scope.owner.self_attrs.setdefault(attr, []).append((value, scope) if value is not None else (None, scope))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._bind_target(target, node.value)
            self._visit_target(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind_target(node.target, node.value)
        self._visit_target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self._bind_target(node.target, None)
        self._visit_target(node.target)

    def _visit_target(self, target: ast.expr) -> None:
        if not isinstance(target, ast.Name):
            self.visit(target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind_target(node.target, node.value)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind_target(node.target, None)
        self._visit_target(node.target)
        self.visit_body(node.body)
        self.visit_body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._bind_target(node.target, None)
        self.visit(node.iter)
        for cond in node.ifs:
            self.visit(cond)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                binding = ("with", item.context_expr, self.scope, isinstance(node, ast.AsyncWith))
                self.scope.bind(item.optional_vars.id, binding)
            elif item.optional_vars is not None:
                self._bind_target(item.optional_vars, None)
        self.visit_body(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.scope.bind(node.name, UNKNOWN)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            self.scope.bind(name, UNKNOWN)
            self.module.bind(name, UNKNOWN)

    visit_Nonlocal = visit_Global

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._bind_target(target, None)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.scope.bind(node.name, UNKNOWN)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.scope.bind(node.name, UNKNOWN)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.scope.bind(node.rest, UNKNOWN)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.visit(node.value)
            function = self.scope.function()
            if function is self.scope:
                function.returns.append(node.value)

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        if self.scope.kind == "function":
            self.scope.is_generator = True
        self.generic_visit(node)

    visit_YieldFrom = visit_Yield

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._visit_defaults(node.args)
        self.scope.bind(node.name, ("func", node))
        outer = self.scope
        scope = self._enter(node, "function")
        scope.is_async = isinstance(node, ast.AsyncFunctionDef)
        self._bind_params(scope, node.args, outer)
        if self.scope.kind == "class" and not _is_static(node):
            params = node.args.posonlyargs + node.args.args
            if params:
                scope.self_name = params[0].arg
                scope.owner = self.scope
        self._visit_in(scope, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_defaults(node.args)
        scope = self._enter(node, "function")
        self._bind_params(scope, node.args)
        outer, self.scope = self.scope, scope
        self.visit(node.body)
        self.scope = outer

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(expr)
        self.scope.bind(node.name, UNKNOWN)
        self._visit_in(self._enter(node, "class"), node.body)

    def _visit_in(self, scope: Scope, body: list[ast.stmt]) -> None:
        outer, self.scope = self.scope, scope
        self.visit_body(body)
        self.scope = outer

    def _visit_defaults(self, args: ast.arguments) -> None:
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)

    @staticmethod
    def _bind_params(scope: Scope, args: ast.arguments, outer: Scope | None = None) -> None:
        """Parameters are unknown, except one annotated with an SDK client class (``client: Anthropic``)."""
        for param in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            annotated = param.annotation is not None and outer is not None
            scope.bind(param.arg, ("annotation", param.annotation, outer) if annotated else UNKNOWN)
        for param in (args.vararg, args.kwarg):
            if param is not None:
                scope.bind(param.arg, UNKNOWN)


def _is_static(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod") for d in node.decorator_list)


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names, else ``None``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def has_star_kwargs(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords)


class Resolver:
    """Evaluates expressions to :data:`Value`s, lazily and memoised; ``None`` means unproven."""

    def __init__(self, tree: ast.Module, project: Project | None = None, path: str | None = None) -> None:
        self.project = project
        self.path = path
        builder = ScopeBuilder(tree)
        self.module = builder.module
        self.scopes = builder.scopes
        self._memo: dict[int, Value | None] = {}
        self._busy: set[int] = set()

    def scope_of(self, node: ast.AST) -> Scope:
        return self.scopes[id(node)]

    def value(self, expr: ast.expr | None, scope: Scope) -> Value | None:
        if expr is None:
            return None
        key = id(expr)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            result = self._evaluate(expr, scope)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def _evaluate(self, expr: ast.expr, scope: Scope) -> Value | None:
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scope)
        if isinstance(expr, ast.Attribute):
            return self._attribute(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.Await):
            inner = self.value(expr.value, scope)
            return inner.inner if isinstance(inner, Coroutine) else None
        if isinstance(expr, (ast.Constant, ast.Dict, ast.JoinedStr)):
            return Const(expr)
        if isinstance(expr, ast.NamedExpr):
            return self.value(expr.value, scope)
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            return self._fallback([self.value(v, scope) for v in expr.values])
        if isinstance(expr, ast.IfExp):
            return self._fallback([self.value(expr.body, scope), self.value(expr.orelse, scope)])
        return None

    def _fallback(self, values: list[Value | None]) -> Value | None:
        """``client or Anthropic()``, ``client if client else Anthropic()``: the one client the
        expression can be when every other branch is unknown (a parameter) or ``None``."""
        known = [v for v in values if v is not None and not _is_none(v)]
        if not known or not all(isinstance(v, Client) for v in known):
            return None
        if None not in values:
            return self._merge(known)
        first = known[0]
        if any(v.is_async != first.is_async for v in known):
            return None
        return Client(first.is_async, first.class_name, None, None, timeout_known=False)

    def lookup(self, name: str, scope: Scope) -> Value | None:
        """The value a name has in ``scope``: Python's rules, class bodies skipped for functions."""
        values = self.candidates(name, scope)
        return self._merge(values) if values else None

    def candidates(self, name: str, scope: Scope) -> list[Value | None]:
        """The value of each assignment that may have bound ``name`` as seen from ``scope``."""
        current: Scope | None = scope
        while current is not None:
            if name in current.bindings:
                return [self._binding(b) for b in current.bindings[name]]
            current = current.parent
            while current is not None and current.kind == "class" and current is not scope:
                current = current.parent
        return []

    def _binding(self, binding: tuple) -> Value | None:
        kind = binding[0]
        if kind == "expr":
            return self.value(binding[1], binding[2])
        if kind == "import":
            return Sym(binding[1])
        if kind == "from":
            return self._imported(*binding[1:])
        if kind == "func":
            return Function(binding[1])
        if kind == "annotation":
            return self.annotated_client(binding[1], binding[2])
        if kind == "with":
            return self._entered(self.value(binding[1], binding[2]), binding[3])
        return None

    @staticmethod
    def _entered(manager: Value | None, is_async: bool) -> Value | None:
        """What ``with manager as x`` binds to ``x``."""
        if isinstance(manager, Result) and manager.kind == "manager":
            return Result("stream", manager.client, manager.call)
        if isinstance(manager, Client):
            return manager
        if isinstance(manager, Result) and manager.kind == "raw_stream":
            return manager
        return None

    @staticmethod
    def _merge(values: list[Value | None]) -> Value | None:
        first = values[0]
        if first is None or all(v == first for v in values[1:]):
            return first
        if all(isinstance(v, Client) and v.is_async == first.is_async for v in values):
            return Client(first.is_async, first.class_name, None, None, timeout_known=False)
        return None

    def _attribute(self, expr: ast.Attribute, scope: Scope) -> Value | None:
        if isinstance(expr.value, ast.Name):
            attr = self._self_attribute(expr.value.id, expr.attr, scope)
            if attr is not None:
                return attr
        base = self.value(expr.value, scope)
        if isinstance(base, Sym):
            return Sym(f"{base.qualname}.{expr.attr}")
        if isinstance(base, Client):
            return Resource(base, (expr.attr,))
        if isinstance(base, Resource):
            return Resource(base.client, (*base.path, expr.attr))
        if isinstance(base, Result) and base.kind == "stream" and expr.attr == "text_stream":
            return Result("text_stream", base.client, base.call)
        return None

    def _imported(self, module: str | None, level: int, name: str) -> Value | None:
        """``from x import name``: a library symbol, or what another module of the project exports."""
        if self.project is not None and self.path is not None:
            exported = self.project.lookup(self.path, module, level, name)
            if exported is not None:
                return exported
        return Sym(f"{module}.{name}") if module and not level else None

    def annotated_client(self, annotation: ast.expr | None, scope: Scope | None) -> Client | None:
        """The client an annotation names: ``Anthropic``, ``AsyncAnthropicVertex | None``,
        ``Optional["anthropic.Anthropic"]``; created elsewhere, so its origin and timeout are unknown."""
        if annotation is None or scope is None:
            return None
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            sides = [annotation.left, annotation.right]
            named = [side for side in sides if not (isinstance(side, ast.Constant) and side.value is None)]
            return self.annotated_client(named[0], scope) if len(named) == 1 else None
        if isinstance(annotation, ast.Subscript) and dotted(annotation.value) in ("Optional", "typing.Optional"):
            return self.annotated_client(annotation.slice, scope)
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        value = self.value(annotation, scope)
        module, _, name = value.qualname.rpartition(".") if isinstance(value, Sym) else ("", "", "")
        if module.split(".")[0] != "anthropic" or name not in SYNC_CLIENTS | ASYNC_CLIENTS:
            return None
        return Client(name in ASYNC_CLIENTS, name, None, None, timeout_known=False)

    def _self_attribute(self, name: str, attr: str, scope: Scope) -> Value | None:
        """``self.attr`` in a method: every assignment to it in the class, and the class body's."""
        current: Scope | None = scope
        while current is not None and name not in current.bindings:
            current = current.parent
        if current is None or current.self_name != name or current.owner is None:
            return None
        owner = current.owner
        values = [
            self.value(expr, where) if expr is not None else None for expr, where in owner.self_attrs.get(attr, [])
        ]
        values += [self._member(b) for b in owner.bindings.get(attr, [])]
        return self._merge(values) if values else None

    def _member(self, binding: tuple) -> Value | None:
        """A class body's binding as ``self.name`` reads it: a ``@property``'s value, not the function."""
        if binding[0] == "func" and any(dotted(d) in PROPERTY_DECORATORS for d in binding[1].decorator_list):
            return self.return_value(binding[1])
        return self._binding(binding)

    def _call(self, call: ast.Call, scope: Scope) -> Value | None:
        func = self.value(call.func, scope)
        if isinstance(func, Sym):
            return self._construct(func.qualname, call, scope)
        if isinstance(func, Resource):
            return self._client_call(func, call, scope)
        if isinstance(func, Function):
            return self._returned(func.node)
        if isinstance(func, Factory):
            return func.returns
        return None

    def _construct(self, qualname: str, call: ast.Call, scope: Scope) -> Value | None:
        module, _, name = qualname.rpartition(".")
        if module.split(".")[0] == "anthropic" and name in SYNC_CLIENTS | ASYNC_CLIENTS:
            timeout = keyword(call, "timeout")
            return Client(
                name in ASYNC_CLIENTS,
                name,
                call,
                timeout.value if timeout else None,
                timeout_known=not has_star_kwargs(call),
                scope=scope,
            )
        if qualname in TIMEOUT_CLASSES:
            read = keyword(call, "read") or keyword(call, "timeout")
            return TimeoutObject(qualname, read.value if read else (call.args[0] if call.args else None), scope)
        return Instance(qualname, call)

    def _client_call(self, resource: Resource, call: ast.Call, scope: Scope) -> Value | None:
        client = resource.client
        method = resource.path[-1]
        if len(resource.path) == 1 and method in CLIENT_COPIES:
            timeout = keyword(call, "timeout")
            if timeout is None:
                return client
            return Client(client.is_async, client.class_name, client.origin, timeout.value, scope=scope)
        if resource.is_messages("stream"):
            return Result("manager", client, call)
        if resource.is_messages("create"):
            kind = {True: "raw_stream", False: "message", None: "other"}[streams(call)]
            result: Value = Result(kind, client, call)
        elif resource.is_messages("parse"):
            result = Result("message", client, call)
        else:
            result = Result("other", client, call)
        if not client.is_async:
            return result
        return Coroutine(result, call) if returns_coroutine(resource.path) else None

    def _returned(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Value | None:
        """Calling one of the module's functions: a factory's return value, or a coroutine."""
        if not all(_cache_decorator(d) for d in node.decorator_list):
            return None
        return self.return_value(node)

    def return_value(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Value | None:
        """What a call of the function gives: its returns, else the client its return annotation names."""
        scope = self.scopes[id(node)]
        if scope.is_generator:
            return None
        returned = self._merge([self.value(r, scope) for r in scope.returns]) if scope.returns else None
        if returned is None:
            returned = self.annotated_client(node.returns, scope.parent)
        return Coroutine(returned, None) if scope.is_async else returned

    def number(self, expr: ast.expr | None, scope: Scope) -> tuple[float, ast.Constant] | None:
        """A literal number an expression is proven to be, with the node where it is written."""
        value = self.value(expr, scope) if expr is not None else None
        if isinstance(value, Const) and isinstance(value.node, ast.Constant):
            literal = value.node.value
            if isinstance(literal, (int, float)) and not isinstance(literal, bool):
                return float(literal), value.node
        return None

    def string(self, expr: ast.expr | None, scope: Scope) -> str | None:
        value = self.value(expr, scope) if expr is not None else None
        if isinstance(value, Const) and isinstance(value.node, ast.Constant) and isinstance(value.node.value, str):
            return value.node.value
        return None

    def read_timeout(self, expr: ast.expr | None, scope: Scope) -> tuple[float, ast.Constant] | None:
        """The read timeout a ``timeout=`` value sets: a number, or a ``Timeout``'s read/first argument."""
        value = self.value(expr, scope) if expr is not None else None
        if isinstance(value, TimeoutObject):
            return self.number(value.read, value.scope) if value.read is not None else None
        return self.number(expr, scope)


def streams(call: ast.Call) -> bool | None:
    """Whether a ``create(...)`` call streams: ``stream=`` a truthy or falsy literal, or absent (False);
    ``None`` when it depends on a variable or ``**kwargs``."""
    stream = keyword(call, "stream")
    if stream is None:
        return None if has_star_kwargs(call) else False
    if isinstance(stream.value, ast.Constant):
        return bool(stream.value.value)
    return None


def _is_none(value: Value) -> bool:
    return isinstance(value, Const) and isinstance(value.node, ast.Constant) and value.node.value is None


def _cache_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return dotted(target) in CACHE_DECORATORS


def returns_coroutine(path: tuple[str, ...]) -> bool:
    """Whether calling ``path`` on an async client gives a coroutine. Paginators (``list``), tool
    runners, workers, ``with_options`` and ``with_streaming_response`` managers do not; a name the
    SDK defines both ways (``stream``) or not at all counts as no, so CD204 stays silent."""
    return STREAMING_WRAPPER not in path and path[-1] in sdk_coroutine_methods()


@functools.cache
def sdk_coroutine_methods() -> frozenset[str]:
    """Method names that are ``async def`` in every ``Async*`` class of the installed SDK that defines
    them. Read as bytes with a regular expression (about 30 ms for the whole SDK), never imported:
    importing ``anthropic`` takes over a second. Falls back to :data:`KNOWN_COROUTINES`."""
    root = _sdk_root()
    if root is None:
        return KNOWN_COROUTINES
    kinds: dict[bytes, set[bool]] = {}
    sources = [*root.glob("resources/**/*.py"), *root.glob("lib/**/*.py"), root / "_client.py"]
    for path in sources:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        _add_async_methods(data, kinds)
    found = frozenset(name.decode() for name, seen in kinds.items() if seen == {True})
    return found or KNOWN_COROUTINES


def _add_async_methods(data: bytes, kinds: dict[bytes, set[bool]]) -> None:
    """Record, for each method of a top-level ``Async*`` class, whether it is ``async def``."""
    in_async_class = False
    for match in _DEFINITION.finditer(data):
        if match.group(1):
            in_async_class = match.group(1).startswith(b"Async")
        elif in_async_class:
            kinds.setdefault(match.group(3), set()).add(match.group(2) is not None)


def _sdk_root() -> Path | None:
    """The installed ``anthropic`` package's folder, found without importing it."""
    try:
        spec = importlib.util.find_spec("anthropic")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None
