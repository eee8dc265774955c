"""Wiring: build the store, the platform adapters and the use cases from settings; run the tick jobs.

Durable timing lives in the rows (`delivery.due_at`), so the tick jobs only claim what is due; a restart
loses nothing and two processes ticking at once do no harm. The tick jobs run on the engine thread
(realign.engine), in a Runtime of their own, so the web loop stays free for people.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackServices, build_app
from adapters.slack.directory import SlackDirectory
from adapters.slack.messenger import SlackMessenger
from adapters.web import build_web
from bot.acknowledge import Acknowledging
from bot.announce import Announcing
from bot.clock import Clock, SystemClock
from bot.delivery import Dispatcher, EngineTuning
from bot.errors import ConfigError
from bot.followup import FollowUp
from bot.model import Policy
from bot.ports import Messenger
from bot.rate import RateLimiter
from bot.status import Closing, Reporting, Requeueing
from realign.engine import EngineThread
from realign.settings import Settings
from store.changes import SqlChangeStore
from store.db import Database
from store.deliveries import SqlDeliveryQueue
from store.followup import SqlFollowUp
from store.migrate import upgrade
from store.people import SqlPeople
from store.workers import SqlWorkers

log = logging.getLogger(__name__)
DISPATCH_POLL = timedelta(seconds=1)  # how soon a worker notices deliveries published by another process
DIRECTORY_REFRESH = timedelta(hours=1)
GRACE = timedelta(seconds=15)  # how long shutdown waits for batches in hand
HEARTBEAT = timedelta(seconds=5)  # how often a delivering process says it is alive ...
ALIVE_WITHIN = 3 * HEARTBEAT  # ... and how long after its last word it counts as gone


@dataclass
class Slack:
    workspace: str
    client: AsyncWebClient
    directory: SlackDirectory
    messenger: SlackMessenger
    services: SlackServices


class Runtime:
    """Everything one `realign` process runs; `open()` then `start_ticks()` and/or `web_app()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        tuning: EngineTuning | None = None,
        migrate: bool = True,
    ) -> None:
        self.settings = settings
        self.migrate = migrate
        self.clock = clock or SystemClock()
        self.tuning = tuning or EngineTuning(
            lease=settings.delivery_lease, send_timeout=timedelta(seconds=settings.slack_api_timeout)
        )
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.slack: Slack | None = None
        self._http: aiohttp.ClientSession | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._wake = asyncio.Event()
        self.engine: EngineThread | None = None
        self.worker_id = uuid.uuid4().hex
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"

    async def open(self) -> None:
        """Bring the database up to date, connect, and log in to the platforms that are configured."""
        if self.migrate:
            await asyncio.to_thread(upgrade, self.settings.database_url)
        self.db = Database(self.settings.database_url)
        await self.db.ping()
        self.people = SqlPeople(self.db)
        self.changes = SqlChangeStore(self.db)
        self.queue = SqlDeliveryQueue(self.db, self.changes)
        self.follow_up_store = SqlFollowUp(self.db, self.changes)
        self.workers = SqlWorkers(self.db)
        messengers: dict[str, Messenger] = {}
        limiters: dict[str, RateLimiter] = {}
        if self.settings.slack_enabled:
            self.slack = await self._open_slack()
            messengers[self.slack.workspace] = self.slack.messenger
            limiters[self.slack.workspace] = RateLimiter(
                self.settings.slack_post_rate, burst=self.settings.slack_post_burst
            )
        if self.settings.teams_configured:
            log.warning("Teams settings are present, but this version of Realign does not serve Teams yet")
        self.follow_up = FollowUp(
            store=self.follow_up_store,
            messengers=messengers,
            clock=self.clock,
            hours=self.settings.working_hours,
        )
        self.dispatcher = Dispatcher(
            queue=self.queue,
            changes=self.changes,
            messengers=messengers,
            limiters=limiters,
            clock=self.clock,
            tuning=self.tuning,
        )

    async def _open_slack(self) -> Slack:
        assert self.settings.slack_bot_token is not None
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        token = self.settings.slack_bot_token.get_secret_value()
        client = self._slack_client(token)
        try:
            auth = await client.auth_test()
        except Exception as error:
            raise ConfigError(
                f"Slack did not accept SLACK_BOT_TOKEN at {self.settings.slack_api_url}: {error}"
            ) from None
        workspace = f"slack:{auth['team_id']}"
        await self.people.ensure_workspace(
            key=workspace, platform="slack", name=auth.get("team", ""), at=self.clock.now()
        )
        # Posting never auto-retries inside slack_sdk: the delivery engine decides, after reconciling.
        messenger = SlackMessenger(self._slack_client(token, retry_handlers=[]))
        directory = SlackDirectory(workspace=workspace, client=client, people=self.people, clock=self.clock)
        reporting = Reporting(workspace=workspace, changes=self.changes, admins=self.settings.admins)
        services = SlackServices(
            announcing=Announcing(
                workspace=workspace,
                changes=self.changes,
                directory=directory,
                clock=self.clock,
                announcers=self.settings.announcers,
                policy=Policy(
                    self.settings.remind_after, Policy().max_reminders, self.settings.escalate_after
                ),
                hours=self.settings.working_hours,
                on_published=self.wake_dispatcher,
            ),
            reporting=reporting,
            acknowledging=Acknowledging(
                queue=self.queue, messenger=messenger, clock=self.clock, later=self.in_background
            ),
            closing=Closing(reporting=reporting, store=self.follow_up_store, clock=self.clock),
            requeueing=Requeueing(
                reporting=reporting, queue=self.queue, clock=self.clock, on_requeued=self.wake_dispatcher
            ),
            directory=directory,
            in_background=self.in_background,
        )
        return Slack(workspace, client, directory, messenger, services)

    def _slack_client(self, token: str, **options: Any) -> AsyncWebClient:
        return AsyncWebClient(
            token=token,
            base_url=self.settings.slack_api_url,
            session=self._http,
            timeout=self.settings.slack_api_timeout,
            **options,
        )

    def web_app(self) -> web.Application:
        slack = None
        if self.slack is not None:
            assert self.settings.slack_signing_secret is not None
            secret = self.settings.slack_signing_secret.get_secret_value()
            slack = build_app(client=self.slack.client, signing_secret=secret, services=self.slack.services)
        return build_web(slack=slack, database_ok=self.database_ok)

    async def database_ok(self) -> bool:
        try:
            await self.db.ping()
        except Exception:
            return False
        return True

    async def start_ticks(self) -> None:
        """Run the tick jobs (delivery, follow-up, directory sync) on this process's engine thread."""
        self.engine = EngineThread(  # the database is up to date: this runtime's open() migrated it
            lambda: Runtime(self.settings, clock=self.clock, tuning=self.tuning, migrate=False)
        )
        await self.engine.start()

    def run_ticks(self) -> None:
        """Run the tick jobs on this event loop (the engine thread's)."""
        self._every(HEARTBEAT, self._heartbeat, "heartbeat")
        self._track(self._dispatch(), "delivery")
        self._every(self.settings.sweep_interval, self.follow_up.tick, "follow-up")
        if self.slack is not None:
            self._every(DIRECTORY_REFRESH, self.slack.directory.sync, "directory")
        self.scheduler.start()

    async def _heartbeat(self) -> None:
        """Every delivering process takes an equal part of each workspace's rate (SLACK_POST_RATE)."""
        senders = await self.workers.beat(
            self.worker_id, name=self.worker_name, now=datetime.now(UTC), alive_within=ALIVE_WITHIN
        )
        for limiter in self.dispatcher.limiters.values():
            limiter.share(senders)

    async def _dispatch(self) -> None:
        """Drain the outbox; then sleep until a publish wakes us, or DISPATCH_POLL has passed."""
        while not self.dispatcher.stopping:
            self._wake.clear()
            try:
                await self.dispatcher.drain()
            except Exception:
                log.exception("delivery failed; it runs again in %s", DISPATCH_POLL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DISPATCH_POLL.total_seconds())

    def in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` after the current request, tracked so close() waits for it."""
        self._track(work, "background work")

    def _track(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        async def tracked() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(tracked())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _every(self, interval: timedelta, job: Callable[[], Awaitable[Any]], name: str) -> None:
        async def tick() -> None:
            # Tracked so close() can stop it before the database and HTTP session go away.
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except Exception:
                log.exception("tick job %s failed; it runs again in %s", name, interval)
            finally:
                self._running.discard(task)

        self.scheduler.add_job(
            tick,
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )

    def wake_dispatcher(self) -> None:
        if self.engine is not None:
            self.engine.wake()
        else:
            self._wake.set()

    async def close(self) -> None:
        """Stop the ticks, let work in hand finish (then cancel what is left), release connections."""
        if self.engine is not None:
            await self.engine.stop()
        if self.scheduler.running:
            self.scheduler.pause()  # no new runs; shutting down now would cancel the running ones
        if hasattr(self, "dispatcher"):
            self.dispatcher.stop()
            self._wake.set()
        # Let batches in hand settle (so nothing waits out a lease after a deploy) and background work
        # finish, before the database and HTTP connections go away.
        if self._running:
            await asyncio.wait(self._running, timeout=GRACE.total_seconds())
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        if self.scheduler.get_job("heartbeat") is not None:  # the others take this one's part now
            try:
                await self.workers.leave(self.worker_id)
            except Exception as error:  # they will anyway, once its heartbeat is ALIVE_WITHIN old
                log.warning("could not sign off worker %s: %s", self.worker_name, error)
        if self._http is not None:
            await self._http.close()
        if hasattr(self, "db"):
            await self.db.close()
