"""What the core needs from the outside world. Adapters and the store implement these Protocols.

Every method that changes state also writes its audit event, in the same transaction: the core passes
the actor, the store keeps the log (see store.audit).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from bot.model import (
    Announcement,
    AudienceGroup,
    Change,
    DeliveryState,
    Escalation,
    Exclusion,
    GapReport,
    MessageRef,
    NoticeKind,
    PendingPerson,
    Person,
)

# --- the directory -------------------------------------------------------------------------------


class Directory(Protocol):
    """One workspace's people and groups, answered from cached directory data, never one call per person."""

    async def members(self, group: AudienceGroup) -> set[str]:
        """User ids selected by the group's people, user groups and channels (not yet filtered)."""
        ...

    async def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        """The known people among `user_ids`, by id; unknown ids are simply absent."""
        ...

    async def in_any_usergroup(self, user_id: str, handles: Collection[str]) -> bool:
        """Whether the user belongs to one of the user groups named by handle (or id)."""
        ...


# --- changes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    user_id: str
    group_mask: int
    department: str | None = None  # their team as at publishing, for status by team
    manager_id: str | None = None


@dataclass(frozen=True)
class Excluded:
    user_id: str
    group_mask: int
    reason: Exclusion


@dataclass(frozen=True)
class TallyRow:
    """One line of the aggregate over a change's deliveries."""

    group_mask: int
    state: DeliveryState
    acknowledged: bool
    count: int


@dataclass(frozen=True)
class PersonState:
    """A targeted person and where their delivery stands."""

    user_id: str
    name: str
    group_mask: int
    state: DeliveryState
    reason: str | None = None


@dataclass(frozen=True)
class BreakdownRow:
    """Deliveries of one department under one manager (either may be unknown)."""

    department: str | None
    manager_id: str | None
    targeted: int
    acknowledged: int
    failed: int


@dataclass(frozen=True)
class ChangeSummary:
    key: str
    title: str
    state: str
    targeted: int
    acknowledged: int


class ChangeStore(Protocol):
    """Changes, their audience groups, and the aggregate view of their deliveries."""

    async def save_draft(self, change: Change, *, draft_ref: str, at: datetime) -> Change:
        """Insert or update the draft known by `draft_ref` (e.g. the modal's view id); sets id and key."""
        ...

    async def get(self, key: str) -> Change | None: ...

    async def get_by_id(self, change_id: int) -> Change | None: ...

    async def revisions(self, change_ids: Collection[int]) -> dict[int, int]:
        """Each change's revision (how many times it was amended): what a cached copy is checked by."""
        ...

    async def publish(
        self, change: Change, recipients: Sequence[Recipient], excluded: Sequence[Excluded], *, at: datetime
    ) -> bool:
        """Mark the draft published and write one delivery per targeted person, all in one transaction.

        Returns False, writing nothing, if the change was already published (retries are harmless)."""
        ...

    async def visible_to(self, *, workspace: str, user_id: str, admin: bool) -> list[ChangeSummary]:
        """Changes the user announced (every change of the workspace for an admin), newest first; then
        changes that reach the user's direct reports, counting only those reports."""
        ...

    # `manager_id` narrows each aggregate to that manager's direct reports.
    async def tally(self, change_id: int, *, manager_id: str | None = None) -> list[TallyRow]: ...

    async def breakdown(self, change_id: int, *, manager_id: str | None = None) -> list[BreakdownRow]: ...

    async def people_in(
        self,
        change_id: int,
        *,
        states: Collection[DeliveryState],
        acknowledged: bool,
        limit: int,
        manager_id: str | None = None,
    ) -> list[PersonState]: ...


# --- deliveries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    ref: MessageRef


@dataclass(frozen=True)
class Retry:
    """Not delivered this time. `unsure`: the request may have reached the platform (reconcile first).
    `rate_limited`: the platform's limit, not the recipient's trouble (it uses up no attempt)."""

    reason: str
    after: float | None = None
    unsure: bool = False
    rate_limited: bool = False


@dataclass(frozen=True)
class Failed:
    """Permanently undeliverable (deactivated, blocked, not found); never retried automatically."""

    reason: str


@dataclass(frozen=True)
class Deferred:
    """Not sent yet on purpose (outside the recipient's working time): due again `until`, no attempt used."""

    until: datetime
    reason: str = "outside working hours"


@dataclass(frozen=True)
class Skipped:
    """No longer worth sending (acknowledged meanwhile, change closed, nobody left to list)."""

    reason: str


SendResult = Sent | Retry | Failed
Result = SendResult | Deferred | Skipped
Found = MessageRef | Retry | None  # what reconciliation finds: the message, a reason to wait, or nothing


@dataclass(frozen=True)
class Claim:
    """A delivery a worker now holds until `lease_until`; `attempt` fences its outcome."""

    delivery_id: int
    change_id: int
    user_id: str
    group_mask: int
    attempt: int
    unsure: bool

    @property
    def id(self) -> int:
        return self.delivery_id


@dataclass(frozen=True)
class NoticeClaim:
    """A follow-up message a worker now holds; `attempt` fences its outcome like a delivery's."""

    id: int
    kind: NoticeKind
    change_id: int
    user_id: str  # who receives it: the recipient, their manager, or the announcer
    attempt: int
    unsure: bool
    tz: str | None = None  # the receiver's time zone, for their working hours
    delivery_id: int | None = None  # a reminder's delivery
    group_mask: int = 0
    thread: MessageRef | None = None  # a reminder goes in the announcement's thread
    seq: int = 0  # which reminder of the delivery this is (1, 2, ...)
    moot: str | None = None  # why it need not be sent any more (acknowledged, change closed)
    reminded_before: int = 0  # reminders before an amendment asked again: the policy counts from there
    acknowledged_at: datetime | None = None  # the delivery's acknowledgement (an amendment shows it)
    reasked: bool = False  # an amendment notice to someone whose part changed: ask them again


ClaimT = TypeVar("ClaimT", Claim, NoticeClaim)


@dataclass(frozen=True)
class Outcome(Generic[ClaimT]):
    claim: ClaimT
    result: Result
    retry_at: datetime | None = None
    remind_at: datetime | None = None  # once delivered (or reminded): when the next reminder falls due


@dataclass(frozen=True)
class Acknowledgement:
    change: Change
    group_mask: int
    acknowledged_at: datetime
    first: bool
    ref: MessageRef | None


class Outbox(Protocol[ClaimT]):
    """Rows that workers claim, send and settle: what the delivery engine needs."""

    async def due_workspaces(self, *, now: datetime) -> list[str]:
        """The workspaces that have rows due now."""
        ...

    async def claim(self, *, now: datetime, limit: int, lease: timedelta, workspace: str) -> list[ClaimT]:
        """Atomically take up to `limit` of the workspace's due rows (queued and due, or sending with an
        expired lease)."""
        ...

    async def settle(self, outcomes: Sequence[Outcome[ClaimT]], *, now: datetime) -> None:
        """Record outcomes of claims; an outcome whose claim was superseded is ignored."""
        ...


class DeliveryQueue(Outbox[Claim], Protocol):
    """The announcements' outbox, plus what people do to their deliveries."""

    async def acknowledge(
        self, *, delivery_id: int, user_id: str, at: datetime, workspace: str
    ) -> Acknowledgement:
        """Record the user's acknowledgement once; later calls return the first time (first=False).
        A delivery of another workspace's change is NotFound, and nothing is recorded."""
        ...

    async def requeue_failed(self, *, change_id: int, actor: str, now: datetime) -> int:
        """Queue the change's failed deliveries again; returns how many."""
        ...


# --- messaging -------------------------------------------------------------------------------------


class Announcer(Protocol):
    """Sends announcements on one workspace and finds one already sent: what the delivery engine needs.
    Platform errors are classified into SendResult; reconciliation's own errors into Retry."""

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult: ...

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> Found:
        """The announcement already in the user's DM for this delivery, if any (reconciliation)."""
        ...


class Messenger(Announcer, Protocol):
    """Sends and edits direct messages on one workspace. Follow-up messages carry their notice id, so
    one whose outcome is unknown can be found (`find_notice`) before it is sent again."""

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None: ...

    async def update_reminder(self, ref: MessageRef, announcement: Announcement) -> None:
        """Show on a reminder that the announcement was acknowledged (its button goes)."""
        ...

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None, notice_id: int
    ) -> SendResult:
        """A short nudge in the announcement's thread (a new DM if the thread is gone)."""
        ...

    async def send_escalation(self, escalation: Escalation, *, notice_id: int) -> SendResult: ...

    async def send_gap_report(self, report: GapReport, *, notice_id: int) -> SendResult: ...

    async def find_notice(self, *, user_id: str, notice_id: int, thread: MessageRef | None) -> Found:
        """The follow-up message already sent for this notice, in the thread or the user's DM, if any."""
        ...


# --- follow-up -------------------------------------------------------------------------------------


class FollowUpStore(Outbox[NoticeClaim], Protocol):
    """Follow-up messages as outbox rows: planned in bulk when due, claimed and settled like deliveries.

    Planning happens in the database (a wave of 100,000 reminders is never held in memory), each row at
    most once: planning twice, or from two processes, writes nothing more."""

    async def change(self, change_id: int) -> Change: ...

    async def plan_reminders(self, *, now: datetime, limit: int) -> int:
        """Turn up to `limit` due reminders (delivered, unacknowledged, published) into notices."""
        ...

    async def plan_escalations(self, *, now: datetime) -> int:
        """For each change whose escalation is due: one notice per manager with reports still pending,
        and one to the announcer if some have no manager on record. Returns the notices written."""
        ...

    async def plan_reports(self, *, now: datetime) -> int:
        """For each change whose deadline has come: the gap report notice to the announcer."""
        ...

    async def reports_pending_of(
        self, change_id: int, managers: Collection[str | None], *, limit: int
    ) -> dict[str | None, tuple[list[PendingPerson], int]]:
        """For each manager, the first `limit` of their direct reports still pending (by name), and how
        many there are in all; None stands for those with no manager on record. "Manager" is the one on
        the delivery, as status shows. One read for a whole batch of escalations."""
        ...

    async def gap(self, change_id: int, *, limit: int) -> GapReport:
        """The gap report: the first `limit` pending and failed people, totals and departments."""
        ...

    async def close(self, change_id: int, *, actor: str, at: datetime) -> bool:
        """Close a published change: no more reminders, escalations or reports. False if not published."""
        ...


# --- singleton jobs --------------------------------------------------------------------------------


class Leases(Protocol):
    """Named leases, so one process at a time runs a job such as a workspace's directory sync."""

    async def acquire(self, name: str, *, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease until `now + ttl`, or extend it if `holder` has it; False while another
        holder's lease is unexpired. Atomic: of several processes racing, one gets it."""
        ...

    async def release(self, name: str, *, holder: str) -> None:
        """Give the lease up if `holder` still has it (else do nothing)."""
        ...


# --- observing -------------------------------------------------------------------------------------


class Meter(Protocol):
    """What the delivery engine tells operators' dashboards as it works (realign.metrics counts it for
    Prometheus). It is called on the hot path, once per settled batch: it must neither block nor raise."""

    def settled(self, *, workspace: str, outcomes: Sequence[Outcome[Claim] | Outcome[NoticeClaim]]) -> None:
        """A batch of the workspace's outbox rows was settled with these outcomes."""
        ...


class Unmetered:
    """A Meter that records nothing: the default, for engines nobody watches (tests, the console)."""

    def settled(self, *, workspace: str, outcomes: Sequence[Outcome[Claim] | Outcome[NoticeClaim]]) -> None:
        return None


NO_METER: Meter = Unmetered()
