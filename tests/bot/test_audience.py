"""Resolving audience groups: one recipient per person, and every left-out account with its reason."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from bot.audience import anyone_reachable, resolve
from bot.model import AudienceGroup, Exclusion, Person
from bot.ports import Excluded, Recipient
from tests.bot.memory import MemoryDirectory

ANNOUNCER = "UANN"


@pytest.fixture
def directory(directory: MemoryDirectory) -> MemoryDirectory:
    for user_id in (ANNOUNCER, "UBOB", "UCAT", "UDAN", "UEVE"):
        directory.person(user_id)
    directory.person("UBOT", is_bot=True)
    directory.person("UGONE", active=False)
    directory.person("USLACKBOT", name="Slackbot")
    directory.usergroup("S1", "support", "UCAT", "UDAN")
    directory.channel("C1", "UBOB", "UEVE")
    return directory


async def test_a_person_in_two_groups_is_one_recipient_carrying_both_groups(
    directory: MemoryDirectory,
) -> None:
    sales = AudienceGroup("Sales", "Log calls", user_ids=("UBOB", "UCAT"))
    support = AudienceGroup("Support", "Answer in 1h", usergroup_ids=("S1",))

    resolution = await resolve([sales, support], directory=directory, announcer_id=ANNOUNCER)

    assert sorted(resolution.recipients, key=lambda r: r.user_id) == [
        Recipient("UBOB", 0b01),
        Recipient("UCAT", 0b11),
        Recipient("UDAN", 0b10),
    ]
    assert resolution.excluded == []
    assert resolution.per_group == [2, 2]


async def test_people_channels_and_user_groups_of_one_group_are_merged(directory: MemoryDirectory) -> None:
    everyone = AudienceGroup("All", "Read it", user_ids=("UBOB",), usergroup_ids=("S1",), channel_ids=("C1",))

    resolution = await resolve([everyone], directory=directory, announcer_id=ANNOUNCER)

    assert sorted(r.user_id for r in resolution.recipients) == ["UBOB", "UCAT", "UDAN", "UEVE"]
    assert resolution.per_group == [4]


async def test_accounts_that_cannot_or_should_not_be_messaged_are_excluded_with_a_reason(
    directory: MemoryDirectory,
) -> None:
    selected = (ANNOUNCER, "UBOT", "UGONE", "UNKNOWN", "USLACKBOT", "UBOB")
    group = AudienceGroup("Everyone", "Read it", user_ids=selected)

    resolution = await resolve([group], directory=directory, announcer_id=ANNOUNCER)

    assert resolution.recipients == [Recipient("UBOB", 0b1)]
    assert sorted(resolution.excluded, key=lambda e: e.user_id) == [
        Excluded(ANNOUNCER, 0b1, Exclusion.ANNOUNCER),
        Excluded("UBOT", 0b1, Exclusion.BOT),
        Excluded("UGONE", 0b1, Exclusion.DEACTIVATED),
        Excluded("UNKNOWN", 0b1, Exclusion.NOT_FOUND),
        Excluded("USLACKBOT", 0b1, Exclusion.BOT),
    ]
    assert resolution.exclusions == {
        Exclusion.ANNOUNCER: 1,
        Exclusion.BOT: 2,
        Exclusion.DEACTIVATED: 1,
        Exclusion.NOT_FOUND: 1,
    }


async def test_an_excluded_person_keeps_every_group_they_were_selected_in(directory: MemoryDirectory) -> None:
    first = AudienceGroup("A", "x", user_ids=("UGONE", "UBOB"))
    second = AudienceGroup("B", "y", user_ids=("UGONE",))

    resolution = await resolve([first, second], directory=directory, announcer_id=ANNOUNCER)

    assert resolution.excluded == [Excluded("UGONE", 0b11, Exclusion.DEACTIVATED)]


async def test_per_group_counts_only_the_people_who_will_be_messaged(directory: MemoryDirectory) -> None:
    mostly_bots = AudienceGroup("Bots", "x", user_ids=("UBOT", "USLACKBOT", ANNOUNCER, "UBOB"))
    people = AudienceGroup("People", "y", user_ids=("UCAT", "UDAN", "UGONE"))

    resolution = await resolve([mostly_bots, people], directory=directory, announcer_id=ANNOUNCER)

    assert resolution.per_group == [1, 2]
    assert len(resolution.recipients) == 3
    assert len(resolution.excluded) == 4


async def test_no_groups_resolve_to_nobody(directory: MemoryDirectory) -> None:
    resolution = await resolve([], directory=directory, announcer_id=ANNOUNCER)

    assert (resolution.recipients, resolution.excluded, resolution.per_group) == ([], [], [])


async def test_whether_anyone_is_reachable_is_settled_batch_by_batch(
    directory: MemoryDirectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = [f"U{n:05d}" for n in range(2_000)]
    for user_id in crowd:
        directory.person(user_id)
    looked_up: list[int] = []
    people = directory.people

    async def counting(user_ids: Collection[str]) -> dict[str, Person]:
        looked_up.append(len(user_ids))
        return await people(user_ids)

    monkeypatch.setattr(directory, "people", counting)
    everyone = AudienceGroup("All", "x", user_ids=(ANNOUNCER, "UBOT", *crowd))
    assert await anyone_reachable([everyone], directory=directory, announcer_id=ANNOUNCER, batch=500)
    assert looked_up == [500]  # the first batch had someone: the other 1,502 were never looked up

    nobody = AudienceGroup("None", "x", user_ids=(ANNOUNCER, "UBOT", "UGONE", "USLACKBOT", "UNKNOWN"))
    assert not await anyone_reachable([nobody], directory=directory, announcer_id=ANNOUNCER, batch=2)
