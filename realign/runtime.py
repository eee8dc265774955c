"""The composition root of one `realign` process: the web part on this loop, the engine on its thread.

`open()` wires the database and the platforms once (migrating, checking credentials); `web_app()`
builds the listeners over that wiring; `start_ticks()` starts the engine thread (realign.engine), which
opens its own wiring with what this one learnt, so credentials are checked once per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackServices, build_app
from adapters.slack.directory import SlackDirectory
from adapters.web import build_web
from bot.acknowledge import Acknowledging
from bot.announce import Announcing
from bot.clock import Clock
from bot.delivery import EngineTuning
from bot.model import Policy
from bot.status import Closing, Reporting, Requeueing
from realign.engine import GRACE, Engine, EngineThread
from realign.settings import Settings
from realign.wiring import NO_PLATFORM, Wiring
from store.db import Database

log = logging.getLogger(__name__)


@dataclass
class SlackWeb:
    """The Slack workspace as the web part serves it."""

    workspace: str
    client: AsyncWebClient
    directory: SlackDirectory
    services: SlackServices


class Runtime:
    """Everything one `realign` process runs; `open()` then `web_app()` and/or `start_ticks()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        tuning: EngineTuning | None = None,
        migrate: bool = True,
    ) -> None:
        self.settings = settings
        self.wiring = Wiring(settings, clock=clock)
        self.clock = self.wiring.clock
        self.tuning = tuning
        self.migrate = migrate
        self.slack: SlackWeb | None = None
        self.engine: EngineThread | None = None

    @property
    def db(self) -> Database:
        return self.wiring.db

    async def open(self) -> None:
        """Bring the database up to date, connect, and log in to the platforms that are configured."""
        await self.wiring.open(migrate=self.migrate)
        if self.wiring.slack is not None:
            slack = self.wiring.slack
            self.slack = SlackWeb(slack.workspace, slack.client, slack.directory, self._slack_services())
        if self.settings.teams_configured:
            log.warning("Teams settings are present, but this version of Realign does not serve Teams yet")
        if self.slack is None:
            log.info(NO_PLATFORM)

    def _slack_services(self) -> SlackServices:
        wiring, settings = self.wiring, self.settings
        assert wiring.slack is not None
        workspace = wiring.slack.workspace
        reporting = Reporting(workspace=workspace, changes=wiring.changes, admins=settings.admins)
        return SlackServices(
            announcing=Announcing(
                workspace=workspace,
                changes=wiring.changes,
                directory=wiring.slack.directory,
                clock=self.clock,
                announcers=settings.announcers,
                policy=Policy(settings.remind_after, Policy().max_reminders, settings.escalate_after),
                hours=settings.working_hours,
                on_published=self.wake_dispatcher,
            ),
            reporting=reporting,
            acknowledging=Acknowledging(
                queue=wiring.queue,
                messenger=wiring.slack.messenger,
                clock=self.clock,
                later=wiring.in_background,
            ),
            closing=Closing(reporting=reporting, store=wiring.follow_up_store, clock=self.clock),
            requeueing=Requeueing(
                reporting=reporting, queue=wiring.queue, clock=self.clock, on_requeued=self.wake_dispatcher
            ),
            directory=wiring.slack.directory,
            in_background=wiring.in_background,
        )

    def web_app(self) -> web.Application:
        slack = None
        if self.slack is not None:
            assert self.settings.slack_signing_secret is not None
            secret = self.settings.slack_signing_secret.get_secret_value()
            slack = build_app(client=self.slack.client, signing_secret=secret, services=self.slack.services)
        return build_web(slack=slack, database_ok=self.wiring.database_ok)

    async def start_ticks(self) -> None:
        """Run the tick jobs (delivery, follow-up, directory sync) on this process's engine thread.

        With no platform configured there is nothing to deliver, and no thread is started."""
        if not self.wiring.messengers:
            return
        settings, clock, tuning, logins = self.settings, self.clock, self.tuning, self.wiring.logins
        # The database is up to date (open() migrated it) and the credentials were checked.
        self.engine = EngineThread(lambda: Engine(settings, clock=clock, tuning=tuning, logins=logins))
        await self.engine.start()

    def wake_dispatcher(self) -> None:
        if self.engine is not None:
            self.engine.wake()

    async def close(self) -> None:
        """Stop the engine, let background work in hand finish, release connections."""
        if self.engine is not None:
            await self.engine.stop()
        await self.wiring.finish(grace=GRACE.total_seconds())
        await self.wiring.close()
