"""/change-status counts by team from the delivery rows: the team each recipient was in when the change
was published, without joining the directory (which may have changed since). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from bot.model import AudienceGroup, Change, DeliveryState, Exclusion
from bot.ports import BreakdownRow, Excluded, Recipient
from store.changes import SqlChangeStore
from store.db import Database
from store.people import SqlPeople
from tests.conftest import FakeClock

WORKSPACE = "slack:T1"


async def test_status_by_team_uses_the_team_as_at_publishing(db: Database, clock: FakeClock) -> None:
    await SqlPeople(db).ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    changes = SqlChangeStore(db)
    draft = Change(
        workspace=WORKSPACE,
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 21),
        groups=[AudienceGroup("Everyone", "Log calls in the CRM", user_ids=("U1", "U2", "U3", "U4"))],
    )
    change = await changes.save_draft(draft, draft_ref="V1", at=clock.now())
    assert change.id is not None
    recipients = [
        Recipient("U1", 1, "Sales", "UBOSS"),
        Recipient("U2", 1, "Sales", "UBOSS"),
        Recipient("U3", 1, "Support", "UOTHER"),
    ]
    gone = [Excluded("U4", 1, Exclusion.DEACTIVATED)]
    assert await changes.publish(change, recipients, gone, at=clock.now())

    assert sorted(await changes.breakdown(change.id), key=str) == [
        BreakdownRow("Sales", "UBOSS", targeted=2, acknowledged=0, failed=0),
        BreakdownRow("Support", "UOTHER", targeted=1, acknowledged=0, failed=0),
    ]
    mine = await changes.tally(change.id, manager_id="UBOSS")
    assert sum(row.count for row in mine if row.state is DeliveryState.QUEUED) == 2
    assert await changes.breakdown(change.id, manager_id="UOTHER") == [
        BreakdownRow("Support", "UOTHER", targeted=1, acknowledged=0, failed=0)
    ]
