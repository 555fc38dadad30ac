"""CD221 delta-without-event-type: a loop over a stream's events that reads ``event.delta`` on every
event. Only ``content_block_delta`` and ``message_delta`` events have a ``delta``; the first event of
every stream is ``message_start``, so the loop raises on it. Reported only when the loop variable is
used for nothing but ``.delta`` in the loop body (no ``event.type``, ``isinstance``, ``getattr``,
``match``, nothing passed on) and no ``try``/``suppress`` in the body could catch the error."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result, dotted

#: The stream kinds whose iteration yields events (``text_stream`` yields strings).
EVENT_STREAMS = {"stream": "MessageStream", "raw_stream": "Stream"}
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


class DeltaWithoutEventType(Check):
    rules = (rules.DELTA_WITHOUT_EVENT_TYPE,)
    need = CLIENT

    def on_iteration(self, ctx: Context, iterable: ast.expr, where: ast.AST, is_async: bool) -> None:
        if not isinstance(where, (ast.For, ast.AsyncFor)) or not isinstance(where.target, ast.Name):
            return
        value = ctx.value(iterable)
        if not (isinstance(value, Result) and value.kind in EVENT_STREAMS and value.client.is_async == is_async):
            return  # a sync `for` over an async stream is CD203
        name = where.target.id
        read = _only_delta_reads(name, where.body)
        if read is None:
            return
        kind = ("Async" if value.client.is_async else "") + EVENT_STREAMS[value.kind]
        ctx.report(
            rules.DELTA_WITHOUT_EVENT_TYPE,
            read,
            f"`{name}.delta` is read on every event of the {kind} from line {value.call.lineno}, and `{name}` is "
            "never checked: the first event, message_start, has no `delta` "
            "(AttributeError: 'RawMessageStartEvent' object has no attribute 'delta')",
            fix=f'Check the type first: `if {name}.type == "content_block_delta" and {name}.delta.type == '
            '"text_delta":`, or iterate `stream.text_stream` for the text alone.',
        )


def _only_delta_reads(name: str, body: list[ast.stmt]) -> ast.Attribute | None:
    """The first ``name.delta`` read in ``body`` when every use of ``name`` there is one, and nothing in
    ``body`` can catch the AttributeError; else ``None``."""
    reads: list[ast.Attribute] = []
    uses = 0
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Try, ast.TryStar)) or _is_suppress(node):
            return None
        if isinstance(node, ast.Name) and node.id == name:
            uses += 1
        elif _is_read_of(node, name):
            reads.append(node)
        if isinstance(node, _NESTED):
            if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)):
                return None  # used in a function that may never run, or rebinds it
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    if not reads or uses != len(reads):
        return None
    return min(reads, key=lambda n: (n.lineno, n.col_offset))


def _is_read_of(node: ast.AST, name: str) -> bool:
    """Whether ``node`` is ``name.delta``, read."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "delta"
        and isinstance(node.ctx, ast.Load)
        and isinstance(node.value, ast.Name)
        and node.value.id == name
    )


def _is_suppress(node: ast.AST) -> bool:
    """``with suppress(...)`` (any exception: cheap to tell, and a miss costs only a finding)."""
    return (
        isinstance(node, ast.withitem)
        and isinstance(node.context_expr, ast.Call)
        and ((dotted(node.context_expr.func) or "").rpartition(".")[2] == "suppress")
    )
