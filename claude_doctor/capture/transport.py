"""Record what an ``httpx2`` client really receives: :func:`recording_client` for code, and the
per-exchange recorder that the recording proxy (``capture/proxy.py``) shares, so both write the same
recording for the same traffic.

``Anthropic(http_client=claude_doctor.recording_client("run.jsonl"))`` wraps the real transport: each
request the SDK sends (retries included, as exchanges 0, 1, 2, …) is written with its response head,
every body chunk at the moment the SDK's reader gets it, and how the body ended, redacted and flushed per
line. Nothing is buffered or changed on the way to the SDK: the recorder only watches.

The same transports carry the in-process monitor (``production/client.py``): :func:`client_kwargs` wraps a
client's transports around any :class:`Exchanges`, which hands out one recorder per request, with a
writer or without one.

``httpx2`` is imported only when a client is built, so ``import claude_doctor`` stays light.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from time import monotonic
from typing import IO, TYPE_CHECKING, Any, Protocol

from ..keys import redact_headers, redact_text
from ..recording.encoding import BodyDecoder
from ..recording.jsonl import RecordingWriter
from ..recording.model import Chunk, End, Headers, Record, Request, Response
from .live import describe, end_reason

if TYPE_CHECKING:
    import httpx2

#: Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the sending library sets from the message itself
#: (``host``, ``content-length``; ``expect``, whose 100-continue is already answered once the body is
#: read). A proxy drops them when forwarding; both recorders leave them out, so they record alike.
NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
#: The SDK's own client defaults (``anthropic._constants``), applied unless the caller gives others.
SDK_TIMEOUT = {"timeout": 600, "connect": 5.0}  # an int, as the SDK has it: it shows in x-stainless-read-timeout
#: How many bytes a run of chunks held back together may hold (see ``ExchangeRecorder.holds``).
HELD_BYTES = 256 * 1024
SDK_LIMITS = {"max_connections": 1000, "max_keepalive_connections": 100}


def forwarded_headers(headers: Headers) -> Headers:
    """The request headers as they travel on to the API: hop-by-hop ones (and any the ``Connection``
    header names) left out, everything else kept in order, credentials included."""
    named = {
        token.strip().lower() for name, value in headers if name.lower() == "connection" for token in value.split(",")
    }
    return [(k, v) for k, v in headers if k.lower() not in NOT_FORWARDED and k.lower() not in named]


class ExchangeRecorder:
    """One exchange on its way to a recording: times every record from the moment the request was sent,
    decodes the body for the file, and hands each record (credential headers redacted) to ``listener``
    too, which is how the proxy checks a stream while it happens. ``lock`` serialises exchanges that
    share one writer.

    A recording that cannot be written (disk full, file too large, no writer at all) never reaches the
    traffic: writing stops, the file keeps the valid lines it has, ``failed`` says why, ``on_failure``
    hears it once, and the listener still gets every record. A listener that raises is dropped (with
    one logged warning), never felt by the traffic either. ``on_end`` is called once the end is written
    and the listener has heard it (the flight recorder closes its spool there)."""

    def __init__(
        self,
        writer: RecordingWriter | None,
        i: int,
        lock: threading.Lock | None = None,
        listener: Callable[[Record], object] | None = None,
        on_failure: Callable[[str], object] | None = None,
        on_end: Callable[[], object] | None = None,
    ) -> None:
        self.writer = writer
        self.on_end = on_end
        self.failed: str | None = None
        self.on_failure = on_failure
        self.i = i
        self.lock = lock or contextlib.nullcontext()
        self.listener = listener
        #: a listener's fast path for body chunks, ``take_chunk(t, data, i)`` (the monitor's watch has
        #: one): the busiest call of all, made without building a record object
        self.take_chunk: Callable[[float, bytes, int], object] | None = getattr(listener, "take_chunk", None)
        #: ``take_chunks(datas, times, i)``: the same for chunks held back together (see ``holds``)
        self.take_chunks: Callable[[list[bytes], list[float], int], object] | None = getattr(
            listener, "take_chunks", None
        )
        self.hold: float = getattr(listener, "hold", 0.0)  #: seconds a run of held chunks may span
        self.started = time.monotonic()
        self.decode = BodyDecoder(None)
        self.reason: str | None = None  #: the end reason, once written
        self.seconds = 0.0  #: from the request to the end
        self.bytes = 0
        self.chunks = 0
        self.status: int | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    def request(self, method: str, url: str, headers: Headers, body: bytes | None, parts: bool = False) -> None:
        """Write the request; the exchange's clock starts here. With ``parts`` the body follows in
        ``request_body`` calls as it is sent (the checks then go without it)."""
        self.started = time.monotonic()
        self._write("request", self.i, 0.0, method, url, headers, body, parts)
        if self.listener is not None:
            self._tell(_request_record(self.i, method, url, headers, body))

    def request_body(self, data: bytes) -> None:
        """Record the next piece of a body announced with ``request(..., parts=True)``."""
        self._write("request_body", self.i, self.now(), data)

    def response(
        self, status: int, reason: str | None, http_version: str | None, headers: Headers, t: float | None = None
    ) -> None:
        t = self.now() if t is None else t
        self.status = status
        self.decode = BodyDecoder(",".join(v for k, v in headers if k.lower() == "content-encoding"))
        self._write("response", self.i, t, status, reason, http_version, headers)
        if self.decode.problem is not None:
            self._undecodable()
        if self.listener is not None:
            self._tell(Response(self.i, t, status, reason, http_version, redact_headers(headers)[0]))

    def chunk(self, raw: bytes, t: float | None = None) -> None:
        """Record body bytes as received (``t``: when they arrived, if taken before forwarding them).
        Bytes after the end (a reader closed before its last chunk was recorded) are not recorded."""
        if self.reason is not None:
            return
        data = raw
        decode = self.decode
        if decode.codings:  # the common case, an identity body, costs no call
            undecoded = decode.problem
            data = decode(raw)
            if decode.problem is not undecoded:
                self._undecodable()
            if not data:
                return
        elif not data:
            return
        t = self.now() if t is None else t
        self.bytes += len(data)
        self.chunks += 1
        if self.writer is not None:
            self._write("chunk", self.i, t, data)
        if self.listener is not None:
            try:  # as _tell, inline: this runs for every chunk
                if self.take_chunk is not None:
                    self.take_chunk(t, data, self.i)
                else:
                    self.listener(Chunk(self.i, t, data))
            except Exception as exc:
                self._deaf(exc)

    @property
    def holds(self) -> bool:
        """Whether the stream wrappers may hold chunks back (up to ``hold`` seconds of them) and hand
        them over together: only with no file to write (a recording's lines go out as the bytes come) and
        a listener that takes them so (the monitor's watch). A fast stream then costs the app one call per
        window instead of several per chunk."""
        return self.writer is None and self.take_chunks is not None

    def chunk_run(self, datas: list[bytes], times: list[float]) -> None:
        """Record chunks held back together, each with the time it arrived: as ``chunk`` for each."""
        if self.reason is not None or not datas:
            return
        if self.decode.codings or self.take_chunks is None:
            for raw, t in zip(datas, times):
                self.chunk(raw, t)
            return
        self.chunks += len(datas)
        self.bytes += sum(map(len, datas))
        try:
            self.take_chunks(datas, times, self.i)
        except Exception as exc:
            self._deaf(exc)

    def _undecodable(self) -> None:
        """Say in the recording why its body is stored as received (its readers leave it unchecked)."""
        self._write("note", f"exchange {self.i}: the body has {self.decode.problem}; it is stored as received")

    def interrupted(self, exc: BaseException) -> None:
        """End the body as an exception raised while reading it says: a closed generator is the reader
        giving up (cancelled, no error to record); anything else ends as ``end_reason`` names it."""
        if isinstance(exc, GeneratorExit):
            self.end("cancelled")
        else:
            self.end(end_reason(exc), exc)

    def end(self, reason: str, exc: BaseException | None = None, t: float | None = None) -> None:
        """Write the end line once; later calls (a close after an error) are ignored."""
        if self.reason is not None:
            return
        self.reason = reason
        t = self.seconds = self.now() if t is None else t
        error = redact_text(describe(exc)) if exc is not None else None
        error_type = error.split(":")[0] if error else None
        self._write("end", self.i, t, reason, error, error_type)
        if self.listener is not None:
            self._tell(End(self.i, t, reason, error, error_type))
        if self.on_end is not None:
            self.on_end()

    def _tell(self, record: Record) -> None:
        """Hand a record to the listener; one that raises is dropped, so the traffic never feels it."""
        try:
            self.listener(record)  # type: ignore[misc]
        except Exception as exc:
            self._deaf(exc)

    def _deaf(self, exc: Exception) -> None:
        self.listener = self.take_chunk = self.take_chunks = None
        from ..production.watch import warn_once

        warn_once("the exchange listener", exc, "it stopped hearing this exchange")

    def flush(self) -> None:
        """Write any chunk held back (one that may end inside a key) before the file is closed."""
        self._write("flush")

    def _write(self, record: str, *args: Any) -> None:
        if self.writer is None or self.failed is not None:
            return
        try:
            with self.lock:
                getattr(self.writer, record)(*args)
        except OSError as exc:
            self.stop(_stopped(exc))
        except Exception as exc:  # a fault of the writer's own: the recording stops, the traffic goes on
            self.stop(f"recording stopped: {redact_text(describe(exc))}")

    def stop(self, why: str) -> None:
        """Write nothing more for this exchange (the first reason is kept)."""
        if self.failed is None:
            self.failed = why
            if self.on_failure is not None:
                self.on_failure(why)


def _stopped(exc: OSError) -> str:
    """Why a recording ends short, in the words both recorders report."""
    return f"recording stopped: {exc.strerror or exc}"


def _request_record(i: int, method: str, url: str, headers: Headers, body: bytes | None) -> Request:
    """The request as a checker needs it (redacted headers, the JSON body) without re-reading the file."""
    import json

    record = Request(i, 0.0, method, redact_text(url), redact_headers(headers)[0])
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict):
        record.json = parsed
    return record


# -- the httpx2 transports ---------------------------------------------------------------------------


class Exchanges(Protocol):
    """What a wrapped client's transports share: a recorder for each request, and a close."""

    def exchange(self) -> ExchangeRecorder:
        """The recorder of the next request (retries included)."""

    def close(self) -> None:
        """The client is closing."""


class _Session:
    """The recording file shared by every transport of one client: one writer, one lock, one counter."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stream: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed with the client's transports
        self.writer = RecordingWriter(self.stream, "sdk")
        self.lock = threading.Lock()
        self.count = 0
        self.warned = False

    def exchange(self) -> ExchangeRecorder:
        with self.lock:
            i, self.count = self.count, self.count + 1
        return ExchangeRecorder(self.writer, i, self.lock, on_failure=self.warn)

    def warn(self, why: str) -> None:
        """Say once that the recording is incomplete; the app's requests go on untouched."""
        if not self.warned:
            self.warned = True
            warnings.warn(f"claude-doctor: {self.path}: {why}; the app is not affected", RuntimeWarning, stacklevel=2)

    def close(self) -> None:
        with self.lock:
            if not self.stream.closed:
                try:
                    self.writer.flush()
                except OSError as exc:
                    self.warn(_stopped(exc))
                with contextlib.suppress(OSError):  # the flush failed: closing retries it, and fails too
                    self.stream.close()


def _raw(headers: Any) -> Headers:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.raw]


def _version(response: Any) -> str | None:
    version = response.extensions.get("http_version")
    return version.decode("ascii") if isinstance(version, bytes) else None


def _reason(response: Any) -> str | None:
    reason = response.extensions.get("reason_phrase")
    return reason.decode("latin-1") if isinstance(reason, bytes) else None


def _begin(recorder: ExchangeRecorder, request: Any, body: bytes) -> None:
    recorder.request(request.method, str(request.url), forwarded_headers(_raw(request.headers)), body)


def _head(recorder: ExchangeRecorder, response: Any) -> None:
    recorder.response(response.status_code, _reason(response), _version(response), _raw(response.headers))


def _failed(recorder: ExchangeRecorder, exc: BaseException) -> None:
    """No response head: the request never got an answer (refused, DNS, TLS, timeout)."""
    recorder.end("timeout" if end_reason(exc) == "timeout" else "error", exc)


class _WatchedBody:
    """What the sync and async body wrappers share: the chunk the SDK holds and the run of chunks held
    back together, and how each reaches the recorder."""

    def __init__(self, inner: Any, recorder: ExchangeRecorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self.pending: tuple[bytes, float] | None = None  #: the chunk the SDK holds, not yet recorded
        #: chunks held back together, and when each arrived (``recorder.holds``)
        self.datas: list[bytes] = []
        self.times: list[float] = []
        self.held_bytes = 0

    def hold(self, raw: bytes) -> None:
        """Hold a chunk with its arrival time (``recorder.holds``); the run held so far goes to the recorder
        first when this chunk comes more than ``recorder.hold`` seconds after the run's first (so no silence
        is ever inside a run), or more than :data:`HELD_BYTES` are held."""
        recorder = self.recorder
        t = monotonic() - recorder.started
        times = self.times
        if times and (t - times[0] > recorder.hold or self.held_bytes > HELD_BYTES):
            self.release()
        self.datas.append(raw)
        self.times.append(t)
        self.held_bytes += len(raw)

    def release(self) -> None:
        """Hand the run of held chunks to the recorder."""
        if self.datas:
            datas, times = self.datas, self.times
            self.datas, self.times, self.held_bytes = [], [], 0
            self.recorder.chunk_run(datas, times)

    def record_pending(self) -> None:
        if self.pending is not None:
            raw, t = self.pending
            self.pending = None
            self.recorder.chunk(raw, t)

    def record_held(self) -> None:
        """The reader stopped: record whatever the SDK was given and is not recorded yet."""
        self.record_pending()
        self.release()


def _build_sync_stream(httpx2: Any) -> type:
    class RecordingStream(_WatchedBody, httpx2.SyncByteStream):
        """The response body as the SDK reads it. Each chunk goes to the SDK first and is recorded when
        the SDK asks for the next one (timed when it arrived), so recording and checks never hold a byte
        back; a chunk the SDK was given just before it stopped reading is recorded at the stop."""

        def __iter__(self) -> Iterator[bytes]:
            recorder = self.recorder
            if recorder.holds:
                yield from self._holding()
                return
            try:
                for raw in self.inner:
                    t = monotonic() - recorder.started  # recorder.now(), without the call
                    self.pending = (raw, t)
                    yield raw
                    self.pending = None
                    recorder.chunk(raw, t)
            except BaseException as exc:
                self.record_pending()
                recorder.interrupted(exc)
                raise
            recorder.end("eof")

        def _holding(self) -> Iterator[bytes]:
            """Each chunk goes to the SDK at once and is held (:meth:`hold`); the held ones go to the
            recorder together, the last of them when the body ends."""
            try:
                for raw in self.inner:
                    self.hold(raw)
                    yield raw
            except BaseException as exc:
                self.release()
                self.recorder.interrupted(exc)
                raise
            self.release()
            self.recorder.end("eof")

        def close(self) -> None:
            self.record_held()
            self.recorder.end("cancelled")  # a no-op when the body already ended
            self.inner.close()

    return RecordingStream


def _build_async_stream(httpx2: Any) -> type:
    class AsyncRecordingStream(_WatchedBody, httpx2.AsyncByteStream):
        """The async twin of ``RecordingStream``."""

        async def __aiter__(self) -> AsyncIterator[bytes]:
            recorder = self.recorder
            if recorder.holds:
                async for raw in self._holding():
                    yield raw
                return
            try:
                async for raw in self.inner:
                    t = monotonic() - recorder.started  # recorder.now(), without the call
                    self.pending = (raw, t)
                    yield raw
                    self.pending = None
                    recorder.chunk(raw, t)
            except BaseException as exc:
                self.record_pending()
                recorder.interrupted(exc)
                raise
            recorder.end("eof")

        async def _holding(self) -> AsyncIterator[bytes]:
            """As ``RecordingStream._holding``."""
            try:
                async for raw in self.inner:
                    self.hold(raw)
                    yield raw
            except BaseException as exc:
                self.release()
                self.recorder.interrupted(exc)
                raise
            self.release()
            self.recorder.end("eof")

        async def aclose(self) -> None:
            self.record_held()
            self.recorder.end("cancelled")
            await self.inner.aclose()

    return AsyncRecordingStream


def _build_transports(httpx2: Any) -> tuple[type, type]:
    sync_stream, async_stream = _build_sync_stream(httpx2), _build_async_stream(httpx2)

    class RecordingTransport(httpx2.BaseTransport):
        """Wraps the real transport; hands each exchange to a recorder from ``exchanges``."""

        def __init__(self, inner: Any, exchanges: Exchanges) -> None:
            self.inner = inner
            self.exchanges = exchanges

        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            recorder = self.exchanges.exchange()
            _begin(recorder, request, request.read())
            try:
                response = self.inner.handle_request(request)
            except BaseException as exc:
                _failed(recorder, exc)
                raise
            _head(recorder, response)
            response.stream = sync_stream(response.stream, recorder)
            return response

        def close(self) -> None:
            self.inner.close()
            self.exchanges.close()

    class AsyncRecordingTransport(httpx2.AsyncBaseTransport):
        """The async twin of ``RecordingTransport``."""

        def __init__(self, inner: Any, exchanges: Exchanges) -> None:
            self.inner = inner
            self.exchanges = exchanges

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            recorder = self.exchanges.exchange()
            _begin(recorder, request, await request.aread())
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException as exc:
                _failed(recorder, exc)
                raise
            _head(recorder, response)
            response.stream = async_stream(response.stream, recorder)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()
            self.exchanges.close()

    return RecordingTransport, AsyncRecordingTransport


def _socket_options() -> list[tuple[int, int, int]]:
    """TCP keepalive as the SDK's default client sets it (``anthropic._base_client``), so recording changes nothing."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name in ("TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_KEEPIDLE"):
        value = getattr(socket, name, None)
        if value is not None:
            options.append((socket.IPPROTO_TCP, value, 5 if name == "TCP_KEEPCNT" else 60))
    return options


def client_kwargs(exchanges: Exchanges, is_async: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` for an ``httpx2`` client with the SDK's defaults (timeout, limits, redirects, keepalive,
    environment proxies), every transport wrapped so that each request gets a recorder from
    ``exchanges``. A ``transport=`` given is the one wrapped; so are ``mounts=``."""
    import httpx2
    from httpx2._utils import get_environment_proxies  # the helper the SDK's own default client uses

    sync_transport, async_transport = transport_classes(httpx2)
    wrapper = async_transport if is_async else sync_transport
    plain = httpx2.AsyncHTTPTransport if is_async else httpx2.HTTPTransport
    kwargs.setdefault("timeout", httpx2.Timeout(SDK_TIMEOUT["timeout"], connect=SDK_TIMEOUT["connect"]))
    kwargs.setdefault("limits", httpx2.Limits(**SDK_LIMITS))
    kwargs.setdefault("follow_redirects", True)
    transport_kwargs = {
        k: kwargs[k] for k in ("verify", "cert", "trust_env", "http1", "http2", "limits") if k in kwargs
    }
    transport_kwargs.setdefault("socket_options", _socket_options())
    inner = kwargs.pop("transport", None) or plain(**transport_kwargs)
    proxy = kwargs.pop("proxy", None)
    proxies = {"all://": proxy} if proxy is not None else {}
    if proxy is None and kwargs.get("trust_env", True):
        proxies = get_environment_proxies()
    mounts = {
        pattern: None if url is None else wrapper(plain(proxy=url, **transport_kwargs), exchanges)
        for pattern, url in proxies.items()
    }
    mounts.update({k: wrapper(t, exchanges) for k, t in kwargs.pop("mounts", {}).items()})
    kwargs["mounts"] = mounts
    kwargs["transport"] = wrapper(inner, exchanges)
    return kwargs


_TRANSPORTS: tuple[type, type] | None = None


def transport_classes(httpx2: Any) -> tuple[type, type]:
    """The wrapping transport classes, built once (they subclass ``httpx2``'s, imported only now)."""
    global _TRANSPORTS
    if _TRANSPORTS is None:
        _TRANSPORTS = _build_transports(httpx2)
    return _TRANSPORTS


def recording_client(path: str, **kwargs: Any) -> httpx2.Client:
    """An ``httpx2.Client`` with the SDK's defaults that records every exchange to ``path`` (recording
    format v1, source ``sdk``, redacted). ``Anthropic(http_client=recording_client("run.jsonl"))``.
    Keyword arguments go to ``httpx2.Client``; a ``transport=`` given is the one wrapped."""
    import httpx2

    return httpx2.Client(**client_kwargs(_Session(path), False, kwargs))


def async_recording_client(path: str, **kwargs: Any) -> httpx2.AsyncClient:
    """The ``httpx2.AsyncClient`` twin of :func:`recording_client`, for ``AsyncAnthropic``."""
    import httpx2

    return httpx2.AsyncClient(**client_kwargs(_Session(path), True, kwargs))
