"""The stream analysis takes the API's plain events in bulk (``sse.EventRun``), and skips parsing the
deltas no check reads when their bytes prove what they are (``fastjson.string_bodies``). These tests hold
it to the rule it must keep: the findings are exactly those of the event-by-event path.

The oracle: the same stream with CRLF line ends, which the decoder reads line by line (no run, no skipped
parse), must give the same findings, event numbers and times; and so must the stream cut into 1-byte
chunks. Hand-made cases cover what a delta's bytes can hide from a quick look."""

from __future__ import annotations

import json
import random
from typing import ClassVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_doctor import synth
from claude_doctor.checks.stream import Check, StreamAnalyzer, check_records
from claude_doctor.config import Config
from claude_doctor.fastjson import string_bodies
from claude_doctor.recording.model import Chunk, End, Request, Response
from claude_doctor.sse import EventRun, SSEDecoder, data_between

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def findings(body: bytes, chunks: list[bytes] | None = None, observers: tuple[type[Check], ...] = ()) -> list[tuple]:
    records = [
        Request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json={"stream": True}),
        Response(0, 0.1, 200, "OK", None, [("content-type", "text/event-stream")]),
    ]
    records += [Chunk(0, 0.2, c) for c in chunks or [body]]  # one time for all: any cut gives the same
    records.append(End(0, 1.0, "eof"))
    analyzer = StreamAnalyzer("s", Config(), observers)
    for record in records:
        analyzer.add(record)
    return [(f.rule.code, f.message, f.event, f.t) for f in analyzer.finish([])]


def by_lines(body: bytes) -> list[tuple]:
    """The oracle: CRLF line ends send every event through the line-by-line path."""
    return findings(body.replace(b"\n", b"\r\n"))


def cut(body: bytes, seed: int) -> list[bytes]:
    rnd, out, i = random.Random(seed), [], 0
    while i < len(body):
        step = rnd.randint(1, 300)
        out.append(body[i : i + step])
        i += step
    return out


def message(*blocks: list[bytes]) -> list[bytes]:
    events = [synth.message_start()]
    for block in blocks:
        events += block
    return [*events, synth.message_delta(), synth.MESSAGE_STOP]


def delta(index: int, data: str) -> bytes:
    return b"event: content_block_delta\ndata: " + data.encode() + b"\n\n"


TEXT = synth.text_block(0, ["Hello", " wor", "ld", " café 😀", ' say "hi"', " back\\slash"])
TOOL = synth.tool_use_block(1, "get_weather", ['{"ci', 'ty": "Par', 'is"}'])


def test_a_clean_stream_is_clean_on_both_paths():
    body = b"".join(message(TEXT, TOOL))
    assert findings(body) == by_lines(body) == []


# what a delta's bytes can hide: each is a problem the checks must see, whichever path reads it
TRICKS = {
    "index is a float": '{"type":"content_block_delta","index":0.0,"delta":{"type":"text_delta","text":"x"}}',
    "index is true": '{"type":"content_block_delta","index":true,"delta":{"type":"text_delta","text":"x"}}',
    "index has a leading zero": '{"type":"content_block_delta","index":00,"delta":{"type":"text_delta","text":"x"}}',
    "string ends in a backslash": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x\\"}}',
    "an unescaped quote": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"b"}}',
    "an escaped backslash, then a quote": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    '"text":"a\\\\","type":"odd_delta"}}',
    "a duplicate type in the delta": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    '"type":"odd_delta","text":"x"}}',
    "a duplicate type in the event": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    '"text":"x"},"type":"content_block_stop"}',
    "a raw tab": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\tb"}}',
    "a lone surrogate escape": '{"type":"content_block_delta","index":0,"delta":{"type":"odd_delta","text":"\\ud800"}}',
    "an unknown escape": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\\q"}}',
    "an unknown delta type": '{"type":"content_block_delta","index":0,"delta":{"type":"odd_delta","text":"x"}}',
    "a block that never started": '{"type":"content_block_delta","index":7,"delta":{"type":"text_delta","text":"x"}}',
    "the start and the end overlap": '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"}}',
    "not an object": '[{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}]',
}


@pytest.mark.parametrize("where", [0, 2, -1])
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_delta_that_only_looks_plain_is_seen_on_the_fast_path_too(trick, where):
    deltas = [delta(0, json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta",
              "text": f"w{n}"}}, separators=(",", ":"))) for n in range(5)]  # fmt: skip
    deltas[where] = delta(0, TRICKS[trick])
    block = [synth.block_start(0, {"type": "text", "text": ""}), *deltas, synth.block_stop(0)]
    body = b"".join(message(block))
    expected = by_lines(body)
    assert expected, f"the case {trick!r} is no problem at all"
    assert findings(body) == expected
    assert findings(body, cut(body, 1)) == expected


def test_invalid_utf8_in_a_delta_is_reported_with_its_offset_on_both_paths():
    good = delta(0, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ab"}}')
    block = [synth.block_start(0, {"type": "text", "text": ""}), good, good.replace(b"ab", b"a\xff"), good]
    body = b"".join(message([*block, synth.block_stop(0)]))
    assert [f[0] for f in findings(body)] == ["CD113"] and findings(body) == findings(body, cut(body, 2))


# -- random streams: the fast path and the line-by-line path agree ------------------------------------

WORDS = ["a", "é", "😀", '"', "\\", "\t", "\n", "/", " ", "x y", "}}", '"}}']


def random_stream(rnd: random.Random) -> bytes:
    blocks = []
    for index in range(rnd.randint(1, 3)):
        n = rnd.randint(0, 40)
        kind = rnd.choice(["text", "thinking", "tool"])
        if kind == "text":
            blocks.append(synth.text_block(index, ["".join(rnd.choices(WORDS, k=3)) for _ in range(n)]))
        elif kind == "thinking":
            blocks.append(synth.thinking_block(index, [rnd.choice(WORDS) for _ in range(n)]))
        else:
            text = json.dumps({"q": "".join(rnd.choices(WORDS, k=n))})[
                : rnd.randint(0, 40) if rnd.random() < 0.3 else None
            ]
            blocks.append(synth.tool_use_block(index, "f", [text[i : i + 5] for i in range(0, len(text), 5)]))
    events = message(*blocks)
    for _ in range(rnd.randint(0, 3)):  # pings, a broken event, an event out of place
        j = rnd.randrange(1, len(events))
        events.insert(j, rnd.choice([synth.PING, b'event: ping\ndata: {"type": "ping"}\n\n']))
        if rnd.random() < 0.3:
            events[j] = events[rnd.randrange(len(events))].replace(
                b'"index":0', rnd.choice([b'"index":0.0', b'"index":1'])
            )
    return b"".join(events)


@FAST
@given(st.integers(0, 2**32))
def test_random_streams_give_the_same_findings_on_both_paths(seed):
    rnd = random.Random(seed)
    body = random_stream(rnd)
    expected = by_lines(body)
    assert findings(body) == expected
    assert findings(body, cut(body, seed)) == expected


class DeltaCounter(Check):
    """An observer that reads every delta: the analysis must then hand it each one, parsed."""

    events = frozenset({"content_block_delta"})
    seen: ClassVar[list[tuple[int, str]]] = []

    def on_event(self, ex, ev, kind, obj):
        DeltaCounter.seen.append((ev.number, obj["delta"]["type"]))


def test_an_observer_of_deltas_gets_every_one():
    DeltaCounter.seen = []
    body = b"".join(message(TEXT, TOOL))
    assert findings(body, cut(body, 3), observers=(DeltaCounter,)) == []
    numbers = [n for n, _ in DeltaCounter.seen]
    assert len(numbers) == 6 + 3 and numbers == sorted(numbers)


# -- the two bulk helpers, against a parser ------------------------------------------------------------

PIECES = st.sampled_from([b"a", b"\\", b'"', b"/", b"n", b"u", b"0", b"\x00", b"\x1f", b"\x7f", b"\t",
                          "é".encode(), "😀".encode(), b"\xff", b"\xed\xa0\x80", b"\xc3", b" "])  # fmt: skip


@FAST
@given(st.lists(st.lists(PIECES, max_size=8).map(b"".join), min_size=1, max_size=4))
def test_string_bodies_accepts_only_what_parses_as_a_json_string(bodies):
    def parses(body: bytes) -> bool:
        try:
            orjson.loads(b'"' + body + b'"')
        except orjson.JSONDecodeError:
            return False
        return True

    if string_bodies(b"\n".join(bodies)):
        assert all(parses(body) for body in bodies)
    elif all(parses(body) for body in bodies):
        assert any(b"\\u" in body.replace(b"\\\\", b"") for body in bodies)  # the one thing it does not look into


PING = b'event: ping\ndata: {"type": "ping"}'
NAMES = st.sampled_from([b"x", b"x", b"y", b"ping"])


@FAST
@given(
    st.lists(st.tuples(NAMES, st.lists(st.sampled_from([b"a", b"b", b"c", b'{"type": "ping"}']), max_size=3)),
             min_size=1, max_size=6),
    st.lists(st.sampled_from([b"a", b"b", b"c"]), max_size=2),
    st.lists(st.sampled_from([b"a", b"b", b"c"]), max_size=2),
    st.booleans(),
)  # fmt: skip
def test_data_between_is_the_middle_of_each_data_line(events, prefix, suffix, skip_pings):
    """Of every event, or of every event but the plain pings, when the others share the first's name."""
    prefix, suffix = b"data: " + b"".join(prefix), b"".join(suffix)
    blocks = [b"event: " + name + b"\ndata: " + b"".join(data) for name, data in events]
    body = b"".join(block + b"\n\n" for block in blocks)
    (run,) = SSEDecoder().feed_runs(body)
    assert run.__class__ is EventRun and run.events()[-1].end == len(body)
    assert run.names == [name.decode() for name, _ in events]  # pings among events of one name too
    pings = [block for block in blocks if block.startswith(b"event: ping\n")]
    region = run.without((PING,), len(pings))
    kept = [block for block in blocks if block not in pings]
    assert region == (b"\n\n".join(kept) if pings.count(PING) == len(pings) else None)
    if skip_pings and region is None:
        return
    if not skip_pings:
        region, kept = run.region, blocks
    lines = [block.split(b"\n")[1] for block in kept]
    fits = bool(kept) and all(
        x.startswith(prefix) and x.endswith(suffix) and len(x) >= len(prefix) + len(suffix) for x in lines
    )
    one_name = len({block.split(b"\n")[0] for block in kept}) == 1
    expected = b"\n".join(x[len(prefix) : len(x) - len(suffix)] for x in lines) if fits and one_name else None
    assert data_between(region, len(kept), prefix, suffix) == expected


def test_check_records_still_takes_a_plain_list():
    assert check_records([], "x", Config()) == []


# -- chunks taken together: a recording's chunks in a row are routed as joined runs -------------------


def timed_records(chunks: list[bytes], times: list[float]) -> list:
    return [
        Request(0, 0.0, "POST", "https://api.anthropic.com/v1/messages", [], json={"stream": True}),
        Response(0, 0.1, 200, "OK", None, [("content-type", "text/event-stream")]),
        *(Chunk(0, t, c) for c, t in zip(chunks, times)),
        End(0, times[-1] + 0.5 if times else 1.0, "eof"),
    ]


def one_by_one(records: list) -> list[tuple]:
    analyzer = StreamAnalyzer("s", Config())
    for record in records:
        analyzer.add(record)
    return [(f.rule.code, f.message, f.event, f.t) for f in analyzer.finish([])]


def together(records: list) -> list[tuple]:
    return [(f.rule.code, f.message, f.event, f.t) for f in check_records(records, "s", Config())]


@FAST
@given(st.integers(0, 2**32))
def test_chunks_taken_together_give_each_event_its_own_time(seed):
    """Every chunk its own time, some after a silence: the findings, with their event numbers and
    times, and the silences' "after event N", are those of the chunks taken one at a time."""
    rnd = random.Random(seed)
    body = random_stream(rnd)
    chunks = cut(body, seed)
    times, t = [], 0.2
    for _ in chunks:
        t += 40.0 if rnd.random() < 0.05 else rnd.random() / 100
        times.append(round(t, 4))
    records = timed_records(chunks, times)
    assert together(records) == one_by_one(records)


def test_a_silence_inside_chunks_taken_together_counts_the_events_before_it():
    block = synth.text_block(0, [f" w{n}" for n in range(40)])
    body = b"".join(message(block))
    chunks = cut(body, 5)
    times = [0.2 + n / 1000 + (45.0 if n >= len(chunks) // 2 else 0.0) for n in range(len(chunks))]
    found = together(timed_records(chunks, times))
    assert found == one_by_one(timed_records(chunks, times))
    (gap,) = [f for f in found if f[0] == "CD102"]
    events_before = b"".join(chunks[: len(chunks) // 2]).count(b"\n\n")
    assert f"after event {events_before} " in gap[1] and gap[2] == events_before


def test_joined_runs_are_their_events_in_order_each_at_its_chunk_time():
    deltas = synth.text_block(0, [f" w{n}" for n in range(12)])[1:-1]
    decoder, runs = SSEDecoder(), []
    for n, part in enumerate((deltas[:5], deltas[5:6], deltas[6:])):
        (run,) = decoder.feed_runs(b"".join(part), float(n))
        runs.append(run)
    joined = EventRun.joined(runs)
    expected = [ev for run in runs for ev in run.events()]
    got = joined.events()
    assert [(e.number, e.offset, e.end, e.t, e.raw) for e in got] == [
        (e.number, e.offset, e.end, e.t, e.raw) for e in expected
    ]
    assert [e.t for e in got] == [0.0] * 5 + [1.0] + [2.0] * 6


class ToolDeltaReader(Check):
    """An observer that reads the deltas of tool blocks, a run at a time, as the tool-input check does."""

    events = frozenset({"content_block_delta"})
    calls: ClassVar[list[int]] = []

    def ignores_delta(self, index):
        return index != 1

    def on_deltas(self, ex, index, deltas):
        ToolDeltaReader.calls.append(len(deltas))


def test_a_block_spread_over_many_chunks_reaches_its_reader_in_one_call():
    pieces = [f'{{"q": "{"x" * 300}"}}'[i : i + 3] for i in range(0, 308, 3)]
    body = b"".join(message(TEXT, synth.tool_use_block(1, "f", pieces)))
    chunks = [body[i : i + 40] for i in range(0, len(body), 40)]
    records = timed_records(chunks, [0.2 + n / 1000 for n in range(len(chunks))])
    config = Config(select=["CD102"])  # so that the observer is the block's only reader
    ToolDeltaReader.calls = []
    analyzer = StreamAnalyzer("s", config, observers=(ToolDeltaReader,))
    for record in records:
        analyzer.add(record)
    assert analyzer.finish() == [] and sum(ToolDeltaReader.calls) == len(pieces) and len(ToolDeltaReader.calls) > 10
    ToolDeltaReader.calls = []
    analyzer = StreamAnalyzer("s", config, observers=(ToolDeltaReader,))
    analyzer.add_chunks([r for r in records if isinstance(r, Chunk)])
    assert ToolDeltaReader.calls == [len(pieces)]
