"""Amending a published change (its announcer only): what, why, the dates, a group's expectations.

Who is asked again is decided here, from the change before and after it: everyone when a date moved
(the day they start, or their deadline), the people of a group whose expectations changed, nobody for
a reworded "what" or "why". Everyone whose DM would read differently has it updated in place; those
asked again are told so in its thread, and their reminders start again; nobody else is disturbed.
Follow-up follows the new state: when anyone is asked again, the escalation clock starts again (their
managers hear of whoever is still pending `escalate_after` from the amendment, even if an escalation
went out before), and a moved deadline moves the gap report, sent already or not.

The store writes an amendment in one transaction: the change and its groups, each re-asked person's
earlier acknowledgement moved to the history (it stays in the export), and one AMENDMENT notice per
delivered DM to update. The follow-up outbox sends those with its usual guarantees (claims, leases,
the limiter, reconciliation): a crash never updates a DM twice or skips one. DMs not sent yet simply
go out amended, since each is rendered from the change when it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

from bot import copy
from bot.announce import TEXT_LIMIT, Announcing, length
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.followup import deadline_moment
from bot.model import Announcement, Change, ChangeState, MessageRef, announcement_for
from bot.ports import Deferred, NoticeClaim, Result, SendResult, Skipped

NOT_ON_PLATFORM = "this platform cannot update its messages"
NOT_DELIVERED = "the announcement is still being sent"
STILL_SENDING = timedelta(seconds=15)
YEARS_AHEAD = 3


@dataclass(frozen=True)
class Amendment:
    """What the announcer's amend form holds: the new text and dates, each group's expectations."""

    what: str
    why: str
    effective_date: date | None
    ack_deadline: date | None
    expectations: tuple[tuple[str, str], ...]  # (today, from the effective date) of each group, in order


@dataclass(frozen=True)
class Amended:
    change: Change
    reasked: int  # people who had acknowledged and are asked to again
    updated: int  # DMs already delivered that are updated in place
    changed: tuple[str, ...]  # what changed, in words


class AmendStore(Protocol):
    async def amend(
        self,
        change: Change,
        *,
        revision: int,
        reask_mask: int,
        touch_mask: int,
        report_at: datetime | None,
        escalate_at: datetime | None,
        actor: str,
        at: datetime,
        changed: tuple[str, ...],
    ) -> tuple[int, int] | None:
        """Write `change` (its text, dates and groups' expectations) as revision `revision` + 1, if it is
        still published at `revision`; re-ask the acknowledged people of the groups in `reask_mask`;
        plan an AMENDMENT notice for each delivered DM of the groups in `touch_mask`; plan the gap report
        for `report_at` and the escalation for `escalate_at` (each left as it is when None), sent or not:
        the new revision's are notices of their own. Returns (re-asked, DMs to update); None, writing
        nothing, if the change was closed or amended meanwhile."""
        ...


@dataclass(frozen=True)
class AmendNotice:
    """One DM to update in place; `announcement.reasked`: also say in its thread that it changed."""

    announcement: Announcement
    user_id: str
    ref: MessageRef


@runtime_checkable
class AmendMessenger(Protocol):
    async def send_amendment(self, notice: AmendNotice, *, notice_id: int) -> SendResult:
        """Update the DM at `notice.ref`; when the person is asked again, post a note carrying the notice
        id in its thread (found again by `find_notice`). Sent(ref of the note, or of the DM)."""
        ...


def everyone(change: Change) -> int:
    return (1 << len(change.groups)) - 1


def reasked_mask(before: Change, after: Change) -> int:
    """The groups whose people must acknowledge again: all when a date moved, else those whose
    expectations changed."""
    if (before.effective_date, before.ack_deadline) != (after.effective_date, after.ack_deadline):
        return everyone(after)
    mask = 0
    for position, (old, new) in enumerate(zip(before.groups, after.groups, strict=True)):
        if (old.today.strip(), old.from_effective.strip()) != (new.today.strip(), new.from_effective.strip()):
            mask |= 1 << position
    return mask


def touched_mask(before: Change, after: Change) -> int:
    """The groups whose DMs read differently: all when the text changed, else those asked again."""
    if (before.what, before.why) != (after.what, after.why):
        return everyone(after)
    return reasked_mask(before, after)


def differences(before: Change, after: Change) -> tuple[str, ...]:
    """What an amendment changed, in words (for the announcer and the audit log)."""
    changed = []
    if before.what != after.what:
        changed.append(copy.AMENDED_WHAT)
    if before.why != after.why:
        changed.append(copy.AMENDED_WHY)
    for name, label in (("effective_date", copy.AMENDED_EFFECTIVE), ("ack_deadline", copy.AMENDED_DEADLINE)):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            changed.append(label.format(before=copy.day(old), after=copy.day(new)))
    for position, (old, new) in enumerate(zip(before.groups, after.groups, strict=True)):
        if (old.today, old.from_effective) != (new.today, new.from_effective):
            changed.append(copy.AMENDED_GROUP.format(group=after.groups[position].name))
    return tuple(changed)


def _check(change: Change, form: Amendment, *, today: date) -> None:
    """InvalidInput naming every field to fix, with the declaration's limits. A date left as it was may
    have passed; a new one may not."""
    errors: dict[str, str] = {}
    if not form.what.strip():
        errors["what"] = copy.REQUIRED
    for name, value in (("what", form.what), ("why", form.why)):
        if length(value) > TEXT_LIMIT:
            errors[name] = copy.TOO_LONG.format(limit=TEXT_LIMIT)
    for name in ("effective_date", "ack_deadline"):
        value = getattr(form, name)
        if value is None:
            errors[name] = copy.REQUIRED
        elif value != getattr(change, name) and value < today:
            errors[name] = copy.DATE_PAST
        elif value > today + timedelta(days=366 * YEARS_AHEAD):
            errors[name] = copy.DATE_TOO_FAR.format(years=YEARS_AHEAD)
    if len(form.expectations) != len(change.groups):
        errors["groups"] = copy.AMEND_GROUPS_CHANGED
    for position, (today_text, from_effective) in enumerate(form.expectations):
        if not from_effective.strip():
            errors[f"group_{position}"] = copy.EXPECTATIONS_EMPTY
        elif max(length(today_text), length(from_effective)) > TEXT_LIMIT:
            errors[f"group_{position}"] = copy.TOO_LONG.format(limit=TEXT_LIMIT)
    if errors:
        raise InvalidInput(errors)


def amended(change: Change, form: Amendment) -> Change:
    """The change as the (checked) form would have it."""
    assert form.effective_date is not None and form.ack_deadline is not None
    groups = [
        replace(group, today=today.strip(), from_effective=from_effective.strip())
        for group, (today, from_effective) in zip(change.groups, form.expectations, strict=True)
    ]
    return replace(
        change,
        what=form.what.strip(),
        why=form.why.strip(),
        effective_date=form.effective_date,
        ack_deadline=form.ack_deadline,
        groups=groups,
    )


async def send_amendment(messenger: object, claim: NoticeClaim, change: Change, *, now: datetime) -> Result:
    """Send one AMENDMENT notice (bot.notices): the DM as it reads now, asked again or not."""
    if not isinstance(messenger, AmendMessenger):
        return Skipped(NOT_ON_PLATFORM)
    if claim.thread is None:  # still being sent (perhaps as it read before): update it once it is
        return Deferred(now + STILL_SENDING, reason=NOT_DELIVERED)
    shown = announcement_for(
        change,
        claim.group_mask,
        delivery_id=claim.delivery_id,
        acknowledged_at=claim.acknowledged_at,
        reasked=claim.reasked,
    )
    return await messenger.send_amendment(AmendNotice(shown, claim.user_id, claim.thread), notice_id=claim.id)


class Amending:
    """The announcer amends a published change, for one workspace."""

    def __init__(
        self, *, announcing: Announcing, store: AmendStore, on_amended: Callable[[], None] = lambda: None
    ) -> None:
        self.announcing = announcing
        self.store = store
        self.on_amended = on_amended

    async def start(self, *, key: str, user_id: str) -> Change:
        """The change to amend, for the form: published, and the caller's own."""
        try:
            change = await self.announcing.draft(key=key.upper(), user_id=user_id)
        except NotAllowed:
            raise NotAllowed(copy.AMEND_NOT_YOURS.format(key=key.upper())) from None
        if change.state is not ChangeState.PUBLISHED:
            raise NotFound(copy.AMEND_NOT_OPEN.format(key=change.key, state=change.state.value))
        return change

    async def amend(self, *, key: str, user_id: str, form: Amendment, revision: int) -> Amended:
        """Amend the change the form was opened on (`revision`: as it was then)."""
        before = await self.start(key=key, user_id=user_id)
        if before.revision != revision:
            raise InvalidInput({"what": copy.AMENDED_MEANWHILE.format(key=before.key)})
        _check(before, form, today=await self.announcing.today_for(user_id))
        after = amended(before, form)
        changed = differences(before, after)
        if not changed:
            raise InvalidInput({"what": copy.AMEND_NOTHING})
        report_at = None
        if after.ack_deadline != before.ack_deadline:
            zone = await self.announcing.zone_of(user_id)
            report_at = deadline_moment(after.ack_deadline, tz=zone, hours=self.announcing.hours)
        now = self.announcing.clock.now()
        reask = reasked_mask(before, after)
        counts = await self.store.amend(
            after,
            revision=revision,
            reask_mask=reask,
            touch_mask=touched_mask(before, after),
            report_at=max(now, report_at) if report_at else None,
            escalate_at=now + after.policy.escalate_after if reask else None,
            actor=user_id,
            at=now,
            changed=changed,
        )
        if counts is None:
            raise InvalidInput({"what": copy.AMENDED_MEANWHILE.format(key=before.key)})
        if counts[1]:
            self.on_amended()
        after = replace(after, revision=revision + 1, amended_at=now)
        return Amended(after, reasked=counts[0], updated=counts[1], changed=changed)
