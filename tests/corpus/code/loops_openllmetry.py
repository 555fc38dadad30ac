# Reduced from traceloop/openllmetry@93429cfb9767e6b51db6cb35f6b70f758117669a:
# packages/opentelemetry-instrumentation-google-generativeai/tests/test_async_input.py
import asyncio


def dont_throw(func):
    return func


def test_async_wrapper_returns_value():
    @dont_throw
    async def answer():
        return 42

    result = asyncio.get_event_loop().run_until_complete(answer())  # expect: CD205
    assert result == 42
