"""aiohttp helpers shared by the two servers, ``serve`` and the recording proxy: reading a request body
under a size limit without leaking it, and breaking a connection the way a network does."""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiohttp loads with the server that uses these, not with their importers
    from aiohttp import web


async def read_body(request: web.Request) -> bytes | None:
    """The request body, or ``None`` when it is over the server's ``client_max_size``.

    The caller answers 413 itself: aiohttp's exception, kept alive as the response, would hold its
    traceback and with it the partial body in a reference cycle, once per refused request."""
    from aiohttp import web

    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        pass
    return None


def abort(request: web.Request, *, reset: bool) -> None:
    """Drop the client's connection without ending the body: with ``reset``, a real TCP RST (linger 0
    makes the close discard the send queue), else a plain close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
