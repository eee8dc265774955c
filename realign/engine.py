"""The engine thread: a process's background work (delivery, follow-up, directory sync) on its own loop.

A fan-out keeps an event loop busy with thousands of sends a second. On the web server's loop every
slash command and button click would queue behind them; on a loop of its own, the web loop only has to
win the interpreter lock, which Python hands over every few milliseconds. The thread builds its own
database pool and HTTP session: neither may be shared across event loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)
# How long a busy thread may keep the interpreter lock from a waiting one (Python's default is 5 ms).
# A web request waits this long at most for each of its steps while a fan-out runs.
SWITCH_INTERVAL = 0.001


class Ticking(Protocol):
    """What the engine thread runs: a Runtime that has not been opened yet."""

    async def open(self) -> None: ...

    def run_ticks(self) -> None: ...

    def wake_dispatcher(self) -> None: ...

    async def close(self) -> None: ...


class EngineThread:
    """Runs `build()`'s tick jobs on a daemon thread until `stop()`."""

    def __init__(self, build: Callable[[], Ticking], *, name: str = "realign-engine") -> None:
        self._build = build
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Ticking | None = None
        self._stopping: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    async def start(self) -> None:
        """Start the thread; return once its runtime is open and ticking (or raise why it could not)."""
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._main(),), name=self._name, daemon=True
        )
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runtime = self._build()
        try:
            await runtime.open()
            runtime.run_ticks()
        except Exception as error:
            await runtime.close()
            self._ready.set_exception(error)
            return
        self._runtime = runtime
        self._ready.set_result(None)
        try:
            await self._stopping.wait()
        finally:
            await runtime.close()

    def wake(self) -> None:
        """Look for due deliveries now (thread-safe; called from the web loop after a publish)."""
        if self._loop is not None and self._runtime is not None:
            self._loop.call_soon_threadsafe(self._runtime.wake_dispatcher)

    async def stop(self) -> None:
        """Let the runtime finish the work in hand and close; returns when the thread has ended."""
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
