"""An async web relay, as chat front-ends are written: an aiohttp server whose ``POST /chat`` streams
Claude's text to the browser as it arrives (``AsyncAnthropic``, ``messages.stream``, ``text_stream``).

``python relay.py`` is the drill's command: it starts the relay (``relay.py --serve``, a process of its
own, as it would run in production), sends one chat request through it as a browser would, prints the
text it got and stops the relay. ``python relay.py --serve`` runs the relay alone and prints its port."""

import asyncio
import subprocess
import sys

import aiohttp
import anthropic
from aiohttp import web


async def chat(request: web.Request) -> web.StreamResponse:
    prompt = (await request.json())["prompt"]
    client: anthropic.AsyncAnthropic = request.app["client"]
    async with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=256, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        response = web.StreamResponse(headers={"content-type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        async for text in stream.text_stream:
            await response.write(text.encode())
    await response.write_eof()
    return response


async def serve() -> None:
    app = web.Application()
    app["client"] = anthropic.AsyncAnthropic()
    app.router.add_post("/chat", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


async def ask(port: int) -> str:
    url = f"http://127.0.0.1:{port}/chat"
    async with aiohttp.ClientSession() as session, session.post(url, json={"prompt": "Say hello"}) as response:
        response.raise_for_status()
        return await response.text()


def main() -> int:
    relay = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(relay.stdout.readline().split()[1])
        print(asyncio.run(ask(port)))
    finally:
        relay.terminate()
        relay.wait()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(serve())
    else:
        sys.exit(main())
