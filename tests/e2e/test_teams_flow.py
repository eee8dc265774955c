"""The whole Teams flow through the real HTTP app, on SQLite and PostgreSQL: install in a team (roster
paged, a private channel with its own members) -> announce-change by card (a refusal on the card) ->
review -> publish -> one card each -> acknowledge (one twice) -> change-status."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from copy import deepcopy
from typing import Any

import pytest_asyncio
from sqlalchemy import text

from adapters.teams import cards, forms
from bot import copy
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.fakes.teams_connector import FakeConnector

TEAM = "19:support-team@thread.tacv2"
ONCALL = "19:oncall-private@thread.tacv2"
ANNOUNCER = "29:ann"
SUPPORT = [f"29:s{n}" for n in range(1, 5)]  # the team (General): the announcer and four people
ONCALL_MEMBERS = ["29:s4", "29:o5", "29:o6"]  # the private channel: s4 is in both groups
EVERYONE = sorted(set(SUPPORT + ONCALL_MEMBERS))


def seed(teams: FakeConnector, *, extra: int = 0) -> None:
    """The tenant: a team of the announcer, SUPPORT and `extra` more; a private channel of ONCALL_MEMBERS."""
    teams.add_user(ANNOUNCER, name="Ann Announcer")
    for user in EVERYONE:
        teams.add_user(user, name=f"Person {user[3:]}")
    more = teams.add_users(extra, prefix="29:x-")
    teams.add_team(TEAM, [ANNOUNCER, *SUPPORT, *more], name="Support")
    teams.add_private_channel(ONCALL, TEAM, ONCALL_MEMBERS, name="On-call")


def aad(teams: FakeConnector, *users: str) -> str:
    """The ids Realign knows people by (Entra object ids), as a ChoiceSet answer."""
    return ",".join(teams.users[user]["aadObjectId"] for user in users)


def basics(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "New on-call rota",
        "what": "Support takes weekend on-call.",
        "why": "Customers wait too long at weekends.",
        "effective_date": "2026-12-14",
        "ack_deadline": "2026-12-21",
        "customer_impact": "indirect",
        "customer_plan": "",
    } | overrides


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    async with running(database_url, fake, clock) as app:
        yield app


async def install(realign: TeamsRealign, teams: FakeConnector) -> None:
    answer = await realign.teams.install(ANNOUNCER, conversation_id=TEAM)
    assert answer.status == 200
    await realign.teams.install(ANNOUNCER)  # and in the announcer's personal scope


async def announce(
    realign: TeamsRealign,
    teams: FakeConnector,
    *,
    sizes: tuple[int, int, int] = (4, 3, 6),
    before_publish: Callable[[], None] = lambda: None,
    **fields: Any,
) -> str:
    """Fill the announce card (refused once on the card), review (`sizes`: the groups' head counts and
    everyone's), publish; returns the change key."""
    driver = realign.teams
    assert (await driver.say(ANNOUNCER, "announce-change New on-call rota")).status == 200
    form = driver.last_card(ANNOUNCER)
    assert next(f for f in form["body"] if f.get("id") == "title")["value"] == "New on-call rota"
    group = {
        "name": "Support",
        "channels": TEAM,
        "people": aad(teams, "29:s1"),
        "today": "Weekdays only.",
        "from_effective": "Answer pages at weekends too.",
        "more": "true",
    }
    changes = await count(realign.db, "SELECT count(*) FROM change")
    refused = await driver.execute(  # a date already past is refused (today is 2026-12-01)
        ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=basics(ack_deadline="2026-11-30") | group
    )
    assert refused.status == 200 and refused.body["statusCode"] == 200
    assert copy.DATE_PAST in str(refused.body["value"]["body"])  # said on the card, beside the fields
    assert await count(realign.db, "SELECT count(*) FROM change") == changes  # nothing saved
    step = await driver.execute(ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=basics(**fields) | group)
    second = step.body["value"]
    assert "audience group 2" in second["body"][0]["text"]
    review = await driver.execute(
        ANNOUNCER,
        second,
        verb=forms.GROUP_VERB,
        inputs={"name": "On-call", "channels": ONCALL, "from_effective": "Hand over at 18:00."},
    )
    summary = str(review.body["value"]["body"])
    after = str(fields.get("ack_deadline", basics()["ack_deadline"])) > str(
        fields.get("effective_date", basics()["effective_date"])
    )
    assert ("after the change takes effect" in summary) is after  # a readiness warning, never a refusal
    assert f"**Support**: {sizes[0]} people" in summary and f"**On-call**: {sizes[1]} people" in summary
    assert f"{sizes[2]} people in all" in summary
    before_publish()
    published = await driver.execute(ANNOUNCER, review.body["value"], verb=forms.PUBLISH_VERB)
    assert f"sending to {sizes[2]} people" in str(published.body["value"])
    return "CHG-1"


async def test_install_announce_deliver_acknowledge_and_report(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake, extra=0)
    await install(realign, fake)
    assert await count(realign.db, "SELECT count(*) FROM teams_install WHERE kind = 'channel'") == 2
    assert (
        await count(realign.db, "SELECT count(*) FROM teams_member WHERE conversation_id = :c", c=ONCALL) == 3
    )
    key = await announce(realign, fake, ack_deadline="2026-12-10")  # before the effective date: accepted
    async with realign.db.engine.connect() as connection:
        dates = (await connection.execute(text("SELECT effective_date, ack_deadline FROM change"))).one()
    assert [str(d)[:10] for d in dates] == ["2026-12-14", "2026-12-10"]

    await eventually(lambda: all(len(fake.cards_to(user)) == 1 for user in EVERYONE))
    await realign.settled()
    assert len(fake.cards_to(ANNOUNCER)) >= 1  # its own form and answers only: no announcement card
    assert not any("Acknowledge" in str(c.get("actions")) for c in fake.cards_to(ANNOUNCER))
    both = str(fake.cards_to("29:s4")[0])
    assert "Answer pages at weekends too." in both and "Hand over at 18:00." in both
    assert "Hand over" not in str(fake.cards_to("29:s1")[0])
    assert fake.call_count("create_conversation") == len(EVERYONE)  # one 1:1 per person, then kept

    as_delivered = {user: deepcopy(fake.cards_to(user)[0]) for user in EVERYONE}
    for user in ("29:s1", "29:s2", "29:s3", "29:s1"):  # s1 clicks twice, both on the card as delivered
        answer = await realign.teams.execute(user, as_delivered[user], verb=cards.ACK_VERB)
        assert answer.status == 200
        assert answer.body["type"] == cards.CONTENT_TYPE and "Acknowledged" in str(answer.body["value"])
    await eventually(
        lambda: all("Acknowledged" in str(fake.cards_to(u)[0]) for u in ("29:s1", "29:s2", "29:s3"))
    )
    assert len(fake.activities_to("29:s1")) == 1  # updated in place, not posted again
    assert "Acknowledged" not in str(fake.cards_to("29:s4")[0])
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 3
    assert (
        await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.acknowledged'") == 3
    )

    await realign.teams.say(ANNOUNCER, f"change-status {key}")
    status = str(realign.teams.last_card(ANNOUNCER))
    assert "Delivered 6 · Acknowledged 3 · Pending 3 · Failed 0" in status
    await realign.teams.say(ANNOUNCER, "<at>Realign</at> change-status", conversation_id=TEAM)
    overview = str(fake.activities_in(TEAM)[-1])
    assert "CHG-1" in overview and "50% (3/6)" in overview
