"""Domain types: what a change is, who it reaches, and what each person is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.questions import Question

# Audience groups are stored as bits of `group_mask` on each delivery (see store.tables.Delivery).
MAX_GROUPS = 20


class CustomerImpact(StrEnum):
    NONE = "none"
    INDIRECT = "indirect"
    DIRECT = "direct"


class ChangeState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CLOSED = "closed"
    CANCELLED = "cancelled"  # a scheduled publish the announcer called off: nothing was sent


class DeliveryState(StrEnum):
    QUEUED = "queued"  # waiting to be sent (or re-sent after a retryable error)
    SENDING = "sending"  # claimed by a worker; outcome not yet recorded
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent error, reason in last_error
    EXCLUDED = "excluded"  # never sent, reason in last_error


class Exclusion(StrEnum):
    """Why a targeted person is not sent the announcement; the value is shown to announcers."""

    ANNOUNCER = "the announcer"
    BOT = "a bot or app"
    DEACTIVATED = "deactivated"
    NOT_FOUND = "not in the directory"


@dataclass(frozen=True)
class Person:
    """Someone in a workspace's directory (synced from the platform, enriched by the org chart)."""

    user_id: str
    name: str
    email: str | None = None
    tz: str | None = None
    active: bool = True
    is_bot: bool = False
    department: str | None = None
    manager_id: str | None = None


@dataclass
class AudienceGroup:
    """Who is affected (people, user groups, channels) and what they must do differently."""

    name: str
    from_effective: str
    today: str = ""
    user_ids: tuple[str, ...] = ()
    usergroup_ids: tuple[str, ...] = ()
    channel_ids: tuple[str, ...] = ()
    customer_facing: bool = False  # their DM carries "what to tell customers" (customer impact direct)

    @property
    def has_selectors(self) -> bool:
        return bool(self.user_ids or self.usergroup_ids or self.channel_ids)


@dataclass(frozen=True)
class Policy:
    """When to remind those who have not acknowledged, how often, and when to tell their managers."""

    remind_after: timedelta = timedelta(hours=24)
    max_reminders: int = 2
    escalate_after: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class MessageRef:
    """Where a sent message is, on any platform: its conversation (a Slack DM channel, a Teams 1:1
    conversation, a console inbox) and its id there (Slack's `ts`, a Teams activity id)."""

    conversation: str
    id: str


@dataclass
class Change:
    """An organisational change, from draft to closed."""

    workspace: str
    announcer_id: str
    title: str
    what: str
    why: str
    effective_date: date
    ack_deadline: date
    customer_impact: CustomerImpact = CustomerImpact.NONE
    customer_plan: str = ""
    groups: list[AudienceGroup] = field(default_factory=list)
    state: ChangeState = ChangeState.DRAFT
    key: str = ""  # "CHG-12" once stored
    id: int | None = None
    published_at: datetime | None = None
    policy: Policy = field(default_factory=Policy)
    escalate_at: datetime | None = None  # set when published
    report_at: datetime | None = None  # the deadline: the gap report goes out then
    owner_id: str | None = None  # who answers questions and concerns (None: the announcer)
    own_words: bool = False  # ask each person, as they acknowledge, what they will do differently
    publish_at: datetime | None = None  # a scheduled publish (UTC); None: published at review
    capacity_check: bool = False  # at publishing, ask each recipient's manager whether the team can
    revision: int = 0  # how many times the published change was amended (bot.amend)
    amended_at: datetime | None = None

    @property
    def briefs_customers(self) -> bool:
        """Whether customer-facing groups are told what to tell customers (the impact is direct)."""
        return self.customer_impact is CustomerImpact.DIRECT and bool(self.customer_plan.strip())


@dataclass(frozen=True)
class Expectation:
    group: str
    today: str
    from_effective: str


@dataclass(frozen=True)
class Announcement:
    """What one recipient is told: the change plus the merged expectations of their groups."""

    change_key: str
    title: str
    what: str
    why: str
    effective_date: date
    ack_deadline: date
    announcer_id: str
    expectations: tuple[Expectation, ...]
    delivery_id: int | None = None
    acknowledged_at: datetime | None = None
    own_words: bool = False  # acknowledging asks for a line "in your own words"
    customer_briefing: str = ""  # what to tell customers: for customer-facing groups only
    amended_at: datetime | None = None  # the change was amended (the DM says when)
    reasked: bool = False  # an amendment changed this person's part: they are asked to acknowledge again


def group_mask(positions: set[int] | list[int]) -> int:
    mask = 0
    for position in positions:
        mask |= 1 << position
    return mask


def groups_in(mask: int, groups: list[AudienceGroup]) -> list[AudienceGroup]:
    return [group for position, group in enumerate(groups) if mask >> position & 1]


def announcement_for(
    change: Change,
    mask: int,
    *,
    delivery_id: int | None = None,
    acknowledged_at: datetime | None = None,
    reasked: bool = False,
) -> Announcement:
    """The announcement for someone in the groups of `mask`; identical expectations appear once."""
    seen: set[tuple[str, str]] = set()
    expectations = []
    groups = groups_in(mask, change.groups)
    facing = change.briefs_customers and any(group.customer_facing for group in groups)
    for group in groups:
        text = (group.today.strip(), group.from_effective.strip())
        if text in seen:
            continue
        seen.add(text)
        expectations.append(Expectation(group.name, *text))
    return Announcement(
        change_key=change.key,
        title=change.title,
        what=change.what,
        why=change.why,
        effective_date=change.effective_date,
        ack_deadline=change.ack_deadline,
        announcer_id=change.announcer_id,
        expectations=tuple(expectations),
        delivery_id=delivery_id,
        acknowledged_at=acknowledged_at,
        own_words=change.own_words,
        customer_briefing=change.customer_plan if facing else "",
        amended_at=change.amended_at,
        reasked=reasked,
    )


@dataclass(frozen=True)
class PendingPerson:
    """A targeted person with their delivery, as follow-up and reports see them."""

    delivery_id: int
    change_id: int
    user_id: str
    name: str
    group_mask: int = 0
    manager_id: str | None = None
    department: str | None = None
    tz: str | None = None
    reminders_sent: int = 0
    ref: MessageRef | None = None
    reason: str | None = None


class NoticeKind(StrEnum):
    """A follow-up message: each is an outbox row of its own (see bot.notices)."""

    REMINDER = "reminder"  # to a recipient who has not acknowledged
    ESCALATION = "escalation"  # to a manager: their direct reports still pending
    UNMANAGED = "unmanaged"  # to the announcer: pending people with no manager on record
    REPORT = "report"  # to the announcer at the deadline: the gap report
    CAPACITY = "capacity"  # to a manager at publishing: can your team do this by the effective date?
    AMENDMENT = "amendment"  # to a recipient: their DM updated, and asked again if their part changed


@dataclass(frozen=True)
class Escalation:
    """One manager's direct reports still pending on one change (the first few, and how many in all)."""

    change: Change
    manager_id: str
    reports: tuple[PendingPerson, ...]
    total: int | None = None  # None: `reports` is everyone

    @property
    def count(self) -> int:
        return len(self.reports) if self.total is None else self.total


@dataclass(frozen=True)
class GapReport:
    """What the announcer reads at the deadline: who is still pending, and who never got the message.

    The lists hold the first few people only; the totals and the count by department cover everyone."""

    change: Change
    pending: tuple[PendingPerson, ...]
    failed: tuple[PendingPerson, ...]
    unmanaged_only: bool = False  # at escalation time: only the people with no manager on record
    pending_total: int | None = None  # None: the lists are complete
    failed_total: int | None = None
    departments: tuple[tuple[str | None, int], ...] | None = None  # None: count the list
    questions: tuple[Question, ...] = ()  # the first open questions and concerns
    questions_total: int = 0

    @property
    def pending_count(self) -> int:
        return len(self.pending) if self.pending_total is None else self.pending_total

    @property
    def failed_count(self) -> int:
        return len(self.failed) if self.failed_total is None else self.failed_total
