"""What one recipient is told: the change plus the expectations of every group they are in, merged."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.model import (
    AudienceGroup,
    Change,
    CustomerImpact,
    Expectation,
    announcement_for,
    group_mask,
    groups_in,
)


def change_with(*groups: AudienceGroup) -> Change:
    return Change(
        workspace="T1",
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="One view of each customer.",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 18),
        groups=list(groups),
        key="CHG-7",
        id=7,
    )


SALES = AudienceGroup("Sales", today="Log calls in a sheet", from_effective="Log calls in the CRM")
SUPPORT = AudienceGroup("Support", today="Email tickets", from_effective="Answer tickets in the CRM")
FINANCE = AudienceGroup("Finance", from_effective="Invoice from the CRM")
SALES_EMEA = AudienceGroup(
    "Sales EMEA", today="Log calls in a sheet ", from_effective=" Log calls in the CRM"
)


def test_a_person_in_two_groups_is_told_both_groups_expectations_in_group_order() -> None:
    change = change_with(SALES, SUPPORT, FINANCE)

    told = announcement_for(change, group_mask([2, 0]))

    assert told.expectations == (
        Expectation("Sales", "Log calls in a sheet", "Log calls in the CRM"),
        Expectation("Finance", "", "Invoice from the CRM"),
    )


def test_groups_asking_the_same_thing_are_said_once() -> None:
    change = change_with(SALES, SALES_EMEA, SUPPORT)

    told = announcement_for(change, 0b111)

    assert [item.group for item in told.expectations] == ["Sales", "Support"]


def test_groups_with_the_same_new_expectation_but_different_today_are_both_kept() -> None:
    other_today = AudienceGroup(
        "Inside sales", today="Log calls on paper", from_effective="Log calls in the CRM"
    )

    told = announcement_for(change_with(SALES, other_today), 0b11)

    assert [item.group for item in told.expectations] == ["Sales", "Inside sales"]


def test_the_announcement_carries_the_change_and_who_it_is_for() -> None:
    acknowledged = datetime(2026, 12, 3, 10, 2, tzinfo=UTC)
    change = change_with(SALES)

    told = announcement_for(change, 0b1, delivery_id=41, acknowledged_at=acknowledged)

    assert (told.change_key, told.title, told.what, told.why) == (
        "CHG-7",
        "New CRM",
        "We move to the new CRM.",
        "One view of each customer.",
    )
    assert (told.effective_date, told.ack_deadline, told.announcer_id) == (
        date(2026, 12, 14),
        date(2026, 12, 18),
        "UANN",
    )
    assert (told.delivery_id, told.acknowledged_at) == (41, acknowledged)


def test_group_masks_select_groups_by_position() -> None:
    groups = [SALES, SUPPORT, FINANCE]

    assert group_mask({0, 2}) == 0b101
    assert groups_in(0b101, groups) == [SALES, FINANCE]
    assert groups_in(0, groups) == []


def test_only_customer_facing_groups_are_told_what_to_tell_customers() -> None:
    facing = AudienceGroup("Support", from_effective="Answer tickets in the CRM", customer_facing=True)
    change = change_with(facing, FINANCE)
    change.customer_impact, change.customer_plan = CustomerImpact.DIRECT, "Tell them replies come faster."

    assert announcement_for(change, group_mask([0])).customer_briefing == "Tell them replies come faster."
    assert announcement_for(change, group_mask([0, 1])).customer_briefing == "Tell them replies come faster."
    assert announcement_for(change, group_mask([1])).customer_briefing == ""
    change.customer_impact = CustomerImpact.INDIRECT  # only a direct impact briefs anyone
    assert announcement_for(change, group_mask([0])).customer_briefing == ""
