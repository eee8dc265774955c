"""The engine: a process's background work (delivery, follow-up, directory sync), on a loop of its own.

A fan-out keeps an event loop busy with thousands of sends a second. On the web server's loop every
slash command and button click would queue behind them; on a loop of its own, the web loop only has to
win the interpreter lock, which Python hands over every few milliseconds. The thread builds its own
database pool and HTTP session: neither may be shared across event loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.delivery import Dispatcher, Drain, EngineTuning
from bot.followup import FollowUp
from bot.notices import NoticeDispatcher, WorkingTime
from bot.rate import RateLimiter
from realign.digest import digest_tick
from realign.metrics import PrometheusMeter, Ticks
from realign.publishing import publish_tick
from realign.settings import Settings
from realign.wiring import Logins, Wiring

log = logging.getLogger(__name__)
DISPATCH_POLL = timedelta(seconds=1)  # how soon a worker notices deliveries published by another process
DIRECTORY_REFRESH = timedelta(hours=1)
GRACE = timedelta(seconds=15)  # how long shutdown waits for batches in hand
HEARTBEAT = timedelta(seconds=5)  # how often a delivering process says it is alive ...
ALIVE_WITHIN = 3 * HEARTBEAT  # ... and how long after its last word it counts as gone
# How long a busy thread may keep the interpreter lock from a waiting one (Python's default is 5 ms).
# A web request waits this long at most for each of its steps while a fan-out runs.
SWITCH_INTERVAL = 0.001


class Ticking(Protocol):
    """What the engine thread runs: an Engine that has not been opened yet."""

    async def open(self) -> None: ...

    def run_ticks(self) -> None: ...

    def wake_dispatcher(self) -> None: ...

    def spend(self, workspace: str) -> None: ...

    def limiter(self, workspace: str) -> RateLimiter | None: ...

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

    def limiter(self, workspace: str) -> RateLimiter | None:
        """The engine's limiter of a workspace (for tests and operators; read it, do not drive it)."""
        runtime = self._runtime
        return None if runtime is None else runtime.limiter(workspace)

    def debit(self, workspace: str) -> None:
        """A reply sent from the web loop to `workspace` (thread-safe): the engine's limiter pays for it."""
        if self._loop is not None and self._runtime is not None:
            with contextlib.suppress(RuntimeError):  # the engine's loop has closed
                self._loop.call_soon_threadsafe(self._runtime.spend, workspace)

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


def working_time(settings: Settings) -> WorkingTime:
    """When follow-up may reach people: REALIGN_WORKING_HOURS on REALIGN_WORKING_DAYS, where they are."""
    return WorkingTime(hours=settings.working_hours, days=settings.working_days)


class Engine:
    """One loop's tick jobs: the delivery loop, follow-up, heartbeat and directory sync.

    It opens a `Wiring` of its own (this loop's pool and HTTP session). With no platform configured it
    has nothing to deliver and runs nothing. Durable timing lives in the rows, so the jobs only claim
    what is due: a restart loses nothing and two processes ticking at once do no harm."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        tuning: EngineTuning | None = None,
        logins: Logins | None = None,
        migrate: bool = False,
        ticks: Ticks | None = None,
        on_share: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.ticks = ticks or Ticks()
        self._on_share = on_share  # told the count at each heartbeat (the web loop's limiters share too)
        self.wiring = Wiring(settings, clock=clock)
        self.clock = self.wiring.clock
        self.tuning = tuning or EngineTuning(
            lease=settings.delivery_lease, send_timeout=timedelta(seconds=settings.slack_api_timeout)
        )
        self._logins = logins
        self._migrate = migrate
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._wakes: dict[str, asyncio.Event] = {"delivery": asyncio.Event(), "follow-up": asyncio.Event()}
        self.worker_id = uuid.uuid4().hex
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"

    async def open(self) -> None:
        await self.wiring.open(migrate=self._migrate, logins=self._logins)
        wiring = self.wiring
        self.dispatcher = Dispatcher(
            queue=wiring.queue,
            changes=wiring.changes,
            messengers=wiring.messengers,
            limiters=wiring.limiters,
            clock=self.clock,
            tuning=self.tuning,
            meter=PrometheusMeter(),
            connect=wiring.connect,  # a workspace installed since: learnt on its first rows
        )
        self.notices = NoticeDispatcher(
            store=wiring.follow_up_store,
            changes=wiring.changes,
            messengers=wiring.messengers,
            limiters=wiring.limiters,
            clock=self.clock,
            working=working_time(self.settings),
            tuning=self.tuning,
            meter=PrometheusMeter(),
            connect=wiring.connect,
        )
        self.follow_up = FollowUp(
            store=wiring.follow_up_store, clock=self.clock, on_planned=self._wakes["follow-up"].set
        )
        self.publishing = publish_tick(wiring, self.settings, on_published=self._published)
        self.digest = digest_tick(wiring, self.settings)  # None: no REALIGN_DIGEST_CHANNEL

    @property
    def delivering(self) -> bool:
        return self.wiring.delivering

    def run_ticks(self) -> None:
        """Start the tick jobs on this event loop; none when there is no platform to deliver to."""
        if not self.delivering:
            return
        self._every(HEARTBEAT, self._heartbeat, "heartbeat")
        self.wiring.in_background(self._dispatch(self.dispatcher, "delivery"), "delivery")
        self.wiring.in_background(self._dispatch(self.notices, "follow-up"), "follow-up messages")
        self._every(self.settings.sweep_interval, self._follow_up, "follow-up")
        self._every(DIRECTORY_REFRESH, self.wiring.sync_directories, "directory")
        if self.digest is not None:  # posts the due slot's digest once, whichever process gets there first
            self._every(self.settings.sweep_interval, self.digest.tick, "digest")
        self.scheduler.start()

    async def _follow_up(self) -> None:
        """What has fallen due: scheduled changes are published (their DMs wake the delivery drain, a
        capacity check the follow-up drain), then reminders, escalations and reports are planned."""
        try:
            await self.publishing.tick()
        except Exception:  # planning follow-up must not wait on it
            log.exception("publishing scheduled changes failed; it runs again with the next tick")
        await self.follow_up.tick()

    def _published(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    async def _heartbeat(self) -> None:
        """Every delivering process takes an equal part of each workspace's rate; the workspaces match
        the installation store again (OAuth: uninstalls, new tokens)."""
        senders = await self.wiring.workers.beat(
            self.worker_id, name=self.worker_name, now=datetime.now(UTC), alive_within=ALIVE_WITHIN
        )
        await self.wiring.slacks.refresh()
        self.wiring.share(senders)
        if self._on_share is not None:
            self._on_share(senders)
        probed = {key: limiter.whole for key, limiter in self.wiring.limiters.items() if limiter.probing}
        await self.wiring.workers.learn_rates(probed)  # SLACK_POST_RATE=auto: a restart starts there

    async def _dispatch(self, outbox: Drain[Any, Any], name: str) -> None:
        """Drain the outbox; then sleep until new rows wake us, or DISPATCH_POLL has passed."""
        wake = self._wakes[name]
        while not outbox.stopping:
            wake.clear()
            try:
                with self.ticks.timed(f"{name}-drain"):
                    await outbox.drain()
            except Exception:
                log.exception("%s failed; it runs again in %s", name, DISPATCH_POLL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), DISPATCH_POLL.total_seconds())

    def _every(self, interval: timedelta, job: Callable[[], Awaitable[Any]], name: str) -> None:
        async def tick() -> None:
            # Tracked so close() can stop it before the database and HTTP session go away.
            task = asyncio.current_task()
            assert task is not None
            self.wiring.track(task)
            try:
                with self.ticks.timed(name):
                    await job()
            except Exception:
                log.exception("tick job %s failed; it runs again in %s", name, interval)

        self.scheduler.add_job(
            tick,
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )

    def limiter(self, workspace: str) -> RateLimiter | None:
        return self.wiring.limiters.get(workspace)

    def spend(self, workspace: str) -> None:
        """A slot of the workspace's rate used elsewhere in this process (a reply in a Teams turn)."""
        limiter = self.limiter(workspace)
        if limiter is not None:
            limiter.spend()

    def wake_dispatcher(self) -> None:
        """New rows in an outbox: a publish's DMs, an amendment's updates, a capacity check."""
        for wake in self._wakes.values():
            wake.set()

    async def close(self) -> None:
        """Stop the ticks, let work in hand finish (then cancel what is left), release connections."""
        if self.scheduler.running:
            self.scheduler.pause()  # no new runs; shutting down now would cancel the running ones
        if hasattr(self, "dispatcher"):
            self.dispatcher.stop()
            self.notices.stop()
        for wake in self._wakes.values():
            wake.set()
        # Let batches in hand settle (so nothing waits out a lease after a deploy) before the database
        # and HTTP connections go away.
        await self.wiring.finish(grace=GRACE.total_seconds())
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            try:  # the others take this one's part of the rate now
                await self.wiring.workers.leave(self.worker_id)
            except Exception as error:  # they will anyway, once its heartbeat is ALIVE_WITHIN old
                log.warning("could not sign off worker %s: %s", self.worker_name, error)
        await self.wiring.close()
