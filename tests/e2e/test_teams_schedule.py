"""Scheduled publish on Teams, through the real HTTP app and the connector fake, on SQLite and PostgreSQL:
the announce card takes a day and time in the announcer's time zone (their Teams client's), refuses a
moment passed on the card, and its Schedule answer says when the change goes out, with Publish now and
Cancel publishing; at its moment it is published once; cancelled, never; published now, at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import text

from adapters.teams import capacity, forms
from bot import copy
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, actions_of, fake, find_action, running  # noqa: F401
from tests.e2e.test_slack_schedule import ticked
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, ONCALL, TEAM, aad, basics, install, seed
from tests.fakes.teams_connector import FakeConnector

AT_ELEVEN = {"publish_on": "2026-12-01", "publish_time": "11:00"}  # Paris: 10:00 UTC; the clock: 09:00


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    options = {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}
    async with running(database_url, fake, clock, **options) as app:
        yield app


def support(teams: FakeConnector, **more: str) -> dict[str, str]:
    return {
        "name": "Support",
        "channels": TEAM,
        "people": aad(teams, "29:s1"),
        "from_effective": "Answer pages at weekends too.",
        "more": "true",
    } | more


ONCALL_GROUP = {"name": "On-call", "channels": ONCALL, "from_effective": "Hand over at 18:00."}


async def opened(realign: TeamsRealign, teams: FakeConnector) -> dict[str, Any]:
    """The announcer (in Europe/Paris, as their Teams client says) opens the announce card."""
    teams.timezones[ANNOUNCER] = "Europe/Paris"
    seed(teams)
    await install(realign, teams)
    await realign.teams.say(ANNOUNCER, "announce-change New on-call rota")
    return realign.teams.last_card(ANNOUNCER)


async def to_review(
    realign: TeamsRealign,
    teams: FakeConnector,
    form: dict[str, Any],
    **fields: str,
) -> dict[str, Any]:
    """The basics (`fields`) with the Support group, then the On-call group: the review card."""
    driver = realign.teams
    step = await driver.execute(
        ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=basics(**fields) | support(teams)
    )
    second = step.body["value"]
    assert "audience group 2" in str(second["body"][0])
    assert "customer_facing" not in str(second)  # customers are not directly affected: not asked
    review = await driver.execute(ANNOUNCER, second, verb=forms.GROUP_VERB, inputs=ONCALL_GROUP)
    return review.body["value"]


async def scheduled(realign: TeamsRealign, teams: FakeConnector) -> dict[str, Any]:
    """CHG-1 scheduled for 11:00 Paris time; returns the card the Schedule action answered with."""
    review = await to_review(realign, teams, await opened(realign, teams), **AT_ELEVEN)
    assert "Publishes 1 Dec 2026 11:00 (Europe/Paris)" in str(review["body"])
    assert find_action(review, forms.PUBLISH_VERB)["title"] == copy.SCHEDULE
    answer = await realign.teams.execute(ANNOUNCER, review, verb=forms.PUBLISH_VERB)
    return answer.body["value"]


def cards_to_everyone(teams: FakeConnector) -> list[int]:
    return [len(teams.cards_to(user)) for user in EVERYONE]


async def test_a_scheduled_change_is_published_once_at_its_moment(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    driver = realign.teams
    form = await opened(realign, fake)
    past = basics(publish_on="2026-12-01", publish_time="09:30") | support(fake)  # 08:30 UTC: gone
    refused = await driver.execute(ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=past)
    assert copy.PUBLISH_PAST in str(refused.body["value"])  # said on the card, as on Slack
    no_day = await driver.execute(
        ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=basics(publish_time="11:00") | support(fake)
    )
    assert copy.PUBLISH_TIME_NEEDS_DATE in str(no_day.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM change") == 0

    review = await to_review(realign, fake, form, **AT_ELEVEN)
    assert "Publishes 1 Dec 2026 11:00 (Europe/Paris)" in str(review["body"])
    card = (await driver.execute(ANNOUNCER, review, verb=forms.PUBLISH_VERB)).body["value"]

    said = str(card["body"])
    assert "CHG-1 is scheduled: it publishes 1 Dec 2026 11:00 (Europe/Paris)" in said
    verbs = [a.get("verb") for a in actions_of(card)]
    assert verbs == [capacity.PUBLISH_NOW_VERB, capacity.CANCEL_SCHEDULE_VERB]
    async with realign.db.engine.connect() as connection:
        state, at = (await connection.execute(text("SELECT state, publish_at FROM change"))).one()
    assert state == "scheduled" and str(at)[:16] == "2026-12-01 10:00"
    await driver.say(ANNOUNCER, "change-status CHG-1")
    status = driver.last_card(ANNOUNCER)
    assert "Scheduled to publish 1 Dec 10:00 UTC" in str(status)
    assert {capacity.PUBLISH_NOW_VERB, capacity.CANCEL_SCHEDULE_VERB} <= {
        a.get("verb") for a in actions_of(status)
    }

    clock.advance(minutes=59)
    await ticked(realign)
    assert cards_to_everyone(fake) == [0] * len(EVERYONE)

    clock.advance(minutes=1)
    await eventually(lambda: cards_to_everyone(fake) == [1] * len(EVERYONE))
    await realign.settled()
    clock.advance(hours=1)  # later ticks find nothing more to publish
    await ticked(realign)
    await realign.settled()
    assert cards_to_everyone(fake) == [1] * len(EVERYONE)
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == 6


async def test_the_announcer_cancels_a_scheduled_publish_and_nobody_else_can(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    card = await scheduled(realign, fake)

    nosy = await realign.teams.execute("29:s1", card, verb=capacity.CANCEL_SCHEDULE_VERB)
    assert "only the announcer" in str(nosy.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'scheduled'") == 1
    done = await realign.teams.execute(ANNOUNCER, card, verb=capacity.CANCEL_SCHEDULE_VERB)
    assert copy.SCHEDULE_CANCELLED.format(key="CHG-1") in str(done.body["value"])
    again = await realign.teams.execute(ANNOUNCER, card, verb=capacity.PUBLISH_NOW_VERB)
    assert copy.NOT_SCHEDULED.format(key="CHG-1") in str(again.body["value"])  # cancelled stays so

    clock.advance(hours=2)
    await ticked(realign)
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'cancelled'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery") == 0
    assert cards_to_everyone(fake) == [0] * len(EVERYONE)


async def test_publish_now_sends_at_once_and_the_moment_sends_nothing_more(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    card = await scheduled(realign, fake)

    done = await realign.teams.execute(ANNOUNCER, card, verb=capacity.PUBLISH_NOW_VERB)

    assert copy.PUBLISHED.format(key="CHG-1", count=6) in str(done.body["value"])
    await eventually(lambda: cards_to_everyone(fake) == [1] * len(EVERYONE))
    await realign.settled()
    clock.advance(hours=2)  # past the moment: the tick finds it published
    await ticked(realign)
    await realign.settled()
    assert cards_to_everyone(fake) == [1] * len(EVERYONE)
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1
