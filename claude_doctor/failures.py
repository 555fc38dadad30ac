"""Which step of reaching the API failed (DNS, TCP, TLS, proxy or HTTP), told from an exception chain
(``live``, the proxy) or from the error text a recording's ``end`` line kept (the stream checks). One
table of words serves both, so a failure is named the same way wherever it is seen; aiohttp's exception
classes, which name the step themselves, are read first."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator

#: Exception modules that speak for an HTTP client: the old and the new package, and their cores.
HTTP_PACKAGES = ("httpx", "httpx2", "httpcore", "httpcore2")

#: Words in an error's type or text that name the step, most specific first.
STEP_WORDS = (
    ("proxy", ("proxy",)),
    (
        "DNS",
        (
            "dnserror",
            "gaierror",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "getaddrinfo failed",
            "no address associated",
        ),
    ),
    ("TLS", ("certificate", "sslerror", "[ssl", "ssl error", "handshake")),
    (
        "TCP",
        (
            "connecterror",
            "connectorerror",
            "connecttimeout",
            "connectiontimeout",
            "connection timeout",
            "connection refused",
            "connect call failed",
            "network is unreachable",
            "no route to host",
        ),
    ),
    ("HTTP", ("remoteprotocolerror", "disconnected", "protocol")),
)
#: aiohttp's connect errors by class name, most specific first in each class's MRO: the class names the
#: step, while the message says ``ssl:default`` even for plain TCP. Matched by name so that this module
#: never imports aiohttp.
AIOHTTP_STEPS = {
    "ClientProxyConnectionError": "proxy",
    "ClientHttpProxyError": "proxy",
    "ClientConnectorDNSError": "DNS",
    "ClientConnectorCertificateError": "TLS",
    "ClientSSLError": "TLS",
    "ClientConnectorError": "TCP",
}
#: aiohttp says ``ssl:default`` in every connect error, even plain TCP ones: removed before reading.
_AIOHTTP_SSL_ARG = re.compile(r"\bssl:\S+")


def http_error(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` is ``name`` (or a subclass) from httpx or httpx2, without importing either."""
    return any(c.__name__ == name and c.__module__.split(".")[0] in HTTP_PACKAGES for c in type(exc).__mro__)


def step_from_text(text: str) -> str | None:
    """The step an error's type and message name, or ``None`` when they do not say."""
    text = _AIOHTTP_SSL_ARG.sub("", text.lower())
    return next((step for step, words in STEP_WORDS if any(word in text for word in words)), None)


def failed_step(exc: BaseException) -> str:
    """The step that failed for an exception raised before any response: by an aiohttp connect error in
    its chain (the proxy's client), else by the types in it (``socket.gaierror``, ``ssl.SSLError``,
    httpx's ``ConnectError``) or their words, whichever names the most specific step."""
    chain = list(_chain(exc))
    named = next((step for e in chain if (step := _aiohttp_step(e)) is not None), None)
    if named is not None:
        return named
    text = _AIOHTTP_SSL_ARG.sub("", " ".join(f"{type(e).__name__}: {e}" for e in chain).lower())
    for step, words in STEP_WORDS:
        if any(_STEP_TYPES.get(step, _never)(e) for e in chain) or any(word in text for word in words):
            return step
    return "HTTP"


def _aiohttp_step(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] == "aiohttp" and cls.__name__ in AIOHTTP_STEPS:
            return AIOHTTP_STEPS[cls.__name__]
    return None


def _never(exc: BaseException) -> bool:
    return False


_STEP_TYPES = {
    "proxy": lambda e: http_error(e, "ProxyError"),
    "DNS": lambda e: isinstance(e, socket.gaierror),
    "TLS": lambda e: isinstance(e, ssl.SSLError),
    "TCP": lambda e: (
        http_error(e, "ConnectError")
        or http_error(e, "ConnectTimeout")
        or isinstance(e, (ConnectionRefusedError, TimeoutError))
    ),
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
