"""The readiness check, rule by rule: each with a case that fires and one that does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot import copy, readiness
from bot.audience import Resolution
from bot.model import AudienceGroup, Change, CustomerImpact
from bot.ports import Recipient

TODAY = date(2026, 12, 1)


def change(
    *groups: AudienceGroup, effective: date = date(2026, 12, 14), deadline: date = date(2026, 12, 10)
) -> Change:
    return Change(
        workspace="T1",
        announcer_id="UANN",
        title="New CRM",
        what="Sales move to the new CRM.",
        why="One view of each customer.",
        effective_date=effective,
        ack_deadline=deadline,
        groups=list(groups),
    )


def group(name: str, from_effective: str, today: str = "") -> AudienceGroup:
    return AudienceGroup(name, from_effective=from_effective, today=today, user_ids=("U1",))


def audience(size: int) -> Resolution:
    return Resolution(recipients=[Recipient(f"U{n}", 1) for n in range(size)], per_group=[size])


@pytest.mark.parametrize(
    "text", ["CRM.", "The new CRM", "Sales and the CRM from now on", "Better customer focus overall"]
)
def test_expectations_too_vague_to_act_on_are_warned(text: str) -> None:
    assert readiness.is_vague(text)
    assert readiness.vague_groups([group("Sales", text)]) == [copy.WARN_VAGUE.format(group="Sales")]


@pytest.mark.parametrize(
    "text", ["Log every call in the CRM.", "You will answer weekend pages", "Hand over at 18:00."]
)
def test_expectations_that_say_what_to_do_are_not_vague(text: str) -> None:
    assert not readiness.is_vague(text)
    assert readiness.vague_groups([group("Sales", text)]) == []


def test_a_group_with_the_same_expectations_as_another_is_warned() -> None:
    sales = group("Sales", "Log calls in the CRM.", today="Log calls in a sheet")
    support = group("Support", "log calls in the CRM", today="Log calls in a sheet.")

    assert readiness.duplicate_groups([sales, support]) == [
        copy.WARN_DUPLICATE_GROUPS.format(group="Support", other="Sales")
    ]


def test_groups_that_differ_in_one_expectation_are_not_duplicates() -> None:
    sales = group("Sales", "Log calls in the CRM.", today="Log calls in a sheet")
    support = group("Support", "Log calls in the CRM.", today="Log calls on paper")

    assert readiness.duplicate_groups([sales, support]) == []


def test_people_in_two_groups_with_different_expectations_are_listed_to_confirm() -> None:
    both = change(group("Sales", "Log calls in the CRM."), group("Support", "Answer tickets in the CRM."))
    resolution = Resolution(
        recipients=[Recipient("UBOB", 0b01), Recipient("UCAT", 0b11), Recipient("UDAN", 0b10)],
        per_group=[2, 2],
    )

    assert readiness.overlapping(both, resolution) == ["UCAT"]
    assert copy.WARN_SEVERAL_GROUPS.format(count=1) in readiness.warnings(both, resolution, today=TODAY)


def test_people_in_two_groups_that_ask_the_same_are_not_listed() -> None:
    same = change(group("Sales", "Log calls in the CRM."), group("Sales EMEA", "Log calls in the CRM."))
    resolution = Resolution(recipients=[Recipient("UCAT", 0b11)], per_group=[1, 1])

    assert readiness.overlapping(same, resolution) == []
    assert readiness.in_several_groups([]) == []


@pytest.mark.parametrize(("size", "effective"), [(10, date(2026, 12, 3)), (800, date(2026, 12, 9))])
def test_an_effective_date_too_close_for_the_audience_size_is_warned(size: int, effective: date) -> None:
    soon = change(effective=effective, deadline=effective)

    days, needed = (effective - TODAY).days, readiness.lead_days_needed(size)
    assert readiness.too_soon(soon, audience=size, today=TODAY) == [
        copy.WARN_SOON.format(days=days, count=size, needed=needed)
    ]


@pytest.mark.parametrize(("size", "effective"), [(10, date(2026, 12, 4)), (800, date(2026, 12, 11))])
def test_enough_time_for_the_audience_size_is_not_warned(size: int, effective: date) -> None:
    assert readiness.too_soon(change(effective=effective), audience=size, today=TODAY) == []


def test_bigger_audiences_need_more_time() -> None:
    needed = [readiness.lead_days_needed(n) for n in (1, 49, 50, 499, 500, 4999, 5000, 100_000)]
    assert needed == sorted(needed) and needed[0] < needed[-1]


def test_a_deadline_after_the_effective_date_is_warned() -> None:
    late = change(effective=date(2026, 12, 14), deadline=date(2026, 12, 18))

    assert readiness.deadline_after_effective(late) == [
        copy.WARN_DEADLINE_AFTER.format(deadline="18 Dec 2026", effective="14 Dec 2026")
    ]


@pytest.mark.parametrize("deadline", [date(2026, 12, 10), date(2026, 12, 14)])
def test_a_deadline_on_or_before_the_effective_date_is_not_warned(deadline: date) -> None:
    assert readiness.deadline_after_effective(change(deadline=deadline)) == []


def test_a_well_prepared_change_passes_every_rule() -> None:
    prepared = change(group("Sales", "Log calls in the CRM.", today="Log calls in a sheet."))

    assert readiness.warnings(prepared, audience(1), today=TODAY) == []


def test_customers_directly_affected_with_no_customer_facing_group_are_warned() -> None:
    direct = change(group("Sales", "Log every call in the CRM."), group("Ops", "Ship orders by noon."))
    direct.customer_impact, direct.customer_plan = CustomerImpact.DIRECT, "Email every customer."

    assert readiness.no_customer_facing_group(direct) == [copy.WARN_NO_CUSTOMER_FACING]
    assert copy.WARN_NO_CUSTOMER_FACING in readiness.warnings(direct, audience(5), today=TODAY)


def test_a_customer_facing_group_or_no_direct_impact_is_not_warned() -> None:
    facing = change(group("Ops", "Ship orders by noon."))
    facing.groups.append(replace(group("Sales", "Log every call."), customer_facing=True))
    facing.customer_impact, facing.customer_plan = CustomerImpact.DIRECT, "Email every customer."
    indirect = change(group("Ops", "Ship orders by noon."))
    indirect.customer_impact = CustomerImpact.INDIRECT

    assert readiness.no_customer_facing_group(facing) == []
    assert readiness.no_customer_facing_group(indirect) == []
    assert readiness.no_customer_facing_group(change()) == []
