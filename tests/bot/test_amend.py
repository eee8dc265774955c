"""Who an amendment asks again and whose DMs it updates (bot.amend), from the change before and after."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from bot.amend import Amendment, _check, amended, differences, reasked_mask, touched_mask
from bot.errors import InvalidInput
from bot.model import AudienceGroup, Change

TODAY = date(2026, 12, 1)


def change() -> Change:
    return Change(
        workspace="slack:T1",
        announcer_id="UANN",
        title="New rota",
        what="Support takes weekends.",
        why="Customers wait.",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 10),
        groups=[
            AudienceGroup("Support", "Answer pages at weekends.", "Weekdays only.", user_ids=("U1",)),
            AudienceGroup("On-call", "Hand over at 18:00.", user_ids=("U2",)),
        ],
        key="CHG-1",
        id=1,
    )


def form(before: Change, **changes: object) -> Amendment:
    expectations = tuple((g.today, g.from_effective) for g in before.groups)
    fields: dict[str, object] = {
        "what": before.what,
        "why": before.why,
        "effective_date": before.effective_date,
        "ack_deadline": before.ack_deadline,
        "expectations": expectations,
    }
    return Amendment(**(fields | changes))  # type: ignore[arg-type]


def test_a_groups_new_expectations_ask_that_group_again() -> None:
    before = change()
    after = amended(
        before,
        form(
            before,
            expectations=(("Weekdays only.", "Answer pages at weekends."), ("", "Hand over at 17:00.")),
        ),
    )
    assert reasked_mask(before, after) == 0b10 and touched_mask(before, after) == 0b10
    assert differences(before, after) == ("expectations of On-call",)


def test_whitespace_alone_asks_nobody_again() -> None:
    before = change()
    after = amended(
        before,
        form(
            before,
            expectations=(("Weekdays only. ", " Answer pages at weekends."), ("", "Hand over at 18:00.")),
        ),
    )
    assert reasked_mask(before, after) == 0 and differences(before, after) == ()


def test_a_moved_date_asks_everyone_again() -> None:
    before = change()
    after = amended(before, form(before, ack_deadline=date(2026, 12, 12)))
    assert reasked_mask(before, after) == 0b11 == touched_mask(before, after)
    assert differences(before, after) == ("acknowledge by 10 Dec 2026 → 12 Dec 2026",)


def test_a_reworded_why_updates_everyone_and_asks_nobody() -> None:
    before = change()
    after = amended(before, form(before, why="Weekend customers wait an hour."))
    assert reasked_mask(before, after) == 0 and touched_mask(before, after) == 0b11
    assert differences(before, after) == ("why",)


def test_a_date_left_as_it_was_may_have_passed_but_a_new_one_may_not() -> None:
    before = replace(change(), effective_date=TODAY - timedelta(days=3))
    _check(before, form(before, why="Clearer."), today=TODAY)  # the old effective date stays: fine
    with pytest.raises(InvalidInput) as refused:
        _check(before, form(before, effective_date=TODAY - timedelta(days=1)), today=TODAY)
    assert set(refused.value.errors) == {"effective_date"}


def test_empty_expectations_and_a_changed_group_count_are_refused() -> None:
    before = change()
    with pytest.raises(InvalidInput) as refused:
        _check(before, form(before, what=" ", expectations=(("", ""),)), today=TODAY)
    assert set(refused.value.errors) == {"what", "groups", "group_0"}
