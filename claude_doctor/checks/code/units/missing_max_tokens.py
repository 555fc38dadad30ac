"""CD215 missing-max-tokens: ``create``/``stream`` without ``max_tokens`` (the SDK refuses the call)."""

from __future__ import annotations

from .. import rules
from ..context import CLIENT, Check, ClientCall, Context
from ..resolve import has_star_kwargs, keyword


class MissingMaxTokens(Check):
    rules = (rules.MISSING_MAX_TOKENS,)
    need = CLIENT

    def on_client_call(self, ctx: Context, call: ClientCall) -> None:
        node = call.node
        if not (call.is_stream or call.is_create):
            return
        if keyword(node, "max_tokens") or has_star_kwargs(node) or node.args:
            return
        ctx.report(
            rules.MISSING_MAX_TOKENS,
            node,
            f"`{ctx.first_line(node)}` has no `max_tokens`",
            fix="Add `max_tokens=1024` (or the most tokens the answer may use).",
        )
