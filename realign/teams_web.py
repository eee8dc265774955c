"""The Teams tenants as the web part serves them: `POST /api/messages`, and each tenant's use cases,
built for its workspace key (`teams:<tenant id>`) on first use, over the web loop's wiring."""

from __future__ import annotations

from collections.abc import Callable

from adapters.teams.app import TeamsBot, TeamsEndpoint, TeamsServices
from adapters.teams.roster import Installer
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.announce import Announcing
from bot.model import Policy
from bot.questions import Questioning
from bot.status import Closing, Reporting, Requeueing
from bot.words import Restating
from realign.settings import Settings
from realign.wiring import Wiring
from store.amend import SqlAmendments
from store.questions import SqlQuestions
from store.words import SqlOwnWords


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

    installer = Installer(people=wiring.people, records=wiring.teams_records, clock=wiring.clock)
    bot = TeamsBot(services=services, installer=installer)
    return TeamsEndpoint(connectors=wiring.connectors, bot=bot)


def _services(
    wiring: Wiring, settings: Settings, workspace: str, *, wake: Callable[[], None]
) -> TeamsServices:
    tenant, clock = wiring.teams.get(workspace), wiring.clock
    questions, words = SqlQuestions(wiring.db), SqlOwnWords(wiring.db)
    reporting = Reporting(
        workspace=workspace, changes=wiring.changes, admins=settings.admins, questions=questions, words=words
    )
    acknowledging = Acknowledging(
        workspace=workspace,
        queue=wiring.queue,
        messenger=tenant.messenger,
        clock=clock,
        later=wiring.in_background,
    )
    announcing = Announcing(
        workspace=workspace,
        changes=wiring.changes,
        directory=tenant.directory,
        clock=clock,
        announcers=settings.announcers,
        max_audience=settings.max_audience,
        policy=Policy(settings.remind_after, Policy().max_reminders, settings.escalate_after),
        hours=settings.working_hours,
        on_published=wake,
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
        questioning=Questioning(
            workspace=workspace,
            store=questions,
            messenger=tenant.messenger,
            clock=clock,
            later=wiring.in_background,
            admins=settings.admins,
        ),
        restating=Restating(workspace=workspace, store=words, acknowledging=acknowledging),
    )
