"""Monitor a real client in-process: every request it sends is watched by an ``ExchangeWatch`` (the stream
checks of ``claude-doctor stream``, on the bytes as they flow) and reported to sinks, OpenTelemetry and
the flight recorder.

Three ways in, all built on the recording client's transport wrapping (``capture/transport.py``), with no
file unless a flight recorder is given:

- ``Anthropic(http_client=monitored_client(...))`` (``async_monitored_client`` for ``AsyncAnthropic``);
- ``monitor(client)`` for a client that already exists, keeping its own ``httpx2`` client and settings.

The bytes reach the SDK unchanged and before the monitor looks at them; nothing the monitor does can
raise into the app (see ``ExchangeWatch``). ``httpx2`` is imported only when a client is built.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from ..capture.transport import ExchangeRecorder, client_kwargs, transport_classes
from ..config import Config
from .flight import FlightRecorder
from .summary import Sink
from .watch import ExchangeWatch, warn_once

if TYPE_CHECKING:
    import httpx2

C = TypeVar("C")
_DEFAULT_OTEL: list[Sink] = []  #: the one ``OtelSink`` on the global providers, made on first use
_OTEL_LOCK = threading.Lock()


def _otel_sinks(otel: bool | None, sinks: list[Sink]) -> list[Sink]:
    """``None``: OpenTelemetry when it is installed; ``True``: it must be; ``False``: never. An app that
    passes its own ``OtelSink`` in ``sinks`` gets no second one (each exchange would count twice)."""
    if otel is False:
        return []
    with _OTEL_LOCK:
        if not _DEFAULT_OTEL:
            try:
                from .otel import OtelSink

                _DEFAULT_OTEL.append(OtelSink())
            except ImportError:
                if otel:
                    raise ImportError(
                        "claude-doctor: otel=True needs OpenTelemetry: pip install 'claude-doctor[otel]'"
                    ) from None
                return []
            except Exception as exc:  # a broken OpenTelemetry set-up must not stop the app's client
                if otel:
                    raise
                warn_once("OpenTelemetry", exc, "exchanges are not reported to it")
                return []
    if any(isinstance(sink, type(_DEFAULT_OTEL[0])) for sink in sinks):
        return []
    return list(_DEFAULT_OTEL)


class Monitor:
    """What the transports of one monitored client share: a watch (and a flight spool) per request."""

    def __init__(
        self,
        sinks: Iterable[Sink] = (),
        *,
        otel: bool | None = None,
        flight_recorder: FlightRecorder | str | os.PathLike[str] | None = None,
        config: Config | None = None,
    ) -> None:
        given = list(sinks)
        self.sinks = [*given, *_otel_sinks(otel, given)]
        if flight_recorder is not None and not isinstance(flight_recorder, FlightRecorder):
            flight_recorder = FlightRecorder(flight_recorder)
        self.flight = flight_recorder
        self.config = config or Config()
        self._numbers = itertools.count()

    def exchange(self) -> ExchangeRecorder:
        """The recorder of the next request; if setting it up fails, the request goes unwatched."""
        i = next(self._numbers)
        try:
            return self._watched(i)
        except Exception as exc:
            warn_once("the monitor", exc, "it did not watch an exchange")
            return ExchangeRecorder(None, i)

    def _watched(self, i: int) -> ExchangeRecorder:
        if self.flight is None:
            return ExchangeRecorder(None, i, listener=ExchangeWatch(self.config, self.sinks))
        spool = self.flight.exchange()
        watch = ExchangeWatch(self.config, self.sinks, on_finished=spool.finished)
        return ExchangeRecorder(spool.writer, i, listener=watch, on_failure=spool.stop, on_end=spool.close)

    def close(self) -> None:
        """Nothing to close: each exchange ends its own spool."""


def monitored_client(
    *,
    sinks: Iterable[Sink] = (),
    otel: bool | None = None,
    flight_recorder: FlightRecorder | str | os.PathLike[str] | None = None,
    config: Config | None = None,
    **kwargs: Any,
) -> httpx2.Client:
    """An ``httpx2.Client`` with the SDK's defaults whose every exchange is watched:
    ``Anthropic(http_client=monitored_client())``. ``sinks`` get each exchange's summary; ``otel``:
    ``None`` adds an ``OtelSink`` on the global providers when OpenTelemetry is installed, ``False``
    never, ``True`` always; ``flight_recorder``: a :class:`FlightRecorder` or a folder for one;
    ``config``: which rules run (every one by default). Other keyword arguments go to ``httpx2.Client``."""
    import httpx2

    monitor_ = Monitor(sinks, otel=otel, flight_recorder=flight_recorder, config=config)
    return httpx2.Client(**client_kwargs(monitor_, False, kwargs))


def async_monitored_client(
    *,
    sinks: Iterable[Sink] = (),
    otel: bool | None = None,
    flight_recorder: FlightRecorder | str | os.PathLike[str] | None = None,
    config: Config | None = None,
    **kwargs: Any,
) -> httpx2.AsyncClient:
    """The ``httpx2.AsyncClient`` twin of :func:`monitored_client`, for ``AsyncAnthropic``."""
    import httpx2

    monitor_ = Monitor(sinks, otel=otel, flight_recorder=flight_recorder, config=config)
    return httpx2.AsyncClient(**client_kwargs(monitor_, True, kwargs))


def monitor(
    client: C,
    *,
    sinks: Iterable[Sink] = (),
    otel: bool | None = None,
    flight_recorder: FlightRecorder | str | os.PathLike[str] | None = None,
    config: Config | None = None,
) -> C:
    """Make an existing ``Anthropic`` or ``AsyncAnthropic`` client watched, and return it.

    The client's own ``httpx2`` client (``client._client``) keeps its settings (timeouts, proxies,
    limits); its transport and mounted transports are wrapped in place, which is why the same client
    comes back rather than a copy from ``with_options(http_client=...)`` that would drop them. Copies
    made with ``with_options`` share that ``httpx2`` client, so they are watched too. A client already
    watched is left as it is."""
    import httpx2

    http = getattr(client, "_client", None)
    if not isinstance(http, (httpx2.Client, httpx2.AsyncClient)):
        raise TypeError(f"monitor() takes an Anthropic or AsyncAnthropic client, not {type(client).__name__}")
    sync_wrapper, async_wrapper = transport_classes(httpx2)
    wrapper = async_wrapper if isinstance(http, httpx2.AsyncClient) else sync_wrapper
    if isinstance(http._transport, wrapper):
        return client
    monitor_ = Monitor(sinks, otel=otel, flight_recorder=flight_recorder, config=config)
    http._transport = wrapper(http._transport, monitor_)
    http._mounts = {
        pattern: None if transport is None else wrapper(transport, monitor_)
        for pattern, transport in http._mounts.items()
    }
    return client
