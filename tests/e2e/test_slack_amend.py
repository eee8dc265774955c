"""Amending a published change through the Slack fake: only the people whose expectations or dates changed
are asked to acknowledge again (their DM updated in place, a note in its thread); the others' DMs are
left alone; the earlier acknowledgement stays in the history and the export; reminders follow the new
state."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest

from adapters.slack import amend
from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_export import rows, run
from tests.e2e.test_follow_up import org_chart, sweeps, texts
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import chosen, date, typed

ONCALL = ["U4", "U5", "U6"]


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def open_amend_form(realign: Realign, user: str) -> str:
    status = (await realign.slack.command(user, "/change-status", "CHG-1")).json()
    message = {"blocks": status["blocks"], "ts": "1.0", "channel": {"id": f"D{user}"}}
    assert (await realign.slack.click(user, message, action_id="realign.amend")).status == 200
    return realign.slack.open_view()


def form_as_shown(view: dict[str, Any], **changed: str) -> dict[str, dict[str, Any]]:
    """What the announcer submits: every field as the form shows it, but those in `changed`."""
    values: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        element = block.get("element", {})
        if element.get("type") == "datepicker":
            values[block["block_id"]] = date(changed.get(block["block_id"], element["initial_date"]))
        elif element.get("type") == "plain_text_input":
            values[block["block_id"]] = typed(
                changed.get(block["block_id"], element.get("initial_value", ""))
            )
    return values


async def test_only_those_whose_part_changed_are_asked_again(
    realign: Realign, slack: FakeSlack, clock: FakeClock, database_url: str
) -> None:
    seed(slack)
    await announce(realign, remind_after=typed("1h"), reminders=chosen("1"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    delivered = {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}
    for user in ("U1", "U5"):  # U1 is in Support only, U5 in On-call only
        await realign.slack.click(user, delivered[user], action_id="realign.acknowledge")
    await eventually(lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U5")))
    await realign.settled()
    before = {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}

    # Someone else cannot amend it; the announcer's form shows the change as it is.
    await realign.slack.click(
        "U1", {**delivered["U1"], "blocks": [_amend_button()]}, action_id="realign.amend"
    )
    await eventually(lambda: any("only the announcer" in r.get("text", "") for r in slack.responses))
    form = await open_amend_form(realign, ANNOUNCER)
    view = slack.views[form]
    assert view["callback_id"] == "realign.amend_form"
    shown = form_as_shown(view)
    assert shown["group_1"] == typed("Hand over at 18:00.")

    unchanged = await realign.slack.submit(ANNOUNCER, form, shown)
    assert unchanged["response_action"] == "errors" and unchanged["errors"] == {
        "what": "Nothing was changed."
    }
    past = await realign.slack.submit(ANNOUNCER, form, form_as_shown(view, effective_date="2026-11-20"))
    assert past["errors"] == {"effective_date": "This date has already passed."}

    done = await realign.slack.submit(ANNOUNCER, form, form_as_shown(view, group_1="Hand over at 17:00."))
    assert done["response_action"] == "update"
    assert "1 people are asked to acknowledge again; 3 messages are updated" in str(done["view"])

    # On-call's DMs are updated in place (U4 is in both groups); each gets a note in its thread.
    await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in ONCALL))
    await realign.settled()
    for user in ONCALL:
        dm, note = slack.dms_to(user)
        assert dm["ts"] == delivered[user]["ts"] and "Hand over at 17:00." in str(dm["blocks"])
        assert "Updated" in str(dm["blocks"]) and "realign.acknowledge" in buttons(dm)
        assert note["thread_ts"] == dm["ts"] and "was updated" in note["text"]
    assert "Acknowledged" not in str(slack.dms_to("U5")[0]["blocks"])  # asked again
    for user in ("U1", "U2", "U3"):  # Support only: not disturbed
        assert slack.dms_to(user) == [before[user]]
    assert await count(realign.db, "SELECT count(*) FROM ack_history") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 1
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.amended'") == 1

    # Reminders follow the new state: U5, asked again, is reminded; U1, still acknowledged, is not.
    clock.advance(hours=1, seconds=1)
    await eventually(lambda: len(slack.dms_to("U5")) == 3)
    await realign.settled()
    assert slack.dms_to("U5")[2]["text"].startswith("Reminder")
    await sweeps(realign)
    assert len(slack.dms_to("U1")) == 1

    await realign.slack.click("U5", slack.dms_to("U5")[0], action_id="realign.acknowledge")
    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U5")[0]["blocks"]))
    code, out, _ = await run(database_url, "CHG-1")
    assert code == 0
    exported = {row["user_id"]: row for row in rows(out)}
    assert exported["U5"]["acknowledged_at"] and exported["U5"]["reacknowledged_at"]
    assert exported["U5"]["acknowledged_at"] < exported["U5"]["reacknowledged_at"]
    assert exported["U1"]["acknowledged_at"] and not exported["U1"]["reacknowledged_at"]
    assert not exported["U6"]["acknowledged_at"] and not exported["U6"]["reacknowledged_at"]


async def test_a_new_date_asks_everyone_and_a_reworded_why_asks_nobody(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    delivered = {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}
    for user in ("U1", "U5"):
        await realign.slack.click(user, delivered[user], action_id="realign.acknowledge")
    await eventually(lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U5")))
    await realign.settled()

    form = await open_amend_form(realign, ANNOUNCER)
    reworded = await realign.slack.submit(
        ANNOUNCER, form, form_as_shown(slack.views[form], why="Weekend customers wait too long.")
    )
    assert "0 people are asked to acknowledge again; 6 messages are updated" in str(reworded["view"])
    await eventually(lambda: all("Weekend customers" in str(slack.dms_to(u)[0]["blocks"]) for u in EVERYONE))
    await realign.settled()
    assert all(len(slack.dms_to(u)) == 1 for u in EVERYONE)  # no notes: nobody is asked again
    assert "Acknowledged" in str(slack.dms_to("U1")[0]["blocks"])

    form = await open_amend_form(realign, ANNOUNCER)
    moved = await realign.slack.submit(
        ANNOUNCER, form, form_as_shown(slack.views[form], effective_date="2026-12-28")
    )
    assert "2 people are asked to acknowledge again; 6 messages are updated" in str(moved["view"])
    await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in EVERYONE))
    assert all("28 Dec 2026" in str(slack.dms_to(u)[0]["blocks"]) for u in EVERYONE)
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0
    assert await count(realign.db, "SELECT max(revision) FROM change") == 2


async def test_follow_up_follows_the_amendment(realign: Realign, slack: FakeSlack, clock: FakeClock) -> None:
    """Asking a group again starts its escalation anew (the managers of those already escalated, and
    not asked again, hear nothing more); a deadline moved after the gap report went out brings a new
    report at the new deadline."""
    await org_chart(realign, slack)  # U1-U3 report to UM1, U4-U5 to UM2, U6 to nobody
    await announce(realign, remind_after=typed("1h"), reminders=chosen("1"), escalate_after=typed("12s"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    for user in ("U1", "U4"):
        await realign.slack.click(user, slack.dms_to(user)[0], action_id="realign.acknowledge")
    await eventually(lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U4")))
    clock.advance(seconds=13)
    await eventually(lambda: slack.dms_to("UM1") and slack.dms_to("UM2"))
    await eventually(lambda: any("no manager on record" in t for t in texts(slack, ANNOUNCER)))
    await realign.settled()
    assert "<@U4>" not in str(slack.dms_to("UM2")[0]["blocks"])  # U4 had acknowledged

    form = await open_amend_form(realign, ANNOUNCER)  # On-call (U4, U5, U6) is asked again
    done = await realign.slack.submit(
        ANNOUNCER, form, form_as_shown(slack.views[form], group_1="Hand over at 17:00.")
    )
    assert "1 people are asked to acknowledge again" in str(done["view"])
    await realign.settled()
    clock.advance(seconds=6)
    await sweeps(realign)
    assert len(slack.dms_to("UM2")) == 1  # the clock started again at the amendment
    clock.advance(seconds=7)
    await eventually(lambda: len(slack.dms_to("UM2")) == 2)
    await eventually(lambda: sum("no manager on record" in t for t in texts(slack, ANNOUNCER)) == 2)
    await sweeps(realign)
    again = str(slack.dms_to("UM2")[1]["blocks"])
    assert "<@U4>" in again and "<@U5>" in again
    assert len(slack.dms_to("UM1")) == 1  # Support was not asked again: UM1 is not told twice

    clock.advance(days=21)  # past the deadline (21 Dec): the gap report
    await eventually(lambda: any(t.startswith("Gap report for CHG-1") for t in texts(slack, ANNOUNCER)))
    form = await open_amend_form(realign, ANNOUNCER)
    moved = await realign.slack.submit(
        ANNOUNCER, form, form_as_shown(slack.views[form], ack_deadline="2027-01-15")
    )
    assert moved["response_action"] == "update", moved
    await realign.settled()
    await sweeps(realign)
    assert sum(t.startswith("Gap report for CHG-1") for t in texts(slack, ANNOUNCER)) == 1
    clock.advance(days=27)  # past the new deadline (15 Jan), on a working day (Monday 18 Jan)
    await eventually(lambda: sum(t.startswith("Gap report for CHG-1") for t in texts(slack, ANNOUNCER)) == 2)


def _amend_button() -> dict[str, Any]:
    """A forged Amend button (the status is the announcer's; U1 never sees one)."""
    button = {
        "type": "button",
        "action_id": "realign.amend",
        "value": "CHG-1",
        "text": {"type": "plain_text", "text": "Amend"},
    }
    return {"type": "actions", "block_id": "realign.status", "elements": [button]}


async def test_an_amendment_slower_than_slacks_budget_is_answered_in_time_then_shown(
    realign: Realign, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A very large change takes seconds to amend: Slack gets an answer at once, the outcome follows."""
    seed(slack)
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    monkeypatch.setattr(amend, "ACK_BUDGET", 0.0)  # as if the transaction took longer than Slack waits
    monkeypatch.setattr(amend, "UPDATE_AFTER_ACK", 0.0)

    form = await open_amend_form(realign, ANNOUNCER)
    answer = await realign.slack.submit(ANNOUNCER, form, form_as_shown(slack.views[form], why="Clearer."))

    assert "Amending CHG-1…" in str(answer["view"])
    await eventually(lambda: "6 messages are updated" in str(slack.views[form]))  # views.update
    await eventually(lambda: all("Clearer." in str(slack.dms_to(u)[0]["blocks"]) for u in EVERYONE))
