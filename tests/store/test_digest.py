"""Digests in the database: a slot's digest is claimed once (of claimers racing, one gets it), taken over
only once its lease has run out (and then marked as possibly posted), never again once posted, and
held after a refusal; the changes a digest reports, with their totals and open questions, are the
workspace's own. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from bot.digest import DigestChange
from bot.model import AudienceGroup, Change, ChangeState, Exclusion, MessageRef
from bot.ports import Excluded, Recipient
from bot.questions import QuestionKind
from store.changes import SqlChangeStore
from store.db import Database
from store.deliveries import SqlDeliveryQueue
from store.digest import SqlDigests
from store.followup import SqlFollowUp
from store.people import SqlPeople
from store.questions import SqlQuestions
from tests.conftest import FakeClock, count

WORKSPACE, OTHER = "slack:T1", "slack:T2"
WHERE = "slack:T1/C1"
SLOT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday
SINCE = SLOT - timedelta(days=7)
LEASE = timedelta(minutes=2)


async def test_a_slot_is_claimed_once_taken_over_after_its_lease_and_never_once_posted(
    db: Database, clock: FakeClock
) -> None:
    digests = SqlDigests(db)

    first = await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE)
    assert first is not None and not first.taken_over and first.lease_until == clock.now() + LEASE
    assert await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE) is None
    other_place = await digests.claim(slot=SLOT, destination="slack:T1/C2", now=clock.now(), lease=LEASE)
    assert other_place is not None and not other_place.taken_over  # each destination has its own
    assert await digests.state(slot=SLOT, destination=WHERE) == "claimed"

    clock.advance(seconds=119)
    assert await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE) is None
    clock.advance(seconds=1)
    again = await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE)
    assert again is not None and again.taken_over  # the first may have posted: look before posting

    await digests.posted(again, ref=MessageRef("C1", "1700000000.000100"), at=clock.now())
    await digests.posted(first, ref=MessageRef("C1", "1700000000.000100"), at=clock.now())  # no-op
    clock.advance(days=1)
    assert await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE) is None
    assert await digests.state(slot=SLOT, destination=WHERE) == "posted"
    assert await digests.state(slot=SLOT + timedelta(days=7), destination=WHERE) is None
    assert await count(db, "SELECT count(*) FROM digest_post WHERE ref = 'C1/1700000000.000100'") == 1
    assert await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'digest.posted'") == 1


async def test_a_held_claim_waits_until_told(db: Database, clock: FakeClock) -> None:
    digests = SqlDigests(db)
    claim = await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE)
    assert claim is not None

    await digests.hold(claim, until=clock.now() + timedelta(hours=1))

    clock.advance(minutes=59)
    assert await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE) is None
    clock.advance(minutes=1)
    assert await digests.claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE) is not None


async def test_of_processes_racing_for_a_slot_exactly_one_gets_it(
    database_url: str, clock: FakeClock
) -> None:
    processes = [Database(database_url) for _ in range(4)]  # an engine each, as separate processes have
    try:
        for taken_over in (False, True):  # a new slot, then the same slot once its lease ran out
            got = await asyncio.gather(
                *(
                    SqlDigests(db).claim(slot=SLOT, destination=WHERE, now=clock.now(), lease=LEASE)
                    for db in processes
                    for _ in range(3)
                )
            )
            claims = [claim for claim in got if claim is not None]
            assert len(claims) == 1 and claims[0].taken_over is taken_over
            clock.advance(minutes=3)
    finally:
        for db in processes:
            await db.close()


async def change(
    db: Database,
    ref: str,
    *,
    published: datetime | None,
    effective: date,
    workspace: str = WORKSPACE,
    users: tuple[str, ...] = ("U1", "U2", "U3"),
) -> Change:
    """A change to `users` (U3 excluded), published at `published` (None: left a draft), delivered."""
    changes = SqlChangeStore(db)
    draft = Change(
        workspace=workspace,
        announcer_id="UANN",
        title=f"Change {ref}",
        what="Something changes.",
        why="",
        effective_date=effective,
        ack_deadline=effective,
        groups=[AudienceGroup("Everyone", "Do it", user_ids=users)],
    )
    saved = await changes.save_draft(draft, draft_ref=ref, at=SINCE - timedelta(days=30))
    if published is None:
        return saved
    recipients = [Recipient(user, 1) for user in users if user != "U3"]
    excluded = [Excluded("U3", 1, Exclusion.DEACTIVATED)] if "U3" in users else []
    await changes.publish(saved, recipients, excluded, at=published)
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE delivery SET state = 'delivered', channel = 'D' || user_id, ts = '1.0' "
                "WHERE state = 'queued' AND change_id = :c"
            ),
            {"c": saved.id},
        )
    return saved


async def acknowledge(db: Database, key: str, user: str, at: datetime) -> None:
    changes = SqlChangeStore(db)
    delivery = await count(
        db, "SELECT id FROM delivery WHERE change_id = :c AND user_id = :u", c=int(key[4:]), u=user
    )
    await SqlDeliveryQueue(db, changes).acknowledge(
        delivery_id=delivery, user_id=user, at=at, workspace=WORKSPACE
    )


async def test_a_digest_reports_the_workspaces_changes_of_its_window_with_their_totals(
    db: Database, clock: FakeClock
) -> None:
    people = SqlPeople(db)
    for key in (WORKSPACE, OTHER):
        await people.ensure_workspace(key=key, platform="slack", name=key, at=clock.now())
    announced = await change(db, "V1", published=SINCE + timedelta(days=2), effective=date(2026, 12, 21))
    coming = await change(db, "V2", published=SINCE - timedelta(days=20), effective=date(2026, 12, 10))
    assert coming.id is not None
    await SqlFollowUp(db, SqlChangeStore(db)).close(coming.id, actor="UANN", at=SLOT - timedelta(days=1))
    later = await change(db, "V3", published=SLOT + timedelta(minutes=30), effective=date(2026, 12, 31))
    await change(db, "V4", published=None, effective=date(2026, 12, 10))  # a draft: never shown
    await change(db, "V5", published=SINCE, effective=date(2026, 12, 10), workspace=OTHER)
    old_closed = await change(db, "V6", published=SINCE - timedelta(days=1), effective=date(2026, 12, 1))
    assert old_closed.id is not None
    await SqlFollowUp(db, SqlChangeStore(db)).close(old_closed.id, actor="UANN", at=SINCE)
    await acknowledge(db, announced.key, "U1", SLOT)
    questions = SqlQuestions(db)
    for n, (user, kind) in enumerate(
        [("U1", QuestionKind.CONCERN), ("U2", QuestionKind.QUESTION), ("U2", QuestionKind.QUESTION)]
    ):
        await questions.ask(
            workspace=WORKSPACE,
            change_key=announced.key,
            user_id=user,
            kind=kind,
            text="Really?",
            at=SLOT,
            request_ref=f"r{n}",
        )

    found = await SqlDigests(db).changes(
        workspace=WORKSPACE, since=SINCE, until=SLOT, effective=(date(2026, 12, 7), date(2026, 12, 14))
    )

    by_key = {c.key: c for c in found}
    assert sorted(by_key) == sorted([announced.key, coming.key, later.key])
    assert by_key[announced.key] == DigestChange(
        key=announced.key,
        title="Change V1",
        announcer_id="UANN",
        state=ChangeState.PUBLISHED,
        published_at=SINCE + timedelta(days=2),
        effective_date=date(2026, 12, 21),
        targeted=2,
        acknowledged=1,
        open_questions=2,
        open_concerns=1,
    )
    assert by_key[coming.key].state is ChangeState.CLOSED and by_key[coming.key].targeted == 2
    assert by_key[later.key].open_questions == 0 and by_key[later.key].acknowledged == 0
