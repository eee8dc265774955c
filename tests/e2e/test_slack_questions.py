"""Questions and concerns end to end through the Slack fake, on SQLite and PostgreSQL: a question asked
from the announcement, answered by the announcer in the asker's thread; a concern shown in status and in
the gap report, then resolved; a reply typed into the DM becomes a question; a failed send is said."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest

from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import typed


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}


async def announced(realign: Realign, slack: FakeSlack) -> dict[str, dict[str, Any]]:
    """CHG-1 announced to EVERYONE; each one's DM as delivered."""
    seed(slack)
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    return {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}


async def ask(realign: Realign, user: str, dm: dict[str, Any], text: str, *, concern: bool = False) -> dict:
    """`user` clicks Ask a question (or I have a concern) on their DM and submits `text`."""
    action = "realign.concern" if concern else "realign.ask"
    reply = await realign.slack.click(user, dm, action_id=action)
    assert reply.status == 200
    form = realign.slack.open_view()
    assert realign.slack.views[form]["callback_id"] == "realign.question"
    return await realign.slack.submit(user, form, {"question": typed(text)})


def to_announcer(slack: FakeSlack, needle: str) -> dict[str, Any]:
    return next(m for m in slack.dms_to(ANNOUNCER) if needle in str(m["blocks"]))


async def status_of(realign: Realign) -> str:
    return str((await realign.slack.command(ANNOUNCER, "/change-status", "CHG-1")).json()["blocks"])


async def test_a_question_is_answered_in_the_askers_thread(realign: Realign, slack: FakeSlack) -> None:
    delivered = await announced(realign, slack)
    buttons = str(delivered["U1"]["blocks"])
    assert "Ask a question" in buttons and "I have a concern" in buttons

    sent = await ask(realign, "U1", delivered["U1"], "Does the rota include bank holidays?")

    assert sent["response_action"] == "update" and "went to <@UANN>" in str(sent["view"])
    question = to_announcer(slack, "bank holidays")
    assert "Question from <@U1> about CHG-1" in str(question["blocks"])
    assert await count(realign.db, "SELECT count(*) FROM question WHERE state = 'open'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0
    assert "Open questions and concerns (1)" in await status_of(realign)

    await realign.slack.click(ANNOUNCER, question, action_id="realign.answer")
    form = realign.slack.open_view()
    answered = await realign.slack.submit(ANNOUNCER, form, {"answer": typed("Yes, bank holidays too.")})

    assert "Your answer went to <@U1>" in str(answered["view"])
    reply = slack.dms_to("U1")[-1]
    assert reply["thread_ts"] == delivered["U1"]["ts"] and "Yes, bank holidays too." in reply["text"]
    await eventually(lambda: "Answered by <@UANN>" in str(to_announcer(slack, "bank holidays")["blocks"]))
    assert await count(realign.db, "SELECT count(*) FROM question WHERE answer = 'Yes, bank holidays too.'")
    assert "Open questions" not in await status_of(realign)
    kinds = "SELECT count(*) FROM audit_event WHERE kind IN ('question.asked', 'question.answered')"
    assert await count(realign.db, kinds) == 2


async def test_a_concern_shows_in_status_and_the_gap_report_until_resolved(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    delivered = await announced(realign, slack)

    await ask(realign, "U2", delivered["U2"], "My team cannot cover weekends by the 14th.", concern=True)

    concern = to_announcer(slack, "cannot cover weekends")
    assert "Concern from <@U2>" in str(concern["blocks"]) and "Mark resolved" in str(concern["blocks"])
    assert "Concern from <@U2>: My team cannot cover weekends" in await status_of(realign)
    await realign.slack.click(ANNOUNCER, concern, action_id="realign.answer")
    await realign.slack.submit(ANNOUNCER, realign.slack.open_view(), {"answer": typed("Let's talk.")})
    assert "(answered)" in await status_of(realign)  # answered, but a concern stays open until resolved

    clock.advance(days=21)  # past the acknowledgement deadline
    await eventually(lambda: any(m["text"].startswith("Gap report") for m in slack.dms_to(ANNOUNCER)))
    report = next(m for m in slack.dms_to(ANNOUNCER) if m["text"].startswith("Gap report"))
    assert "1 question(s) and concern(s) still open" in str(report["blocks"])
    assert "<@U2> (concern): My team cannot cover weekends" in str(report["blocks"])

    await realign.slack.click(ANNOUNCER, to_announcer(slack, "cannot cover"), action_id="realign.resolve")
    await eventually(lambda: any("marked resolved" in r.get("text", "") for r in slack.responses))
    assert await count(realign.db, "SELECT count(*) FROM question WHERE state = 'resolved'") == 1
    assert "Open questions" not in await status_of(realign)
    await eventually(lambda: "Resolved" in str(to_announcer(slack, "cannot cover")["blocks"]))


async def test_a_reply_typed_into_the_dm_becomes_a_question(realign: Realign, slack: FakeSlack) -> None:
    delivered = await announced(realign, slack)
    typed_in = {
        "type": "message",
        "channel_type": "im",
        "channel": "DU3",
        "user": "U3",
        "text": "Who covers Christmas?",
        "ts": "1800000000.000100",
        "thread_ts": delivered["U3"]["ts"],
    }

    assert (await realign.slack.event(typed_in)).status == 200
    assert (await realign.slack.event(typed_in)).status == 200  # Slack delivers it again: asked once

    assert "Who covers Christmas?" in str(to_announcer(slack, "Christmas")["blocks"])
    assert await count(realign.db, "SELECT count(*) FROM question WHERE asker_id = 'U3'") == 1
    assert any("went to <@UANN>" in e["text"] and e["user"] == "U3" for e in slack.ephemerals)
    own = {**typed_in, "user": "UBOT", "bot_id": "BUBOT", "ts": "1800000000.000200"}
    edited = {**typed_in, "subtype": "message_changed", "ts": "1800000000.000300"}
    for ignored in (own, edited):
        assert (await realign.slack.event(ignored)).status == 200
    assert await count(realign.db, "SELECT count(*) FROM question") == 1

    stranger = {**typed_in, "channel": "DUANN", "user": ANNOUNCER, "ts": "1800000000.000400"}
    stranger.pop("thread_ts")
    await realign.slack.event(stranger)
    assert any("you have none yet" in e["text"] and e["user"] == ANNOUNCER for e in slack.ephemerals)


async def test_a_question_that_cannot_be_sent_is_said_and_can_be_sent_again(
    realign: Realign, slack: FakeSlack
) -> None:
    delivered = await announced(realign, slack)
    slack.error(
        "chat.postMessage", "restricted_action", when=lambda p: p.get("channel") == ANNOUNCER, times=1
    )

    refused = await ask(realign, "U5", delivered["U5"], "Is the rota paid?")

    assert refused["response_action"] == "errors" and "could not pass it on" in refused["errors"]["question"]
    assert await count(realign.db, "SELECT count(*) FROM question") == 1  # recorded, visible in status
    form = realign.slack.open_view()
    again = await realign.slack.submit("U5", form, {"question": typed("Is the rota paid?")})
    assert again["response_action"] == "update"
    assert len([m for m in slack.dms_to(ANNOUNCER) if "rota paid" in str(m["blocks"])]) == 1
    assert await count(realign.db, "SELECT count(*) FROM question") == 1


async def test_only_recipients_ask_and_only_the_announcer_answers(realign: Realign, slack: FakeSlack) -> None:
    delivered = await announced(realign, slack)
    await ask(realign, "U1", delivered["U1"], "A question?")
    question = to_announcer(slack, "A question?")

    await realign.slack.click("U2", question, action_id="realign.answer")  # someone else's DM, replayed

    await eventually(lambda: any("Only the announcer" in r.get("text", "") for r in slack.responses))
    outsider = await ask(realign, "UGONE", delivered["U1"], "Me too?")
    assert outsider["response_action"] == "errors" and "announced to you" in outsider["errors"]["question"]


async def test_a_named_owner_answers_the_questions(realign: Realign, slack: FakeSlack) -> None:
    slack.add_user("UOWN", name="Owen Owner")
    seed(slack)
    await announce(realign, owner={"type": "users_select", "selected_user": "UOWN"})
    await eventually(lambda: len(slack.dms_to("U1")) == 1)
    await realign.settled()

    await ask(realign, "U1", deepcopy(slack.dms_to("U1")[0]), "Who do I call?")

    question = next(m for m in slack.dms_to("UOWN") if "Who do I call?" in str(m["blocks"]))
    assert slack.dms_to(ANNOUNCER) == []
    await realign.slack.click("UOWN", question, action_id="realign.answer")
    answered = await realign.slack.submit("UOWN", realign.slack.open_view(), {"answer": typed("Me.")})
    assert "Your answer went to <@U1>" in str(answered["view"])
    assert "Me." in slack.dms_to("U1")[-1]["text"]
