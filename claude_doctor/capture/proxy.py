"""The recording reverse proxy behind ``claude-doctor record``.

An aiohttp server takes the app's request, an aiohttp client sends it on unchanged (credentials and
every ``anthropic-*`` header included, only hop-by-hop headers dropped), and the answer is passed back
chunk by chunk the moment each arrives: no buffering, no compression or decompression on the client's
path (``auto_decompress=False``; the recording alone gets the decoded body), no timeouts or retries of
its own. An ``HTTPS_PROXY`` on the way upstream is honoured as the SDK would, looked up once at start
(aiohttp's ``trust_env`` would re-read the environment and ``.netrc`` in a thread for every request).

Each exchange becomes one recording file, flushed per line, redacted, and checked as it goes.

Faults are passed on as they happened: an upstream that breaks mid-body breaks the client's connection
the same way (a reset is a reset, a close is a close) and the recording ends ``reset``; a client that
goes away closes the upstream request and the recording ends ``cancelled``.

aiohttp is imported when a proxy is built, not with this module's callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..checks.stream import StreamAnalyzer
from ..config import Config
from ..failures import failed_step
from ..findings import Finding
from ..recording.jsonl import RecordingWriter
from ..web import abort, environment_proxy, read_body
from .idle import IdleLoop, defer, run_deferred
from .transport import ExchangeRecorder, forwarded_headers

if TYPE_CHECKING:
    from aiohttp import ClientResponse, ClientSession, web

PUBLIC_API = "https://api.anthropic.com"
MAX_REQUEST = 256 * 1024 * 1024  #: far above the API's 32 MB: the API, not the proxy, says no
#: Response headers a proxy must not pass on (RFC 9110 §7.6.1); the server frames the body itself.
RESPONSE_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
)
#: Headers aiohttp's client would add on its own; the proxy sends only what the app sent.
NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


@dataclass
class Captured:
    """One finished exchange, for the live log and the final report."""

    index: int
    method: str
    path: str
    status: int | None
    end: str
    seconds: float
    bytes: int
    chunks: int
    recording: str
    findings: list[Finding]
    error: str | None = None  #: how forwarding went wrong, if it did
    recording_failed: str | None = None  #: why the recording stops short, if it does


@dataclass
class ProxyOptions:
    upstream: str
    out: Path
    host: str = "127.0.0.1"
    port: int = 0
    config: Config = field(default_factory=Config)
    on_exchange: Callable[[Captured], None] | None = None


class _ClientGone(Exception):
    """Writing to the app failed: it closed its connection."""


class _Exchange:
    """One request through the proxy: its recording file, its recorder and its live checker."""

    def __init__(self, proxy: RecordingProxy, index: int, method: str, path: str) -> None:
        self.index = index
        self.method = method
        self.path = path
        self.file: Path = proxy.recording_path(index, path)
        self.analyzer = StreamAnalyzer(str(self.file), proxy.options.config)
        self.findings: list[Finding] = []
        self.error: str | None = None
        self.stream: IO[bytes] | None = None
        why = None
        try:
            self.stream = self.file.open("xb")
        except OSError as exc:  # the app's request goes on; only the recording is lost
            why = f"recording not created: {exc.strerror or exc}"
        writer = RecordingWriter(self.stream, "proxy") if self.stream is not None else None
        self.recorder = ExchangeRecorder(writer, 0, listener=self._check)
        if why is not None:
            self.recorder.stop(why)

    def later(self, name: str, *args: Any) -> None:
        """Record after the bytes have gone on, when the loop is idle (``idle.defer``): every stream's
        data is forwarded before any is recorded and checked. Calls stay in order; times are taken by
        the caller, now."""
        defer(getattr(self.recorder, name), *args)

    def _check(self, record: Any) -> None:
        self.findings.extend(self.analyzer.add(record))

    def close(self) -> Captured:
        self.recorder.end("cancelled")  # a no-op unless the exchange was cut off before its end
        self.recorder.flush()
        if self.stream is not None:
            with contextlib.suppress(OSError):  # a full disk fails the close too; the failure is reported
                self.stream.close()
        self.findings = self.analyzer.finish()
        return Captured(
            self.index,
            self.method,
            self.path,
            self.recorder.status,
            self.recorder.reason or "cancelled",
            self.recorder.seconds,
            self.recorder.bytes,
            self.recorder.chunks,
            str(self.file),
            self.findings,
            self.error,
            self.recorder.failed,
        )


class RecordingProxy:
    """The proxy server. ``await start()`` / ``await stop()`` inside a running loop."""

    def __init__(self, options: ProxyOptions) -> None:
        self.options = options
        self.upstream = options.upstream.rstrip("/")
        self.captured: list[Captured] = []
        self._counter = itertools.count()
        self._session: ClientSession | None = None
        self._via: str | None = None  #: the proxy on the way upstream, if the environment names one
        self._runner: web.AppRunner | None = None
        self._stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.port = options.port

    @property
    def url(self) -> str:
        host = self.options.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def recording_path(self, index: int, path: str) -> Path:
        """``<start time>-<n>-<path>.jsonl``: sorted by time, unique across runs sharing a folder."""
        slug = "-".join(p for p in path.split("?")[0].split("/") if p)[:60] or "root"
        for attempt in itertools.count():
            suffix = f"-{attempt}" if attempt else ""
            candidate = self.options.out / f"{self._stamp}-{index:04d}{suffix}-{slug}.jsonl"
            if not candidate.exists():
                return candidate
        raise AssertionError("unreachable")

    async def start(self) -> None:
        """Bind and listen; the upstream session is made here, inside the loop that uses it."""
        import aiohttp
        from aiohttp import web

        self.options.out.mkdir(parents=True, exist_ok=True)
        self._via = environment_proxy(self.upstream)
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
            skip_auto_headers=NO_AUTO_HEADERS,
        )
        app = web.Application(client_max_size=MAX_REQUEST)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.options.host, self.port).start()
        except OSError:
            await self.stop()
            raise
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening; exchanges still open are cancelled and recorded as ``cancelled``."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            for _ in range(3):  # let the cancelled exchanges' handlers finish
                await asyncio.sleep(0)
            run_deferred()  # and record what they left to record
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- one exchange

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        exchange = _Exchange(self, next(self._counter), request.method, request.raw_path)
        try:
            return await self._forward(request, exchange)
        finally:
            defer(self._closed, exchange)

    def _closed(self, exchange: _Exchange) -> None:
        captured = exchange.close()
        self.captured.append(captured)
        if self.options.on_exchange is not None:
            self.options.on_exchange(captured)

    async def _forward(self, request: web.Request, exchange: _Exchange) -> web.StreamResponse:
        from aiohttp import ClientError, web

        recorder = exchange.recorder
        body = await read_body(request)
        if body is None:
            return web.Response(status=413, text=f"Request body larger than {MAX_REQUEST} bytes")
        headers = forwarded_headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers])
        url = self.upstream + request.raw_path
        recorder.request(request.method, url, headers, body)
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False, proxy=self._via
            )
        except asyncio.CancelledError:
            exchange.later("end", "cancelled", None, recorder.now())
            raise
        except (TimeoutError, ClientError, OSError) as exc:
            exchange.error = f"{_failed_step(exc)} step failed reaching {self.upstream}"
            exchange.later("end", "error", exc, recorder.now())
            _break(request, exc)
            return web.StreamResponse(status=502)  # never sent: the connection is already closed
        try:
            return await self._relay(request, upstream, exchange)
        finally:
            upstream.close()

    async def _relay(self, request: web.Request, upstream: ClientResponse, exchange: _Exchange) -> web.StreamResponse:
        from aiohttp import web

        now = exchange.recorder.now
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in upstream.raw_headers]
        version = f"HTTP/{upstream.version.major}.{upstream.version.minor}"
        exchange.later("response", upstream.status, upstream.reason, version, raw, now())
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in raw:
            if name.lower() not in RESPONSE_NOT_FORWARDED:
                response.headers.add(name, value)
        try:
            await response.prepare(request)
            reason, error = await self._pump(upstream, response, exchange)
        except (asyncio.CancelledError, _ClientGone, ConnectionError) as exc:
            exchange.later("end", "cancelled", None, now())
            if isinstance(exc, asyncio.CancelledError):
                raise
            return response
        if error is not None:
            exchange.later("end", reason, error, now())
            await _drained(request)
            _break(request, error)
            return response
        await response.write_eof()
        exchange.later("end", "eof", None, now())
        return response

    async def _pump(
        self, upstream: ClientResponse, response: web.StreamResponse, exchange: _Exchange
    ) -> tuple[str, BaseException | None]:
        """Copy the body as it arrives; returns how the upstream body ended (``eof`` or ``reset`` and why)."""
        content = upstream.content
        now = exchange.recorder.now
        while True:
            try:
                data = await content.readany()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                return "reset", exc
            if not data:
                return "eof", None
            t = now()
            try:
                await response.write(data)
            except ConnectionError as exc:
                raise _ClientGone from exc
            exchange.later("chunk", data, t)


def _failed_step(exc: BaseException) -> str:
    """aiohttp names the step in its exception class (its messages say ``ssl:default`` even for plain
    TCP, which would fool a reading of the text); anything else is classified as ``live`` does."""
    import aiohttp

    steps = (
        (aiohttp.ClientProxyConnectionError, "proxy"),
        (aiohttp.ClientHttpProxyError, "proxy"),
        (aiohttp.ClientConnectorDNSError, "DNS"),
        (aiohttp.ClientConnectorCertificateError, "TLS"),
        (aiohttp.ClientSSLError, "TLS"),
        (aiohttp.ClientConnectorError, "TCP"),
    )
    return next((step for kind, step in steps if isinstance(exc, kind)), None) or failed_step(exc)


def _is_reset(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionResetError) or "reset by peer" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


async def _drained(request: web.Request, limit: float = 1.0) -> None:
    """Let bytes already handed to the transport reach the app before its connection is broken."""
    transport = request.transport
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while transport is not None and transport.get_write_buffer_size() and loop.time() < deadline:
        await asyncio.sleep(0.001)


def _break(request: web.Request, exc: BaseException) -> None:
    """Break the app's connection the way upstream broke ours: a TCP reset for a reset, else a close
    without the body's end (so a chunked or sized body is visibly incomplete)."""
    abort(request, reset=_is_reset(exc))


@contextlib.contextmanager
def running(upstream: str, out: str | Path, config: Config | None = None) -> Iterator[RecordingProxy]:
    """Run a recording proxy on a free loopback port in a background thread for the ``with`` block
    (tests, notebooks): ``with running(url, "recs") as proxy: Anthropic(base_url=proxy.url)``."""
    ready = threading.Event()
    loop = IdleLoop()
    proxy = RecordingProxy(ProxyOptions(upstream, Path(out), config=config or Config()))
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start())
        except BaseException as exc:
            failure.append(exc)
        ready.set()
        if not failure:
            loop.run_forever()
        loop.run_until_complete(proxy.stop())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True, name="claude-doctor-record")
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        raise failure[0]
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
