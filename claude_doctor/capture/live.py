"""One real streaming request, captured byte-exact with per-chunk monotonic timing (``claude-doctor live``).

``httpx`` reads the body (its ``iter_bytes`` gives what the SSE parser sees, after transfer and content
decoding, with the reader's chunk boundaries), each record is written and flushed as it arrives, so an
interrupted probe still leaves a valid recording. Failures are named by the step that failed (DNS, TCP,
TLS, proxy, HTTP), walking the exception chain, for errors from ``httpx`` and from the SDK's ``httpx2``.

:func:`sdk_verdict` then feeds the same bytes, boundaries and ending to the real SDK through an
``httpx2.MockTransport``: the honest answer to "what would my code have seen".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..failures import HTTP_PACKAGES, failed_step, http_error
from ..keys import redact_text
from ..recording.jsonl import RecordingWriter

#: Statuses the SDK retries by default (``_should_retry`` in ``anthropic._base_client``).
RETRIED = frozenset({408, 409, 429})
DROPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}


def end_reason(exc: BaseException) -> str:
    """The recording's end reason for an exception raised while the body was being read."""
    if isinstance(exc, KeyboardInterrupt):
        return "cancelled"
    if http_error(exc, "ReadTimeout") or http_error(exc, "TimeoutException"):
        return "timeout"
    if http_error(exc, "RemoteProtocolError") or http_error(exc, "ReadError") or isinstance(exc, ConnectionError):
        return "reset"
    return "error"


def describe(exc: BaseException) -> str:
    """``module.Class: message`` on one line, the way a traceback's last line reads."""
    module = type(exc).__module__
    name = type(exc).__name__ if module == "builtins" else f"{module.split('.')[0]}.{type(exc).__name__}"
    # a malformed credential ends up in h11's "Illegal header value b'Bearer sk-ant-…\\n'": never print it
    text = _HEADER_VALUE.sub(r"\1[REDACTED]", " ".join(str(exc).split()))
    text = redact_text(text)
    return f"{name}: {text}" if text else name


_HEADER_VALUE = re.compile(r"""(header value:? )(?:b?'[^']*'|b?"[^"]*"|\S+)""", re.IGNORECASE)


@dataclass
class Capture:
    """What came back, kept in memory for the summary and the SDK verdict (a probe is small)."""

    status: int | None = None
    reason: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    end: str = "eof"
    error: str | None = None
    step: str | None = None  #: set when no response arrived: which step failed
    failure: BaseException | None = None  #: what the capture's client raised, for the SDK verdict
    seconds: float = 0.0

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def capture(
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    writer: RecordingWriter,
    *,
    read_timeout: float = 60.0,
    connect_timeout: float = 10.0,
    on_chunk: Callable[[float, bytes], None] | None = None,
) -> Capture:
    """Send one POST and record the exchange (index 0) as it happens; never raises for network trouble,
    which is reported in the returned :class:`Capture` and the recording's ``end`` line."""
    import httpx

    result = Capture()
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    started = time.monotonic()
    writer.request(0, 0.0, "POST", url, headers, body)
    try:
        with httpx.Client(timeout=timeout) as client, client.stream("POST", url, headers=headers, content=body) as r:
            now = time.monotonic() - started
            result.status, result.reason = r.status_code, r.reason_phrase
            result.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in r.headers.raw]
            writer.response(0, now, r.status_code, r.reason_phrase, r.http_version, result.headers)
            _read_body(r, result, writer, started, on_chunk)
    except (Exception, KeyboardInterrupt) as exc:
        if result.status is None:
            result.step = failed_step(exc)
        result.end = end_reason(exc) if result.status is not None else "error"
        result.error = describe(exc)
        result.failure = exc
        if result.end == "timeout":
            result.error += f" (read timeout {read_timeout:g}s)"
    result.seconds = time.monotonic() - started
    error_type = result.error.split(":")[0] if result.error else None
    writer.end(0, result.seconds, result.end, result.error, error_type)
    return result


def _read_body(
    response, result: Capture, writer: RecordingWriter, started: float, on_chunk: Callable[[float, bytes], None] | None
) -> None:
    for data in response.iter_bytes():
        t = time.monotonic() - started
        result.chunks.append(data)
        writer.chunk(0, t, data)
        if on_chunk is not None:
            on_chunk(t, data)


# -- what the SDK would have done ------------------------------------------------------------------


def sdk_verdict(request: dict, result: Capture) -> str:
    """Replay the captured status, headers, chunks and ending into the real SDK (``messages.stream`` for
    a stream request, ``messages.create`` otherwise) and say what it returned or raised. A request that
    got no answer fails inside the SDK's transport with ``httpx2``'s twin of what ``httpx`` raised, so
    the verdict names the exception the SDK itself would have wrapped."""
    if result.status is None and not isinstance(result.failure, Exception):
        return "is not asked: the request was cancelled before an answer came"
    import anthropic
    import httpx2

    def handler(_: httpx2.Request) -> httpx2.Response:
        if result.status is None:
            raise _as_httpx2(result.failure, httpx2)
        headers = [(k, v) for k, v in result.headers if k.lower() not in DROPPED_HEADERS]
        return httpx2.Response(result.status, headers=headers, stream=_replay_stream(result, httpx2))

    client = anthropic.Anthropic(
        api_key="claude-doctor-verdict",
        base_url="http://claude-doctor.invalid",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    params = {k: v for k, v in request.items() if k not in ("model", "max_tokens", "messages", "stream")}
    call = {
        "model": request.get("model"),
        "max_tokens": request.get("max_tokens"),
        "messages": request.get("messages"),
        "extra_body": params or None,
    }
    try:
        if request.get("stream"):
            with client.messages.stream(**call) as stream:
                for _ in stream:
                    pass
                return _returned(stream.get_final_message())
        return _returned(client.messages.create(**call))
    except Exception as exc:
        return f"raises {describe(exc)}{_retry_note(exc, result.status)}"
    finally:
        client.close()


def _as_httpx2(failure: Exception, httpx2) -> Exception:
    """What the SDK's ``httpx2`` raises where the capture's ``httpx`` raised ``failure``: the class of the
    same name (both packages have the same exception tree), with the same message."""
    if type(failure).__module__.split(".")[0] in HTTP_PACKAGES:
        counterpart = getattr(httpx2, type(failure).__name__, None)
        if isinstance(counterpart, type) and issubclass(counterpart, Exception):
            return counterpart(str(failure))
    return failure


def _retry_note(exc: BaseException, status: int | None) -> str:
    """The SDK retries connection failures, timeouts and some statuses twice by default; the verdict
    was reached with retries off."""
    if status is None:
        cause = exc.__cause__
        return " (after 2 retries by default)" + (f", caused by {describe(cause)}" if cause is not None else "")
    if status >= 500 or status in RETRIED:
        return f" (after retrying {status} twice by default)"
    return ""


def _returned(message: object) -> str:
    if isinstance(message, str):
        return f"returns a str of {len(message)} characters instead of a Message (the raw body)"
    content = getattr(message, "content", []) or []
    text = "".join(getattr(b, "text", "") or "" for b in content)
    kinds = ", ".join(getattr(b, "type", "?") for b in content) or "no content"
    stop = getattr(message, "stop_reason", None)
    return f"returns a Message: stop_reason={stop}, blocks [{kinds}], {len(text)} characters of text"


def _replay_stream(result: Capture, httpx2):
    """An ``httpx2`` byte stream that yields the captured chunks, then ends as the capture did: a reset
    becomes ``RemoteProtocolError`` and a timeout ``ReadTimeout``, as the SDK would have met them.
    (Defined here because ``httpx2`` is imported only when a verdict is asked for.)"""

    class ReplayStream(httpx2.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from result.chunks
            if result.end == "reset":
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body (incomplete chunked read)"
                )
            if result.end == "timeout":
                raise httpx2.ReadTimeout("timed out")

    return ReplayStream()


def usage_summary(result: Capture) -> tuple[str | None, dict]:
    """The model and the token usage the response reported (message_start merged with message_delta,
    which carries cumulative counts), from a stream or a JSON message."""
    from ..sse import SSEDecoder

    if result.headers and any(k.lower() == "content-type" and "json" in v for k, v in result.headers):
        try:
            message = json.loads(result.body)
        except ValueError:
            return None, {}
        return (message.get("model"), message.get("usage") or {}) if isinstance(message, dict) else (None, {})
    model, usage = None, {}
    decoder = SSEDecoder()
    events = [e for chunk in result.chunks for e in decoder.feed(chunk)]
    for event in events:
        try:
            data = json.loads(event.data or "")
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if data.get("type") == "message_start" and isinstance(data.get("message"), dict):
            model = data["message"].get("model")
            usage.update(data["message"].get("usage") or {})
        elif data.get("type") == "message_delta":
            usage.update(data.get("usage") or {})
    return model, usage
