"""A naive streaming app, as many are written: ``create(stream=True)``, the text blocks gathered by
index as they start, then printed. It never looks at ``stop_reason`` and catches nothing, so a cut
stream or ``max_tokens`` goes by silently and anything unexpected ends in a traceback."""

import anthropic

client = anthropic.Anthropic()
stream = client.messages.create(
    model="claude-sonnet-4-6",
    max_tokens=256,
    messages=[{"role": "user", "content": "Say hello"}],
    stream=True,
)
blocks: list[str] = []
for event in stream:
    if event.type == "content_block_start":
        blocks.append("")
    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
        blocks[event.index] += event.delta.text
print("".join(blocks))
