"""Who watches their Home tab, on SQLite and PostgreSQL: opening again moves the time, and a workspace's
viewers are its own."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from store.db import Database
from store.home import SqlHome
from store.tables import HomeViewer
from tests.conftest import FakeClock


async def test_viewers_are_remembered_once_each_and_per_workspace(db: Database, clock: FakeClock) -> None:
    home = SqlHome(db)
    await home.viewed(workspace="slack:T1", user_id="U1", at=clock.now())
    await home.viewed(workspace="slack:T1", user_id="U1", at=clock.advance(hours=1))  # opened again
    await home.viewed(workspace="slack:T2", user_id="U2", at=clock.now())

    assert await home.viewers(workspace="slack:T1", user_ids={"U1", "U2", "U3"}) == {"U1"}
    assert await home.viewers(workspace="slack:T2", user_ids={"U1", "U2"}) == {"U2"}
    assert await home.viewers(workspace="slack:T1", user_ids=set()) == set()
    query = select(col(HomeViewer.workspace), col(HomeViewer.user_id), col(HomeViewer.opened_at))
    async with db.reading() as session:
        rows = set((await session.execute(query)).all())
    assert rows == {("slack:T1", "U1", clock.now()), ("slack:T2", "U2", clock.now())}
