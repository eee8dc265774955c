"""Scheduled publish: a change waits as `scheduled` until its `publish_at`, then is published once.

The moment lives in the row (`change.publish_at`), never in scheduler state, so a restart loses nothing.
Each tick claims the due changes with one atomic update that gives the claimer a lease; publishing itself
is the same one-transaction write as publishing at review (`ChangeStore.publish`, which changes only a
change still draft or scheduled), so two processes that both get that far publish it once: the second
finds it published and writes nothing. A process that stops between the claim and the publish leaves
the lease to run out, and the next tick, anywhere, publishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol

from bot import copy
from bot.clock import Clock
from bot.errors import RealignError
from bot.followup import zone

if TYPE_CHECKING:
    from bot.announce import Announcing

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(minutes=2)  # how long a claimed publish is left to its claimer
DEFAULT_TIME = time(9)  # a day chosen with no time publishes at 09:00 where the announcer is


@dataclass(frozen=True)
class DueChange:
    """A scheduled change whose moment has come, claimed by this process until its lease runs out."""

    change_id: int
    key: str
    workspace: str
    announcer_id: str


class ScheduleStore(Protocol):
    """Scheduled changes in the database; every state change writes its audit event."""

    async def schedule(self, change_id: int, *, actor: str, at: datetime) -> bool:
        """Draft -> scheduled (its `publish_at` is already saved). False if it is no longer a draft."""
        ...

    async def cancel(self, change_id: int, *, actor: str, at: datetime) -> bool:
        """Scheduled -> cancelled; False if it is not waiting any more (published meanwhile, cancelled)."""
        ...

    async def claim_due(self, *, now: datetime, lease: timedelta, limit: int) -> list[DueChange]:
        """Atomically take scheduled changes due by `now` whose claim (if any) has run out, leasing them
        until `now + lease`: of several processes ticking at once, each change goes to one."""
        ...


def publish_moment(on: date | None, at: time | None, *, tz: str | None) -> datetime | None:
    """The moment a form's day and time (where the announcer is) name, in UTC; None when neither is given.
    A time without a day is the caller's error to report; a day without a time is 09:00."""
    if on is None:
        return None
    return datetime.combine(on, at or DEFAULT_TIME, zone(tz)).astimezone(zone("UTC"))


def check_publish_at(
    errors: dict[str, str],
    on: date | None,
    at: time | None,
    *,
    effective: date | None,
    now: datetime | None,
    tz: str | None,
) -> datetime | None:
    """The scheduled moment (UTC) a form's day and time name, or None; what cannot be is added to
    `errors` by field (a time with no day, a moment passed, a day after a valid effective date)."""
    if on is None:
        if at is not None:
            errors["publish_on"] = copy.PUBLISH_TIME_NEEDS_DATE
        return None
    moment = publish_moment(on, at, tz=tz)
    if now is not None and moment is not None and moment <= now:
        errors["publish_time" if at else "publish_on"] = copy.PUBLISH_PAST
    elif "effective_date" not in errors and effective is not None and on > effective:
        errors["publish_on"] = copy.PUBLISH_AFTER_EFFECTIVE
    return moment


def shown_in(moment: datetime, tz: str | None) -> tuple[str, str]:
    """(`14 Dec 2026 09:00`, `Europe/Paris`): a moment as the announcer's clock shows it, and the zone."""
    local = moment.astimezone(zone(tz))
    return copy.local_moment(local), tz or "UTC"


class ScheduledPublishing:
    """The publish tick: every change whose moment has come is published through its workspace's
    `Announcing`, exactly as if its announcer had clicked Publish."""

    def __init__(
        self,
        *,
        store: ScheduleStore,
        announcing: Callable[[str], Awaitable[Announcing | None]],
        clock: Clock,
        lease: timedelta = CLAIM_LEASE,
        batch: int = 20,
    ) -> None:
        self.store = store
        self.announcing = announcing  # a workspace key -> its use case (None: not served here)
        self.clock = clock
        self.lease = lease
        self.batch = batch

    async def tick(self) -> int:
        """Publish what is due now; returns how many changes this process published."""
        published = 0
        for due in await self.store.claim_due(now=self.clock.now(), lease=self.lease, limit=self.batch):
            announcing = await self.announcing(due.workspace)
            if announcing is None:  # a workspace this process does not serve: one that does takes it over
                log.warning("scheduled %s is due in %s, which is not served here", due.key, due.workspace)
                continue
            try:
                outcome = await announcing.publish(key=due.key, user_id=due.announcer_id, at_once=True)
            except RealignError as error:  # e.g. the audience resolves to nobody now: tried again later
                log.warning(
                    "scheduled %s could not be published: %s (retried in %s)", due.key, error, self.lease
                )
                continue
            published += outcome.first
        return published
