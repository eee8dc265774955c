"""Questions and concerns in the database: only a recipient asks, a repeated request asks once, answers
and resolutions are recorded with their audit events, open ones are counted; the schema of migration 0009
is the tables' (store/tables.py). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from bot.errors import NotFound
from bot.model import AudienceGroup, Change, Exclusion, MessageRef
from bot.ports import Excluded, Recipient
from bot.questions import QuestionKind, QuestionState
from store.changes import SqlChangeStore
from store.db import Database, parse_url
from store.migrate import config, upgrade
from store.people import SqlPeople
from store.questions import SqlQuestions
from store.tables import Question as QuestionRow
from tests.conftest import FakeClock, count

WORKSPACE = "slack:T1"


async def published(db: Database, clock: FakeClock) -> str:
    """CHG-1 delivered to U1 and U2 (U3 excluded), announced by UANN."""
    await SqlPeople(db).ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    changes = SqlChangeStore(db)
    draft = Change(
        workspace=WORKSPACE,
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 10),
        groups=[AudienceGroup("Everyone", "Log calls in the CRM", user_ids=("U1", "U2", "U3"))],
    )
    change = await changes.save_draft(draft, draft_ref="V1", at=clock.now())
    excluded = [Excluded("U3", 1, Exclusion.DEACTIVATED)]
    await changes.publish(change, [Recipient("U1", 1), Recipient("U2", 1)], excluded, at=clock.now())
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE delivery SET state = 'delivered', channel = 'D' || user_id, ts = '1.0', "
                "sent_at = :at WHERE state = 'queued'"
            ),
            {"at": clock.now()},
        )
    return change.key


async def test_a_recipient_asks_once_per_request_and_it_is_audited(db: Database, clock: FakeClock) -> None:
    key = await published(db, clock)
    store = SqlQuestions(db)

    asked = [
        await store.ask(
            workspace=WORKSPACE,
            change_key=key,
            user_id="U1",
            kind=QuestionKind.QUESTION,
            text="Bank holidays?",
            at=clock.now(),
            request_ref="view:V9",
        )
        for _ in range(2)
    ]

    assert asked[0] == asked[1] and asked[0].owner_id == "UANN" and asked[0].title == "New CRM"
    assert asked[0].thread == MessageRef("DU1", "1.0") and asked[0].state is QuestionState.OPEN
    assert await count(db, "SELECT count(*) FROM question") == 1
    assert await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'question.asked'") == 1
    assert await count(db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0


@pytest.mark.parametrize(
    ("workspace", "key", "user"),
    [
        (WORKSPACE, "CHG-1", "U3"),  # excluded: never sent it
        (WORKSPACE, "CHG-1", "UOTHER"),  # not targeted
        ("slack:T2", "CHG-1", "U1"),  # another workspace's change
        (WORKSPACE, "CHG-2", "U1"),
        (WORKSPACE, "CHG-x", "U1"),
    ],
)
async def test_only_a_recipient_of_the_change_may_ask(
    db: Database, clock: FakeClock, workspace: str, key: str, user: str
) -> None:
    await published(db, clock)
    with pytest.raises(NotFound):
        await SqlQuestions(db).ask(
            workspace=workspace,
            change_key=key,
            user_id=user,
            kind=QuestionKind.QUESTION,
            text="?",
            at=clock.now(),
            request_ref="r1",
        )
    assert await count(db, "SELECT count(*) FROM question") == 0


async def test_answers_and_resolutions_are_recorded_and_open_ones_counted(
    db: Database, clock: FakeClock
) -> None:
    key = await published(db, clock)
    store = SqlQuestions(db)
    common = {"workspace": WORKSPACE, "change_key": key, "at": clock.now()}
    question = await store.ask(**common, user_id="U1", kind=QuestionKind.QUESTION, text="Q", request_ref="a")
    concern = await store.ask(**common, user_id="U2", kind=QuestionKind.CONCERN, text="C", request_ref="b")
    assert (await store.open_questions(question.change_id, limit=1))[1] == 2

    await store.posted(question.id, MessageRef("DUANN", "2.0"))
    answered = await store.answer(question.id, user_id="UANN", text="A", at=clock.advance(minutes=5))
    assert (answered.state, answered.answer, answered.answered_by) == (QuestionState.ANSWERED, "A", "UANN")
    assert answered.posted == MessageRef("DUANN", "2.0")
    await store.answer(concern.id, user_id="UANN", text="Let's talk", at=clock.now())
    shown, total = await store.open_questions(question.change_id, limit=10)
    assert total == 1 and [q.id for q in shown] == [concern.id]  # an answered concern stays open

    resolved = await store.resolve(concern.id, user_id="UANN", at=clock.now())
    again = await store.resolve(concern.id, user_id="UANN", at=clock.advance(minutes=1))
    later = await store.answer(concern.id, user_id="UANN", text="Done", at=clock.now())
    assert resolved.state is again.state is later.state is QuestionState.RESOLVED
    assert (await store.open_questions(question.change_id, limit=10))[1] == 0
    assert await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'concern.resolved'") == 1
    with pytest.raises(NotFound):
        await store.get(question.id, workspace="slack:T2")


async def test_a_typed_reply_is_about_its_thread_or_the_latest_announcement(
    db: Database, clock: FakeClock
) -> None:
    key = await published(db, clock)
    store = SqlQuestions(db)

    assert await store.replied_to(workspace=WORKSPACE, user_id="U1", thread=MessageRef("DU1", "1.0")) == key
    assert await store.replied_to(workspace=WORKSPACE, user_id="U1", thread=None) == key
    assert await store.replied_to(workspace=WORKSPACE, user_id="U3", thread=None) is None  # excluded
    assert await store.replied_to(workspace="slack:T2", user_id="U1", thread=None) is None


def test_migration_0009_creates_the_question_table_as_declared(bare_database_url: str) -> None:
    upgrade(bare_database_url, "0009")
    engine = create_engine(parse_url(bare_database_url, sync=True))
    try:
        found = inspect(engine)
        columns = {c["name"]: c["nullable"] for c in found.get_columns("question")}
        indexes = {i["name"] for i in found.get_indexes("question")}
        uniques = [tuple(u["column_names"]) for u in found.get_unique_constraints("question")]
    finally:
        engine.dispose()
    table = QuestionRow.__table__  # type: ignore[attr-defined]
    assert columns == {c.name: c.nullable for c in table.columns}
    assert indexes >= {index.name for index in table.indexes}
    assert ("request_ref",) in uniques or "ix_question_request_ref" in indexes

    command.downgrade(config(bare_database_url), "0008")  # and back down
    engine = create_engine(parse_url(bare_database_url, sync=True))
    try:
        assert "question" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
