"""The capacity check and the customer-facing briefing end to end through the Slack fake, on SQLite and
PostgreSQL: at publishing each recipient's manager is asked once whether the team can do it by the
effective date; a No reaches the announcer at once as its own DM, a Yes too, and status shows both; only
asked managers may answer. Customer-facing groups' DMs carry what to tell customers; the others' do not."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_follow_up import org_chart
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, basics, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import checked, chosen, conversations, options, typed, users


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}


async def answer(realign: Realign, manager: str, action_id: str, comment: str) -> dict[str, Any]:
    """`manager` clicks an answer on their capacity check and sends the comment form."""
    asked = realign.slack.slack.dms_to(manager)[0]
    assert (await realign.slack.click(manager, asked, action_id=action_id)).status == 200
    form = realign.slack.open_view()
    assert realign.slack.views[form]["callback_id"] == "realign.capacity"
    return await realign.slack.submit(manager, form, {"comment": typed(comment)})


async def test_managers_are_asked_once_and_their_answers_reach_the_announcer_at_once(
    realign: Realign, slack: FakeSlack
) -> None:
    await org_chart(realign, slack)
    await announce(realign, capacity_check=checked("yes"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))

    await eventually(lambda: len(slack.dms_to("UM1")) == 1 and len(slack.dms_to("UM2")) == 1)
    asked = str(slack.dms_to("UM1")[0]["blocks"])
    assert "Can your team do this by 14 Dec 2026?" in asked and "3 people (Support)" in asked
    assert "Need help" in asked and slack.dms_to(ANNOUNCER) == []

    said = await answer(realign, "UM1", "realign.capacity_no", "Two of us are on leave that week.")

    assert "Your answer went to <@UANN>" in str(said["view"])
    no = slack.dms_to(ANNOUNCER)[-1]
    assert ":no_entry: <@UM1> answered *No*" in str(no["blocks"])
    assert "Two of us are on leave that week." in str(no["blocks"])
    await answer(realign, "UM2", "realign.capacity_yes", "")
    assert len(slack.dms_to(ANNOUNCER)) == 2 and "answered *Yes*" in str(slack.dms_to(ANNOUNCER)[-1])

    status = str((await realign.slack.command(ANNOUNCER, "/change-status", "CHG-1")).json()["blocks"])
    assert "Capacity check: 2 of 2 managers answered · Yes 1 · Need help 0 · No 1" in status
    assert "<@UM1>: No: Two of us are on leave that week." in status
    await realign.settled()
    assert await count(realign.db, "SELECT count(*) FROM notice WHERE kind = 'capacity'") == 2
    assert len(slack.dms_to("UM1")) == 1 and len(slack.dms_to("UM2")) == 1  # asked once each


async def test_only_a_manager_who_was_asked_may_answer(realign: Realign, slack: FakeSlack) -> None:
    await org_chart(realign, slack)
    await announce(realign, capacity_check=checked("yes"))
    await eventually(lambda: len(slack.dms_to("UM1")) == 1)

    asked = slack.dms_to("UM1")[0]
    await realign.slack.click("U6", asked, action_id="realign.capacity_help")  # forwarded to U6, say
    refused = await realign.slack.submit("U6", realign.slack.open_view(), {"comment": typed("Me too")})

    assert refused["response_action"] == "errors" and "Only the managers" in refused["errors"]["comment"]
    assert await count(realign.db, "SELECT count(*) FROM capacity_answer") == 0
    assert slack.dms_to(ANNOUNCER) == []


async def test_customer_facing_groups_are_told_what_to_tell_customers(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    driver = realign.slack
    await driver.command(ANNOUNCER, "/announce-change", "New on-call rota")
    view = driver.open_view()
    plan = "Weekend replies now come within the hour."
    step = await driver.submit(
        ANNOUNCER,
        view,
        basics(customer_impact=chosen("direct"), customer_plan=typed(plan)),
    )
    assert "customer_facing" in str(step["view"]["blocks"])  # asked, as customers are directly affected
    await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("Support"),
            "people": users("U1", "U2"),
            "usergroups": options("S1"),
            "from_effective": typed("Answer pages at weekends too."),
            "customer_facing": checked("yes"),
            "more": checked("yes"),
        },
    )
    review = await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("On-call"),
            "channels": conversations("C1"),
            "from_effective": typed("Hand over at 18:00."),
        },
    )
    assert "no group is marked as facing customers" not in str(review["view"]["blocks"])
    await driver.submit(ANNOUNCER, view, {})

    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    assert plan in str(slack.dms_to("U1")[0]["blocks"])  # Support
    assert plan in str(slack.dms_to("U4")[0]["blocks"])  # Support and On-call
    assert plan not in str(slack.dms_to("U5")[0]["blocks"])  # On-call only
    assert "What to tell customers" not in str(slack.dms_to("U6")[0]["blocks"])
