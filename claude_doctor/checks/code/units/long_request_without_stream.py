"""CD216 long-request-without-stream: a non-streaming ``create`` the SDK refuses because it may take
over ten minutes (the SDK's own arithmetic, in ``sdk_limits``)."""

from __future__ import annotations

from ....sdk_limits import NONSTREAMING_MAX, OPUS_4_NONSTREAMING_MAX, refuses_without_streaming
from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import keyword, streams


class LongRequestWithoutStream(Check):
    rules = (rules.LONG_REQUEST_WITHOUT_STREAM,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        node, client = call.node, call.func.client
        if call.is_stream or not call.is_create or streams(node) is not False:
            return  # streams, or cannot be told
        if keyword(node, "timeout") or client.timeout is not None or not client.timeout_known:
            return
        found = ctx.resolver.number(getattr(keyword(node, "max_tokens"), "value", None), ctx.scope)
        if found is None:
            return
        max_tokens = int(found[0])
        model = ctx.resolver.string(getattr(keyword(node, "model"), "value", None), ctx.scope)
        if not refuses_without_streaming(model, max_tokens):
            return
        if max_tokens >= NONSTREAMING_MAX:
            reason = f"`max_tokens={max_tokens}` is at least {NONSTREAMING_MAX:,}"
        else:
            reason = f"`max_tokens={max_tokens}` is above {OPUS_4_NONSTREAMING_MAX:,} for `{model}`"
        ctx.report(
            rules.LONG_REQUEST_WITHOUT_STREAM,
            node,
            f"non-streaming `create(...)` with {reason}: the SDK raises "
            '"ValueError: Streaming is required for operations that may take longer than 10 minutes"',
            fix="Use `with client.messages.stream(...) as stream:` and `stream.get_final_message()`, "
            "or pass `stream=True`.",
        )
