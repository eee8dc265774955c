"""Bounded input: every limit refuses a case just outside it (inline, in words) and accepts one just inside;
the audience cap; failure reasons in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import copy
from bot.announce import (
    NAME_LIMIT,
    TEXT_LIMIT,
    TITLE_LIMIT,
    YEARS_AHEAD,
    Announcing,
    Basics,
    length,
    policy_from,
    validate_basics,
    validate_group,
)
from bot.durations import FOLLOW_UP_MAX, FOLLOW_UP_MIN, format_duration
from bot.errors import InvalidInput
from bot.model import AudienceGroup, Policy
from tests.bot.memory import MemoryChanges, MemoryDirectory
from tests.conftest import FakeClock

TODAY = date(2026, 12, 1)  # the `clock` fixture's date
ANNOUNCER = "UANN"
FORM = Basics(
    title="New CRM",
    what="Sales and support move to the new CRM.",
    why="One view of each customer.",
    effective_date=date(2026, 12, 14),
    ack_deadline=date(2026, 12, 18),
)
GROUP = AudienceGroup("Sales", from_effective="Log calls in the CRM", user_ids=("U1",))
IN_RANGE = copy.DURATION_RANGE.format(minimum="5s", maximum="90d")


def errors_for(form: Basics) -> dict[str, str]:
    try:
        validate_basics(form, today=TODAY)
    except InvalidInput as refused:
        return refused.errors
    return {}


def group_errors(group: AudienceGroup) -> dict[str, str]:
    try:
        validate_group(group)
    except InvalidInput as refused:
        return refused.errors
    return {}


# --- lengths -------------------------------------------------------------------------------------------


def test_a_title_fits_the_header_it_is_shown_in() -> None:
    assert errors_for(replace(FORM, title="x" * TITLE_LIMIT)) == {}
    assert errors_for(replace(FORM, title="x" * (TITLE_LIMIT + 1))) == {
        "title": copy.TOO_LONG.format(limit=TITLE_LIMIT)
    }
    assert len(copy.DM_HEADER.format(key="CHG-2147483647", title="x" * TITLE_LIMIT)) <= 150


def test_an_emoji_counts_as_slack_counts_it() -> None:
    assert length("😀") == 2
    assert errors_for(replace(FORM, title="😀" * (TITLE_LIMIT // 2))) == {}
    assert "title" in errors_for(replace(FORM, title="😀" * (TITLE_LIMIT // 2 + 1)))


@pytest.mark.parametrize("name", ["what", "why", "customer_plan"])
def test_long_texts_are_refused_just_past_their_limit(name: str) -> None:
    assert errors_for(replace(FORM, **{name: "x" * TEXT_LIMIT})) == {}
    assert errors_for(replace(FORM, **{name: "x" * (TEXT_LIMIT + 1)})) == {
        name: copy.TOO_LONG.format(limit=TEXT_LIMIT)
    }


def test_a_group_name_is_bounded() -> None:
    assert group_errors(replace(GROUP, name="n" * NAME_LIMIT)) == {}
    assert group_errors(replace(GROUP, name="n" * (NAME_LIMIT + 1))) == {
        "name": copy.TOO_LONG.format(limit=NAME_LIMIT)
    }


def test_both_expectations_may_be_as_long_as_the_limit() -> None:
    full = replace(GROUP, today="t" * TEXT_LIMIT, from_effective="f" * TEXT_LIMIT)
    assert group_errors(full) == {}
    assert group_errors(replace(full, today="t" * (TEXT_LIMIT + 1))) == {
        "today": copy.TOO_LONG.format(limit=TEXT_LIMIT)
    }


# --- dates -------------------------------------------------------------------------------------------


def test_dates_are_within_a_few_years() -> None:
    last = TODAY + timedelta(days=366 * YEARS_AHEAD)
    assert errors_for(replace(FORM, effective_date=last, ack_deadline=last)) == {}
    too_far = last + timedelta(days=1)
    assert errors_for(replace(FORM, ack_deadline=too_far)) == {
        "ack_deadline": copy.DATE_TOO_FAR.format(years=YEARS_AHEAD)
    }
    assert errors_for(replace(FORM, effective_date=date.max, ack_deadline=date.max)) == {
        "effective_date": copy.DATE_TOO_FAR.format(years=YEARS_AHEAD),
        "ack_deadline": copy.DATE_TOO_FAR.format(years=YEARS_AHEAD),
    }


# --- follow-up durations in the modal ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("4s", IN_RANGE),
        ("5s", None),
        ("90d", None),
        ("2160h", None),
        ("90d1s", IN_RANGE),
        ("3000000d", copy.BAD_DURATION),
        ("99999999999d", copy.BAD_DURATION),
        ("soon", copy.BAD_DURATION),
    ],
)
@pytest.mark.parametrize("name", ["remind_after", "escalate_after"])
def test_follow_up_durations_are_refused_inline_outside_their_range(
    name: str, text: str, error: str | None
) -> None:
    assert errors_for(replace(FORM, **{name: text})) == ({name: error} if error else {})


def test_the_range_is_named_in_the_message() -> None:
    assert IN_RANGE == "Choose from 5s to 90d."


@given(st.integers(int(FOLLOW_UP_MIN.total_seconds()), int(FOLLOW_UP_MAX.total_seconds())))
def test_the_modal_accepts_whatever_the_settings_may_hold(seconds: int) -> None:
    # The modal is pre-filled from REALIGN_REMIND_AFTER / REALIGN_ESCALATE_AFTER, which settings bound
    # with the same constants: whatever start-up accepted, the modal submits back unchanged.
    spelled = format_duration(timedelta(seconds=seconds))
    form = replace(FORM, remind_after=spelled, escalate_after=spelled)
    assert errors_for(form) == {}
    assert policy_from(form, Policy()).remind_after == timedelta(seconds=seconds)


# --- the audience cap ---------------------------------------------------------------------------------


def people(directory: MemoryDirectory, count: int, **fields: object) -> tuple[str, ...]:
    ids = tuple(f"U{n:03d}" for n in range(count))
    for user_id in ids:
        directory.person(user_id, **fields)
    return ids


def capped(changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock, cap: int) -> Announcing:
    return Announcing(workspace="T1", changes=changes, directory=directory, clock=clock, max_audience=cap)


async def add_group(announcing: Announcing, group: AudienceGroup, *, position: int = 0) -> str:
    change = await announcing.submit_basics(user_id=ANNOUNCER, draft_ref="V1", form=FORM)
    change = await announcing.submit_group(
        key=change.key, user_id=ANNOUNCER, draft_ref="V1", position=position, group=group
    )
    return change.key


async def test_an_audience_at_the_cap_is_accepted_and_one_more_is_refused_inline(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    announcing = capped(changes, directory, clock, cap=3)
    ids = people(directory, 4)
    key = await add_group(announcing, replace(GROUP, user_ids=ids[:3]))
    assert len((await announcing.review(key=key, user_id=ANNOUNCER)).resolution.recipients) == 3

    with pytest.raises(InvalidInput) as refused:
        await announcing.submit_group(
            key=key, user_id=ANNOUNCER, draft_ref="V1", position=0, group=replace(GROUP, user_ids=ids)
        )
    assert refused.value.errors == {"people": copy.AUDIENCE_TOO_LARGE.format(count=4, limit=3)}
    assert "at most 3" in refused.value.errors["people"]
    assert (await changes.get(key)).groups[0].user_ids == ids[:3]  # type: ignore[union-attr]


async def test_the_cap_counts_who_would_be_messaged_not_who_was_picked(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    announcing = capped(changes, directory, clock, cap=2)
    bots = people(directory, 5, is_bot=True)
    directory.person("UREAL1")
    directory.person("UREAL2")
    key = await add_group(announcing, replace(GROUP, user_ids=(*bots, "UREAL1", "UREAL2", ANNOUNCER)))
    assert (await announcing.publish(key=key, user_id=ANNOUNCER)).recipients == 2


async def test_an_audience_that_grew_past_the_cap_is_refused_at_review_and_publish(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    announcing = capped(changes, directory, clock, cap=3)
    directory.usergroup("S1", "support", *people(directory, 3))
    key = await add_group(announcing, replace(GROUP, user_ids=(), usergroup_ids=("S1",)))
    directory.person("UNEW")
    directory.usergroups["S1"][1].add("UNEW")  # someone joined the user group after the group step

    for step in (announcing.review, announcing.publish):
        with pytest.raises(InvalidInput) as refused:
            await step(key=key, user_id=ANNOUNCER)
        assert refused.value.errors == {"people": copy.AUDIENCE_TOO_LARGE.format(count=4, limit=3)}
    assert changes.deliveries == []


def test_the_default_cap_is_a_hundred_thousand(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    announcing = Announcing(workspace="T1", changes=changes, directory=directory, clock=clock)
    assert announcing.max_audience == 100_000


# --- failure reasons in words ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("account_inactive", "deactivated account"),
        ("messages_tab_disabled", "DMs turned off"),
        ("user_not_found", "not found"),
        ("channel_not_found", "not found"),
        ("cannot_dm_bot", "is a bot"),
        ("gave up after 5 attempts: internal_error", "could not be reached after 5 tries"),
        (
            "gave up after 12 attempts: connection failed: [Errno 111] Connection refused",
            "could not be reached after 12 tries",
        ),
        ("invalid_blocks", "could not be delivered"),
        ("internal error: KeyError", "could not be delivered"),
        ("", "could not be delivered"),
        (None, "could not be delivered"),
    ],
)
def test_failure_reasons_are_told_in_words(raw: str | None, words: str) -> None:
    assert copy.failure_reason(raw) == words


@given(st.text(max_size=80))
def test_no_raw_code_or_exception_name_is_ever_shown(raw: str) -> None:
    shown = copy.failure_reason(raw)
    assert shown in {*copy.FAILURE_REASONS.values(), copy.FAILED_OTHERWISE} or shown.startswith(
        "could not be reached after "
    )
