"""What the Teams adapter keeps in the database: installs (conversation references), who is in each
installed team or channel, how to reach each person, and the activity id of every message posted.

Nothing of this lives only in memory: any process (web or worker) reads what another one wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from store.db import Database
from store.tables import Person, TeamsInstall, TeamsMember, TeamsSent, TeamsUser, Workspace

CHUNK = 1000


@dataclass(frozen=True)
class Reach:
    """How to reach one person: their Teams id, the service URL of their tenant, the bot's 1:1 chat."""

    user_id: str
    teams_id: str
    service_url: str
    conversation_id: str | None = None


@dataclass(frozen=True)
class Install:
    workspace: str
    conversation_id: str
    kind: str
    service_url: str
    team_id: str | None = None
    name: str = ""
    private: bool = False


class SqlTeams:
    """Implements the Teams adapter's storage over SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def workspaces(self) -> list[str]:
        """The keys of the Teams tenants Realign was installed in."""
        async with self.db.reading() as session:
            query = select(col(Workspace.key)).where(col(Workspace.platform) == "teams")
            return list(await session.scalars(query.order_by(col(Workspace.key))))

    async def save_install(self, install: Install, *, reference: dict[str, Any], at: datetime) -> None:
        values = {
            "workspace": install.workspace,
            "conversation_id": install.conversation_id,
            "kind": install.kind,
            "team_id": install.team_id,
            "name": install.name,
            "private": install.private,
            "service_url": install.service_url,
            "reference": reference,
            "installed_at": at,
        }
        statement = self._insert(TeamsInstall.__table__).values(**values)  # type: ignore[attr-defined]
        kept = {k: statement.excluded[k] for k in ("kind", "team_id", "name", "private", "service_url")}
        async with self.db.transaction() as session:
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["workspace", "conversation_id"],
                    set_={**kept, "reference": statement.excluded["reference"]},
                )
            )

    async def installs(self, workspace: str) -> list[Install]:
        async with self.db.reading() as session:
            rows = await session.scalars(select(TeamsInstall).where(col(TeamsInstall.workspace) == workspace))
            return [
                Install(r.workspace, r.conversation_id, r.kind, r.service_url, r.team_id, r.name, r.private)
                for r in rows
            ]

    async def remove_install(self, workspace: str, conversation_id: str) -> None:
        """Forget an install and who is in it; for a team, its channels (private ones too) go with it."""
        async with self.db.transaction() as session:
            listed = await session.scalars(
                select(col(TeamsInstall.conversation_id)).where(
                    col(TeamsInstall.workspace) == workspace, col(TeamsInstall.team_id) == conversation_id
                )
            )
            gone = {conversation_id, *listed}
            for table in (TeamsInstall, TeamsMember):
                await session.execute(
                    delete(table).where(
                        col(table.workspace) == workspace, col(table.conversation_id).in_(sorted(gone))
                    )
                )

    async def remove_members(
        self, workspace: str, conversation_ids: Collection[str], user_ids: Collection[str]
    ) -> None:
        """These people left these installed conversations (a conversationUpdate's membersRemoved)."""
        if not conversation_ids or not user_ids:
            return
        async with self.db.transaction() as session:
            await session.execute(
                delete(TeamsMember).where(
                    col(TeamsMember.workspace) == workspace,
                    col(TeamsMember.conversation_id).in_(sorted(set(conversation_ids))),
                    col(TeamsMember.user_id).in_(sorted(set(user_ids))),
                )
            )

    async def mark_leavers(self, workspace: str, *, at: datetime) -> tuple[int, int]:
        """Whoever is in no installed team, channel, chat or personal scope of the tenant is inactive (so
        audiences exclude them as deactivated); whoever is in one again is active. Returns (gone, back)."""
        members = select(col(TeamsMember.user_id)).where(col(TeamsMember.workspace) == workspace)
        async with self.db.transaction() as session:
            gone = await session.execute(
                update(Person)
                .where(
                    col(Person.workspace) == workspace,
                    col(Person.active),
                    col(Person.user_id).not_in(members),
                )
                .values(active=False, updated_at=at)
            )
            back = await session.execute(
                update(Person)
                .where(
                    col(Person.workspace) == workspace, ~col(Person.active), col(Person.user_id).in_(members)
                )
                .values(active=True, updated_at=at)
            )
        return gone.rowcount, back.rowcount  # type: ignore[attr-defined]

    async def personal_members(self, workspace: str) -> dict[str, str]:
        """Personal installs: their 1:1 conversation id -> the person it is with (whose 1:1 it is)."""
        query = (
            select(col(TeamsInstall.conversation_id), col(TeamsUser.user_id))
            .join(
                TeamsUser,
                (col(TeamsUser.workspace) == col(TeamsInstall.workspace))
                & (col(TeamsUser.conversation_id) == col(TeamsInstall.conversation_id)),
            )
            .where(col(TeamsInstall.workspace) == workspace, col(TeamsInstall.kind) == "personal")
        )
        async with self.db.reading() as session:
            return {conversation_id: user_id for conversation_id, user_id in await session.execute(query)}

    async def set_timezone(self, workspace: str, user_id: str, tz: str) -> bool:
        """Record the time zone a person's Teams client reported; False if the person is not known yet."""
        async with self.db.transaction() as session:
            done = await session.execute(
                update(Person)
                .where(col(Person.workspace) == workspace, col(Person.user_id) == user_id)
                .values(tz=tz)
            )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def save_people(self, workspace: str, people: Sequence[Reach], *, at: datetime) -> None:
        """Insert or refresh how to reach these people (a known 1:1 conversation is kept)."""
        if not people:
            return
        statement = self._insert(TeamsUser.__table__)  # type: ignore[attr-defined]
        upsert = statement.on_conflict_do_update(
            index_elements=["workspace", "user_id"],
            set_={k: statement.excluded[k] for k in ("teams_id", "service_url", "updated_at")},
        )
        rows = [
            {
                "workspace": workspace,
                "user_id": p.user_id,
                "teams_id": p.teams_id,
                "service_url": p.service_url,
                "conversation_id": p.conversation_id,
                "updated_at": at,
            }
            for p in {p.user_id: p for p in people}.values()
        ]
        async with self.db.transaction() as session:
            for start in range(0, len(rows), CHUNK):
                await session.execute(upsert, rows[start : start + CHUNK])

    async def replace_members(self, workspace: str, conversation_id: str, user_ids: Collection[str]) -> None:
        """The members of an installed team or channel are now exactly `user_ids`."""
        async with self.db.transaction() as session:
            await session.execute(
                delete(TeamsMember).where(
                    col(TeamsMember.workspace) == workspace,
                    col(TeamsMember.conversation_id) == conversation_id,
                )
            )
            rows = [
                {"workspace": workspace, "conversation_id": conversation_id, "user_id": u}
                for u in sorted(set(user_ids))
            ]
            for start in range(0, len(rows), CHUNK):
                await session.execute(
                    TeamsMember.__table__.insert(),  # type: ignore[attr-defined]
                    rows[start : start + CHUNK],
                )

    async def members_of(self, workspace: str, conversation_ids: Collection[str]) -> set[str]:
        if not conversation_ids:
            return set()
        async with self.db.reading() as session:
            rows = await session.scalars(
                select(col(TeamsMember.user_id)).where(
                    col(TeamsMember.workspace) == workspace,
                    col(TeamsMember.conversation_id).in_(list(conversation_ids)),
                )
            )
            return set(rows)

    async def reach(self, workspace: str, user_id: str) -> Reach | None:
        async with self.db.reading() as session:
            row = await session.get(TeamsUser, (workspace, user_id))
        if row is None:
            return None
        return Reach(row.user_id, row.teams_id, row.service_url, row.conversation_id)

    async def user_for(self, workspace: str, teams_id: str) -> str | None:
        """The core user id (Entra object id) of a `29:` Teams id, if known."""
        async with self.db.reading() as session:
            query = select(col(TeamsUser.user_id)).where(
                col(TeamsUser.workspace) == workspace, col(TeamsUser.teams_id) == teams_id
            )
            return (await session.scalars(query)).first()

    async def set_conversation(self, workspace: str, user_id: str, conversation_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(TeamsUser)
                .where(col(TeamsUser.workspace) == workspace, col(TeamsUser.user_id) == user_id)
                .values(conversation_id=conversation_id)
            )

    async def record_sent(
        self, *, kind: str, row_id: int, user_id: str, activity_id: str, at: datetime
    ) -> None:
        statement = self._insert(TeamsSent.__table__).values(  # type: ignore[attr-defined]
            kind=kind, row_id=row_id, user_id=user_id, activity_id=activity_id, sent_at=at
        )
        async with self.db.transaction() as session:
            await session.execute(statement.on_conflict_do_nothing(index_elements=["kind", "row_id"]))

    async def sent(self, *, kind: str, row_id: int) -> str | None:
        """The activity id recorded for this outbox row, if its post was answered."""
        async with self.db.reading() as session:
            row = await session.get(TeamsSent, (kind, row_id))
        return row.activity_id if row is not None else None

    async def names(self, workspace: str, user_ids: Collection[str]) -> dict[str, str]:
        """The names people are shown by (a few ids: the askers and answerers of questions)."""
        wanted = sorted(set(user_ids))[:CHUNK]
        if not wanted:
            return {}
        async with self.db.reading() as session:
            rows = await session.execute(
                select(col(Person.user_id), col(Person.name), col(Person.email)).where(
                    col(Person.workspace) == workspace, col(Person.user_id).in_(wanted)
                )
            )
            return {user_id: name or email or user_id for user_id, name, email in rows}

    async def search_people(self, workspace: str, text: str, *, limit: int) -> list[tuple[str, str]]:
        """(name, user id) of active people whose name or email contains `text` (any case), by name:
        the announce form's typeahead."""
        query = select(col(Person.name), col(Person.email), col(Person.user_id)).where(
            col(Person.workspace) == workspace, col(Person.active), ~col(Person.is_bot)
        )
        wanted = text.strip().lower()
        if wanted:
            pattern = "%" + wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                or_(
                    func.lower(col(Person.name)).like(pattern, escape="\\"),
                    func.lower(col(Person.email)).like(pattern, escape="\\"),
                )
            )
        query = query.order_by(func.lower(col(Person.name)), col(Person.user_id)).limit(limit)
        async with self.db.reading() as session:
            rows = await session.execute(query)
            return [(name or email or user_id, user_id) for name, email, user_id in rows]

    async def bot_app_id(self, workspace: str) -> str | None:
        """The bot's app id as Teams addresses it in this tenant (`28:<app id>` in an install's reference)."""
        async with self.db.reading() as session:
            query = select(col(TeamsInstall.reference)).where(col(TeamsInstall.workspace) == workspace)
            reference = (await session.scalars(query.limit(1))).first()
        bot = (reference or {}).get("bot") or {}
        bot_id = str(bot.get("id") or "")
        return bot_id.removeprefix("28:") or None
