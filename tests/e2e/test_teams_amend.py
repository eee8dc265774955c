"""Amending a published change on Teams, through the real HTTP app and the connector fake, on SQLite and
PostgreSQL: the Amend action of change-status opens the change as a card form; only the people whose
expectations changed are asked again (their card updated in place, a note after it); the others' cards
are left alone; a refusal is said on the form."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from adapters.teams import amend, cards
from tests.conftest import count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, ONCALL_MEMBERS, announce, install, realign, seed  # noqa: F401
from tests.fakes.teams_connector import FakeConnector


def inputs_of(form: dict[str, Any], **changed: str) -> dict[str, str]:
    """What Teams sends with the form: every input as shown, but those in `changed`."""
    return {f["id"]: changed.get(f["id"], f.get("value", "")) for f in form["body"] if "id" in f}


async def test_only_the_group_whose_expectations_changed_is_asked_again(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    await install(realign, fake)
    await announce(realign, fake)
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    delivered = {u: deepcopy(fake.cards_to(u)[0]) for u in EVERYONE}
    for user in ("29:s1", "29:o5"):
        await realign.teams.execute(user, delivered[user], verb=cards.ACK_VERB)
    await eventually(lambda: all("Acknowledged" in str(fake.cards_to(u)[0]) for u in ("29:s1", "29:o5")))
    await realign.settled()

    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    status = realign.teams.last_card(ANNOUNCER)
    refused = await realign.teams.execute("29:s1", status, verb=cards.AMEND_VERB)  # not the announcer
    assert "only the announcer of CHG-1 can amend it" in str(refused.body["value"])
    opened = await realign.teams.execute(ANNOUNCER, status, verb=cards.AMEND_VERB)
    form = opened.body["value"]
    assert inputs_of(form)["group_1"] == "Hand over at 18:00."

    past = await realign.teams.execute(
        ANNOUNCER, form, verb=amend.AMEND_SUBMIT_VERB, inputs=inputs_of(form, ack_deadline="2026-11-20")
    )
    again = past.body["value"]
    assert "This date has already passed." in str(again) and inputs_of(again)["ack_deadline"] == "2026-11-20"
    assert await count(realign.db, "SELECT max(revision) FROM change") == 0

    done = await realign.teams.execute(
        ANNOUNCER, form, verb=amend.AMEND_SUBMIT_VERB, inputs=inputs_of(form, group_1="Hand over at 17:00.")
    )
    assert "1 people are asked to acknowledge again; 3 messages are updated" in str(done.body["value"])
    await eventually(lambda: all(len(fake.cards_to(u)) == 2 for u in ONCALL_MEMBERS))
    await realign.settled()
    for user in ONCALL_MEMBERS:
        updated, note = fake.cards_to(user)
        assert "Hand over at 17:00." in str(updated) and "Updated" in str(updated)
        assert "was updated" in str(note) and cards.ACK_VERB in str(note)
    assert "Acknowledged" not in str(fake.cards_to("29:o5")[0])
    for user in ("29:s1", "29:s2", "29:s3"):  # not in On-call: not disturbed
        assert fake.cards_to(user) == [fake.cards_to(user)[0]] and "Updated" not in str(
            fake.cards_to(user)[0]
        )
    assert "Acknowledged" in str(fake.cards_to("29:s1")[0])
    assert await count(realign.db, "SELECT count(*) FROM ack_history") == 1

    note = fake.cards_to("29:o5")[1]
    await realign.teams.execute("29:o5", note, verb=cards.ACK_VERB)  # acknowledged again, from the note
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 2
