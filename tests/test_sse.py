"""The SSE decoder (claude_doctor.sse): spec-exact framing, split-anywhere invariance, honest reporting
of what a stream got wrong, bounded memory, and agreement with the SDK's decoder on valid streams."""

from __future__ import annotations

import itertools
import json
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_doctor import synth
from claude_doctor.sse import LONG_LINE, SSEDecoder, SSEEvent, _split

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode(chunks, max_event_bytes: int | None = None):
    """Feed ``chunks`` (t = chunk index); return (events, tail, decoder)."""
    d = SSEDecoder() if max_event_bytes is None else SSEDecoder(max_event_bytes)
    events: list[SSEEvent] = []
    for n, chunk in enumerate(chunks):
        events += d.feed(chunk, float(n))
    return events, d.close(), d


def key(events, with_end: bool = True):
    return [
        (e.name, e.data, e.offset, e.end if with_end else None, e.id, e.retry, e.invalid_utf8_at, e.oversize)
        for e in events
    ]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def api_stream(words=None) -> list[bytes]:
    return synth.text_message(words or synth.WORDS)


STREAM = b"".join(api_stream())


# -- splitting invariance ------------------------------------------------------------------------


def test_whole_stream_decodes_to_the_api_events_with_exact_offsets():
    events, tail, d = decode([STREAM])
    assert tail is None and not d.bom
    assert [e.name for e in events] == [json.loads(e.data)["type"] for e in events]
    assert [e.name for e in events][:2] == ["message_start", "ping"] and events[-1].name == "message_stop"
    # offsets are exact byte positions: each event's bytes are the wire event
    wire = api_stream()
    assert len(events) == len(wire)
    for ev, raw in zip(events, wire):
        assert STREAM[ev.offset : ev.end] == raw
    assert [e.number for e in events] == list(range(1, len(events) + 1))
    text = "".join(json.loads(e.data)["delta"]["text"] for e in events if e.name == "content_block_delta")
    assert text == "".join(synth.WORDS)


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_byte_by_byte_random_and_per_event_splits_give_identical_events(eol):
    data = STREAM.replace(b"\n", eol)
    whole = key(decode([data])[0])
    assert len(whole) == len(api_stream())
    per_event = [e.replace(b"\n", eol) for e in api_stream()]
    assert key(decode(per_event)[0]) == whole
    rng = random.Random(7)
    for _ in range(20):
        assert key(decode(split_at(data, [rng.randrange(len(data)) for _ in range(40)]))[0], eol != b"\r\n") == key(
            decode([data])[0], eol != b"\r\n"
        )
    assert key(decode(bytewise(data))[0], eol != b"\r\n") == key(decode([data])[0], eol != b"\r\n")


@FAST
@given(cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=60))
def test_any_split_of_a_stream_gives_the_same_events(cuts):
    assert key(decode(split_at(STREAM, cuts))[0]) == key(decode([STREAM])[0])


def test_events_arrive_with_the_chunk_that_completed_them():
    d = SSEDecoder()
    assert d.feed(b"event: ping\ndata: {}\n", 1.5) == []
    (ev,) = d.feed(b"\n", 2.5)
    assert (ev.name, ev.data, ev.t) == ("ping", "{}", 2.5)


# -- line endings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_each_line_ending_alone(eol):
    data = b"event: a" + eol + b"data: 1" + eol + eol + b"event: b" + eol + b"data: 2" + eol + eol
    events, tail, _ = decode([data])
    assert [(e.name, e.data) for e in events] == [("a", "1"), ("b", "2")]
    assert tail is None
    assert events[1].offset == len(b"event: a" + eol + b"data: 1" + eol + eol)


def test_mixed_line_endings_in_one_stream():
    data = b"event: a\r\ndata: 1\n\revent: b\rdata: 2\r\n\nevent: c\ndata: 3\r\r"
    events, tail, _ = decode([data])
    assert [(e.name, e.data) for e in events] == [("a", "1"), ("b", "2"), ("c", "3")]
    assert tail is None
    assert key(decode(bytewise(data))[0], with_end=False) == key(events, with_end=False)


def test_crlf_split_across_chunks_is_one_line_ending_not_two():
    # if the CR and the LF were two terminators, the LF would be a blank line and dispatch early
    events, _, _ = decode([b"event: a\r", b"\ndata: 1\r", b"\n\r", b"\n"])
    assert [(e.name, e.data) for e in events] == [("a", "1")]
    events, _, _ = decode([b"data: 1\r", b"\ndata: 2\r\n\r\n"])
    assert [e.data for e in events] == ["1\n2"]


def test_cr_only_stream_final_event_is_dispatched_not_lost():
    """A CR-terminated stream's last event ends in ``\\r\\r``: it had its blank line, so it is an
    event, not a tail (bug fixed: the held-back final CR was processed in close() and dropped)."""
    data = b"event: message_stop\rdata: {}\r\r"
    events, tail, _ = decode([data])
    assert [(e.name, e.data) for e in events] == [("message_stop", "{}")]
    assert tail is None
    events, tail, _ = decode(bytewise(data))
    assert [(e.name, e.data) for e in events] == [("message_stop", "{}")]
    assert tail is None


def test_only_cr_lf_and_crlf_end_lines():
    odd = "a\u2028b\u0085c\x0bd\x0ce\x1cf"
    events, _, _ = decode([f"data: {odd}\n\n".encode()])
    assert [e.data for e in events] == [odd]


# -- comments, fields, dispatch --------------------------------------------------------------------


def test_comments_are_ignored_and_a_comment_only_block_dispatches_nothing():
    data = b": keep-alive\n\n:\n\nevent: a\n: inside\ndata: 1\n\n"
    events, tail, _ = decode([data])
    assert [(e.name, e.data) for e in events] == [("a", "1")]
    assert tail is None


def test_field_parsing_per_spec():
    data = (
        b"data:no-space\n\n"  # no space after the colon
        b"data:  two spaces\n\n"  # only one leading space is removed
        b"data\n\n"  # no colon: a field with an empty value
        b"data: a\ndata:\ndata: b\n\n"  # joined with LF
        b"event: x\nfoo: bar\ndata: 1\n\n"  # unknown fields ignored
        b"event:\ndata: 2\n\n"  # an empty event name stays empty
    )
    events, _, _ = decode([data])
    assert [(e.name, e.data) for e in events] == [
        (None, "no-space"),
        (None, " two spaces"),
        (None, ""),
        (None, "a\n\nb"),
        ("x", "1"),
        ("", "2"),
    ]


def test_an_event_without_data_is_still_dispatched_with_data_none():
    events, _, _ = decode([b"event: message_stop\n\n"])
    assert [(e.name, e.data) for e in events] == [("message_stop", None)]


def test_id_is_the_last_event_id_and_persists_across_events():
    data = (
        b"id: 1\ndata: a\n\n"
        b"data: b\n\n"  # no id line: the last event ID is still 1
        b"id: x\x00y\ndata: c\n\n"  # contains NUL: ignored
        b"id\ndata: d\n\n"  # empty value resets it
        b"id: 7\n\n"  # an id-only block dispatches nothing, but sets the last event ID
        b"data: e\n\n"
    )
    events, _, _ = decode([data])
    assert [(e.data, e.id) for e in events] == [("a", "1"), ("b", "1"), ("c", "1"), ("d", ""), ("e", "7")]


def test_retry_accepts_ascii_digits_only():
    data = (
        b"retry: 3000\ndata: a\n\n"
        b"retry: +5\ndata: b\n\n"
        b"retry:  12\ndata: c\n\n"
        b"retry: 1a\ndata: d\n\n"
        b"retry: \xd9\xa1\ndata: e\n\n"  # ARABIC-INDIC DIGIT ONE is a digit, not an ASCII digit
        b"retry\ndata: f\n\n"
        b"retry: 10\n\n"  # a retry-only block dispatches no event
    )
    events, tail, _ = decode([data])
    assert [(e.data, e.retry) for e in events] == [
        ("a", 3000),
        ("b", None),
        ("c", None),
        ("d", None),
        ("e", None),
        ("f", None),
    ]
    assert tail is None


# -- BOM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_bom_is_stripped_and_reported_even_when_split(pieces):
    data = b"\xef\xbb\xbfevent: message_start\ndata: {}\n\n"
    chunks = [data[:1], data[1:2], data[2:]] if pieces == 3 else [data[:2], data[2:]] if pieces == 2 else [data]
    events, _, d = decode(chunks)
    assert d.bom is True
    assert [(e.name, e.data) for e in events] == [("message_start", "{}")]
    assert events[0].offset == 3  # offsets count the BOM's bytes, so they match the raw body


def test_only_one_bom_is_stripped_and_a_late_bom_is_not_reported():
    events, _, d = decode([b"\xef\xbb\xbf\xef\xbb\xbfevent: a\ndata: 1\n\n"])
    assert d.bom is True
    assert [(e.name, e.data) for e in events] == [(None, "1")]  # "\ufeffevent" is an unknown field
    events, _, d = decode([b"data: 1\n\n\xef\xbb\xbfdata: 2\n\n"])
    assert d.bom is False


def test_a_lone_bom_prefix_at_eof_is_not_lost():
    events, tail, d = decode([b"\xef\xbb"])
    assert events == [] and not d.bom
    assert tail is not None and tail.lines_complete is False and tail.bytes == 2


# -- UTF-8 -----------------------------------------------------------------------------------------


def test_multibyte_characters_split_at_every_byte():
    text = "é€😀 日本語"
    data = b"event: content_block_delta\ndata: " + text.encode() + b"\n\n"
    for cut in range(1, len(data)):
        events, _, _ = decode([data[:cut], data[cut:]])
        assert [(e.name, e.data, e.invalid_utf8_at) for e in events] == [("content_block_delta", text, None)]
    events, _, _ = decode(bytewise(data))
    assert events[0].data == text


@pytest.mark.parametrize(
    "body, bad",
    [
        (b"event: x\ndata: ab\xffc\n\n", b"\xff"),  # the API's shape: event line first
        (b"data:\xff\n\n", b"\xff"),  # no space after the colon
        (b"event: a\xffb\ndata: x\n\n", b"\xff"),  # in the event name
        (b"data: a\ndata: b\xff\n\n", b"\xff"),  # in the second data line
        (b"event:x\r\ndata:a\r\ndata\r\ndata:  \xe2\x82\n\n", b"\xe2"),  # a truncated character
        (b'\xef\xbb\xbfdata: ok\n\n:c\nevent: y\nid: 1\ndata: {"t":"\xc3("}\n\n', b"\xc3"),
    ],
)
def test_invalid_utf8_is_replaced_and_reported_at_its_byte_offset(body, bad):
    events, _, _ = decode([body])
    flagged = [e for e in events if e.invalid_utf8_at is not None]
    assert len(flagged) == 1
    assert flagged[0].invalid_utf8_at == body.index(bad)
    assert "\ufffd" in (flagged[0].data or "") + (flagged[0].name or "")
    # and the same offset whatever the chunking
    assert key(decode(bytewise(body))[0], with_end=False) == key(events, with_end=False)


def test_stream_cut_inside_a_character_is_a_tail_not_an_error():
    data = 'event: content_block_delta\ndata: {"text":"é'.encode()[:-1]
    events, tail, _ = decode([data])
    assert events == []
    assert tail is not None and tail.lines_complete is False and tail.bytes == len(data)


# -- end of input ------------------------------------------------------------------------------------


def test_final_event_without_blank_line_is_a_complete_tail():
    data = b'event: ping\ndata: {}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n'
    events, tail, _ = decode([data])
    assert [e.name for e in events] == ["ping"]
    assert tail is not None and tail.lines_complete is True
    assert (tail.event.name, tail.event.data) == ("message_stop", '{"type":"message_stop"}')
    assert tail.bytes == len(data) - len(b"event: ping\ndata: {}\n\n")
    assert tail.event.offset == len(b"event: ping\ndata: {}\n\n")


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"])
def test_final_event_without_blank_line_other_endings(eol):
    events, tail, _ = decode([b"event: message_stop" + eol + b"data: {}" + eol])
    assert events == []
    assert tail.lines_complete is True and tail.event.name == "message_stop"


def test_connection_cut_mid_line_is_an_incomplete_tail():
    data = b'event: ping\ndata: {}\n\nevent: content_block_delta\ndata: {"type":"content_bl'
    events, tail, _ = decode([data])
    assert [e.name for e in events] == ["ping"]
    assert tail is not None and tail.lines_complete is False
    assert tail.bytes == len(b'event: content_block_delta\ndata: {"type":"content_bl')


def test_clean_end_has_no_tail_and_trailing_comment_is_not_an_event():
    assert decode([STREAM])[1] is None
    events, tail, _ = decode([b"data: 1\n\n: bye\n"])
    assert [e.data for e in events] == ["1"]
    assert tail is None or tail.event is None


# -- memory ----------------------------------------------------------------------------------------


def test_oversize_event_is_flagged_and_memory_stays_bounded():
    cap = 64 * 1024
    d = SSEDecoder(max_event_bytes=cap)
    out = d.feed(b"event: ping\ndata: {}\n\nevent: content_block_delta\ndata: ", 0.0)
    assert [e.name for e in out] == ["ping"]
    block = b"x" * 8192
    tracemalloc.start()
    try:
        for _ in range(2000):  # 16 MB of one line
            assert d.feed(block, 1.0) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * cap, peak
    out = d.feed(b"\n\nevent: message_stop\ndata: {}\n\n", 2.0)
    assert [(e.name, e.oversize) for e in out] == [("content_block_delta", True), ("message_stop", False)]
    assert out[0].data is None or len(out[0].data) <= cap
    assert out[1].offset == d.bytes_seen - len(b"event: message_stop\ndata: {}\n\n")


def test_many_data_lines_over_the_cap_are_flagged_too():
    cap = 1000
    lines = b"".join(b"data: " + b"y" * 90 + b"\n" for _ in range(50))
    events, _, _ = decode([lines + b"\n" + b"data: ok\n\n"], max_event_bytes=cap)
    assert [e.oversize for e in events] == [True, False]
    assert len(events[0].data or "") <= cap and events[1].data == "ok"


def test_oversize_line_at_eof_is_an_incomplete_oversize_tail():
    events, tail, _ = decode([b"data: ", b"z" * 5000, b"z" * 5000], max_event_bytes=1024)
    assert events == []
    assert tail.lines_complete is False


# -- robustness and agreement with the SDK ---------------------------------------------------------


@FAST
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=20), cap=st.sampled_from([16, 4096]))
def test_arbitrary_bytes_never_raise_and_split_invariant(data, cuts, cap):
    events, tail, _ = decode(split_at(data, cuts), max_event_bytes=cap)
    whole, whole_tail, _ = decode([data], max_event_bytes=cap)
    if cap == 4096:  # below the cap, splitting never changes what is seen
        assert key(events, with_end=False) == key(whole, with_end=False)
        assert (tail is None) == (whole_tail is None)
    for e in events:
        assert 0 <= e.offset <= e.end <= len(data)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def api_streams(draw):
    """Valid API-shaped streams (no BOM, no data-only events) with random line endings and comments."""
    words = draw(st.lists(_TEXT, min_size=0, max_size=6))
    events = [
        synth.message_start(),
        *synth.text_block(0, words),
        *(synth.tool_use_block(1, "f", draw(st.lists(_TEXT, max_size=3))) if draw(st.booleans()) else []),
        synth.message_delta(),
        synth.MESSAGE_STOP,
    ]
    for _ in range(draw(st.integers(0, 3))):
        events.insert(draw(st.integers(0, len(events))), synth.PING)
    for _ in range(draw(st.integers(0, 3))):
        events.insert(draw(st.integers(0, len(events))), b": keep-alive " + draw(_TEXT).encode() + b"\n\n")
    lines = b"".join(events).split(b"\n")
    eols = [b"\n", b"\r", b"\r\n"]
    mode = draw(st.sampled_from(["lf", "cr", "crlf", "mixed"]))
    if mode == "mixed":
        out = b""
        for line in lines[:-1]:
            # a CR then an LF right after it would be one CRLF, not two line endings
            choices = eols[1:] if not line and out.endswith(b"\r") else eols
            out += line + draw(st.sampled_from(choices))
    else:
        out = lines[0] + b"".join({"lf": b"\n", "cr": b"\r", "crlf": b"\r\n"}[mode] + line for line in lines[1:])
    return out


@FAST
@given(stream=api_streams(), cuts=st.lists(st.integers(0, 10**5), max_size=30))
def test_same_events_as_the_sdk_decoder(stream, cuts):
    from anthropic._streaming import SSEDecoder as SDKDecoder

    chunks = split_at(stream, cuts)
    ours, tail, d = decode(chunks)
    theirs = list(SDKDecoder().iter_bytes(iter(chunks)))
    assert [(e.name, e.data) for e in ours] == [(s.event, s.data) for s in theirs]
    assert tail is None and not d.bom
    assert all(e.invalid_utf8_at is None and not e.oversize for e in ours)
    names = [e.name for e in ours if e.name != "ping"]
    assert names[0] == "message_start" and names[-1] == "message_stop"


# -- long lines (big text or tool-input deltas take a find-per-line path) ------------------------


@FAST
@given(
    parts=st.lists(
        st.one_of(
            st.binary(max_size=8),
            st.sampled_from([b"\n", b"\n\n", b"\n\n\n", b"data: ", b"event: x"]),
            st.integers(1, 3 * LONG_LINE).map(lambda n: b"y" * n),
        ),
        max_size=40,
    ),
    sep=st.sampled_from([b"\n", b"\n\n"]),
    long_first=st.booleans(),
)
def test_the_long_line_splitter_splits_as_bytes_split(parts, sep, long_first):
    data = (b"z" * 4 * LONG_LINE if long_first else b"") + b"".join(parts)
    assert _split(data, sep) == data.split(sep)


@st.composite
def long_line_streams(draw):
    """API-shaped LF streams where some deltas are kilobytes long, with multi-line data, comments and
    runs of blank lines between events."""
    events = [synth.message_start()]
    for _ in range(draw(st.integers(1, 8))):
        size = draw(st.sampled_from([3, 200, LONG_LINE, 3 * LONG_LINE, 20 * LONG_LINE]))
        events.append(
            synth.sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "w" * size}},
            )
        )
        extra = draw(st.sampled_from([b"", b"\n", b": keep-alive\n\n", b"data: a\ndata: " + b"b" * size + b"\n\n"]))
        events.append(extra)
    events.append(synth.MESSAGE_STOP)
    return b"".join(events)


@FAST
@given(stream=long_line_streams(), cuts=st.lists(st.integers(0, 10**5), max_size=30))
def test_long_lines_give_the_same_events_however_split_and_as_the_sdk(stream, cuts):
    from anthropic._streaming import SSEDecoder as SDKDecoder

    chunks = split_at(stream, cuts)
    ours, tail, _ = decode(chunks)
    assert key(ours) == key(decode([stream])[0])
    theirs = list(SDKDecoder().iter_bytes(iter(chunks)))
    assert [(e.name, e.data) for e in ours] == [(s.event, s.data) for s in theirs]
    assert tail is None
