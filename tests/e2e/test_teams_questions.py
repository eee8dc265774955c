"""Questions and concerns end to end on Teams, through the real HTTP app and the connector fake, on SQLite
and PostgreSQL: a question asked from the announcement card's inline form reaches the announcer as a card
with Answer; the answer comes back as a reply to the asker's announcement and the announcer's card is
updated in place; a concern shows in change-status and in the gap report until resolved; a message typed
into the 1:1 chat becomes a question; a failed send is said on the card and can be sent again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from copy import deepcopy
from typing import Any

import pytest_asyncio

from adapters.teams import cards
from bot import copy
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import Answer, TeamsRealign, fake, inline_form, running  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, TEAM, aad, announce, install, seed
from tests.fakes.teams_connector import FakeConnector

Json = dict[str, Any]


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    settings = {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}
    async with running(database_url, fake, clock, **settings) as app:
        yield app


async def announced(realign: TeamsRealign, teams: FakeConnector, **fields: Any) -> dict[str, Json]:
    """CHG-1 announced to EVERYONE; each one's card as delivered."""
    seed(teams)
    await install(realign, teams)
    await announce(realign, teams, **fields)
    await eventually(lambda: all(len(teams.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    return {u: deepcopy(teams.cards_to(u)[0]) for u in EVERYONE}


async def ask(realign: TeamsRealign, user: str, card: Json, text: str, *, concern: bool = False) -> Answer:
    """`user` opens Ask a question (or I have a concern) on `card`, types `text` and sends it."""
    verb, field = (cards.CONCERN_VERB, "concern") if concern else (cards.ASK_VERB, "question")
    answer = await realign.teams.execute(user, card, verb=verb, inputs={field: text})
    assert answer.status == 200 and answer.body["statusCode"] == 200
    return answer


def asked(teams: FakeConnector, asker: str, *, to: str = ANNOUNCER) -> Json:
    """The card asking `to` the question of `asker` (as it is now: cards are updated in place)."""
    return next(c for c in teams.cards_to(to) if f"from {asker} about CHG-1" in str(c))


async def status_of(realign: TeamsRealign) -> str:
    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    return str(realign.teams.last_card(ANNOUNCER))


def said_to(teams: FakeConnector, user: str) -> list[str]:
    """The plain text messages the bot posted in the user's 1:1 chat."""
    return [a["text"] for a in teams.activities_to(user) if a.get("text") and not a.get("attachments")]


async def test_a_question_is_answered_as_a_reply_to_the_askers_announcement(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    delivered = await announced(realign, fake)
    card = delivered["29:s1"]
    assert [a["title"] for a in card["actions"]] == ["Acknowledge", "Ask a question", "I have a concern"]
    [field] = inline_form(card, "Ask a question")["body"]
    assert field["type"] == "Input.Text" and field["isRequired"] and field["id"] == "question"

    sent = await ask(realign, "29:s1", card, "Does the rota include bank holidays?")

    shown = str(sent.body["value"])
    assert "went to Ann Announcer" in shown and "Ask a question" in shown  # the card, asking again possible
    question = asked(fake, "Person s1")
    assert "Does the rota include bank holidays?" in str(question)
    assert [a["title"] for a in question["actions"]] == ["Answer"]  # a question: no Mark resolved
    assert await count(realign.db, "SELECT count(*) FROM question WHERE state = 'open'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0
    again = await ask(realign, "29:s1", card, "Does the rota include bank holidays?")  # sent twice
    assert "went to Ann Announcer" in str(again.body["value"])
    assert len([c for c in fake.cards_to(ANNOUNCER) if "bank holidays" in str(c)]) == 1  # asked once
    assert await count(realign.db, "SELECT count(*) FROM question") == 1
    status = await status_of(realign)
    assert "Open questions and concerns (1)" in status
    assert "Question from Person s1: Does the rota include bank holidays?" in status

    answered = await realign.teams.execute(
        ANNOUNCER, question, verb=cards.ANSWER_VERB, inputs={"answer": "Yes, bank holidays too."}
    )

    assert "Your answer went to Person s1." in str(answered.body["value"])
    announcement, reply = fake.activities_to("29:s1")
    assert reply["replyToId"] == announcement["id"]  # a reply to their announcement
    assert "Yes, bank holidays too." in str(reply["attachments"]) and "bank holidays?" in str(reply)
    to_s1 = fake.personal_conversation("29:s1")
    assert len([c for c in fake.calls_to("reply_to_activity") if c.conversation_id == to_s1]) == 1
    await eventually(lambda: "Answered by Ann Announcer" in str(asked(fake, "Person s1")))
    [posted] = [a for a in fake.activities_to(ANNOUNCER) if "from Person s1 about" in str(a)]
    assert posted["edits"] == 1  # updated in place, not posted again
    answers = "SELECT count(*) FROM question WHERE state = 'answered' AND answer = 'Yes, bank holidays too.'"
    assert await count(realign.db, answers) == 1
    assert "Open questions" not in await status_of(realign)
    kinds = "SELECT count(*) FROM audit_event WHERE kind IN ('question.asked', 'question.answered')"
    assert await count(realign.db, kinds) == 2


async def test_a_concern_shows_in_status_and_the_gap_report_until_resolved(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    delivered = await announced(realign, fake)

    await ask(
        realign, "29:s2", delivered["29:s2"], "My team cannot cover weekends by the 14th.", concern=True
    )

    concern = asked(fake, "Person s2")
    assert "Concern from Person s2" in str(concern)
    assert [a["title"] for a in concern["actions"]] == ["Answer", "Mark resolved"]
    assert "Concern from Person s2: My team cannot cover weekends" in await status_of(realign)
    await realign.teams.execute(ANNOUNCER, concern, verb=cards.ANSWER_VERB, inputs={"answer": "Let's talk."})
    assert "(answered)" in await status_of(realign)  # answered, but a concern stays open until resolved

    clock.advance(days=21)  # past the acknowledgement deadline
    await eventually(lambda: any("Gap report" in str(c) for c in fake.cards_to(ANNOUNCER)), within=20)
    report = str(next(c for c in fake.cards_to(ANNOUNCER) if "Gap report" in str(c)))
    assert "1 question(s) and concern(s) still open" in report
    assert "Person s2 (concern): My team cannot cover weekends" in report

    await eventually(lambda: "Let's talk." in str(asked(fake, "Person s2")))
    resolved = await realign.teams.execute(ANNOUNCER, asked(fake, "Person s2"), verb=cards.RESOLVE_VERB)

    assert copy.RESOLVED in str(resolved.body["value"])
    assert "actions" not in resolved.body["value"]  # resolved: nothing left to do
    assert await count(realign.db, "SELECT count(*) FROM question WHERE state = 'resolved'") == 1
    assert "Open questions" not in await status_of(realign)
    await eventually(lambda: "Resolved" in str(asked(fake, "Person s2")))
    again = await realign.teams.execute(ANNOUNCER, concern, verb=cards.RESOLVE_VERB)  # an old copy, clicked
    assert again.status == 200
    resolutions = "SELECT count(*) FROM audit_event WHERE kind = 'concern.resolved'"
    assert await count(realign.db, resolutions) == 1


async def test_a_message_typed_into_the_personal_chat_becomes_a_question(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    await announced(realign, fake)
    typed = fake.message_from("29:s3", "Who covers Christmas?")

    assert (await realign.teams.post(typed)).status == 200
    assert (await realign.teams.post(typed)).status == 200  # Teams delivers it again: asked once

    assert "Who covers Christmas?" in str(asked(fake, "Person s3"))
    asker = aad(fake, "29:s3")
    assert await count(realign.db, "SELECT count(*) FROM question WHERE asker_id = :a", a=asker) == 1
    assert any("went to Ann Announcer" in text for text in said_to(fake, "29:s3"))
    for not_a_question in ("help", "change-status"):
        await realign.teams.say("29:s3", not_a_question)
    await realign.teams.say("29:s3", "<at>Realign</at> who covers Easter?", conversation_id=TEAM)
    assert await count(realign.db, "SELECT count(*) FROM question") == 1  # commands and channels: not
    assert "announce-change" in fake.activities_in(TEAM)[-1]["text"]  # the channel gets the help

    await realign.teams.say(ANNOUNCER, "Hello?")  # sent no announcement: nothing to ask about
    assert "you have none yet" in said_to(fake, ANNOUNCER)[-1]
    assert await count(realign.db, "SELECT count(*) FROM question") == 1


async def test_a_typed_reply_is_about_the_announcement_it_replies_to(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    await announced(realign, fake)
    first = fake.activities_to("29:o5")[0]["id"]
    clock.advance(minutes=1)  # the second announcement is sent later
    await announce(realign, fake, title="Second change")  # CHG-2: o5's latest announcement
    await eventually(lambda: len(fake.cards_to("29:o5")) == 2)
    await realign.settled()

    reply = {**fake.message_from("29:o5", "Does this start on Monday?"), "replyToId": first}
    await realign.teams.post(reply)
    await realign.teams.post(fake.message_from("29:o5", "And this one?"))

    about = "SELECT change_id FROM question WHERE text = :t"
    assert await count(realign.db, about, t="Does this start on Monday?") == 1  # the one replied to
    assert await count(realign.db, about, t="And this one?") == 2  # else the latest


async def test_a_question_that_cannot_be_sent_is_said_and_can_be_sent_again(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    delivered = await announced(realign, fake)
    to_announcer = fake.personal_conversation(ANNOUNCER)
    fake.fail("send_to_conversation", status=403, when=lambda c: c.conversation_id == to_announcer)

    refused = await ask(realign, "29:o5", delivered["29:o5"], "Is the rota paid?")

    shown = refused.body["value"]
    assert "could not pass it on" in str(shown)
    assert await count(realign.db, "SELECT count(*) FROM question") == 1  # recorded, visible in status
    assert inline_form(shown, "Ask a question")["body"][0]["value"] == "Is the rota paid?"  # kept
    again = await realign.teams.execute(
        "29:o5", shown, verb=cards.ASK_VERB, inputs={"question": "Is the rota paid?"}
    )
    assert "went to Ann Announcer" in str(again.body["value"])
    assert len([c for c in fake.cards_to(ANNOUNCER) if "rota paid" in str(c)]) == 1
    assert await count(realign.db, "SELECT count(*) FROM question") == 1


async def test_only_recipients_ask_and_only_the_announcer_answers(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    delivered = await announced(realign, fake)
    await ask(realign, "29:s1", delivered["29:s1"], "A question?")
    question = asked(fake, "Person s1")

    replayed = await realign.teams.execute(
        "29:s2", question, verb=cards.ANSWER_VERB, inputs={"answer": "Me!"}
    )

    assert "Only the announcer" in str(replayed.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM question WHERE answer IS NOT NULL") == 0
    outsider = await ask(realign, ANNOUNCER, delivered["29:s1"], "Me too?")  # someone else's card
    assert copy.NOT_YOUR_DELIVERY in str(outsider.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM question") == 1


async def test_a_named_owner_answers_the_questions(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    fake.add_user("29:own", name="Owen Owner")
    await install(realign, fake)
    await realign.teams.install("29:own")  # in their personal scope: reachable, not in the audience
    await announce(realign, fake, owner=aad(fake, "29:own"))
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()

    sent = await ask(realign, "29:s1", deepcopy(fake.cards_to("29:s1")[0]), "Who do I call?")

    assert "went to Owen Owner" in str(sent.body["value"])
    question = asked(fake, "Person s1", to="29:own")
    assert not [c for c in fake.cards_to(ANNOUNCER) if "Who do I call?" in str(c)]
    answered = await realign.teams.execute(
        "29:own", question, verb=cards.ANSWER_VERB, inputs={"answer": "Me."}
    )
    assert "Your answer went to Person s1." in str(answered.body["value"])
    assert "Me." in str(fake.activities_to("29:s1")[-1]["attachments"])
    assert "Owen Owner" in str(fake.activities_to("29:s1")[-1]["attachments"])


async def test_the_action_submit_fallback_asks_too(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    delivered = await announced(realign, fake)

    answer = await realign.teams.submit(
        "29:o6", delivered["29:o6"], verb=cards.ASK_VERB, inputs={"question": "From an old client?"}
    )

    assert answer.status == 200
    assert "From an old client?" in str(asked(fake, "Person o6"))
    answered = fake.cards_to("29:o6")
    assert len(answered) == 2 and "went to Ann Announcer" in str(answered[-1])  # a note, as a message
    assert "Acknowledge" not in str(answered[-1])  # not a second copy of the announcement
