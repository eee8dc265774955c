"""The digests in the database: one `digest_post` row per slot and destination, and the query behind
what a digest reports.

A claim is two statements in one transaction, atomic on PostgreSQL and SQLite alike: `INSERT … ON
CONFLICT DO NOTHING RETURNING` takes a slot nobody has claimed (of several processes racing, one inserts;
on PostgreSQL the others wait for its commit and insert nothing), else an `UPDATE … WHERE state =
'claimed' AND lease_until <= now RETURNING` takes over a claim whose lease has run out (PostgreSQL
re-checks the condition after a concurrent update, so again one wins). SQLite has one writer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from bot.digest import DigestChange, DigestClaim
from bot.model import ChangeState, DeliveryState, MessageRef
from bot.questions import QuestionKind
from store import audit
from store.db import Database
from store.questions import OPEN
from store.tables import Change, Delivery, DigestPost, Question

DIGEST = DigestPost.__table__  # type: ignore[attr-defined]
CLAIMED, POSTED = "claimed", "posted"


class SqlDigests:
    """Implements `bot.digest.DigestStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def claim(
        self, *, slot: datetime, destination: str, now: datetime, lease: timedelta
    ) -> DigestClaim | None:
        until = now + lease
        fresh = (
            self._insert(DIGEST)
            .values(slot=slot, destination=destination, state=CLAIMED, lease_until=until)
            .on_conflict_do_nothing(index_elements=["slot", "destination"])
            .returning(DIGEST.c.slot)
        )
        expired = (
            update(DIGEST)
            .where(DIGEST.c.slot == slot, DIGEST.c.destination == destination)
            .where(DIGEST.c.state == CLAIMED, DIGEST.c.lease_until <= now)
            .values(lease_until=until)
            .returning(DIGEST.c.slot)
        )
        async with self.db.transaction() as session:
            if (await session.execute(fresh)).first() is not None:
                return DigestClaim(slot, destination, until, taken_over=False)
            if (await session.execute(expired)).first() is not None:
                return DigestClaim(slot, destination, until, taken_over=True)
        return None

    async def posted(self, claim: DigestClaim, *, ref: MessageRef, at: datetime) -> None:
        done = (
            update(DIGEST)
            .where(DIGEST.c.slot == claim.slot, DIGEST.c.destination == claim.destination)
            .where(DIGEST.c.state == CLAIMED)
            .values(state=POSTED, posted_at=at, lease_until=None, ref=f"{ref.conversation}/{ref.id}")
        )
        async with self.db.transaction() as session:
            if (await session.execute(done)).rowcount != 1:  # type: ignore[attr-defined]
                return  # recorded already (a claim that took over found it)
            posted = audit.event(
                "digest.posted",
                actor="realign",
                at=at,
                slot=claim.slot.isoformat(),
                destination=claim.destination,
                channel=ref.conversation,
                ts=ref.id,
            )
            await audit.write(session, [posted])

    async def hold(self, claim: DigestClaim, *, until: datetime) -> None:
        held = (
            update(DIGEST)
            .where(DIGEST.c.slot == claim.slot, DIGEST.c.destination == claim.destination)
            .where(DIGEST.c.state == CLAIMED, DIGEST.c.lease_until == claim.lease_until)
            .values(lease_until=until)
        )
        async with self.db.transaction() as session:
            await session.execute(held)

    async def note(self, *, slot: datetime, destination: str, ref: str | None) -> None:
        """Write what a poster knows of a claimed digest's post into its `ref` before it is marked posted
        (adapters.teams.digest: a post in flight, its activity id, or None: nothing was posted)."""
        noted = (
            update(DIGEST)
            .where(DIGEST.c.slot == slot, DIGEST.c.destination == destination, DIGEST.c.state == CLAIMED)
            .values(ref=ref)
        )
        async with self.db.transaction() as session:
            await session.execute(noted)

    async def noted(self, *, slot: datetime, destination: str) -> str | None:
        """The slot's `ref` as recorded so far (None: nothing recorded)."""
        query = select(DIGEST.c.ref).where(DIGEST.c.slot == slot, DIGEST.c.destination == destination)
        async with self.db.reading() as session:
            return await session.scalar(query)

    async def state(self, *, slot: datetime, destination: str) -> str | None:
        query = select(DIGEST.c.state).where(DIGEST.c.slot == slot, DIGEST.c.destination == destination)
        async with self.db.reading() as session:
            return await session.scalar(query)

    async def changes(
        self, *, workspace: str, since: datetime, until: datetime, effective: tuple[date, date]
    ) -> list[DigestChange]:
        live = col(Change.state).in_([ChangeState.PUBLISHED, ChangeState.CLOSED])
        shown = and_(
            col(Change.workspace) == workspace,
            or_(
                col(Change.state) == ChangeState.PUBLISHED,
                and_(live, col(Change.published_at) > since, col(Change.published_at) <= until),
                and_(
                    live,
                    col(Change.effective_date) >= effective[0],
                    col(Change.effective_date) < effective[1],
                ),
            ),
        )
        ids = select(col(Change.id)).where(shown)
        changes = select(
            col(Change.id),
            col(Change.title),
            col(Change.announcer_id),
            col(Change.state),
            col(Change.published_at),
            col(Change.effective_date),
        ).where(shown)
        tallies = (
            select(
                col(Delivery.change_id),
                func.count(col(Delivery.id)).filter(col(Delivery.state) != DeliveryState.EXCLUDED),
                func.count(col(Delivery.acknowledged_at)),
            )
            .where(col(Delivery.change_id).in_(ids))
            .group_by(col(Delivery.change_id))
        )
        asked = (
            select(col(Question.change_id), col(Question.kind), func.count())
            .where(col(Question.change_id).in_(ids), OPEN)
            .group_by(col(Question.change_id), col(Question.kind))
        )
        async with self.db.reading() as session:
            rows = (await session.execute(changes)).all()
            counts: dict[Any, tuple[int, int]] = {
                change_id: (t, a) for change_id, t, a in (await session.execute(tallies)).all()
            }
            questions: dict[tuple[Any, str], int] = {
                (c, kind): n for c, kind, n in (await session.execute(asked)).all()
            }
        return [
            DigestChange(
                key=f"CHG-{change_id}",
                title=title,
                announcer_id=announcer,
                state=ChangeState(state),
                published_at=published,
                effective_date=effective_date,
                targeted=int(counts.get(change_id, (0, 0))[0]),
                acknowledged=int(counts.get(change_id, (0, 0))[1]),
                open_questions=int(questions.get((change_id, QuestionKind.QUESTION), 0)),
                open_concerns=int(questions.get((change_id, QuestionKind.CONCERN), 0)),
            )
            for change_id, title, announcer, state, published, effective_date in rows
        ]
