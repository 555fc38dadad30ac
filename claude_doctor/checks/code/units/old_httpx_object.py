"""CD218 old-httpx-object: an ``httpx`` (not ``httpx2``) timeout or client given to an SDK 1.x+ client,
where the client is made (``Anthropic(...)``, ``with_options``, ``copy``) or to a request's ``timeout=``."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import Client, Sym, Value, keyword

CLIENT_ARGUMENTS = ("timeout", "http_client")


class OldHttpxObject(Check):
    rules = (rules.OLD_HTTPX_OBJECT,)
    need = CLIENT

    def on_call(self, ctx: Context, node: ast.Call, func: Value | None) -> None:
        if isinstance(func, Sym):
            value = ctx.value(node)
            if isinstance(value, Client):
                _check(ctx, node, CLIENT_ARGUMENTS, value.class_name)

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        if call.is_copy:
            _check(ctx, call.node, CLIENT_ARGUMENTS, call.func.client.class_name)
        elif call.is_request:
            _check(ctx, call.node, ("timeout",), call.func.client.class_name)


def _check(ctx: Context, node: ast.Call, names: tuple[str, ...], class_name: str) -> None:
    major = ctx.options.sdk_major
    if not major or major < 1:
        return
    for name in names:
        arg = keyword(node, name)
        value = ctx.value(arg.value) if arg else None
        qualname = getattr(value, "qualname", "")
        if not qualname.startswith("httpx."):
            continue
        fixed = "httpx2." + qualname.split(".", 1)[1]
        ctx.report(
            rules.OLD_HTTPX_OBJECT,
            arg.value,
            f"`{name}=` gets an `{qualname}` object, but anthropic {major}.x ({class_name}) "
            f'uses `httpx2`: "TypeError: Invalid `{name}` argument; `{qualname}` is from the `httpx` package"',
            fix=f"Use `{fixed}` (`import httpx2`) instead of `{qualname}`.",
        )
