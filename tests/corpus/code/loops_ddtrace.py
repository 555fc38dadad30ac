# Reduced from DataDog/dd-trace-py@3bb9ecda22830e3303b18b0ffa5abe7586aef6a7:
# tests/appsec/iast_tdd_propagation/tortoise_impl.py (a loop fetched at import, run later),
# tests/contrib/asyncio/utils.py (setUp guarded by except RuntimeError; a decorator that runs the
# loop in both version branches), tests/contrib/grpc_aio/test_grpc_aio.py (nested try) and
# scripts/iast/leak_functions.py (run under __main__).
import asyncio
import sys

loop = asyncio.get_event_loop()  # expect: CD205


def execute_query(connection, query):
    loop.run_until_complete(connection.execute_query(query))


class AsyncioTestCase:
    def setUp(self):
        try:
            self._main_loop = asyncio.get_event_loop()
        except RuntimeError:
            self._main_loop = None
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)

    def tearDown(self):
        self.loop.close()
        asyncio.set_event_loop(self._main_loop)


def run_in_loop(f):
    def wrapper(*args, **kwargs):
        if sys.version_info >= (3, 11):
            future = f(*args, **kwargs)
            loop = asyncio.get_event_loop()  # expect: CD205
            loop.run_until_complete(future)
            loop.close()
        else:
            future = asyncio.ensure_future(f(*args, **kwargs))
            loop = asyncio.get_event_loop()  # expect: CD205
            loop.run_until_complete(future)
            loop.close()

    return wrapper


def assert_not_in_async_context():
    try:
        try:
            asyncio.get_running_loop()
        except AttributeError:
            asyncio.get_event_loop()
    except RuntimeError:
        pass
    else:
        raise AssertionError("must not be called in async context")


async def leaks(iterations):
    return iterations


if __name__ == "__main__":
    main_loop = asyncio.get_event_loop()  # expect: CD205
    sys.exit(main_loop.run_until_complete(leaks(100)))
