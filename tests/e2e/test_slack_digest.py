"""The digest end to end through the Slack fake, on SQLite and PostgreSQL: REALIGN_DIGEST_CHANNEL gets
exactly one chat.postMessage per slot of REALIGN_DIGEST_CRON (the FakeClock's time), with what was
announced, what comes into effect and how far each open change has landed; two processes ticking at
once, and a restart, post nothing more; a post whose answer was lost is found in the channel's history,
not posted again; a slot that passed while no process ran is skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from copy import deepcopy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.slack.digest import DIGEST_EVENT, digest_blocks
from bot.digest import Digest, DigestChange
from bot.model import ChangeState
from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.conftest import running as run_realign
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import Call, FakeSlack
from tests.fakes.slack_requests import typed

CHANNEL = "CDIGEST"
# Every Tuesday 10:00 UTC: the FakeClock starts on Tuesday 1 December 2026 at 09:00, so the slot before
# it (24 November) is a week old and skipped, and the one at 10:00 is posted once the clock gets there.
OPTIONS = {
    "REALIGN_SWEEP_INTERVAL": "1s",
    "REALIGN_WORKING_HOURS": "always",
    "REALIGN_DIGEST_CHANNEL": CHANNEL,
    "REALIGN_DIGEST_CRON": "0 10 * * tue",
}
SLOT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return OPTIONS


def digests(slack: FakeSlack) -> list[Call]:
    """The chat.postMessage calls Realign made to the digest channel."""
    return [call for call in slack.calls_to("chat.postMessage") if call.params.get("channel") == CHANNEL]


async def ticked(realign: Realign) -> None:
    """Wait until a digest tick has run whole since now: one started two seconds later or more (they run
    one at a time, every second)."""
    mark = datetime.now(UTC) + timedelta(seconds=2)
    never = "2000-01-01T00:00:00+00:00"
    await eventually(
        lambda: datetime.fromisoformat(realign.runtime.ticks.last().get("digest", never)) >= mark
    )


def channel(slack: FakeSlack) -> None:
    slack.add_channel(CHANNEL, [ANNOUNCER, "UBOT"], name="changes")


async def test_the_channel_gets_one_digest_per_slot_with_the_weeks_changes(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    channel(slack)
    key = await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(user)) == 1 for user in EVERYONE))
    await realign.settled()
    delivered = {user: deepcopy(slack.dms_to(user)[0]) for user in ("U1", "U2")}
    for user in ("U1", "U2"):
        assert (
            await realign.slack.click(user, delivered[user], action_id="realign.acknowledge")
        ).status == 200
    assert (await realign.slack.click("U3", slack.dms_to("U3")[0], action_id="realign.concern")).status == 200
    await realign.slack.submit("U3", realign.slack.open_view(), {"question": typed("Not by the 14th.")})
    await ticked(realign)
    assert digests(slack) == []  # the 24 November slot is a week old: skipped, not posted late

    clock.advance(hours=1)  # Tuesday 10:00
    await eventually(lambda: len(digests(slack)) == 1)
    await ticked(realign)
    clock.advance(hours=23)  # later ticks of the same slot post nothing
    await ticked(realign)

    assert len(digests(slack)) == 1
    posted = slack.messages_in(CHANNEL)
    assert len(posted) == 1
    shown = str(posted[0]["blocks"])
    assert "Realign digest · week to 1 Dec 2026" in shown
    assert "*Announced this week* (1)" in shown and f"*{key}* New on-call rota · by <@{ANNOUNCER}>" in shown
    assert "Coming into effect" not in shown  # 14 December is more than a week ahead
    assert f"*{key}* New on-call rota · 2/6 acknowledged (33%) · 1 open concern" in shown
    assert posted[0]["metadata"] == {"event_type": DIGEST_EVENT, "event_payload": {"slot": SLOT.isoformat()}}
    assert await count(realign.db, "SELECT count(*) FROM digest_post WHERE state = 'posted'") == 1
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'digest.posted'") == 1


@asynccontextmanager
async def running(database_url: str, slack: FakeSlack, clock: FakeClock) -> AsyncIterator[Realign]:
    async with run_realign(database_url, slack, clock, **OPTIONS) as app:
        yield app


async def test_two_processes_and_a_restart_post_each_slot_once(
    database_url: str, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    channel(slack)
    async with running(database_url, slack, clock) as first, running(database_url, slack, clock) as second:
        clock.advance(hours=1)  # both engines tick every second from now on, for the same slot
        await eventually(lambda: len(digests(slack)) == 1)
        await ticked(first)
        await ticked(second)
        assert len(digests(slack)) == 1

    async with running(database_url, slack, clock) as after:  # a restart, still within the slot's day
        clock.advance(hours=2)
        await ticked(after)
        assert len(digests(slack)) == 1
        clock.advance(days=7)  # the next Tuesday: the next slot, once
        await eventually(lambda: len(digests(slack)) == 2)
        await ticked(after)
    assert len(digests(slack)) == 2 and len(slack.messages_in(CHANNEL)) == 2
    assert "No changes this week" in str(slack.messages_in(CHANNEL)[0]["blocks"])


async def test_a_digest_whose_answer_was_lost_is_found_in_the_channel_not_posted_again(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    channel(slack)
    slack.fail("chat.postMessage", status=500, after_effect=True)  # posted, but Realign hears a 500

    clock.advance(hours=1)
    await eventually(lambda: len(digests(slack)) == 1)
    await ticked(realign)
    assert await count(realign.db, "SELECT count(*) FROM digest_post WHERE state = 'claimed'") == 1
    clock.advance(minutes=2)  # the claim's lease runs out: the next tick takes it over and looks first
    await eventually(lambda: len(slack.calls_to("conversations.history")) >= 1)
    await ticked(realign)

    assert len(digests(slack)) == 1 and len(slack.messages_in(CHANNEL)) == 1
    ts = slack.messages_in(CHANNEL)[0]["ts"]
    posted = "SELECT count(*) FROM digest_post WHERE state = 'posted' AND ref = :ref"
    assert await count(realign.db, posted, ref=f"{CHANNEL}/{ts}") == 1


async def test_a_slot_that_passed_while_no_process_ran_is_skipped(
    database_url: str, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    channel(slack)
    async with running(database_url, slack, clock) as before:
        await ticked(before)
    clock.advance(days=1, hours=2)  # down from Tuesday 09:00 to Wednesday 11:00: the 10:00 slot passed

    async with running(database_url, slack, clock) as after:
        await ticked(after)
        assert digests(slack) == []
        assert await count(after.db, "SELECT count(*) FROM digest_post") == 0
        clock.advance(days=6)  # the next Tuesday 11:00: that slot is an hour old, and posted
        await eventually(lambda: len(digests(slack)) == 1)
    assert digests(slack)[0].params["metadata"]["event_payload"] == {
        "slot": (SLOT + timedelta(days=7)).isoformat()
    }


def test_long_lists_are_capped_with_how_many_more() -> None:
    slot = SLOT
    many = [
        DigestChange(
            key=f"CHG-{n}",
            title=f"Change {n}",
            announcer_id="UANN",
            state=ChangeState.PUBLISHED,
            published_at=slot - timedelta(days=1),
            effective_date=date(2026, 12, 3),
            targeted=4,
            acknowledged=n % 5,
        )
        for n in range(1, 16)
    ]
    blocks = digest_blocks(
        Digest(slot=slot, since=slot - timedelta(days=7), announced=many, coming=many, open=many)
    )

    sections = [block["text"]["text"] for block in blocks if block["type"] == "section"]
    assert len(sections) == 3 and all("…and 5 more" in text for text in sections)
    assert all(len(text.splitlines()) == 1 + 10 + 1 for text in sections)  # heading, ten lines, the rest
    assert "*Coming into effect in the next 7 days* (15)" in sections[1]
