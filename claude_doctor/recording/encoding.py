"""``Content-Encoding``, undone: the one decoder of the recorders (a body chunk by chunk, as it passes)
and the importers (a stored body whole). Every coding the API, a proxy or a CDN may apply (``gzip``,
``deflate`` zlib-wrapped or raw, ``br``, ``zstd`` when ``zstandard`` is installed, ``identity``), stacked
in any order (``gzip, identity``; ``br, gzip``), is undone last applied first. What cannot be undone
(an unknown coding, bytes that do not decompress) is said in ``problem``, and the bytes pass as they
came: a recording then holds the body as received and its readers say why it was not checked."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable
from typing import Any

#: a first body byte that a decoded SSE or JSON body can start with (after a BOM or whitespace)
_TEXT_STARTS = (b"event:", b"data:", b":", b"id:", b"retry:", b"{", b"[", b"<")


def codings(value: str | None) -> list[str]:
    """The codings named by a ``Content-Encoding`` value (several headers joined with commas), in the
    order they were applied, ``identity`` left out."""
    return [c for c in (part.strip().lower() for part in (value or "").split(",")) if c and c != "identity"]


class BodyDecoder:
    """Undo ``value``'s codings one chunk at a time (``decoder(chunk)``), or a whole body
    (``decoder.whole(body)``). After a failure every later chunk passes unchanged and ``problem`` says
    what could not be decoded."""

    def __init__(self, value: str | None) -> None:
        self.codings = codings(value)
        self.problem: str | None = None
        self._stages: list[Callable[[bytes], bytes]] = []
        for coding in reversed(self.codings):
            stage = _stage(coding)
            if stage is None:
                self.problem = f"Content-Encoding {coding}, which claude-doctor cannot decode"
                self._stages = []
                break
            self._stages.append(stage)

    def __call__(self, data: bytes) -> bytes:
        if self.problem is not None or not self._stages:
            return data
        decoded = data
        try:
            for stage in self._stages:
                decoded = stage(decoded)
        except Exception as exc:  # zlib.error, brotli.error, zstandard.ZstdError: each library its own
            self.problem = f"Content-Encoding {', '.join(self.codings)} but does not decompress ({exc})"
            return data
        return decoded

    def whole(self, data: bytes) -> bytes:
        """A complete body; one cut short is a ``problem`` too."""
        if not data:
            return data
        decoded = self(data)
        if self.problem is None and self._stages and not all(getattr(s, "eof", True) for s in self._stages):
            self.problem = f"Content-Encoding {', '.join(self.codings)} but the body is cut short"
        return decoded


def looks_decoded(first: bytes) -> bool:
    """Whether the first bytes of a body are text as a decoded SSE or JSON body starts, for readers of
    a recording that may hold a body its recorder could not decode."""
    text = first.lstrip(b"\xef\xbb\xbf \t\r\n")[:16]
    return b"\0" not in text and (not text or text.startswith(_TEXT_STARTS))


def _stage(coding: str) -> Callable[[bytes], bytes] | None:
    """A chunk-by-chunk decompressor for one coding; ``None`` for one that cannot be undone here."""
    if coding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        import brotli  # a dependency; imported only for the bodies that need it

        return _Brotli(brotli.Decompressor())
    if coding == "zstd":
        with contextlib.suppress(ImportError):
            import zstandard  # type: ignore[import-not-found]

            return _Zlib(0, zstandard.ZstdDecompressor().decompressobj())
    return None


class _Zlib:
    """A ``decompressobj`` that says whether its stream ended (``eof``), for ``whole``."""

    def __init__(self, wbits: int, obj: Any = None) -> None:
        self._obj = obj if obj is not None else zlib.decompressobj(wbits)

    @property
    def eof(self) -> bool:
        return getattr(self._obj, "eof", True)

    def __call__(self, data: bytes) -> bytes:
        return self._obj.decompress(data)


class _Brotli:
    def __init__(self, obj: Any) -> None:
        self._obj = obj

    @property
    def eof(self) -> bool:
        finished = getattr(self._obj, "is_finished", None)
        return finished() if finished is not None else True

    def __call__(self, data: bytes) -> bytes:
        return self._obj.process(data)


class _Deflate:
    """``deflate`` is zlib-wrapped by the RFC but raw in some servers: decided on the first bytes, as
    browsers and httpx do."""

    def __init__(self) -> None:
        self._obj: Any = None

    @property
    def eof(self) -> bool:
        return self._obj is None or self._obj.eof

    def __call__(self, data: bytes) -> bytes:
        if self._obj is None:
            self._obj = zlib.decompressobj()
            try:
                return self._obj.decompress(data)
            except zlib.error:
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._obj.decompress(data)
