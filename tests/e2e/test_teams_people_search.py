"""The announce card's people pickers on Teams are searchable: a few people are listed, everyone else is
found by typing (Input.ChoiceSet `choices.data`, an `application/search` invoke answered from the person
table), and the one who answers questions is picked the same way; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from adapters.teams import forms
from bot import copy
from tests.conftest import FakeClock, count
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, TEAM, aad, basics, install, realign, seed  # noqa: F401
from tests.fakes.teams_connector import FakeConnector

SEARCH_RESPONSE = "application/vnd.microsoft.search.searchResponse"


async def search(realign: TeamsRealign, text: str, **options: Any) -> list[dict[str, str]]:  # noqa: F811
    found = await realign.teams.search(ANNOUNCER, text, dataset=forms.PEOPLE_DATASET, **options)
    assert found.status == 200 and found.body["type"] == SEARCH_RESPONSE
    results: list[dict[str, str]] = found.body["value"]["results"]
    return results


def field(card: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in card["body"] if f.get("id") == name)


async def test_people_are_found_by_typing_part_of_a_name_or_email(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake, extra=300)  # more people than a card lists
    await install(realign, fake)
    await realign.teams.say(ANNOUNCER, "announce-change")
    form = realign.teams.last_card(ANNOUNCER)
    for name in ("people", "owner"):
        picker = field(form, name)
        assert picker["choices.data"] == {"type": "Data.Query", "dataset": forms.PEOPLE_DATASET}
        assert picker["style"] == "filtered" and len(picker["choices"]) == forms.SHOWN_PEOPLE
    assert field(form, "people")["isMultiSelect"] is True and field(form, "owner")["isMultiSelect"] is False

    found = await search(realign, "person s")

    assert [r["title"] for r in found] == ["Person s1", "Person s2", "Person s3", "Person s4"]
    assert [r["value"] for r in found] == aad(fake, "29:s1", "29:s2", "29:s3", "29:s4").split(",")
    by_email = await search(realign, "X-00299@EXAMPLE")  # any case, in the email too
    assert [r["value"] for r in by_email] == [aad(fake, "29:x-00299")]
    first, second = (
        await search(realign, "user x-", top=50),
        await search(realign, "user x-", skip=50, top=50),
    )
    assert len(first) == len(second) == 50 and not {r["value"] for r in first} & {r["value"] for r in second}
    assert await search(realign, "%") == [] and await search(realign, "_") == []  # typed, not patterns
    assert len(await search(realign, "", top=500)) == 50  # at most 50 a query
    other = await realign.teams.search(ANNOUNCER, "person", dataset="somebody-elses")
    assert other.body["value"]["results"] == []


async def test_chosen_people_are_shown_again_and_an_unknown_owner_is_refused(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake, extra=300)
    await install(realign, fake)
    await realign.teams.say(ANNOUNCER, "announce-change Rota")
    form = realign.teams.last_card(ANNOUNCER)
    far = aad(fake, "29:x-00299")  # not among the people the card lists at first
    group = {"name": "Support", "channels": TEAM, "people": far, "from_effective": "Answer weekend pages."}

    refused = await realign.teams.execute(
        ANNOUNCER, form, verb=forms.BASICS_VERB, inputs=basics(owner="no-such-person") | group
    )

    shown = refused.body["value"]
    assert copy.UNREADABLE in str(shown)
    assert {"title": "User x-00299", "value": far} in field(shown, "people")["choices"]
    assert await count(realign.db, "SELECT count(*) FROM change") == 0
    owner = aad(fake, "29:s2")
    step = await realign.teams.execute(
        ANNOUNCER, shown, verb=forms.BASICS_VERB, inputs=basics(owner=owner, own_words="true") | group
    )
    assert "Publish" in str(step.body["value"])  # the review
    owners = "SELECT count(*) FROM change WHERE owner_id = :o AND own_words"
    assert await count(realign.db, owners, o=owner) == 1


async def test_only_those_who_may_announce_search_the_directory(
    database_url: str,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    only_ann = fake.users[ANNOUNCER]["aadObjectId"]
    async with running(database_url, fake, clock, REALIGN_ANNOUNCERS=only_ann) as app:
        await install(app, fake)

        assert [r["title"] for r in await search(app, "person s1")] == ["Person s1"]
        stranger = await app.teams.search("29:s2", "person", dataset=forms.PEOPLE_DATASET)

        assert stranger.status == 200 and stranger.body["value"]["results"] == []
