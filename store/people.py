"""The cached directory: people per workspace, synced from the platform, read in bulk."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from itertools import islice

from sqlalchemy import String, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from bot import model
from store import audit
from store.db import Database
from store.orgchart import Entry, Known
from store.tables import Person, Workspace

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
        """Insert or refresh people from a platform sync; returns how many were written."""
        written = 0
        rows = (
            {
                "workspace": workspace,
                "user_id": p.user_id,
                "name": p.name,
                "email": p.email,
                "tz": p.tz,
                "active": p.active,
                "is_bot": p.is_bot,
                "updated_at": at,
            }
            for p in people
        )
        upsert = self._insert(PERSON)
        upsert = upsert.on_conflict_do_update(
            index_elements=["workspace", "user_id"], set_={k: upsert.excluded[k] for k in SYNCED}
        )
        # One compiled statement, executed for many rows (SQLite's executemany, psycopg's pipeline).
        async with self.db.transaction() as session:
            while chunk := list(islice(rows, CHUNK)):
                await session.execute(upsert, chunk)
                written += len(chunk)
        return written

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
