"""Closing the gap: reminders in each person's working time, one escalation per manager, the gap report.

The policy here is pure: given times, zones and working days, it says when. Due times live in the rows
(delivery.remind_at, change.escalate_at / report_at, notice.due_at), so a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.model import Policy
from bot.ports import FollowUpStore

WorkingHours = tuple[time, time] | None  # None: any time ("always")
END_OF_DAY = time(17)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def within(local: time, hours: tuple[time, time]) -> bool:
    start, end = hours
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight, e.g. 22:00-06:00


EVERY_DAY = frozenset(range(7))
WEEKDAYS = frozenset(range(5))  # Monday (0) to Friday (4), as date.weekday() counts


def _window_opened(local: datetime, start: time, end: time) -> date | None:
    """The date whose working window `local` falls in (a night shift opens the day before), or None."""
    if start <= end:
        return local.date() if start <= local.time() < end else None
    if local.time() >= start:
        return local.date()
    return local.date() - timedelta(days=1) if local.time() < end else None


def next_working_moment(
    at: datetime, *, tz: str | None, hours: WorkingHours, days: frozenset[int] = EVERY_DAY
) -> datetime:
    """`at` if it falls in the person's working time where they are, else when their next window opens.

    `hours` None means any hour of a working day; a window's day is the day it opens on."""
    local = at.astimezone(zone(tz))
    start, end = hours or (time(0), time.max)
    opened = _window_opened(local, start, end)
    if opened is not None and opened.weekday() in days:
        return at
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    for _ in range(7):
        if day.weekday() in days:
            return datetime.combine(day, start, local.tzinfo).astimezone(UTC)
        day += timedelta(days=1)
    return at  # no working day at all: never hold a message back for ever


def deadline_moment(deadline: date, *, tz: str | None, hours: WorkingHours) -> datetime:
    """The end of the deadline's working day where the announcer is."""
    end = hours[1] if hours else END_OF_DAY
    return datetime.combine(deadline, end, zone(tz)).astimezone(UTC)


def next_reminder(sent_at: datetime, *, reminders_sent: int, policy: Policy) -> datetime | None:
    """When the next reminder falls due after one was sent, or None once the policy's count is reached."""
    return sent_at + policy.remind_after if reminders_sent < policy.max_reminders else None


class FollowUp:
    """The follow-up tick: turn what has fallen due into outbox rows (reminders, escalations, reports).

    It only plans, in bulk and in the database; bot.notices sends the rows like announcements, each in
    its receiver's working time, so one 09:00 reminder wave never holds up an escalation."""

    def __init__(
        self,
        *,
        store: FollowUpStore,
        clock: Clock,
        batch: int = 2000,
        on_planned: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.batch = batch
        self.on_planned = on_planned  # wakes the notice dispatcher

    async def tick(self) -> int:
        """Plan what is due now; returns how many follow-up messages were queued."""
        now, planned = self.clock.now(), 0
        while True:  # a wave of 50,000 is planned a batch at a time; sending starts after the first
            count = await self.store.plan_reminders(now=now, limit=self.batch)
            planned += self._planned(count)
            if count < self.batch:
                break
        planned += self._planned(await self.store.plan_escalations(now=now))
        planned += self._planned(await self.store.plan_reports(now=now))
        return planned

    def _planned(self, count: int) -> int:
        if count:
            self.on_planned()
        return count
