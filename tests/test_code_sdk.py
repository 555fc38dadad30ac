"""CD217-CD220: timeouts, SDK-version-dependent arguments and SSE relays, through the real CLI."""

from __future__ import annotations

from tests.code_cases.helpers import check, found, lint, write


def test_short_read_timeout_on_clients_and_calls_that_stream(tmp_path):
    source = """
        import httpx2
        import anthropic
        from anthropic import Anthropic, AsyncAnthropic

        TIMEOUT = 15
        streamer = Anthropic(timeout=10)
        tuned = AsyncAnthropic(timeout=httpx2.Timeout(30.0, connect=5.0))
        reader = Anthropic(timeout=anthropic.Timeout(connect=2, read=TIMEOUT, write=600, timeout=600))
        batch = Anthropic(timeout=5)
        patient = Anthropic(timeout=600)
        exact = Anthropic(timeout=60)
        connect_only = Anthropic(timeout=httpx2.Timeout(600, connect=5))


        def run():
            with streamer.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
            for event in streamer.messages.create(model="m", max_tokens=64, messages=[], stream=True):
                pass
            with reader.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
            batch.messages.create(model="m", max_tokens=64, messages=[])
            with patient.messages.stream(model="m", max_tokens=64, messages=[], timeout=20) as s:
                pass
            with patient.with_options(timeout=8).messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
            for c in (exact, connect_only):
                pass
            with exact.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
            with connect_only.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass


        async def arun():
            async with tuned.messages.stream(model="m", max_tokens=64, messages=[]) as s:
                pass
    """
    assert lint(tmp_path, source) == [
        ("CD217", 5),
        ("CD217", 6),
        ("CD217", 7),
        ("CD217", 23),
        ("CD217", 25),
    ]


def test_min_timeout_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.claude-doctor]\nmin-timeout = 5\n")
    source = """
        from anthropic import Anthropic

        client = Anthropic(timeout=10)
        with client.messages.stream(model="m", max_tokens=64, messages=[]) as s:
            pass
    """
    assert lint(tmp_path, source) == []


def test_old_httpx_objects_passed_to_the_sdk(tmp_path):
    source = """
        import httpx
        import httpx2
        from httpx import Timeout
        from anthropic import Anthropic, AsyncAnthropic, DefaultHttpxClient

        t = Timeout(600, connect=5)
        a = Anthropic(timeout=httpx.Timeout(600, connect=5))
        b = AsyncAnthropic(http_client=httpx.AsyncClient(), timeout=t)
        c = Anthropic(http_client=httpx2.Client(), timeout=httpx2.Timeout(600))
        d = Anthropic(http_client=DefaultHttpxClient())
        e = c.with_options(timeout=httpx.Timeout(900))
        response = httpx.get("https://example.com", timeout=httpx.Timeout(5))
    """
    assert lint(tmp_path, source) == [("CD218", 7), ("CD218", 8), ("CD218", 8), ("CD218", 11)]


def test_sampling_keywords_and_extra_body(tmp_path):
    source = """
        from anthropic import Anthropic, AsyncAnthropic

        client = Anthropic()


        def ask():
            client.messages.create(model="m", max_tokens=64, messages=[], temperature=0.2)
            with client.messages.stream(model="m", max_tokens=64, messages=[], top_p=0.9, top_k=5) as s:
                pass
            client.messages.create(model="m", max_tokens=64, messages=[], extra_body={"temperature": 0.2})


        async def aask():
            bot = AsyncAnthropic()
            await bot.beta.messages.create(model="m", max_tokens=64, messages=[], top_k=3)
    """
    assert lint(tmp_path, source) == [("CD219", 7), ("CD219", 8), ("CD219", 15)]


def test_sampling_keywords_silent_on_a_pre_1_0_sdk(tmp_path):
    """CD218/CD219 follow the installed SDK; an old one (a fake dist-info first on the path) takes them."""
    dist = tmp_path / "site" / "anthropic-0.40.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: anthropic\nVersion: 0.40.0\n")
    path = write(
        tmp_path,
        """
        import httpx
        from anthropic import Anthropic

        client = Anthropic(timeout=httpx.Timeout(600))
        client.messages.create(model="m", max_tokens=64, messages=[], temperature=0.2)
        """,
    )
    result = check(path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.code == 0 and found(result) == []


def test_sse_relays_without_anti_buffering_headers(tmp_path):
    source = """
        from django.http import StreamingHttpResponse
        from fastapi import FastAPI
        from fastapi.responses import StreamingResponse
        from flask import Response, stream_with_context
        from aiohttp import web

        app = FastAPI()
        SSE_HEADERS = {"X-Accel-Buffering": "no", "Cache-Control": "no-cache"}


        @app.get("/a")
        async def a():
            return StreamingResponse(gen(), media_type="text/event-stream")


        @app.get("/b")
        async def b():
            return StreamingResponse(gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


        @app.get("/ok")
        async def ok():
            return StreamingResponse(gen(), media_type="text/event-stream", headers=SSE_HEADERS)


        def flask_view():
            return Response(stream_with_context(gen()), mimetype="text/event-stream")


        def django_view(request):
            response = StreamingHttpResponse(gen(), content_type="text/event-stream")
            response["X-Accel-Buffering"] = "no"
            response["Cache-Control"] = "no-cache"
            return response


        async def aiohttp_view(request):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            return resp


        async def not_sse():
            return StreamingResponse(gen(), media_type="application/x-ndjson")
    """
    assert lint(tmp_path, source) == [("CD220", 13), ("CD220", 18), ("CD220", 27), ("CD220", 38)]


def test_sse_relays_with_headers_added_later_stay_silent(tmp_path):
    source = """
        from flask import Response
        from fastapi.responses import StreamingResponse


        def flask_tuple():
            return Response(gen(), mimetype="text/event-stream"), 200, {
                "X-Accel-Buffering": "no",
                "Cache-Control": "no-cache",
            }


        async def built_headers():
            headers = {"Cache-Control": "no-cache"}
            headers["X-Accel-Buffering"] = "no"
            return StreamingResponse(gen(), media_type="text/event-stream", headers=headers)


        async def updated():
            response = StreamingResponse(gen(), media_type="text/event-stream")
            response.headers.update({"X-Accel-Buffering": "no", "Cache-Control": "no-store"})
            return response


        async def from_elsewhere(extra):
            return StreamingResponse(gen(), media_type="text/event-stream", headers=extra)


        def flask_missing_one():
            return Response(gen(), mimetype="text/event-stream"), 200, {"Cache-Control": "no-cache"}
    """
    assert lint(tmp_path, source) == [("CD220", 29)]


def test_clients_behind_beta_namespaces_and_cloud_classes(tmp_path):
    """``beta.prompt_caching.messages`` takes the same keywords as ``messages``; Vertex, Bedrock and
    Foundry clients and their async twins are clients like the others."""
    source = """
        import anthropic
        from anthropic import AnthropicBedrock, AnthropicFoundry, AsyncAnthropicVertex

        client = anthropic.Anthropic()
        vertex = AsyncAnthropicVertex(region="us-east5", project_id="p")


        def cached(doc):
            return client.beta.prompt_caching.messages.create(model="m", max_tokens=9, messages=[], temperature=0)


        async def handler():
            AnthropicBedrock().messages.create(model="m", max_tokens=9, messages=[])
            AnthropicFoundry().messages.count_tokens(model="m", messages=[])
            reply = vertex.messages.create(model="m", max_tokens=9, messages=[])
            return reply.content
    """
    assert lint(tmp_path, source) == [("CD201", 13), ("CD201", 14), ("CD204", 16), ("CD219", 9)]


def test_clients_from_fallbacks_properties_and_annotations(tmp_path):
    """``client or Anthropic()``, ``@cached_property``/``@property`` factories, return and parameter
    annotations: each is the client it names, so the rules that need a client apply."""
    source = """
        from functools import cached_property
        from typing import Optional

        import anthropic
        from anthropic import Anthropic, AnthropicVertex, AsyncAnthropic


        def make_vertex(settings) -> AnthropicVertex:
            return settings.build()


        class Agent:
            def __init__(self, client: Anthropic | None = None):
                self.client = client or Anthropic()

            @cached_property
            def llm(self):
                return AsyncAnthropic()

            @property
            def vertex(self):
                return make_vertex(None)

            async def answer(self):
                self.client.messages.create(model="m", max_tokens=9, messages=[])
                print(self.llm.messages.create(model="m", max_tokens=9, messages=[]).content)
                self.vertex.messages.create(model="m", max_tokens=9, messages=[])


        async def given(client: AsyncAnthropic, other: Optional["anthropic.Anthropic"], unknown):
            print(client.messages.create(model="m", max_tokens=9, messages=[]).content)
            other.messages.create(model="m", max_tokens=9, messages=[])
            unknown.messages.create(model="m", max_tokens=9, messages=[])
    """
    assert lint(tmp_path, source) == [
        ("CD201", 25),
        ("CD201", 27),
        ("CD201", 32),
        ("CD204", 26),
        ("CD204", 31),
    ]


def test_clients_from_factories_in_other_modules(tmp_path):
    """A factory or a client another module of the checked tree exports, imported relatively or
    absolutely, even into a module that never mentions the SDK; a same-named factory of a module
    that does not build one stays unknown."""
    write(
        tmp_path,
        """
        from anthropic import AnthropicVertex, AsyncAnthropic

        shared = AsyncAnthropic()


        def get_client() -> AnthropicVertex:
            return AnthropicVertex(region="us-east5", project_id="p")
        """,
        name="app/llm/client.py",
    )
    write(tmp_path, "def get_client():\n    return object()\n", name="other/client.py")
    write(
        tmp_path,
        """
        from app.llm.client import shared
        from .llm.client import get_client
        from other.client import get_client as get_other


        async def answer():
            get_client().messages.create(model="m", max_tokens=9, messages=[], temperature=0)
            print(shared.messages.create(model="m", max_tokens=9, messages=[]).content)
            get_other().messages.create(model="m", max_tokens=9, messages=[])
        """,
        name="app/service.py",
    )
    result = check(tmp_path)
    assert [(f["path"].rpartition("/")[2], f["code"], f["line"]) for f in result.json["findings"]] == [
        ("service.py", "CD201", 7),
        ("service.py", "CD219", 7),
        ("service.py", "CD204", 8),
    ]
