"""The fix texts promise what the SDK does with broken bytes; these tests hold the installed SDK to
those promises. Each case feeds the same bytes to the real ``anthropic`` client (through an
``httpx2`` transport, no network) and to our checks, and asserts both sides."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from claude_doctor import synth
from claude_doctor.checks.stream import check_records
from claude_doctor.config import Config
from claude_doctor.recording import Chunk, End, Request, Response

anthropic = pytest.importorskip("anthropic")
httpx2 = pytest.importorskip("httpx2")

KWARGS = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def client_for(body: bytes | Callable[[], Iterator[bytes]], status: int = 200, headers: dict | None = None):
    def handler(request):
        content = body() if callable(body) else body
        return httpx2.Response(status, headers=headers or SSE, content=content)

    return anthropic.Anthropic(
        api_key="test-key",
        base_url="http://127.0.0.1:9",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def our_codes(body: bytes, status: int = 200, headers: dict | None = None, end: str = "eof") -> list[str]:
    records = [
        Request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json={**KWARGS, "stream": True}),
        Response(0, 0.1, status, None, "HTTP/1.1", list((headers or SSE).items())),
        Chunk(0, 0.2, body),
        End(0, 0.3, end),
    ]
    return sorted({f.code for f in check_records(records, "case", Config())})


def consume(client) -> anthropic.types.Message:
    with client.messages.stream(**KWARGS) as stream:
        for _ in stream:
            pass
        return stream.get_final_message()


def joined(events: list[bytes]) -> bytes:
    return b"".join(events)


EVENTS = synth.text_message(["Hello", " world"])


def test_clean_stream_is_clean_on_both_sides():
    message = consume(client_for(joined(EVENTS)))
    assert message.stop_reason == "end_turn" and message.content[0].text == "Hello world"
    assert our_codes(joined(EVENTS)) == []


def test_truncated_stream_returns_partial_message_silently_cd104():
    body = joined(EVENTS[:5])
    message = consume(client_for(body))
    assert message.stop_reason is None and message.content[0].text == "Hello world"
    assert our_codes(body) == ["CD104"]


def test_connection_broken_mid_stream_raises_raw_httpx2_error_cd104():
    def broken() -> Iterator[bytes]:
        yield joined(EVENTS[:5])
        raise httpx2.ReadError("connection reset by peer")

    with pytest.raises(httpx2.ReadError) as info:
        consume(client_for(broken))
    assert not isinstance(info.value, anthropic.APIError)  # unwrapped: `except anthropic.APIError` misses it
    assert our_codes(joined(EVENTS[:5]), end="reset") == ["CD104"]


def test_delta_before_block_start_raises_bare_index_error_cd105():
    body = joined([EVENTS[0], synth.delta(0, {"type": "text_delta", "text": "x"}), *EVENTS[2:]])
    with pytest.raises(IndexError, match="list index out of range"):
        consume(client_for(body))
    assert our_codes(body) == ["CD105"]


def test_error_event_after_200_is_status_error_200_cd108():
    body = joined([*EVENTS[:5], synth.error_event("overloaded_error", "Overloaded")])
    with pytest.raises(anthropic.APIStatusError) as info:
        consume(client_for(body))
    assert info.value.status_code == 200
    assert not isinstance(info.value, anthropic.InternalServerError)
    assert our_codes(body) == ["CD108"]


def test_max_tokens_stop_is_success_to_the_sdk_cd106():
    body = joined(synth.text_message(["Hello"], "max_tokens"))
    assert consume(client_for(body)).stop_reason == "max_tokens"
    assert our_codes(body) == ["CD106"]


@pytest.mark.parametrize(
    "body",
    [b"\xef\xbb\xbf" + joined(EVENTS), joined(e.split(b"\n", 1)[1] for e in EVENTS)],
    ids=["bom", "data-only"],
)
def test_bom_or_data_only_events_make_get_final_message_assert_cd113(body):
    with pytest.raises(AssertionError) as info:
        consume(client_for(body))
    assert str(info.value) == ""  # a bare AssertionError: nothing tells the user what happened
    assert "CD113" in our_codes(body)


def test_data_that_is_not_json_raises_json_decode_error_cd113():
    body = joined([b"event: message_start\ndata: {oops\n\n", *EVENTS[1:]])
    with pytest.raises(json.JSONDecodeError):
        consume(client_for(body))
    assert "CD113" in our_codes(body)


def test_invalid_utf8_raises_unicode_decode_error_cd113():
    body = joined(synth.text_message(["café"])).replace("é".encode(), b"\xff")
    with pytest.raises(UnicodeDecodeError):
        consume(client_for(body))
    assert our_codes(body) == ["CD113"]


def test_final_event_without_blank_line_is_dropped_cd113():
    body = joined(EVENTS)[:-1]
    consume(client_for(body))  # no error: the message_stop is silently discarded
    assert our_codes(body) == ["CD113"]


def test_invalid_tool_json_raises_value_error_cd117():
    body = joined(
        [
            synth.message_start(),
            *synth.tool_use_block(0, "t", ['{"a": 1,}']),
            synth.message_delta("tool_use"),
            synth.MESSAGE_STOP,
        ]
    )
    with pytest.raises(ValueError, match="Unable to parse tool parameter JSON"):
        consume(client_for(body))
    assert our_codes(body) == ["CD117"]


def test_incomplete_tool_json_is_accepted_silently_but_reported_cd117():
    body = joined(
        [
            synth.message_start(),
            *synth.tool_use_block(0, "t", ['{"city": "Par']),
            synth.message_delta("tool_use"),
            synth.MESSAGE_STOP,
        ]
    )
    message = consume(client_for(body))
    assert message.content[0].input == {}  # the cut-off string is dropped: no error, an empty input
    assert our_codes(body) == ["CD117"]


def test_json_answer_to_a_stream_request_yields_nothing_cd115():
    body = synth.json_message("Hello")
    events = list(client_for(body, headers={"content-type": "application/json"}).messages.create(**KWARGS, stream=True))
    assert events == []
    assert our_codes(body, headers={"content-type": "application/json"}) == ["CD115"]


def test_unknown_event_is_yielded_with_its_type_cd116():
    body = joined([EVENTS[0], synth.sse("thought_bubble", {"type": "thought_bubble"}), *EVENTS[1:]])
    with client_for(body).messages.stream(**KWARGS) as stream:
        types = [event.type for event in stream]
    assert "thought_bubble" in types
    assert our_codes(body) == ["CD116"]


@pytest.mark.parametrize(
    "status, error, code",
    [
        (429, anthropic.RateLimitError, "CD109"),
        (401, anthropic.AuthenticationError, "CD110"),
        (529, anthropic.InternalServerError, "CD111"),
        (400, anthropic.BadRequestError, "CD112"),
    ],
)
def test_http_errors_raise_their_classes(status, error, code):
    body = synth.error_body("some_error", "details here")
    headers = {"content-type": "application/json", "retry-after": "0"}
    with pytest.raises(error) as info:
        consume(client_for(body, status, headers))
    assert info.value.status_code == status
    assert our_codes(body, status, headers) == [code]
