"""The Teams tenants as the web part serves them: `POST /api/messages`, and each tenant's use cases,
built for its workspace key (`teams:<tenant id>`) on first use, over the web loop's wiring."""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.teams.app import TeamsBot, TeamsEndpoint, TeamsServices
from adapters.teams.exports import TeamsExports
from adapters.teams.roster import Installer
from bot.exporting import Exporting
from realign.settings import Settings
from realign.use_cases import use_cases
from realign.wiring import Wiring
from store.export import SqlExport
from store.removal import stop_person, stop_workspace

log = logging.getLogger(__name__)
TENANT_REMOVED = "teams_removed"  # bot.copy says it in words: Realign was removed from this tenant
PERSON_REMOVED = "teams_removed_by_user"  # ... they removed Realign


def teams_endpoint(wiring: Wiring, settings: Settings, *, wake: Callable[[], None]) -> TeamsEndpoint | None:
    """The /api/messages handler, or None when Teams is off."""
    if wiring.connectors is None:
        return None
    served: dict[str, TeamsServices] = {}

    async def services(workspace: str) -> TeamsServices:
        found = served.get(workspace)
        if found is None:
            found = served[workspace] = _services(wiring, settings, workspace, wake=wake)
        return found

    installer = Installer(
        people=wiring.people,
        records=wiring.teams_records,
        clock=wiring.clock,
        removals=TeamsRemovals(wiring),
    )
    bot = TeamsBot(services=services, installer=installer)
    return TeamsEndpoint(connectors=wiring.connectors, bot=bot)


class TeamsRemovals:
    """What stops when Realign is removed in Teams (adapters.teams.roster.Removals), as a Slack uninstall
    stops a workspace (realign.slack_web): the rows waiting fail with the reason, follow-up is skipped."""

    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    async def person_removed(self, workspace: str, user_id: str) -> None:
        stopped = await stop_person(
            self.wiring.db,
            workspace=workspace,
            user_id=user_id,
            reason=PERSON_REMOVED,
            actor="teams",
            at=self.wiring.clock.now(),
        )
        log.info(
            "%s removed Realign from their personal scope in %s: %d deliveries failed, %d follow-ups skipped",
            user_id,
            workspace,
            stopped.deliveries,
            stopped.notices,
        )

    async def tenant_removed(self, workspace: str) -> None:
        stopped = await stop_workspace(
            self.wiring.db,
            workspace=workspace,
            reason=TENANT_REMOVED,
            actor="teams",
            at=self.wiring.clock.now(),
        )
        log.warning(
            "Realign was removed from the last team or chat of %s: %d deliveries failed, %d follow-ups "
            "skipped",
            workspace,
            stopped.deliveries,
            stopped.notices,
        )


def _services(
    wiring: Wiring, settings: Settings, workspace: str, *, wake: Callable[[], None]
) -> TeamsServices:
    tenant = wiring.teams.get(workspace)
    core = use_cases(
        wiring,
        settings,
        workspace=workspace,
        messenger=tenant.messenger,
        directory=tenant.directory,
        wake=wake,
    )
    assert wiring.connectors is not None  # Teams is served
    exports = TeamsExports(
        exporting=Exporting(reporting=core.reporting, rows=SqlExport(wiring.db)),
        sender=tenant.messenger,
        uploader=wiring.connectors,
        later=wiring.in_background,
    )
    return TeamsServices(
        **core.named(),
        directory=tenant.directory,
        in_background=wiring.in_background,
        replies=tenant.messenger.replies,
        exports=exports,
    )
