"""Declare a change: basics, audience groups, review, publish.

Each step validates its input (InvalidInput names the fields to fix), and the draft is saved after
every step, keyed by the form's id, so a resubmitted step updates the same draft.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from bot import copy, readiness
from bot.audience import Resolution, anyone_reachable, resolve
from bot.clock import Clock
from bot.durations import FOLLOW_UP_MAX, FOLLOW_UP_MIN, format_duration, parse_duration
from bot.errors import ConfigError, InvalidInput, NotAllowed, NotFound
from bot.followup import WorkingHours, deadline_moment, zone
from bot.model import (
    MAX_GROUPS,
    Announcement,
    AudienceGroup,
    Change,
    ChangeState,
    CustomerImpact,
    Policy,
    announcement_for,
)
from bot.ports import ChangeStore, Directory
from bot.schedule import ScheduleStore, check_publish_at, shown_in

MAX_REMINDERS = 5
DEFAULT_POLICY = Policy()
TEXT_LIMIT = 2900  # Slack's section text limit is 3000 characters
TITLE_LIMIT = 100  # shown as "Change CHG-nnnnn: {title}" in a 150-character header
NAME_LIMIT = 80  # a group's name
YEARS_AHEAD = 3  # how far ahead an effective date or deadline may be
MAX_AUDIENCE = 100_000


def length(text: str) -> int:
    """Characters as chat platforms count them (UTF-16 units: an emoji may count as two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass(frozen=True)
class Basics:
    title: str
    what: str
    why: str
    effective_date: date | None
    ack_deadline: date | None
    customer_impact: CustomerImpact = CustomerImpact.NONE
    customer_plan: str = ""
    remind_after: str = ""  # empty: the workspace default
    reminders: int | None = None
    escalate_after: str = ""
    owner_id: str | None = None  # who answers questions (None: the announcer)
    own_words: bool = False  # ask each person to say in one line what they will do differently
    publish_on: date | None = None  # a scheduled publish: the day and time where the announcer is
    publish_time: time | None = None
    capacity_check: bool = False  # at publishing, ask each recipient's manager whether the team can


@dataclass(frozen=True)
class Review:
    change: Change
    resolution: Resolution
    warnings: list[str] = field(default_factory=list)
    preview: Announcement | None = None
    overlapping: list[str] = field(default_factory=list)  # user ids in groups that ask different things
    zone: str | None = None  # the announcer's time zone, in which a scheduled publish is shown

    @property
    def scheduled(self) -> tuple[str, str] | None:
        """(when, zone) of the scheduled publish, as the announcer's clock shows it; None: publish now."""
        at = self.change.publish_at
        return None if at is None else shown_in(at, self.zone)


@dataclass(frozen=True)
class Published:
    change: Change
    recipients: int
    first: bool
    scheduled: tuple[str, str] | None = None  # (when, zone): scheduled, not published yet


def _check_text(
    errors: dict[str, str], name: str, value: str, *, required: bool, limit: int = TEXT_LIMIT
) -> None:
    if required and not value.strip():
        errors[name] = copy.REQUIRED
    elif length(value) > limit:
        errors[name] = copy.TOO_LONG.format(limit=limit)


def _check_dates(errors: dict[str, str], form: Basics, *, today: date) -> None:
    horizon = today + timedelta(days=366 * YEARS_AHEAD)
    for name in ("effective_date", "ack_deadline"):
        value = getattr(form, name)
        if value is None:
            errors[name] = copy.REQUIRED
        elif value < today:
            errors[name] = copy.DATE_PAST
        elif value > horizon:
            errors[name] = copy.DATE_TOO_FAR.format(years=YEARS_AHEAD)
    # A deadline before the effective date is the common case (people prepare in between); one after
    # it is allowed too, and warned about at review (bot.readiness).


def _check_policy(errors: dict[str, str], form: Basics) -> None:
    for name in ("remind_after", "escalate_after"):
        text = getattr(form, name).strip()
        try:
            value = parse_duration(text) if text else None
        except ConfigError:
            errors[name] = copy.BAD_DURATION
            continue
        if value is not None and not FOLLOW_UP_MIN <= value <= FOLLOW_UP_MAX:
            shortest, longest = format_duration(FOLLOW_UP_MIN), format_duration(FOLLOW_UP_MAX)
            errors[name] = copy.DURATION_RANGE.format(minimum=shortest, maximum=longest)
    if form.reminders is not None and not 0 <= form.reminders <= MAX_REMINDERS:
        errors["reminders"] = copy.BAD_REMINDERS.format(limit=MAX_REMINDERS)


def validate_basics(
    form: Basics, *, today: date, now: datetime | None = None, tz: str | None = None
) -> datetime | None:
    """Raise InvalidInput naming every field to fix; returns the scheduled publish moment, if any."""
    errors: dict[str, str] = {}
    _check_text(errors, "title", form.title, required=True, limit=TITLE_LIMIT)
    _check_text(errors, "what", form.what, required=True)
    _check_text(errors, "why", form.why, required=False)
    _check_text(errors, "customer_plan", form.customer_plan, required=False)
    _check_dates(errors, form, today=today)
    if form.customer_impact is CustomerImpact.DIRECT and not form.customer_plan.strip():
        errors["customer_plan"] = copy.CUSTOMER_PLAN_NEEDED
    _check_policy(errors, form)
    publish_at = check_publish_at(  # after the dates: it compares with the effective date
        errors, form.publish_on, form.publish_time, effective=form.effective_date, now=now, tz=tz
    )
    if errors:
        raise InvalidInput(errors)
    return publish_at


def policy_from(form: Basics, default: Policy) -> Policy:
    """The form's follow-up policy (validated), falling back field by field to the default."""
    within = {"minimum": FOLLOW_UP_MIN, "maximum": FOLLOW_UP_MAX}
    return Policy(
        remind_after=parse_duration(form.remind_after, **within)
        if form.remind_after.strip()
        else default.remind_after,
        max_reminders=default.max_reminders if form.reminders is None else form.reminders,
        escalate_after=parse_duration(form.escalate_after, **within)
        if form.escalate_after.strip()
        else default.escalate_after,
    )


def validate_group(group: AudienceGroup) -> None:
    errors: dict[str, str] = {}
    if not group.has_selectors:
        errors["people"] = copy.NO_AUDIENCE
    _check_text(errors, "name", group.name, required=False, limit=NAME_LIMIT)
    _check_text(errors, "from_effective", group.from_effective, required=True)
    if "from_effective" in errors and not group.from_effective.strip():
        errors["from_effective"] = copy.EXPECTATIONS_EMPTY
    _check_text(errors, "today", group.today, required=False)
    if errors:
        raise InvalidInput(errors)


def readiness_warnings(change: Change, resolution: Resolution, *, today: date) -> list[str]:
    """Things that make a change less likely to land; shown on review, never blocking (bot.readiness)."""
    return readiness.warnings(change, resolution, today=today)


class Announcing:
    """The `/announce-change` use case for one workspace."""

    def __init__(
        self,
        *,
        workspace: str,
        changes: ChangeStore,
        directory: Directory,
        clock: Clock,
        announcers: Collection[str] = (),
        on_published: Callable[[], None] = lambda: None,
        schedule: ScheduleStore | None = None,
        policy: Policy = DEFAULT_POLICY,
        hours: WorkingHours = None,
        max_audience: int = MAX_AUDIENCE,
    ) -> None:
        self.max_audience = max_audience
        self.policy = policy
        self.hours = hours
        self.workspace = workspace
        self.changes = changes
        self.directory = directory
        self.clock = clock
        self.announcers = frozenset(announcers)
        self.on_published = on_published
        self.schedule = schedule  # None: this platform's form has no scheduled publish

    async def check_may_announce(self, *, user_id: str) -> None:
        if not self.announcers or user_id in self.announcers:
            return
        if not await self.directory.in_any_usergroup(user_id, self.announcers):
            raise NotAllowed(copy.NOT_AN_ANNOUNCER)

    async def zone_of(self, user_id: str) -> str | None:
        person = (await self.directory.people([user_id])).get(user_id)
        return person.tz if person else None

    async def today_for(self, user_id: str) -> date:
        """The calendar date where the user is (their directory time zone, else UTC)."""
        return self.clock.now().astimezone(zone(await self.zone_of(user_id))).date()

    async def submit_basics(self, *, user_id: str, draft_ref: str, form: Basics) -> Change:
        await self.check_may_announce(user_id=user_id)
        tz = await self.zone_of(user_id)
        today = self.clock.now().astimezone(zone(tz)).date()
        publish_at = validate_basics(form, today=today, now=self.clock.now(), tz=tz)
        assert form.effective_date and form.ack_deadline  # validated above
        change = Change(
            workspace=self.workspace,
            announcer_id=user_id,
            title=form.title.strip(),
            what=form.what.strip(),
            why=form.why.strip(),
            effective_date=form.effective_date,
            ack_deadline=form.ack_deadline,
            customer_impact=form.customer_impact,
            customer_plan=form.customer_plan.strip(),
            policy=policy_from(form, self.policy),
            owner_id=form.owner_id if form.owner_id != user_id else None,
            own_words=form.own_words,
            publish_at=publish_at if self.schedule is not None else None,
            capacity_check=form.capacity_check,
        )
        return await self.changes.save_draft(change, draft_ref=draft_ref, at=self.clock.now())

    async def draft(self, *, key: str, user_id: str) -> Change:
        change = await self.changes.get(key)
        if change is None or change.workspace != self.workspace:
            raise NotFound(copy.NO_SUCH_CHANGE.format(key=key))
        if change.announcer_id != user_id:
            raise NotAllowed(copy.NOT_YOURS.format(key=key))
        return change

    async def submit_group(
        self, *, key: str, user_id: str, draft_ref: str, position: int, group: AudienceGroup
    ) -> Change:
        """Add (or, on resubmission, replace) the group at `position`."""
        change = await self.draft(key=key, user_id=user_id)
        if position >= MAX_GROUPS:
            raise InvalidInput({"people": copy.TOO_MANY_GROUPS.format(limit=MAX_GROUPS)})
        validate_group(group)
        if not await anyone_reachable([group], directory=self.directory, announcer_id=user_id):
            raise InvalidInput({"people": copy.AUDIENCE_EMPTY})
        if not group.name.strip():
            group = replace(group, name=f"Group {position + 1}")
        groups = [*change.groups[:position], group]
        await self._check_audience_size(groups, user_id=user_id)
        change.groups = groups
        return await self.changes.save_draft(change, draft_ref=draft_ref, at=self.clock.now())

    async def _check_audience_size(self, groups: list[AudienceGroup], *, user_id: str) -> None:
        """Refuse groups that reach more than `max_audience` people. Members are counted first: when
        they alone are few enough (the usual case) nobody needs to be looked up."""
        members: set[str] = set()
        for group in groups:
            members |= await self.directory.members(group)
        if len(members) > self.max_audience:
            resolution = await resolve(groups, directory=self.directory, announcer_id=user_id)
            self._refuse_too_many(len(resolution.recipients))

    def _refuse_too_many(self, count: int) -> None:
        if count > self.max_audience:
            message = copy.AUDIENCE_TOO_LARGE.format(count=count, limit=self.max_audience)
            raise InvalidInput({"people": message})

    async def review(self, *, key: str, user_id: str) -> Review:
        change = await self.draft(key=key, user_id=user_id)
        resolution = await resolve(change.groups, directory=self.directory, announcer_id=user_id)
        self._refuse_too_many(len(resolution.recipients))
        everyone = (1 << len(change.groups)) - 1
        return Review(
            change=change,
            resolution=resolution,
            warnings=readiness_warnings(change, resolution, today=await self.today_for(user_id)),
            preview=announcement_for(change, everyone),
            overlapping=readiness.overlapping(change, resolution)[: readiness.NAMES_LISTED],
            zone=await self.zone_of(user_id),
        )

    async def publish(self, *, key: str, user_id: str, at_once: bool = False) -> Published:
        """Write the outbox and return at once; sending happens in the background. A draft with a
        scheduled moment still ahead is scheduled instead; `at_once` publishes a scheduled change now
        (its announcer's Publish now, or the publish tick when its moment has come)."""
        change = await self.draft(key=key, user_id=user_id)
        waiting = change.state is ChangeState.SCHEDULED and at_once
        if change.state is not ChangeState.DRAFT and not waiting:
            return Published(change, 0, first=False)
        form = Basics(
            change.title,
            change.what,
            change.why,
            change.effective_date,
            change.ack_deadline,
            change.customer_impact,
            change.customer_plan,
        )
        validate_basics(form, today=await self.today_for(user_id))  # an old draft may have gone stale
        resolution = await resolve(change.groups, directory=self.directory, announcer_id=user_id)
        if not resolution.recipients:
            raise InvalidInput({"people": copy.AUDIENCE_EMPTY})
        self._refuse_too_many(len(resolution.recipients))
        now, announcer_zone = self.clock.now(), await self.zone_of(user_id)
        ahead = change.publish_at is not None and change.publish_at > now
        if change.state is ChangeState.DRAFT and ahead and not at_once:
            return await self._schedule(change, len(resolution.recipients), user_id=user_id)
        change.escalate_at = now + change.policy.escalate_after
        change.report_at = max(now, deadline_moment(change.ack_deadline, tz=announcer_zone, hours=self.hours))
        first = await self.changes.publish(change, resolution.recipients, resolution.excluded, at=now)
        if first:
            self.on_published()
        return Published(change, len(resolution.recipients), first=first)

    async def _schedule(self, change: Change, recipients: int, *, user_id: str) -> Published:
        assert change.id is not None and change.publish_at is not None and self.schedule is not None
        first = await self.schedule.schedule(change.id, actor=user_id, at=self.clock.now())
        shown = shown_in(change.publish_at, await self.zone_of(user_id))
        return Published(change, recipients, first=first, scheduled=shown)

    async def cancel(self, *, key: str, user_id: str) -> bool:
        """Call off a scheduled publish (the announcer only); False if it is not waiting any more."""
        change = await self.draft(key=key, user_id=user_id)
        if change.state is not ChangeState.SCHEDULED or self.schedule is None:
            return False
        assert change.id is not None
        return await self.schedule.cancel(change.id, actor=user_id, at=self.clock.now())
