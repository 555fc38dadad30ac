"""The mock Messages API's server: routes, the checks the API makes on a request, the choice of
answer, and :func:`running`, which runs it in a background thread for a test.

Built on aiohttp because it is a maintained HTTP/1.1 server that still hands over the transport, which
``reset`` needs to send a real TCP RST (``SO_LINGER`` 0, then abort).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from aiohttp import web

from ..errors import UsageProblem
from ..faults import Faults, parse_faults
from ..recording.model import Source
from ..web import ConnectionGuard, ServerLog, close_server, connection_cap, cut_off, hardened_runner, listen, read_body
from .faults import apply_event_faults, apply_transport_faults
from .replies import (
    DEFAULT_RETRY_AFTER,
    RecordedExchange,
    Reply,
    error_reply,
    load_exchanges,
    new_id,
    recorded_reply,
    synthetic_reply,
)
from .sender import Sender

DEFAULT_PING_INTERVAL = 15.0  #: the API's keep-alive cadence (see CD102)
MAX_BODY = 32 * 1024 * 1024  #: the API's request size limit (the API's documented limit)
#: What a client dials for a server bound to every address.
WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


@dataclass
class Exchange:
    """One answered request, kept for tests and the server's log line."""

    method: str
    path: str
    status: int
    stream: bool
    events: int = 0
    seconds: float = 0.0
    outcome: str = "complete"
    sha256: str = ""  #: of every body byte sent, pings included: tests compare it with a capture
    started: float = 0.0  #: ``time.monotonic()`` when the request came in: retry spacing
    faulted: bool = False  #: whether the faults were applied to this answer
    body: dict | None = None  #: the request's JSON body, as the server read it


@dataclass
class ServeOptions:
    """How the server answers every request: the faults, what it replays, its pace."""

    faults: Faults = field(default_factory=Faults)
    exchanges: list[RecordedExchange] | None = None  #: replay these instead of synthesising
    speed: float = 1.0  #: divides recorded and synthetic waits; ``math.inf`` for no waits
    ping_interval: float = DEFAULT_PING_INTERVAL
    retry_after: float = DEFAULT_RETRY_AFTER
    on_exchange: Callable[[Exchange], None] | None = None
    #: only the first N requests get the faults (a transient failure, so a retry can succeed); None: every one
    faulty_requests: int | None = None


class MockAPI:
    """The mock Messages API. Use :meth:`start`/:meth:`stop` inside a running loop (the CLI), or as a
    context manager, which runs it on its own loop in a background thread (tests, notebooks)."""

    def __init__(self, options: ServeOptions, host: str = "127.0.0.1", port: int = 0) -> None:
        self.options = options
        self.host = host
        self.port = port
        self.exchanges: list[Exchange] = []  #: every answered request, in order
        self.arrivals: list[float] = []  #: ``time.monotonic()`` of every request, answered yet or not
        self._counter = itertools.count()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.log = ServerLog("claude-doctor serve")  #: every line the server and aiohttp log
        self.stopping = False  #: set by :meth:`stop`: a stream cut off now was cut off by the server
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL a client on this machine uses: loopback for a server bound to every address."""
        host = WILDCARD_HOSTS.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/count_tokens", self._count_tokens)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self) -> None:
        """Bind and listen; a busy port or a bad host raises :class:`UsageProblem`."""
        guard = ConnectionGuard(connection_cap(fds_per_connection=1), self.log)
        self._runner = hardened_runner(self.app(), guard, shutdown_timeout=0.2)
        await self._runner.setup()
        try:
            self._listener = await listen(self._runner, guard, self.host, self.port)
        except OSError as exc:
            await self._runner.cleanup()
            reason = "port in use" if exc.errno in (48, 98, 10048) else (exc.strerror or str(exc))
            raise UsageProblem(f"cannot listen on {self.host}:{self.port}: {reason}") from None
        self.port = self._listener.sockets[0].getsockname()[1]

    def hurry(self) -> None:
        """End every open connection now instead of giving each its grace period (a second Ctrl-C)."""
        cut_off(self._runner)

    async def stop(self) -> None:
        """Stop listening, then end the open connections; the counts of any trouble are said last."""
        self.stopping = True
        await close_server(self._listener, self._runner)
        self._listener = self._runner = None
        self.log.summary()

    # -- background thread, for tests

    def __enter__(self) -> MockAPI:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run_thread, args=(ready, failure), daemon=True, name="claude-doctor-serve"
        )
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run_thread(self, ready: threading.Event, failure: list[BaseException]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop.wait()
            await self.stop()

        asyncio.run(main())

    # -- handlers

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        self.arrivals.append(started)
        number = next(self._counter)
        limit = self.options.faulty_requests
        faults = self.options.faults if limit is None or number < limit else Faults()
        reply, stream, max_tokens, body = await self._plan(request, number, faults)
        if reply.status < 300:
            apply_event_faults(reply, faults, max_tokens)
        apply_transport_faults(reply, faults, self.options.ping_interval)
        sender = Sender(request, reply, faults, self.options.speed, self.options.ping_interval)
        try:
            outcome = await sender.send()
        except (ConnectionError, asyncio.CancelledError):
            outcome = "server stopped" if self.stopping else "client gone"
        seconds = time.monotonic() - started
        digest = sender.digest.hexdigest()
        faulted = faults != Faults()
        fields = (request.method, request.path, reply.status, stream, sender.events, seconds, outcome, digest)
        self._log(Exchange(*fields, started=started, faulted=faulted, body=body))
        return sender.response or web.Response(status=502)  # never sent: the connection is already gone

    async def _plan(self, request: web.Request, number: int, faults: Faults) -> tuple[Reply, bool, int, dict | None]:
        body, problem = await _read_body(request)
        if problem is not None:
            return problem, False, 0, None
        stream = bool(body.get("stream"))
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 0
        if faults.status is not None:
            return error_reply(faults.status, retry_after=self.options.retry_after), stream, max_tokens, body
        if faults.json and stream:
            return synthetic_reply(body, stream=False), stream, max_tokens, body
        if self.options.exchanges:
            exchange = self.options.exchanges[number % len(self.options.exchanges)]
            return recorded_reply(exchange, faults.events_needed), stream, max_tokens, body
        return synthetic_reply(body, stream), stream, max_tokens, body

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body, problem = await _read_body(request, count_tokens=True)
        if problem is not None:
            return web.Response(status=problem.status, body=problem.pieces[0].data, headers=problem.headers)
        tokens = max(1, len(json.dumps([body.get("system"), body.get("messages"), body.get("tools")])) // 4)
        return web.json_response({"input_tokens": tokens}, headers={"request-id": new_id("req_011C")})

    async def _not_found(self, request: web.Request) -> web.Response:
        reply = error_reply(404, f"Not found: {request.method} {request.path}")
        return web.Response(status=404, body=reply.pieces[0].data, headers=reply.headers)

    def _log(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        if self.options.on_exchange is not None:
            self.options.on_exchange(exchange)


async def _read_body(request: web.Request, count_tokens: bool = False) -> tuple[dict, Reply | None]:
    """Check what the API checks first: a credential, anthropic-version, a JSON body with its required
    fields. Any key is accepted, as ``x-api-key`` or ``Authorization: Bearer``."""
    auth = request.headers.get("authorization", "")
    if not request.headers.get("x-api-key") and not auth.lower().startswith("bearer "):
        return {}, error_reply(401, "x-api-key header is required")
    if not request.headers.get("anthropic-version"):
        return {}, error_reply(400, "anthropic-version: header is required")
    raw = await read_body(request)
    if raw is None:
        return {}, error_reply(413)
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, error_reply(400, "There was an error parsing the body of your request as JSON.")
    if not isinstance(body, dict):
        return {}, error_reply(400, "Request body must be a JSON object.")
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    missing = next((name for name in required if name not in body), None)
    if missing is not None:
        return {}, error_reply(400, f"{missing}: Field required")
    return body, None


@contextlib.contextmanager
def running(
    faults: list[str] | tuple[str, ...] | Faults = (),
    recording: Source | None = None,
    *,
    speed: float = math.inf,
    ping_interval: float = DEFAULT_PING_INTERVAL,
    retry_after: float = DEFAULT_RETRY_AFTER,
    port: int = 0,
) -> Iterator[str]:
    """Run the mock API in a background thread for the ``with`` block and yield its base URL.

    Made for tests (the project's and users')::

        @pytest.fixture
        def stalled_api():
            with running(["stall:2"]) as url:
                yield url

    The default ``speed`` is ``math.inf`` (no synthetic pacing) so tests stay fast; explicit faults
    (``stall``, ``drip``, ``no-pings``) keep their own timing."""
    plan = faults if isinstance(faults, Faults) else parse_faults(list(faults))
    exchanges = load_exchanges(recording) if recording is not None else None
    options = ServeOptions(plan, exchanges, speed, ping_interval, retry_after)
    with MockAPI(options, port=port) as api:
        yield api.url
