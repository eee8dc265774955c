"""`/change-status`: who has the message, who acknowledged, who is still in the dark, per audience group."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from bot import copy
from bot.capacity import CapacityStore, CapacitySummary
from bot.clock import Clock
from bot.errors import NotAllowed, NotFound
from bot.model import Change, DeliveryState
from bot.ports import (
    BreakdownRow,
    ChangeStore,
    ChangeSummary,
    DeliveryQueue,
    FollowUpStore,
    PersonState,
    TallyRow,
)
from bot.questions import Question, QuestionStore
from bot.words import OwnWordsStore, WordsGroup, grouped

NAMES_SHOWN = 50
QUESTIONS_SHOWN = 10
WORDS_SHOWN = 60  # own-words lines in a status (the export has them all)
_NOT_YET = (DeliveryState.QUEUED, DeliveryState.SENDING)


@dataclass
class Totals:
    targeted: int = 0
    delivered: int = 0
    acknowledged: int = 0
    queued: int = 0
    failed: int = 0
    excluded: int = 0

    @property
    def pending(self) -> int:
        """Targeted, not failed, not yet acknowledged."""
        return self.targeted - self.acknowledged - self.failed

    def add(self, row: TallyRow) -> None:
        if row.state is DeliveryState.EXCLUDED:
            self.excluded += row.count
            return
        self.targeted += row.count
        self.delivered += row.count if row.state is DeliveryState.DELIVERED else 0
        self.acknowledged += row.count if row.acknowledged else 0
        self.queued += row.count if row.state in _NOT_YET else 0
        self.failed += row.count if row.state is DeliveryState.FAILED else 0


@dataclass
class GroupStatus:
    name: str
    totals: Totals = field(default_factory=Totals)


@dataclass
class ChangeStatus:
    change: Change
    totals: Totals
    groups: list[GroupStatus]
    pending: list[PersonState]
    failed: list[PersonState]
    breakdown: list[BreakdownRow] = field(default_factory=list)
    manager_id: str | None = None  # set when a manager sees only their direct reports
    questions: list[Question] = field(default_factory=list)  # the first open ones (not for managers)
    open_questions: int = 0
    own_words: list[WordsGroup] = field(default_factory=list)  # lines by group and department
    own_words_count: int = 0  # lines shown (at most WORDS_SHOWN)
    capacity: CapacitySummary | None = None  # the managers' answers, when the change asked them

    def by(self, key: str) -> list[tuple[str | None, int, int]]:
        """(department or manager, acknowledged, targeted), largest first."""
        acked: Counter[str | None] = Counter()
        targeted: Counter[str | None] = Counter()
        for row in self.breakdown:
            name = row.department if key == "department" else row.manager_id
            acked[name] += row.acknowledged
            targeted[name] += row.targeted
        return [(name, acked[name], n) for name, n in targeted.most_common()]


def fold(change: Change, rows: list[TallyRow]) -> tuple[Totals, list[GroupStatus]]:
    """Totals and per-group totals from the aggregate rows (a person in two groups counts in both)."""
    totals = Totals()
    groups = [GroupStatus(group.name) for group in change.groups]
    for row in rows:
        totals.add(row)
        for position, group in enumerate(groups):
            if row.group_mask >> position & 1:
                group.totals.add(row)
    return totals, groups


class Reporting:
    """Status for announcers and admins of one workspace."""

    def __init__(
        self,
        *,
        workspace: str,
        changes: ChangeStore,
        admins: Collection[str] = (),
        questions: QuestionStore | None = None,
        words: OwnWordsStore | None = None,
        capacity: CapacityStore | None = None,
    ) -> None:
        self.words = words
        self.capacity = capacity
        self.workspace = workspace
        self.changes = changes
        self.questions = questions
        self.admins = frozenset(admins)
        self._running: dict[tuple[int, str | None], asyncio.Future[ChangeStatus]] = {}

    async def overview(self, *, user_id: str) -> list[ChangeSummary]:
        return await self.changes.visible_to(
            workspace=self.workspace, user_id=user_id, admin=user_id in self.admins
        )

    async def visible_change(self, *, key: str, user_id: str) -> Change:
        change = await self.changes.get(key.upper())
        if change is None or change.workspace != self.workspace:
            raise NotFound(copy.NO_SUCH_CHANGE.format(key=key))
        if user_id != change.announcer_id and user_id not in self.admins:
            raise NotAllowed(copy.NOT_YOURS.format(key=change.key))
        return change

    async def _scope(self, *, key: str, user_id: str) -> tuple[Change, str | None]:
        """The change, and whose reports the caller may see (None: everyone)."""
        try:
            return await self.visible_change(key=key, user_id=user_id), None
        except NotAllowed:
            change = await self.changes.get(key.upper())  # it exists: visible_change said NotAllowed
            assert change is not None
            return change, user_id

    async def status(self, *, key: str, user_id: str) -> ChangeStatus:
        """Everything for the announcer and admins; a manager sees only their direct reports.

        Asked again while the same report is being counted, it shares that count: on a 100,000-person
        change many people asking at once cost one set of aggregate queries at a time, not a pile-up."""
        change, scope = await self._scope(key=key, user_id=user_id)
        assert change.id is not None
        report = (change.id, scope)
        running = self._running.get(report)
        if running is None:
            running = self._running[report] = asyncio.ensure_future(self._count(change, scope))
            running.add_done_callback(lambda _: self._running.pop(report, None))
        return await asyncio.shield(running)  # one caller giving up does not cancel the others' count

    async def _count(self, change: Change, scope: str | None) -> ChangeStatus:
        assert change.id is not None
        people = functools.partial(
            self.changes.people_in, change.id, acknowledged=False, limit=NAMES_SHOWN, manager_id=scope
        )
        # Independent aggregate queries: on separate connections they run side by side.
        rows, pending, failed, breakdown = await asyncio.gather(
            self.changes.tally(change.id, manager_id=scope),
            people(states=(*_NOT_YET, DeliveryState.DELIVERED)),
            people(states=(DeliveryState.FAILED,)),
            self.changes.breakdown(change.id, manager_id=scope),
        )
        if scope is not None and not rows:  # none of this change's people report to the caller
            raise NotAllowed(copy.NOT_YOURS.format(key=change.key))
        totals, groups = fold(change, rows)
        status = ChangeStatus(change, totals, groups, pending, failed, breakdown, manager_id=scope)
        if scope is None and self.questions is not None:  # what people asked is for the announcer
            status.questions, status.open_questions = await self.questions.open_questions(
                change.id, limit=QUESTIONS_SHOWN
            )
        if scope is None and self.words is not None and change.own_words:
            lines = await self.words.lines(change.id, limit=WORDS_SHOWN)
            status.own_words, status.own_words_count = grouped(change, lines), len(lines)
        if scope is None and self.capacity is not None and change.capacity_check:
            status.capacity = await self.capacity.summary(change.id, limit=QUESTIONS_SHOWN)
        return status


class Requeueing:
    """The announcer's "retry failed deliveries" button, once whatever blocked them is fixed."""

    def __init__(
        self,
        *,
        reporting: Reporting,
        queue: DeliveryQueue,
        clock: Clock,
        on_requeued: Callable[[], None] = lambda: None,
    ) -> None:
        self.reporting = reporting
        self.queue = queue
        self.clock = clock
        self.on_requeued = on_requeued

    async def retry_failed(self, *, key: str, user_id: str) -> int:
        change = await self.reporting.visible_change(key=key, user_id=user_id)
        assert change.id is not None
        count = await self.queue.requeue_failed(change_id=change.id, actor=user_id, now=self.clock.now())
        if count:
            self.on_requeued()
        return count


class Closing:
    """Closing a change stops reminders, escalations and the gap report for everyone."""

    def __init__(self, *, reporting: Reporting, store: FollowUpStore, clock: Clock) -> None:
        self.reporting = reporting
        self.store = store
        self.clock = clock

    async def close(self, *, key: str, user_id: str) -> bool:
        change = await self.reporting.visible_change(key=key, user_id=user_id)
        assert change.id is not None
        return await self.store.close(change.id, actor=user_id, at=self.clock.now())
