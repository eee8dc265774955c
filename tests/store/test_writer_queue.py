"""SQLite's writers in one process queue first come, first served, across threads and event loops."""

from __future__ import annotations

import asyncio
import threading

from store.db import WriterQueue


async def test_writers_are_served_in_arrival_order_across_event_loops() -> None:
    queue, order = WriterQueue(), []
    other_loop_waiting = threading.Event()

    async def writer(name: str, hold: float) -> None:
        async with queue:
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    def other_thread() -> None:
        async def main() -> None:
            task = asyncio.create_task(writer("thread", 0))
            await asyncio.sleep(0.05)  # it is queued behind "first" by now
            other_loop_waiting.set()
            await task

        asyncio.run(main())

    first = asyncio.create_task(writer("first", 0.3))
    await asyncio.sleep(0.01)
    thread = threading.Thread(target=other_thread)
    thread.start()
    await asyncio.to_thread(other_loop_waiting.wait)
    await writer("last", 0)  # arrives after the other thread's writer
    await first
    await asyncio.to_thread(thread.join)
    assert order == ["first in", "first out", "thread in", "thread out", "last in", "last out"]


async def test_a_cancelled_waiter_does_not_keep_the_lock() -> None:
    queue = WriterQueue()
    async with queue:
        waiter = asyncio.create_task(queue.__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
    await asyncio.wait_for(queue.__aenter__(), 1)  # free again
    await queue.__aexit__()


async def test_a_waiter_cancelled_after_its_turn_came_passes_the_lock_on() -> None:
    queue = WriterQueue()
    await queue.__aenter__()
    waiter = asyncio.create_task(queue.__aenter__())
    await asyncio.sleep(0.01)
    await queue.__aexit__()  # hands the lock to the waiter ...
    waiter.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(waiter, return_exceptions=True)
    await asyncio.wait_for(queue.__aenter__(), 1)
    await queue.__aexit__()
