"""Publishing as each loop runs it: a workspace's `/announce-change` use case, and the engine's publish
tick, which publishes scheduled changes through the same use case when their moment comes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.announce import Announcing
from bot.model import Policy
from bot.ports import Directory
from bot.schedule import ScheduledPublishing
from realign.settings import Settings
from realign.wiring import Wiring
from store.schedule import SqlSchedule

log = logging.getLogger(__name__)


def announcing_for(
    wiring: Wiring,
    settings: Settings,
    *,
    workspace: str,
    directory: Directory,
    on_published: Callable[[], None],
) -> Announcing:
    """The workspace's `/announce-change` use case, as the web part and the publish tick both run it."""
    return Announcing(
        workspace=workspace,
        changes=wiring.changes,
        directory=directory,
        clock=wiring.clock,
        announcers=settings.announcers,
        max_audience=settings.max_audience,
        policy=Policy(settings.remind_after, Policy().max_reminders, settings.escalate_after),
        hours=settings.working_hours,
        on_published=on_published,
        schedule=SqlSchedule(wiring.db),
    )


def publish_tick(
    wiring: Wiring, settings: Settings, *, on_published: Callable[[], None]
) -> ScheduledPublishing:
    """The engine's publish tick over this loop's workspaces: Slack's and the Teams tenants' (each
    through its own directory)."""

    async def announcing(workspace: str) -> Announcing | None:
        if workspace.startswith("teams:"):
            tenant = await wiring.teams.load(workspace) if wiring.connectors is not None else None
            directory: Directory | None = tenant.directory if tenant is not None else None
        else:
            slack = await wiring.slacks.get(workspace)
            directory = slack.directory if slack is not None else None
        if directory is None:
            return None
        return announcing_for(
            wiring, settings, workspace=workspace, directory=directory, on_published=on_published
        )

    return ScheduledPublishing(store=SqlSchedule(wiring.db), announcing=announcing, clock=wiring.clock)
