"""The stream checks (CD101–CD117, and CD408 for a request that never got an answer): records → SSE
events → small checks → findings.

:class:`StreamAnalyzer` takes records one at a time (from a file, a live capture or the proxy), so
the same code checks a 1 GB recording in bounded memory and a stream as it happens. Each exchange
gets an :class:`Exchange` context; each check is a small object with hooks for the response, each
chunk, the events it asks for, framing problems, and the end. Each check names the rules it reports
(:data:`CHECKS_BY_RULE`), and only the checks of selected rules run."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import eq, itemgetter, ne
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from ..config import Config
from ..fastjson import loads_fast, parse_json, string_bodies
from ..findings import Finding, Rule, Severity, matches
from ..recording.encoding import codings, looks_decoded
from ..recording.model import PROXY_STOPPED, Chunk, End, Note, Record, Request, Response, Source
from ..sdk_limits import FALLBACK, Vocabulary, beta_request_fields, refuses_without_streaming, sdk_vocabulary
from ..sse import EventRun, SSEDecoder, SSEEvent, SSETail, data_between
from .env_rules import API_UNREACHABLE
from .stream_rules import (
    AUTH_ERROR,
    BUFFERED_STREAM,
    ERROR_EVENT,
    EVENT_ORDER,
    IDLE_GAP,
    INVALID_TOOL_JSON,
    MAX_TOKENS_STOP,
    NOT_EVENT_STREAM,
    OVERLOADED,
    RATE_LIMITED,
    READ_TIMEOUT,
    REQUEST_ERROR,
    SSE_FRAMING,
    STOP_REASON,
    STREAM_NOT_ENABLED,
    TRUNCATED_STREAM,
    UNKNOWN_EVENT,
    status_rule,
)

# the core types every supported SDK knows: checked at no cost; anything else is looked up in the SDK
KNOWN_EVENTS = FALLBACK[False].events
KNOWN_DELTAS = FALLBACK[False].deltas
KNOWN_BLOCKS = FALLBACK[False].blocks
TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})  # blocks whose input streams as JSON
MAX_ERROR_BODY = 64 * 1024
_PLAIN_PINGS = (b'{"type": "ping"}', b'{"type":"ping"}')
_PLAIN_PING_LINES = tuple(b"data: " + ping for ping in _PLAIN_PINGS)
_PLAIN_PING_EVENTS = tuple(b"event: ping\n" + line for line in _PLAIN_PING_LINES)
_AFTER_DATA = itemgetter(slice(6, None))  #: a data line without its ``data: ``
_DELTA = "content_block_delta"
#: the start of a delta's data as the API writes it, up to the opening quote of its one string
_DELTA_HEAD = re.compile(
    rb'data: \{"type":"content_block_delta","index":(0|[1-9][0-9]{0,17}),"delta":\{"type":"([a-z_]+)","([a-z_]+)":"'
)
MAX_JSON_BODY = 8 * 1024 * 1024
MAX_GAP_FINDINGS = 3
HELD_CHUNK_BYTES = 256 * 1024  #: a recording's chunks are taken together up to this size


# -- per-exchange context -------------------------------------------------------------------------


@dataclass
class Occurrence:
    """The first place a repeated problem was seen, and how often it was seen in all."""

    rule: Rule
    message: str
    event: int | None
    t: float | None
    fix: str | None
    count: int = 1


@dataclass
class Exchange:
    """What the checks know about one request/response exchange while it is being read."""

    i: int
    path: str
    config: Config
    request: Request | None = None
    response: Response | None = None
    body_kind: str | None = None  # "sse", "json", "error" or "encoded", decided at the first body byte
    body: bytearray = field(default_factory=bytearray)  # kept for json/error bodies only, capped
    body_bytes: int = 0
    first_byte_t: float | None = None
    last_byte_t: float | None = None
    events: int = 0
    saw_stop: bool = False
    saw_error: bool = False
    cut_mid_event: int = 0  # bytes of an event the stream ended inside
    #: an event the SDK raises at (not JSON, tool input not JSON even in part): its reader stops there,
    #: so a ``cancelled`` end is the SDK's own doing, not a cut
    sdk_raised_at: SSEEvent | None = None
    end: End | None = None
    findings: list[Finding] = field(default_factory=list)
    _once: dict[str, Occurrence] = field(default_factory=dict)
    _last: SSEEvent | EventRun | None = None

    @property
    def last_event(self) -> SSEEvent | None:
        """The last event decoded so far; built when first asked for, as most exchanges never ask."""
        last = self._last
        if last.__class__ is EventRun:
            last = self._last = last.event(len(last) - 1)
        return last

    @last_event.setter
    def last_event(self, event: SSEEvent | EventRun | None) -> None:
        self._last = event

    @property
    def status(self) -> int | None:
        return self.response.status if self.response else None

    @property
    def ok(self) -> bool:
        """2xx, or unknown status (a raw import)."""
        return self.status is None or 200 <= self.status < 300

    def report(
        self,
        rule: Rule,
        message: str,
        *,
        event: SSEEvent | None = None,
        t: float | None = None,
        fix: str | None = None,
        severity: Severity | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                rule,
                message,
                path=self.path,
                event=event.number if event else None,
                t=event.t if event and t is None else t,
                exchange=self.i,
                fix=fix,
                severity=severity,
            )
        )

    def once(
        self,
        key: str,
        rule: Rule,
        message: str,
        *,
        event: SSEEvent | None = None,
        t: float | None = None,
        fix: str | None = None,
    ) -> None:
        """Report a problem that may repeat once, at its first occurrence, with a count."""
        seen = self._once.get(key)
        if seen is not None:
            seen.count += 1
            return
        self._once[key] = Occurrence(
            rule, message, event.number if event else None, event.t if event and t is None else t, fix
        )

    def flush_once(self) -> None:
        for occ in self._once.values():
            self.findings.append(
                Finding(
                    occ.rule,
                    _with_repeats(occ.message, occ.count),
                    path=self.path,
                    event=occ.event,
                    t=occ.t,
                    exchange=self.i,
                    fix=occ.fix,
                )
            )
        self._once.clear()


def _with_repeats(message: str, count: int) -> str:
    """One finding stands for every repeat of its cause: the count goes inside its last sentence."""
    if count <= 1:
        return message
    head, dot = (message[:-1], ".") if message.endswith(".") else (message, "")
    return f"{head} (and {count - 1} more like it){dot}"


def _url(url: str) -> SplitResult:
    """The parts of a recorded URL; one that does not parse (a hand-edited file) has none."""
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit("")


def beta_request(request: Request | None) -> bool | None:
    """Whether the request used the beta Messages API, so beta types are expected: an
    ``anthropic-beta`` header, the ``?beta=true`` that ``client.beta.messages`` puts in the URL
    (recorders often drop the header), or a field only the beta API takes. ``None`` when the
    recording has no request, so it cannot be told."""
    if request is None:
        return None
    if request.header("anthropic-beta") is not None:
        return True
    if "true" in parse_qs(_url(request.url).query).get("beta", ()):
        return True
    body = request.json
    return isinstance(body, dict) and not beta_request_fields().isdisjoint(body)


class Deltas:
    """``content_block_delta`` events of one block that came in a row, each of an object delta of a core
    type: their parsed data in ``objs``, :meth:`strings` for one field of their deltas, and each event
    itself built only when asked for (:meth:`event`, or iterating gives ``(event, obj)``). Deltas whose
    bytes said what they are (one delta type, one string field, see ``_ExchangeAnalysis._plain_deltas``)
    come as those strings, and their ``objs`` are built only if asked for."""

    __slots__ = ("_field", "_index", "_kind", "_objs", "_positions", "_run", "_strings")

    def __init__(
        self,
        run: EventRun,
        positions: list[int] | range,
        objs: list[dict] | None,
        plain: tuple[int, str, str, list[str]] | None = None,
    ) -> None:
        self._run = run
        self._positions = positions  # of the deltas in the run
        self._objs = objs
        self._index, self._kind, self._field, self._strings = plain or (0, "", "", [])

    @property
    def objs(self) -> list[dict]:
        if self._objs is None:
            index, kind, name = self._index, self._kind, self._field
            self._objs = [{"type": _DELTA, "index": index, "delta": {"type": kind, name: s}} for s in self._strings]
        return self._objs

    def strings(self, name: str) -> list[str | None]:
        """Each delta's field ``name`` when it is a string, else ``None``."""
        if self._objs is None:
            return self._strings if name == self._field else [None] * len(self._strings)
        values = [obj["delta"].get(name) for obj in self._objs]
        return [value if value.__class__ is str else None for value in values]

    def __len__(self) -> int:
        return len(self._positions)

    def __iter__(self) -> Iterator[tuple[SSEEvent, dict]]:
        return zip(map(self._run.event, self._positions), self.objs)

    def event(self, n: int) -> SSEEvent:
        return self._run.event(self._positions[n])


class Check:
    """A small check. ``rules`` are the rules it can report: it runs only when one of them is selected
    (:data:`CHECKS_BY_RULE` maps each code to its checks), or when a check it ``feeds`` runs (that check
    reads what this one leaves on the :class:`Exchange`). ``events`` names the event types whose parsed
    data it wants in ``on_event``."""

    rules: tuple[Rule, ...] = ()
    feeds: tuple[type[Check], ...] = ()
    events: frozenset[str] = frozenset()

    def on_response(self, ex: Exchange) -> None: ...

    def on_chunk(self, ex: Exchange, t: float | None, size: int) -> None:
        """A chunk of the body arrived, ``ex.events`` events into it. Chunks of a recording are taken a few
        at a time (``StreamAnalyzer.add_chunks``), so the events of the chunks before this one may not have
        been routed to ``on_event`` yet; they are counted all the same."""

    def on_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None: ...

    def ignores_delta(self, index: int) -> bool:
        """Whether ``on_event`` would do nothing, as things stand, with a ``content_block_delta`` for block
        ``index`` whose delta is an object of a core type (:data:`KNOWN_DELTAS`). Most of a stream is such
        deltas: the analysis calls only the checks that do not ignore them. The answer may change in any
        hook but those that take deltas (``on_event`` for a delta, ``on_deltas``); by default a check
        wants every delta."""
        return False

    def on_deltas(self, ex: Exchange, index: int, deltas: Deltas) -> None:
        """Core deltas of block ``index`` that came in a row, when this check is the only one that reads
        them: a check that can take them at once overrides this; by default, ``on_event`` for each."""
        for ev, obj in deltas:
            self.on_event(ex, ev, _DELTA, obj)

    def on_framing(self, ex: Exchange, problem: str, ev: SSEEvent | None, **words: object) -> None:
        """The event decoder found ``problem`` (a key of :data:`FRAMING_PROBLEMS`) in the framing."""

    def on_end(self, ex: Exchange) -> None: ...


def _at(t: float | None) -> str:
    return f" at t={t:.2f}s" if t is not None else ""


def _error_message(body: bytes) -> tuple[str | None, str | None]:
    """(error type, message) from an API error body, if it is one."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        err = obj["error"]
        return str(err.get("type") or ""), str(err.get("message") or "")
    return None, None


def _loads_or_none(data_line: bytes) -> object:
    try:
        return loads_fast(data_line[6:])
    except ValueError:
        return None


def _index(obj: dict) -> int | None:
    """A block event's ``index`` when it is an integer; anything else (a string, an object) is no index."""
    index = obj.get("index")
    return index if type(index) is int else None


def _body_excerpt(body: bytes) -> str:
    text = body[:120].decode("utf-8", "replace").strip().replace("\n", " ")
    return text + ("…" if len(body) > 120 else "")


# -- HTTP status (CD109–CD112) --------------------------------------------------------------------


class StatusCheck(Check):
    """Non-2xx answers, described with what the error body and headers say."""

    rules = (RATE_LIMITED, AUTH_ERROR, OVERLOADED, REQUEST_ERROR)

    def on_end(self, ex: Exchange) -> None:
        status = ex.status
        if status is None or 200 <= status < 300:
            return
        rule = status_rule(status)
        if rule is None:
            return
        head = self._head(ex)
        if rule is RATE_LIMITED:
            ex.report(rule, head + self._limits(ex.response), t=ex.response.t)
        elif rule is AUTH_ERROR:
            ex.report(rule, head + self._auth_hint(ex), t=ex.response.t)
        elif rule is OVERLOADED:
            gateway = " The body is HTML: a proxy or gateway answered, not the API." if self._html(ex) else ""
            ex.report(rule, head + "." + gateway, t=ex.response.t)
        else:
            ex.report(rule, head + ".", t=ex.response.t)

    @staticmethod
    def _head(ex: Exchange) -> str:
        """The status and what the error body says; an SDK that retries a 429/529 closes the first
        answer without reading it, which is not the same as an answer with no body."""
        etype, emsg = _error_message(bytes(ex.body))
        if etype or emsg:
            return f"HTTP {ex.status} ({etype}: {emsg})"
        if not ex.body_bytes and ex.end is not None and ex.end.reason == "cancelled":
            return f"HTTP {ex.status}, body not read ({_closed_by(ex.end)})"
        return f"HTTP {ex.status} ({_body_excerpt(bytes(ex.body)) or 'no body'})"

    @staticmethod
    def _html(ex: Exchange) -> bool:
        return (ex.response.content_type or "").endswith("html") or bytes(ex.body[:200]).lstrip().startswith(b"<")

    @staticmethod
    def _limits(response: Response) -> str:
        seen = [
            f"{k}: {v}"
            for k, v in response.headers
            if k.lower() in ("retry-after", "retry-after-ms") or k.lower().startswith("anthropic-ratelimit-")
        ]
        return "; " + ", ".join(seen) + "." if seen else "; no retry-after or anthropic-ratelimit-* headers."

    @staticmethod
    def _auth_hint(ex: Exchange) -> str:
        if ex.request is None:
            return "."
        sent = [name for name in ("x-api-key", "authorization") if ex.request.header(name) is not None]
        if not sent:
            return "; the recorded request shows neither x-api-key nor Authorization (not sent, or not recorded)."
        return f"; the request sent {' and '.join(sent)}."


# -- no answer at all (CD408) ---------------------------------------------------------------------


def failed_step(end: End) -> str | None:
    """Which step of reaching the API failed, read from the error an ``end`` line recorded; ``None``
    when it does not say."""
    from ..failures import step_from_text  # with ssl and socket: loaded only for a failed exchange

    step = step_from_text(f"{end.error_type or ''} {end.error or ''}")
    return step or ("HTTP" if end.reason == "reset" else None)


class UnreachableCheck(Check):
    """A request that was sent but never answered because the connection failed: what ``live``
    reports as CD408, seen in a recording (``record`` against an unreachable upstream, the SDK
    transport, a live capture)."""

    rules = (API_UNREACHABLE,)

    def on_end(self, ex: Exchange) -> None:
        end = ex.end
        if ex.request is None or ex.response is not None or ex.body_bytes or end is None:
            return
        if end.reason not in ("error", "reset"):
            return  # a timeout is CD103; a cancelled request was given up on, not refused
        step = failed_step(end)
        what = f"{step} step failed reaching" if step else "No response from"
        error = end.error or f"the connection failed (end reason {end.reason}, no error recorded)"
        ex.report(
            API_UNREACHABLE,
            f"{what} {ex.request.url}: {error}; the request got no response, so the SDK raises "
            "anthropic.APIConnectionError (after its retries).",
            t=end.t,
        )


# -- what kind of body came back (CD101, CD115) ---------------------------------------------------


class BodyKindCheck(Check):
    """A body that is not the event stream the request asked for, or a long call that did not stream."""

    rules = (NOT_EVENT_STREAM, STREAM_NOT_ENABLED)

    def on_end(self, ex: Exchange) -> None:
        if not ex.ok or ex.body_kind != "json":
            return
        wants = ex.request.wants_stream if ex.request else None
        ctype = (ex.response.content_type if ex.response else None) or "no content-type"
        if wants:
            ex.report(
                NOT_EVENT_STREAM,
                f"The request asked to stream but the {ex.status or ''} answer is {ctype} "
                f"({ex.body_bytes} bytes: {_body_excerpt(bytes(ex.body))}); the SDK yields no events "
                "and raises nothing.".replace("  ", " "),
                t=ex.first_byte_t,
            )
        elif wants is False and self._is_message(ex):
            self._not_streamed(ex)

    @staticmethod
    def _is_message(ex: Exchange) -> bool:
        try:
            obj = json.loads(bytes(ex.body))
        except (ValueError, UnicodeDecodeError):
            return False
        return isinstance(obj, dict) and obj.get("type") == "message"

    @staticmethod
    def _not_streamed(ex: Exchange) -> None:
        body = ex.request.json
        max_tokens = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None
        model = str(body.get("model") or _bedrock_model(ex.request.url) or "")
        took = f" and took {ex.end.t:.1f} s with no bytes until the end" if ex.end and ex.end.t else ""
        message = f"The request (model {model or 'unknown'}, max_tokens {max_tokens}) did not ask to stream{took}."
        severity = None
        if max_tokens is not None and refuses_without_streaming(model, max_tokens):
            severity = Severity.ERROR
            message += " The SDK refuses this call without streaming (ValueError: Streaming is required…)."
        ex.report(STREAM_NOT_ENABLED, message, t=ex.first_byte_t, severity=severity)


def _bedrock_model(url: str) -> str | None:
    """Bedrock puts the model id in the path (``/model/anthropic.claude-…-v1%3A0/invoke``), not the body."""
    parts = _url(url).path.split("/")
    return unquote(parts[parts.index("model") + 1]) if "model" in parts[:-1] else None


# -- timing (CD102, CD103, CD114) -----------------------------------------------------------------


class TimingCheck(Check):
    """Silences longer than the ping cadence, a reader that gave up, and bodies held back to the end."""

    rules = (IDLE_GAP, READ_TIMEOUT, BUFFERED_STREAM)

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float, str, int | None]] = []  # (length, start, between, event)
        self.prev: float | None = None
        self.prev_what = "the response headers"

    def on_response(self, ex: Exchange) -> None:
        self.prev = ex.response.t

    def on_chunk(self, ex: Exchange, t: float | None, size: int) -> None:
        if t is not None and self.prev is not None and t - self.prev > ex.config.idle_gap:
            self.gaps.append((t - self.prev, self.prev, self.prev_what, ex.events))
        if t is not None:
            self.prev = t
        self.prev_what = "two chunks"

    def on_end(self, ex: Exchange) -> None:
        end = ex.end
        timed_out = end is not None and end.reason == "timeout"
        tail_gap = end.t - self.prev if end and end.t is not None and self.prev is not None else 0.0
        if not timed_out and tail_gap > ex.config.idle_gap:
            self.gaps.append((end.t - self.prev, self.prev, "the last chunk and the end", ex.events))
        self._report_gaps(ex)
        if timed_out:
            self._report_timeout(ex)
        self._report_buffering(ex)

    def _report_gaps(self, ex: Exchange) -> None:
        if ex.body_kind != "sse":
            return  # only event streams are pinged; a JSON body arrives whole at the end
        for n, (length, start, between, events) in enumerate(self.gaps[:MAX_GAP_FINDINGS]):
            more = len(self.gaps) - MAX_GAP_FINDINGS
            extra = (
                f" ({more} more gaps over {ex.config.idle_gap:g} s follow)"
                if n == MAX_GAP_FINDINGS - 1 and more > 0
                else ""
            )
            after = f" after event {events}" if events else ""
            ex.findings.append(
                Finding(
                    IDLE_GAP,
                    f"No bytes for {length:.1f} s between {between}{after} (from t={start:.2f}s); the API pings "
                    f"every ~15 s, so something held the stream back (threshold {ex.config.idle_gap:g} s){extra}.",
                    path=ex.path,
                    event=events or None,
                    t=start,
                    exchange=ex.i,
                )
            )

    def _report_timeout(self, ex: Exchange) -> None:
        end = ex.end
        silence = f" after {end.t - self.prev:.1f} s of silence" if end.t is not None and self.prev is not None else ""
        client = ex.request.header("x-stainless-read-timeout") if ex.request else None
        limit = f", client read timeout {client} s" if client else ""
        error = f": {end.error}" if end.error else ""
        ex.report(
            READ_TIMEOUT,
            f"The client stopped waiting{_at(end.t)}{silence} ({ex.events} events received{limit}){error}.",
            t=end.t,
        )

    def _report_buffering(self, ex: Exchange) -> None:
        end = ex.end
        if ex.body_kind != "sse" or not ex.ok or end is None or end.t is None or ex.first_byte_t is None:
            return
        if end.t >= 2.0 and ex.first_byte_t >= 0.9 * end.t:
            ex.report(
                BUFFERED_STREAM,
                f"The first body byte arrived at t={ex.first_byte_t:.2f}s of a {end.t:.2f} s exchange: all "
                f"{ex.events} events came in one burst at the end, so something on the path buffers.",
                t=ex.first_byte_t,
            )


# -- the event grammar (CD104, CD105, CD108) ------------------------------------------------------


class GrammarCheck(Check):
    """message_start, then blocks 0, 1, 2 … each start/deltas/stop, then message_delta, message_stop."""

    rules = (TRUNCATED_STREAM, EVENT_ORDER, ERROR_EVENT)
    events = KNOWN_EVENTS - {"ping"}

    def __init__(self) -> None:
        self.started = False
        self.stopped = False
        self.next_index = 0
        self.open: dict[int, object] = {}  # index → block type
        self.closed: set[int] = set()
        self.message_ended = False  # a message_delta or message_stop arrived

    def on_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        if kind == "content_block_delta":
            index = obj.get("index")
            if index.__class__ is int and self.ignores_delta(index):
                return  # the common case, by far
        if kind == "error":
            ex.saw_error = True
            err = obj.get("error") if isinstance(obj.get("error"), dict) else {}
            what = f"{err.get('type') or 'error'}: {err.get('message') or ''}".rstrip(": ")
            status = f"HTTP {ex.status}" if ex.status else "the response"
            ex.report(
                ERROR_EVENT,
                f"An error event ({what}) arrived after {status}, {ev.number - 1} events in; the "
                "SDK raises APIStatusError with status_code 200 and does not retry.",
                event=ev,
            )
            return
        if self.stopped:
            ex.once("after-stop", EVENT_ORDER, f"{kind} after message_stop; only pings may follow it.", event=ev)
            return
        if kind == "message_start":
            if self.started:
                ex.once("second-start", EVENT_ORDER, "A second message_start; the SDK ignores it.", event=ev)
            self.started = True
            return
        if not self.started:
            ex.once(
                "before-start",
                EVENT_ORDER,
                f"{kind} before message_start; the SDK passes such events through without accumulating them, "
                "and get_final_message() fails with a bare AssertionError unless a message_start follows.",
                event=ev,
            )
        if kind == "content_block_start":
            self._block_start(ex, ev, obj)
        elif kind in ("content_block_delta", "content_block_stop"):
            self._block_event(ex, ev, kind, obj)
        elif not self.message_ended:  # message_delta or message_stop: the content is over
            self.message_ended = True
            self._still_open(ex, ev, kind)
        if kind == "message_stop":
            self.stopped = True
            ex.saw_stop = True

    def ignores_delta(self, index: int) -> bool:
        return index in self.open and not self.stopped

    def _block_start(self, ex: Exchange, ev: SSEEvent, obj: dict) -> None:
        index = obj.get("index")
        if index != self.next_index:
            ex.once(
                "index",
                EVENT_ORDER,
                f"content_block_start has index {index!r} where {self.next_index} was next; "
                "the SDK appends blocks in arrival order, so later deltas raise IndexError.",
                event=ev,
            )
        if isinstance(index, int):
            block = obj.get("content_block")
            self.open[index] = block.get("type") if isinstance(block, dict) else None
            self.next_index = max(self.next_index, index + 1)

    def _block_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        index = _index(obj)
        if index in self.open:
            if kind == "content_block_stop":
                del self.open[index]
                self.closed.add(index)
            return
        if index in self.closed:
            ex.once(
                f"after-block-stop-{index}",
                EVENT_ORDER,
                f"{kind} for block {index} after its content_block_stop.",
                event=ev,
            )
        else:
            ex.once(
                f"no-block-{index}",
                EVENT_ORDER,
                f"{kind} for block {index!r} before its content_block_start; the SDK raises a bare "
                "IndexError: list index out of range.",
                event=ev,
            )

    def _still_open(self, ex: Exchange, ev: SSEEvent, kind: str) -> None:
        """Blocks the message ended without stopping; tool blocks are the tool input check's, which can
        say what became of their input."""
        for index, btype in sorted(self.open.items()):
            if btype not in TOOL_BLOCKS:
                ex.report(
                    EVENT_ORDER,
                    f"Block {index} ({btype}) has no content_block_stop before {kind}; the SDK raises nothing "
                    "and keeps the block as far as it got.",
                    event=ev,
                )

    def on_end(self, ex: Exchange) -> None:
        if ex.body_kind != "sse" or not ex.ok or ex.saw_stop or ex.saw_error:
            return
        reason = ex.end.reason if ex.end else None
        if reason not in ("eof", "reset", "cancelled") or (reason == "cancelled" and ex.sdk_raised_at is not None):
            return
        ex.report(
            TRUNCATED_STREAM,
            self._truncation_message(ex, reason, self.started),
            event=ex.last_event,
            t=ex.end.t if ex.last_event is None else None,
        )

    @staticmethod
    def _truncation_message(ex: Exchange, reason: str, started: bool) -> str:
        if ex.events == 0:
            return (
                f"The event stream ended ({reason}) with no events at all; get_final_message() fails with a "
                "bare AssertionError."
            )
        last = ex.last_event
        what = {
            "eof": "the connection closed cleanly, so the SDK raises nothing and returns a partial message with "
            "stop_reason None"
            if started
            else "no message_start arrived and the connection closed cleanly, so the SDK yields the events it got "
            "and get_final_message() fails with a bare AssertionError",
            "reset": "the connection broke, so the SDK raises a raw httpx2.RemoteProtocolError/ReadError",
            "cancelled": _closed_by(ex.end),
        }[reason]
        cut = f", then {ex.cut_mid_event} bytes of an unfinished event" if ex.cut_mid_event else ""
        return (
            f"The stream ended after {ex.events} events without message_stop (last: {last.name or 'unnamed'}"
            f"{_at(last.t)}{cut}); {what}."
        )


def _closed_by(end: End | None) -> str:
    """Who cut a ``cancelled`` exchange off: the client, or the recording proxy shutting down."""
    stopped = end is not None and end.error_type == PROXY_STOPPED
    return "the recording proxy shut down while it was open" if stopped else "the client closed it"


# -- stop reasons (CD106, CD107) ------------------------------------------------------------------

_STOP_FIXES = {
    "refusal": "Streaming classifiers intervened: show the user that the answer was withheld, and do not retry "
    "the same prompt in a loop.",
    "pause_turn": "A long server-tool turn was paused: send the assistant content back as-is in a new request "
    "to let it continue.",
    "model_context_window_exceeded": "The context window filled up: shorten or summarise the conversation, or "
    "lower the input before asking again.",
}


def report_stop_reason(ex: Exchange, stop_reason: object, output_tokens: object, event: SSEEvent | None) -> None:
    if stop_reason == "max_tokens":
        asked = ex.request.json.get("max_tokens") if ex.request and isinstance(ex.request.json, dict) else None
        limit = f"max_tokens={asked}" if asked is not None else "the request's max_tokens is not in the recording"
        ex.report(
            MAX_TOKENS_STOP,
            f"stop_reason is max_tokens after {output_tokens} output tokens ({limit}): the answer "
            "was cut off, and the SDK treats it as success.",
            event=event,
            t=None if event else ex.first_byte_t,
        )
    elif stop_reason in _STOP_FIXES:
        ex.report(
            STOP_REASON,
            f"stop_reason is {stop_reason}.",
            event=event,
            fix=_STOP_FIXES[stop_reason],
            t=None if event else ex.first_byte_t,
        )


class StopReasonCheck(Check):
    """Answers that ended for a reason other than a finished turn."""

    rules = (MAX_TOKENS_STOP, STOP_REASON)
    events = frozenset({"message_delta"})

    def on_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        delta = obj.get("delta") if isinstance(obj.get("delta"), dict) else {}
        usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
        report_stop_reason(ex, delta.get("stop_reason"), usage.get("output_tokens"), ev)

    def on_end(self, ex: Exchange) -> None:
        if ex.body_kind == "json" and ex.ok:
            try:
                msg = json.loads(bytes(ex.body))
            except (ValueError, UnicodeDecodeError):
                return
            if isinstance(msg, dict) and msg.get("type") == "message":
                usage = msg.get("usage") if isinstance(msg.get("usage"), dict) else {}
                report_stop_reason(ex, msg.get("stop_reason"), usage.get("output_tokens"), None)


# -- vocabulary (CD116) ---------------------------------------------------------------------------


#: in ``Check.events``: also call ``on_event`` for event types the SDK does not know
UNKNOWN_TYPES = "*"


class VocabularyCheck(Check):
    """Types the SDK does not know, in the namespace the request used (``client.messages`` or
    ``client.beta.messages``). The core types pass at no cost; others are looked up in the
    installed SDK, which is imported once, and only then."""

    rules = (UNKNOWN_EVENT,)
    events = frozenset({"content_block_delta", "content_block_start", UNKNOWN_TYPES})

    def ignores_delta(self, index: int) -> bool:
        return True  # a core delta type is known, whatever the block

    def on_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        if kind not in KNOWN_EVENTS:
            self._look_up(ex, ev, "event", kind)
        elif kind == "content_block_delta":
            delta = obj.get("delta")
            dtype = delta.get("type") if delta.__class__ is dict else None
            if dtype not in KNOWN_DELTAS:
                self._look_up(ex, ev, "delta", dtype)
        elif kind == "content_block_start":
            block = obj.get("content_block")
            btype = block.get("type") if isinstance(block, dict) else None
            if btype not in KNOWN_BLOCKS:
                self._look_up(ex, ev, "block", btype)

    @staticmethod
    def _look_up(ex: Exchange, ev: SSEEvent, what: str, name: object) -> None:
        """Silent when the SDK knows the type, and when it may: a recording without its request
        might have been a beta call, so there the beta types count as known."""
        beta = beta_request(ex.request)
        wide = sdk_vocabulary(True)
        if wide.knows(what, name) and beta is not False:
            return
        plain = sdk_vocabulary(False)
        if beta is False and plain.knows(what, name):
            return
        ex.once(f"{what}-{name}", UNKNOWN_EVENT, _unknown_type_message(what, name, beta, wide, plain), event=ev)


_WHAT_THE_SDK_DOES = {
    "event": "the SDK yields it with .type {name!r} and code matching known types skips it",
    "delta": "the SDK ignores it silently",
    "block": "the SDK appends it to content as a text block (TextBlock, or BetaTextBlock on client.beta) whose "
    ".type is {name!r} and .text is None",
}
_TYPE_WORDS = {"event": "event type", "delta": "delta type", "block": "content block type"}


def _unknown_type_message(what: str, name: object, beta: bool | None, wide: Vocabulary, plain: Vocabulary) -> str:
    does = _WHAT_THE_SDK_DOES[what].format(name=name)
    if wide.knows(what, name):  # so the request was not a beta one
        return (
            f"{_TYPE_WORDS[what].capitalize()} {name!r} is a beta type (in {wide.source}) but the request did not "
            f"use the beta API (no anthropic-beta header, no ?beta=true, no beta-only field); {does}."
        )
    searched = wide.source if beta is not False else plain.source
    return f"Unknown {_TYPE_WORDS[what]} {name!r} (not in {searched}); {does}."


# -- tool input JSON (CD117) ----------------------------------------------------------------------


class ToolJsonCheck(Check):
    """Each tool block's joined ``partial_json``, checked when the block stops, when the message ends
    with the block still open (what a cut at ``max_tokens`` can look like), or when the body ends with
    it open: the SDK parses the input after every delta, so input that is not JSON even in part made it
    raise at the last delta it read, and close the stream."""

    rules = (INVALID_TOOL_JSON, EVENT_ORDER)
    feeds = (GrammarCheck,)  # ex.sdk_raised_at: a stream the SDK closed because it raised is no cut (CD104)
    events = frozenset(
        {"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
    )

    def __init__(self) -> None:
        self.open: dict[int, tuple[dict, list[str]]] = {}  # index → (its content_block, partial_json so far)
        self.last_delta: dict[int, SSEEvent] = {}  # index → the last delta of an open tool block

    def ignores_delta(self, index: int) -> bool:
        return index not in self.open

    def on_deltas(self, ex: Exchange, index: int, deltas: Deltas) -> None:
        """What ``on_event`` does for each, in one pass: the input pieces joined on, the last kept."""
        pieces = deltas.strings("partial_json")
        found = [n for n, piece in enumerate(pieces) if piece is not None]
        if found:
            self.open[index][1].extend(pieces[n] for n in found)
            self.last_delta[index] = deltas.event(found[-1])

    def on_event(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        if not self.open and kind != "content_block_start":
            return  # no tool block is open
        index = _index(obj)
        if kind == "content_block_start":
            block = obj.get("content_block")
            if isinstance(block, dict) and block.get("type") in TOOL_BLOCKS and isinstance(index, int):
                self.open[index] = (block, [])
        elif kind in ("message_delta", "message_stop"):
            self._still_open(ex, ev, kind, obj)
        elif index in self.open:
            if kind == "content_block_delta":
                delta = obj.get("delta")
                if isinstance(delta, dict) and isinstance(delta.get("partial_json"), str):
                    self.open[index][1].append(delta["partial_json"])
                    self.last_delta[index] = ev
            else:
                self._check(ex, ev, index, "".join(self.open.pop(index)[1]))

    @staticmethod
    def _check(ex: Exchange, ev: SSEEvent, index: int, text: str) -> None:
        if not text.strip():
            return  # empty input means {}
        try:
            parse_json(text)
        except ValueError as exc:
            ex.report(
                INVALID_TOOL_JSON,
                f"Tool input for block {index} is not valid JSON ({str(exc).split(':')[0]}): {_shown(text)}; "
                f"{sdk_tool_input(text, ex.request)}.",
                event=ev,
            )

    def on_end(self, ex: Exchange) -> None:
        """Tool blocks the body ended in (the message never ended): CD117 where the SDK raised."""
        for index in sorted(self.open):
            block, parts = self.open.pop(index)
            text = "".join(parts)
            if text.strip() and sdk_tool_input(text, ex.request) == SDK_RAISES_ON_TOOL_JSON:
                ev = self.last_delta[index]
                ex.sdk_raised_at = ev
                ex.report(
                    INVALID_TOOL_JSON,
                    f"Tool input for block {index} ({block.get('name') or block.get('type')}) is not JSON even "
                    f"in part: {_shown(text)}; {SDK_RAISES_ON_TOOL_JSON} at event {ev.number} and stops reading "
                    "the stream there.",
                    event=ev,
                )

    def _still_open(self, ex: Exchange, ev: SSEEvent, kind: str, obj: dict) -> None:
        """Tool blocks the message ended without stopping: CD117 when their input is cut (the SDK
        hands back the partial parse and says nothing), CD105 when it is whole."""
        delta = obj.get("delta") if isinstance(obj.get("delta"), dict) else {}
        why = f" (stop_reason {delta['stop_reason']})" if delta.get("stop_reason") else ""
        for index in sorted(self.open):
            block, parts = self.open.pop(index)
            text = "".join(parts)
            head = f"Tool block {index} ({block.get('type')} {block.get('name') or ''}".rstrip() + ")"
            head += f" has no content_block_stop before {kind}{why}"
            if not text.strip():
                ex.report(
                    INVALID_TOOL_JSON,
                    f"{head} and no input JSON arrived; the SDK raises nothing and returns the input of its "
                    f"content_block_start ({_json_excerpt(block.get('input', {}))}).",
                    event=ev,
                )
                continue
            try:
                parse_json(text)
            except ValueError:
                ex.report(
                    INVALID_TOOL_JSON,
                    f"{head}: its input JSON is unfinished after {len(text)} characters ({_shown(text)}); "
                    f"{sdk_tool_input(text, ex.request)}.",
                    event=ev,
                )
            else:
                ex.report(EVENT_ORDER, f"{head}; its input JSON is whole, so the SDK returns it as sent.", event=ev)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else "…" + text[-77:])


SDK_RAISES_ON_TOOL_JSON = "the SDK raises ValueError: Unable to parse tool parameter JSON from model"


def sdk_tool_input(text: str, request: Request | None) -> str:
    """What the SDK makes of a tool block's joined ``partial_json``, said as it would be seen: it
    parses the text with jiter in partial mode after every delta, so a cut-off input comes back as
    what parsed (a cut string dropped, unless the fine-grained tool streaming beta keeps it) and
    text that is not JSON even in part raises. Uses the SDK's own parser, imported only here."""
    try:
        from jiter import from_json
    except ImportError:
        return "the SDK's partial parser accepts a cut-off input silently and raises ValueError on invalid JSON"
    fine_grained = "fine-grained-tool-streaming" in ((request.header("anthropic-beta") or "") if request else "")
    try:
        value = from_json(text.encode("utf-8"), partial_mode="trailing-strings" if fine_grained else True)
    except UnicodeEncodeError:
        return "the SDK raises UnicodeEncodeError (a lone surrogate escape in the JSON)"
    except ValueError:
        return SDK_RAISES_ON_TOOL_JSON
    return f"the SDK raises nothing and returns input={_json_excerpt(value)}"


def _json_excerpt(value: object) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= 80 else shown[:77] + "…"


# -- SSE framing (CD113) --------------------------------------------------------------------------

#: What the event decoder can find wrong with the framing, by the key each is counted under.
FRAMING_PROBLEMS = {
    "oversize": "An event over {mib} MiB; its data was not kept.",
    "no-data": "Event {name!r} has no data line; the SDK drops it.",
    "utf8": "Invalid UTF-8 at byte {at}; the SDK raises UnicodeDecodeError.",
    "not-json": "Event {name!r} has data that is not JSON: {excerpt!r}; the SDK raises a bare json.JSONDecodeError.",
    "not-object": "Event {name!r} has data that is not a JSON object.",
    "data-only": "A data-only event (no event: line); the SDK drops such events silently.",
    "type-mismatch": "Event name {name!r} but data.type {kind!r}; the SDK goes by data.type.",
    "no-final-blank": "The final event ({name}) has no blank line after it; the SDK discards it.",
    "bom": "The body starts with a UTF-8 BOM; the SDK then drops the first event and get_final_message() fails "
    "with AssertionError.",
}


class FramingCheck(Check):
    """Framing the SDK's SSE decoder trips on. The analysis decodes the events every check reads, and
    tells this check what it found wrong; each kind of problem is one finding, with a count."""

    rules = (SSE_FRAMING,)

    def on_framing(self, ex: Exchange, problem: str, ev: SSEEvent | None, **words: object) -> None:
        message = FRAMING_PROBLEMS[problem].format(**words)
        ex.once(problem, SSE_FRAMING, message, event=ev, t=None if ev else ex.first_byte_t)


# -- the analysis ---------------------------------------------------------------------------------

CHECKS: tuple[type[Check], ...] = (
    UnreachableCheck,
    StatusCheck,
    BodyKindCheck,
    TimingCheck,
    ToolJsonCheck,  # before GrammarCheck: a stream the SDK closed because it raised is no cut (CD104)
    GrammarCheck,
    StopReasonCheck,
    VocabularyCheck,
    FramingCheck,
)

#: Each stream rule's code → the checks that can report it: what ``--select`` runs, and where to look.
CHECKS_BY_RULE: dict[str, tuple[type[Check], ...]] = {
    rule.code: tuple(cls for cls in CHECKS if rule in cls.rules) for cls in CHECKS for rule in cls.rules
}


def checks_for(config: Config) -> tuple[type[Check], ...]:
    """The checks to run under ``config``'s selection: those that can report a selected rule, and those
    that feed them; in :data:`CHECKS` order, which is the order their findings come in."""
    wanted = {cls for cls in CHECKS if any(_selected(rule.code, config) for rule in cls.rules)}
    wanted |= {cls for cls in CHECKS if not wanted.isdisjoint(cls.feeds)}
    return tuple(cls for cls in CHECKS if cls in wanted)


def _selected(code: str, config: Config) -> bool:
    return matches(code, config.select) and not matches(code, config.ignore)


class _ExchangeAnalysis:
    """Runs the chosen checks over one exchange, decoding its body as it arrives."""

    def __init__(self, ex: Exchange, checks: tuple[type[Check], ...] = CHECKS) -> None:
        self.ex = ex
        self.checks = [cls() for cls in checks]
        self.decoder = SSEDecoder()
        self.chunk_hooks = [c.on_chunk for c in self.checks if type(c).on_chunk is not Check.on_chunk]
        self.framing_hooks = [c.on_framing for c in self.checks if type(c).on_framing is not Check.on_framing]
        self.routes: dict[str, list[Callable]] = {kind: [] for kind in KNOWN_EVENTS | {UNKNOWN_TYPES}}
        for check in self.checks:
            for kind in check.events:
                self.routes.setdefault(kind, []).append(check.on_event)
        self.delta_checks = [c for c in self.checks if _DELTA in c.events]
        self.readers: dict[int, tuple[Check, ...]] = {}  # block index → the checks that read its deltas

    def response(self, response: Response) -> None:
        self.ex.response = response
        for check in self.checks:
            check.on_response(self.ex)

    def chunk(self, t: float | None, data: bytes) -> None:
        self.chunks([t], [data])

    def chunks(self, times: list[float | None], datas: list[bytes]) -> None:
        """Chunks that came in a row, taken as one by one, but for one thing a check may notice: events of
        nothing but deltas that follow each other (nearly all of a stream) are routed as one run once
        their chunks are all in, after those chunks' ``on_chunk`` hooks. Each event keeps its own number
        and time, so the findings are the same, for fewer calls. The joined run holds a copy of their
        events: the caller bounds how many bytes come at once."""
        ex, feed, hooks = self.ex, self.decoder.feed_runs, self.chunk_hooks
        held: list[EventRun] = []
        for t, data in zip(times, datas):
            if ex.body_kind is None:
                ex.body_kind = self._body_kind(data)
                ex.first_byte_t = t
            ex.body_bytes += len(data)
            ex.last_byte_t = t
            for on_chunk in hooks:
                on_chunk(ex, t, len(data))
            if ex.body_kind != "sse":
                self._keep_body(data)
                continue
            items = feed(data, t)
            if not items:
                continue
            ex.events = self.decoder.events
            ex.last_event = items[-1]
            for item in items:
                if item.__class__ is EventRun and _deltas_and_pings(item):
                    if held and (item.offset != held[-1].end or item.id != held[-1].id):
                        self._route_joined(held)
                        held = []
                    held.append(item)
                    continue
                if held:
                    self._route_joined(held)
                    held = []
                self._route(item)
        if held:
            self._route_joined(held)

    def _keep_body(self, data: bytes) -> None:
        """A JSON or error body is kept (up to a cap) for the checks that read it whole."""
        ex = self.ex
        cap = MAX_JSON_BODY if ex.body_kind == "json" else MAX_ERROR_BODY
        if len(ex.body) < cap:
            ex.body += data[: cap - len(ex.body)]

    def _route_joined(self, runs: list[EventRun]) -> None:
        self._route(EventRun.joined(runs) if len(runs) > 1 else runs[0])

    def _route(self, item: SSEEvent | EventRun) -> None:
        self.readers.clear()  # hooks ran since the last events were routed
        if item.__class__ is EventRun:
            self._run(item)
        else:
            self._event(item)
            self.readers.clear()

    def _body_kind(self, first: bytes) -> str:
        ex = self.ex
        if not ex.ok:
            return "error"
        if ex.response is not None and codings(ex.response.header("content-encoding")) and not looks_decoded(first):
            return "encoded"  # its recorder could not undo the content-encoding: nothing to diagnose
        ctype = ex.response.content_type if ex.response else None
        if ctype == "text/event-stream":
            return "sse"
        if ctype is None and not first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[", b"<")):
            return "sse"
        return "json"

    def _run(self, run: EventRun) -> None:
        """Plain events, routed as :meth:`_event` routes them one at a time, but in bulk: the deltas no
        check reads (nearly all of a stream) are not even parsed when their bytes say what they are, the
        rest are parsed in one pass, and an event is built only for the checks that read it."""
        deltas = self._deltas_only(run)
        if deltas is not None and self._plain_deltas(run, deltas):
            return
        try:
            objs = list(map(loads_fast, map(_AFTER_DATA, run.data_lines)))
        except ValueError:
            objs = None
        else:
            if deltas is not None and _plain_pings(run) and self._deltas_run(run, deltas, objs):
                return
        ex, routes, lines = self.ex, self.routes, run.data_lines
        for j, name in enumerate(run.names):
            if name == "ping" and lines[j] in _PLAIN_PING_LINES:
                continue  # as in _event
            obj = objs[j] if objs is not None else _loads_or_none(lines[j])
            if obj.__class__ is not dict or obj.get("type") != name:
                self._event(run.event(j))  # the slow path says what is wrong with it
                self.readers.clear()
                continue
            if name == _DELTA:
                readers = self._delta_readers(obj)
                if readers is not None:
                    if readers:
                        ev = run.event(j)
                        for check in readers:
                            check.on_event(ex, ev, name, obj)
                    continue
            handlers = routes[name] if name in routes else routes[UNKNOWN_TYPES]
            if handlers:
                ev = run.event(j)
                for handler in handlers:
                    handler(ex, ev, name, obj)
                self.readers.clear()

    @staticmethod
    def _deltas_only(run: EventRun) -> list[int] | range | None:
        """Where the deltas of a run are, when it holds nothing else but pings (which are skipped when
        plain, as in _event); ``None`` when it holds any other event."""
        names = run.names
        pings = names.count("ping")
        if names.count(_DELTA) + pings != len(names):
            return None
        if not pings:
            return range(len(names))
        return list(compress(range(len(names)), map(ne, names, repeat("ping"))))

    def _plain_deltas(self, run: EventRun, positions: list[int] | range) -> bool:
        """Take the deltas of a run without parsing each, when their bytes say what they are: each data
        line is the same ``{"type":"content_block_delta","index":N,"delta":{"type":"T","F":"`` (compact, as
        the API writes it), a string, and ``"}}``, which is that object and nothing else when the strings
        are valid (:func:`string_bodies`). Nothing more to do when no check reads block N (a text or
        thinking block: nearly all of a stream); one ``on_deltas`` call, with the strings parsed at once,
        when one check does (a tool block's input). ``False`` for anything else."""
        region = run.without(_PLAIN_PING_EVENTS, len(run) - len(positions))
        if region is None:
            return False  # a ping that is not plain: the slow path says what is wrong with it
        if not positions:
            return True  # plain pings only
        head = _DELTA_HEAD.match(region, region.find(b"\n") + 1)
        if head is None or head[3] == b"type" or head[2].decode() not in KNOWN_DELTAS:
            return False
        index = int(head[1])
        readers = self._block_readers(index)
        if len(readers) > 1:
            return False  # two checks take each event in turn, as in _event
        strings = data_between(region, len(positions), head[0], b'"}}')
        if strings is None or not string_bodies(strings):
            return False
        if readers:  # valid bodies, so this is exactly one string for each
            texts = loads_fast(b'["' + strings.replace(b"\n", b'","') + b'"]')
            plain = (index, head[2].decode(), head[3].decode(), texts)
            readers[0].on_deltas(self.ex, index, Deltas(run, positions, None, plain))
        return True

    def _deltas_run(self, run: EventRun, positions: list[int] | range, objs: list[object]) -> bool:
        """Take a run that is all deltas of a core type to one block (plain pings aside) at once: nothing
        to do when every check ignores them, one ``on_deltas`` call when one check reads them. Found out
        in a few passes over the run rather than event by event; anything else (a non-object, a block
        index that is not an int, two blocks) answers ``False``, and the run goes event by event."""
        if len(positions) != len(objs):
            objs = [objs[j] for j in positions]
        count = len(objs)
        try:
            if list(map(dict.get, objs, repeat("type"))).count(_DELTA) != count:
                return False
            indexes = list(map(dict.get, objs, repeat("index")))
            kinds = set(map(dict.get, map(dict.get, objs, repeat("delta")), repeat("type")))
        except TypeError:  # an event or its delta is not an object, or a type is unhashable
            return False
        if not kinds <= KNOWN_DELTAS or set(map(type, indexes)) != {int}:
            return False  # (checked before the set of blocks: a set holds one of 1, 1.0 and True)
        blocks = set(indexes)
        if len(blocks) != 1:
            return all(not self._block_readers(index) for index in blocks)
        index = blocks.pop()
        readers = self._block_readers(index)
        if len(readers) > 1:
            return False  # two checks take each event in turn, as in _event
        if readers:
            readers[0].on_deltas(self.ex, index, Deltas(run, positions, objs))
        return True

    def _delta_readers(self, obj: dict) -> tuple[Check, ...] | None:
        """The checks that read one ``content_block_delta`` event, or ``None`` when it is not a delta of
        a core type with an integer block index (then every check gets it)."""
        index = obj.get("index")
        delta = obj.get("delta")
        if index.__class__ is not int or delta.__class__ is not dict:
            return None
        kind = delta.get("type")
        if kind.__class__ is not str or kind not in KNOWN_DELTAS:
            return None
        return self._block_readers(index)

    def _block_readers(self, index: int) -> tuple[Check, ...]:
        """The checks that do not ignore the core deltas of block ``index`` (see ``Check.ignores_delta``),
        in order; kept until a hook other than a delta's runs."""
        readers = self.readers.get(index)
        if readers is None:
            readers = self.readers[index] = tuple(c for c in self.delta_checks if not c.ignores_delta(index))
        return readers

    def _event(self, ev: SSEEvent) -> None:
        ex = self.ex
        if ev.oversize:
            self._framing("oversize", ev, mib=self.decoder.max_event_bytes // 2**20)
            return
        raw = ev.raw
        if raw is None:
            self._framing("no-data", ev, name=ev.name)
            return
        name = ev.name
        if name == "ping" and raw in _PLAIN_PINGS:
            return  # the common case, no JSON parse needed
        if ev.name_bad_at is not None:
            self._invalid_utf8(ev)
        try:
            obj = loads_fast(raw)
        except ValueError:
            obj = self._unparsable(ev)
            if obj is None:
                return
        if not isinstance(obj, dict):
            self._framing("not-object", ev, name=name)
            return
        kind = obj.get("type")
        if name is None:
            self._framing("data-only", ev)
            if not isinstance(kind, str):
                return
        elif kind != name:
            self._framing("type-mismatch", ev, name=name, kind=kind)
            if not isinstance(kind, str):
                return
        routes = self.routes
        for handler in routes[kind] if kind in routes else routes[UNKNOWN_TYPES]:
            handler(ex, ev, kind, obj)

    def _invalid_utf8(self, ev: SSEEvent) -> bool:
        at = ev.invalid_utf8_at
        if at is not None:
            self._framing("utf8", ev, at=at)
        return at is not None

    def _unparsable(self, ev: SSEEvent) -> object | None:
        """The slow path for data the fast parser refused: invalid UTF-8 (reported, then parsed with
        replacement characters, as the SDK would not), or data that is not JSON at all."""
        try:
            return parse_json(ev.raw)  # the standard library is laxer in corners (lone surrogate escapes)
        except ValueError:
            pass
        text = ev.data
        if self._invalid_utf8(ev):
            try:
                return parse_json(text)
            except ValueError:
                pass
        excerpt = text if len(text) <= 60 else text[:57] + "…"
        self.ex.sdk_raised_at = self.ex.sdk_raised_at or ev
        self._framing("not-json", ev, name=ev.name, excerpt=excerpt)
        return None

    def _framing(self, problem: str, ev: SSEEvent | None, **words: object) -> None:
        for on_framing in self.framing_hooks:
            on_framing(self.ex, problem, ev, **words)

    def end(self, end: End | None) -> list[Finding]:
        ex = self.ex
        ex.end = end
        if ex.body_kind is None and ex.response is not None:
            ex.body_kind = self._body_kind(b"")  # an empty body still has a kind
        if ex.body_kind == "sse":
            self._tail(self.decoder.close())
            if self.decoder.bom:
                self._framing("bom", None)
        for check in self.checks:
            check.on_end(ex)
        ex.flush_once()
        return ex.findings

    def _tail(self, tail: SSETail | None) -> None:
        """A final event without its blank line: CD113 if it is complete, else the stream was cut (CD104)."""
        if tail is None:
            return
        ev = tail.event
        try:
            obj = json.loads(ev.data) if ev is not None and ev.data is not None else None
        except ValueError:
            obj = None
        if ev is None or (obj is None and not tail.lines_complete):
            self.ex.cut_mid_event = tail.bytes
            return
        self._framing("no-final-blank", ev, name=ev.name or "unnamed")
        if isinstance(obj, dict) and obj.get("type") == "message_stop" == ev.name:
            self.ex.saw_stop = True  # the message did end; the framing finding says what is wrong


def _plain_pings(run: EventRun) -> bool:
    """Whether every ping of a run is a plain one (the slow path's check: its lines are split already)."""
    return set(compress(run.data_lines, map(eq, run.names, repeat("ping")))).issubset(_PLAIN_PING_LINES)


def _deltas_and_pings(run: EventRun) -> bool:
    names = run.names
    return names.count(_DELTA) + names.count("ping") == len(names)


class StreamAnalyzer:
    """Feed it records in file order; ``finish()`` returns every finding. Exchanges may interleave."""

    def __init__(self, path: str, config: Config, observers: tuple[type[Check], ...] = ()) -> None:
        """``observers``: more ``Check`` classes to run on every exchange whatever the selection, for
        readers that want the events themselves (the monitor reads model, usage and stop reason so)."""
        self.path = path
        self.config = config
        self.open: dict[int, _ExchangeAnalysis] = {}
        self.findings: list[Finding] = []
        self.exchanges: set[int] = set()
        self.stats = {"events": 0, "bytes": 0}
        self.checks = checks_for(config) + observers
        self.unchecked: list[str] = []  #: exchanges whose body could not be read, for the warnings

    def _analysis(self, i: int) -> _ExchangeAnalysis:
        analysis = self.open.get(i)
        if analysis is None:
            analysis = self.open[i] = _ExchangeAnalysis(Exchange(i, self.path, self.config), self.checks)
            self.exchanges.add(i)
        return analysis

    def add(self, record: Record) -> list[Finding]:
        """Take one record; returns the findings of an exchange that this record completed."""
        if isinstance(record, Chunk):
            self._analysis(record.i).chunk(record.t, record.data)
        elif isinstance(record, Response):
            self._analysis(record.i).response(record)
        elif isinstance(record, Request):
            self._analysis(record.i).ex.request = record
        elif isinstance(record, End):
            return self._close(record.i, record)
        elif isinstance(record, Note):
            pass
        return []

    def add_chunks(self, chunks: list[Chunk]) -> None:
        """Take chunks of one exchange that came in a row, as :meth:`add` would one by one (see
        ``_ExchangeAnalysis.chunks`` for the one difference a check may notice)."""
        self._analysis(chunks[0].i).chunks([c.t for c in chunks], [c.data for c in chunks])

    def _close(self, i: int, end: End | None) -> list[Finding]:
        analysis = self._analysis(i)
        del self.open[i]
        found = analysis.end(end)
        if analysis.ex.body_kind == "encoded":
            coding = analysis.ex.response.header("content-encoding") if analysis.ex.response else None
            self.unchecked.append(
                f"{self.path}: exchange {i}: the body is stored still encoded ({coding}: its recorder could "
                "not decode it), so its events were not checked"
            )
        self.stats["events"] += analysis.ex.events
        self.stats["bytes"] += analysis.ex.body_bytes
        self.findings.extend(found)
        return found

    def finish(self, warnings: list[str] | None = None) -> list[Finding]:
        """Close exchanges that never got an ``end`` line (their end is unknown: the capture was cut
        off, which is said in ``warnings``) and return all findings."""
        for i in sorted(self.open):
            if warnings is not None:
                warnings.append(self._no_end(self.open[i].ex))
            self._close(i, None)
        if warnings is not None:
            warnings.extend(self.unchecked)
        if len(self.exchanges) <= 1:
            self.findings = [f.at(exchange=None) for f in self.findings]
        return self.findings

    def _no_end(self, ex: Exchange) -> str:
        if ex.response is not None and not ex.body_bytes:
            return (
                f"{self.path}: exchange {ex.i} stops after its response head (HTTP {ex.status}, no body, no end "
                "line), so whether its stream worked is unknown (was the capture cut off?)"
            )
        return (
            f"{self.path}: exchange {ex.i} has no end line, so how its stream ended is unknown "
            "(was the capture cut off?)"
        )


def check_records(
    records: Iterable[Record], path: str, config: Config, warnings: list[str] | None = None
) -> list[Finding]:
    """Every finding in ``records``. Chunks of one exchange that come in a row are taken together
    (:meth:`StreamAnalyzer.add_chunks`), up to :data:`HELD_CHUNK_BYTES` at a time."""
    analyzer = StreamAnalyzer(path, config)
    held: list[Chunk] = []
    size = 0
    for record in records:
        if record.__class__ is Chunk:
            if held and (record.i != held[0].i or size >= HELD_CHUNK_BYTES):
                analyzer.add_chunks(held)
                held, size = [], 0
            held.append(record)
            size += len(record.data)
            continue
        if held:
            analyzer.add_chunks(held)
            held, size = [], 0
        analyzer.add(record)
    if held:
        analyzer.add_chunks(held)
    return analyzer.finish(warnings)


def check_source(source: Source, config: Config) -> list[Finding]:
    """Every CD1xx finding in an opened recording or import; read problems go to ``source.warnings``."""
    return check_records(source.records, source.path, config, source.warnings)
