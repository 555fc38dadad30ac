"""The SDK README's raw-event streaming example (sync and async): must stay clean."""

import asyncio

from anthropic import Anthropic, AsyncAnthropic

client = Anthropic()

stream = client.messages.create(
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello, Claude"}],
    model="claude-sonnet-4-5",
    stream=True,
)
for event in stream:
    print(event.type)


async def main() -> None:
    aclient = AsyncAnthropic(timeout=600)
    stream = await aclient.messages.create(
        max_tokens=1024,
        messages=[{"role": "user", "content": "Hello, Claude"}],
        model="claude-sonnet-4-5",
        stream=True,
    )
    async for event in stream:
        print(event.type)


asyncio.run(main())
