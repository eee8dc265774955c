"""The Teams tenants as the web part serves them: `POST /api/messages`, and each tenant's use cases,
built for its workspace key (`teams:<tenant id>`) on first use, over the web loop's wiring."""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.teams.app import TeamsBot, TeamsEndpoint, TeamsServices
from adapters.teams.roster import Installer
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.capacity import CapacityChecking
from bot.questions import Questioning
from bot.status import Closing, Reporting, Requeueing
from bot.words import Restating
from realign.publishing import announcing_for
from realign.settings import Settings
from realign.wiring import Wiring
from store.amend import SqlAmendments
from store.capacity import SqlCapacity
from store.questions import SqlQuestions
from store.removal import stop_person, stop_workspace
from store.words import SqlOwnWords

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
    tenant, clock = wiring.teams.get(workspace), wiring.clock
    questions, words, capacity = SqlQuestions(wiring.db), SqlOwnWords(wiring.db), SqlCapacity(wiring.db)
    reporting = Reporting(
        workspace=workspace,
        changes=wiring.changes,
        admins=settings.admins,
        questions=questions,
        words=words,
        capacity=capacity,
    )
    acknowledging = Acknowledging(
        workspace=workspace,
        queue=wiring.queue,
        messenger=tenant.messenger,
        clock=clock,
        later=wiring.in_background,
    )
    # As Slack's (and the publish tick's): with the schedule, so the card's publish moment is kept.
    announcing = announcing_for(
        wiring, settings, workspace=workspace, directory=tenant.directory, on_published=wake
    )
    return TeamsServices(
        announcing=announcing,
        amending=Amending(announcing=announcing, store=SqlAmendments(wiring.db), on_amended=wake),
        reporting=reporting,
        acknowledging=acknowledging,
        closing=Closing(reporting=reporting, store=wiring.follow_up_store, clock=clock),
        requeueing=Requeueing(reporting=reporting, queue=wiring.queue, clock=clock, on_requeued=wake),
        directory=tenant.directory,
        in_background=wiring.in_background,
        replies=tenant.messenger.replies,
        questioning=Questioning(
            workspace=workspace,
            store=questions,
            messenger=tenant.messenger,
            clock=clock,
            later=wiring.in_background,
            admins=settings.admins,
        ),
        restating=Restating(workspace=workspace, store=words, acknowledging=acknowledging),
        capacity=CapacityChecking(
            workspace=workspace, store=capacity, messenger=tenant.messenger, clock=clock
        ),
    )
