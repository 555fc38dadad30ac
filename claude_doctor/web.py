"""HTTP helpers shared by the two servers, ``serve`` and the recording proxy: reading a request body
under a size limit without leaking it, breaking a connection the way a network does, finding the
proxy a request would take, saying so when a server is bound beyond loopback, and standing up to a
hostile network: one redacted line per bad request, a header timeout and a connection cap."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import re
import signal
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment

import click

from .keys import redact_text

if TYPE_CHECKING:  # aiohttp loads with the server that uses these, not with their importers
    from aiohttp import web

#: Seconds a connection may take to send a complete request head, from connecting or from the end of
#: its previous answer (aiohttp's keep-alive timer runs from the connection's start): a slowloris
#: client that dribbles its headers is closed after this. Above the SDK's own 5 s keep-alive expiry,
#: so the client, not the server, closes an idle pooled connection.
HEADER_TIMEOUT = 30.0
LISTEN_BACKLOG = 128
#: File descriptors kept free of connections: the process's own, and two backlogs of accepts (asyncio
#: accepts up to a backlog at a time, and the connections they displace close an iteration later).
FDS_RESERVED = 64 + 2 * LISTEN_BACKLOG
#: What a connection refused at the cap is told: a status every client retries, after a second.
BUSY_REPLY = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class ServerLog(logging.Handler):
    """What a server and its HTTP library log, as one redacted line each on stderr.

    aiohttp logs a malformed request with a traceback that quotes the raw request bytes, a key among
    them; here it becomes ``400 from 127.0.0.1: bad chunked encoding``. Trouble that repeats (a flood
    of garbage, an overload) is shown a few times, or once, then counted, and :meth:`summary` says the
    counts at the end, so an attack cannot fill the terminal or the disk."""

    SHOWN = 10  #: lines shown per kind of trouble before the rest are only counted

    def __init__(self, prefix: str) -> None:
        super().__init__(logging.DEBUG)
        self.prefix = prefix
        self.counts: Counter[str] = Counter()
        self.shown: dict[str, int] = {}  #: kind -> lines of it shown at most

    def emit(self, record: logging.LogRecord) -> None:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            self.say("bad requests", f"{exc.code} from {remote}: {bad_request_reason(exc)}")
        elif isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):  # asyncio's accept
            self.say("out of file descriptors", "out of file descriptors: new connections wait a second", 1)
        elif record.levelno >= logging.WARNING:
            why = f": {type(exc).__name__}: {exc}" if exc is not None else ""
            self.say(str(record.msg), f"{record.getMessage()}{why}")

    def say(self, kind: str, line: str, shown: int = SHOWN) -> None:
        """Show ``line`` unless ``shown`` lines of this ``kind`` were already shown; count it either way."""
        self.counts[kind] += 1
        self.shown[kind] = shown
        if self.counts[kind] <= shown:
            self._echo(line)
        if self.counts[kind] == shown + 1 and shown > 1:  # a line shown once says so itself
            self._echo(f"more of '{kind}' are counted, not shown; the count comes when the server stops")

    def summary(self) -> None:
        """One line per kind of trouble that was counted beyond what was shown."""
        for kind, count in self.counts.items():
            if count > self.shown[kind]:
                self._echo(f"{kind}: {count:,} in all")

    def _echo(self, line: str) -> None:
        one_line = " ".join(redact_text(line).split())
        click.echo(f"{self.prefix}: {one_line[:300]}", err=True)

    def logger(self, name: str) -> logging.Logger:
        """A logger of this server's own, for aiohttp's ``logger=``: apart from the process's logging
        set-up, so a library user's handlers never see the raw request bytes either."""
        logger = logging.Logger(name)
        logger.addHandler(self)
        return logger

    def take_over(self, *names: str) -> None:
        """Route these library loggers (``aiohttp``, ``asyncio``) here alone, for a process that is
        this server (the CLI): a traceback from deep inside them is a line too."""
        for name in names:
            library = logging.getLogger(name)
            library.handlers[:] = [self]
            library.propagate = False


#: The parser's words for what went wrong, in the user's words; the parser's own text quotes the bytes.
_BAD_REQUEST_REASONS = (
    ("chunk", "bad chunked encoding"),
    ("HTTP version", "unsupported HTTP version (this server speaks HTTP/1.1)"),
    ("PRI/Upgrade", "an HTTP/2 preface (this server speaks HTTP/1.1)"),
    ("Got more than", "request line or header too long"),
    ("method", "not an HTTP request (bad method)"),
    ("Content-Length", "bad content-length"),
    ("header", "bad header"),
)


def bad_request_reason(exc: Exception) -> str:
    """Why the parser refused a request, without a byte of the request (a key could be among them)."""
    message = str(getattr(exc, "message", "") or exc)
    words = next((words for clue, words in _BAD_REQUEST_REASONS if clue.lower() in message.lower()), None)
    if words is not None:
        return words
    first = re.split(r"[:\n]", message.strip(), maxsplit=1)[0].strip().lower()
    return first or type(exc).__name__


def fd_limit() -> int | None:
    """The open-file limit, raised to the hard limit first (as Go's runtime does for every server);
    ``None`` where there is no such limit to read (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else soft


_Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


class ConnectionGuard:
    """The listener's protocol factory: aiohttp's, under a cap on open connections set below the
    file-descriptor limit, so that a flood (slowloris: many connections, each dribbling its headers)
    meets a plan instead of ``Too many open files`` on every accept.

    At the cap a new connection takes the place of the oldest one with no request in progress (a
    slowloris connection is always one of those), so real clients keep getting in; only when every
    connection is busy with a request is the new one answered 503 and closed."""

    def __init__(self, cap: int, log: ServerLog) -> None:
        self.server: web.Server | None = None  #: aiohttp's, once its runner is set up
        self.cap = cap
        self.log = log
        self.busy: set[object] = set()  #: connections with a request in a handler

    def __call__(self) -> asyncio.Protocol:
        assert self.server is not None, "listen() sets the server"
        connections = [c for c in self.server.connections if c.transport is not None]  # not closing already
        if len(connections) < self.cap:
            return self.server()
        idle = next((c for c in connections if c not in self.busy), None)
        if idle is None:
            self._overload("connections refused", "all busy: refusing new ones")
            return _Refused()
        self._overload("idle connections closed", "closing the oldest idle ones")
        idle.force_close()
        return self.server()

    def _overload(self, kind: str, action: str) -> None:
        """Said once; how often it happened is counted and said when the server stops."""
        line = f"too many open connections (cap {self.cap}): {action} (the count comes at the end)"
        self.log.say(kind, line, shown=1)

    def middleware(self) -> Callable[[web.Request, _Handler], Awaitable[web.StreamResponse]]:
        """Marks a connection busy while its request is handled (answers stream from inside handlers)."""
        from aiohttp import web

        @web.middleware
        async def busy(request: web.Request, handler: _Handler) -> web.StreamResponse:
            self.busy.add(request.protocol)
            try:
                return await handler(request)
            finally:
                self.busy.discard(request.protocol)

        return busy


class _Refused(asyncio.Protocol):
    """A connection over the cap: told 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(BUSY_REPLY)  # type: ignore[attr-defined]
        transport.close()


def hardened_runner(app: web.Application, guard: ConnectionGuard, **options: Any) -> web.AppRunner:
    """aiohttp's runner for ``app`` with the settings a hostile network needs: the header timeout,
    aiohttp's own log through ``guard.log``, no access log, and ``guard`` told which connections are busy."""
    from aiohttp import web

    app.middlewares.append(guard.middleware())
    logger = guard.log.logger("claude_doctor.server")
    return web.AppRunner(app, access_log=None, logger=logger, keepalive_timeout=HEADER_TIMEOUT, **options)


async def listen(runner: web.AppRunner, guard: ConnectionGuard, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` through ``guard``, after ``runner.setup()`` (aiohttp's ``TCPSite`` takes
    no protocol factory). Close the returned server before ``runner.cleanup()``."""
    guard.server = runner.server
    loop = asyncio.get_running_loop()
    return await loop.create_server(guard, host, port, reuse_address=os.name == "posix", backlog=LISTEN_BACKLOG)


class StopSignals:
    """Ctrl-C and SIGTERM for a server's whole run, its shutdown included, so that neither lands as a
    ``KeyboardInterrupt`` in the middle of the shutdown (tracebacks, and recordings left without their
    end). The first sets :attr:`stop`, unless a :attr:`child` runs (``record -- CMD``: Ctrl-C reached
    it from the terminal too, so it is left to it; SIGTERM is passed on). One after :attr:`stop` is set
    calls ``hurry``, which cuts the shutdown short without skipping its ending. Where the loop cannot
    take signals (Windows), Ctrl-C stays a ``KeyboardInterrupt``."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, hurry: Callable[[], None], log: ServerLog, hurrying: str) -> None:
        self.stop = asyncio.Event()
        self.child: asyncio.subprocess.Process | None = None
        self.hurry = hurry
        self.log = log
        self.hurrying = hurrying  #: what a second signal does, said once
        self.installed: list[signal.Signals] = []

    def __enter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            try:
                loop.add_signal_handler(sig, self._received, sig)
            except NotImplementedError:
                break
            self.installed.append(sig)
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self.installed:
            loop.remove_signal_handler(sig)

    def _received(self, sig: signal.Signals) -> None:
        if self.stop.is_set():
            self.hurry()
            self.log.say("signals during the shutdown", f"stopping now: {self.hurrying}", shown=1)
        elif self.child is None:
            self.stop.set()
        elif sig == signal.SIGTERM:
            self.child.send_signal(sig)


def cut_off(runner: web.AppRunner | None) -> None:
    """Close every connection of ``runner`` now; aiohttp cancels their handlers, which record how the
    exchange ended as they unwind."""
    server = runner.server if runner is not None else None
    for connection in server.connections if server is not None else ():
        connection.force_close()


async def close_server(listener: asyncio.Server | None, runner: web.AppRunner | None) -> bool:
    """Stop accepting connections, then end the open ones (aiohttp gives each its grace period first);
    whether there was a runner to end, so a caller can finish what its handlers left to do."""
    if listener is not None:
        listener.close()
    if runner is None:
        return False
    await runner.cleanup()
    return True


def connection_cap(fds_per_connection: int) -> int:
    """Connections that fit in the file-descriptor limit, each using ``fds_per_connection``."""
    limit = fd_limit()
    return max(8, ((limit or 4096) - FDS_RESERVED) // fds_per_connection)


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
