"""Sending follow-up messages (reminders, escalations, gap reports, capacity checks, amendments) with
the announcements' guarantees.

Each message is a `notice` row that bot.followup planned. This dispatcher claims them with a lease,
sends each inside its receiver's working time through the workspace's limiter, looks for one whose
outcome is unknown before sending it again, and settles it fenced by attempt: a crash, a 429 or a retry
never loses one or sends one twice. What a message lists is read a second or two before it is sent
(once for the batch), so someone who acknowledged in the meantime is not named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.amend import send_amendment
from bot.capacity import ask_capacity
from bot.clock import Clock
from bot.delivery import Drain, EngineTuning
from bot.followup import WEEKDAYS, WorkingHours, next_reminder, next_working_moment
from bot.model import Change, Escalation, GapReport, NoticeKind, PendingPerson, announcement_for
from bot.ports import (
    NO_METER,
    ChangeStore,
    Deferred,
    FollowUpStore,
    Found,
    Messenger,
    Meter,
    NoticeClaim,
    Result,
    Skipped,
)
from bot.rate import RateLimiter

NAMES_LISTED = 50  # people named in one escalation or report; the rest are counted
NOBODY_LEFT = "nobody is pending any more"


@dataclass(frozen=True)
class WorkingTime:
    """When follow-up may reach someone: their local hours (None: any hour) on their working days."""

    hours: WorkingHours = None
    days: frozenset[int] = WEEKDAYS


class NoticeDispatcher(Drain[NoticeClaim, Messenger]):
    """Drains the follow-up outbox."""

    def __init__(
        self,
        *,
        store: FollowUpStore,
        changes: ChangeStore,
        messengers: Mapping[str, Messenger],
        limiters: Mapping[str, RateLimiter],
        clock: Clock,
        working: WorkingTime,
        tuning: EngineTuning | None = None,
        meter: Meter = NO_METER,
        connect: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(
            queue=store,
            changes=changes,
            messengers=messengers,
            limiters=limiters,
            clock=clock,
            tuning=tuning or EngineTuning(),
            meter=meter,
            connect=connect,
        )
        self.store = store
        self.working = working
        self._lists: dict[int, tuple[list[PendingPerson], int]] = {}  # by notice id, for the batch in hand

    async def _prepare(self, claims: list[NoticeClaim]) -> None:
        """Who each escalation in the batch lists, read in one query per change rather than per message
        (a wave of 10,000 escalations reads the database a few hundred times, not 20,000): a couple of
        seconds before sending, so someone who acknowledges meanwhile may still be named."""
        wanted: dict[int, dict[str | None, list[int]]] = {}
        for claim in claims:
            if claim.kind in (NoticeKind.ESCALATION, NoticeKind.UNMANAGED) and claim.moot is None:
                manager = claim.user_id if claim.kind is NoticeKind.ESCALATION else None
                wanted.setdefault(claim.change_id, {}).setdefault(manager, []).append(claim.id)
        for change_id, managers in wanted.items():
            lists = await self.store.reports_pending_of(change_id, managers, limit=NAMES_LISTED)
            for manager, notice_ids in managers.items():
                for notice_id in notice_ids:
                    self._lists[notice_id] = lists[manager]

    def _prepared(self, claims: list[NoticeClaim]) -> None:
        for claim in claims:
            self._lists.pop(claim.id, None)

    def _before(self, claim: NoticeClaim, change: Change) -> Deferred | Skipped | None:
        if claim.moot is not None:
            return Skipped(claim.moot)
        if claim.kind is NoticeKind.AMENDMENT:  # like the announcement it corrects: at once, at any hour
            return None
        now = self.clock.now()
        opens = next_working_moment(now, tz=claim.tz, hours=self.working.hours, days=self.working.days)
        return Deferred(opens) if opens > now else None

    async def _find(self, messenger: Messenger, claim: NoticeClaim) -> Found:
        return await messenger.find_notice(user_id=claim.user_id, notice_id=claim.id, thread=claim.thread)

    async def _post(self, messenger: Messenger, claim: NoticeClaim, change: Change) -> Result:
        assert change.id is not None
        if claim.kind is NoticeKind.REMINDER:
            shown = announcement_for(change, claim.group_mask, delivery_id=claim.delivery_id)
            return await messenger.send_reminder(
                shown, user_id=claim.user_id, thread=claim.thread, notice_id=claim.id
            )
        if claim.kind is NoticeKind.REPORT:
            report = await self.store.gap(change.id, limit=NAMES_LISTED)
            return await messenger.send_gap_report(report, notice_id=claim.id)
        if claim.kind is NoticeKind.CAPACITY:  # bot.capacity: can your team do this by then?
            return await ask_capacity(self.store, messenger, claim, change)
        if claim.kind is NoticeKind.AMENDMENT:  # bot.amend: the DM updated, and asked again
            return await send_amendment(messenger, claim, change, now=self.clock.now())
        manager = claim.user_id if claim.kind is NoticeKind.ESCALATION else None
        listed = self._lists.get(claim.id)
        if listed is None:
            listed = (await self.store.reports_pending_of(change.id, [manager], limit=NAMES_LISTED))[manager]
        reports, total = listed
        if not total:
            return Skipped(NOBODY_LEFT)
        if manager is None:  # nobody to escalate to: the announcer hears about them instead
            unmanaged = GapReport(change, tuple(reports), (), unmanaged_only=True, pending_total=total)
            return await messenger.send_gap_report(unmanaged, notice_id=claim.id)
        escalation = Escalation(change, manager, tuple(reports), total=total)
        return await messenger.send_escalation(escalation, notice_id=claim.id)

    def _delivered(self, claim: NoticeClaim, change: Change) -> datetime | None:
        if claim.kind is not NoticeKind.REMINDER:
            return None
        sent = claim.seq - claim.reminded_before  # an amendment that asked again starts the count anew
        return next_reminder(self.clock.now(), reminders_sent=sent, policy=change.policy)
