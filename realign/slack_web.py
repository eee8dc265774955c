"""The Slack workspaces as the web part serves them: each one's use cases, built for its workspace key
(`slack:<team id>`) and handed to the listeners of the request that came from it; OAuth installs and
removals.

The workspaces themselves (token, directory, messenger, limiter) are the web loop's `Wiring.slacks`; here
each gets its `SlackServices`, rebuilt when its Slack is (a reinstall with a new token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackServices
from adapters.slack.directory import SlackDirectory
from adapters.slack.home import SlackHomePublisher
from adapters.slack.install import InstalledBot
from bot import copy
from bot.exporting import Exporting
from bot.home import HomePages
from realign.settings import Settings
from realign.slacks import Slack, workspace_key
from realign.use_cases import use_cases
from realign.wiring import Wiring
from store.export import SqlExport
from store.home import SqlHome
from store.removal import stop_workspace

log = logging.getLogger(__name__)


@dataclass
class SlackWeb:
    """One Slack workspace as the web part serves it."""

    workspace: str
    client: AsyncWebClient
    directory: SlackDirectory
    services: SlackServices


class SlackWebWorkspaces:
    """Finds each request's workspace, builds its services on first use; installs and removals."""

    def __init__(self, *, wiring: Wiring, settings: Settings, wake: Callable[[], None]) -> None:
        self.wiring = wiring
        self.settings = settings
        self.wake = wake  # new rows to deliver: the engine looks now
        self._served: dict[str, tuple[Slack, SlackWeb]] = {}

    def web(self, slack: Slack) -> SlackWeb:
        served = self._served.get(slack.workspace)
        if served is None or served[0] is not slack:
            served = (slack, SlackWeb(slack.workspace, slack.client, slack.directory, self._services(slack)))
            self._served[slack.workspace] = served
        return served[1]

    async def for_team(self, team_id: str | None) -> SlackServices | None:
        """The use cases of the request's workspace; None where Realign is not installed."""
        slack = await self.wiring.slacks.get(workspace_key(team_id)) if team_id else None
        return None if slack is None else self.web(slack).services

    async def bot(self, team_id: str) -> InstalledBot | None:
        """The workspace's bot, for bolt's authorize (OAuth)."""
        slack = await self.wiring.slacks.get(workspace_key(team_id))
        return None if slack is None else InstalledBot(slack.token, slack.bot_id, slack.bot_user_id)

    async def installed(self, installation: Installation) -> None:
        """An install completed (the installation is saved): register the workspace, serve it, and sync
        its directory in the background. The engine learns of it from its first rows to deliver."""
        if not installation.team_id:  # an org-wide (Enterprise Grid) install: not supported
            log.warning("an org-wide install of Realign was saved but is not served")
            return
        name = installation.team_name or ""
        slack = await self.wiring.installed(installation.team_id, name=name)
        if slack is None:
            log.error("the install of Slack team %s was saved but cannot be read back", installation.team_id)
            return
        log.info("Realign was installed in Slack workspace %s (%s)", slack.workspace, name or "no name")
        self.wiring.in_background(slack.directory.sync(), f"directory sync of {slack.workspace}")

    async def removed(self, team_id: str) -> None:
        """Realign was uninstalled (or its bot token revoked): forget the install, fail what waits to be
        delivered there, skip the follow-up, send nothing more. The engine drops the workspace on its
        next heartbeat; what it still holds is already settled."""
        workspace = workspace_key(team_id)
        if self.wiring.installations is not None:
            await self.wiring.installations.remove(team_id)
        stopped = await stop_workspace(
            self.wiring.db,
            workspace=workspace,
            reason=copy.REMOVED_FROM_WORKSPACE,
            actor="slack",
            at=self.wiring.clock.now(),
        )
        self.wiring.slacks.forget(workspace)
        self._served.pop(workspace, None)
        log.warning(
            "Realign was removed from Slack workspace %s: %d deliveries failed, %d follow-ups skipped",
            workspace,
            stopped.deliveries,
            stopped.notices,
        )

    def _services(self, slack: Slack) -> SlackServices:
        wiring, settings = self.wiring, self.settings
        home = HomePages(
            workspace=slack.workspace,
            store=SqlHome(wiring.db),
            changes=wiring.changes,
            publisher=SlackHomePublisher(slack.client),
            later=wiring.in_background,
            now=wiring.clock.now,
            admins=settings.admins,
        )
        core = use_cases(
            wiring,
            settings,
            workspace=slack.workspace,
            messenger=slack.messenger,
            directory=slack.directory,
            wake=self.wake,
            on_acknowledged=home.acknowledged,  # the pages it changes are republished
        )
        return SlackServices(
            **core.named(),
            directory=slack.directory,
            in_background=wiring.in_background,
            home=home,
            exporting=Exporting(reporting=core.reporting, rows=SqlExport(wiring.db)),
        )
