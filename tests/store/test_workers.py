"""Delivering processes count each other by heartbeat, to split a workspace's rate. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.db import Database
from store.people import SqlPeople
from store.workers import SqlWorkers

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALIVE = timedelta(seconds=15)


async def test_workers_count_the_living_and_forget_the_silent(db: Database) -> None:
    workers = SqlWorkers(db)
    assert await workers.beat("a", name="host:1", now=T0, alive_within=ALIVE) == 1
    assert await workers.beat("b", name="host:2", now=T0 + timedelta(seconds=1), alive_within=ALIVE) == 2
    assert await workers.beat("a", name="host:1", now=T0 + timedelta(seconds=5), alive_within=ALIVE) == 2

    # b falls silent (killed): 15 s after its last beat it no longer counts
    assert await workers.beat("a", name="host:1", now=T0 + timedelta(seconds=17), alive_within=ALIVE) == 1

    await workers.beat("c", name="host:3", now=T0 + timedelta(seconds=18), alive_within=ALIVE)
    await workers.leave("c")  # a clean shutdown signs off at once
    assert await workers.beat("a", name="host:1", now=T0 + timedelta(seconds=19), alive_within=ALIVE) == 1


async def test_the_rates_probing_found_are_kept_per_workspace(db: Database) -> None:
    people = SqlPeople(db)
    for key in ("slack:T1", "slack:T2"):
        await people.ensure_workspace(key=key, platform="slack", name=key, at=T0)
    workers = SqlWorkers(db)
    assert await workers.learned_rates() == {}
    await workers.learn_rates({"slack:T1": 8.4})
    await workers.learn_rates({"slack:T1": 7.9, "slack:T2": 12.5})
    assert await workers.learned_rates() == {"slack:T1": 7.9, "slack:T2": 12.5}
