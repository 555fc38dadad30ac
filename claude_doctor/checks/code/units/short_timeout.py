"""CD217 short-timeout: a read timeout below ``min-timeout`` on a call that streams (its own
``timeout=``, or the client's)."""

from __future__ import annotations

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import keyword, streams


class ShortTimeout(Check):
    rules = (rules.SHORT_TIMEOUT,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        node, client = call.node, call.func.client
        if not (call.is_stream or (call.func.is_messages("create") and streams(node))):
            return
        own = keyword(node, "timeout")
        if own is not None:
            found = ctx.resolver.read_timeout(own.value, ctx.scope)
        elif client.timeout is not None and client.scope is not None:
            found = ctx.resolver.read_timeout(client.timeout, client.scope)
        else:
            return
        minimum = ctx.options.min_timeout
        if found is None or found[0] >= minimum:
            return
        seconds, where = found
        ctx.report(
            rules.SHORT_TIMEOUT,
            where,
            f"read timeout of {seconds:g} s on a {'call' if own is not None else 'client'} that streams "
            f"(`messages.stream`/`stream=True` on line {node.lineno}); below min-timeout "
            f"{minimum:g} s, a pause longer than that kills the stream with httpx2.ReadTimeout",
            fix="Keep the read timeout at 60 s or more and limit only connecting: "
            "`timeout=httpx2.Timeout(600, connect=5)`.",
        )
