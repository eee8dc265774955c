"""The capacity check and the customer-facing briefing on Teams, through the real HTTP app and the
connector fake, on SQLite and PostgreSQL: at publishing each recipient's manager gets one card asking
whether the team can do it by the effective date (Yes / Need help / No, each with a comment form on the
card); the answer reaches the announcer at once as a card of its own and shows in change-status; only
asked managers may answer. Customer-facing groups' cards say what to tell customers; the others' do not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import text

from adapters.teams import forms
from adapters.teams.capacity import CAPACITY_VERBS
from bot import copy
from bot.capacity import CapacityAnswer
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, ONCALL, TEAM, aad, announce, basics, install, seed
from tests.fakes.teams_connector import FakeConnector

MANAGERS = {"29:s1": "29:m1", "29:s2": "29:m1", "29:s3": "29:m1", "29:s4": "29:m2", "29:o5": "29:m2"}
PLAN = "Tell them weekend cover starts on 14 Dec; the number stays the same."
NO, YES = CAPACITY_VERBS[CapacityAnswer.NO], CAPACITY_VERBS[CapacityAnswer.YES]


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    options = {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}
    async with running(database_url, fake, clock, **options) as app:
        yield app


async def org_chart(realign: TeamsRealign, teams: FakeConnector) -> None:
    """The flow's tenant, and two managers who use Realign in their personal scope (not in the team)."""
    seed(teams)
    await install(realign, teams)
    for manager in ("29:m1", "29:m2"):
        teams.add_user(manager, name=f"Manager {manager[3:]}")
        await realign.teams.install(manager)
    async with realign.db.transaction() as session:
        for user, manager in MANAGERS.items():
            await session.execute(
                text("UPDATE person SET manager_id = :m WHERE user_id = :u"),
                {"m": teams.users[manager]["aadObjectId"], "u": teams.users[user]["aadObjectId"]},
            )


def capacity_cards(teams: FakeConnector, manager: str) -> list[dict]:
    return [c for c in teams.cards_to(manager) if "Can your team do this by" in str(c)]


async def test_managers_are_asked_once_and_their_answers_reach_the_announcer(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    await org_chart(realign, fake)
    await announce(realign, fake, capacity_check="true")
    announcer_cards = len(fake.cards_to(ANNOUNCER))  # the announce form: answered in place since
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
    await eventually(
        lambda: len(capacity_cards(fake, "29:m1")) == 1 and len(capacity_cards(fake, "29:m2")) == 1
    )
    await realign.settled()
    [asked] = capacity_cards(fake, "29:m1")
    assert "Can your team do this by 14 Dec 2026?" in str(asked) and "3 people (Support)" in str(asked)
    assert "2 people (Support, On-call)" in str(capacity_cards(fake, "29:m2")[0])
    assert [a["title"] for a in asked["actions"]] == ["Yes", "Need help", "No"]

    silent = await realign.teams.execute("29:m1", asked, verb=NO, inputs={"comment_no": "  "})
    assert copy.CAPACITY_COMMENT_NEEDED in str(silent.body["value"])  # a No says why
    assert "No" in str(silent.body["value"]["actions"])  # the answers stay on the card to try again
    nosy = await realign.teams.execute("29:s2", asked, verb=NO, inputs={"comment_no": "Not mine to say."})
    assert copy.CAPACITY_NOT_ASKED.format(key="CHG-1") in str(nosy.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM capacity_answer") == 0
    assert len(fake.cards_to(ANNOUNCER)) == announcer_cards  # nothing passed on

    said = await realign.teams.execute(
        "29:m1", asked, verb=NO, inputs={"comment_no": "Two of us are on leave that week."}
    )
    assert "You answered **No**" in str(said.body["value"])
    assert "Your answer went to Ann Announcer." in str(said.body["value"])
    no = str(fake.cards_to(ANNOUNCER)[-1])
    assert "⛔ Manager m1 answered **No**" in no and "Two of us are on leave that week." in no
    await realign.teams.execute("29:m2", capacity_cards(fake, "29:m2")[0], verb=YES)
    assert "Manager m2 answered **Yes**" in str(fake.cards_to(ANNOUNCER)[-1])
    assert len(fake.cards_to(ANNOUNCER)) == announcer_cards + 2

    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    status = str(realign.teams.last_card(ANNOUNCER))
    assert "Capacity check: 2 of 2 managers answered · Yes 1 · Need help 0 · No 1" in status
    assert "Manager m1: No: Two of us are on leave that week." in status
    assert await count(realign.db, "SELECT count(*) FROM notice WHERE kind = 'capacity'") == 2
    assert await count(realign.db, "SELECT count(*) FROM notice WHERE state = 'sent'") == 2
    assert len(capacity_cards(fake, "29:m1")) == 1 and len(capacity_cards(fake, "29:m2")) == 1


async def test_only_customer_facing_groups_are_told_what_to_tell_customers(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    await install(realign, fake)
    driver = realign.teams
    await driver.say(ANNOUNCER, "announce-change New on-call rota")
    form = driver.last_card(ANNOUNCER)
    assert any(f.get("id") == "customer_facing" for f in form["body"])
    facing = {
        "name": "Support",
        "channels": TEAM,
        "people": aad(fake, "29:s1"),
        "from_effective": "Answer pages at weekends too.",
        "customer_facing": "true",
        "more": "true",
    }
    direct = basics(customer_impact="direct", customer_plan=PLAN)
    step = await driver.execute(ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=direct | facing)
    second = step.body["value"]
    assert any(f.get("id") == "customer_facing" for f in second["body"])  # asked: customers are affected
    oncall = {
        "name": "On-call",
        "channels": ONCALL,
        "from_effective": "Hand over.",
        "customer_facing": "false",
    }
    review = await driver.execute(ANNOUNCER, second, verb=forms.GROUP_VERB, inputs=oncall)
    assert copy.WARN_NO_CUSTOMER_FACING not in str(review.body["value"])
    await driver.execute(ANNOUNCER, review.body["value"], verb=forms.PUBLISH_VERB)
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))

    for user in ("29:s1", "29:s2", "29:s4"):  # in Support (29:s4 in both groups)
        shown = str(fake.cards_to(user)[0])
        assert "What to tell customers" in shown and PLAN in shown
    for user in ("29:o5", "29:o6"):  # On-call only
        assert "What to tell customers" not in str(fake.cards_to(user)[0])
        assert PLAN not in str(fake.cards_to(user)[0])
    async with realign.db.engine.connect() as connection:
        marked = (
            await connection.execute(text("SELECT name FROM audience_group WHERE customer_facing"))
        ).all()
    assert [name for (name,) in marked] == ["Support"]
