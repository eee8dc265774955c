"""The App Home tab end to end through the Slack fake, on SQLite and PostgreSQL: opening it publishes
(views.publish) the person's page: an announcer's changes with their counts, a recipient's pending
acknowledgements with the DM's Acknowledge button, which records the click once from there too, a
manager's reports still to acknowledge; a burst of acknowledgements republishes each concerned page
once per debounce window, and only pages that were opened, by whichever process records the
acknowledgement."""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
from typing import Any

import pytest
from sqlalchemy import text

import bot.home
from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually, running
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import APP_ID, typed

DEBOUNCE = 1.0  # seconds; HOME_DEBOUNCE is 5 s in production
MANAGERS = {"U1": "UM1", "U2": "UM1", "U3": "UM1"}


@pytest.fixture(autouse=True)
def short_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before Realign starts (autouse fixtures come first): its pages debounce for DEBOUNCE."""
    monkeypatch.setattr(bot.home, "HOME_DEBOUNCE", bot.home.timedelta(seconds=DEBOUNCE))


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}


async def open_home(driver: SlackDriver, user: str, *, tab: str = "home") -> None:
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab, "event_ts": "1.0"}
    assert (await driver.event(event)).status == 200


def home(slack: FakeSlack, user: str) -> str:
    """The text of the user's Home tab as last published ('' if never)."""
    shown = slack.home_of(user)
    if shown is None:
        return ""
    texts = [block["text"]["text"] for block in shown["blocks"] if "text" in block]
    texts += [e["text"] for block in shown["blocks"] if block["type"] == "context" for e in block["elements"]]
    return "\n".join(texts)


async def click_in_home(driver: SlackDriver, user: str, *, action_id: str) -> None:
    """`user` clicks `action_id` on their Home tab, as Slack sends it: a view, no message, no
    response_url."""
    view = driver.slack.home_of(user)
    assert view is not None
    button = next(
        block["accessory"]
        for block in view["blocks"]
        if block.get("accessory", {}).get("action_id") == action_id
    )
    payload = {
        "type": "block_actions",
        "team": {"id": driver.team},
        "user": {"id": user, "team_id": driver.team},
        "api_app_id": APP_ID,
        "trigger_id": "trigger-home",
        "container": {"type": "view", "view_id": view["id"]},
        "view": view,
        "actions": [{**button, "block_id": "home", "action_ts": str(time.time())}],
    }
    assert (await driver.interact(payload)).status == 200


async def delivered(realign: Realign, slack: FakeSlack) -> dict[str, dict[str, Any]]:
    """CHG-1 announced to EVERYONE (U1-U3 report to UM1); each one's DM as delivered."""
    seed(slack)
    slack.add_user("UM1", name="Manager UM1")
    assert realign.runtime.slack is not None
    await realign.runtime.slack.directory.sync()
    async with realign.db.transaction() as session:
        for user, manager in MANAGERS.items():
            await session.execute(
                text("UPDATE person SET manager_id = :m WHERE user_id = :u"), {"m": manager, "u": user}
            )
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    return {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}


async def test_an_announcer_sees_their_change_with_its_counts(realign: Realign, slack: FakeSlack) -> None:
    dms = await delivered(realign, slack)
    for user in ("U1", "U2"):
        assert (await realign.slack.click(user, dms[user], action_id="realign.acknowledge")).status == 200
    assert (await realign.slack.click("U3", dms["U3"], action_id="realign.ask")).status == 200
    await realign.slack.submit("U3", realign.slack.open_view(), {"question": typed("Which weekends?")})
    await eventually(lambda: len(slack.dms_to(ANNOUNCER)) == 1)  # the question reached the announcer

    await open_home(realign.slack, ANNOUNCER, tab="messages")  # the Messages tab: nothing to publish
    await open_home(realign.slack, ANNOUNCER)

    await eventually(lambda: slack.home_of(ANNOUNCER) is not None)
    shown = home(slack, ANNOUNCER)
    assert "*Your changes* (1)" in shown
    assert "*CHG-1* New on-call rota · 2/6 acknowledged (33%) · 1 open question" in shown
    assert "Waiting for your acknowledgement" not in shown and "Your team" not in shown
    assert slack.home_publishes(ANNOUNCER) == 1
    assert slack.calls_to("views.publish")[0].params["view"]["type"] == "home"


async def test_a_recipient_acknowledges_from_the_home_tab_once(realign: Realign, slack: FakeSlack) -> None:
    await delivered(realign, slack)
    await open_home(realign.slack, "U4")
    await eventually(lambda: "Waiting for your acknowledgement* (1)" in home(slack, "U4"))
    assert "*CHG-1* New on-call rota\nAcknowledge by 21 Dec 2026" in home(slack, "U4")

    await click_in_home(realign.slack, "U4", action_id="realign.acknowledge")
    await click_in_home(realign.slack, "U4", action_id="realign.acknowledge")  # a double click

    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U4")[0]["blocks"]))  # the DM, in place
    await eventually(lambda: "You have acknowledged every change" in home(slack, "U4"))
    acknowledged = "SELECT count(*) FROM delivery WHERE user_id = 'U4' AND acknowledged_at IS NOT NULL"
    assert await count(realign.db, acknowledged) == 1
    assert (
        await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.acknowledged'") == 1
    )
    assert slack.home_publishes("U4") == 2  # opened, then once after the click


async def test_a_burst_of_acknowledgements_republishes_each_page_once_per_window(
    realign: Realign, slack: FakeSlack
) -> None:
    dms = await delivered(realign, slack)
    watching = ("U1", "U2", "U3", ANNOUNCER, "UM1")  # U4, U5, U6 never open the tab
    for user in watching:
        await open_home(realign.slack, user)
    await eventually(lambda: all(slack.home_publishes(user) == 1 for user in watching))
    assert "*CHG-1* New on-call rota · 3 of 3 of your reports: <@U1>, <@U2>, <@U3>" in home(slack, "UM1")

    started = time.monotonic()
    for user in ("U1", "U2", "U3", "U4", "U1"):  # a burst, well inside one window; U1 clicks twice
        assert (await realign.slack.click(user, dms[user], action_id="realign.acknowledge")).status == 200
    assert time.monotonic() - started < DEBOUNCE / 2
    assert all(slack.home_publishes(user) == 1 for user in watching)  # nothing yet: the window is open

    await eventually(lambda: all(slack.home_publishes(user) == 2 for user in watching))
    await asyncio.sleep(2 * DEBOUNCE)  # nothing more comes of that burst
    assert {user: slack.home_publishes(user) for user in (*watching, "U4")} == {
        **dict.fromkeys(watching, 2),
        "U4": 0,
    }
    assert "*CHG-1* New on-call rota · 4/6 acknowledged (67%)" in home(slack, ANNOUNCER)
    assert "Your team" not in home(slack, "UM1")  # all three of UM1's reports have acknowledged
    assert "You have acknowledged every change" in home(slack, "U2")


async def test_a_tab_opened_through_one_process_is_republished_by_another(
    realign: Realign, slack: FakeSlack, clock: FakeClock, database_url: str, realign_settings: dict[str, Any]
) -> None:
    """Two Realign processes on one database: who watches their tab is stored, so the process that
    records an acknowledgement republishes the page that the other one published."""
    dms = await delivered(realign, slack)
    await open_home(realign.slack, ANNOUNCER)
    await eventually(lambda: slack.home_publishes(ANNOUNCER) == 1)

    async with running(database_url, slack, clock, **realign_settings) as other:
        assert (await other.slack.click("U1", dms["U1"], action_id="realign.acknowledge")).status == 200
        await eventually(lambda: slack.home_publishes(ANNOUNCER) == 2)
        assert "1/6 acknowledged" in home(slack, ANNOUNCER)
