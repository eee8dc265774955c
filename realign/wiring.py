"""Shared wiring: one event loop's database pool, repositories, HTTP session and platform clients.

A process has two loops (the web's and the engine thread's, see realign.engine); each opens its own
`Wiring`, because neither a database pool nor an HTTP session may cross loops. Only the first one
checks the platform credentials (`auth.test`); the second is handed what it learnt (`Logins`). With
OAuth installs (SLACK_CLIENT_ID ...) each loop reads the installed workspaces from the database itself
and keeps up with installs and uninstalls (realign.slacks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.directory import SlackDirectory
from adapters.slack.messenger import SlackMessenger
from adapters.teams.connector import DEV_WARNING, Connectors, Registration
from adapters.teams.directory import TeamsDirectory
from adapters.teams.messenger import TeamsMessenger
from adapters.teams.replies import Replies
from adapters.teams.sync import RosterSync
from adapters.teams.tenants import TeamsTenants, Tenant, tenant_of
from bot.clock import Clock, SystemClock
from bot.errors import ConfigError
from bot.ports import Messenger
from bot.rate import Probing, RateLimiter
from realign import metrics
from realign.settings import Settings
from realign.slacks import Slack, SlackWorkspaces, workspace_key
from store.changes import SqlChangeStore
from store.db import Database
from store.deliveries import SqlDeliveryQueue
from store.followup import SqlFollowUp
from store.installations import SqlInstallations
from store.leases import SqlLeases
from store.migrate import upgrade
from store.people import SqlPeople
from store.teams import SqlTeams
from store.workers import SqlWorkers

log = logging.getLogger(__name__)
NO_PLATFORM = (
    "No platform is configured, so Realign only answers /healthz and /metrics. Set SLACK_BOT_TOKEN and "
    "SLACK_SIGNING_SECRET to serve Slack (or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET "
    "with it, to install in many workspaces; or SLACK_APP_TOKEN instead of the secret, for Socket Mode "
    "with no public URL), or MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD for Teams; "
    "to try Realign without a workspace, run `realign console` (or `realign console --demo`)."
)


@dataclass(frozen=True)
class Logins:
    """What the platforms said about our credentials at start-up: the Slack workspace key and name."""

    slack_workspace: str | None = None
    slack_team_name: str = ""


class Merged(Mapping[str, Any]):
    """Two live mappings of workspaces (Slack's and Teams'; their keys never meet) seen as one."""

    def __init__(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> None:
        self._parts = (first, second)

    def __getitem__(self, key: str) -> Any:
        for part in self._parts:
            if key in part:
                return part[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([key for part in self._parts for key in part])

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)


class Wiring:
    """Connections and repositories for one event loop; `open()` before use, `close()` after."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, interactive: bool = False) -> None:
        self.settings = settings
        # The web loop's: Teams replies sent here are paid for by the engine's limiter of the tenant
        # (`debit`, which the runtime points at its engine thread), so both loops stay within the rate.
        self.interactive = interactive
        self.debit: Callable[[str], None] = lambda workspace: None
        self.clock = clock or SystemClock()
        self.slacks = SlackWorkspaces(build=self._open_slack)  # by key; one with SLACK_BOT_TOKEN
        self.logins = Logins()
        self._http: aiohttp.ClientSession | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._learned: dict[str, float] = {}  # SLACK_POST_RATE=auto: rates found earlier, by workspace
        self.connectors: Connectors | None = None  # Teams: set when MICROSOFT_APP_ID or REALIGN_TEAMS_DEV
        self.teams = TeamsTenants(build=self._open_teams, known=self._teams_known)

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
        if self.settings.slack_post_rate == "auto":  # start where the last process had got to
            self._learned = await self.workers.learned_rates()
        if self.settings.slack_enabled:
            self.logins = logins if logins and logins.slack_workspace else await self._slack_login()
            assert self.logins.slack_workspace and self.settings.slack_bot_token is not None
            token = self.settings.slack_bot_token.get_secret_value()
            self.slacks.add(self._open_slack(self.logins.slack_workspace, token))
        elif self.settings.slack_oauth:
            assert self.settings.slack_client_id is not None
            client_id = self.settings.slack_client_id.get_secret_value()
            self.slacks.installations = SqlInstallations(self.db, client_id=client_id)
            await self.slacks.refresh()
        if self.settings.teams_configured:
            await self._open_teams_platform()

    @property
    def slack(self) -> Slack | None:
        """The workspace of a SLACK_BOT_TOKEN install (with OAuth there are many: `slacks`)."""
        return self.slacks.by_key.get(self.logins.slack_workspace or "")

    @property
    def installations(self) -> SqlInstallations | None:
        """The OAuth installation store (None with SLACK_BOT_TOKEN)."""
        return self.slacks.installations

    @property
    def delivering(self) -> bool:
        """Whether this loop has, or may come to have, a workspace to deliver to."""
        return self.settings.slack_oauth or bool(self.slacks.by_key) or self.connectors is not None

    @property
    def messengers(self) -> Mapping[str, Messenger]:
        return Merged(self.slacks.messengers, self.teams.messengers)

    @property
    def limiters(self) -> Mapping[str, RateLimiter]:
        return Merged(self.slacks.limiters, self.teams.limiters)

    async def connect(self, workspace: str) -> object:
        """A workspace this loop does not serve yet (installed since): Slack's or Teams'."""
        if workspace.startswith("teams:"):
            return await self.teams.load(workspace) if self.connectors is not None else None
        return await self.slacks.load(workspace)

    def share(self, senders: int) -> None:
        """`senders` processes deliver now: every workspace's and tenant's limiter takes this one's part."""
        self.slacks.share(senders)
        self.teams.share(senders)

    async def _open_teams_platform(self) -> None:
        settings = self.settings
        password = settings.microsoft_app_password
        registration = Registration(
            app_id=settings.microsoft_app_id or "",
            password=password.get_secret_value() if password else "",
            app_type=settings.microsoft_app_type or "MultiTenant",
            tenant_id=settings.microsoft_app_tenant_id or "",
        )
        if registration.dev:
            log.warning(DEV_WARNING)
        self.teams_records = SqlTeams(self.db)
        self.connectors = Connectors(
            registration, timeout=settings.slack_api_timeout, graph_url=settings.microsoft_graph_url
        )
        await self.teams.refresh()

    async def _teams_known(self) -> list[str]:
        return await self.teams_records.workspaces()

    def _open_teams(self, workspace: str) -> Tenant:
        assert self.connectors is not None
        app_id = self.connectors.registration.app_id
        limiter = RateLimiter(self.settings.teams_post_rate, on_wait=metrics.limiter_waits("teams"))
        messenger = TeamsMessenger(
            workspace=workspace,
            tenant_id=tenant_of(workspace),
            bot_id=f"28:{app_id}",
            connectors=self.connectors,
            records=self.teams_records,
            clock=self.clock,
            on_error=metrics.platform_errors("teams"),
            replies=Replies(workspace=workspace, limiter=limiter, paid=lambda: self.debit(workspace))
            if self.interactive
            else None,
            pace=None if self.interactive else limiter.acquire,
        )
        directory = TeamsDirectory(workspace=workspace, people=self.people, rosters=self.teams_records)
        rosters = RosterSync(
            workspace=workspace,
            connectors=self.connectors,
            people=self.people,
            records=self.teams_records,
            clock=self.clock,
            limiter=limiter,
            leases=SqlLeases(self.db),
        )
        return Tenant(workspace, messenger, directory, limiter, rosters)

    async def sync_directories(self) -> None:
        """Bring every workspace's people up to date, one workspace after another: Slack's `users.list`,
        every Teams tenant's rosters (each under its lease, so one process at a time does it)."""
        for slack in list(self.slacks.by_key.values()):
            try:
                await slack.directory.sync()
            except Exception:
                log.exception("directory sync of %s failed", slack.workspace)
        if self.connectors is None:
            return
        await self.teams.refresh()  # tenants installed since this loop started
        for tenant in list(self.teams.by_key.values()):
            try:
                if tenant.rosters is not None:
                    await tenant.rosters.sync()
            except Exception:
                log.exception("roster sync of %s failed", tenant.workspace)

    async def installed(self, team_id: str, *, name: str) -> Slack | None:
        """A workspace has just installed Realign: register it and serve it from this loop."""
        workspace = workspace_key(team_id)
        await self.people.ensure_workspace(key=workspace, platform="slack", name=name, at=self.clock.now())
        return await self.slacks.load(workspace)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        return self._http

    def slack_app_client(self) -> AsyncWebClient:
        """A client with no token, for bolt's app and OAuth flow: each request and install brings its own."""
        return AsyncWebClient(
            base_url=self.settings.slack_api_url,
            session=self._session(),
            timeout=self.settings.slack_api_timeout,
        )

    def _slack_client(self, token: str | None = None, **options: Any) -> AsyncWebClient:
        if token is None:
            assert self.settings.slack_bot_token is not None
            token = self.settings.slack_bot_token.get_secret_value()
        return AsyncWebClient(
            token=token,
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

    def _open_slack(self, workspace: str, token: str, limiter: RateLimiter | None = None) -> Slack:
        """The workspace's clients; its own limiter (or `limiter`, kept from an earlier token), so one
        workspace's budget never slows another's."""
        client = self._slack_client(token)
        # Posting never auto-retries inside slack_sdk: the delivery engine decides, after reconciling.
        messenger = SlackMessenger(
            self._slack_client(token, retry_handlers=[]), on_error=metrics.platform_errors("slack")
        )
        directory = SlackDirectory(
            workspace=workspace,
            client=client,
            people=self.people,
            clock=self.clock,
            leases=SqlLeases(self.db),
        )
        limiter = limiter or RateLimiter(
            self._learned.get(workspace, self.settings.post_rate),
            burst=self.settings.slack_post_burst,
            on_wait=metrics.limiter_waits("slack"),
            probing=Probing(ceiling=self.settings.slack_post_rate_max)
            if self.settings.slack_post_rate == "auto"
            else None,
        )
        return Slack(workspace, client, directory, messenger, limiter, token=token)

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
        for slack in list(self.slacks.by_key.values()):  # background channel reads end first
            await slack.directory.close()
        if self.connectors is not None:
            await self.connectors.close()
        if self._http is not None:
            await self._http.close()
        if hasattr(self, "db"):
            await self.db.close()
