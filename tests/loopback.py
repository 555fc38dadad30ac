"""Test upstreams: any aiohttp app on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web


@contextlib.contextmanager
def app_server(app: web.Application, **runner_options: Any) -> Iterator[str]:
    """``app`` served on 127.0.0.1 until the block ends; yields its base URL. ``runner_options`` go to
    ``web.AppRunner`` (``auto_decompress=False`` keeps request bodies as sent)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, **runner_options)
    ready = threading.Event()
    port: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        port.append(runner.addresses[0][1])
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait()
    try:
        yield f"http://127.0.0.1:{port[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
