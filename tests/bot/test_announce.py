"""Declaring a change: each step's checks, readiness warnings, and basics -> groups -> review -> publish."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from bot import copy
from bot.announce import (
    TEXT_LIMIT,
    TITLE_LIMIT,
    Announcing,
    Basics,
    readiness_warnings,
    validate_basics,
    validate_group,
)
from bot.audience import Resolution
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.model import AudienceGroup, Change, ChangeState, CustomerImpact, DeliveryState, Exclusion
from bot.ports import Excluded, Recipient
from tests.bot.memory import MemoryChanges, MemoryDirectory
from tests.conftest import FakeClock

TODAY = date(2026, 12, 1)  # the `clock` fixture's date (09:00 UTC)
ANNOUNCER = "UANN"
WORKSPACE = "T1"

FORM = Basics(
    title="New CRM",
    what="Sales and support move to the new CRM.",
    why="One view of each customer.",
    effective_date=date(2026, 12, 14),
    ack_deadline=date(2026, 12, 10),  # before the effective date: the common case
)
SALES = AudienceGroup(
    "Sales", today="Log calls in a sheet", from_effective="Log calls in the CRM", user_ids=("UBOB", "UCAT")
)
SUPPORT = AudienceGroup("Support", from_effective="Answer tickets in the CRM", usergroup_ids=("S1",))


def basics(**changed: object) -> Basics:
    return replace(FORM, **changed)  # type: ignore[arg-type]


def refusal(check: Callable[..., None], *args: object, **kwargs: object) -> dict[str, str]:
    """The fields (and what to fix) that `check` names when it refuses its input."""
    with pytest.raises(InvalidInput) as refused:
        check(*args, **kwargs)
    return refused.value.errors


# --- the basics step ------------------------------------------------------------------------------


def test_complete_basics_are_accepted() -> None:
    validate_basics(FORM, today=TODAY)
    validate_basics(basics(effective_date=TODAY, ack_deadline=TODAY, why=""), today=TODAY)
    validate_basics(basics(customer_impact=CustomerImpact.INDIRECT), today=TODAY)
    validate_basics(basics(what="x" * TEXT_LIMIT), today=TODAY)
    validate_basics(basics(ack_deadline=date(2026, 12, 2)), today=TODAY)  # well before it takes effect
    validate_basics(basics(ack_deadline=date(2026, 12, 20)), today=TODAY)  # after: only a warning


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (basics(title=""), {"title": copy.REQUIRED}),
        (basics(title="   "), {"title": copy.REQUIRED}),
        (basics(what=""), {"what": copy.REQUIRED}),
        (basics(effective_date=None), {"effective_date": copy.REQUIRED}),
        (basics(ack_deadline=None), {"ack_deadline": copy.REQUIRED}),
        (basics(effective_date=date(2026, 11, 30)), {"effective_date": copy.DATE_PAST}),
        (basics(ack_deadline=date(2026, 11, 30)), {"ack_deadline": copy.DATE_PAST}),
        (basics(customer_impact=CustomerImpact.DIRECT), {"customer_plan": copy.CUSTOMER_PLAN_NEEDED}),
        (
            basics(customer_impact=CustomerImpact.DIRECT, customer_plan="  "),
            {"customer_plan": copy.CUSTOMER_PLAN_NEEDED},
        ),
        (basics(title="x" * (TITLE_LIMIT + 1)), {"title": copy.TOO_LONG.format(limit=TITLE_LIMIT)}),
        (basics(what="x" * (TEXT_LIMIT + 1)), {"what": copy.TOO_LONG.format(limit=TEXT_LIMIT)}),
        (basics(why="x" * (TEXT_LIMIT + 1)), {"why": copy.TOO_LONG.format(limit=TEXT_LIMIT)}),
    ],
    ids=[
        "no title",
        "blank title",
        "no what",
        "no effective date",
        "no deadline",
        "effective date passed",
        "deadline passed",
        "direct customer impact without plan",
        "direct customer impact with blank plan",
        "title too long",
        "what too long",
        "why too long",
    ],
)
def test_basics_name_the_field_to_fix(form: Basics, errors: dict[str, str]) -> None:
    assert refusal(validate_basics, form, today=TODAY) == errors


def test_every_problem_in_the_basics_is_named_at_once() -> None:
    form = basics(title="", what="", effective_date=date(2026, 11, 1), ack_deadline=None)

    assert refusal(validate_basics, form, today=TODAY) == {
        "title": copy.REQUIRED,
        "what": copy.REQUIRED,
        "effective_date": copy.DATE_PAST,
        "ack_deadline": copy.REQUIRED,
    }


# --- the audience group step ----------------------------------------------------------------------


def test_a_group_with_people_and_a_new_expectation_is_accepted() -> None:
    validate_group(SALES)
    validate_group(AudienceGroup("", from_effective="Read the wiki", channel_ids=("C1",)))


def test_a_group_without_anyone_selected_names_people() -> None:
    assert refusal(validate_group, AudienceGroup("Sales", from_effective="Log calls")) == {
        "people": copy.NO_AUDIENCE
    }


@pytest.mark.parametrize("blank", ["", "  \n "])
def test_a_group_without_a_new_expectation_names_from_effective(blank: str) -> None:
    assert refusal(validate_group, replace(SALES, from_effective=blank)) == {
        "from_effective": copy.EXPECTATIONS_EMPTY
    }


def test_over_long_expectations_name_their_field() -> None:
    too_long = "x" * (TEXT_LIMIT + 1)
    assert refusal(validate_group, replace(SALES, today=too_long, from_effective=too_long)) == {
        "today": copy.TOO_LONG.format(limit=TEXT_LIMIT),
        "from_effective": copy.TOO_LONG.format(limit=TEXT_LIMIT),
    }


# --- readiness warnings (review) ------------------------------------------------------------------


def change_from(form: Basics = FORM, *groups: AudienceGroup) -> Change:
    assert form.effective_date and form.ack_deadline
    return Change(
        workspace=WORKSPACE,
        announcer_id=ANNOUNCER,
        title=form.title,
        what=form.what,
        why=form.why,
        effective_date=form.effective_date,
        ack_deadline=form.ack_deadline,
        customer_impact=form.customer_impact,
        customer_plan=form.customer_plan,
        groups=list(groups or (SALES,)),
    )


NOBODY_LEFT_OUT = Resolution(recipients=[Recipient("UBOB", 1)], per_group=[1])


def test_a_well_prepared_change_has_no_warnings() -> None:
    assert readiness_warnings(change_from(), NOBODY_LEFT_OUT, today=TODAY) == []


def test_no_reason_given_is_warned() -> None:
    assert readiness_warnings(change_from(basics(why=" ")), NOBODY_LEFT_OUT, today=TODAY) == [
        copy.WARN_NO_WHY
    ]


@pytest.mark.parametrize(("effective", "days"), [(date(2026, 12, 1), 0), (date(2026, 12, 3), 2)])
def test_a_change_taking_effect_within_three_days_is_warned(effective: date, days: int) -> None:
    change = change_from(basics(effective_date=effective, ack_deadline=TODAY))

    assert readiness_warnings(change, NOBODY_LEFT_OUT, today=TODAY) == [
        copy.WARN_SOON.format(days=days, count=1, needed=3)
    ]


def test_three_days_ahead_is_soon_enough() -> None:
    change = change_from(basics(effective_date=date(2026, 12, 4), ack_deadline=date(2026, 12, 3)))

    assert readiness_warnings(change, NOBODY_LEFT_OUT, today=TODAY) == []


@pytest.mark.parametrize("impact", [CustomerImpact.INDIRECT, CustomerImpact.DIRECT])
def test_customer_impact_without_a_plan_is_warned(impact: CustomerImpact) -> None:
    change = change_from(basics(customer_impact=impact))

    assert readiness_warnings(change, NOBODY_LEFT_OUT, today=TODAY) == [copy.WARN_CUSTOMERS]
    planned = change_from(basics(customer_impact=impact, customer_plan="Email them on the 10th"))
    # A direct impact also asks who briefs customers (bot.readiness.no_customer_facing_group).
    briefed = [] if impact is CustomerImpact.INDIRECT else [copy.WARN_NO_CUSTOMER_FACING]
    assert readiness_warnings(planned, NOBODY_LEFT_OUT, today=TODAY) == briefed


def test_a_group_whose_today_reads_like_its_from_is_warned_by_name() -> None:
    same = AudienceGroup(
        "Ops", today="Deploy on Fridays ", from_effective="deploy on fridays", user_ids=("U1",)
    )
    nothing_today = AudienceGroup("Finance", from_effective="Invoice from the CRM", user_ids=("U2",))

    warnings = readiness_warnings(change_from(FORM, SALES, same, nothing_today), NOBODY_LEFT_OUT, today=TODAY)

    assert warnings == [copy.WARN_SAME_EXPECTATIONS.format(group="Ops")]


def test_excluded_accounts_are_counted_by_reason() -> None:
    resolution = Resolution(
        recipients=[Recipient("UBOB", 1)],
        excluded=[
            Excluded("UBOT", 1, Exclusion.BOT),
            Excluded("USLACKBOT", 1, Exclusion.BOT),
            Excluded("UGONE", 1, Exclusion.DEACTIVATED),
        ],
        per_group=[1],
    )

    assert readiness_warnings(change_from(), resolution, today=TODAY) == [
        copy.WARN_EXCLUDED.format(count=3, reasons="2 a bot or app, 1 deactivated")
    ]


# --- the use case ---------------------------------------------------------------------------------


@pytest.fixture
def directory(directory: MemoryDirectory) -> MemoryDirectory:
    directory.person(ANNOUNCER, tz="Europe/London")
    for user_id in ("UBOB", "UCAT", "UDAN", "ULEAD"):
        directory.person(user_id)
    directory.person("UBOT", is_bot=True)
    directory.person("UGONE", active=False)
    directory.usergroup("S1", "support", "UCAT", "UDAN")
    directory.usergroup("S9", "leads", "ULEAD")
    return directory


@pytest.fixture
def published() -> list[str]:
    return []


def announcing_for(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock, *, announcers: tuple[str, ...] = ()
) -> Announcing:
    return Announcing(
        workspace=WORKSPACE, changes=changes, directory=directory, clock=clock, announcers=announcers
    )


@pytest.fixture
def announcing(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock, published: list[str]
) -> Announcing:
    return Announcing(
        workspace=WORKSPACE,
        changes=changes,
        directory=directory,
        clock=clock,
        on_published=lambda: published.append("woken"),
    )


async def declare(announcing: Announcing, *groups: AudienceGroup, form: Basics = FORM) -> Change:
    """Fill in the basics and each audience group, as the modal does, one step after another."""
    change = await announcing.submit_basics(user_id=ANNOUNCER, draft_ref="V1", form=form)
    for position, group in enumerate(groups):
        change = await announcing.submit_group(
            key=change.key, user_id=ANNOUNCER, draft_ref="V1", position=position, group=group
        )
    return change


async def test_with_no_announcers_configured_everyone_may_announce(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    await announcing_for(changes, directory, clock).check_may_announce(user_id="UBOB")


async def test_a_listed_user_id_may_announce(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    await announcing_for(changes, directory, clock, announcers=("UBOB", "@leads")).check_may_announce(
        user_id="UBOB"
    )


@pytest.mark.parametrize("handle", ["@leads", "leads", "S9"])
async def test_a_member_of_a_listed_user_group_may_announce(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock, handle: str
) -> None:
    await announcing_for(changes, directory, clock, announcers=("UBOB", handle)).check_may_announce(
        user_id="ULEAD"
    )


async def test_anyone_else_is_told_they_are_not_an_announcer(
    changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    announcing = announcing_for(changes, directory, clock, announcers=("UBOB", "@leads"))

    with pytest.raises(NotAllowed, match=copy.NOT_AN_ANNOUNCER):
        await announcing.check_may_announce(user_id="UCAT")
    with pytest.raises(NotAllowed):
        await announcing.submit_basics(user_id="UCAT", draft_ref="V1", form=FORM)
    assert changes.stored == {}


async def test_declare_review_and_publish_a_change(
    announcing: Announcing, changes: MemoryChanges, clock: FakeClock, published: list[str]
) -> None:
    change = await declare(announcing, SALES, SUPPORT)
    assert (change.key, change.state) == ("CHG-1", ChangeState.DRAFT)
    assert [group.name for group in change.groups] == ["Sales", "Support"]

    review = await announcing.review(key=change.key, user_id=ANNOUNCER)
    assert review.resolution.per_group == [2, 2]
    assert review.warnings == [copy.WARN_SEVERAL_GROUPS.format(count=1)]  # UCAT: both groups' tasks
    assert review.overlapping == ["UCAT"]
    assert review.preview is not None
    assert [item.group for item in review.preview.expectations] == ["Sales", "Support"]

    clock.advance(minutes=5)
    outcome = await announcing.publish(key=change.key, user_id=ANNOUNCER)

    assert (outcome.first, outcome.recipients) == (True, 3)
    assert published == ["woken"]
    stored = await changes.get("CHG-1")
    assert stored is not None
    assert (stored.state, stored.published_at) == (ChangeState.PUBLISHED, clock.now())
    assert {(row.user_id, row.group_mask, row.state) for row in changes.deliveries} == {
        ("UBOB", 0b01, DeliveryState.QUEUED),
        ("UCAT", 0b11, DeliveryState.QUEUED),
        ("UDAN", 0b10, DeliveryState.QUEUED),
    }
    assert {row.due_at for row in changes.deliveries} == {clock.now()}


async def test_publishing_twice_sends_nothing_more(
    announcing: Announcing, changes: MemoryChanges, clock: FakeClock, published: list[str]
) -> None:
    change = await declare(announcing, SALES)
    await announcing.publish(key=change.key, user_id=ANNOUNCER)
    first_time = clock.now()

    clock.advance(minutes=1)
    again = await announcing.publish(key=change.key, user_id=ANNOUNCER)

    assert again.first is False
    assert len(changes.deliveries) == 2
    assert published == ["woken"]
    stored = await changes.get(change.key)
    assert stored is not None and stored.published_at == first_time


async def test_excluded_accounts_get_a_delivery_row_that_says_why(
    announcing: Announcing, changes: MemoryChanges
) -> None:
    change = await declare(announcing, replace(SALES, user_ids=("UBOB", "UBOT", ANNOUNCER)))

    review = await announcing.review(key=change.key, user_id=ANNOUNCER)
    await announcing.publish(key=change.key, user_id=ANNOUNCER)

    assert review.warnings in (  # two reasons, one each: either order
        [copy.WARN_EXCLUDED.format(count=2, reasons="1 the announcer, 1 a bot or app")],
        [copy.WARN_EXCLUDED.format(count=2, reasons="1 a bot or app, 1 the announcer")],
    )
    assert {(row.user_id, row.state, row.last_error) for row in changes.deliveries} == {
        ("UBOB", DeliveryState.QUEUED, None),
        ("UBOT", DeliveryState.EXCLUDED, "a bot or app"),
        (ANNOUNCER, DeliveryState.EXCLUDED, "the announcer"),
    }


async def test_a_group_that_resolves_to_nobody_messageable_is_refused_on_people(
    announcing: Announcing, changes: MemoryChanges
) -> None:
    change = await announcing.submit_basics(user_id=ANNOUNCER, draft_ref="V1", form=FORM)
    nobody = replace(SALES, user_ids=(ANNOUNCER, "UBOT", "UGONE", "UNKNOWN"))

    with pytest.raises(InvalidInput) as refused:
        await announcing.submit_group(
            key=change.key, user_id=ANNOUNCER, draft_ref="V1", position=0, group=nobody
        )

    assert refused.value.errors == {"people": copy.AUDIENCE_EMPTY}
    stored = await changes.get(change.key)
    assert stored is not None and stored.groups == []


async def test_an_unnamed_group_is_named_after_its_position(announcing: Announcing) -> None:
    change = await declare(announcing, SALES, replace(SUPPORT, name="  "))

    assert [group.name for group in change.groups] == ["Sales", "Group 2"]


async def test_resubmitting_a_group_step_replaces_that_group(announcing: Announcing) -> None:
    change = await declare(announcing, SALES)

    change = await announcing.submit_group(
        key=change.key, user_id=ANNOUNCER, draft_ref="V1", position=0, group=SUPPORT
    )

    assert [group.name for group in change.groups] == ["Support"]


async def test_resubmitting_the_basics_updates_the_same_draft(
    announcing: Announcing, changes: MemoryChanges
) -> None:
    first = await announcing.submit_basics(user_id=ANNOUNCER, draft_ref="V1", form=FORM)
    second = await announcing.submit_basics(
        user_id=ANNOUNCER, draft_ref="V1", form=basics(title="  Newer CRM ")
    )

    assert second.key == first.key
    assert [change.title for change in changes.stored.values()] == ["Newer CRM"]


async def test_only_the_announcer_may_work_on_their_draft(announcing: Announcing) -> None:
    change = await declare(announcing, SALES)

    with pytest.raises(NotAllowed):
        await announcing.review(key=change.key, user_id="UBOB")
    with pytest.raises(NotAllowed):
        await announcing.publish(key=change.key, user_id="UBOB")
    with pytest.raises(NotFound):
        await announcing.review(key="CHG-99", user_id=ANNOUNCER)


async def test_a_change_of_another_workspace_is_not_found(
    announcing: Announcing, changes: MemoryChanges, directory: MemoryDirectory, clock: FakeClock
) -> None:
    elsewhere = Announcing(workspace="T2", changes=changes, directory=directory, clock=clock)
    change = await declare(elsewhere, SALES)

    with pytest.raises(NotFound):
        await announcing.publish(key=change.key, user_id=ANNOUNCER)
    assert changes.deliveries == []


# --- the announcer's calendar ---------------------------------------------------------------------


async def test_today_is_the_date_where_the_announcer_is(
    announcing: Announcing, directory: MemoryDirectory, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    directory.person("UKIWI", tz="Pacific/Auckland")
    directory.person("UHAWAII", tz="Pacific/Honolulu")
    directory.person("UNOWHERE", tz="Mars/Olympus_Mons")

    assert await announcing.today_for("UKIWI") == date(2026, 12, 2)
    assert await announcing.today_for("UHAWAII") == date(2026, 12, 1)
    assert await announcing.today_for("UNOWHERE") == date(2026, 12, 1)  # unknown zone: UTC
    assert await announcing.today_for("USTRANGER") == date(2026, 12, 1)  # not in the directory: UTC


async def test_a_date_that_is_still_today_in_utc_has_passed_for_an_announcer_in_auckland(
    announcing: Announcing, directory: MemoryDirectory, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    directory.person("UKIWI", tz="Pacific/Auckland")
    form = basics(effective_date=date(2026, 12, 1), ack_deadline=date(2026, 12, 4))

    with pytest.raises(InvalidInput) as refused:
        await announcing.submit_basics(user_id="UKIWI", draft_ref="V2", form=form)
    assert refused.value.errors == {"effective_date": copy.DATE_PAST}

    change = await announcing.submit_basics(user_id="UBOB", draft_ref="V3", form=form)  # UTC: still today
    assert change.effective_date == date(2026, 12, 1)


# --- a scheduled publish: the day and time where the announcer is --------------------------------------

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_publish_day_and_time_are_read_in_the_announcers_zone() -> None:
    form = replace(FORM, publish_on=date(2026, 12, 3), publish_time=time(8, 30))

    assert validate_basics(form, today=TODAY, now=NOW, tz="Europe/Paris") == datetime(
        2026, 12, 3, 7, 30, tzinfo=UTC
    )
    assert validate_basics(replace(form, publish_time=None), today=TODAY, now=NOW, tz=None) == datetime(
        2026, 12, 3, 9, 0, tzinfo=UTC
    )  # a day alone publishes at 09:00
    assert validate_basics(FORM, today=TODAY, now=NOW) is None  # nothing chosen: publish at review


@pytest.mark.parametrize(
    ("on", "at", "errors"),
    [
        (None, time(9), {"publish_on": copy.PUBLISH_TIME_NEEDS_DATE}),
        (date(2026, 12, 1), time(8, 59), {"publish_time": copy.PUBLISH_PAST}),
        (date(2026, 12, 15), None, {"publish_on": copy.PUBLISH_AFTER_EFFECTIVE}),
    ],
)
def test_a_publish_moment_that_cannot_be_is_refused_on_its_field(
    on: date | None, at: time | None, errors: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_basics(replace(FORM, publish_on=on, publish_time=at), today=TODAY, now=NOW, tz="UTC")
    assert refused.value.errors == errors
