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
from claude_doctor.findings import Finding
from claude_doctor.recording import Chunk, End, Request, Response

anthropic = pytest.importorskip("anthropic")
httpx2 = pytest.importorskip("httpx2")

KWARGS = {"model": "claude-sonnet-4-6", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}]}
SSE = {"content-type": "text/event-stream; charset=utf-8"}


def client_for(
    body: bytes | Callable[[], Iterator[bytes]],
    status: int = 200,
    headers: dict | None = None,
    sent: list[Request] | None = None,
):
    """A real client whose transport answers with ``body``; ``sent`` collects each request it made,
    as a recording would hold it."""

    def handler(request):
        if sent is not None:
            sent.append(
                Request(
                    0, 0.0, request.method, str(request.url), list(request.headers.items()), json.loads(request.content)
                )
            )
        content = body() if callable(body) else body
        return httpx2.Response(status, headers=headers or SSE, content=content)

    return anthropic.Anthropic(
        api_key="test-key",
        base_url="http://127.0.0.1:9",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def our_findings(
    body: bytes, status: int = 200, headers: dict | None = None, end: str = "eof", request: Request | None = None
) -> list[Finding]:
    records = [
        request
        or Request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json={**KWARGS, "stream": True}),
        Response(0, 0.1, status, None, "HTTP/1.1", list((headers or SSE).items())),
        Chunk(0, 0.2, body),
        End(0, 0.3, end),
    ]
    return check_records(records, "case", Config())


def our_codes(body: bytes, status: int = 200, headers: dict | None = None, end: str = "eof") -> list[str]:
    return sorted({f.code for f in our_findings(body, status, headers, end)})


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


# -- what the messages promise, on the shapes real streams have -------------------------------------


@pytest.mark.parametrize("cut", ['{"city": "Par', '{"city": "Paris", "days": 3'])
def test_tool_block_still_open_at_max_tokens_returns_a_truncated_input_silently_cd117(cut):
    start, *deltas, _stop = synth.tool_use_block(0, "get_weather", [cut])
    body = joined([synth.message_start(), start, *deltas, synth.message_delta("max_tokens"), synth.MESSAGE_STOP])
    message = consume(client_for(body))  # no content_block_stop, and no error either
    assert message.stop_reason == "max_tokens"
    returned = json.dumps(message.content[0].input)
    findings = our_findings(body)
    assert sorted(f.code for f in findings) == ["CD106", "CD117"]
    (cd117,) = (f for f in findings if f.code == "CD117")
    assert cd117.message.startswith(
        "Tool block 0 (tool_use get_weather) has no content_block_stop before message_delta"
    )
    assert f"the SDK raises nothing and returns input={returned}." in cd117.message


def test_incomplete_tool_json_at_block_stop_says_what_the_sdk_returns_cd117():
    body = joined(
        [synth.message_start(), *synth.tool_use_block(0, "t", ['{"a": 1, "b": "x']), synth.message_delta("tool_use")]
    )
    body += synth.MESSAGE_STOP
    returned = json.dumps(consume(client_for(body)).content[0].input)
    (finding,) = our_findings(body)
    assert returned == '{"a": 1}' and finding.message.endswith(
        f"; the SDK raises nothing and returns input={returned}."
    )


def test_stream_cut_before_message_start_makes_get_final_message_assert_cd104():
    body = joined(EVENTS[1:5])  # the blocks' events, and no message_start before them
    with client_for(body).messages.stream(**KWARGS) as stream:
        assert [event.type for event in stream] == ["content_block_start", "content_block_delta", "content_block_delta"]
        with pytest.raises(AssertionError):
            stream.get_final_message()
    (cd104,) = (f for f in our_findings(body) if f.code == "CD104")
    assert "get_final_message() fails with a bare AssertionError" in cd104.message
    assert "partial message" not in cd104.message


def test_deltas_for_a_block_never_started_are_one_finding_with_a_count_cd105():
    missing = [synth.delta(0, {"type": "text_delta", "text": "x"})] * 40 + [synth.block_stop(0)]
    body = joined([synth.message_start(), *missing, synth.message_delta(), synth.MESSAGE_STOP])
    with pytest.raises(IndexError):  # at the first of them: the user never sees the other 40
        consume(client_for(body))
    (finding,) = our_findings(body)
    assert finding.code == "CD105" and finding.event == 2
    assert finding.message.endswith("IndexError: list index out of range (and 40 more like it).")


BETA_BLOCKS = [
    synth.message_start(),
    synth.block_start(0, {"type": "compaction", "content": None}),
    synth.delta(0, {"type": "compaction_delta", "content": "Summary of the earlier turns."}),
    synth.block_stop(0),
    synth.message_delta(),
    synth.MESSAGE_STOP,
]


def test_beta_types_on_the_plain_client_become_text_blocks_with_no_text_cd116():
    body = joined(BETA_BLOCKS)
    block = consume(client_for(body)).content[0]
    assert isinstance(block, anthropic.types.TextBlock) and block.type == "compaction" and block.text is None
    messages = [f.message for f in our_findings(body)]
    assert len(messages) == 2  # the block and the delta
    assert messages[0].startswith("Content block type 'compaction' is a beta type")
    assert "TextBlock" in messages[0] and ".text is None" in messages[0]


def test_a_beta_request_is_checked_against_the_beta_types_cd116():
    """As the SDK sends it: compaction is a beta type (parsed as such, not reported); a type not even
    the beta namespace knows is reported, and comes back as a text block with no text."""
    sent: list[Request] = []
    hologram = [synth.block_start(1, {"type": "hologram"}), synth.block_stop(1)]
    body = joined([*BETA_BLOCKS[:4], *hologram, *BETA_BLOCKS[4:]])
    with client_for(body, sent=sent).beta.messages.stream(**KWARGS, betas=["compact-2026-01-12"]) as stream:
        compaction, unknown = stream.get_final_message().content
    assert type(compaction).__name__ == "BetaCompactionBlock" and compaction.content == "Summary of the earlier turns."
    assert isinstance(unknown, anthropic.types.beta.BetaTextBlock) and unknown.text is None
    (finding,) = our_findings(body, request=sent[0])  # the request exactly as the SDK sent it
    assert finding.code == "CD116" and finding.message.startswith("Unknown content block type 'hologram' (not in ")
    assert "beta types" in finding.message
