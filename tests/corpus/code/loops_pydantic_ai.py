# Reduced from pydantic/pydantic-ai@4fda38988f2939fa6ea9cdefcf120693e10ef491:
# pydantic_ai_slim/pydantic_ai/_utils.py (get_event_loop guarded by except RuntimeError),
# tests/conftest.py (fixtures that save, empty and restore the thread's loop), tests/test_agent.py
# (a test reading the loop run_sync installed) and tests/test_sync_stream_loop_affinity.py (a loop
# fetched and run in a finally block: the one true finding of 20).
import asyncio
from contextlib import contextmanager, suppress

import pytest


def get_event_loop():
    try:
        event_loop = asyncio.get_event_loop()
    except RuntimeError:
        event_loop = None
    if event_loop is None or event_loop.is_closed():
        event_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(event_loop)
    return event_loop


@contextmanager
def replaced_event_loop(replacement):
    previous = asyncio.get_event_loop()
    asyncio.set_event_loop(replacement)
    try:
        yield
    finally:
        asyncio.set_event_loop(previous)


@pytest.fixture
def missing_event_loop():
    original_loop = asyncio.get_event_loop()
    asyncio.set_event_loop(None)
    try:
        yield original_loop
    finally:
        with suppress(RuntimeError):
            asyncio.get_event_loop().close()
        asyncio.set_event_loop(original_loop)


def test_run_sync_creates_missing_event_loop(agent, missing_event_loop):
    agent.run_sync("Hello")
    replacement_loop = asyncio.get_event_loop()
    assert replacement_loop is not missing_event_loop
    assert not replacement_loop.is_closed()


def test_stream_then_close(client):
    try:
        client.send()
    finally:
        asyncio.get_event_loop().run_until_complete(client.close())  # expect: CD205
