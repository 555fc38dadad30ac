"""What every code rule's check shares: the options, the hit it reports, the :class:`Check` it is, and the
:class:`Context` of the one walk over a module (the scope being walked, the resolver that proves what a
name is, the source for columns, messages and ``--fix`` edits)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...findings import Rule
from .project import Project
from .resolve import Resolver, Resource, Scope, Value

if TYPE_CHECKING:
    from .prefilter import ModuleText


@dataclass(frozen=True)
class Options:
    """What the checks depend on besides the source: config and the installed SDK. ``rules`` is the
    codes selected (``None``: all); only the checks that can report one of them run."""

    min_timeout: float = 60.0
    sdk_major: int | None = None  #: major version of the installed ``anthropic``; None when unknown
    notebook: bool = False
    project: Project | None = field(default=None, compare=False)  #: clients other checked modules hand out
    rules: frozenset[str] | None = None


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


@dataclass(frozen=True)
class Need:
    """What a check needs in a module's text before it can fire (``prefilter.py`` skips the files that
    meet no selected check's need, unparsed): ``hint`` (a substring of every name in the first group of
    ``words``, looked for first because it is cheap), an import of one of ``modules`` (any, when empty),
    at least one name of each group in ``words`` read as an attribute or imported (the checker knows
    ``asyncio.run`` by the qualified name it resolves), and an SDK client when ``client`` (the SDK
    imported, or a name another checked module exports as a client or a factory of one). ``Need()``
    needs nothing: every file is parsed for such a check."""

    modules: tuple[str, ...] = ()
    words: tuple[tuple[str, ...], ...] = ()
    client: bool = False
    hint: str = ""

    def met(self, text: ModuleText) -> bool:
        return (
            (not self.hint or self.hint in text.text)
            and (not self.modules or any(text.imports(module) for module in self.modules))
            and all(any(text.names(word) for word in group) for group in self.words)
            and (not self.client or text.has_client())
        )


#: The need of every check about a client, a stream or an un-awaited call: they all come from a client.
CLIENT = Need(client=True)


class Check:
    """One code rule's check (or a small family's that shares one analysis). ``rules`` are the rules it
    can report: it runs only when one of them is selected (``checker.CHECKS_BY_RULE``). The walk in
    ``checker.py`` calls the hooks a check defines, at the node they name, with the :class:`Context`
    positioned there; a check that needs to see a whole module first reports in ``finish``. The walk
    calls only the hooks a check overrides. ``need`` is what a module's text must hold for the check to
    fire (the default, nothing, is safe but parses every file for it)."""

    rules: tuple[Rule, ...] = ()
    need: Need = Need()

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        """Every call; ``func`` is what the called expression resolves to."""

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        """A call of a method on an SDK client (``client.messages.create(...)``)."""

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        """``for``/``async for`` and comprehensions: ``where`` is the statement, or the iterable."""

    def on_with_item(self, ctx: Context, expr: ast.expr, node: ast.With | ast.AsyncWith, is_async: bool) -> None:
        """Each context expression of a ``with``/``async with``."""

    def on_expression(self, ctx: Context, node: ast.Expr) -> None:
        """An expression statement: its value is discarded."""

    def on_attribute(self, ctx: Context, node: ast.Attribute) -> None:
        """An attribute read (``Load``)."""

    def on_subscript(self, ctx: Context, node: ast.Subscript) -> None: ...

    def on_await(self, ctx: Context, node: ast.Await) -> None: ...

    def on_assign(self, ctx: Context, node: ast.Assign) -> None:
        """After the assignment's parts were walked."""

    def on_tuple(self, ctx: Context, node: ast.Tuple) -> None:
        """After the tuple's elements were walked."""

    def guards_body(self, ctx: Context, node: ast.With | ast.AsyncWith | ast.Try) -> bool:
        """Whether the body of ``node`` counts as guarded (:attr:`Context.guard_depth` one deeper in it)."""
        return False

    def finish(self, ctx: Context) -> None:
        """After the whole module was walked."""


@dataclass(frozen=True)
class ClientCall:
    """A call of an SDK client method, classified once for every check that reads it."""

    node: ast.Call
    func: Resource

    @property
    def method(self) -> str:
        return self.func.path[-1]

    @property
    def is_copy(self) -> bool:
        """``client.with_options(...)``/``client.copy(...)``: a new client, not a request."""
        return len(self.func.path) == 1 and self.method in ("with_options", "copy")

    @property
    def is_stream(self) -> bool:
        return self.func.is_messages("stream")

    @property
    def is_create(self) -> bool:
        return self.func.is_messages("create") or self.func.is_messages("parse")

    @property
    def is_request(self) -> bool:
        """A Messages request that takes the request's keywords: ``create``, ``parse``, ``stream``,
        ``count_tokens``."""
        return self.is_stream or self.is_create or self.func.is_messages("count_tokens")


class Context:
    """The state of the one walk over a module, and what checks need to report from it.
    ``source`` is the module's UTF-8 bytes (for columns and edits)."""

    def __init__(self, tree: ast.Module, source: bytes, options: Options, path: str | None = None) -> None:
        self.source = source
        self.options = options
        importer = str(Path(path).resolve()) if path and options.project else None
        self.resolver = Resolver(tree, options.project, importer)
        self.scope: Scope = self.resolver.module
        self.loop_depth = 0  #: how many loops enclose the node, within its function
        self.guard_depth = 0  #: how many enclosing ``try``/``suppress`` blocks handle RuntimeError
        self.hits: list[Hit] = []
        self._reported: set[tuple[str, int]] = set()
        self._line_starts = _line_starts(source)

    @property
    def in_async(self) -> bool:
        """Whether the innermost enclosing function is an ``async def`` (a lambda or nested ``def`` is not)."""
        function = self.scope.function()
        return function is not None and function.is_async

    def value(self, expr: ast.expr | None) -> Value | None:
        """What ``expr`` is in the scope being walked (the resolver caches it: checks may all ask)."""
        return self.resolver.value(expr, self.scope)

    def report(self, rule: Rule, node: ast.AST, message: str, fix: str | None = None, edits=()) -> None:
        """A hit at ``node``; one per rule and node, however many uses lead to it."""
        key = (rule.code, id(node))
        if key in self._reported:
            return
        self._reported.add(key)
        self.hits.append(Hit(rule, node.lineno, node.col_offset, message, fix, tuple(edits)))

    # -- the source, for messages and edits -------------------------------------------------------

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

    def insert_async(self, node: ast.stmt) -> tuple[int, int, str]:
        """The edit turning ``for``/``with`` into ``async for``/``async with``."""
        start = self.offset(node.lineno, node.col_offset)
        return (start, start, "async ")

    def remove_keyword(
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


def _line_starts(source: bytes) -> list[int]:
    starts = [0]
    index = source.find(b"\n")
    while index >= 0:
        starts.append(index + 1)
        index = source.find(b"\n", index + 1)
    return starts
