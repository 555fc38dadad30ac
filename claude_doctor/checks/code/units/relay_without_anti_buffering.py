"""CD220 relay-without-anti-buffering: a web framework's response serving ``text/event-stream`` without
``X-Accel-Buffering: no`` and ``Cache-Control: no-cache``. Headers may be set where the response is made,
written to it later (``resp.headers[...] = ...``, ``.update({...})``, Django's ``resp[...]``) or returned
beside it (Flask's ``(body, status, headers)``), so the responses are judged once the module is walked."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .. import rules
from ..context import Check, Context, Hit, Need
from ..resolve import Const, Scope, Sym, Value, has_star_kwargs, keyword

EVENT_STREAM = "text/event-stream"
#: Where a response class is known from (``_relay_class``), and the classes.
WEB_FRAMEWORKS = ("fastapi", "starlette", "flask", "werkzeug", "quart", "django", "aiohttp")
RESPONSE_CLASSES = ("Response", "StreamingResponse", "StreamingHttpResponse", "HttpResponse", "StreamResponse")
Writes = list[tuple[str | None, str | None]]  #: header (lower-cased) and value; ``None`` when not provable


@dataclass
class _Relay:
    """A response object that may serve ``text/event-stream``."""

    call: ast.Call
    content_type_kwargs: tuple[str, ...]
    scope: Scope
    var: str | None = None  #: the name the response is assigned to, for later header writes
    extra: Writes = field(default_factory=list)  #: Flask ``(body, status, headers)``


class RelayWithoutAntiBuffering(Check):
    rules = (rules.RELAY_WITHOUT_ANTI_BUFFERING,)
    need = Need(WEB_FRAMEWORKS, (RESPONSE_CLASSES,), hint="Response")

    def __init__(self) -> None:
        self.relays: list[_Relay] = []
        self.header_writes: dict[tuple[int, str], Writes] = {}

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        content_type_kwargs = _relay_class(func.qualname) if isinstance(func, Sym) else None
        if content_type_kwargs is not None:
            self.relays.append(_Relay(node, content_type_kwargs, ctx.scope))

    def on_expression(self, ctx: Context, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self._record_header_update(ctx, node.value)

    def on_assign(self, ctx: Context, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
            for relay in self.relays:
                if relay.call is node.value:
                    relay.var = node.targets[0].id
        for target in node.targets:
            self._record_header_write(ctx, target, node.value)

    def on_tuple(self, ctx: Context, node: ast.Tuple) -> None:
        """Flask's ``return Response(...), 200, {headers}`` adds headers to the response."""
        relay = next((r for r in self.relays if node.elts and r.call is node.elts[0]), None)
        if relay is None:
            return
        for element in node.elts[1:]:
            if isinstance(element, ast.Constant):
                continue
            pairs = _dict_pairs(ctx, element, ctx.scope)
            relay.extra.extend(pairs.items() if pairs is not None else [(None, None)])

    def finish(self, ctx: Context) -> None:
        for relay in self.relays:
            headers = self._relay_headers(ctx, relay)
            if headers is None:
                continue
            if EVENT_STREAM not in _content_type(ctx, relay, headers).lower():
                continue
            missing = _missing_anti_buffering(headers)
            if missing:
                ctx.hits.append(
                    Hit(
                        rules.RELAY_WITHOUT_ANTI_BUFFERING,
                        relay.call.lineno,
                        relay.call.col_offset,
                        f"`{ctx.first_line(relay.call)}` serves text/event-stream without {' and '.join(missing)}: "
                        "nginx-style proxies buffer the events and deliver them all at once",
                        fix='Add `headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}` to the response.',
                    )
                )

    def _record_header_write(self, ctx: Context, target: ast.expr, value: ast.expr) -> None:
        """``resp.headers["X"] = v``, ``resp["X"] = v`` (Django) and ``resp.content_type = v``."""
        if isinstance(target, ast.Subscript):
            owner = target.value.value if isinstance(target.value, ast.Attribute) else target.value
            if isinstance(owner, ast.Name):
                key = ctx.resolver.string(target.slice, ctx.scope)
                self._write_header(ctx, owner.id, key, value)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.attr in ("content_type", "mimetype")
        ):
            self._write_header(ctx, target.value.id, "content-type", value)

    def _record_header_update(self, ctx: Context, call: ast.Call) -> None:
        """``resp.headers.update({...})`` or ``headers.update({...})``: every literal key, or an unknown write."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "update"):
            return
        owner = func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "headers":
            owner = owner.value
        if not isinstance(owner, ast.Name):
            return
        pairs = _dict_pairs(ctx, call.args[0], ctx.scope) if len(call.args) == 1 and not call.keywords else None
        writes = self.header_writes.setdefault((id(ctx.scope), owner.id), [])
        writes.extend(pairs.items() if pairs is not None else [(None, None)])

    def _write_header(self, ctx: Context, name: str, key: str | None, value: ast.expr) -> None:
        text = ctx.resolver.string(value, ctx.scope)
        self.header_writes.setdefault((id(ctx.scope), name), []).append((key.lower() if key else None, text))

    def _relay_headers(self, ctx: Context, relay: _Relay) -> dict[str, str | None] | None:
        arg = keyword(relay.call, "headers")
        headers = _dict_pairs(ctx, arg.value, relay.scope) if arg else {}
        if headers is None or has_star_kwargs(relay.call):
            return None
        writes = [*self.header_writes.get((id(relay.scope), relay.var or "\0"), []), *relay.extra]
        if arg is not None and isinstance(arg.value, ast.Name):
            writes += [w for (_, name), found in self.header_writes.items() if name == arg.value.id for w in found]
        for key, value in writes:
            if key is None:
                return None
            headers[key] = value
        return headers


def _dict_pairs(ctx: Context, expr: ast.expr, scope: Scope) -> dict[str, str | None] | None:
    """A headers dict's literal keys (lower-cased) and string values; ``None`` if not provable."""
    value = ctx.resolver.value(expr, scope)
    if not isinstance(value, Const) or not isinstance(value.node, ast.Dict):
        return None
    pairs: dict[str, str | None] = {}
    for key, item in zip(value.node.keys, value.node.values):
        key_text = ctx.resolver.string(key, scope) if key is not None else None
        if key_text is None:
            return None
        pairs[key_text.lower()] = ctx.resolver.string(item, scope)
    return pairs


def _content_type(ctx: Context, relay: _Relay, headers: dict[str, str | None]) -> str:
    for name in relay.content_type_kwargs:
        arg = keyword(relay.call, name)
        if arg is not None:
            return ctx.resolver.string(arg.value, relay.scope) or ""
    return headers.get("content-type") or ""


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
