"""The composition root of one `realign` process: the web part on this loop, the engine on its thread.

`open()` wires the database and the platforms once (migrating, checking credentials); `web_app()`
builds the listeners over that wiring; `start_ticks()` starts the engine thread (realign.engine), which
opens its own wiring with what this one learnt, so credentials are checked once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.slack.app import build_app
from adapters.slack.install import Installs, oauth_installs
from adapters.slack.socket import CONNECT_TIMEOUT, SlackSocket
from adapters.web import build_web
from bot.clock import Clock
from bot.delivery import EngineTuning
from bot.errors import ConfigError
from realign.engine import GRACE, Engine, EngineThread
from realign.metrics import Ticks
from realign.operations import Operations
from realign.settings import Settings
from realign.slack_web import SlackWeb, SlackWebWorkspaces
from realign.teams_web import teams_endpoint
from realign.wiring import NO_PLATFORM, Wiring
from store.db import Database
from store.installations import SignedStates

log = logging.getLogger(__name__)
SOCKET_REFUSED = "Slack did not accept SLACK_APP_TOKEN at {url}: {error}"
SOCKET_UNREACHABLE = (
    "Slack accepted SLACK_APP_TOKEN, but no Socket Mode connection was made within {seconds:.0f}s; "
    "check that this host may open WebSocket connections to Slack (wss://, port 443)"
)


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
        self.wiring = Wiring(settings, clock=clock, interactive=True)  # the web loop's
        self.clock = self.wiring.clock
        self.tuning = tuning
        self.migrate = migrate
        self.slack: SlackWeb | None = None  # the one workspace of SLACK_BOT_TOKEN (OAuth: `workspaces`)
        self.workspaces = SlackWebWorkspaces(wiring=self.wiring, settings=settings, wake=self.wake_dispatcher)
        self.engine: EngineThread | None = None
        self.socket: SlackSocket | None = None
        self._bolt: AsyncApp | None = None
        self.ticks = Ticks()  # the engine thread's, read by /healthz

    @property
    def db(self) -> Database:
        return self.wiring.db

    async def open(self) -> None:
        """Bring the database up to date, connect, and log in to the platforms that are configured."""
        await self.wiring.open(migrate=self.migrate)
        if self.wiring.slack is not None:
            self.slack = self.workspaces.web(self.wiring.slack)
        if self.wiring.connectors is not None:
            tenants = len(self.wiring.teams.by_key)
            log.info("Teams activities are served at /api/messages (%d tenants known)", tenants)
        if self.settings.slack_oauth:
            installed = len(self.wiring.slacks.by_key)
            log.info("Slack workspaces install Realign at /slack/install (%d installed)", installed)
        elif self.slack is None and self.wiring.connectors is None:
            log.info(NO_PLATFORM)

    def web_app(self) -> web.Application:
        # /slack/events only with the secret that verifies it; with SLACK_APP_TOKEN alone, Slack comes
        # through the socket (start_socket) and nothing Slack-shaped is served over HTTP.
        slack = self.slack_app() if self.settings.slack_signing_secret is not None else None
        teams = teams_endpoint(self.wiring, self.settings, wake=self.wake_dispatcher)
        return build_web(slack=slack, operations=self.operations(), teams=teams)

    def operations_app(self) -> web.Application:
        """/healthz and /metrics alone: what `realign worker` serves (REALIGN_WORKER_PORT), so that the
        processes that deliver can be watched and scraped too."""
        return build_web(slack=None, operations=self.operations())

    def slack_app(self) -> AsyncApp | None:
        """The bolt listeners, built once: /slack/events and the Socket Mode connection serve the same.
        With OAuth, one app serves every installed workspace, each request with its own's services."""
        if self._bolt is None and (self.slack is not None or self.settings.slack_oauth):
            secret = self.settings.slack_signing_secret  # Slack signs nothing sent through Socket Mode
            self._bolt = build_app(
                client=self.slack.client if self.slack is not None else self.wiring.slack_app_client(),
                signing_secret=secret.get_secret_value() if secret is not None else "",
                services=self.slack.services if self.slack is not None else None,
                workspaces=None if self.slack is not None else self.workspaces.for_team,
                removed=self.workspaces.removed,
                installs=self._installs(),
            )
        return self._bolt

    def _installs(self) -> Installs | None:
        """Bolt's OAuth flow over the installation and state stores in our database (OAuth only)."""
        settings, installations = self.settings, self.wiring.installations
        if installations is None:
            return None
        given = (settings.slack_client_id, settings.slack_client_secret, settings.slack_state_secret)
        client_id, client_secret, state_secret = (s.get_secret_value() if s else "" for s in given)
        return oauth_installs(
            client_id=client_id,
            client_secret=client_secret,
            installations=installations,
            states=SignedStates(self.db, secret=state_secret),
            client=self.wiring.slack_app_client(),  # oauth.v2.access goes to SLACK_API_URL
            find=self.workspaces.bot,
            on_installed=self.workspaces.installed,
        )

    async def start_socket(self) -> None:
        """With SLACK_APP_TOKEN, connect to Slack through Socket Mode (the web process's part, never a
        worker's); a refused token stops start-up with one line."""
        app, token = self.slack_app(), self.settings.slack_app_token
        if app is None or token is None:
            return
        # apps.connections.open goes where every other call goes: SLACK_API_URL, through the app's client.
        socket = SlackSocket(app, app_token=token.get_secret_value(), client=app.client)
        try:
            await socket.connect()
        except SlackApiError as error:
            code = error.response.get("error")
            raise ConfigError(SOCKET_REFUSED.format(url=self.settings.slack_api_url, error=code)) from None
        except TimeoutError:
            raise ConfigError(SOCKET_UNREACHABLE.format(seconds=CONNECT_TIMEOUT)) from None
        self.socket = socket

    def operations(self) -> Operations:
        """/healthz and /metrics over this process's database, engine ticks and platforms."""
        served = self.slack is not None or self.settings.slack_oauth
        slack = "off" if not served else "socket-mode" if self.settings.slack_socket_mode else "on"
        connectors = self.wiring.connectors
        teams = "off" if connectors is None else "dev" if connectors.registration.dev else "on"
        platforms = {"slack": slack, "teams": teams}
        return Operations(db=self.db, clock=self.clock, ticks=self.ticks, platforms=platforms)

    async def start_ticks(self) -> None:
        """Run the tick jobs (delivery, follow-up, directory sync) on this process's engine thread.

        With no platform configured there is nothing to deliver, and no thread is started."""
        if not self.wiring.delivering:
            return
        settings, clock, tuning, logins = self.settings, self.clock, self.tuning, self.wiring.logins
        ticks, loop, here = self.ticks, asyncio.get_running_loop(), self.wiring

        def shared(senders: int) -> None:
            """From the engine thread: this loop's limiters (Teams' replies) take their part."""
            with contextlib.suppress(RuntimeError):  # the web loop has closed: nothing left to share
                loop.call_soon_threadsafe(here.share, senders)

        # The database is up to date (open() migrated it) and the credentials were checked.
        self.engine = EngineThread(
            lambda: Engine(settings, clock=clock, tuning=tuning, logins=logins, ticks=ticks, on_share=shared)
        )
        await self.engine.start()
        self.wiring.debit = self.engine.debit  # Teams replies sent here are paid for by the engine

    def wake_dispatcher(self) -> None:
        if self.engine is not None:
            self.engine.wake()

    async def close(self) -> None:
        """Stop taking Slack's envelopes (answering those in hand), stop the engine, let background work
        in hand finish, release connections."""
        if self.socket is not None:
            await self.socket.close()
        if self.engine is not None:
            await self.engine.stop()
        await self.wiring.finish(grace=GRACE.total_seconds())
        await self.wiring.close()
