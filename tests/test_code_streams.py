"""CD211-CD216: using the results of `create` and `stream` the wrong way, through the real CLI."""

from __future__ import annotations

from tests.code_cases.helpers import check, lint, write


def test_stream_helpers_iteration_and_with_on_a_message(tmp_path):
    source = """
        from anthropic import Anthropic, AsyncAnthropic

        client = Anthropic()


        def show(prompt):
            msg = client.messages.create(model="m", max_tokens=64, messages=[])
            for text in msg.text_stream:
                print(text)
            for event in msg:
                print(event.type)
            with client.messages.create(model="m", max_tokens=64, messages=[], stream=False) as m2:
                pass
            return msg.get_final_message(), msg.content


        async def ashow(aclient: AsyncAnthropic):
            bot = AsyncAnthropic()
            reply = await bot.messages.create(model="m", max_tokens=64, messages=[])
            async for event in reply:
                print(event)
    """
    assert lint(tmp_path, source) == [("CD211", 8), ("CD211", 10), ("CD211", 12), ("CD211", 14), ("CD211", 20)]


def test_helpers_on_the_raw_stream_of_create_stream_true(tmp_path):
    source = """
        import anthropic

        client = anthropic.Anthropic()
        stream = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
        for text in stream.text_stream:
            print(text)
        final = stream.get_final_message()


        class Chat:
            def __init__(self):
                self.client = anthropic.AsyncAnthropic()

            async def go(self):
                raw = await self.client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
                return await raw.get_final_text()
    """
    assert lint(tmp_path, source) == [("CD212", 5), ("CD212", 7), ("CD212", 16)]


def test_stream_used_without_with(tmp_path):
    source = """
        from contextlib import ExitStack
        from anthropic import Anthropic, AsyncAnthropic

        client = Anthropic()
        aclient = AsyncAnthropic()

        for event in client.messages.stream(model="m", max_tokens=64, messages=[]):
            print(event)
        manager = client.messages.stream(model="m", max_tokens=64, messages=[])
        print(manager.text_stream)
        client.messages.stream(model="m", max_tokens=64, messages=[])


        async def relay():
            s = await aclient.messages.stream(model="m", max_tokens=64, messages=[])
            return s


        def ok(stack: ExitStack):
            entered = stack.enter_context(client.messages.stream(model="m", max_tokens=64, messages=[]))
            with manager as stream:
                print(stream.get_final_text())
            return client.messages.stream(model="m", max_tokens=64, messages=[])
    """
    assert lint(tmp_path, source) == [("CD213", 7), ("CD213", 10), ("CD213", 11), ("CD213", 15)]


def test_stream_kwarg_on_messages_stream(tmp_path):
    source = """
        from anthropic import Anthropic

        client = Anthropic()
        with client.messages.stream(model="m", max_tokens=64, messages=[], stream=True) as s:
            pass
        with client.messages.stream(
            model="m",
            stream=True,
            max_tokens=64,
            messages=[],
        ) as s:
            pass
        raw = client.messages.create(model="m", max_tokens=64, messages=[], stream=True)
    """
    assert lint(tmp_path, source) == [("CD214", 4), ("CD214", 6)]


def test_missing_max_tokens_unless_kwargs_are_forwarded(tmp_path):
    source = """
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()


        async def ask(prompt, **options):
            await client.messages.create(model="m", messages=[{"role": "user", "content": prompt}])
            async with client.messages.stream(model="m", messages=[]) as s:
                pass
            await client.messages.create(model="m", messages=[], **options)
            await client.messages.count_tokens(model="m", messages=[])
            await client.beta.messages.create(model="m", messages=[])
    """
    assert lint(tmp_path, source) == [("CD215", 7), ("CD215", 8), ("CD215", 12)]


def test_long_non_streaming_request(tmp_path):
    source = """
        from anthropic import Anthropic

        MAX = 32000
        client = Anthropic()
        slow = Anthropic(timeout=900)

        client.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=[])
        client.messages.create(model="claude-sonnet-4-5", max_tokens=MAX, messages=[])
        client.messages.create(model="claude-opus-4-1@20250805", max_tokens=10000, messages=[])
        client.messages.create(model="claude-sonnet-4-5", max_tokens=21333, messages=[])
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=[], stream=True)
        client.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=[], timeout=900)
        slow.messages.create(model="claude-sonnet-4-5", max_tokens=64000, messages=[])
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64000, messages=[]) as s:
            pass
    """
    assert lint(tmp_path, source) == [("CD216", 7), ("CD216", 8), ("CD216", 9)]


def test_findings_carry_column_message_and_corrected_line(tmp_path):
    path = write(
        tmp_path,
        """
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()


        async def main():
            with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
                pass
        """,
    )
    finding = check(path).json["findings"][0]
    assert (finding["code"], finding["line"], finding["column"]) == ("CD202", 7, 5)
    assert finding["severity"] == "error" and finding["name"] == "async-stream-sync-with"
    assert "AsyncAnthropic" in finding["message"]
    assert "async with client.messages.stream(" in finding["fix"]
