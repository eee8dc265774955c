"""The use cases of one workspace or tenant, built the same way for every platform: the web parts
(realign.slack_web, realign.teams_web) add what only their platform has (Slack's Home tab and export,
Teams' replies) and hand them to their adapter's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

from bot.acknowledge import Acknowledging, OnAcknowledged
from bot.amend import Amending
from bot.announce import Announcing
from bot.capacity import CapacityChecking, CapacityMessenger
from bot.ports import Directory, Messenger
from bot.questions import Questioning, QuestionMessenger
from bot.status import Closing, Reporting, Requeueing
from bot.words import Restating
from realign.publishing import announcing_for
from realign.settings import Settings
from realign.wiring import Wiring
from store.amend import SqlAmendments
from store.capacity import SqlCapacity
from store.questions import SqlQuestions
from store.words import SqlOwnWords


class PlatformMessenger(Messenger, QuestionMessenger, CapacityMessenger, Protocol):
    """What one platform's messenger sends for the use cases: DMs, questions, capacity checks."""


@dataclass(frozen=True)
class UseCases:
    announcing: Announcing
    amending: Amending
    reporting: Reporting
    acknowledging: Acknowledging
    restating: Restating
    closing: Closing
    questioning: Questioning
    requeueing: Requeueing
    capacity: CapacityChecking

    def named(self) -> dict[str, Any]:
        """By name, for an adapter's services dataclass (whose fields have the same names)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def use_cases(
    wiring: Wiring,
    settings: Settings,
    *,
    workspace: str,
    messenger: PlatformMessenger,
    directory: Directory,
    wake: Callable[[], None],
    on_acknowledged: OnAcknowledged | None = None,
) -> UseCases:
    """`wake`: the delivery engine is told that there is something to send (a publish, an amendment, a
    retry)."""
    clock = wiring.clock
    questions, words = SqlQuestions(wiring.db), SqlOwnWords(wiring.db)
    reporting = Reporting(
        workspace=workspace,
        changes=wiring.changes,
        admins=settings.admins,
        questions=questions,
        words=words,
        capacity=SqlCapacity(wiring.db),
    )
    acknowledging = Acknowledging(
        workspace=workspace,
        queue=wiring.queue,
        messenger=messenger,
        clock=clock,
        later=wiring.in_background,
        on_acknowledged=on_acknowledged,
    )
    # As the publish tick's: with the schedule, so the form's publish moment is kept.
    announcing = announcing_for(wiring, settings, workspace=workspace, directory=directory, on_published=wake)
    return UseCases(
        announcing=announcing,
        amending=Amending(announcing=announcing, store=SqlAmendments(wiring.db), on_amended=wake),
        reporting=reporting,
        acknowledging=acknowledging,
        restating=Restating(workspace=workspace, store=words, acknowledging=acknowledging),
        closing=Closing(reporting=reporting, store=wiring.follow_up_store, clock=clock),
        questioning=Questioning(
            workspace=workspace,
            store=questions,
            messenger=messenger,
            clock=clock,
            later=wiring.in_background,
            admins=settings.admins,
        ),
        requeueing=Requeueing(reporting=reporting, queue=wiring.queue, clock=clock, on_requeued=wake),
        capacity=CapacityChecking(
            workspace=workspace, store=SqlCapacity(wiring.db), messenger=messenger, clock=clock
        ),
    )
