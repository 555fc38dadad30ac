"""CD1xx: what can go wrong on the wire between the Messages API and the SDK.

Each rule's ``why`` says what the user sees (measured against anthropic 2.x, and held to it by
tests/test_sdk_behaviour.py) so that searching for the symptom finds the rule; ``fix`` is the generic
remedy, and the checks in ``stream.py`` give a more specific one where the evidence allows."""

from __future__ import annotations

from ..findings import Area, Rule, Severity, define

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
S = Area.STREAM

STREAM_NOT_ENABLED = define(
    "CD101",
    "stream-not-enabled",
    S,
    WARNING,
    "The request did not ask to stream and a whole JSON message came back.",
    why="""Without `"stream": true` the API holds the connection open with no bytes at all until the
    whole message is generated. Proxies, load balancers and serverless runtimes cut idle connections
    (often after 30-100 s), and the SDK refuses such calls outright when they may take over ten
    minutes: `ValueError: Streaming is required for operations that may take longer than 10 minutes`
    (max_tokens >= 21,334, or above 8,192 for Claude Opus 4/4.1).""",
    fix="""Stream the request: `with client.messages.stream(...) as stream:` and
    `stream.get_final_message()` when you only need the result; or pass `stream=True` to `create`.""",
    symptoms=("ValueError: Streaming is required for operations that may take longer than 10 minutes",),
    example="""message = client.messages.create(model=MODEL, max_tokens=16000, messages=messages)""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=16000, messages=messages) as stream:
    message = stream.get_final_message()""",
)

IDLE_GAP = define(
    "CD102",
    "idle-gap",
    S,
    WARNING,
    "Bytes stopped flowing for longer than the API's ping cadence.",
    why="""The API sends a `ping` event about every 15 s so that an idle stream is never silent for long.
    A longer silence means something on the path held bytes back, or the server stalled. The SDK's read
    timeout applies to each read, so a gap longer than it raises a bare `httpx2.ReadTimeout` in the
    middle of iteration, which the SDK neither wraps nor retries; idle-connection timeouts on proxies
    (often 30-60 s) cut the connection instead.""",
    fix="""Find what buffers or stalls between you and the API (a proxy, a gateway, a blocked event loop on
    your side); keep read timeouts well above the longest expected gap; record the stream through
    `claude-doctor record` to see where the bytes stop.""",
    symptoms=("httpx2.ReadTimeout", "httpx.ReadTimeout", "stream hangs", "text stops half way"),
    example="""\
t=0.41s   event: content_block_delta
t=47.90s  event: content_block_delta    (47.5 s without a byte, no ping)""",
    use_instead="""\
location /v1/ {                         # nginx in front of the API
    proxy_buffering off;
    proxy_read_timeout 600s;
}""",
)

READ_TIMEOUT = define(
    "CD103",
    "read-timeout",
    S,
    ERROR,
    "The client stopped waiting: a read timed out mid-stream.",
    why="""The capture ended because the reader gave up after a silence longer than its read timeout.
    The SDK surfaces this as a raw `httpx2.ReadTimeout` (message "timed out", empty on async) from the
    middle of the `for event in stream` loop: it is not an `anthropic.APITimeoutError`, so
    `except anthropic.APIError` does not catch it, and nothing is retried once the 2xx arrived.""",
    fix="""Raise the read timeout (`Anthropic(timeout=httpx2.Timeout(600, connect=5))`), catch
    `httpx2.TimeoutException` around the stream loop and retry the request, and find what silenced the
    stream (see CD102).""",
    symptoms=("httpx2.ReadTimeout: timed out", "httpx.ReadTimeout", "ReadTimeout"),
    example="""\
client = Anthropic(timeout=httpx2.Timeout(30, connect=5))
with client.messages.stream(**request) as stream:
    for text in stream.text_stream:      # httpx2.ReadTimeout after 30 s of silence
        print(text)""",
    use_instead="""\
client = Anthropic(timeout=httpx2.Timeout(600, connect=5))
try:
    with client.messages.stream(**request) as stream:
        message = stream.get_final_message()
except httpx2.TimeoutException:
    ...                                  # retry the whole request""",
)

TRUNCATED_STREAM = define(
    "CD104",
    "truncated-stream",
    S,
    ERROR,
    "The event stream ended without `message_stop` and without an error event.",
    why="""A stream cut short is the quietest failure there is. When the connection closes cleanly the SDK
    raises nothing: `get_final_message()` returns the partial message with `stop_reason` None, and
    `text_stream` simply ends. When it closes abruptly the SDK raises a raw
    `httpx2.RemoteProtocolError: peer closed connection without sending complete message body` or
    `httpx2.ReadError` from the loop, not wrapped and not retried. A stream with no `message_start`
    (empty, or cut before it) makes `get_final_message()` fail with a bare `AssertionError`.""",
    fix="""Check that the final message's `stop_reason` is not None before you use it, catch
    `httpx2.TransportError` around the stream loop, and retry the whole request; then find what cuts the
    connection (idle timeouts on a proxy or load balancer, a serverless time limit).""",
    symptoms=(
        "RemoteProtocolError: peer closed connection without sending complete message body",
        "httpx2.ReadError",
        "stop_reason None",
        "AssertionError",
        "UnicodeDecodeError: unexpected end of data",
    ),
    example="""\
event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"The answ"}}
<the connection closes: no message_delta, no message_stop>""",
    use_instead="""\
message = stream.get_final_message()
if message.stop_reason is None:          # the stream was cut short
    ...                                  # retry the whole request""",
)

EVENT_ORDER = define(
    "CD105",
    "event-order",
    S,
    ERROR,
    "The event grammar is broken (a delta before its block, indexes out of order, …).",
    why="""The SDK's accumulator looks blocks up by `index` in the content list it has built so far. A
    `content_block_delta` or `content_block_stop` before its `content_block_start`, or block indexes
    that are not 0, 1, 2, …, make it raise a bare `IndexError: list index out of range` from inside
    the SDK; events before `message_start` are passed through and never accumulated; events after
    `message_stop` are accumulated into a message you already used; a block the message ends without
    stopping (no `content_block_stop` before `message_delta`) is kept as far as it got, silently.""",
    fix="""Something rewrote or reordered the stream: a proxy or gateway that re-frames SSE, a hand-written
    relay, or a mock server. Forward the upstream bytes unchanged; if you generate streams yourself, emit
    message_start, then each block as start, deltas, stop with indexes 0, 1, 2, …, then message_delta
    and message_stop.""",
    symptoms=("IndexError: list index out of range",),
    example="""\
event: message_start
event: content_block_delta               (index 1, which never started)""",
    use_instead="""\
event: message_start
event: content_block_start               (index 0)
event: content_block_delta               (index 0)
event: content_block_stop                (index 0)
event: message_delta
event: message_stop""",
)

MAX_TOKENS_STOP = define(
    "CD106",
    "max-tokens-stop",
    S,
    WARNING,
    "`stop_reason` is `max_tokens`: the answer was cut at the token limit.",
    why="""The model stopped because it reached `max_tokens`, not because it was done. The SDK treats this
    as success, so text ends mid-sentence and a tool call's JSON may be incomplete (the SDK's partial JSON
    parser accepts it silently).""",
    fix="""Check `message.stop_reason == "max_tokens"` and either raise `max_tokens` or continue the answer
    by sending the partial assistant message back and asking for the rest.""",
    symptoms=("stop_reason max_tokens", "response cut off", "incomplete answer"),
    example="""data: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":1024}}""",
    use_instead="""\
message = stream.get_final_message()
if message.stop_reason == "max_tokens":
    ...                                  # raise max_tokens, or ask for the rest""",
)

STOP_REASON = define(
    "CD107",
    "stop-reason",
    S,
    INFO,
    "`stop_reason` is `refusal`, `pause_turn` or `model_context_window_exceeded`.",
    why="""These stop reasons are not errors, so the SDK raises nothing, but each needs handling: `refusal`
    means streaming classifiers intervened and the output may end abruptly; `pause_turn` means a
    long-running server-tool turn was paused and must be continued; `model_context_window_exceeded` means
    the context window filled up before the answer was finished.""",
    fix="""Branch on `message.stop_reason`: for `pause_turn` send the response back as-is to continue; for
    `refusal` show the user that the answer was withheld; for `model_context_window_exceeded` shorten the
    conversation or summarise earlier turns.""",
    example="""data: {"type":"message_delta","delta":{"stop_reason":"pause_turn"},"usage":{"output_tokens":310}}""",
    use_instead="""\
if message.stop_reason == "pause_turn":
    messages.append({"role": "assistant", "content": message.content})
    message = client.messages.create(**request, messages=messages)   # let it continue""",
)

ERROR_EVENT = define(
    "CD108",
    "error-event",
    S,
    ERROR,
    "An `event: error` arrived after a 2xx response.",
    why="""Errors can arrive mid-stream after the API already answered 200 (typically `overloaded_error`,
    which would be an HTTP 529 on a non-streaming call). The SDK raises a plain `APIStatusError` whose
    `status_code` is 200 (not `OverloadedError`), and it never retries: retries only happen before the
    stream object is returned.""",
    fix="""Catch `anthropic.APIStatusError` around the stream loop, check `err.type` (e.g.
    `"overloaded_error"`), and retry the whole request yourself with backoff.""",
    symptoms=("APIStatusError", "status_code == 200", "overloaded_error", "{'type': 'error', 'error':"),
    example="""\
HTTP/1.1 200 OK
event: error
data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""",
    use_instead="""\
try:
    with client.messages.stream(**request) as stream:
        message = stream.get_final_message()
except anthropic.APIStatusError as err:
    ...                                  # err.type == "overloaded_error": back off, retry""",
)

RATE_LIMITED = define(
    "CD109",
    "rate-limited",
    S,
    ERROR,
    "HTTP 429: a rate limit was hit.",
    why="""The SDK retries a 429 twice by default, honouring `retry-after`, then raises
    `anthropic.RateLimitError` (`Error code: 429`). The `anthropic-ratelimit-*` headers say which limit
    (requests, input or output tokens) ran out and when it resets; acceleration limits can also cause 429s
    after a sharp increase in usage.""",
    fix="""Wait for `retry-after` before retrying, spread requests out (a queue or token bucket), reduce
    `max_tokens` to what you need, and ask for a higher limit if you hit it routinely.""",
    symptoms=("RateLimitError", "Error code: 429", "rate_limit_error"),
    example="""\
HTTP/1.1 429 Too Many Requests
retry-after: 20""",
    use_instead="""client = Anthropic(max_retries=5)       # the SDK waits for retry-after between tries""",
)

AUTH_ERROR = define(
    "CD110",
    "auth-error",
    S,
    ERROR,
    "HTTP 401 or 403: the credential was refused.",
    why="""401 means the key is missing, malformed, revoked or sent in a header the server does not read;
    403 means the key is valid but lacks permission. SDK 2.x sends the key as `Authorization: Bearer`, not
    `x-api-key`, so a proxy or gateway that only reads `x-api-key` answers 401. The SDK raises
    `AuthenticationError` / `PermissionDeniedError` and does not retry.""",
    fix="""Check the key (`claude-doctor` checks its shape without printing it), that it belongs to the
    right workspace, and that anything between you and the API forwards the `Authorization` header.""",
    symptoms=("AuthenticationError", "PermissionDeniedError", "Error code: 401", "Error code: 403"),
    example="""\
HTTP/1.1 401 Unauthorized
{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}""",
    use_instead="""export ANTHROPIC_API_KEY=sk-ant-api03-…  # the bare key of this workspace, forwarded unchanged""",
)

OVERLOADED = define(
    "CD111",
    "overloaded",
    S,
    ERROR,
    "HTTP 529 or 5xx: the API (or a gateway) failed the request.",
    why="""529 `overloaded_error` and 5xx errors are temporary. The SDK retries them twice with
    exponential backoff (0.5-8 s) before raising `OverloadedError` / `InternalServerError`; a 502 or 504
    with an HTML body usually comes from a proxy or load balancer, not from the API.""",
    fix="""Retry with backoff (raise `max_retries` if needed) and keep the stream request idempotent on your
    side; if the body is HTML, look at the gateway's timeouts.""",
    symptoms=("OverloadedError", "InternalServerError", "Error code: 529", "overloaded_error"),
    example="""\
HTTP/1.1 529
{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}""",
    use_instead="client = Anthropic(max_retries=5)       # retried with backoff",
)

REQUEST_ERROR = define(
    "CD112",
    "request-error",
    S,
    ERROR,
    "HTTP 400, 404 or 413: the request itself was rejected.",
    why="""These are not retried: the request is wrong (400 `invalid_request_error`), names a model or
    path that does not exist (404, often a wrong `ANTHROPIC_BASE_URL` path or model id), or is too large
    (413, 32 MB for Messages). The error body's message says exactly what to change.""",
    fix="""Read the error message in the finding and fix the request; for 404 check the model id and that
    the base URL has no extra path; for 413 send smaller inputs or use the Files API.""",
    symptoms=("BadRequestError", "NotFoundError", "Error code: 400", "Error code: 404", "Error code: 413"),
    example="""\
HTTP/1.1 404 Not Found
{"type":"error","error":{"type":"not_found_error","message":"model: claude-sonet-4"}}""",
    use_instead="""client.messages.stream(model="claude-sonnet-4-5", ...)   # a model id that exists""",
)


def status_rule(status: int) -> Rule | None:
    """The rule a non-2xx HTTP status is reported under (``None``: a status no rule covers): the one
    table of it, for the stream checks and for ``drill``'s verdicts."""
    if status == 429:
        return RATE_LIMITED
    if status in (401, 403):
        return AUTH_ERROR
    if status >= 500:
        return OVERLOADED
    if status in (400, 404, 413):
        return REQUEST_ERROR
    return None


SSE_FRAMING = define(
    "CD113",
    "sse-framing",
    S,
    ERROR,
    "The bytes are not valid SSE for this API.",
    why="""The SDK's decoder is strict in some places and silent in others: `data` that is not JSON raises
    a bare `json.JSONDecodeError`; invalid UTF-8 raises `UnicodeDecodeError`; a BOM before the first
    event makes it drop that event (then `get_final_message()` fails with a bare `AssertionError`);
    data-only events (no `event:` line) are dropped silently; a final event with no blank line after it
    is discarded; when the event name and `data.type` disagree, the SDK goes by `data.type`.""",
    fix="""Something between the API and your client re-encodes or re-frames the stream (a proxy that
    rewrites bodies, a relay that writes its own SSE, a mock server). Forward the bytes unchanged; when you
    write SSE yourself emit `event: <type>`, `data: <json>` and a blank line per event, UTF-8 without a BOM.""",
    symptoms=("JSONDecodeError", "UnicodeDecodeError", "AssertionError"),
    example="""\
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}
                                         (no event: line)""",
    use_instead="""\
event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}
                                         (a blank line ends each event)""",
)

BUFFERED_STREAM = define(
    "CD114",
    "buffered-stream",
    S,
    WARNING,
    "The whole stream arrived in one burst at the end: something buffers it.",
    why="""Streaming only helps if events arrive as they are generated. When the first byte of the body
    arrives only at the very end, a proxy, load balancer, web server or compression layer between client
    and API collected the whole response before passing it on: the user sees nothing, then everything at
    once, and idle timeouts on the path become likely.""",
    fix="""Turn buffering off on the path: for nginx `proxy_buffering off;` (or the response header
    `X-Accel-Buffering: no`), no gzip/brotli compression on `text/event-stream`, and `Cache-Control:
    no-cache`; check corporate proxies (`HTTPS_PROXY`).""",
    symptoms=("everything appears at once", "no streaming", "text arrives all at the end"),
    example="""\
t=0.10s   HTTP/1.1 200 OK
t=38.20s  all 412 events in one burst""",
    use_instead="""\
proxy_buffering off;                    # nginx; or the header X-Accel-Buffering: no
gzip off;                               # no compression on text/event-stream""",
)

NOT_EVENT_STREAM = define(
    "CD115",
    "not-event-stream",
    S,
    ERROR,
    "The request asked to stream but the 2xx answer is not `text/event-stream`.",
    why="""The SDK decides how to read a response from the request's `stream` flag alone and never checks
    the content type: when a gateway answers a streaming request with JSON or HTML, the SDK's decoder
    finds no events and the loop ends at once with no error and no text; `get_final_message()` then fails
    with a bare `AssertionError`.""",
    fix="""Find what answered instead of the API (a gateway, a cache, a captive portal, a mock): check
    `ANTHROPIC_BASE_URL` and proxies, and make sure the path passes `stream: true` through.""",
    symptoms=("AssertionError", "empty stream", "no events"),
    example="""\
request:  {"stream": true, …}
response: HTTP/1.1 200 OK, content-type: application/json""",
    use_instead="response: HTTP/1.1 200 OK, content-type: text/event-stream",
)

UNKNOWN_EVENT = define(
    "CD116",
    "unknown-event",
    S,
    INFO,
    "An event, delta or content block type the installed SDK does not know.",
    why="""The API adds new event and block types, usually behind a beta. A beta request (an
    `anthropic-beta` header, the `?beta=true` that `client.beta.messages` adds to the URL in many SDK
    versions, or a beta-only field such as `mcp_servers`) is checked against the SDK's beta types,
    any other against its regular ones. The SDK yields an unknown event as an object whose `.type` is the
    unknown string, ignores unknown delta types, and appends an unknown block as a text block
    (`TextBlock`) whose `.type` is the unknown string and `.text` is None: code that matches on known
    types skips them silently, and code that trusts `isinstance` reads a None text.""",
    fix="""Upgrade the SDK, use `client.beta.messages` with the matching `betas=[...]` when you enable a
    beta feature, and let your event loop ignore types it does not know.""",
    example="""\
event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use", …}}
                                         (a request without the beta API)""",
    use_instead="""\
client.beta.messages.stream(**request, betas=["…"])   # the beta API for beta features
for event in stream:
    if event.type == "content_block_delta":  # and skip types you do not know
        ...""",
)

INVALID_TOOL_JSON = define(
    "CD117",
    "invalid-tool-json",
    S,
    ERROR,
    "A tool_use block's streamed JSON input is not valid JSON, or was cut off when the message ended.",
    why="""The SDK joins a tool call's `input_json_delta` fragments and parses them with a partial-mode
    parser: incomplete JSON is accepted silently (a cut-off string is dropped, so `input` may come back
    empty or missing keys), and invalid JSON raises `ValueError: Unable to parse tool parameter JSON
    from model. Please retry your request or adjust your prompt.` A tool block still open when the
    message ends (cut at `max_tokens`: no `content_block_stop`, then `message_delta`) comes back the
    same way: with whatever part of its input parsed, and no error.""",
    fix="""Retry the request; if the input was cut at `max_tokens` (see CD106) raise it; never call the
    tool with an input that did not parse completely.""",
    symptoms=("ValueError: Unable to parse tool parameter JSON from model",),
    example="""\
event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": \\"Par"}}
event: message_delta                     (stop_reason max_tokens: the input is cut)""",
    use_instead="""\
message = stream.get_final_message()
if message.stop_reason == "max_tokens":
    ...                                  # retry with a higher max_tokens; do not call the tool""",
)
