"""In your own words on Teams, through the real HTTP app and the connector fake, on SQLite and PostgreSQL:
a change that asks for a line turns Acknowledge into a one-line form on the card (required); the line is
kept, the acknowledgement recorded as the plain Acknowledge records it, and the announcer reads the lines
by audience group and department in change-status (and in the export)."""

from __future__ import annotations

from copy import deepcopy

from adapters.teams import cards
from bot import copy
from tests.conftest import count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake  # noqa: F401
from tests.e2e.test_export import rows, run
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, aad, announce, install, realign, seed  # noqa: F401
from tests.fakes.teams_connector import FakeConnector

ACKNOWLEDGED = "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL"


async def announced_in_own_words(realign: TeamsRealign, teams: FakeConnector) -> dict[str, dict]:  # noqa: F811
    seed(teams)
    await install(realign, teams)
    await announce(realign, teams, own_words="true")
    await eventually(lambda: all(len(teams.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    return {u: deepcopy(teams.cards_to(u)[0]) for u in EVERYONE}


async def test_lines_are_kept_and_shown_by_group_and_department(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
    database_url: str,
) -> None:
    delivered = await announced_in_own_words(realign, fake)
    acknowledge = delivered["29:s1"]["actions"][0]
    assert acknowledge["type"] == "Action.ShowCard" and acknowledge["title"] == "Acknowledge"
    [line] = acknowledge["card"]["body"]
    assert line["type"] == "Input.Text" and line["id"] == "own_words" and line["isRequired"] is True
    assert "what will you do differently" in line["label"]

    refused = await realign.teams.execute(
        "29:s1", delivered["29:s1"], verb=cards.ACK_WORDS_VERB, inputs={"own_words": "   "}
    )
    assert refused.status == 200 and copy.OWN_WORDS_NEEDED in str(refused.body["value"])
    assert await count(realign.db, ACKNOWLEDGED) == 0

    done = await realign.teams.execute(
        "29:s1",
        delivered["29:s1"],
        verb=cards.ACK_WORDS_VERB,
        inputs={"own_words": "I answer weekend pages."},
    )
    assert "Acknowledged" in str(done.body["value"]) and "own_words" not in str(done.body["value"])
    await realign.teams.execute(
        "29:o5", delivered["29:o5"], verb=cards.ACK_WORDS_VERB, inputs={"own_words": "I hand over at 18:00."}
    )
    await eventually(lambda: "Acknowledged" in str(fake.cards_to("29:s1")[0]))  # updated in place
    assert len(fake.activities_to("29:s1")) == 1
    assert await count(realign.db, ACKNOWLEDGED) == 2
    assert await count(realign.db, "SELECT count(*) FROM own_words") == 2
    said = "SELECT count(*) FROM audit_event WHERE kind IN ('delivery.own_words', 'delivery.acknowledged')"
    assert await count(realign.db, said) == 4

    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    status = str(realign.teams.last_card(ANNOUNCER))
    mine = status.index("In their own words (2)")
    support, oncall = status.index("**Support**", mine), status.index("**On-call**", mine)
    assert support < status.index("Person s1: I answer weekend pages.") < oncall
    assert oncall < status.index("Person o5: I hand over at 18:00.")
    code, out, _ = await run(database_url, "CHG-1")  # and in the audit export
    assert code == 0
    lines = {row["user_id"]: row["own_words"] for row in rows(out)}
    assert lines[aad(fake, "29:s1")] == "I answer weekend pages." and lines[aad(fake, "29:s2")] == ""


async def test_someone_elses_line_is_refused(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    delivered = await announced_in_own_words(realign, fake)

    replayed = await realign.teams.execute(
        "29:s2", delivered["29:s1"], verb=cards.ACK_WORDS_VERB, inputs={"own_words": "Not mine."}
    )

    assert copy.NOT_YOUR_DELIVERY in str(replayed.body["value"])
    assert await count(realign.db, "SELECT count(*) FROM own_words") == 0
    assert await count(realign.db, ACKNOWLEDGED) == 0


async def test_a_change_without_own_words_keeps_the_plain_acknowledge(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    await install(realign, fake)
    await announce(realign, fake)
    await eventually(lambda: len(fake.cards_to("29:s1")) == 1)

    [acknowledge, *_] = fake.cards_to("29:s1")[0]["actions"]

    assert acknowledge["type"] == "Action.Execute" and acknowledge["verb"] == cards.ACK_VERB
    assert "own_words" not in str(fake.cards_to("29:s1")[0])
