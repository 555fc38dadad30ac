"""CD2xx: the streaming and asyncio mistakes in code that calls the Anthropic SDK.

Definitions only (stdlib imports), so that ``rules``/``explain`` load them without the checker.
Each ``why`` quotes the exception text or behaviour a user sees (the SDK 2.x source and its own error messages,
measured against anthropic 2.x) so that searching for an error message finds the rule."""

from __future__ import annotations

from ...findings import Area, Severity, define

E, W = Severity.ERROR, Severity.WARNING
C = Area.CODE

SYNC_CLIENT_IN_ASYNC = define(
    "CD201",
    "sync-client-in-async",
    C,
    W,
    "A synchronous Anthropic client is called inside `async def`.",
    why="""A sync `Anthropic` client does blocking network I/O. Called from a coroutine it raises
    **no exception**: it blocks the event loop for the whole request, so every other task (other users'
    streams, health checks, pings) stalls until Claude finishes, which shows up as random timeouts and
    "everything freezes while one request runs". Awaiting it instead gives
    `TypeError: object Message can't be used in 'await' expression`; `async for` over its stream gives
    `TypeError: 'async for' requires an object with __aiter__ method, got Stream`; and `async with` on
    its `messages.stream()` gives `TypeError: 'MessageStreamManager' object does not support the
    asynchronous context manager protocol`.""",
    fix="""Use `AsyncAnthropic` in async code and await it (`await client.messages.create(...)`,
    `async with client.messages.stream(...) as stream:`), or run the sync call in a worker thread:
    `await asyncio.to_thread(client.messages.create, ...)`.""",
    symptoms=(
        "event loop blocked",
        "TypeError: object Message can't be used in 'await' expression",
        "TypeError: 'async for' requires an object with __aiter__ method, got Stream",
        "TypeError: 'MessageStreamManager' object does not support the asynchronous context manager protocol",
    ),
    example="""\
client = Anthropic()

async def answer(question):
    message = client.messages.create(model=MODEL, max_tokens=1024, messages=question)""",
    use_instead="""\
client = AsyncAnthropic()

async def answer(question):
    message = await client.messages.create(model=MODEL, max_tokens=1024, messages=question)""",
)

ASYNC_STREAM_SYNC_WITH = define(
    "CD202",
    "async-stream-sync-with",
    C,
    E,
    "`with` (not `async with`) over an AsyncAnthropic `messages.stream(...)`.",
    why="""`AsyncAnthropic().messages.stream(...)` returns an `AsyncMessageStreamManager`, which only
    supports the asynchronous context manager protocol. A plain `with` fails before any request is sent:
    `TypeError: 'AsyncMessageStreamManager' object does not support the context manager protocol`
    (Python 3.14 may add "Did you mean 'async with'").""",
    fix="""Write `async with client.messages.stream(...) as stream:` and iterate with
    `async for text in stream.text_stream:`. `claude-doctor code --fix` makes this change.""",
    symptoms=("TypeError: 'AsyncMessageStreamManager' object does not support the context manager protocol",),
    example="""\
client = AsyncAnthropic()
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    ...""",
    use_instead="""\
client = AsyncAnthropic()
async with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    ...""",
)

ASYNC_ITER_SYNC_FOR = define(
    "CD203",
    "async-iter-sync-for",
    C,
    E,
    "`for` (not `async for`) over an async stream or its `text_stream`.",
    why="""An async `MessageStream`, its `text_stream` and the `AsyncStream` returned by
    `await client.messages.create(..., stream=True)` are asynchronous iterators. A plain `for` fails:
    `TypeError: 'async_generator' object is not iterable` (over `text_stream`) or
    `TypeError: 'AsyncStream' object is not iterable`.""",
    fix="""Write `async for text in stream.text_stream:` (or `async for event in stream:`).
    `claude-doctor code --fix` makes this change for `for` statements.""",
    symptoms=(
        "TypeError: 'async_generator' object is not iterable",
        "TypeError: 'AsyncStream' object is not iterable",
        "TypeError: 'AsyncMessageStream' object is not iterable",
    ),
    example="""\
async with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    for text in stream.text_stream:
        print(text, end="")""",
    use_instead="""\
async with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    async for text in stream.text_stream:
        print(text, end="")""",
)

MISSING_AWAIT = define(
    "CD204",
    "missing-await",
    C,
    E,
    "An AsyncAnthropic `create(...)`/`count_tokens(...)` result is used without `await`.",
    why="""`AsyncAnthropic` request methods (`create`, `count_tokens`, `retrieve`, ...) return coroutines.
    Without `await` no request is sent, and using the result fails far from the cause:
    `AttributeError: 'coroutine' object has no attribute 'content'`,
    `TypeError: 'coroutine' object is not iterable`, and at garbage collection
    `RuntimeWarning: coroutine 'AsyncAPIClient.post' was never awaited`. A discarded call silently
    does nothing. Which methods are coroutines is read from the installed SDK's sources: paginators
    (`list()`), `tool_runner()`, `with_options()` and `with_streaming_response` managers are not, and
    are never reported.""",
    fix="""Await it: `message = await client.messages.create(...)`. To run several at once, pass the
    coroutines to `asyncio.gather(...)` or `asyncio.create_task(...)`.""",
    symptoms=(
        "AttributeError: 'coroutine' object has no attribute 'content'",
        "TypeError: 'coroutine' object is not iterable",
        "RuntimeWarning: coroutine 'AsyncAPIClient.post' was never awaited",
    ),
    example="""\
client = AsyncAnthropic()
message = client.messages.create(model=MODEL, max_tokens=1024, messages=messages)
print(message.content)""",
    use_instead="""\
client = AsyncAnthropic()
message = await client.messages.create(model=MODEL, max_tokens=1024, messages=messages)
print(message.content)""",
)

GET_EVENT_LOOP = define(
    "CD205",
    "get-event-loop",
    C,
    W,
    "`asyncio.get_event_loop()` outside a coroutine, its loop then run (`run_until_complete`).",
    why="""Outside a running loop `asyncio.get_event_loop()` is deprecated: in a worker thread (every Python
    version) and in the main thread on Python 3.14+ it raises
    `RuntimeError: There is no current event loop in thread 'MainThread'.` (3.12-3.13 warn
    `DeprecationWarning: There is no current event loop`). A loop made this way is also not the one
    `asyncio.run` uses, so an `AsyncAnthropic` client bound to it breaks later. Reported where the loop
    is then run (`loop.run_until_complete(...)`, `run_forever()`), at import time or later; not inside
    `try: ... except RuntimeError:` or `suppress(RuntimeError)`, and not where a loop is only fetched to
    be saved and restored (test fixtures), since that code expects and handles the missing loop.""",
    fix="""Run coroutines with `asyncio.run(main())`; inside a coroutine use
    `asyncio.get_running_loop()`.""",
    symptoms=(
        "RuntimeError: There is no current event loop in thread",
        "DeprecationWarning: There is no current event loop",
    ),
    example="""\
loop = asyncio.get_event_loop()
loop.run_until_complete(main())""",
    use_instead="""\
asyncio.run(main())""",
)

NESTED_ASYNCIO_RUN = define(
    "CD206",
    "nested-asyncio-run",
    C,
    E,
    "`asyncio.run(...)` inside `async def`, or in a notebook cell.",
    why="""`asyncio.run` starts a new event loop and cannot be called while one is already running in the
    thread: inside a coroutine, and in Jupyter/IPython (which run their own loop), it raises
    `RuntimeError: asyncio.run() cannot be called from a running event loop`, followed by
    `RuntimeWarning: coroutine '...' was never awaited`.""",
    fix="""Inside a coroutine, `await` the coroutine instead of `asyncio.run(...)`. In a notebook cell use
    top-level `await main()`.""",
    symptoms=(
        "RuntimeError: asyncio.run() cannot be called from a running event loop",
        "RuntimeWarning: coroutine was never awaited",
    ),
    example="""\
async def handler(request):
    return asyncio.run(ask(request))""",
    use_instead="""\
async def handler(request):
    return await ask(request)""",
)

ASYNC_CLIENT_ACROSS_RUNS = define(
    "CD207",
    "async-client-across-runs",
    C,
    W,
    "One AsyncAnthropic client is reused by more than one `asyncio.run(...)`.",
    why="""Each `asyncio.run` creates and then closes its own event loop. An `AsyncAnthropic` client keeps
    pooled keep-alive connections bound to the loop that opened them, so the next run's first attempt
    fails with `APIConnectionError: Connection error.` caused by `RuntimeError('Event loop is closed')`.
    With the default retries this is masked as `Retrying request to /v1/messages in 0.44 seconds` in
    the log; with `max_retries=0` the error is visible.""",
    fix="""Make one `asyncio.run(main())` the single entry point and do all the work inside it, or create
    the `AsyncAnthropic` client inside the coroutine that `asyncio.run` runs
    (`async with AsyncAnthropic() as client:`).""",
    symptoms=(
        "APIConnectionError: Connection error.",
        "RuntimeError: Event loop is closed",
        "Retrying request to /v1/messages",
    ),
    example="""\
client = AsyncAnthropic()
for question in questions:
    asyncio.run(ask(client, question))""",
    use_instead="""\
async def main():
    async with AsyncAnthropic() as client:
        for question in questions:
            await ask(client, question)

asyncio.run(main())""",
)

TEXT_STREAM_ON_MESSAGE = define(
    "CD211",
    "text-stream-on-message",
    C,
    E,
    "Stream helpers, iteration or `with` on the result of `create(...)` without `stream=True`.",
    why="""`client.messages.create(...)` without `stream=True` waits for the whole answer and returns a
    `Message`, not a stream: `AttributeError: 'Message' object has no attribute 'text_stream'`,
    `AttributeError: 'Message' object has no attribute 'get_final_message'`,
    `TypeError: 'Message' object does not support the context manager protocol`. Iterating it raises
    **no error**: pydantic yields `(field, value)` tuples such as `('id', 'msg_…')`, and then
    `AttributeError: 'tuple' object has no attribute 'type'`.""",
    fix="""To stream, use `with client.messages.stream(...) as stream:` and `stream.text_stream`; to keep
    the whole message, read `message.content` instead.""",
    symptoms=(
        "AttributeError: 'Message' object has no attribute 'text_stream'",
        "AttributeError: 'Message' object has no attribute 'get_final_message'",
        "TypeError: 'Message' object does not support the context manager protocol",
        "AttributeError: 'tuple' object has no attribute 'type'",
    ),
    example="""\
response = client.messages.create(model=MODEL, max_tokens=1024, messages=messages)
for text in response.text_stream:
    print(text, end="")""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    for text in stream.text_stream:
        print(text, end="")""",
)

HELPER_ON_RAW_STREAM = define(
    "CD212",
    "helper-on-raw-stream",
    C,
    E,
    "`.text_stream`/`.get_final_message()`/`.get_final_text()` on the result of `create(..., stream=True)`.",
    why="""`create(..., stream=True)` returns a raw `Stream` of server events; it does not accumulate a
    message and has none of the `MessageStream` helpers:
    `AttributeError: 'Stream' object has no attribute 'text_stream'` (likewise `'get_final_message'`,
    `'get_final_text'`, `'content'`).""",
    fix="""Use the helper stream, `with client.messages.stream(...) as stream:`, which has `text_stream`,
    `get_final_message()` and `get_final_text()`; or iterate the raw events and read
    `event.delta.text` from `content_block_delta` events.""",
    symptoms=(
        "AttributeError: 'Stream' object has no attribute 'text_stream'",
        "AttributeError: 'Stream' object has no attribute 'get_final_message'",
        "AttributeError: 'AsyncStream' object has no attribute 'text_stream'",
    ),
    example="""\
stream = client.messages.create(model=MODEL, max_tokens=1024, messages=messages, stream=True)
message = stream.get_final_message()""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    message = stream.get_final_message()""",
)

STREAM_WITHOUT_WITH = define(
    "CD213",
    "stream-without-with",
    C,
    E,
    "`messages.stream(...)` used without `with`/`async with`.",
    why="""`client.messages.stream(...)` returns a `MessageStreamManager`; the request is only sent, and
    the `MessageStream` only exists, inside `with` (or `async with`). Used directly it fails:
    `TypeError: 'MessageStreamManager' object is not iterable`,
    `AttributeError: 'MessageStreamManager' object has no attribute 'text_stream'`; a bare call sends
    nothing at all.""",
    fix="""Enter it: `with client.messages.stream(...) as stream:` (`async with` for `AsyncAnthropic`), then
    use `stream.text_stream` or `stream.get_final_message()` inside the block.""",
    symptoms=(
        "TypeError: 'MessageStreamManager' object is not iterable",
        "AttributeError: 'MessageStreamManager' object has no attribute 'text_stream'",
        "AttributeError: 'AsyncMessageStreamManager' object has no attribute 'text_stream'",
    ),
    example="""\
stream = client.messages.stream(model=MODEL, max_tokens=1024, messages=messages)
for text in stream.text_stream:
    print(text, end="")""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    for text in stream.text_stream:
        print(text, end="")""",
)

STREAM_KWARG_ON_STREAM = define(
    "CD214",
    "stream-kwarg-on-stream",
    C,
    E,
    "`messages.stream(..., stream=True)`.",
    why="""`messages.stream()` always streams and does not take a `stream` argument:
    `TypeError: Messages.stream() got an unexpected keyword argument 'stream'`.""",
    fix="""Drop `stream=True` from the `messages.stream(...)` call. `claude-doctor code --fix` removes it.""",
    symptoms=("TypeError: Messages.stream() got an unexpected keyword argument 'stream'",),
    example="""\
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages, stream=True) as stream:
    ...""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=1024, messages=messages) as stream:
    ...""",
)

MISSING_MAX_TOKENS = define(
    "CD215",
    "missing-max-tokens",
    C,
    E,
    "`create`/`stream` without `max_tokens`.",
    why="""`max_tokens` is required by the Messages API and by the SDK, which refuses the call:
    `TypeError: Missing required arguments; Expected either ('max_tokens', 'messages' and 'model') or
    ('max_tokens', 'messages', 'model' and 'stream') arguments to be given`.""",
    fix="""Pass `max_tokens=` (the most tokens the answer may use, e.g. `max_tokens=1024`).""",
    symptoms=("TypeError: Missing required arguments; Expected either ('max_tokens', 'messages' and 'model')",),
    example="""\
message = client.messages.create(model=MODEL, messages=messages)""",
    use_instead="""\
message = client.messages.create(model=MODEL, max_tokens=1024, messages=messages)""",
)

LONG_REQUEST_WITHOUT_STREAM = define(
    "CD216",
    "long-request-without-stream",
    C,
    E,
    "`create(...)` without streaming and with `max_tokens` >= 21,334.",
    why="""The SDK refuses non-streaming requests that could take longer than ten minutes (3600 s x
    max_tokens / 128,000 > 600 s, i.e. max_tokens >= 21,334, or above 8,192 for the Claude Opus 4/4.1
    ids): `ValueError: Streaming is required for operations that may take longer than 10 minutes. See
    https://platform.claude.com/docs/en/cli-sdks-libraries/sdks/python#long-requests for more details`.
    The guard runs only with the default client timeout and no per-request `timeout=`.""",
    fix="""Stream it: `with client.messages.stream(...) as stream:` then `stream.get_final_message()`;
    or pass `stream=True`.""",
    symptoms=("ValueError: Streaming is required for operations that may take longer than 10 minutes",),
    example="""\
message = client.messages.create(model=MODEL, max_tokens=32000, messages=messages)""",
    use_instead="""\
with client.messages.stream(model=MODEL, max_tokens=32000, messages=messages) as stream:
    message = stream.get_final_message()""",
)

SHORT_TIMEOUT = define(
    "CD217",
    "short-timeout",
    C,
    W,
    "A read timeout below `min-timeout` (60 s) on a client or call that streams.",
    why="""An SDK timeout given as a number applies to connect, **read**, write and pool alike, and the read
    timeout applies to each read of the stream. When Claude thinks, calls a tool or the API is busy, the
    stream can be silent for longer than a short timeout, and the stream dies part way through with a
    bare `httpx2.ReadTimeout` (message "timed out", empty on async) that the SDK neither wraps nor
    retries; before the response starts it is `APITimeoutError: Request timed out or interrupted.`
    The SDK default is 600 s.""",
    fix="""Keep the read timeout at 60 s or more (the default is 600 s) and limit only connecting:
    `timeout=httpx2.Timeout(600, connect=5)` (or `anthropic.Timeout`). Set `min-timeout` under
    `[tool.claude-doctor]` to change the threshold.""",
    symptoms=(
        "httpx2.ReadTimeout: timed out",
        "anthropic.APITimeoutError: Request timed out or interrupted.",
        "stream stops after a few seconds",
    ),
    example="""\
client = Anthropic(timeout=10)
with client.messages.stream(model=MODEL, max_tokens=4096, messages=messages) as stream:
    ...""",
    use_instead="""\
client = Anthropic(timeout=httpx2.Timeout(600, connect=5))
with client.messages.stream(model=MODEL, max_tokens=4096, messages=messages) as stream:
    ...""",
)

OLD_HTTPX_OBJECT = define(
    "CD218",
    "old-httpx-object",
    C,
    E,
    "An `httpx.Timeout`/`httpx.Client` passed to an SDK 1.x+ client (it wants `httpx2`).",
    why="""From anthropic 1.0 the SDK is built on `httpx2`, and it rejects objects from the old `httpx`
    package when the client is constructed: "TypeError: Invalid `timeout` argument; `httpx.Timeout`
    is from the `httpx` package, but this SDK uses `httpx2`. Use `httpx2.Timeout` instead." (the same
    pattern for `http_client` and `httpx.Client`).""",
    fix="""Import from `httpx2` instead (`import httpx2`; `timeout=httpx2.Timeout(600, connect=5)`,
    `http_client=httpx2.Client(...)`), or use `anthropic.Timeout` / `anthropic.DefaultHttpxClient`.""",
    symptoms=(
        "TypeError: Invalid `timeout` argument; `httpx.Timeout` is from the `httpx` package",
        "TypeError: Invalid `http_client` argument",
    ),
    example="""\
import httpx
client = Anthropic(timeout=httpx.Timeout(600, connect=5))""",
    use_instead="""\
import httpx2
client = Anthropic(timeout=httpx2.Timeout(600, connect=5))""",
)

REMOVED_SAMPLING_KWARG = define(
    "CD219",
    "removed-sampling-kwarg",
    C,
    E,
    "`temperature`/`top_p`/`top_k` passed as keywords on an SDK that takes them only via `extra_body`.",
    why="""Since anthropic 1.0 `messages.create()` and `messages.stream()` no longer take the sampling
    parameters as keyword arguments: `TypeError: Messages.create() got an unexpected keyword argument
    'temperature'` (likewise `top_p`, `top_k`, and `Messages.stream()`). The API still accepts them in
    the request body.""",
    fix="""Pass them in the body: `extra_body={"temperature": 0.5}`. `claude-doctor code --fix` moves them
    all into one `extra_body` (into the call's `extra_body={...}` if it has one), in notebooks too.""",
    symptoms=(
        "TypeError: Messages.create() got an unexpected keyword argument 'temperature'",
        "TypeError: Messages.stream() got an unexpected keyword argument 'temperature'",
        "unexpected keyword argument 'top_p'",
        "unexpected keyword argument 'top_k'",
    ),
    example="""\
message = client.messages.create(model=MODEL, max_tokens=1024, messages=messages, temperature=0.2)""",
    use_instead="""\
message = client.messages.create(
    model=MODEL, max_tokens=1024, messages=messages, extra_body={"temperature": 0.2}
)""",
)

RELAY_WITHOUT_ANTI_BUFFERING = define(
    "CD220",
    "relay-without-anti-buffering",
    C,
    W,
    "A `text/event-stream` response without `X-Accel-Buffering: no` and `Cache-Control: no-cache`.",
    why="""When an app relays Claude's stream to browsers as server-sent events, nginx (proxy_buffering is
    on by default) and similar proxies and CDNs hold the response back and deliver it in one burst at the
    end: the user sees nothing, then everything appears at once, and long answers hit the proxy's read
    timeout. Nothing raises; `claude-doctor stream` reports such a capture as CD114 buffered-stream.""",
    fix="""Send both headers with the response: `headers={"X-Accel-Buffering": "no",
    "Cache-Control": "no-cache"}` (and turn off compression for `text/event-stream` on the path).""",
    symptoms=("everything appears at once", "stream arrives in one burst", "SSE buffered by nginx"),
    example="""\
@app.get("/chat")
async def chat():
    return StreamingResponse(relay(), media_type="text/event-stream")""",
    use_instead="""\
@app.get("/chat")
async def chat():
    return StreamingResponse(
        relay(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"},
    )""",
)

DELTA_WITHOUT_EVENT_TYPE = define(
    "CD221",
    "delta-without-event-type",
    C,
    E,
    "`event.delta` read on every event of a stream, without checking `event.type`.",
    why="""Iterating a stream (`create(..., stream=True)`, or the `MessageStream` of `messages.stream()`)
    yields every server event, and only `content_block_delta` and `message_delta` events have a `delta`.
    The first event of every stream is `message_start`, so a loop that reads `event.delta.text` on each
    event fails at once: `AttributeError: 'RawMessageStartEvent' object has no attribute 'delta'`
    (sync and async alike). Reported only when the loop variable is used for nothing but `.delta` in the
    loop and no `try` or `suppress` in it could catch the error.""",
    fix="""Check the event's type before reading its delta: `if event.type == "content_block_delta" and
    event.delta.type == "text_delta": print(event.delta.text)`; or, for the text alone, use
    `with client.messages.stream(...) as stream:` and `for text in stream.text_stream:`.""",
    symptoms=(
        "AttributeError: 'RawMessageStartEvent' object has no attribute 'delta'",
        "AttributeError: 'RawContentBlockStartEvent' object has no attribute 'delta'",
    ),
    example="""\
stream = client.messages.create(model=MODEL, max_tokens=1024, messages=messages, stream=True)
for event in stream:
    print(event.delta.text, end="")""",
    use_instead="""\
stream = client.messages.create(model=MODEL, max_tokens=1024, messages=messages, stream=True)
for event in stream:
    if event.type == "content_block_delta" and event.delta.type == "text_delta":
        print(event.delta.text, end="")""",
)
