"""CD201 sync-client-in-async: a sync client's request inside ``async def`` blocks the event loop."""

from __future__ import annotations

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context


class SyncClientInAsync(Check):
    rules = (rules.SYNC_CLIENT_IN_ASYNC,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        client = call.func.client
        if client.is_async or not ctx.in_async or call.method in ("with_options", "copy"):
            return
        where = f" (created on line {client.origin.lineno})" if client.origin is not None else ""
        function = ctx.scope.function()
        name = getattr(function.node, "name", "<lambda>") if function else "?"
        async_name = "Async" + client.class_name if client.class_name != "Client" else "AsyncAnthropic"
        ctx.report(
            rules.SYNC_CLIENT_IN_ASYNC,
            call.node,
            f"sync `{client.class_name}` client{where} calls `{'.'.join(call.func.path)}(...)` inside "
            f"`async def {name}`: it blocks the event loop for the whole request",
            fix=f"Use `{async_name}` and `await` it (`async with` for `messages.stream`), or "
            f"`await asyncio.to_thread(...)` for the sync call.",
        )
