"""CD201-CD207: asyncio mistakes around the Anthropic clients, through the real CLI."""

from __future__ import annotations

from tests.code_cases.helpers import CASES, check, found, lint, write


def test_official_tutorial_examples_are_clean():
    for name in ("tutorial_sync.py", "tutorial_async.py", "tutorial_raw_events.py"):
        result = check(CASES / name)
        assert result.code == 0, (name, result.stdout)
        assert result.json["findings"] == []


def test_sync_client_in_async_def_module_level_alias_and_fastapi(tmp_path):
    source = """
        import anthropic as ant
        from fastapi import FastAPI

        app = FastAPI()
        client = ant.Anthropic()


        @app.post("/chat")
        async def chat(prompt: str):
            message = client.messages.create(model="m", max_tokens=64, messages=[])
            return message.content[0].text


        @app.get("/stream")
        async def stream():
            with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                return s.get_final_text()
    """
    assert lint(tmp_path, source) == [("CD201", 10), ("CD201", 16)]


def test_sync_client_through_self_attribute_and_factory(tmp_path):
    source = """
        from anthropic import Anthropic as A


        def make_client():
            return A(max_retries=3)


        class Bot:
            def __init__(self):
                self.client = A()
                self.other = make_client()

            async def answer(self, q):
                first = self.client.messages.count_tokens(model="m", messages=[])
                return self.other.messages.create(model="m", max_tokens=5, messages=[])

            def answer_sync(self, q):
                return self.client.messages.create(model="m", max_tokens=5, messages=[])
    """
    assert lint(tmp_path, source) == [("CD201", 14), ("CD201", 15)]


def test_sync_client_not_reported_where_it_does_not_block_the_loop(tmp_path):
    source = """
        import asyncio
        import httpx
        from anthropic import Anthropic

        client = Anthropic()


        def ask(q):
            return client.messages.create(model="m", max_tokens=5, messages=[])


        async def handler(q, other):
            answer = await asyncio.to_thread(ask, q)
            loop = asyncio.get_running_loop()
            fut = loop.run_in_executor(None, lambda: client.messages.create(model="m", max_tokens=5, messages=[]))

            def nested():
                return client.messages.create(model="m", max_tokens=5, messages=[])

            async with httpx.AsyncClient() as client2:
                await client2.get("https://example.com")
            await other.messages.create(model="m", max_tokens=5, messages=[])
            return answer, fut, nested


        async def shadowed():
            client = make_async()
            await client.messages.create(model="m", max_tokens=5, messages=[])
    """
    assert lint(tmp_path, source) == []


def test_non_anthropic_client_variable_in_async_code_is_silent(tmp_path):
    source = """
        import openai

        client = openai.OpenAI()


        async def handler():
            return client.chat.completions.create(model="gpt", messages=[])
    """
    assert lint(tmp_path, source) == []


def test_with_over_async_stream_is_cd202_and_for_over_it_cd203(tmp_path):
    source = """
        from anthropic import AsyncAnthropic as AA

        client = AA()


        async def relay(prompt):
            with client.messages.stream(model="m", max_tokens=64, messages=[]) as stream:
                for text in stream.text_stream:
                    yield text


        class Service:
            def __init__(self):
                self.llm = AA()

            async def run(self):
                manager = self.llm.beta.messages.stream(model="m", max_tokens=64, messages=[])
                with manager as s:
                    pass
                async with self.llm.messages.stream(model="m", max_tokens=64, messages=[]) as s2:
                    for event in s2:
                        print(event.type)
                    texts = [t for t in s2.text_stream]
                raw = await self.llm.messages.create(model="m", max_tokens=64, messages=[], stream=True)
                for event in raw:
                    print(event)
    """
    assert lint(tmp_path, source) == [
        ("CD202", 7),
        ("CD202", 18),
        ("CD203", 8),
        ("CD203", 21),
        ("CD203", 23),
        ("CD203", 25),
    ]


def test_missing_await_when_used_or_discarded_not_when_passed_or_returned(tmp_path):
    source = """
        import asyncio
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()


        async def ask(q):
            message = client.messages.create(model="m", max_tokens=64, messages=[])
            print(message.content)
            client.messages.count_tokens(model="m", messages=[])
            for event in client.messages.create(model="m", max_tokens=64, messages=[], stream=True):
                pass
            first = client.messages.create(model="m", max_tokens=64, messages=[])[0]


        async def fine(q):
            results = await asyncio.gather(
                client.messages.create(model="m", max_tokens=64, messages=[]),
                client.messages.create(model="m", max_tokens=64, messages=[]),
            )
            task = asyncio.create_task(client.messages.create(model="m", max_tokens=64, messages=[]))
            pending = client.messages.create(model="m", max_tokens=64, messages=[])
            done = await pending
            return client.messages.create(model="m", max_tokens=64, messages=[])
    """
    assert lint(tmp_path, source) == [("CD204", 9), ("CD204", 10), ("CD204", 11), ("CD204", 13)]


def test_missing_await_only_on_methods_that_return_a_coroutine(tmp_path):
    """Tool runners, paginators, workers, client copies and streaming-response managers are not
    coroutines in the installed SDK; raw-response and resource methods are."""
    source = """
        from anthropic import AsyncAnthropic, AsyncAnthropicBedrock

        client = AsyncAnthropic()


        async def fine(tools, options):
            runner = client.beta.messages.tool_runner(model="m", max_tokens=64, messages=[], tools=tools)
            async for message in runner:
                print(message)
            async for event in client.beta.sessions.events.list("s"):
                print(event)
            print(client.with_options(max_retries=1).messages)
            print(client.beta.environments.work.worker(environment_id="e").run)
            print(client._build_request(options).headers)
            async with client.messages.with_streaming_response.create(model="m", max_tokens=5, messages=[]) as r:
                print(r.headers)


        async def forgot():
            raw = client.messages.with_raw_response.create(model="m", max_tokens=5, messages=[])
            print(raw.headers)
            print(client.models.retrieve("m").id)
            AsyncAnthropicBedrock().messages.count_tokens(model="m", messages=[])
    """
    assert lint(tmp_path, source) == [("CD204", 21), ("CD204", 22), ("CD204", 23)]


def test_missing_await_reads_the_installed_sdk_and_falls_back_to_a_short_list(tmp_path):
    """Which methods are coroutines comes from the ``anthropic`` found on the path: a package whose
    ``AsyncMessages.create`` is a plain ``def`` silences that call; one without sources falls back
    to the known request methods (``create``, ``retrieve``, ...), never to every method."""
    source = """
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()


        def use():
            print(client.messages.create(model="m", max_tokens=5, messages=[]).content)
            print(client.files.archive("f").id)
            print(client.models.retrieve("m").id)
            print(client.models.list().data)
    """
    app = write(tmp_path / "src", source)
    sdk = tmp_path / "sdk" / "anthropic"
    (sdk / "resources").mkdir(parents=True)
    (sdk / "__init__.py").write_text("", encoding="utf-8")
    (sdk / "resources" / "messages.py").write_text(
        "class AsyncMessages:\n    def create(self):\n        pass\n\n"
        "class AsyncFiles:\n    async def archive(self):\n        pass\n",
        encoding="utf-8",
    )
    env = {"PYTHONPATH": str(tmp_path / "sdk")}
    assert found(check(app, env=env)) == [("CD204", 8)]
    (sdk / "resources" / "messages.py").unlink()
    assert found(check(app, env=env)) == [("CD204", 7), ("CD204", 9)]


def test_get_event_loop_only_where_its_loop_is_then_run(tmp_path):
    source = """
        import asyncio
        import contextlib
        from asyncio import get_event_loop as gel

        loop = asyncio.get_event_loop()
        unused = asyncio.get_event_loop()


        def worker():
            return gel().run_until_complete(main())


        async def main():
            loop = asyncio.get_event_loop()
            loop.run_until_complete(other())


        def later():
            loop.run_forever()


        class Runner:
            def __init__(self):
                self.loop = asyncio.get_event_loop()

            def go(self):
                return self.loop.run_until_complete(main())


        def guarded():
            try:
                found = asyncio.get_event_loop()
            except RuntimeError:
                found = None
            with contextlib.suppress(RuntimeError):
                asyncio.get_event_loop().run_until_complete(main())
            try:
                asyncio.get_event_loop().run_until_complete(main())
            except (ValueError, Exception):
                pass
            return found


        def save_and_restore(replacement):
            previous = asyncio.get_event_loop()
            asyncio.set_event_loop(replacement)
            asyncio.set_event_loop(previous)
    """
    assert lint(tmp_path, source) == [("CD205", 5), ("CD205", 10), ("CD205", 24)]
    message = check(tmp_path / "app.py").json["findings"][0]["message"]
    assert "its loop is run by `.run_forever(...)` on line 19" in message


def test_asyncio_run_inside_async_def(tmp_path):
    source = """
        import asyncio as aio
        from asyncio import run


        async def inner():
            return 1


        async def handler():
            value = aio.run(inner())

            def in_thread():
                return run(inner())

            return value, await aio.to_thread(in_thread)


        run(handler())
    """
    assert lint(tmp_path, source) == [("CD206", 10)]


def test_async_client_shared_by_two_asyncio_runs(tmp_path):
    source = """
        import asyncio
        from anthropic import AsyncAnthropic

        client = AsyncAnthropic()


        async def ask(q):
            return await client.messages.create(model="m", max_tokens=64, messages=[])


        async def summarize(q):
            return await ask(q)


        async def own_client(q):
            async with AsyncAnthropic() as mine:
                return await mine.messages.create(model="m", max_tokens=64, messages=[])


        def main():
            asyncio.run(ask("a"))
            asyncio.run(own_client("b"))
            asyncio.run(summarize("c"))
            for q in ["x", "y"]:
                asyncio.run(own_client(q))


        if __name__ == "__main__":
            asyncio.run(ask("again"))
    """
    assert lint(tmp_path, source) == [("CD207", 23), ("CD207", 29)]


def test_async_client_in_loop_of_asyncio_runs(tmp_path):
    source = """
        import asyncio
        from anthropic import AsyncAnthropic


        async def ask(client, q):
            return await client.messages.create(model="m", max_tokens=64, messages=[])


        shared = AsyncAnthropic()
        for question in ["a", "b"]:
            asyncio.run(ask(shared, question))
    """
    assert lint(tmp_path, source) == [("CD207", 11)]
