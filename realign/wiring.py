"""Shared wiring: one event loop's database pool, repositories, HTTP session and platform clients.

A process has two loops (the web's and the engine thread's, see realign.engine); each opens its own
`Wiring`, because neither a database pool nor an HTTP session may cross loops. Only the first one
checks the platform credentials (`auth.test`); the second is handed what it learnt (`Logins`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.directory import SlackDirectory
from adapters.slack.messenger import SlackMessenger
from bot.clock import Clock, SystemClock
from bot.errors import ConfigError
from bot.ports import Messenger
from bot.rate import RateLimiter
from realign.settings import Settings
from store.changes import SqlChangeStore
from store.db import Database
from store.deliveries import SqlDeliveryQueue
from store.followup import SqlFollowUp
from store.migrate import upgrade
from store.people import SqlPeople
from store.workers import SqlWorkers

log = logging.getLogger(__name__)
NO_PLATFORM = (
    "No platform is configured, so Realign only answers /healthz. Set SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET to serve Slack, or MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD for Teams; "
    "to try Realign without a workspace, run `realign console` (or `realign console --demo`)."
)


@dataclass(frozen=True)
class Logins:
    """What the platforms said about our credentials at start-up: the Slack workspace key and name."""

    slack_workspace: str | None = None
    slack_team_name: str = ""


@dataclass
class Slack:
    """One Slack workspace's clients, as this loop uses them."""

    workspace: str
    client: AsyncWebClient
    directory: SlackDirectory
    messenger: SlackMessenger
    limiter: RateLimiter


class Wiring:
    """Connections and repositories for one event loop; `open()` before use, `close()` after."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.slack: Slack | None = None
        self.logins = Logins()
        self._http: aiohttp.ClientSession | None = None
        self._running: set[asyncio.Task[Any]] = set()

    async def open(self, *, migrate: bool = True, logins: Logins | None = None) -> None:
        """Bring the database up to date (unless told not to), connect, and set up the platforms.

        With `logins` (from a Wiring opened earlier in this process) the credentials are not checked again.
        """
        if migrate:
            await asyncio.to_thread(upgrade, self.settings.database_url)
        self.db = Database(self.settings.database_url)
        await self.db.ping()
        self.people = SqlPeople(self.db)
        self.changes = SqlChangeStore(self.db)
        self.queue = SqlDeliveryQueue(self.db, self.changes)
        self.follow_up_store = SqlFollowUp(self.db, self.changes)
        self.workers = SqlWorkers(self.db)
        if self.settings.slack_enabled:
            self.logins = logins if logins and logins.slack_workspace else await self._slack_login()
            self.slack = self._open_slack(self.logins)

    @property
    def messengers(self) -> dict[str, Messenger]:
        return {self.slack.workspace: self.slack.messenger} if self.slack else {}

    @property
    def limiters(self) -> dict[str, RateLimiter]:
        return {self.slack.workspace: self.slack.limiter} if self.slack else {}

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        return self._http

    def _slack_client(self, **options: Any) -> AsyncWebClient:
        assert self.settings.slack_bot_token is not None
        return AsyncWebClient(
            token=self.settings.slack_bot_token.get_secret_value(),
            base_url=self.settings.slack_api_url,
            session=self._session(),
            timeout=self.settings.slack_api_timeout,
            **options,
        )

    async def _slack_login(self) -> Logins:
        try:
            auth = await self._slack_client().auth_test()
        except Exception as error:
            raise ConfigError(
                f"Slack did not accept SLACK_BOT_TOKEN at {self.settings.slack_api_url}: {error}"
            ) from None
        workspace, name = f"slack:{auth['team_id']}", str(auth.get("team") or "")
        await self.people.ensure_workspace(key=workspace, platform="slack", name=name, at=self.clock.now())
        return Logins(slack_workspace=workspace, slack_team_name=name)

    def _open_slack(self, logins: Logins) -> Slack:
        assert logins.slack_workspace is not None
        client = self._slack_client()
        # Posting never auto-retries inside slack_sdk: the delivery engine decides, after reconciling.
        messenger = SlackMessenger(self._slack_client(retry_handlers=[]))
        directory = SlackDirectory(
            workspace=logins.slack_workspace, client=client, people=self.people, clock=self.clock
        )
        limiter = RateLimiter(self.settings.slack_post_rate, burst=self.settings.slack_post_burst)
        return Slack(logins.slack_workspace, client, directory, messenger, limiter)

    def in_background(self, work: Coroutine[Any, Any, Any], name: str = "background work") -> None:
        """Run `work` after the current request, tracked so close() waits for it."""

        async def tracked() -> None:
            try:
                await work
            except Exception:
                log.exception("%s failed", name)

        task = asyncio.get_running_loop().create_task(tracked())
        self.track(task)

    def track(self, task: asyncio.Task[Any]) -> None:
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def finish(self, *, grace: float) -> None:
        """Let tracked work finish for up to `grace` seconds, then cancel what is left."""
        if self._running:
            await asyncio.wait(self._running, timeout=grace)
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def close(self) -> None:
        """Release the HTTP session and the database pool (call `finish` first)."""
        if self._http is not None:
            await self._http.close()
        if hasattr(self, "db"):
            await self.db.close()

    async def database_ok(self) -> bool:
        try:
            await self.db.ping()
        except Exception:
            return False
        return True
