"""HTTP helpers shared by the two servers, ``serve`` and the recording proxy: reading a request body
under a size limit without leaking it, breaking a connection the way a network does, finding the
proxy a request would take, and saying so when a server is bound beyond loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import click

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


def environment_proxy(url: str, env: Mapping[str, str] | None = None) -> str | None:
    """The proxy that ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (from ``env``, else
    this process's environment) choose for ``url``, as the SDK's client reads them; ``None`` for direct."""
    parts = urlsplit(url)
    host, scheme = parts.hostname or "", parts.scheme or "https"
    saved = None if env is None else dict(os.environ)
    try:  # urllib reads proxies from os.environ only; let it read the mapping given
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        proxies = getproxies_environment()
        bypass = bool(host) and proxy_bypass_environment(host)
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
    proxy = proxies.get(scheme) or proxies.get("all")
    return None if not proxy or bypass else proxy


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, an address, ``[::1]``) stays on this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_exposed(command: str, host: str, exposure: str) -> None:
    """Servers bind loopback by default; when told otherwise, say once what that opens up."""
    if not is_loopback(host):
        click.echo(
            f"claude-doctor {command}: warning: listening on {host}, not loopback: anyone who can reach this port "
            f"can send requests {exposure}",
            err=True,
        )
