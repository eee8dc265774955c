"""What the core needs from the outside world. Adapters and the store implement these Protocols.

Every method that changes state also writes its audit event, in the same transaction: the core passes
the actor, the store keeps the log (see store.audit).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.model import (
    Announcement,
    AudienceGroup,
    Change,
    DeliveryState,
    Escalation,
    Exclusion,
    GapReport,
    MessageRef,
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
    """Not delivered this time. `unsure`: the request may have reached the platform (reconcile first)."""

    reason: str
    after: float | None = None
    unsure: bool = False
    rate_limited: bool = False


@dataclass(frozen=True)
class Failed:
    """Permanently undeliverable (deactivated, blocked, not found); never retried automatically."""

    reason: str


SendResult = Sent | Retry | Failed


@dataclass(frozen=True)
class Claim:
    """A delivery a worker now holds until `lease_until`; `attempt` fences its outcome."""

    delivery_id: int
    change_id: int
    user_id: str
    group_mask: int
    attempt: int
    unsure: bool


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    result: SendResult
    retry_at: datetime | None = None
    remind_at: datetime | None = None  # for a delivered message: when the first reminder falls due


@dataclass(frozen=True)
class Acknowledgement:
    change: Change
    group_mask: int
    acknowledged_at: datetime
    first: bool
    ref: MessageRef | None


class Outbox(Protocol):
    """Delivery rows that workers claim, send and settle: what the delivery engine needs."""

    async def claim(self, *, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
        """Atomically take up to `limit` due deliveries (queued and due, or sending with an expired lease)."""
        ...

    async def settle(self, outcomes: Sequence[Outcome], *, now: datetime) -> None:
        """Record outcomes of claims; an outcome whose claim was superseded is ignored."""
        ...


class DeliveryQueue(Outbox, Protocol):
    """The outbox, plus what people do to their deliveries."""

    async def acknowledge(self, *, delivery_id: int, user_id: str, at: datetime) -> Acknowledgement:
        """Record the user's acknowledgement once; later calls return the first time (first=False)."""
        ...

    async def requeue_failed(self, *, change_id: int, actor: str, now: datetime) -> int:
        """Queue the change's failed deliveries again; returns how many."""
        ...


# --- messaging -------------------------------------------------------------------------------------


class Announcer(Protocol):
    """Sends announcements on one workspace and finds one already sent: what the delivery engine needs.
    Platform errors are classified into SendResult."""

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult: ...

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> MessageRef | None:
        """The announcement already in the user's DM for this delivery, if any (reconciliation)."""
        ...


class Messenger(Announcer, Protocol):
    """Sends and edits direct messages on one workspace."""

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None: ...

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None
    ) -> SendResult:
        """A short nudge in the announcement's thread (a new DM if the thread is gone)."""
        ...

    async def send_escalation(self, escalation: Escalation) -> SendResult: ...

    async def send_gap_report(self, report: GapReport) -> SendResult: ...


# --- follow-up -------------------------------------------------------------------------------------


class FollowUpStore(Protocol):
    """Due reminders, escalations and gap reports, each claimed atomically so two workers never both send."""

    async def change(self, change_id: int) -> Change: ...

    async def due_reminders(self, *, now: datetime, limit: int) -> list[PendingPerson]:
        """Delivered, unacknowledged, of a published change, whose reminder is due (not claimed)."""
        ...

    async def postpone_reminders(self, when: Mapping[int, datetime]) -> None:
        """Move reminders (delivery id -> time) to when their recipients' working hours begin."""
        ...

    async def claim_reminders(
        self, delivery_ids: Sequence[int], *, now: datetime, lease: timedelta
    ) -> list[PendingPerson]:
        """Take those still due; a reminder claimed by another worker is left out."""
        ...

    async def settle_reminder(
        self, delivery_id: int, *, reminders_sent: int, remind_at: datetime | None, now: datetime
    ) -> None: ...

    async def claim_escalations(self, *, now: datetime) -> list[int]:
        """Published changes whose escalation is due, marked escalated in the same statement."""
        ...

    async def claim_reports(self, *, now: datetime) -> list[int]: ...

    async def pending(self, change_id: int) -> list[PendingPerson]:
        """Everyone targeted who has not acknowledged and was not a failed delivery."""
        ...

    async def failed(self, change_id: int) -> list[PendingPerson]: ...

    async def close(self, change_id: int, *, actor: str, at: datetime) -> bool:
        """Close a published change: no more reminders, escalations or reports. False if not published."""
        ...
