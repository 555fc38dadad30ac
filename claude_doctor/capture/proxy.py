"""The recording reverse proxy behind ``claude-doctor record``.

An aiohttp server takes the app's request, an aiohttp client sends it on unchanged (credentials and
every ``anthropic-*`` header included, only hop-by-hop headers dropped; the body byte-exact, streamed
past 32 MiB), and the answer is passed back chunk by chunk the moment each arrives: no buffering, no
compression or decompression on either path (``auto_decompress=False`` on both sides; the recording
alone gets the decoded bodies), no timeouts or retries of its own. An ``HTTPS_PROXY`` on the way
upstream is honoured as the SDK would, looked up once at start (aiohttp's ``trust_env`` would re-read
the environment and ``.netrc`` in a thread for every request).

Each exchange becomes one recording file, flushed per line, redacted, and checked as it goes by the
monitor's ``ExchangeWatch``, which also tells the sinks (with ``--metrics``, a ``PrometheusSink`` served
on ``/metrics`` from this same loop): one analysis gives both the findings and the metrics.

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
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..config import Config
from ..failures import failed_step
from ..findings import Finding
from ..production.summary import Sink
from ..production.watch import ExchangeWatch
from ..recording.encoding import BodyDecoder
from ..recording.jsonl import BODY_PART, MAX_JOINED_BODY, RecordingWriter
from ..recording.model import Headers
from ..web import (
    ConnectionGuard,
    ServerLog,
    abort,
    close_server,
    connection_cap,
    cut_off,
    environment_proxy,
    hardened_runner,
    listen,
)
from .idle import IdleLoop, defer, run_deferred
from .transport import ExchangeRecorder, forwarded_headers

if TYPE_CHECKING:
    from aiohttp import ClientResponse, ClientSession, StreamReader, web

    from ..production.prometheus import PrometheusSink

PUBLIC_API = "https://api.anthropic.com"
MAX_REQUEST = 256 * 1024 * 1024  #: far above the API's 32 MB: the API, not the proxy, says no
#: Response headers a proxy must not pass on (RFC 9110 §7.6.1); the server frames the body itself.
RESPONSE_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
)
#: Headers aiohttp's client would add on its own; the proxy sends only what the app sent.
NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
#: File descriptors one exchange holds: the app's connection, the one upstream, the recording.
FDS_PER_EXCHANGE = 3
#: Compressed request body bytes decoded at a time for the recording (deflate inflates 1032:1 at most).
DECODE_STEP = 16 * 1024
#: The words of API paths (Anthropic, Bedrock, Vertex) that a recording's file name may carry.
PATH_WORDS = frozenset(
    {
        "v1",
        "messages",
        "count_tokens",
        "batches",
        "results",
        "cancel",
        "models",
        "complete",
        "files",
        "content",
        "model",
        "invoke",
        "invoke-with-response-stream",
        "converse",
        "converse-stream",
        "projects",
        "locations",
        "publishers",
        "anthropic",
        "rawPredict",
        "streamRawPredict",
    }
)


RECENT_EXCHANGES = 1000  #: how many finished exchanges :attr:`RecordingProxy.captured` keeps
METRICS_CONNECTIONS = 16  #: open connections ``/metrics`` takes (a scraper or two, and a curl)


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
    sinks: tuple[Sink, ...] = ()  #: told of every exchange (the monitor's interface)
    metrics: tuple[str, int] | None = None  #: where to serve Prometheus ``/metrics``, if anywhere


class _ClientGone(Exception):
    """Writing to the app failed: it closed its connection."""


class ProxyStopped(Exception):
    """Why an exchange still open when the proxy shut down ended ``cancelled``: the proxy cut it off,
    not the client. Its recording's ``end`` line reads ``"error_type": "claude_doctor.ProxyStopped"``."""

    def __init__(self) -> None:
        super().__init__("claude-doctor record shut down while this exchange was open")


class _Exchange:
    """One request through the proxy: its recording file, its recorder and its live checker."""

    def __init__(self, proxy: RecordingProxy, index: int, method: str, path: str) -> None:
        self.proxy = proxy
        self.index = index
        self.method = method
        self.path = path
        self.file: Path = proxy.recording_path(index, path)
        self.watch = ExchangeWatch(proxy.options.config, proxy.sinks, path=str(self.file))
        self.findings: list[Finding] = []
        self.error: str | None = None
        self.stream: IO[bytes] | None = None
        why = None
        try:
            self.stream = self.file.open("xb")
        except OSError as exc:  # the app's request goes on; only the recording is lost
            why = f"recording not created: {exc.strerror or exc}"
        writer = RecordingWriter(self.stream, "proxy") if self.stream is not None else None
        self.recorder = ExchangeRecorder(writer, 0, listener=self.watch)
        if why is not None:
            self.recorder.stop(why)

    def later(self, name: str, *args: Any) -> None:
        """Record after the bytes have gone on, when the loop is idle (``idle.defer``): every stream's
        data is forwarded before any is recorded and checked. Calls stay in order; times are taken by
        the caller, now."""
        defer(getattr(self.recorder, name), *args)

    def cancelled(self, t: float | None = None) -> None:
        """Record that the exchange was cut off: by the client, or by the proxy shutting down."""
        self.later("end", "cancelled", ProxyStopped() if self.proxy.stopping else None, t)

    def close(self) -> Captured:
        # a no-op unless the exchange was cut off before its end
        self.recorder.end("cancelled", ProxyStopped() if self.proxy.stopping else None)
        self.recorder.flush()
        if self.stream is not None:
            with contextlib.suppress(OSError):  # a full disk fails the close too; the failure is reported
                self.stream.close()
        summary = self.watch.summary
        # one exchange per file: its findings name no exchange, as ``claude-doctor stream`` says them
        self.findings = [f.at(exchange=None) for f in summary.findings] if summary is not None else []
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
        #: the latest exchanges, for the live log and tests; a sidecar runs for weeks, so only the
        #: report's totals and findings are kept for every exchange
        self.captured: deque[Captured] = deque(maxlen=RECENT_EXCHANGES)
        self.exchanges = 0
        self.findings: list[Finding] = []
        self.failed_recordings = 0
        self._counter = itertools.count()
        self._session: ClientSession | None = None
        self._via: str | None = None  #: the proxy on the way upstream, if the environment names one
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self.log = ServerLog("record")  #: every line the proxy and aiohttp log
        self.stopping = False  #: set by :meth:`stop`: exchanges cut off now were cut off by the proxy
        self._stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.port = options.port
        self.prometheus: PrometheusSink | None = None  #: what ``/metrics`` serves, with ``metrics``
        self.sinks: tuple[Sink, ...] = options.sinks
        if options.metrics is not None:
            from prometheus_client import ProcessCollector

            from ..production.prometheus import PrometheusSink

            self.prometheus = PrometheusSink()
            ProcessCollector(registry=self.prometheus.registry)  # the sidecar's own memory, CPU and files
            self.sinks += (self.prometheus,)
        self._metrics_runner: web.AppRunner | None = None
        self._metrics_listener: asyncio.Server | None = None
        self.metrics_port = options.metrics[1] if options.metrics is not None else 0

    @property
    def url(self) -> str:
        return _http_url(self.options.host, self.port)

    @property
    def metrics_url(self) -> str | None:
        """Where Prometheus scrapes, once :meth:`start_metrics` listens."""
        return f"{_http_url(self.options.metrics[0], self.metrics_port)}/metrics" if self.options.metrics else None

    def recording_path(self, index: int, path: str) -> Path:
        """``<start time>-<n>-<path>.jsonl``: sorted by time, unique across runs sharing a folder. The
        name keeps only the path's API words (``v1-messages``): any other segment, which could be a
        key or a token, is ``_`` (the recording's ``url`` has the path, redacted)."""
        slug = _path_slug(path)
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
        guard = ConnectionGuard(connection_cap(FDS_PER_EXCHANGE), self.log)
        self._runner = hardened_runner(
            app, guard, handler_cancellation=True, shutdown_timeout=0.5, auto_decompress=False
        )
        await self._runner.setup()
        try:
            self._listener = await listen(self._runner, guard, self.options.host, self.port)
        except OSError:
            await self.stop()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]

    async def start_metrics(self) -> None:
        """Serve ``GET /metrics`` on ``options.metrics`` (no-op without it), on a runner of its own in
        this loop: a scrape reads the counters the exchanges' watches update, never the traffic."""
        if self.prometheus is None or self.options.metrics is None:
            return
        from aiohttp import web

        from ..production.prometheus import CONTENT_TYPE

        sink = self.prometheus

        async def metrics(request: web.Request) -> web.Response:
            # in a thread: a scrape of many models' series takes milliseconds the streams must not wait
            body = await asyncio.get_running_loop().run_in_executor(None, sink.exposition)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        guard = ConnectionGuard(METRICS_CONNECTIONS, self.log)
        self._metrics_runner = hardened_runner(app, guard, shutdown_timeout=0.5)
        await self._metrics_runner.setup()
        host = self.options.metrics[0]
        try:
            self._metrics_listener = await listen(self._metrics_runner, guard, host, self.metrics_port)
        except OSError:
            await close_server(None, self._metrics_runner)
            self._metrics_runner = None
            raise
        self.metrics_port = self._metrics_listener.sockets[0].getsockname()[1]

    def hurry(self) -> None:
        """Cut off every open exchange now instead of giving each its grace period (a second Ctrl-C);
        each is still recorded to its end, as ended by the proxy."""
        cut_off(self._runner)

    async def stop(self) -> None:
        """Stop listening; exchanges still open are given a moment, then cancelled and recorded as
        ``cancelled`` by the proxy (:class:`ProxyStopped`); the counts of any trouble are said last."""
        self.stopping = True
        ended = await close_server(self._listener, self._runner)
        self._listener = self._runner = None
        if ended:
            for _ in range(3):  # let the cancelled exchanges' handlers finish
                await asyncio.sleep(0)
            run_deferred()  # and record what they left to record
        if self._session is not None:
            await self._session.close()
            self._session = None
        await close_server(self._metrics_listener, self._metrics_runner)  # after the last exchange counted
        self._metrics_listener = self._metrics_runner = None
        self.log.summary()

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
        self.exchanges += 1
        self.findings += captured.findings
        self.failed_recordings += bool(captured.recording_failed)
        if self.options.on_exchange is not None:
            self.options.on_exchange(captured)

    async def _forward(self, request: web.Request, exchange: _Exchange) -> web.StreamResponse:
        from aiohttp import ClientError, web

        recorder = exchange.recorder
        headers = forwarded_headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers])
        url = self.upstream + request.raw_path
        if (request.content_length or 0) > MAX_REQUEST:  # refused before a byte of it is read
            return web.Response(status=413, text=f"Request body larger than {MAX_REQUEST} bytes")
        body = await _body(request, recorder, url, headers)
        try:
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False, proxy=self._via
            )
        except asyncio.CancelledError:
            exchange.cancelled(recorder.now())
            raise
        except (TimeoutError, ClientError, OSError) as exc:
            exchange.error = f"{failed_step(exc)} step failed reaching {self.upstream}"
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
            exchange.cancelled(now())
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


async def _body(
    request: web.Request, recorder: ExchangeRecorder, url: str, headers: Headers
) -> bytes | AsyncIterator[bytes] | None:
    """Record the request and give its body to send on, byte-exact (a gzip body stays gzip). A body up
    to ``MAX_JOINED_BODY`` (the API's own limit) is read whole and recorded decoded, so the live checks
    see the request as the file's readers will; a longer one, which the checks go without anyway, is
    streamed upstream as it arrives and recorded in parts as received, so the proxy's memory stays
    bounded whatever its size."""
    head = bytearray()
    try:
        whole = await _read_up_to(head, request.content, MAX_JOINED_BODY)
    except BaseException:  # the app went away mid-body: record what it sent, the exchange ends cancelled
        recorder.request(request.method, url, headers, _decoded(request, bytes(head)))
        raise
    if whole:
        recorder.request(request.method, url, headers, _decoded(request, bytes(head)))
        return bytes(head) or None
    recorder.request(request.method, url, headers, None, True)
    if request.content_length is not None:  # sent on as the app framed it, not re-chunked
        headers.append(("Content-Length", str(request.content_length)))
    return _streamed(head, request.content, recorder)


async def _read_up_to(head: bytearray, content: StreamReader, limit: int) -> bool:
    """Read the body into ``head`` until it ends (``True``) or is past ``limit`` (by one read at most)."""
    while len(head) <= limit:
        data = await content.readany()
        if not data:
            return True
        head += data
    return False


def _decoded(request: web.Request, body: bytes) -> bytes:
    """The body as the recording keeps it: decoded (``content-encoding``), a step at a time, so that a
    small compressed body that would inflate past ``MAX_JOINED_BODY`` (a zip bomb) is kept as it came
    instead of filling the proxy's memory."""
    decode = BodyDecoder(",".join(request.headers.getall("content-encoding", ())))
    if not decode.codings:
        return body
    out = bytearray()
    for start in range(0, len(body), DECODE_STEP):
        out += decode(body[start : start + DECODE_STEP])
        if len(out) > MAX_JOINED_BODY:
            return body
    return bytes(out)


async def _streamed(head: bytearray, content: StreamReader, recorder: ExchangeRecorder) -> AsyncIterator[bytes]:
    """The body, ``head`` first in ``BODY_PART`` slices, then each read as it comes: every piece is
    sent on, then recorded."""
    for start in range(0, len(head), BODY_PART):
        piece = bytes(head[start : start + BODY_PART])
        yield piece
        recorder.request_body(piece)
    head.clear()
    while data := await content.readany():
        yield data
        recorder.request_body(data)


def _http_url(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _path_slug(path: str) -> str:
    """The API words of a request path, for a file name: ``/v1/messages?beta=true`` is ``v1-messages``;
    every other segment (an id, a model, a key someone put in the URL) is ``_``."""
    words = [w if w in PATH_WORDS else "_" for w in re.split(r"[/:]", path.split("?")[0]) if w]
    return re.sub(r"_(?:-_)+", "_", "-".join(words))[:60] or "root"


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
def running(
    upstream: str, out: str | Path, config: Config | None = None, *, metrics: tuple[str, int] | None = None
) -> Iterator[RecordingProxy]:
    """Run a recording proxy on a free loopback port in a background thread for the ``with`` block
    (tests, notebooks): ``with running(url, "recs") as proxy: Anthropic(base_url=proxy.url)``; with
    ``metrics=("127.0.0.1", 0)`` it serves ``proxy.metrics_url`` too."""
    ready = threading.Event()
    loop = IdleLoop()
    proxy = RecordingProxy(ProxyOptions(upstream, Path(out), config=config or Config(), metrics=metrics))
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start_metrics())
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
