"""The SDK's non-streaming guard (protocol.md §4), which both the code checks (CD216) and the stream
checks (CD101) need: ``messages.create`` without streaming raises ``ValueError: Streaming is required
for operations that may take longer than 10 minutes`` above these."""

from __future__ import annotations

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
