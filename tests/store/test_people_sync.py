"""`upsert_synced` in bulk, on SQLite and PostgreSQL: the platform's fields are refreshed, the org chart's
kept, a person listed twice is written once, and a re-sync uses up no ids."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from bot.model import Person
from store.db import Database
from store.people import SqlPeople
from tests.conftest import FakeClock, count

WORKSPACE = "slack:T001"


def listed(n: int, *, start: int = 0, tz: str = "Europe/London") -> list[Person]:
    return [
        Person(
            user_id=f"U{i:06d}", name=f"Person {i}", email=f"p{i}@acme.test", tz=tz, active=True, is_bot=False
        )
        for i in range(start, start + n)
    ]


async def ids_by_user(db: Database) -> dict[str, int]:
    async with db.reading() as session:
        return {user: id_ for user, id_ in await session.execute(text("SELECT user_id, id FROM person"))}


async def test_a_big_sync_is_written_and_a_re_sync_refreshes_it(db: Database, clock: FakeClock) -> None:
    people = SqlPeople(db)
    everyone = listed(12_000)  # more rows than one statement's parameters could carry on SQLite
    assert await people.upsert_synced(WORKSPACE, everyone, at=clock.now()) == 12_000
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE person SET manager_id = 'U000000', department = 'Ops', title = 'Lead'"
                " WHERE user_id = 'U000007'"
            )
        )
    ids = await ids_by_user(db)

    clock.advance(hours=1)
    moved = [replace(p, tz="America/New_York", name=p.name.upper()) for p in everyone[:10]]
    again = [*moved, *everyone[10:], *listed(1, start=12_000)]  # one new starter
    assert await people.upsert_synced(WORKSPACE, again, at=clock.now()) == 12_001

    found = await people.get_many(WORKSPACE, ["U000007", "U000011", "U012000"])
    assert (found["U000007"].tz, found["U000007"].name) == ("America/New_York", "PERSON 7")
    assert (found["U000007"].manager_id, found["U000007"].department) == ("U000000", "Ops")  # kept
    assert found["U000011"].tz == "Europe/London"
    assert await count(db, "SELECT count(*) FROM person WHERE updated_at < :at", at=clock.now()) == 0
    assert await count(db, "SELECT count(*) FROM person WHERE title = 'Lead'") == 1
    # Known people keep their ids, and the new starter takes the very next one: nothing was used up.
    after = await ids_by_user(db)
    assert {user: after[user] for user in ids} == ids
    assert after["U012000"] == max(ids.values()) + 1


async def test_a_person_listed_twice_is_written_once_the_last_way(db: Database, clock: FakeClock) -> None:
    people = SqlPeople(db)
    first, *_ = listed(1)
    assert await people.upsert_synced(WORKSPACE, [first, replace(first, active=False)], at=clock.now()) == 1
    assert not (await people.get_many(WORKSPACE, [first.user_id]))[first.user_id].active
    assert await people.upsert_synced(WORKSPACE, [], at=clock.now()) == 0
    assert await count(db, "SELECT count(*) FROM person") == 1


async def test_workspaces_are_kept_apart(db: Database, clock: FakeClock) -> None:
    people = SqlPeople(db)
    await people.upsert_synced(WORKSPACE, listed(3), at=clock.now())
    await people.upsert_synced("slack:T002", listed(2, tz="Asia/Tokyo"), at=clock.now())
    assert {p.tz for p in (await people.get_many(WORKSPACE, [p.user_id for p in listed(3)])).values()} == {
        "Europe/London"
    }
    assert await count(db, "SELECT count(*) FROM person") == 5
