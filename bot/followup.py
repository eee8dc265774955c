"""Closing the gap: reminders in each person's working hours, one escalation per manager, the gap report.

The policy here is pure: given times, zones and who is pending, it says when and to whom. Due times
live in the rows (delivery.remind_at, change.escalate_at / report_at), so a restart loses nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.model import Change, Escalation, GapReport, PendingPerson, Policy, announcement_for
from bot.ports import FollowUpStore, Messenger, Retry, Sent

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


def next_working_moment(at: datetime, *, tz: str | None, hours: WorkingHours) -> datetime:
    """`at` if it falls in the person's working hours where they are, else when their next window opens."""
    if hours is None:
        return at
    local = at.astimezone(zone(tz))
    if within(local.time(), hours):
        return at
    opens = datetime.combine(local.date(), hours[0], local.tzinfo)
    if opens <= local:
        opens = datetime.combine(local.date() + timedelta(days=1), hours[0], local.tzinfo)
    return opens.astimezone(UTC)


def deadline_moment(deadline: date, *, tz: str | None, hours: WorkingHours) -> datetime:
    """The end of the deadline's working day where the announcer is."""
    end = hours[1] if hours else END_OF_DAY
    return datetime.combine(deadline, end, zone(tz)).astimezone(UTC)


def next_reminder(sent_at: datetime, *, reminders_sent: int, policy: Policy) -> datetime | None:
    """When the next reminder falls due after one was sent, or None once the policy's count is reached."""
    return sent_at + policy.remind_after if reminders_sent < policy.max_reminders else None


def by_manager(
    change: Change, pending: Iterable[PendingPerson]
) -> tuple[list[Escalation], list[PendingPerson]]:
    """One escalation per manager (never one per report); people with no manager on record apart."""
    groups: dict[str, list[PendingPerson]] = defaultdict(list)
    unmanaged = []
    for person in pending:
        if person.manager_id:
            groups[person.manager_id].append(person)
        else:
            unmanaged.append(person)
    escalations = [Escalation(change, manager, tuple(people)) for manager, people in sorted(groups.items())]
    return escalations, unmanaged


class FollowUp:
    """The follow-up tick: due reminders, due escalations, due gap reports."""

    def __init__(
        self,
        *,
        store: FollowUpStore,
        messengers: Mapping[str, Messenger],
        clock: Clock,
        hours: WorkingHours,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 200,
    ) -> None:
        self.store = store
        self.messengers = messengers
        self.clock = clock
        self.hours = hours
        self.lease = lease
        self.batch = batch
        self._changes: dict[int, Change] = {}

    async def tick(self) -> None:
        await self.remind()
        await self.escalate()
        await self.report()

    async def _change(self, change_id: int) -> Change:
        if change_id not in self._changes:
            self._changes[change_id] = await self.store.change(change_id)
        return self._changes[change_id]

    async def remind(self) -> int:
        """Send the reminders that are due, each inside its recipient's working hours."""
        now, sent = self.clock.now(), 0
        while due := await self.store.due_reminders(now=now, limit=self.batch):
            later = {d.delivery_id: next_working_moment(now, tz=d.tz, hours=self.hours) for d in due}
            await self.store.postpone_reminders({i: at for i, at in later.items() if at > now})
            ready = [d for d in due if later[d.delivery_id] <= now]
            for claim in await self.store.claim_reminders(
                [d.delivery_id for d in ready], now=now, lease=self.lease
            ):
                sent += await self._remind(claim, now)
            if len(due) < self.batch:
                break
        return sent

    async def _remind(self, claim: PendingPerson, now: datetime) -> int:
        change = await self._change(claim.change_id)
        shown = announcement_for(change, claim.group_mask, delivery_id=claim.delivery_id)
        result = await self.messengers[change.workspace].send_reminder(
            shown, user_id=claim.user_id, thread=claim.ref
        )
        count = claim.reminders_sent + (1 if isinstance(result, Sent) else 0)
        policy = change.policy
        if isinstance(result, Retry):
            due: datetime | None = now + timedelta(seconds=result.after or 60)
        else:
            due = next_reminder(now, reminders_sent=count, policy=policy)
        await self.store.settle_reminder(claim.delivery_id, reminders_sent=count, remind_at=due, now=now)
        return 1 if isinstance(result, Sent) else 0

    async def escalate(self) -> int:
        """One DM per manager listing their direct reports still pending; the rest go to the announcer."""
        sent = 0
        for change_id in await self.store.claim_escalations(now=self.clock.now()):
            change = await self._change(change_id)
            escalations, unmanaged = by_manager(change, await self.store.pending(change_id))
            messenger = self.messengers[change.workspace]
            for escalation in escalations:
                sent += isinstance(await messenger.send_escalation(escalation), Sent)
            if unmanaged:  # nobody to escalate to: the announcer hears about them instead
                await messenger.send_gap_report(GapReport(change, tuple(unmanaged), (), unmanaged_only=True))
        return sent

    async def report(self) -> int:
        """At the deadline, the gap report to the announcer."""
        reports = await self.store.claim_reports(now=self.clock.now())
        for change_id in reports:
            change = await self._change(change_id)
            await self.messengers[change.workspace].send_gap_report(await self.gap(change))
        return len(reports)

    async def gap(self, change: Change) -> GapReport:
        assert change.id is not None
        pending = await self.store.pending(change.id)
        failed = await self.store.failed(change.id)
        return GapReport(change, tuple(pending), tuple(failed))
