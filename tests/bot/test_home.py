"""The Home tab in the core: a page holds what the person must still acknowledge, their changes (every
change for an admin) and their team's pending people; opening the tab publishes it at once; an
acknowledgement republishes the acknowledger's, the announcer's and the manager's pages, each once per
debounce window however many acknowledgements came in it, and only for people who opened the tab."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.home import ChangeProgress, Home, HomePages, TeamChange, ToAcknowledge
from bot.model import Change, DeliveryState
from bot.ports import PersonState

CHANGE = Change(
    workspace="slack:T1",
    announcer_id="UANN",
    title="New CRM",
    what="We move.",
    why="",
    effective_date=date(2026, 12, 14),
    ack_deadline=date(2026, 12, 10),
    key="CHG-3",
    id=3,
)
MANAGERS = {11: "UM", 12: "UM", 13: None}  # delivery id -> the recipient's manager


class MemoryHome:
    """`HomeStore` with a fixed page per person; records who asked for what."""

    def __init__(self) -> None:
        self.admin_asks: list[bool] = []
        self.viewing: set[tuple[str, str]] = set()

    async def viewed(self, *, workspace: str, user_id: str, at: datetime) -> None:
        self.viewing.add((workspace, user_id))

    async def viewers(self, *, workspace: str, user_ids: Collection[str]) -> set[str]:
        return {user for user in user_ids if (workspace, user) in self.viewing}

    async def to_acknowledge(
        self, *, workspace: str, user_id: str, limit: int
    ) -> tuple[list[ToAcknowledge], int]:
        items = [ToAcknowledge(11, "CHG-3", "New CRM", date(2026, 12, 10), date(2026, 12, 14))]
        return (items, 1) if user_id == "U1" else ([], 0)

    async def announced(
        self, *, workspace: str, user_id: str, admin: bool, limit: int
    ) -> tuple[list[ChangeProgress], int]:
        self.admin_asks.append(admin)
        mine = user_id == "UANN" or admin
        return ([ChangeProgress("CHG-3", "New CRM", "published", 200, 140, 2)], 1) if mine else ([], 0)

    async def team(self, *, workspace: str, manager_id: str, limit: int) -> list[TeamChange]:
        return [TeamChange(3, "CHG-3", "New CRM", 3, 2)] if manager_id == "UM" else []

    async def manager_of(self, *, delivery_id: int) -> str | None:
        return MANAGERS[delivery_id]


class Reports:
    """The part of `ChangeStore` the page uses: a manager's pending reports of a change."""

    async def people_in(self, change_id: int, **scope: Any) -> list[PersonState]:
        assert scope["manager_id"] == "UM" and not scope["acknowledged"]
        return [PersonState(u, u, 1, DeliveryState.DELIVERED) for u in ("U1", "U2")]


class Tab:
    """`HomePublisher` that keeps every page published, in order."""

    def __init__(self) -> None:
        self.published: list[Home] = []

    async def publish_home(self, home: Home) -> None:
        self.published.append(home)

    def to(self, user_id: str) -> list[Home]:
        return [home for home in self.published if home.user_id == user_id]


class Window:
    """The debounce's sleep, ended by the test (`close()`), so no test waits on the wall clock."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await self.closed.wait()

    def close(self) -> None:
        self.closed.set()
        self.closed = asyncio.Event()  # the next window waits again


class Background:
    """`later`: runs work as tasks, and lets the test wait for all of it."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def __call__(self, work: Coroutine[Any, Any, Any]) -> None:
        self.tasks.append(asyncio.ensure_future(work))

    async def settle(self) -> None:
        """Let every task run as far as it can (tasks still waiting are in a debounce window)."""
        for _ in range(50):
            await asyncio.sleep(0)
        for task in self.tasks:
            if task.done():
                task.result()  # a failure fails the test


def home_pages(store: MemoryHome, tab: Tab, window: Window, later: Background) -> HomePages:
    return HomePages(
        workspace="slack:T1",
        store=store,
        changes=Reports(),  # type: ignore[arg-type]
        publisher=tab,
        later=later,
        now=lambda: datetime(2026, 12, 1, 9, tzinfo=UTC),
        admins={"UADMIN"},
        sleep=window.sleep,
    )


@pytest.fixture
def parts() -> tuple[HomePages, Tab, Window, Background, MemoryHome]:
    store, tab, window, later = MemoryHome(), Tab(), Window(), Background()
    return home_pages(store, tab, window, later), tab, window, later, store


async def test_opening_the_tab_publishes_each_persons_page_at_once(
    parts: tuple[HomePages, Tab, Window, Background, MemoryHome],
) -> None:
    pages, tab, _, _, store = parts

    for user in ("U1", "UANN", "UM", "UADMIN"):
        await pages.opened(user_id=user)

    recipient, announcer, manager, admin = tab.published
    assert [item.key for item in recipient.to_acknowledge] == ["CHG-3"] and not recipient.changes
    assert announcer.changes[0].acknowledged == 140 and announcer.changes[0].targeted == 200
    assert not announcer.admin and admin.admin and admin.changes_total == 1
    assert store.admin_asks == [False, False, False, True]
    assert [(c.key, c.pending, [p.user_id for p in c.names]) for c in manager.team] == [
        ("CHG-3", 2, ["U1", "U2"])
    ]
    assert not manager.to_acknowledge and not manager.changes


async def test_a_burst_of_acknowledgements_republishes_each_concerned_page_once_per_window(
    parts: tuple[HomePages, Tab, Window, Background, MemoryHome],
) -> None:
    pages, tab, window, later, _ = parts
    for user in ("U1", "U2", "UANN", "UM", "UOTHER"):
        await pages.opened(user_id=user)
    opened = len(tab.published)

    for delivery, user in ((11, "U1"), (12, "U2"), (13, "U3")):  # U3 never opened the tab
        pages.acknowledged(delivery_id=delivery, user_id=user, change=CHANGE)
    await later.settle()
    assert len(tab.published) == opened  # nothing before the window ends
    window.close()
    await later.settle()

    republished = sorted(home.user_id for home in tab.published[opened:])
    assert republished == ["U1", "U2", "UANN", "UM"]  # once each; not U3, not UOTHER
    assert window.slept == [5.0] * 4

    pages.acknowledged(delivery_id=12, user_id="U2", change=CHANGE)  # a new window
    await later.settle()
    window.close()
    await later.settle()
    assert sorted(home.user_id for home in tab.published[opened + 4 :]) == ["U2", "UANN", "UM"]


async def test_nobody_who_opened_the_tab_means_nothing_is_published(
    parts: tuple[HomePages, Tab, Window, Background, MemoryHome],
) -> None:
    pages, tab, window, later, _ = parts

    pages.acknowledged(delivery_id=11, user_id="U1", change=CHANGE)
    await later.settle()
    window.close()
    await later.settle()

    assert tab.published == [] and window.slept == []


async def test_a_tab_opened_in_one_process_is_kept_up_to_date_by_another(
    parts: tuple[HomePages, Tab, Window, Background, MemoryHome],
) -> None:
    """Who watches is stored, not kept in the process that answered the opening (nor lost at restart)."""
    first, tab, window, later, store = parts
    await first.opened(user_id="UANN")
    second = home_pages(store, tab, window, later)  # another process, or this one after a restart

    second.acknowledged(delivery_id=11, user_id="U1", change=CHANGE)
    await later.settle()
    window.close()
    await later.settle()

    assert [home.user_id for home in tab.published] == ["UANN", "UANN"]
    assert ("slack:T1", "UANN") in store.viewing and window.slept == [5.0]
