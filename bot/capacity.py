"""The capacity check: at publishing, each recipient's manager is asked "Can your team do this by the
effective date?" (Yes / Need help / No, and a comment); each answer reaches the announcer at once.

The managers' messages are follow-up outbox rows (`notice`, kind `capacity`), written in the publish's
own transaction, so they get the outbox's guarantees: each manager is asked once, through crashes and
retries. The answers are one person's action, answered while they wait: recorded, then sent to the
announcer directly (like questions), a No as a message of its own that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot import copy
from bot.clock import Clock
from bot.errors import InvalidInput, RealignError
from bot.model import Change, groups_in
from bot.ports import FollowUpStore, NoticeClaim, Result, SendResult, Sent, Skipped

COMMENT_LIMIT = 2000
TEAM_LISTED = 50  # reports read to name the team's groups
NOT_ON_PLATFORM = "this platform cannot ask a capacity check yet"


class CapacityAnswer(StrEnum):
    YES = "yes"
    HELP = "help"  # "Need help"
    NO = "no"

    @property
    def label(self) -> str:
        return {"yes": copy.CAPACITY_YES, "help": copy.CAPACITY_HELP, "no": copy.CAPACITY_NO}[self.value]


@dataclass(frozen=True)
class CapacityRequest:
    """What one manager is asked: the change, and how many of their reports (in which groups) it reaches."""

    change: Change
    manager_id: str
    team: int
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class CapacityReply:
    """A manager's answer, as the announcer and status see it."""

    change_key: str
    title: str
    effective_date: date
    announcer_id: str
    manager_id: str
    answer: CapacityAnswer
    comment: str
    at: datetime


@dataclass(frozen=True)
class CapacitySummary:
    """A change's capacity check for status: how many managers were asked, and the answers so far
    (the first few: No first, then Need help, then Yes)."""

    asked: int
    replies: tuple[CapacityReply, ...] = ()
    counts: tuple[tuple[CapacityAnswer, int], ...] = ()

    def count(self, answer: CapacityAnswer) -> int:
        return dict(self.counts).get(answer, 0)

    @property
    def answered(self) -> int:
        return sum(n for _, n in self.counts)


class CapacityStore(Protocol):
    """Capacity answers, stored with their audit events."""

    async def answer(
        self,
        *,
        workspace: str,
        change_key: str,
        manager_id: str,
        answer: CapacityAnswer,
        comment: str,
        at: datetime,
    ) -> CapacityReply:
        """Record (or replace) the manager's answer. NotFound for another workspace's change; NotAllowed
        for someone Realign did not ask about it."""
        ...

    async def summary(self, change_id: int, *, limit: int) -> CapacitySummary: ...


@runtime_checkable
class CapacityMessenger(Protocol):
    """The capacity check's messages on one workspace (a platform without them skips the check)."""

    async def send_capacity_check(self, request: CapacityRequest, *, notice_id: int) -> SendResult:
        """To the manager, with Yes / Need help / No; carries the notice id, like every follow-up message."""
        ...

    async def send_capacity_reply(self, reply: CapacityReply) -> SendResult:
        """To the announcer: who answered what (a No says so in its first words)."""
        ...


async def ask_capacity(store: FollowUpStore, messenger: object, claim: NoticeClaim, change: Change) -> Result:
    """Send one capacity notice: the manager's team is read a moment before, like an escalation's list."""
    if not isinstance(messenger, CapacityMessenger):
        return Skipped(NOT_ON_PLATFORM)
    assert change.id is not None
    listed, total = (await store.reports_pending_of(change.id, [claim.user_id], limit=TEAM_LISTED))[
        claim.user_id
    ]
    mask = 0
    for person in listed:
        mask |= person.group_mask
    groups = tuple(group.name for group in groups_in(mask, change.groups))
    request = CapacityRequest(change, claim.user_id, total, groups)
    return await messenger.send_capacity_check(request, notice_id=claim.id)


class NotPassedOn(RealignError):
    """The answer is recorded, but its message to the announcer could not be sent."""


class CapacityChecking:
    """A manager answers a capacity check, for one workspace."""

    def __init__(
        self, *, workspace: str, store: CapacityStore, messenger: CapacityMessenger, clock: Clock
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.messenger = messenger
        self.clock = clock

    async def answer(
        self, *, change_key: str, user_id: str, answer: CapacityAnswer, comment: str = ""
    ) -> CapacityReply:
        """Record the answer, then tell the announcer at once; NotPassedOn if that message failed."""
        cleaned = comment.strip()
        if len(cleaned) > COMMENT_LIMIT:
            raise InvalidInput({"comment": copy.TOO_LONG.format(limit=COMMENT_LIMIT)})
        if not cleaned and answer is not CapacityAnswer.YES:  # a No or Need help says why
            raise InvalidInput({"comment": copy.CAPACITY_COMMENT_NEEDED})
        reply = await self.store.answer(
            workspace=self.workspace,
            change_key=change_key.strip().upper(),
            manager_id=user_id,
            answer=answer,
            comment=cleaned,
            at=self.clock.now(),
        )
        if not isinstance(await self.messenger.send_capacity_reply(reply), Sent):
            raise NotPassedOn(copy.CAPACITY_NOT_SENT)
        return reply
