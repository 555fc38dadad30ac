# Reduced from anthropics/anthropic-sdk-python@009b035305e0724ce108ebd796935f91711fc6e1:
# examples/mcp_tool_runner.py, examples/managed-agents-self-hosted-sandbox-worker.py,
# tests/lib/test_azure.py and tests/test_middleware.py. Methods of an async client that do not
# return a coroutine (tool runners, paginators, workers, copies, streaming-response managers)
# were 34 false CD204 findings; only the real missing await at the end is one.
from anthropic import AsyncAnthropic

client = AsyncAnthropic()


async def run_tools(tools):
    runner = client.beta.messages.tool_runner(model="m", max_tokens=64, messages=[], tools=tools)
    async for message in runner:
        print(message)
    async for event in client.beta.sessions.events.list("session", limit=100):
        print(event)


async def serve(environment_id):
    worker = client.beta.environments.work.worker(environment_id=environment_id)
    await worker.run()


def request_headers(options):
    request = client._build_request(options)
    return request.headers


async def with_extra_middleware(extra):
    derived = client.with_middleware(extra)
    print(derived.messages)
    async with client.messages.with_streaming_response.create(model="m", max_tokens=64, messages=[]) as response:
        print(response.headers)


async def forgot_await():
    message = client.messages.create(model="m", max_tokens=64, messages=[])
    print(message.content)  # expect: CD204
