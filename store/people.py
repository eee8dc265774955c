"""The cached directory: people per workspace, synced from the platform, read in bulk."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import String, bindparam, column, func, literal, select, table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import model
from store import audit
from store.db import Database
from store.orgchart import Entry, Known
from store.tables import Person, Workspace
from store.types import UTCDateTime

PERSON = Person.__table__  # type: ignore[attr-defined]
SYNCED = ("name", "email", "tz", "active", "is_bot", "updated_at")  # what a platform sync owns
CHUNK = 2000
WHOLE_WORKSPACE = 5 * CHUNK  # people asked for at once above which get_many reads the workspace
PERSON_FIELDS = ("user_id", "name", "email", "tz", "active", "is_bot", "department", "manager_id")


def to_domain(row: Person) -> model.Person:
    return model.Person(
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        tz=row.tz,
        active=row.active,
        is_bot=row.is_bot,
        department=row.department,
        manager_id=row.manager_id,
    )


class SqlPeople:
    """People and workspaces; `upsert_synced` leaves org-chart fields (manager, department) alone."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def ensure_workspace(self, *, key: str, platform: str, name: str, at: datetime) -> None:
        async with self.db.transaction() as session:
            table = Workspace.__table__  # type: ignore[attr-defined]
            statement = self._insert(table).values(key=key, platform=platform, name=name, installed_at=at)
            await session.execute(
                statement.on_conflict_do_update(index_elements=["key"], set_={"name": name})
            )

    async def workspace(self, key: str) -> Workspace | None:
        async with self.db.reading() as session:
            return await session.get(Workspace, key)

    async def upsert_synced(self, workspace: str, people: Iterable[model.Person], *, at: datetime) -> int:
        """Insert or refresh people from a platform sync; returns how many were written.

        PostgreSQL: COPY into a temporary table, then one upsert from it (see _copy_upsert): several times
        faster than psycopg's pipeline of a statement per row. SQLite: one prepared upsert stepped over
        every row (executemany); a multi-row VALUES measured no faster there."""
        rows = {p.user_id: p for p in people}  # once each (the last wins): a statement touches a row once
        if not rows:
            return 0
        async with self.db.transaction() as session:
            if self.db.is_sqlite:
                await self._upsert_each(session, workspace, rows.values(), at=at)
            else:
                await _copy_upsert(session, workspace, rows.values(), at=at)
        return len(rows)

    async def _upsert_each(
        self, session: AsyncSession, workspace: str, people: Iterable[model.Person], *, at: datetime
    ) -> None:
        upsert = self._insert(PERSON)
        upsert = upsert.on_conflict_do_update(
            index_elements=["workspace", "user_id"], set_=_refreshed(upsert.excluded)
        )
        values = ({"workspace": workspace, "updated_at": at, **_synced(p)} for p in people)
        while chunk := list(islice(values, CHUNK)):
            await session.execute(upsert, chunk)

    async def finish_sync(self, workspace: str, *, started_at: datetime, at: datetime) -> int:
        """People the sync that began at `started_at` did not see have left: mark them inactive."""
        async with self.db.transaction() as session:
            gone = await session.execute(
                update(Person)
                .where(
                    col(Person.workspace) == workspace,
                    col(Person.updated_at) < started_at,
                    col(Person.active),
                )
                .values(active=False, updated_at=at)
            )
            await session.execute(
                update(Workspace).where(col(Workspace.key) == workspace).values(directory_synced_at=at)
            )
        return gone.rowcount  # type: ignore[attr-defined]

    async def get_many(self, workspace: str, user_ids: Collection[str]) -> dict[str, model.Person]:
        ids = list(user_ids)
        query = select(*(PERSON.c[name] for name in PERSON_FIELDS)).where(PERSON.c.workspace == workspace)
        found: dict[str, model.Person] = {}
        async with self.db.reading() as session:
            if len(ids) > WHOLE_WORKSPACE:  # most of a large company: one pass beats many IN lists
                wanted = set(ids)
                rows = [row for row in await session.execute(query) if row.user_id in wanted]
            else:
                rows = []
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start : start + CHUNK]
                    rows.extend(await session.execute(query.where(PERSON.c.user_id.in_(chunk))))
        for row in rows:
            found[row.user_id] = model.Person(**row._mapping)
        return found

    async def workspace_keys(self) -> list[str]:
        async with self.db.reading() as session:
            return list(await session.scalars(select(col(Workspace.key)).order_by(col(Workspace.key))))

    async def directory(self, workspace: str) -> list[Known]:
        """Everyone of the workspace, as the org chart import checks its rows against them."""
        columns = ("user_id", "email", "name", "active", "manager_id", "department", "title")
        async with self.db.reading() as session:
            result = await session.execute(
                select(*(PERSON.c[name] for name in columns)).where(PERSON.c.workspace == workspace)
            )
            return [Known(*row) for row in result]

    async def apply_org_chart(
        self,
        workspace: str,
        entries: Sequence[Entry],
        *,
        at: datetime,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Set manager, department and title (and a missing name) of existing people, in one transaction.

        Only org-chart fields change (not `updated_at`, which tells the platform sync who it saw)."""
        statement = (
            update(PERSON)
            .where(PERSON.c.workspace == workspace, PERSON.c.user_id == bindparam("p_user_id"))
            .values(
                manager_id=bindparam("p_manager_id"),
                department=bindparam("p_department"),
                title=bindparam("p_title"),
                name=func.coalesce(bindparam("p_name", type_=String), PERSON.c.name),
            )
        )
        async with self.db.transaction() as session:
            connection = await session.connection()
            for start in range(0, len(entries), CHUNK):
                chunk = entries[start : start + CHUNK]
                await connection.execute(statement, [_org_params(entry) for entry in chunk])
                if progress:
                    progress(len(chunk))
            imported = audit.event(
                "directory.org_chart_imported",
                actor="cli",
                at=at,
                workspace=workspace,
                people=len(entries),
                with_manager=sum(entry.manager_id is not None for entry in entries),
                changed=sum(entry.changed for entry in entries),
            )
            await audit.write(session, [imported])
        return len(entries)


def _org_params(entry: Entry) -> dict[str, str | None]:
    return {
        "p_user_id": entry.user_id,
        "p_manager_id": entry.manager_id,
        "p_department": entry.department,
        "p_title": entry.title,
        "p_name": entry.name,
    }


# PostgreSQL's bulk path: the rows land in a temporary table by COPY, then one INSERT … SELECT.
STAGE_COLUMNS = ("user_id", "name", "email", "tz", "active", "is_bot")
CREATE_STAGE = """CREATE TEMPORARY TABLE person_sync (
    user_id varchar(64) NOT NULL, name varchar NOT NULL, email varchar, tz varchar,
    active boolean NOT NULL, is_bot boolean NOT NULL
) ON COMMIT DROP"""
STAGE = table("person_sync", *(column(name) for name in STAGE_COLUMNS))


def _refreshed(excluded: Any) -> dict[str, Any]:
    """What a sync sets on a known person: everything it owns, but a time zone it does not know (a Teams
    roster has none; the person's client reports it, see adapters.teams.app) keeps the one known."""
    return {k: func.coalesce(excluded.tz, PERSON.c.tz) if k == "tz" else excluded[k] for k in SYNCED}


def _synced(p: model.Person) -> dict[str, object]:
    return {
        "user_id": p.user_id,
        "name": p.name,
        "email": p.email,
        "tz": p.tz,
        "active": p.active,
        "is_bot": p.is_bot,
    }


async def _copy_upsert(
    session: AsyncSession, workspace: str, people: Iterable[model.Person], *, at: datetime
) -> None:
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    async with driver.cursor() as cursor:  # psycopg's, inside the session's transaction
        # The next sync rewrites whatever a crash loses, so this transaction need not wait for its WAL.
        await cursor.execute("SET LOCAL synchronous_commit = off")
        await cursor.execute(CREATE_STAGE)
        async with cursor.copy(f"COPY person_sync ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy_in:
            for p in people:
                await copy_in.write_row((p.user_id, p.name, p.email, p.tz, p.active, p.is_bot))
    # A known person keeps their id, a new one takes the next: the scalar subquery is one index probe
    # per row whatever the planner believes of the table (after a bulk load it believes it small), and
    # coalesce calls nextval only for the new (ON CONFLICT alone takes a sequence number per row).
    known = PERSON.alias("known")
    found = select(known.c.id).where(known.c.workspace == workspace, known.c.user_id == STAGE.c.user_id)
    ids = func.coalesce(found.scalar_subquery(), func.nextval(func.pg_get_serial_sequence("person", "id")))
    staged = select(ids, literal(workspace, String), *STAGE.c, literal(at, UTCDateTime)).select_from(STAGE)
    insert = pg_insert(PERSON).from_select(["id", "workspace", *STAGE_COLUMNS, "updated_at"], staged)
    upsert = insert.on_conflict_do_update(
        index_elements=["workspace", "user_id"], set_=_refreshed(insert.excluded)
    )
    await session.execute(upsert)
