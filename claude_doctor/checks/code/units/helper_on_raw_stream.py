"""CD212 helper-on-raw-stream: a ``MessageStream`` helper read from the raw ``Stream`` that
``create(..., stream=True)`` returns."""

from __future__ import annotations

import ast

from .. import rules
from ..context import CLIENT, Check, Context
from ..resolve import Result
from .text_stream_on_message import MESSAGE_HELPERS

RAW_STREAM_HELPERS = MESSAGE_HELPERS | {"current_message_snapshot", "content"}


class HelperOnRawStream(Check):
    rules = (rules.HELPER_ON_RAW_STREAM,)
    need = CLIENT

    def on_attribute(self, ctx: Context, node: ast.Attribute) -> None:
        value = ctx.value(node.value)
        if not (isinstance(value, Result) and value.kind == "raw_stream" and node.attr in RAW_STREAM_HELPERS):
            return
        is_async = value.client.is_async
        ctx.report(
            rules.HELPER_ON_RAW_STREAM,
            node,
            f"`.{node.attr}` on the raw `{'AsyncStream' if is_async else 'Stream'}` from `create(..., stream=True)` "
            f"on line {value.call.lineno}: only `messages.stream()` gives a `MessageStream` with that helper",
            fix=f"Use `{'async with' if is_async else 'with'} client.messages.stream(...) as stream:` "
            f"and `stream.{node.attr}`, or read `event.delta.text` from the raw events.",
        )
