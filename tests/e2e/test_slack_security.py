"""Requests Slack did not sign, stale or replayed requests, retries, and who may do what."""

from __future__ import annotations

import asyncio
import logging
from copy import deepcopy
from typing import Any

import pytest

from bot import copy
from tests.conftest import count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_slack_flow import ANNOUNCER, announce, basics, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import typed, users


async def test_bad_signature_and_stale_timestamp_get_401_and_change_nothing(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    driver = realign.slack
    assert (await driver.command(ANNOUNCER, "/announce-change", "x", sign=False)).status == 401
    assert (await driver.command(ANNOUNCER, "/announce-change", "x", age=6 * 60)).status == 401
    forged = {
        "type": "view_submission",
        "user": {"id": ANNOUNCER},
        "view": {
            "id": "V1",
            "callback_id": "realign.basics",
            "private_metadata": "{}",
            "state": {"values": {}},
        },
    }
    assert (await driver.interact(forged, sign=False)).status == 401
    assert slack.calls_to("views.open") == []
    assert await count(realign.db, "SELECT count(*) FROM change") == 0


async def test_a_retried_slash_command_is_not_handled_twice(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    retried = await realign.slack.command(
        ANNOUNCER, "/announce-change", "x", headers={"X-Slack-Retry-Num": "1"}
    )
    assert retried.status == 200
    assert slack.calls_to("views.open") == []


async def test_publishing_twice_creates_one_change_and_one_dm_each(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    await announce(realign, publish=False)
    view = realign.slack.open_view()
    review = deepcopy(slack.views[view])
    await realign.slack.submit(ANNOUNCER, view, {})
    await eventually(lambda: "sending to 6 people" in str(slack.views[view]))
    # Slack delivers the same Publish submission again (a retry, or a double click on a slow network).
    await realign.slack.submit(ANNOUNCER, view, {}, as_shown=review, headers={"X-Slack-Retry-Num": "1"})
    await eventually(lambda: "was already published" in str(slack.views[view]))
    everyone = ("U1", "U2", "U3", "U4", "U5", "U6")
    await eventually(lambda: all(slack.dms_to(user) for user in everyone))
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'published'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery") == 9
    assert [len(slack.dms_to(user)) for user in everyone] == [1] * 6


async def test_a_resubmitted_step_updates_the_same_draft(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    await realign.slack.command(ANNOUNCER, "/announce-change")
    view = realign.slack.open_view()
    first_step = deepcopy(slack.views[view])
    await realign.slack.submit(ANNOUNCER, view, basics())
    await realign.slack.submit(ANNOUNCER, view, basics(title=typed("Renamed")), as_shown=first_step)
    assert await count(realign.db, "SELECT count(*) FROM change") == 1
    assert await count(realign.db, "SELECT count(*) FROM change WHERE title = 'Renamed'") == 1


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_ANNOUNCERS": "UANN, @leads", "REALIGN_ADMINS": "UADMIN"}


async def test_only_announcers_may_announce(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    slack.add_user("ULEAD", name="Lea Lead")
    slack.add_usergroup("S9", "leads", ["ULEAD"])
    refused = await realign.slack.command("U1", "/announce-change", "Sneaky change")
    assert "not on the list of people who can announce" in refused.body
    assert slack.calls_to("views.open") == []
    assert (await realign.slack.command("ULEAD", "/announce-change")).status == 200
    assert len(slack.calls_to("views.open")) == 1


async def test_only_the_announcer_and_admins_see_a_changes_details(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    slack.add_user("UADMIN", name="Ada Admin")
    key = await announce(realign)
    nosy = await realign.slack.command("U1", "/change-status", key)
    assert "only the announcer of CHG-1 and admins" in nosy.body
    assert "CHG-1" not in str((await realign.slack.command("U1", "/change-status")).json().get("blocks"))
    admin = (await realign.slack.command("UADMIN", "/change-status", key)).json()
    assert "Delivered" in str(admin["blocks"])
    missing = await realign.slack.command(ANNOUNCER, "/change-status", "CHG-99")
    assert "no change called CHG-99" in missing.body


async def test_an_audience_of_nobody_is_refused_inline(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    await realign.slack.command(ANNOUNCER, "/announce-change")
    view = realign.slack.open_view()
    await realign.slack.submit(ANNOUNCER, view, basics())
    answer = await realign.slack.submit(
        ANNOUNCER, view, {"people": users("UROBOT", "UGONE", ANNOUNCER), "from_effective": typed("Do X.")}
    )
    assert answer["response_action"] == "errors"
    assert "resolve to nobody" in answer["errors"]["people"]


async def test_healthz_reports_the_database(realign: Realign) -> None:
    url = realign.slack.events_url.replace("/slack/events", "/healthz")
    async with realign.slack.http.get(url) as response:
        assert response.status == 200
        assert (await response.json())["database"] == "ok"


# --- who may click what ------------------------------------------------------------------------------


async def test_nobody_can_acknowledge_someone_elses_announcement(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    await announce(realign)
    await eventually(lambda: len(slack.dms_to("U1")) == 1)
    u1_message = deepcopy(slack.dms_to("U1")[0])

    reply = await realign.slack.click("U2", u1_message, action_id="realign.acknowledge")  # U2 forged it

    assert reply.status == 200
    await eventually(lambda: any("sent to someone else" in r.get("text", "") for r in slack.responses))
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0
    assert (
        await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'delivery.acknowledged'") == 0
    )
    assert "Acknowledged" not in str(slack.dms_to("U1")[0]["blocks"])


async def status_with_a_failure(realign: Realign, slack: FakeSlack) -> dict[str, Any]:
    """The announcer's /change-status of a published change with one failed delivery (U5 deactivated)."""
    seed(slack)
    assert realign.runtime.slack is not None
    await realign.runtime.slack.directory.sync()
    # Deactivated after the directory last saw them (the background sync may run again at any moment,
    # so Slack's answer says it, not the directory): the send fails for good.
    slack.error("chat.postMessage", "account_inactive", when=lambda p: "U5" in str(p.get("channel")))
    key = await announce(realign)
    await eventually(lambda: all(slack.dms_to(user) for user in ("U1", "U2", "U3", "U4", "U6")))
    sql = "SELECT count(*) FROM delivery WHERE state = 'failed'"
    for _ in range(100):
        if await count(realign.db, sql) == 1:
            break
        await asyncio.sleep(0.05)
    reply = await realign.slack.command(ANNOUNCER, "/change-status", key)
    return {"ts": "1", "blocks": reply.json()["blocks"]}


async def test_failure_reasons_are_shown_in_words(realign: Realign, slack: FakeSlack) -> None:
    status = await status_with_a_failure(realign, slack)

    assert "<@U5>: deactivated account" in str(status["blocks"])
    assert "account_inactive" not in str(status["blocks"])


@pytest.mark.parametrize("outsider", ["U1", "UNOBODY"])
async def test_only_the_announcer_and_admins_may_close_or_retry(
    realign: Realign, slack: FakeSlack, outsider: str
) -> None:
    status = await status_with_a_failure(realign, slack)
    answered = len(slack.responses)
    audited = await count(realign.db, "SELECT count(*) FROM audit_event")

    for action_id in ("realign.retry_failed", "realign.close"):
        reply = await realign.slack.click(outsider, status, action_id=action_id)  # buttons carry CHG-1
        assert reply.status == 200

    refusals = [r["text"] for r in slack.responses[answered:]]
    assert refusals == [copy.NOT_YOURS.format(key="CHG-1")] * 2
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'published'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE state = 'failed'") == 1
    assert await count(realign.db, "SELECT count(*) FROM audit_event") == audited

    await realign.slack.click(ANNOUNCER, status, action_id="realign.close")  # the announcer may
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'closed'") == 1


# --- odd input gets words, not tracebacks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["CHG-²", "CHG-99999999999999999999", "chg-0", "CHG--1", "CHG-2147483648", "CHG-٣", "CHG-1\x00"]
)
async def test_an_odd_key_is_no_such_change(
    realign: Realign, slack: FakeSlack, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    seed(slack)
    reply = await realign.slack.command(ANNOUNCER, "/change-status", key)

    assert reply.status == 200
    assert reply.body.startswith("There is no change called ")
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "view_submission", "user": {"id": ANNOUNCER}, "view": {"callback_id": "realign.basics"}},
        {"type": "view_submission", "user": {"id": ANNOUNCER}, "view": "realign.basics"},
        {"type": "block_actions", "user": {"id": ANNOUNCER}, "actions": []},
        {"type": "block_actions", "user": {"id": ANNOUNCER}, "actions": {"action_id": "realign.close"}},
        {"type": "block_actions", "user": {"id": ANNOUNCER}, "actions": [{"action_id": 7}]},
    ],
    ids=[
        "view without a type",
        "view not an object",
        "no actions",
        "actions not a list",
        "action id not text",
    ],
)
async def test_a_signed_request_not_shaped_like_slacks_gets_400(
    realign: Realign, caplog: pytest.LogCaptureFixture, payload: dict[str, Any]
) -> None:
    reply = await realign.slack.interact(payload)

    assert reply.status == 400
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert await count(realign.db, "SELECT count(*) FROM change") == 0


async def test_a_click_whose_answer_cannot_be_delivered_is_still_acked(
    realign: Realign, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    seed(slack)
    click = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "response_url": "http://127.0.0.1:1/nowhere",
        "actions": [{"action_id": "realign.close", "type": "button", "value": "CHG-1"}],
    }
    reply = await realign.slack.interact(click)

    assert reply.status == 200
    assert "could not answer a click" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "channel_type": "im", "user": 123, "text": "hi", "channel": "DU1", "ts": "1.1"},
        {"type": "app_home_opened", "user": ["U1"], "tab": "home"},
    ],
    ids=["user a number", "user a list"],
)
async def test_an_event_whose_ids_are_not_text_gets_400_not_500(
    realign: Realign, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    reply = await realign.slack.event(event)

    assert reply.status in (200, 400)  # refused, or read by bolt and answered; never a 500
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert await count(realign.db, "SELECT count(*) FROM question") == 0
