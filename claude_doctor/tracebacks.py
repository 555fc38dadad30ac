"""``claude-doctor explain -``: which streaming failure a traceback or error text shows (as data and
as the text to print; the command prints it and sets the exit status).

Each pattern is the text a user actually sees (the SDK's retry and streaming code; the streaming guide's nine
classic failures), mapped to the rule whose page explains it. Patterns are tried in order, most
specific first; the evidence line is shown with any key in it redacted."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass

from .findings import Rule, get_rule
from .keys import redact_text
from .rule_pages import rule_page


@dataclass(frozen=True)
class Pattern:
    code: str
    regex: re.Pattern[str]
    says: str  # what the text shows, in one sentence


def _p(code: str, regex: str, says: str) -> Pattern:
    return Pattern(code, re.compile(regex, re.MULTILINE), says)


SDK_FRAME = r'File "[^"]*anthropic[/\\]'
# the rest of that line and the indented frame lines after it, up to the exception line of the same
# traceback (unindented); bounded, so a long log of many tracebacks stays linear
SAME_TRACEBACK = r".*(?:\n[ \t].*)*\n"
PATTERNS: tuple[Pattern, ...] = (
    _p(
        "CD214",
        r"stream\(\) got an unexpected keyword argument 'stream'",
        "`messages.stream()` was given `stream=True`; it always streams.",
    ),
    _p(
        "CD219",
        r"got an unexpected keyword argument '(?:temperature|top_p|top_k)'",
        "A sampling parameter was passed as a keyword; SDK 1.x+ takes it only through `extra_body`.",
    ),
    _p(
        "CD215",
        r"Missing required arguments; Expected either \('max_tokens'",
        "`create`/`stream` was called without `max_tokens`.",
    ),
    _p(
        "CD216",
        r"Streaming is required for operations that may take longer than 10 minutes",
        "The SDK refused a non-streaming request whose max_tokens could take over ten minutes.",
    ),
    _p(
        "CD218",
        r"Invalid `(?:timeout|http_client)` argument; `httpx\.\w+` is from the `httpx` package",
        "An object from the old `httpx` package was passed to an SDK that uses `httpx2`.",
    ),
    _p("CD403", r"Could not resolve authentication method", "No credential was found when the request was made."),
    _p("CD401", r"No module named '?anthropic'?", "The `anthropic` package is not installed for this interpreter."),
    _p(
        "CD202",
        r"'AsyncMessageStreamManager' object does not support the context manager protocol",
        "A plain `with` was used on an AsyncAnthropic stream.",
    ),
    _p(
        "CD203",
        r"'(?:async_generator|AsyncStream|AsyncMessageStream)' object is not iterable",
        "A plain `for` was used over an async stream.",
    ),
    _p(
        "CD204",
        r"'coroutine' object (?:has no attribute|is not iterable|is not subscriptable)|coroutine '[^']*' was never "
        r"awaited",
        "An AsyncAnthropic call's result was used without `await`.",
    ),
    _p(
        "CD213",
        r"'MessageStreamManager' object (?:is not iterable|has no attribute)",
        "`messages.stream(...)` was used without `with`.",
    ),
    _p(
        "CD212",
        r"'(?:Async)?Stream' object has no attribute '(?:text_stream|get_final_message|get_final_text|content)'",
        "A stream helper was used on the raw stream that `create(..., stream=True)` returns.",
    ),
    _p(
        "CD211",
        r"'(?:Message|ParsedMessage)' object (?:has no attribute '(?:text_stream|get_final_message|"
        r"get_final_text|__enter__)'|does not support the context manager protocol)|'tuple' object has no attribute "
        r"'(?:type|delta)'",
        "A stream helper was used on the `Message` that `create()` without streaming returns.",
    ),
    _p(
        "CD206",
        r"asyncio\.run\(\) cannot be called from a running event loop",
        "`asyncio.run` was called inside a running event loop (a coroutine or a notebook).",
    ),
    _p(
        "CD221",
        r"'Raw\w*Event' object has no attribute 'delta'",
        "A loop read `event.delta` on an event that has none (message_start comes first): check `event.type`.",
    ),
    _p("CD207", r"Event loop is closed", "An AsyncAnthropic client outlived the event loop it first ran on."),
    _p("CD205", r"There is no current event loop", "`asyncio.get_event_loop()` ran where no loop exists."),
    _p("CD117", r"Unable to parse tool parameter JSON from model", "A tool call's streamed JSON input was invalid."),
    _p(
        "CD105",
        SDK_FRAME + r"lib[/\\]streaming[/\\]" + SAME_TRACEBACK + r"IndexError: list index out of range",
        "The SDK's accumulator got a delta or stop for a block it never saw start.",
    ),
    _p(
        "CD113",
        SDK_FRAME + r"_streaming\.py" + SAME_TRACEBACK + r"(?:json\.decoder\.)?JSONDecodeError",
        "The stream had `data:` that is not JSON.",
    ),
    _p(
        "CD104",
        r"UnicodeDecodeError: 'utf-8' codec can't decode .*unexpected end of data",
        "The stream was cut in the middle of a character.",
    ),
    _p("CD113", r"UnicodeDecodeError: 'utf-8' codec can't decode byte", "The stream held bytes that are not UTF-8."),
    _p(
        "CD113",
        r"__final_message_snapshot is not None|get_final_message\b" + SAME_TRACEBACK + r"AssertionError\s*$",
        "The SDK never saw a message_start: a BOM or data-only events (CD113), a JSON answer to a stream "
        "request (CD115), or an empty stream (CD104).",
    ),
    _p(
        "CD108",
        r"APIStatusError: \{'type': 'error'",
        "An `event: error` arrived mid-stream after HTTP 200 (the message has no `Error code:`); the SDK does not "
        "retry it.",
    ),
    _p(
        "CD109",
        r"RateLimitError|Error code: 429|\b429\b.{0,3}Too Many Requests|rate_limit_error",
        "The API answered 429: a rate limit was hit.",
    ),
    _p(
        "CD110",
        r"PermissionDeniedError|AuthenticationError|Error code: 40[13]|\b40[13]\b.{0,3}(?:Forbidden|"
        r"Unauthorized)",
        "The credential was refused (401/403).",
    ),
    _p(
        "CD111",
        r"OverloadedError|InternalServerError|Error code: (?:5\d\d)|ServiceUnavailableError",
        "The API (or a gateway) failed the request with 529/5xx.",
    ),
    _p(
        "CD112",
        r"BadRequestError|NotFoundError|Error code: (?:400|404|413)|ContentTooLargeError",
        "The request was rejected (400/404/413).",
    ),
    _p(
        "CD104",
        r"RemoteProtocolError: peer closed connection|incomplete chunked read|httpx2?\.ReadError|"
        r"ChunkedEncodingError|IncompleteRead|Connection broken|Connection aborted|RemoteDisconnected",
        "The connection closed before the stream finished.",
    ),
    _p(
        "CD103",
        r"(?:httpx2?|httpcore2?)\.ReadTimeout|ReadTimeout|APITimeoutError|Read timed out",
        "A read timed out: the stream went silent longer than the client's read timeout.",
    ),
    _p(
        "CD408",
        r"APIConnectionError|ConnectError|Name or service not known|Temporary failure in name resolution|"
        r"nodename nor servname|Failed to establish a new connection|Connection refused|CERTIFICATE_VERIFY_FAILED|"
        r"ProxyError",
        "The API could not be reached (DNS, TCP, TLS or proxy).",
    ),
    _p("CD104", r"requests\.exceptions\.ConnectionError", "The connection dropped while reading the stream."),
    _p(
        "CD105",
        r"^(?:KeyError|IndexError)\b",
        "Hand-written SSE handling met an event it did not expect (a delta before its block, or a ping); key your "
        "blocks by `index` and ignore types you do not handle.",
    ),
)


@dataclass(frozen=True)
class Match:
    rule: Rule
    says: str
    evidence: str


def diagnose(text: str) -> list[Match]:
    """Every known failure in ``text``, the most specific first, one per rule."""
    found: dict[str, Match] = {}
    for pattern in PATTERNS:
        if pattern.code in found:
            continue
        # the last hit: in a chained traceback, the exception that was finally raised
        hit = next(iter(deque(pattern.regex.finditer(text), maxlen=1)), None)
        if hit is None:
            continue
        rule = get_rule(pattern.code)
        if rule is not None:
            found[pattern.code] = Match(rule, pattern.says, _evidence_line(text, hit))
    return list(found.values())


def _evidence_line(text: str, hit: re.Match[str]) -> str:
    end = text.find("\n", hit.end() - 1 if hit.end() else 0)
    start = text.rfind("\n", 0, hit.end() - 1 if hit.end() else 0) + 1
    line = text[start : end if end >= 0 else len(text)].strip()
    return redact_text(line if len(line) <= 200 else line[:197] + "…")


def render_matches(matches: list[Match], fmt: str = "human") -> str:
    """What ``explain`` prints for a text's matches: the first one's rule page and the others in a line
    each, or one line saying none was recognised; as JSON, every match with its fix."""
    if fmt == "json":
        return json.dumps({"matches": [_match_dict(m) for m in matches]}, ensure_ascii=False, indent=2)
    if not matches:
        return "No known Claude streaming failure in this text. `claude-doctor rules` lists what is recognised."
    first, *others = matches
    parts = [f"{first.rule.code} {first.rule.name}: {first.says}\n  seen: {first.evidence}\n", rule_page(first.rule)]
    parts += [
        f"\nAlso: {other.rule.code} {other.rule.name}: {other.says}\n  seen: {other.evidence}" for other in others
    ]
    return "\n".join(parts)


def _match_dict(match: Match) -> dict:
    return {
        "code": match.rule.code,
        "name": match.rule.name,
        "says": match.says,
        "evidence": match.evidence,
        "fix": match.rule.fix,
    }
