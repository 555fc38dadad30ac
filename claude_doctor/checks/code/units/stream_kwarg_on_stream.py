"""CD214 stream-kwarg-on-stream: ``messages.stream(..., stream=True)``, with the edit removing it."""

from __future__ import annotations

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import keyword


class StreamKwargOnStream(Check):
    rules = (rules.STREAM_KWARG_ON_STREAM,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        if not call.is_stream:
            return
        stream = keyword(call.node, "stream")
        if stream is None:
            return
        edit = ctx.remove_keyword(call.node, stream)
        ctx.report(
            rules.STREAM_KWARG_ON_STREAM,
            call.node,
            f"`messages.stream(...)` is given `{ctx.segment(stream)}`; it always streams, no `stream` argument",
            fix=f"Remove `{ctx.segment(stream)}`.",
            edits=[edit] if edit else [],
        )
