"""`/change-status`: totals and per-group totals from the aggregate, who may see them, the progress bar."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from bot import copy
from bot.errors import NotAllowed, NotFound
from bot.model import AudienceGroup, Change, DeliveryState, Exclusion
from bot.ports import Excluded, PersonState, Recipient, TallyRow
from bot.status import Reporting, Totals, fold
from tests.bot.memory import MemoryChanges, MemoryDirectory

ANNOUNCER, ADMIN = "UANN", "UADMIN"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SALES = AudienceGroup("Sales", "Log calls in the CRM", user_ids=("UBOB", "UCAT"))
SUPPORT = AudienceGroup("Support", "Answer tickets in the CRM", user_ids=("UCAT", "UDAN", "UEVE"))


def new_change(*groups: AudienceGroup, workspace: str = "T1") -> Change:
    return Change(
        workspace=workspace,
        announcer_id=ANNOUNCER,
        title="New CRM",
        what="We move to the new CRM.",
        why="One view of each customer.",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 18),
        groups=list(groups),
    )


# --- folding the aggregate ------------------------------------------------------------------------


def test_a_person_in_two_groups_counts_in_each_group_and_once_in_the_totals() -> None:
    rows = [
        TallyRow(0b11, DeliveryState.DELIVERED, acknowledged=True, count=1),  # in both groups
        TallyRow(0b01, DeliveryState.DELIVERED, acknowledged=False, count=2),
        TallyRow(0b10, DeliveryState.QUEUED, acknowledged=False, count=1),
        TallyRow(0b10, DeliveryState.SENDING, acknowledged=False, count=1),
        TallyRow(0b10, DeliveryState.FAILED, acknowledged=False, count=1),
        TallyRow(0b01, DeliveryState.EXCLUDED, acknowledged=False, count=3),
    ]

    totals, (sales, support) = fold(new_change(SALES, SUPPORT), rows)

    assert totals == Totals(targeted=6, delivered=3, acknowledged=1, queued=2, failed=1, excluded=3)
    assert totals.pending == 4
    assert sales.name == "Sales"
    assert sales.totals == Totals(targeted=3, delivered=3, acknowledged=1, excluded=3)
    assert sales.totals.pending == 2
    assert support.name == "Support"
    assert support.totals == Totals(targeted=4, delivered=1, acknowledged=1, queued=2, failed=1)
    assert support.totals.pending == 2


def test_excluded_people_are_not_targeted_and_never_pending() -> None:
    totals, (group,) = fold(new_change(SALES), [TallyRow(0b1, DeliveryState.EXCLUDED, False, 4)])

    assert (totals.targeted, totals.excluded, totals.pending) == (0, 4, 0)
    assert (group.totals.targeted, group.totals.excluded, group.totals.pending) == (0, 4, 0)


def test_pending_is_targeted_less_acknowledged_less_failed() -> None:
    totals = Totals()
    for row in [
        TallyRow(0b1, DeliveryState.DELIVERED, True, 5),
        TallyRow(0b1, DeliveryState.DELIVERED, False, 3),
        TallyRow(0b1, DeliveryState.QUEUED, False, 2),
        TallyRow(0b1, DeliveryState.FAILED, False, 4),
    ]:
        totals.add(row)

    assert (totals.targeted, totals.acknowledged, totals.failed) == (14, 5, 4)
    assert totals.pending == 5


def test_a_change_with_no_deliveries_folds_to_zeros() -> None:
    totals, groups = fold(new_change(SALES, SUPPORT), [])

    assert totals == Totals()
    assert [group.totals for group in groups] == [Totals(), Totals()]


# --- the progress bar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done", "total", "bar"),
    [
        (0, 0, "░░░░░░░░░░ 0% (0/0)"),
        (3, 6, "▓▓▓▓▓░░░░░ 50% (3/6)"),
        (6, 6, "▓▓▓▓▓▓▓▓▓▓ 100% (6/6)"),
        (1, 3, "▓▓▓░░░░░░░ 33% (1/3)"),
    ],
)
def test_progress_bar(done: int, total: int, bar: str) -> None:
    assert copy.progress_bar(done, total) == bar


# --- Reporting ------------------------------------------------------------------------------------


@pytest.fixture
def reporting(changes: MemoryChanges) -> Reporting:
    return Reporting(workspace="T1", changes=changes, admins=(ADMIN,))


async def publish(changes: MemoryChanges, change: Change, *, draft_ref: str = "V1") -> Change:
    """Store and publish the change: Bob, Cat (in both groups), Dan and Eve; a bot excluded."""
    stored = await changes.save_draft(change, draft_ref=draft_ref, at=AT)
    recipients = [
        Recipient("UBOB", 0b01),
        Recipient("UCAT", 0b11),
        Recipient("UDAN", 0b10),
        Recipient("UEVE", 0b10),
    ]
    await changes.publish(stored, recipients, [Excluded("UBOT", 0b01, Exclusion.BOT)], at=AT)
    return stored


@pytest.fixture
async def published(changes: MemoryChanges, directory: MemoryDirectory) -> Change:
    for user_id, name in [("UBOB", "Bob"), ("UCAT", "Cat"), ("UDAN", "Dan"), ("UEVE", "Eve")]:
        directory.person(user_id, name=name)
    change = await publish(changes, new_change(SALES, SUPPORT))
    delivered = {"UBOB", "UCAT", "UDAN"}
    for row in changes.deliveries:
        if row.user_id in delivered:
            row.state, row.due_at = DeliveryState.DELIVERED, None
    changes.delivery("UCAT").acknowledged_at = AT
    failed = changes.delivery("UEVE")
    failed.state, failed.due_at, failed.last_error = DeliveryState.FAILED, None, "account_inactive"
    return change


async def test_the_announcer_sees_totals_groups_who_is_pending_and_who_could_not_be_reached(
    reporting: Reporting, published: Change
) -> None:
    status = await reporting.status(key=published.key, user_id=ANNOUNCER)

    assert status.totals == Totals(targeted=4, delivered=3, acknowledged=1, failed=1, excluded=1)
    assert status.totals.pending == 2
    assert [(group.name, group.totals.targeted, group.totals.acknowledged) for group in status.groups] == [
        ("Sales", 2, 1),
        ("Support", 3, 1),
    ]
    assert [person.name for person in status.pending] == ["Bob", "Dan"]
    assert status.failed == [PersonState("UEVE", "Eve", 0b10, DeliveryState.FAILED, "account_inactive")]


async def test_an_admin_sees_any_change_and_a_lower_case_key_works(
    reporting: Reporting, published: Change
) -> None:
    status = await reporting.status(key=published.key.lower(), user_id=ADMIN)

    assert status.change.key == published.key
    assert status.totals.targeted == 4


async def test_anyone_else_is_not_allowed_to_see_the_details(reporting: Reporting, published: Change) -> None:
    with pytest.raises(NotAllowed, match=copy.NOT_YOURS.format(key=published.key)):
        await reporting.status(key=published.key, user_id="UBOB")


@pytest.mark.parametrize("key", ["CHG-99", "nonsense", ""])
async def test_an_unknown_key_is_not_found(reporting: Reporting, published: Change, key: str) -> None:
    with pytest.raises(NotFound):
        await reporting.status(key=key, user_id=ADMIN)


async def test_a_change_of_another_workspace_is_not_found(
    reporting: Reporting, changes: MemoryChanges
) -> None:
    elsewhere = await publish(changes, new_change(SALES, workspace="T2"))

    with pytest.raises(NotFound):
        await reporting.status(key=elsewhere.key, user_id=ANNOUNCER)


async def test_the_overview_lists_the_users_own_changes_and_everything_for_an_admin(
    reporting: Reporting, changes: MemoryChanges, published: Change
) -> None:
    someone_elses = new_change(SALES)
    someone_elses.announcer_id = "UBOB"
    other = await publish(changes, someone_elses, draft_ref="V2")

    assert [summary.key for summary in await reporting.overview(user_id=ANNOUNCER)] == [published.key]
    assert [summary.key for summary in await reporting.overview(user_id=ADMIN)] == [other.key, published.key]
    (mine,) = await reporting.overview(user_id=ANNOUNCER)
    assert (mine.targeted, mine.acknowledged) == (4, 1)


async def test_people_asking_at_once_share_one_count_and_one_giving_up_does_not_stop_it(
    reporting: Reporting, changes: MemoryChanges, published: Change, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted, release = 0, asyncio.Event()
    tally = changes.tally

    async def slow_tally(change_id: int, *, manager_id: str | None = None) -> list[TallyRow]:
        nonlocal counted
        counted += 1
        await release.wait()
        return await tally(change_id, manager_id=manager_id)

    monkeypatch.setattr(changes, "tally", slow_tally)
    asking = [asyncio.create_task(reporting.status(key=published.key, user_id=u)) for u in (ANNOUNCER, ADMIN)]
    impatient = asyncio.create_task(reporting.status(key=published.key, user_id=ANNOUNCER))
    await asyncio.sleep(0.01)
    impatient.cancel()
    release.set()
    first, second = await asyncio.gather(*asking)
    assert counted == 1
    assert (
        first.totals == second.totals == Totals(targeted=4, delivered=3, acknowledged=1, failed=1, excluded=1)
    )

    again = await reporting.status(key=published.key, user_id=ANNOUNCER)  # a later question counts anew
    assert counted == 2 and again.totals == first.totals
