"""The recording proxy's event loop (``capture/idle.py``): recording and checking wait until the loop
has nothing to forward, keep their order, are never lost, and cannot pile up without bound. Real
sockets, real loops; the timings asserted have margins of ten times or more."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from claude_doctor.capture.idle import IdleLoop, defer, run_deferred


def run(loop: IdleLoop, coro) -> None:
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


def test_deferred_calls_wait_for_ready_callbacks_and_keep_their_order() -> None:
    loop = IdleLoop()
    seen: list[str] = []

    async def main() -> None:
        loop.defer(seen.append, "deferred 1")
        loop.call_soon(seen.append, "callback")
        loop.defer(seen.append, "deferred 2")
        loop.call_soon(seen.append, "callback 2")
        await asyncio.sleep(0.01)

    run(loop, main())
    assert seen == ["callback", "callback 2", "deferred 1", "deferred 2"]


def test_data_arriving_is_handled_before_deferred_work_still_waiting() -> None:
    """50 deferred items of 2 ms each are pending when a byte arrives: the reader runs within a few
    ms of it, not after the 100 ms of work."""
    loop = IdleLoop()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    done: list[float] = []
    read_at: list[float] = []
    sent_at: list[float] = []

    def work() -> None:
        time.sleep(0.002)
        done.append(time.monotonic())

    def send_soon() -> None:
        time.sleep(0.02)
        sent_at.append(time.monotonic())
        theirs.send(b"x")

    async def main() -> None:
        arrived = asyncio.Event()

        def on_readable() -> None:
            ours.recv(1)
            read_at.append(time.monotonic())
            arrived.set()

        loop.add_reader(ours.fileno(), on_readable)
        for _ in range(50):
            loop.defer(work)
        threading.Thread(target=send_soon).start()
        await arrived.wait()
        loop.remove_reader(ours.fileno())
        run_deferred()

    try:
        run(loop, main())
    finally:
        ours.close()
        theirs.close()
    assert len(done) == 50
    # bounded by the deferred work as it ran here (100 ms idle, longer on a busy machine), not a fixed time
    assert read_at[0] - sent_at[0] < (done[-1] - done[0]) / 4
    assert sum(t < read_at[0] for t in done) < 40, "the reader waited for the deferred work"


def test_work_past_the_backlog_limit_runs_even_while_callbacks_keep_coming() -> None:
    loop = IdleLoop(limit=3)
    ran: list[int] = []
    pending_seen: list[int] = []

    async def busy() -> None:
        for n in range(10):
            loop.defer(ran.append, n)
        for _ in range(50):  # the ready queue is never empty here: the loop is never idle
            pending_seen.append(10 - len(ran))
            await asyncio.sleep(0)

    run(loop, busy())
    assert ran[:7] == list(range(7))
    assert max(pending_seen[2:]) <= 3


def test_a_failing_deferred_call_is_reported_and_the_rest_still_run() -> None:
    loop = IdleLoop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    seen: list[str] = []

    def broken() -> None:
        raise ValueError("boom")

    async def main() -> None:
        loop.defer(broken)
        loop.defer(seen.append, "after")
        await asyncio.sleep(0.01)

    run(loop, main())
    assert seen == ["after"]
    assert isinstance(reported[0]["exception"], ValueError) and "broken" in reported[0]["message"]


def test_run_deferred_runs_everything_now() -> None:
    loop = IdleLoop()
    seen: list[int] = []

    async def main() -> None:
        for n in range(5):
            defer(seen.append, n)
        run_deferred()
        assert seen == [0, 1, 2, 3, 4]

    run(loop, main())


def test_on_another_loop_defer_is_the_next_iteration() -> None:
    seen: list[str] = []

    async def main() -> None:
        defer(seen.append, "deferred")
        seen.append("now")
        run_deferred()  # nothing held on a plain loop
        await asyncio.sleep(0)
        seen.append("later")

    asyncio.run(main())
    assert seen == ["now", "deferred", "later"]
