"""CD221: reading ``event.delta`` on every event of a stream. The first event of every stream is
``message_start``, which has no ``delta``; the rule fires only when nothing in the loop tells the
events apart or catches the error (in-process, through the same entry point as the CLI)."""

from __future__ import annotations

import textwrap

import pytest

from claude_doctor.checks.code.checker import Options
from claude_doctor.checks.code.runner import check_source

HEAD = """
from contextlib import suppress
from anthropic import Anthropic, AsyncAnthropic
client = Anthropic()
aclient = AsyncAnthropic()
ASK = dict(model="m", max_tokens=64, messages=[])
"""


def found(body: str) -> list[tuple[str, int, str]]:
    text = textwrap.dedent(HEAD) + textwrap.dedent(body)
    return [(f.code, f.line - len(HEAD.splitlines()), f.message) for f in check_source(text, "app.py", Options(2.0))]


def codes(body: str) -> list[tuple[str, int]]:
    return [(code, line) for code, line, _ in found(body)]


def test_raw_events_read_without_a_type_check_fail_on_message_start():
    (finding,) = found(
        """
        stream = client.messages.create(**ASK, stream=True)
        for event in stream:
            print(event.delta.text, end="")
        """
    )
    code, line, message = finding
    assert (code, line) == ("CD221", 4)
    assert "'RawMessageStartEvent' object has no attribute 'delta'" in message
    assert f"the Stream from line {2 + len(HEAD.splitlines())}" in message  # where `create` is


def test_the_events_of_messages_stream_and_of_async_streams_too():
    assert codes(
        """
        with client.messages.stream(**ASK) as stream:
            for event in stream:
                text = event.delta.text
                print(f"{event.delta.text}")

        async def main():
            async for event in await aclient.messages.create(**ASK, stream=True):
                yield event.delta.text
        """
    ) == [("CD221", 4), ("CD221", 9)]


@pytest.mark.parametrize(
    "loop",
    [
        # the type is checked, in any of the usual ways
        'for event in stream:\n    if event.type == "content_block_delta":\n        print(event.delta.text)',
        "for event in stream:\n    if isinstance(event, RawContentBlockDeltaEvent):\n        print(event.delta.text)",
        'for event in stream:\n    delta = getattr(event, "delta", None)\n    print(event.delta)',
        "for event in stream:\n    match event:\n        case _:\n            print(event.delta.text)",
        # the error is caught in the loop
        "for event in stream:\n    try:\n        print(event.delta.text)\n    except AttributeError:\n        pass",
        "for event in stream:\n    with suppress(AttributeError):\n        print(event.delta.text)",
        # the event is handed on, rebound, or read only in a function that may never run
        "for event in stream:\n    handle(event)\n    print(event.delta.text)",
        "for event in stream:\n    event = first_delta()\n    print(event.delta.text)",
        "for event in stream:\n    later = lambda: event.delta.text",
        # not events: text, or something the checker cannot prove is a stream
        "for text in client.messages.stream(**ASK).__enter__().text_stream:\n    print(text.delta)",
        "for event in unknown_stream():\n    print(event.delta.text)",
        "for i, event in enumerate(stream):\n    print(event.delta.text)",
    ],
)
def test_silent_when_the_loop_tells_events_apart_or_cannot_be_proved(loop):
    assert codes("stream = client.messages.create(**ASK, stream=True)\n" + loop + "\n") == []


def test_a_sync_for_over_an_async_stream_is_cd203_alone():
    assert codes(
        """
        async def main():
            stream = await aclient.messages.create(**ASK, stream=True)
            for event in stream:
                print(event.delta.text)
        """
    ) == [("CD203", 4)]
