"""The Home tab: one page per person of what Realign asks of them and what they watch over.

Everyone sees what they still have to acknowledge (with the button the DM has); an announcer their
changes with their progress and open questions (an admin, REALIGN_ADMINS, every change); a manager what
their direct reports have still to acknowledge. The page is published when the person opens the tab,
and again as acknowledgements arrive: for the acknowledger, the change's announcer and the
acknowledger's manager, at most once per person per HOME_DEBOUNCE (every acknowledgement in that window
is in the one publish). Only people who have opened the tab are republished: who they are is stored
(HomeStore.viewed), so whichever process records an acknowledgement republishes the pages it changes,
and a restart forgets nobody. A page is always fresh when its tab is opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from bot.model import Change, DeliveryState
from bot.ports import ChangeStore, PersonState

log = logging.getLogger(__name__)
HOME_DEBOUNCE = timedelta(seconds=5)  # the most often one person's page is republished
SHOWN = 15  # items per list on a page (Slack takes 100 blocks)
NAMES = 10  # a manager's pending reports named per change
_PENDING = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.DELIVERED)


@dataclass(frozen=True)
class ToAcknowledge:
    """A delivered announcement its recipient has not acknowledged yet."""

    delivery_id: int
    key: str
    title: str
    ack_deadline: date
    effective_date: date
    own_words: bool = False  # its button asks for a line first


@dataclass(frozen=True)
class ChangeProgress:
    """A change its announcer (or an admin) watches."""

    key: str
    title: str
    state: str
    targeted: int
    acknowledged: int
    open_questions: int = 0
    open_concerns: int = 0


@dataclass(frozen=True)
class TeamChange:
    """An open change that reaches a manager's direct reports (as at publishing)."""

    change_id: int
    key: str
    title: str
    reports: int  # the manager's reports it targets
    pending: int  # of them, not acknowledged (and not failed)
    names: tuple[PersonState, ...] = ()  # the first NAMES of them


@dataclass
class Home:
    """One person's page."""

    user_id: str
    to_acknowledge: list[ToAcknowledge] = field(default_factory=list)
    to_acknowledge_total: int = 0
    changes: list[ChangeProgress] = field(default_factory=list)
    changes_total: int = 0
    admin: bool = False
    team: list[TeamChange] = field(default_factory=list)


class HomeStore(Protocol):
    """What a page shows, read from the store; a workspace's data only."""

    async def to_acknowledge(
        self, *, workspace: str, user_id: str, limit: int
    ) -> tuple[list[ToAcknowledge], int]:
        """The user's delivered, unacknowledged announcements of open changes (deadline first), and how
        many there are in all."""
        ...

    async def announced(
        self, *, workspace: str, user_id: str, admin: bool, limit: int
    ) -> tuple[list[ChangeProgress], int]:
        """The open and scheduled changes the user announced (every one for an admin), newest first,
        with their totals, and how many there are in all."""
        ...

    async def team(self, *, workspace: str, manager_id: str, limit: int) -> list[TeamChange]:
        """Open changes with the manager's direct reports still to acknowledge, newest first (no names)."""
        ...

    async def manager_of(self, *, delivery_id: int) -> str | None:
        """The manager of a delivery's recipient, as at publishing (whose team section it is in)."""
        ...

    async def viewed(self, *, workspace: str, user_id: str, at: datetime) -> None:
        """The user opened their tab (at `at`): from now on their page is kept up to date."""
        ...

    async def viewers(self, *, workspace: str, user_ids: Collection[str]) -> set[str]:
        """Those of `user_ids` who have opened their tab."""
        ...


class HomePublisher(Protocol):
    """Shows a person their page (Slack: views.publish)."""

    async def publish_home(self, home: Home) -> None: ...


class HomePages:
    """The Home tab of one workspace."""

    def __init__(
        self,
        *,
        workspace: str,
        store: HomeStore,
        changes: ChangeStore,
        publisher: HomePublisher,
        later: Callable[[Coroutine[Any, Any, Any]], None],
        now: Callable[[], datetime],
        admins: Collection[str] = (),
        debounce: timedelta | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.changes = changes
        self.publisher = publisher
        self.later = later  # runs work after the request has been answered
        self.now = now
        self.admins = frozenset(admins)
        self.debounce = HOME_DEBOUNCE if debounce is None else debounce
        self.sleep = sleep
        self._due: set[str] = set()  # whose republish (by this process) is waiting out the debounce

    async def page(self, *, user_id: str) -> Home:
        admin = user_id in self.admins
        (pending, pending_total), (changes, changes_total), team = await asyncio.gather(
            self.store.to_acknowledge(workspace=self.workspace, user_id=user_id, limit=SHOWN),
            self.store.announced(workspace=self.workspace, user_id=user_id, admin=admin, limit=SHOWN),
            self.store.team(workspace=self.workspace, manager_id=user_id, limit=SHOWN),
        )
        named = await asyncio.gather(*(self._names(change, user_id) for change in team))
        return Home(user_id, pending, pending_total, changes, changes_total, admin, list(named))

    async def _names(self, change: TeamChange, manager_id: str) -> TeamChange:
        people = await self.changes.people_in(
            change.change_id, states=_PENDING, acknowledged=False, limit=NAMES, manager_id=manager_id
        )
        return TeamChange(
            change.change_id, change.key, change.title, change.reports, change.pending, tuple(people)
        )

    async def opened(self, *, user_id: str) -> None:
        """The person opened the tab: show the page now, and keep it up to date from here on."""
        await self.store.viewed(workspace=self.workspace, user_id=user_id, at=self.now())
        await self._publish(user_id)

    def acknowledged(self, *, delivery_id: int, user_id: str, change: Change) -> None:
        """An acknowledgement was recorded: the pages it changes are republished (debounced)."""
        self.later(self._after_acknowledgement(delivery_id, user_id, change))

    async def _after_acknowledgement(self, delivery_id: int, user_id: str, change: Change) -> None:
        concerned = {user_id, change.announcer_id}
        if (manager := await self.store.manager_of(delivery_id=delivery_id)) is not None:
            concerned.add(manager)
        for person in sorted(await self.store.viewers(workspace=self.workspace, user_ids=concerned)):
            self._refresh(person)

    def _refresh(self, user_id: str) -> None:
        """Republish the person's page once the debounce has passed, unless one is waiting already
        (then that one shows this change too)."""
        if user_id in self._due:
            return
        self._due.add(user_id)
        self.later(self._republish(user_id))

    async def _republish(self, user_id: str) -> None:
        try:
            await self.sleep(self.debounce.total_seconds())
        finally:
            self._due.discard(user_id)  # before reading: what comes in from now on gets a publish of its own
        await self._publish(user_id)

    async def _publish(self, user_id: str) -> None:
        await self.publisher.publish_home(await self.page(user_id=user_id))
