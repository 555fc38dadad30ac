"""Writing one planned answer (:class:`~.replies.Reply`) to a client, at its pace, with the API's
keep-alive pings, and with the ``buffer`` and ``reset`` faults that only the writer can play."""

from __future__ import annotations

import asyncio
import hashlib
import math

from aiohttp import web

from ..faults import BUFFER_HOLD, Faults
from ..sse import SSEDecoder
from ..synth import PING
from ..web import abort
from .replies import Reply


class Sender:
    """Writes a :class:`Reply` to one client: waits (scaled by speed), pings when a wait would leave the
    connection quiet for a ping interval, buffers for ``buffer``, resets for ``reset``. Counts the SSE
    events that actually went out (recorded chunks carry no event names, and faults cut and add some)."""

    def __init__(self, request: web.Request, reply: Reply, faults: Faults, speed: float, ping_interval: float) -> None:
        self.request = request
        self.reply = reply
        self.speed = speed  #: divides recorded and synthetic waits; ``math.inf`` for no waits
        self.ping_interval = ping_interval
        self.pings = reply.event_stream and reply.synthetic_pace and not faults.no_pings
        self.held: list[bytes] | None = [] if faults.buffer else None
        self.response: web.StreamResponse | None = None
        self.started = 0.0
        self.last_write = 0.0
        self.events = 0
        self.decoder = SSEDecoder() if reply.event_stream else None
        self.digest = hashlib.sha256()

    async def send(self) -> str:
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        await asyncio.sleep(self._scaled(self.reply.head_wait))
        if self.reply.status == 0:
            self._reset()
            return "reset"
        self.response = web.StreamResponse(status=self.reply.status, headers=self.reply.headers)
        if self.reply.event_stream:
            self.response.enable_chunked_encoding()
        else:
            self.response.content_length = sum(len(p.data) for p in self.reply.pieces)
        await self.response.prepare(self.request)
        self.last_write = loop.time()
        for piece in self.reply.pieces:
            wait = self._scaled(piece.wait) if piece.scaled else piece.wait
            await self._wait(wait, silent=piece.kind == "silence")
            if piece.kind == "reset":
                await self._flush()
                self._reset()
                return "reset"
            await self._write(piece.data)
        await self._flush()
        await self.response.write_eof()
        return "complete"

    def _scaled(self, seconds: float) -> float:
        return 0.0 if math.isinf(self.speed) else seconds / self.speed

    async def _wait(self, seconds: float, silent: bool) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.pings and not silent and self.last_write + self.ping_interval < deadline:
            await asyncio.sleep(max(0.0, self.last_write + self.ping_interval - loop.time()))
            await self._write(PING)
        await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def _write(self, data: bytes) -> None:
        self.last_write = asyncio.get_running_loop().time()
        if not data:
            return
        self.digest.update(data)
        if self.held is not None:
            self.held.append(data)
        else:
            await self._send(data)

    async def _flush(self) -> None:
        """Let go of what ``buffer`` held, no earlier than BUFFER_HOLD after the request came in."""
        if self.held:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self.started + BUFFER_HOLD - loop.time()))
            await self._send(b"".join(self.held))
            self.held = []

    async def _send(self, data: bytes) -> None:
        await self.response.write(data)
        if self.decoder is not None:
            self.events += len(self.decoder.feed(data))

    def _reset(self) -> None:
        abort(self.request, reset=True)
