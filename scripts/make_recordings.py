"""Write the bundled example recordings in ``recordings/``.

Each file shows one failure (its name starts with the code it must produce, e.g.
``cd104-truncated-stream.jsonl``) or a clean stream (``clean-*``); the tests check every file against
its name, and the README's quick start runs ``claude-doctor stream recordings/`` on them. Re-run after
changing the synthetic builders: ``python scripts/make_recordings.py``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from claude_doctor import synth
from claude_doctor.recording import RecordingWriter

OUT = Path(__file__).resolve().parent.parent / "recordings"
URL = "https://api.anthropic.com/v1/messages"
FAKE_BEARER = "Bearer " + "x" * 108  # redacted by the writer; only its length is kept
REQUEST_HEADERS = [
    ("accept", "application/json"),
    ("anthropic-version", synth.API_VERSION),
    ("authorization", FAKE_BEARER),
    ("content-type", "application/json"),
    ("user-agent", "Anthropic/Python 2.14.0"),
    ("x-stainless-helper-method", "stream"),
    ("x-stainless-lang", "python"),
    ("x-stainless-read-timeout", "600"),
    ("x-stainless-retry-count", "0"),
]
SSE_HEADERS = [
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("request-id", "req_011CVZvLoGLsEeCaHq8SbzJE"),
    ("anthropic-organization-id", "00000000-0000-0000-0000-000000000000"),
    ("via", "1.1 google"),
]
JSON_HEADERS = [("content-type", "application/json"), ("request-id", "req_011CVZvLoGLsEeCaHq8SbzJE")]


def body(stream: bool = True, max_tokens: int = 1024, **extra) -> bytes:
    req = {
        "model": synth.DEFAULT_MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "Explain streaming in one paragraph."}],
        **extra,
    }
    if stream:
        req["stream"] = True
    return json.dumps(req).encode()


def paced(events: list[bytes], start: float = 0.42, step: float = 0.05) -> list[tuple[float, bytes]]:
    return [(round(start + n * step, 6), e) for n, e in enumerate(events)]


def write(
    name: str,
    chunks: list[tuple[float | None, bytes]],
    *,
    status: int = 200,
    headers=SSE_HEADERS,
    request: bytes | None = None,
    request_headers=REQUEST_HEADERS,
    end: tuple[float | None, str] | None = None,
    head_t: float | None = 0.41,
    w: RecordingWriter | None = None,
    i: int = 0,
    error: str | None = None,
) -> None:
    own = w is None
    f = (OUT / name).open("wb") if own else None
    writer = w or RecordingWriter(f, "synthetic", "2026-11-25T12:00:00.000Z")
    writer.request(i, 0.0, "POST", URL, request_headers, request or body())
    writer.response(
        i,
        head_t,
        status,
        {200: "OK", 429: "Too Many Requests", 401: "Unauthorized", 529: "", 400: "Bad Request"}.get(status, ""),
        "HTTP/1.1",
        headers,
    )
    for t, data in chunks:
        writer.chunk(i, t, data)
    last = chunks[-1][0] if chunks and chunks[-1][0] is not None else head_t
    end_t, reason = end or (round((last or 0) + 0.002, 6), "eof")
    writer.end(i, end_t, reason, error, "ReadTimeout" if reason == "timeout" else None)
    if own:
        f.close()


def clean() -> None:
    write("clean-text.jsonl", paced(synth.text_message(synth.WORDS)))
    thinking = [
        synth.message_start(),
        *synth.thinking_block(0, ["The user wants", " one paragraph."]),
        *synth.text_block(1, synth.WORDS[:8]),
        synth.message_delta(),
        synth.MESSAGE_STOP,
    ]
    write("clean-thinking.jsonl", paced(thinking), request=body(thinking={"type": "enabled", "budget_tokens": 2048}))
    tool = [
        synth.message_start(),
        *synth.text_block(0, ["Let me check", " the weather."]),
        *synth.tool_use_block(1, "get_weather", ['{"loc', 'ation": "Par', 'is, France"', ', "unit": "c"}']),
        synth.message_delta("tool_use", 40),
        synth.MESSAGE_STOP,
    ]
    write(
        "clean-tool-use.jsonl",
        paced(tool),
        request=body(
            tools=[
                {
                    "name": "get_weather",
                    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
                }
            ]
        ),
    )
    # a long answer with pings every 15 s keeps every gap under the idle threshold
    write(
        "clean-pings-keep-alive.jsonl",
        [(0.42, synth.message_start())]
        + [(round(0.42 + 14.0 * (n + 1), 6), synth.PING) for n in range(4)]
        + paced(synth.text_block(0, synth.WORDS[:6]) + [synth.message_delta(), synth.MESSAGE_STOP], 57.0),
    )


def failures() -> None:
    events = synth.text_message(synth.WORDS)
    # CD101: no stream asked; 48 s of silence, then the whole message
    write(
        "cd101-stream-not-enabled.jsonl",
        [(48.2, synth.json_message("".join(synth.WORDS)))],
        headers=JSON_HEADERS,
        request=body(stream=False),
        head_t=48.1,
    )
    # CD102: a 41 s silence mid-stream (no pings: something held the bytes)
    chunks = paced(events[:6]) + paced(events[6:], start=42.0)
    write("cd102-idle-gap.jsonl", chunks)
    # CD103: the client gave up after 10 s of silence
    stalled = paced(events[:8])
    write(
        "cd103-read-timeout.jsonl",
        stalled,
        end=(round(stalled[-1][0] + 10.0, 6), "timeout"),
        error="timed out",
        request_headers=[(k, "10" if k == "x-stainless-read-timeout" else v) for k, v in REQUEST_HEADERS],
    )
    # CD104: the connection closed cleanly mid-answer
    write("cd104-truncated-stream.jsonl", paced(events[:12]))
    # CD104 again: broken mid-event and mid-character (end reason reset)
    k = next(n for n, e in enumerate(events) if "é".encode() in e)
    cut = paced(events[:k])
    partial = events[k][: events[k].index("é".encode()) + 1]  # half of the two bytes of é
    write(
        "cd104-reset-mid-event.jsonl",
        cut + [(round(cut[-1][0] + 0.05, 6), partial)],
        end=(round(cut[-1][0] + 0.06, 6), "reset"),
        error="peer closed connection without sending complete message body (incomplete chunked read)",
    )
    # CD105: a delta before its block start (the SDK raises a bare IndexError)
    reordered = [events[0], synth.delta(0, {"type": "text_delta", "text": "Hello"}), *events[2:]]
    write("cd105-delta-before-block.jsonl", paced(reordered))
    write("cd106-max-tokens.jsonl", paced(synth.text_message(synth.WORDS, "max_tokens")), request=body(max_tokens=20))
    write("cd107-refusal.jsonl", paced(synth.text_message(synth.WORDS[:5], "refusal")))
    # CD108: overloaded mid-stream after a 200
    write("cd108-overloaded-error-event.jsonl", paced(events[:9] + [synth.error_event()]))
    retry_headers = JSON_HEADERS + [
        ("retry-after", "23"),
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "2026-11-25T12:00:23Z"),
        ("x-should-retry", "true"),
    ]
    # CD109: a 429, then the SDK's retry succeeds (two exchanges in one recording)
    with (OUT / "cd109-rate-limited-then-retried.jsonl").open("wb") as f:
        w = RecordingWriter(f, "synthetic", "2026-11-25T12:00:00.000Z")
        write(
            "",
            [
                (
                    0.31,
                    synth.error_body(
                        "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"
                    ),
                )
            ],
            status=429,
            headers=retry_headers,
            head_t=0.3,
            w=w,
            i=0,
        )
        write("", paced(events), w=w, i=1)
    write(
        "cd110-auth-error.jsonl",
        [(0.2, synth.error_body("authentication_error", "invalid x-api-key"))],
        status=401,
        headers=JSON_HEADERS,
        head_t=0.19,
    )
    write(
        "cd111-overloaded-529.jsonl",
        [(0.5, synth.error_body("overloaded_error", "Overloaded"))],
        status=529,
        headers=JSON_HEADERS,
        head_t=0.49,
    )
    write(
        "cd112-bad-request.jsonl",
        [
            (
                0.2,
                synth.error_body(
                    "invalid_request_error",
                    "max_tokens: 200000 > 64000, "
                    "which is the maximum allowed number of output tokens for claude-sonnet-4-6",
                ),
            )
        ],
        status=400,
        headers=JSON_HEADERS,
        head_t=0.19,
        request=body(max_tokens=200000),
    )
    # CD113: a relay wrote data-only SSE (no event: lines)
    data_only = [e.split(b"\n", 1)[1] for e in events]
    write("cd113-data-only-events.jsonl", paced(data_only))
    # CD114: a buffering proxy: nothing for 12 s, then everything at once
    write("cd114-buffered-by-proxy.jsonl", [(12.0 + n * 0.0001, e) for n, e in enumerate(events)], head_t=11.9)
    # CD115: a gateway answered the streaming request with JSON
    write(
        "cd115-json-answer-to-stream.jsonl",
        [(1.2, synth.json_message("".join(synth.WORDS)))],
        headers=JSON_HEADERS,
        head_t=1.19,
    )
    unknown = [
        events[0],
        synth.sse("content_block_citation_hint", {"type": "content_block_citation_hint"}),
        *events[1:],
    ]
    write("cd116-unknown-event.jsonl", paced(unknown))
    bad_tool = [
        synth.message_start(),
        *synth.tool_use_block(0, "get_weather", ['{"location": ', '"Paris"', ",}"]),
        synth.message_delta("tool_use", 30),
        synth.MESSAGE_STOP,
    ]
    write("cd117-invalid-tool-json.jsonl", paced(bad_tool))


def imports() -> None:
    """One example of each import format, all of the same clean stream."""
    events = synth.text_message(synth.WORDS[:10])
    raw = b"".join(events)
    (OUT / "imports").mkdir(exist_ok=True)
    (OUT / "imports" / "curl-N.sse").write_bytes(raw)
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in SSE_HEADERS) + b"\r\n"
    (OUT / "imports" / "curl-i.txt").write_bytes(head + raw)
    (OUT / "imports" / "curl-trace.trace").write_text(_trace(raw))
    (OUT / "imports" / "devtools.har").write_text(json.dumps(_har(raw), indent=1))
    (OUT / "imports" / "cassette.yaml").write_text(_vcr_yaml(raw))


def _hexdump(data: bytes) -> str:
    lines = []
    for off in range(0, len(data), 16):
        part = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in part)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in part)
        lines.append(f"{off:04x}: {hexes:<47} {text}")
    return "\n".join(lines)


def _trace(raw: bytes) -> str:
    req_head = (
        b"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: [REDACTED len=108]\r\n"
        b"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n\r\n"
    )
    out = ["12:00:00.100000 == Info: Connected to api.anthropic.com (160.79.104.10) port 443 (#0)"]
    out += [f"12:00:00.101000 => Send header, {len(req_head)} bytes (0x{len(req_head):x})", _hexdump(req_head)]
    req = body()
    out += [f"12:00:00.101500 => Send data, {len(req)} bytes (0x{len(req):x})", _hexdump(req)]
    t = 0.512
    for line in [
        b"HTTP/1.1 200 OK\r\n",
        b"content-type: text/event-stream; charset=utf-8\r\n",
        b"transfer-encoding: chunked\r\n",
        b"\r\n",
    ]:
        out += [f"12:00:00.{int(t * 1e6):06d} <= Recv header, {len(line)} bytes (0x{len(line):x})", _hexdump(line)]
    for n, event in enumerate(synth.text_message(synth.WORDS[:10])):
        framed = f"{len(event):x}\r\n".encode() + event + b"\r\n"
        t = 0.52 + n * 0.05
        out += [
            f"12:00:0{int(t)}.{int((t % 1) * 1e6):06d} <= Recv data, {len(framed)} bytes (0x{len(framed):x})",
            _hexdump(framed),
        ]
    end = b"0\r\n\r\n"
    out += ["12:00:01.300000 <= Recv data, 5 bytes (0x5)", _hexdump(end)]
    return "\n".join(out) + "\n"


def _har(raw: bytes) -> dict:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2026-11-25T12:00:00.000Z",
                    "time": 1320.5,
                    "request": {
                        "method": "POST",
                        "url": URL,
                        "httpVersion": "HTTP/1.1",
                        "headers": [
                            {"name": "x-api-key", "value": "[REDACTED len=108]"},
                            {"name": "anthropic-version", "value": "2023-06-01"},
                        ],
                        "postData": {"mimeType": "application/json", "text": body().decode()},
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "headers": [{"name": k, "value": v} for k, v in SSE_HEADERS],
                        "content": {
                            "size": len(raw),
                            "mimeType": "text/event-stream",
                            "text": base64.b64encode(raw).decode(),
                            "encoding": "base64",
                        },
                    },
                    "timings": {
                        "blocked": 1,
                        "dns": 2,
                        "connect": 30,
                        "ssl": 20,
                        "send": 1,
                        "wait": 400,
                        "receive": 886,
                    },
                }
            ],
        }
    }


def _vcr_yaml(raw: bytes) -> str:
    import yaml

    doc = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": URL,
                    "body": body().decode(),
                    "headers": {"anthropic-version": ["2023-06-01"], "content-type": ["application/json"]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {k: [v] for k, v in SSE_HEADERS},
                    "body": {"string": raw.decode()},
                },
            }
        ],
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    clean()
    failures()
    imports()
    print(f"wrote {len(list(OUT.rglob('*.*')))} files to {OUT}")
