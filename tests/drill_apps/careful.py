"""A careful streaming app: a read timeout, a complete answer checked (``message_stop`` seen, a
``stop_reason``, no gap in the blocks), errors caught and the whole request retried with backoff, and
``max_tokens`` answered by asking again with twice the limit. It prints only a complete answer, and
exits 1 with one line when every attempt failed."""

import sys
import time

import anthropic
import httpx2

ATTEMPTS = 4
READ_TIMEOUT = 4.0  # seconds of silence before giving up on a stream: above any normal gap
RETRYABLE = (anthropic.APIStatusError, anthropic.APIConnectionError, httpx2.TransportError, ValueError)


class Incomplete(Exception):
    """The stream ended without a whole answer."""


def ask(client: anthropic.Anthropic, max_tokens: int) -> tuple[str, str]:
    """One streamed answer: its text and stop_reason; raises Incomplete when it is not whole."""
    blocks: dict[int, str] = {}
    stop_reason = None
    finished = False
    stream = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
    )
    with stream:
        for event in stream:
            if event.type == "content_block_start":
                blocks.setdefault(event.index, "")
            elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                blocks[event.index] = blocks.get(event.index, "") + event.delta.text
            elif event.type == "message_delta":
                stop_reason = event.delta.stop_reason
            elif event.type == "message_stop":
                finished = True
    if not finished or stop_reason is None or sorted(blocks) != list(range(len(blocks))):
        raise Incomplete(f"the stream ended without a whole answer (stop_reason {stop_reason})")
    return "".join(blocks[i] for i in sorted(blocks)), stop_reason


def main() -> int:
    client = anthropic.Anthropic(timeout=httpx2.Timeout(60, connect=5, read=READ_TIMEOUT))
    max_tokens = 256
    for attempt in range(ATTEMPTS):
        try:
            text, stop_reason = ask(client, max_tokens)
        except (*RETRYABLE, Incomplete) as exc:
            print(f"attempt {attempt + 1}: {type(exc).__name__}: {exc}", file=sys.stderr)
        else:
            if stop_reason != "max_tokens":
                print(text)
                return 0
            print(f"attempt {attempt + 1}: stopped at max_tokens={max_tokens}", file=sys.stderr)
            max_tokens *= 2
        time.sleep(0.2 * 2**attempt)
    print("careful: no complete answer after every attempt", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
