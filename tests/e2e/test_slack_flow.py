"""The whole Slack flow through the real HTTP app, on SQLite and PostgreSQL:
/announce-change -> modal steps (with a validation error) -> publish -> DMs -> acknowledgements -> status."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from tests.conftest import count
from tests.e2e.conftest import Realign, eventually
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import checked, chosen, conversations, date, options, typed, users

ANNOUNCER = "UANN"
SUPPORT = ["U1", "U2", "U3", "U4"]  # U3, U4 via the @support user group
ONCALL = ["U4", "U5", "U6"]  # members of #oncall; U4 is in both groups
EVERYONE = sorted(set(SUPPORT + ONCALL))


def seed(slack: FakeSlack) -> None:
    slack.add_user(ANNOUNCER, name="Ann Announcer")
    for user in EVERYONE:
        slack.add_user(user, name=f"Person {user}")
    slack.add_user("UROBOT", name="Deploy bot", is_bot=True)
    slack.add_user("UGONE", name="Gone Person", deleted=True)
    slack.add_usergroup("S1", "support", ["U3", "U4", "UGONE"])
    slack.add_channel("C1", ["U4", "U5", "U6", "UROBOT", ANNOUNCER])


def basics(**overrides: Any) -> dict[str, dict[str, Any]]:
    values = {
        "title": typed("New on-call rota"),
        "what": typed("Support takes weekend on-call."),
        "why": typed("Customers wait too long at weekends."),
        "effective_date": date("2026-12-14"),
        "ack_deadline": date("2026-12-21"),
        "customer_impact": chosen("indirect"),
        "customer_plan": typed(""),
    }
    return values | overrides


async def announce(realign: Realign, *, publish: bool = True, **basics_fields: dict[str, Any]) -> str:
    """Walk the modal as the announcer (up to review, or through publishing); returns the change key."""
    driver = realign.slack
    reply = await driver.command(ANNOUNCER, "/announce-change", "New on-call rota")
    assert reply.status == 200
    view = driver.open_view()
    assert driver.slack.views[view]["blocks"][0]["element"]["initial_value"] == "New on-call rota"

    refused = await driver.submit(ANNOUNCER, view, basics(ack_deadline=date("2026-11-30")))
    assert refused["response_action"] == "errors"
    assert refused["errors"] == {"ack_deadline": "This date has already passed."}

    step = await driver.submit(ANNOUNCER, view, basics(**basics_fields))
    assert step["view"]["callback_id"] == "realign.group"
    empty = await driver.submit(ANNOUNCER, view, {"from_effective": typed("Answer pages at weekends.")})
    assert empty["errors"] == {"people": "Pick at least one person, user group or channel."}
    step = await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("Support"),
            "people": users("U1", "U2", "UROBOT", "UGONE", ANNOUNCER),
            "usergroups": options("S1"),
            "today": typed("Weekdays only."),
            "from_effective": typed("Answer pages at weekends too."),
            "more": checked("yes"),
        },
    )
    assert step["view"]["callback_id"] == "realign.group"
    review = await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("On-call"),
            "channels": conversations("C1"),
            "from_effective": typed("Hand over at 18:00."),
        },
    )
    summary = review["view"]["blocks"][0]["text"]["text"]
    assert (
        "*Support*: 4 people" in summary
        and "*On-call*: 3 people" in summary
        and "*6 people in all*" in summary
    )

    if not publish:
        return "CHG-1"
    published = await driver.submit(ANNOUNCER, view, {})
    assert published["response_action"] == "update"
    await eventually(lambda: "sending to 6 people" in str(driver.slack.views[view]))
    return "CHG-1"


async def test_announce_deliver_acknowledge_and_report(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    key = await announce(realign)

    await eventually(lambda: all(len(slack.dms_to(user)) == 1 for user in EVERYONE))
    for outsider in (ANNOUNCER, "UROBOT", "UGONE"):
        assert slack.dms_to(outsider) == []
    both = str(slack.dms_to("U4")[0]["blocks"])
    assert "Answer pages at weekends too." in both and "Hand over at 18:00." in both
    assert "Hand over" not in str(slack.dms_to("U1")[0]["blocks"])
    assert slack.dms_to("U1")[0]["metadata"]["event_payload"]["change_key"] == key
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE state = 'excluded'") == 3

    as_delivered = {user: deepcopy(slack.dms_to(user)[0]) for user in EVERYONE}
    for user in ("U1", "U2", "U3", "U1"):  # U1 double-clicks: both clicks carry the unacknowledged message
        reply = await realign.slack.click(user, as_delivered[user], action_id="realign.acknowledge")
        assert reply.status == 200
    await eventually(
        lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U2", "U3"))
    )
    assert "Acknowledged" not in str(slack.dms_to("U4")[0]["blocks"])
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 3
    assert (
        await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.acknowledged'") == 3
    )

    status = (await realign.slack.command(ANNOUNCER, "/change-status", key)).json()
    text = str(status["blocks"])
    assert "Delivered 6 · Acknowledged 3 · Pending 3 · Failed 0" in text
    assert "▓▓▓▓▓░░░░░ 50% (3/6)" in text
    assert "Pending: <@U4>, <@U5>, <@U6>" in text  # the On-call group's pending people
    overview = (await realign.slack.command(ANNOUNCER, "/change-status")).json()
    assert "CHG-1" in str(overview["blocks"]) and "50% (3/6)" in str(overview["blocks"])
