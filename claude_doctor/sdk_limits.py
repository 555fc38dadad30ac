"""What the installed ``anthropic`` SDK refuses and what it knows.

The non-streaming guard is needed by both the code checks (CD216) and the stream checks (CD101):
``messages.create`` without streaming raises ``ValueError: Streaming is required for operations that
may take longer than 10 minutes`` above the limits below. The stream vocabulary (CD116) is read from
the installed SDK's types, lazily: importing ``anthropic`` takes about a second, so it happens once,
and only when a stream has a type outside the core set the checks know by heart."""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass

NONSTREAMING_MAX = 21_334  #: max_tokens at or above this is refused (3600 s × max_tokens / 128,000 > 600 s)
OPUS_4_NONSTREAMING_MAX = 8_192  #: and above this for the Claude Opus 4/4.1 ids below
OPUS_4_IDS = frozenset(
    {
        "claude-opus-4-20250514",
        "claude-opus-4-0",
        "claude-4-opus-20250514",
        "anthropic.claude-opus-4-20250514-v1:0",
        "claude-opus-4@20250514",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "claude-opus-4-1@20250805",
    }
)


def refuses_without_streaming(model: str | None, max_tokens: int) -> bool:
    """Whether the SDK's guard refuses a non-streaming call with these arguments."""
    return max_tokens >= NONSTREAMING_MAX or (model in OPUS_4_IDS and max_tokens > OPUS_4_NONSTREAMING_MAX)


# -- the stream vocabulary (CD116) ----------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """The event, delta and content block types one namespace of the SDK parses, and where that
    knowledge came from (``source`` is said in findings, so a reader knows what was compared)."""

    events: frozenset[str]
    deltas: frozenset[str]
    blocks: frozenset[str]
    source: str

    def knows(self, what: str, name: object) -> bool:
        """``what`` is ``"event"``, ``"delta"`` or ``"block"``."""
        return name in {"event": self.events, "delta": self.deltas, "block": self.blocks}[what]


_TRANSPORT_EVENTS = frozenset({"ping", "error"})  # handled by the SDK's SSE reader, not its models
_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    }
)
_DELTAS = frozenset({"text_delta", "input_json_delta", "citations_delta", "thinking_delta", "signature_delta"})
_BLOCKS = frozenset(
    {
        "text",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
    }
)
_FALLBACK_SOURCE = "the types of anthropic 2.16 (the anthropic package could not be read here)"
#: what anthropic 2.16 knows, for when the installed SDK cannot be imported or read
FALLBACK = {
    False: Vocabulary(_EVENTS | _TRANSPORT_EVENTS, _DELTAS, _BLOCKS, _FALLBACK_SOURCE),
    True: Vocabulary(
        _EVENTS | _TRANSPORT_EVENTS,
        _DELTAS | {"compaction_delta"},
        _BLOCKS
        | {"mcp_tool_use", "mcp_tool_result", "mcp_tool_listing", "compaction", "advisor_tool_result", "fallback"},
        _FALLBACK_SOURCE,
    ),
}
#: request fields only the beta Messages API accepts (anthropic 2.16), for when the SDK cannot be read
FALLBACK_BETA_FIELDS = frozenset(
    {
        "betas",
        "billing_policy",
        "compaction",
        "context_management",
        "fallback_credit_token",
        "fallbacks",
        "mcp_servers",
        "thread",
    }
)


def literal_types(annotation: object) -> frozenset[str]:
    """Every ``type`` literal in a (union of) SDK model(s): ``Literal["text"]`` on each member's
    ``type`` field, through ``Annotated`` and unions."""
    found: set[str] = set()
    pending = [annotation]
    while pending:
        tp = pending.pop()
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            pending.append(typing.get_args(tp)[0])
        elif origin is typing.Union or origin is types.UnionType:
            pending.extend(typing.get_args(tp))
        elif origin is typing.Literal:
            found.update(a for a in typing.get_args(tp) if isinstance(a, str))
        elif "type" in (getattr(tp, "model_fields", None) or {}):
            pending.append(tp.model_fields["type"].annotation)
    return frozenset(found)


@functools.cache
def sdk_vocabulary(beta: bool) -> Vocabulary:
    """The types the installed SDK parses in ``client.messages`` (or ``client.beta.messages``);
    the 2.16 lists when it cannot be read. Cached: the import costs about a second."""
    try:
        return _read_vocabulary(beta)
    except (ImportError, AttributeError, KeyError, TypeError):
        return FALLBACK[beta]


def _read_vocabulary(beta: bool) -> Vocabulary:
    import anthropic

    if beta:
        from anthropic.types import beta as ns

        stream_event, delta, block_start = (
            ns.BetaRawMessageStreamEvent,
            ns.BetaRawContentBlockDelta,
            ns.BetaRawContentBlockStartEvent,
        )
    else:
        from anthropic import types as ns

        stream_event, delta, block_start = (
            ns.RawMessageStreamEvent,
            ns.RawContentBlockDelta,
            ns.RawContentBlockStartEvent,
        )
    vocabulary = Vocabulary(
        literal_types(stream_event) | _TRANSPORT_EVENTS,
        literal_types(delta),
        literal_types(block_start.model_fields["content_block"].annotation),
        f"the installed anthropic {anthropic.__version__}{' beta' if beta else ''} types",
    )
    if not (vocabulary.deltas and vocabulary.blocks and "message_start" in vocabulary.events):
        raise TypeError("the SDK's stream types have a shape this reader does not know")
    return vocabulary


@functools.cache
def beta_request_fields() -> frozenset[str]:
    """Request body fields that only the beta Messages API takes (``mcp_servers``, …): a recorder
    that drops the ``anthropic-beta`` header and the ``?beta=true`` query still keeps these."""
    try:
        from anthropic.types import message_create_params as plain
        from anthropic.types.beta import message_create_params as beta

        fields = set(typing.get_type_hints(beta.MessageCreateParamsBase)) - set(
            typing.get_type_hints(plain.MessageCreateParamsBase)
        )
    except (ImportError, AttributeError, NameError, TypeError):
        return FALLBACK_BETA_FIELDS
    return frozenset(fields) or FALLBACK_BETA_FIELDS
