"""Typed console input to core inputs: dates, choices, audiences, commands; and how /advance cuts time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.console import organisation, translate
from adapters.console.directory import handle
from adapters.console.repl import MAX_STEPS, steps
from bot.model import CustomerImpact

TODAY = date(2026, 3, 2)
HANDLES = st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_an_iso_date_reads_as_itself(value: date) -> None:
    assert translate.day(f"  {value.isoformat()} ", today=TODAY) == value


@given(st.integers(min_value=0, max_value=9999), st.sampled_from(["", "d", "w"]))
def test_a_relative_date_counts_days_or_weeks_from_today(n: int, unit: str) -> None:
    days = n * 7 if unit == "w" else n
    assert translate.day(f"+{n}{unit}", today=TODAY) == TODAY + timedelta(days=days)


@given(st.text())
def test_any_text_is_a_date_none_or_unreadable(text: str) -> None:
    try:
        translate.day(text, today=TODAY)
    except translate.Unreadable as error:
        assert "2026-12-15" in str(error)


def test_words_for_dates() -> None:
    assert translate.day("", today=TODAY) is None
    assert translate.day("Tomorrow", today=TODAY) == TODAY + timedelta(days=1)
    with pytest.raises(translate.Unreadable):
        translate.day("next week", today=TODAY)


@pytest.mark.parametrize(
    ("typed", "impact"),
    [("", CustomerImpact.NONE), ("i", CustomerImpact.INDIRECT), (" DIRECT ", CustomerImpact.DIRECT)],
)
def test_customer_impact_by_word_or_first_letter(typed: str, impact: CustomerImpact) -> None:
    assert translate.impact(typed) is impact


@given(
    st.lists(HANDLES, min_size=1, max_size=5, unique=True),
    st.lists(HANDLES, min_size=1, max_size=3, unique=True),
    st.sampled_from([" ", ", ", ",", "  ,  "]),
)
def test_an_audience_names_people_and_groups(people: list[str], groups: list[str], sep: str) -> None:
    groups = [group for group in groups if group not in people] or ["nobody-else"]
    typed = sep.join([*people, *(f"@{group}" for group in groups), people[0]])
    chosen, handles = translate.audience(typed, people=set(people), groups=set(groups))
    assert chosen == people and handles == groups  # in the order typed, each once


@given(st.lists(HANDLES, min_size=1, max_size=4, unique=True))
def test_unknown_names_are_all_listed(unknown: list[str]) -> None:
    with pytest.raises(translate.Unreadable) as error:
        translate.audience(" ".join(unknown), people={"dana"}, groups={"support"})
    assert all(name in str(error.value) for name in unknown if name not in ("dana", "support"))


@given(st.from_regex(r"[a-z][a-z-]{0,15}", fullmatch=True), st.text(max_size=30))
def test_a_command_line_splits_into_name_and_argument(name: str, argument: str) -> None:
    command = translate.command(f"/{name.upper()} {argument}")
    assert command == translate.Command(name, argument.strip())


def test_a_line_without_a_slash_is_not_a_command() -> None:
    assert translate.command("hello") is None and translate.command("/") is None


@given(st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)))
def test_advance_steps_add_up_and_stay_few(total: timedelta) -> None:
    cut = steps(total, shortest=timedelta(seconds=60))
    assert sum(cut, timedelta()) == total and 1 <= len(cut) <= MAX_STEPS


def test_the_sample_organisation_is_coherent() -> None:
    members = organisation.sample()
    people = {member.person.user_id: member.person for member in members}
    assert len(people) == len(members) == 30
    assert all(p.manager_id in people for p in people.values() if p.manager_id)
    assert {handle(p.department) for p in people.values() if p.department} >= {"support", "sales", "finance"}
    assert any(not p.active for p in people.values())  # someone who left: shown as excluded on review
    assert sum(1 for p in people.values() if not p.manager_id) == 2  # the CEO, and a contractor
