"""In-memory fakes of the ports in `bot.ports`: small, faithful to the contracts, easy to inspect."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.model import Announcement, AudienceGroup, Change, ChangeState, DeliveryState, Person
from bot.ports import (
    BreakdownRow,
    ChangeSummary,
    Claim,
    Excluded,
    Failed,
    MessageRef,
    Outcome,
    PersonState,
    Recipient,
    Retry,
    SendResult,
    Sent,
    TallyRow,
)

# --- the directory --------------------------------------------------------------------------------


class MemoryDirectory:
    """A workspace's people, user groups (found by id or handle) and channels, held in dicts."""

    def __init__(self) -> None:
        self.everyone: dict[str, Person] = {}
        self.usergroups: dict[str, tuple[str, set[str]]] = {}  # id -> (handle, members)
        self.channels: dict[str, set[str]] = {}

    def person(self, user_id: str, **fields: object) -> Person:
        """Add someone (named after their id unless `name` is given) and return them."""
        fields.setdefault("name", user_id.removeprefix("U").title())
        person = Person(user_id, **fields)  # type: ignore[arg-type]
        self.everyone[user_id] = person
        return person

    def usergroup(self, group_id: str, handle: str, *members: str) -> None:
        self.usergroups[group_id] = (handle, set(members))

    def channel(self, channel_id: str, *members: str) -> None:
        self.channels[channel_id] = set(members)

    async def members(self, group: AudienceGroup) -> set[str]:
        selected = set(group.user_ids)
        for group_id in group.usergroup_ids:
            selected |= self.usergroups[group_id][1]
        for channel_id in group.channel_ids:
            selected |= self.channels[channel_id]
        return selected

    async def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        return {user_id: self.everyone[user_id] for user_id in user_ids if user_id in self.everyone}

    async def in_any_usergroup(self, user_id: str, handles: Collection[str]) -> bool:
        wanted = {handle.lstrip("@").lower() for handle in handles}
        return any(
            (group_id.lower() in wanted or handle.lower() in wanted) and user_id in members
            for group_id, (handle, members) in self.usergroups.items()
        )


# --- changes and their deliveries -----------------------------------------------------------------


@dataclass
class DeliveryRow:
    """One row of the outbox, as the store keeps it."""

    id: int
    change_id: int
    user_id: str
    group_mask: int
    state: DeliveryState
    due_at: datetime | None
    attempts: int = 0
    unsure: bool = False
    last_error: str | None = None
    ref: MessageRef | None = None
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None


class MemoryChanges:
    """Changes and their delivery rows in memory; hands out copies, as a database would."""

    def __init__(self, directory: MemoryDirectory | None = None) -> None:
        self.directory = directory  # for names in `people_in`, as the store joins the person table
        self.stored: dict[int, Change] = {}
        self.drafts: dict[str, int] = {}
        self.deliveries: list[DeliveryRow] = []

    def delivery(self, user_id: str) -> DeliveryRow:
        """The one delivery row of `user_id` (tests here publish one change at a time)."""
        (row,) = (row for row in self.deliveries if row.user_id == user_id)
        return row

    async def save_draft(self, change: Change, *, draft_ref: str, at: datetime) -> Change:
        change_id = self.drafts.get(draft_ref)
        if change_id is not None and self.stored[change_id].state is not ChangeState.DRAFT:
            return copy.deepcopy(self.stored[change_id])
        change_id = change_id or len(self.stored) + 1
        self.drafts[draft_ref] = change_id
        self.stored[change_id] = replace(copy.deepcopy(change), id=change_id, key=f"CHG-{change_id}")
        return copy.deepcopy(self.stored[change_id])

    async def get(self, key: str) -> Change | None:
        prefix, _, number = key.strip().upper().partition("-")
        return await self.get_by_id(int(number)) if prefix == "CHG" and number.isdigit() else None

    async def get_by_id(self, change_id: int) -> Change | None:
        return copy.deepcopy(self.stored.get(change_id))

    async def revisions(self, change_ids: Collection[int]) -> dict[int, int]:
        return {i: self.stored[i].revision for i in change_ids if i in self.stored}

    async def publish(
        self, change: Change, recipients: Sequence[Recipient], excluded: Sequence[Excluded], *, at: datetime
    ) -> bool:
        assert change.id is not None
        stored = self.stored[change.id]
        if stored.state is not ChangeState.DRAFT:
            return False
        stored.state, stored.published_at = ChangeState.PUBLISHED, at
        for r in recipients:
            self._insert(change.id, r.user_id, r.group_mask, DeliveryState.QUEUED, due_at=at)
        for e in excluded:
            self._insert(change.id, e.user_id, e.group_mask, DeliveryState.EXCLUDED, error=e.reason.value)
        return True

    def _insert(
        self,
        change_id: int,
        user_id: str,
        mask: int,
        state: DeliveryState,
        *,
        due_at: datetime | None = None,
        error: str | None = None,
    ) -> None:
        row = DeliveryRow(len(self.deliveries) + 1, change_id, user_id, mask, state, due_at, last_error=error)
        self.deliveries.append(row)

    def _rows(self, change_id: int, manager_id: str | None = None) -> list[DeliveryRow]:
        people = self.directory.everyone if self.directory else {}
        return [
            row
            for row in self.deliveries
            if row.change_id == change_id
            and (
                manager_id is None or (row.user_id in people and people[row.user_id].manager_id == manager_id)
            )
        ]

    async def visible_to(self, *, workspace: str, user_id: str, admin: bool) -> list[ChangeSummary]:
        shown = [
            change
            for change in self.stored.values()
            if change.workspace == workspace
            and change.state is not ChangeState.DRAFT
            and (admin or change.announcer_id == user_id)
        ]
        return [
            ChangeSummary(
                change.key,
                change.title,
                change.state.value,
                sum(row.state is not DeliveryState.EXCLUDED for row in self._rows(change.id or 0)),
                sum(row.acknowledged_at is not None for row in self._rows(change.id or 0)),
            )
            for change in sorted(shown, key=lambda change: change.id or 0, reverse=True)
        ]

    async def tally(self, change_id: int, *, manager_id: str | None = None) -> list[TallyRow]:
        counts = Counter(
            (row.group_mask, row.state, row.acknowledged_at is not None)
            for row in self._rows(change_id, manager_id)
        )
        return [TallyRow(mask, state, acked, n) for (mask, state, acked), n in counts.items()]

    async def breakdown(self, change_id: int, *, manager_id: str | None = None) -> list[BreakdownRow]:
        people = self.directory.everyone if self.directory else {}
        groups: dict[tuple[str | None, str | None], list[DeliveryRow]] = {}
        for row in self._rows(change_id, manager_id):
            if row.state is not DeliveryState.EXCLUDED:
                person = people.get(row.user_id)
                key = (person.department, person.manager_id) if person else (None, None)
                groups.setdefault(key, []).append(row)
        return [
            BreakdownRow(
                department,
                manager,
                len(rows),
                sum(r.acknowledged_at is not None for r in rows),
                sum(r.state is DeliveryState.FAILED for r in rows),
            )
            for (department, manager), rows in groups.items()
        ]

    async def people_in(
        self,
        change_id: int,
        *,
        states: Collection[DeliveryState],
        acknowledged: bool,
        limit: int,
        manager_id: str | None = None,
    ) -> list[PersonState]:
        people = self.directory.everyone if self.directory else {}
        found = [
            PersonState(
                row.user_id,
                people[row.user_id].name if row.user_id in people else row.user_id,
                row.group_mask,
                row.state,
                row.last_error,
            )
            for row in self._rows(change_id, manager_id)
            if row.state in states and (row.acknowledged_at is not None) == acknowledged
        ]
        return sorted(found, key=lambda person: (person.name, person.user_id))[:limit]


class MemoryQueue:
    """The outbox over `MemoryChanges.deliveries`: claims take due rows under a lease, settling is fenced."""

    def __init__(self, changes: MemoryChanges) -> None:
        self.changes = changes

    def _due(self, now: datetime) -> list[DeliveryRow]:
        return [row for row in self.changes.deliveries if row.due_at is not None and row.due_at <= now]

    def _workspace(self, row: DeliveryRow) -> str:
        return self.changes.stored[row.change_id].workspace

    async def due_workspaces(self, *, now: datetime) -> list[str]:
        return sorted({self._workspace(row) for row in self._due(now)})

    async def claim(self, *, now: datetime, limit: int, lease: timedelta, workspace: str) -> list[Claim]:
        due = sorted(
            (row for row in self._due(now) if self._workspace(row) == workspace),
            key=lambda row: row.due_at or now,
        )[:limit]
        claims = []
        for row in due:
            row.unsure = row.unsure or row.state is DeliveryState.SENDING  # its lease ran out mid-send
            row.state, row.due_at, row.attempts = DeliveryState.SENDING, now + lease, row.attempts + 1
            claims.append(Claim(row.id, row.change_id, row.user_id, row.group_mask, row.attempts, row.unsure))
        return claims

    async def settle(self, outcomes: Sequence[Outcome], *, now: datetime) -> None:
        for outcome in outcomes:
            row = self.changes.deliveries[outcome.claim.delivery_id - 1]
            if row.attempts != outcome.claim.attempt or row.state is not DeliveryState.SENDING:
                continue  # superseded: someone else holds this delivery now
            result = outcome.result
            if isinstance(result, Sent):
                row.state, row.due_at, row.unsure, row.last_error = DeliveryState.DELIVERED, None, False, None
                row.ref, row.sent_at = result.ref, now
            elif isinstance(result, Failed):
                row.state, row.due_at, row.last_error = DeliveryState.FAILED, None, result.reason
            else:
                row.state, row.due_at = DeliveryState.QUEUED, outcome.retry_at or now
                row.unsure, row.last_error = result.unsure, result.reason


# --- messaging ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    """A scripted send that reaches the user's DM although the caller is told `reply` (e.g. a timeout)."""

    reply: Retry


class FakeMessenger:
    """Users' DMs in memory; each user's next sends can be scripted to fail, retry, land unseen or raise."""

    def __init__(self) -> None:
        self.dms: dict[str, list[Announcement]] = defaultdict(list)
        self.sends: Counter[str] = Counter()
        self.lookups: Counter[str] = Counter()
        self._script: dict[str, deque[SendResult | Landed | Exception]] = defaultdict(deque)
        self.lookup_replies: dict[str, deque[Retry]] = defaultdict(deque)  # what the next lookups say

    def script(self, user_id: str, *steps: SendResult | Landed | Exception) -> None:
        """What the next sends to `user_id` do, in order; once used up, sends succeed."""
        self._script[user_id].extend(steps)

    def dms_to(self, user_id: str) -> int:
        return len(self.dms[user_id])

    def _post(self, user_id: str, announcement: Announcement) -> MessageRef:
        self.dms[user_id].append(announcement)
        return MessageRef(f"D-{user_id}", f"{len(self.dms[user_id])}.000")

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult:
        self.sends[user_id] += 1
        step = self._script[user_id].popleft() if self._script[user_id] else None
        if isinstance(step, Exception):
            raise step
        if isinstance(step, Landed):
            self._post(user_id, announcement)
            return step.reply
        return step if step is not None else Sent(self._post(user_id, announcement))

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> MessageRef | Retry | None:
        self.lookups[user_id] += 1
        if self.lookup_replies[user_id]:
            return self.lookup_replies[user_id].popleft()
        for position, posted in enumerate(self.dms[user_id], start=1):
            if posted.delivery_id == delivery_id:
                return MessageRef(f"D-{user_id}", f"{position}.000")
        return None

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None:
        self.dms[ref.conversation.removeprefix("D-")][int(ref.id.split(".")[0]) - 1] = announcement
