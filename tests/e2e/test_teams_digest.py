"""The digest end to end through the Bot Framework connector fake, on SQLite and PostgreSQL:
REALIGN_DIGEST_CHANNEL=teams:<tenant id>/<channel conversation id> gets exactly one Adaptive Card per slot
of REALIGN_DIGEST_CRON (the FakeClock's time), posted with send_to_conversation to the channel of the team
Realign is installed in, listing the tenant's changes with their acknowledgement rates; its activity id is
recorded in `digest_post`. A post whose answer was lost is not posted again (a Teams channel cannot be
looked in); one that surely had no effect is posted when the claim is taken over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest_asyncio

from adapters.teams import cards
from adapters.teams.digest import SENDING, digest_card
from bot.digest import Digest, DigestChange
from bot.model import ChangeState
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, ONCALL, TEAM, announce, install, seed
from tests.fakes.teams_connector import ADAPTIVE_CARD, DEFAULT_TENANT, Call, FakeConnector

# Every Tuesday 10:00 UTC: the FakeClock starts on Tuesday 1 December 2026 at 09:00, so the slot before
# it (24 November) is a week old and skipped, and the one at 10:00 is posted once the clock gets there.
OPTIONS = {
    "REALIGN_SWEEP_INTERVAL": "1s",
    "REALIGN_WORKING_HOURS": "always",
    "REALIGN_DIGEST_CHANNEL": f"teams:{DEFAULT_TENANT}/{TEAM}",
    "REALIGN_DIGEST_CRON": "0 10 * * tue",
}
DESTINATION = f"teams:{DEFAULT_TENANT}/{TEAM}"
HEADER = "Realign digest · week to 1 Dec 2026"


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    async with running(database_url, fake, clock, **OPTIONS) as app:
        yield app


def digests(teams: FakeConnector, conversation: str = TEAM) -> list[dict[str, Any]]:
    """The digest cards Realign posted in a channel."""
    return [
        attachment["content"]
        for activity in teams.activities_in(conversation)
        for attachment in activity.get("attachments") or ()
        if attachment.get("contentType") == ADAPTIVE_CARD and "Realign digest" in str(attachment["content"])
    ]


def to_channel(call: Call) -> bool:
    return call.conversation_id == TEAM


async def ticked(realign: TeamsRealign) -> None:
    """Wait until a digest tick has run whole since now: one started two seconds later or more (they run
    one at a time, every second)."""
    mark = datetime.now(UTC) + timedelta(seconds=2)
    never = "2000-01-01T00:00:00+00:00"
    await eventually(
        lambda: datetime.fromisoformat(realign.runtime.ticks.last().get("digest", never)) >= mark
    )


async def test_the_team_channel_gets_one_digest_card_per_slot_with_the_tenants_changes(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    key = await announce(realign, fake)
    await eventually(lambda: all(len(fake.cards_to(user)) == 1 for user in EVERYONE))
    await realign.settled()
    delivered = {user: deepcopy(fake.cards_to(user)[0]) for user in ("29:s1", "29:s2", "29:s3")}
    for user, card in delivered.items():
        assert (await realign.teams.execute(user, card, verb=cards.ACK_VERB)).status == 200
    await ticked(realign)
    assert digests(fake) == []  # the 24 November slot is a week old: skipped, not posted late

    clock.advance(hours=1)  # Tuesday 10:00
    await eventually(lambda: len(digests(fake)) == 1)
    await ticked(realign)
    clock.advance(hours=23)  # later ticks of the same slot post nothing
    await ticked(realign)

    assert len(digests(fake)) == 1 and digests(fake, ONCALL) == []
    assert len([c for c in fake.calls_to("send_to_conversation") if to_channel(c)]) == 1
    shown = str(digests(fake)[0])
    assert HEADER in shown
    assert f"**{key}** New on-call rota · by Ann Announcer, 1 Dec 2026" in shown
    assert f"**{key}** New on-call rota · 3/6 acknowledged (50%)" in shown
    assert "Coming into effect" not in shown  # 14 December is more than a week ahead
    [activity] = [a for a in fake.activities_in(TEAM) if HEADER in str(a)]
    posted = "SELECT count(*) FROM digest_post WHERE state = 'posted' AND destination = :d AND ref = :ref"
    assert await count(realign.db, posted, d=DESTINATION, ref=f"{TEAM}/{activity['id']}") == 1
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'digest.posted'") == 1


async def test_a_digest_whose_answer_was_lost_is_not_posted_again(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.fail("send_to_conversation", status=500, after_effect=True, when=to_channel)  # posted, heard 500

    clock.advance(hours=1)
    await eventually(lambda: len(digests(fake)) == 1)
    await ticked(realign)
    clock.advance(minutes=3)  # the claim's lease runs out: the next tick takes it over, cannot look, waits
    await ticked(realign)
    await ticked(realign)

    assert len(digests(fake)) == 1
    assert len([c for c in fake.calls_to("send_to_conversation") if to_channel(c)]) == 1
    held = "SELECT count(*) FROM digest_post WHERE state = 'claimed' AND ref = :ref AND lease_until > :soon"
    soon = clock.now() + timedelta(minutes=30)  # held for an hour, not taken over every lease
    assert await count(realign.db, held, ref=SENDING, soon=soon) == 1


async def test_a_digest_surely_not_posted_is_posted_when_the_claim_is_taken_over(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.fail("send_to_conversation", status=429, retry_after=1, when=to_channel)  # throttled: no effect

    clock.advance(hours=1)
    await eventually(lambda: len([c for c in fake.calls_to("send_to_conversation") if to_channel(c)]) == 1)
    await ticked(realign)
    assert digests(fake) == []
    claimed = "SELECT count(*) FROM digest_post WHERE state = 'claimed' AND ref IS NULL"
    assert await count(realign.db, claimed) == 1
    clock.advance(minutes=3)  # the lease runs out: nothing was posted, so the next claim posts it
    await eventually(lambda: len(digests(fake)) == 1)
    await ticked(realign)

    assert len(digests(fake)) == 1
    assert "No changes this week" in str(digests(fake)[0])
    assert await count(realign.db, "SELECT count(*) FROM digest_post WHERE state = 'posted'") == 1


async def test_a_channel_realign_is_not_installed_in_gets_nothing(
    database_url: str,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    elsewhere = "19:not-installed@thread.tacv2"
    fake.add_team(elsewhere, [ANNOUNCER], name="Elsewhere")
    options = OPTIONS | {"REALIGN_DIGEST_CHANNEL": f"teams:{DEFAULT_TENANT}/{elsewhere}"}
    async with running(database_url, fake, clock, **options) as realign:
        await install(realign, fake)
        clock.advance(hours=1)
        await ticked(realign)
        await ticked(realign)

        assert digests(fake, elsewhere) == [] and digests(fake) == []
        held = "SELECT count(*) FROM digest_post WHERE state = 'claimed' AND lease_until > :soon"
        assert await count(realign.db, held, soon=clock.now() + timedelta(minutes=30)) == 1


def test_long_lists_are_capped_with_how_many_more_and_announcers_go_by_name() -> None:
    slot = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    many = [
        DigestChange(
            key=f"CHG-{n}",
            title=f"Change {n}",
            announcer_id="aad-ann",
            state=ChangeState.PUBLISHED,
            published_at=slot - timedelta(days=1),
            effective_date=date(2026, 12, 3),
            targeted=4,
            acknowledged=n % 5,
        )
        for n in range(1, 16)
    ]
    card = digest_card(
        Digest(slot=slot, since=slot - timedelta(days=7), announced=many, coming=many, open=many),
        {"aad-ann": "Ann Announcer"},
    )

    texts = [block["text"] for block in card["body"]]
    assert texts[0] == HEADER and len(texts) == 1 + 3 * 2  # the header, then a heading and a list each
    lists = texts[2::2]
    assert all(text.endswith("…and 5 more") and len(text.splitlines()) == 10 + 1 for text in lists)
    assert texts[3] == "**Coming into effect in the next 7 days** (15)"
    assert lists[0].startswith("- **CHG-1** Change 1 · by Ann Announcer, 30 Nov 2026")
    assert "- **CHG-1** Change 1 · 1/4 acknowledged (25%)" in lists[2]
