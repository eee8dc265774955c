"""Named leases on SQLite and PostgreSQL: one holder at a time, renewable by its holder, taken over once
expired, and of many processes racing for a free lease exactly one gets it; work run under a lease
(bot.singleton) gives it back at the end and is stopped if another process took it over."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.singleton import LeaseLost, run_alone
from store.db import Database
from store.leases import SqlLeases
from tests.conftest import FakeClock

JOB = "directory.sync:slack:T001"
TTL = timedelta(minutes=2)


async def test_one_holder_at_a_time_until_it_releases(db: Database, clock: FakeClock) -> None:
    leases = SqlLeases(db)
    assert await leases.acquire(JOB, holder="a", now=clock.now(), ttl=TTL)
    assert not await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)
    assert await leases.acquire("other-job", holder="b", now=clock.now(), ttl=TTL)  # names are apart

    await leases.release(JOB, holder="b")  # not b's: nothing happens
    assert await leases.holder(JOB, now=clock.now()) == "a"
    await leases.release(JOB, holder="a")
    assert await leases.holder(JOB, now=clock.now()) is None
    assert await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)


async def test_the_holder_renews_and_an_expired_lease_is_taken_over(db: Database, clock: FakeClock) -> None:
    leases = SqlLeases(db)
    assert await leases.acquire(JOB, holder="a", now=clock.now(), ttl=TTL)
    clock.advance(seconds=90)
    assert await leases.acquire(JOB, holder="a", now=clock.now(), ttl=TTL)  # renewed: now + 2 min
    clock.advance(seconds=90)  # past the first expiry, not the renewed one
    assert not await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)

    clock.advance(seconds=31)  # a stopped renewing (crashed): the lease is free for the taking
    assert await leases.holder(JOB, now=clock.now()) is None
    assert await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)
    assert not await leases.acquire(JOB, holder="a", now=clock.now(), ttl=TTL)  # a is too late
    assert await leases.holder(JOB, now=clock.now()) == "b"


async def test_of_processes_racing_for_a_lease_exactly_one_gets_it(
    database_url: str, clock: FakeClock
) -> None:
    processes = [Database(database_url) for _ in range(4)]  # an engine each, as separate processes have
    try:
        for _ in range(3):  # a free lease, then the same lease once expired
            got = await asyncio.gather(
                *(
                    SqlLeases(db).acquire(JOB, holder=f"p{n}-{m}", now=clock.now(), ttl=TTL)
                    for n, db in enumerate(processes)
                    for m in range(3)
                )
            )
            assert sum(got) == 1
            clock.advance(minutes=3)
    finally:
        for db in processes:
            await db.close()


async def test_work_whose_lease_is_taken_over_is_stopped(db: Database, clock: FakeClock) -> None:
    leases, started, stopped = SqlLeases(db), asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()  # only once the lease is taken
        try:
            await asyncio.Event().wait()  # a long job
        finally:
            stopped.set()

    running = asyncio.ensure_future(
        run_alone(work, leases=leases, name=JOB, holder="a", clock=clock, ttl=timedelta(seconds=0.3))
    )
    await asyncio.wait_for(started.wait(), timeout=5)
    async with db.transaction() as session:  # a stalled past its lease and b took it meanwhile
        await session.execute(text("UPDATE lease SET holder = 'b'"))

    with pytest.raises(LeaseLost):
        await asyncio.wait_for(running, timeout=5)
    assert stopped.is_set()
    assert await leases.holder(JOB, now=clock.now()) == "b"  # a's release left b's lease alone


async def test_work_runs_once_under_its_lease_and_gives_it_back(db: Database, clock: FakeClock) -> None:
    leases = SqlLeases(db)

    async def work() -> str:
        assert not await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)  # held meanwhile
        return "done"

    assert await run_alone(work, leases=leases, name=JOB, holder="a", clock=clock, ttl=TTL) == "done"
    assert await leases.holder(JOB, now=clock.now()) is None
    assert await leases.acquire(JOB, holder="b", now=clock.now(), ttl=TTL)
    assert await run_alone(work, leases=leases, name=JOB, holder="a", clock=clock, ttl=TTL) is None
