"""The digest in the core, at a controlled clock: what it lists for a slot (announced in the week up to
the slot, coming into effect in the seven days from it, every open change least acknowledged first),
and the tick that posts each slot's digest once: a second tick, or a second process, posts nothing more;
a claim taken over after a lost answer finds the first post instead of posting again; a slot older than
a day is skipped, not posted late; a refusal waits an hour."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.digest import (
    FAILED_WAIT,
    Destination,
    Digest,
    DigestChange,
    DigestClaim,
    Digesting,
    DigestPoster,
    digest,
)
from bot.model import ChangeState, MessageRef
from bot.ports import Failed, Found, Retry, SendResult, Sent
from tests.conftest import FakeClock

SLOT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 09:00
SINCE = SLOT - timedelta(days=7)
WHERE = Destination("slack:T1", "C1")


def change(key: str, **fields: object) -> DigestChange:
    values: dict[str, object] = {
        "title": f"Change {key}",
        "announcer_id": "UANN",
        "state": ChangeState.PUBLISHED,
        "published_at": SINCE - timedelta(days=3),
        "effective_date": date(2027, 1, 31),
        "targeted": 10,
        "acknowledged": 5,
    }
    return DigestChange(key=key, **(values | fields))  # type: ignore[arg-type]


def test_the_digest_lists_the_weeks_announcements_what_comes_into_effect_and_each_open_change() -> None:
    changes = [
        change("CHG-1", published_at=SINCE + timedelta(days=3), acknowledged=9),
        change("CHG-2", published_at=SINCE + timedelta(days=1), acknowledged=2),
        change("CHG-3", published_at=SINCE, effective_date=date(2026, 12, 13)),  # the window opens after
        change("CHG-4", state=ChangeState.CLOSED, effective_date=date(2026, 12, 7)),  # on the slot's day
        change("CHG-5", effective_date=date(2026, 12, 14)),  # a week on: not "in the coming 7 days"
        change("CHG-6", published_at=SLOT + timedelta(seconds=1)),  # after the slot: next week's
        change("CHG-7", state=ChangeState.CLOSED, published_at=SINCE + timedelta(days=2)),
        change("CHG-8", published_at=SLOT, targeted=0, acknowledged=0),  # exactly at the slot: this week
    ]

    shown = digest(changes, since=SINCE, slot=SLOT)

    assert [c.key for c in shown.announced] == ["CHG-2", "CHG-7", "CHG-1", "CHG-8"]  # oldest first
    assert [c.key for c in shown.coming] == ["CHG-4", "CHG-3"]  # soonest first
    # Open (published) changes, least acknowledged first: 0/0, 2/10, then 5/10 by key, then 9/10.
    assert [c.key for c in shown.open] == ["CHG-8", "CHG-2", "CHG-3", "CHG-5", "CHG-6", "CHG-1"]
    assert not shown.empty and shown.slot == SLOT and shown.since == SINCE


def test_a_week_with_nothing_to_report_is_an_empty_digest() -> None:
    quiet = [change("CHG-1", state=ChangeState.CLOSED, published_at=SINCE - timedelta(days=30))]

    assert digest(quiet, since=SINCE, slot=SLOT).empty
    assert digest([], since=SINCE, slot=SLOT).empty


# --- the tick, over in-memory ports -------------------------------------------------------------------


@dataclass
class Row:
    state: str
    lease_until: datetime | None
    ref: MessageRef | None = None


class MemoryDigests:
    """`DigestStore` in a dict, with the claim rules of store.digest."""

    def __init__(self, changes: list[DigestChange] | None = None) -> None:
        self.rows: dict[tuple[datetime, str], Row] = {}
        self.listed = changes or []

    async def claim(
        self, *, slot: datetime, destination: str, now: datetime, lease: timedelta
    ) -> DigestClaim | None:
        row = self.rows.get((slot, destination))
        if row is None:
            self.rows[(slot, destination)] = Row("claimed", now + lease)
            return DigestClaim(slot, destination, now + lease, taken_over=False)
        if row.state == "claimed" and row.lease_until is not None and row.lease_until <= now:
            row.lease_until = now + lease
            return DigestClaim(slot, destination, now + lease, taken_over=True)
        return None

    async def posted(self, claim: DigestClaim, *, ref: MessageRef, at: datetime) -> None:
        row = self.rows[(claim.slot, claim.destination)]
        if row.state == "claimed":
            row.state, row.lease_until, row.ref = "posted", None, ref

    async def hold(self, claim: DigestClaim, *, until: datetime) -> None:
        self.rows[(claim.slot, claim.destination)].lease_until = until

    async def state(self, *, slot: datetime, destination: str) -> str | None:
        row = self.rows.get((slot, destination))
        return None if row is None else row.state

    async def changes(
        self, *, workspace: str, since: datetime, until: datetime, effective: tuple[date, date]
    ) -> list[DigestChange]:
        return list(self.listed)


@dataclass
class Channel:
    """`DigestPoster` over a list of posted digests; `answers` scripts what the next posts return."""

    posted: list[Digest] = field(default_factory=list)
    answers: list[SendResult | str] = field(default_factory=list)  # "lost": posted, but Retry(unsure)
    lookups: int = 0
    look_fails: Retry | None = None  # what looking answers instead of looking

    async def post_digest(self, digest: Digest, *, channel: str) -> SendResult:
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Retry | Failed):
            return answer
        self.posted.append(digest)
        if answer == "lost":
            return Retry("timeout", unsure=True)
        return Sent(MessageRef(channel, f"{len(self.posted)}.0"))

    async def find_digest(self, *, channel: str, slot: datetime) -> Found:
        self.lookups += 1
        if self.look_fails is not None:
            return self.look_fails
        for n, posted in enumerate(self.posted, start=1):
            if posted.slot == slot:
                return MessageRef(channel, f"{n}.0")
        return None


class Weekly:
    """Slots every Monday 09:00 UTC (realign.cron.CronSchedule reads crontabs; this is its contract)."""

    def latest(self, at: datetime) -> datetime | None:
        monday = (at - timedelta(days=at.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
        return monday if monday <= at else monday - timedelta(days=7)

    def before(self, moment: datetime) -> datetime | None:
        return self.latest(moment - timedelta(microseconds=1))


def ticking(store: MemoryDigests, channel: Channel, clock: FakeClock) -> Digesting:
    async def poster(workspace: str) -> DigestPoster | None:
        return channel if workspace == WHERE.workspace else None

    return Digesting(store=store, slots=Weekly(), destination=WHERE, poster=poster, clock=clock)


@pytest.fixture
def monday() -> FakeClock:
    return FakeClock(SLOT + timedelta(minutes=1))


async def test_each_slot_is_posted_once_by_however_many_ticks_and_processes(monday: FakeClock) -> None:
    store, channel = MemoryDigests([change("CHG-1", published_at=SINCE + timedelta(days=1))]), Channel()
    first, second = ticking(store, channel, monday), ticking(store, channel, monday)

    assert await first.tick()
    assert not await second.tick() and not await first.tick()
    monday.advance(hours=23)
    assert not await second.tick()

    assert [d.slot for d in channel.posted] == [SLOT]
    assert [c.key for c in channel.posted[0].announced] == ["CHG-1"] and channel.posted[0].since == SINCE
    assert store.rows[(SLOT, WHERE.key)].ref == MessageRef("C1", "1.0")
    monday.advance(days=6, hours=1)  # the next Monday's slot
    assert await second.tick() and [d.slot for d in channel.posted] == [SLOT, SLOT + timedelta(days=7)]


async def test_a_post_whose_answer_was_lost_is_found_not_posted_again(monday: FakeClock) -> None:
    store, channel = MemoryDigests(), Channel(answers=["lost"])
    tick = ticking(store, channel, monday)

    assert not await tick.tick()  # posted, but Realign never heard: the claim stays until its lease ends
    assert not await tick.tick() and channel.lookups == 0
    monday.advance(minutes=2)
    assert await tick.tick()  # taken over: looked for first, and found

    assert len(channel.posted) == 1 and channel.lookups == 1
    assert store.rows[(SLOT, WHERE.key)].state == "posted"


async def test_a_taken_over_claim_posts_when_nothing_was_posted_and_waits_when_it_cannot_look(
    monday: FakeClock,
) -> None:
    store, channel = MemoryDigests(), Channel(answers=[Retry("connection failed")])
    tick = ticking(store, channel, monday)
    assert not await tick.tick()  # never reached Slack

    channel.look_fails = Retry("internal_error", unsure=True)
    monday.advance(minutes=2)
    assert not await tick.tick() and channel.posted == []  # cannot tell whether it is there: no post
    channel.look_fails = None
    monday.advance(minutes=2)
    assert await tick.tick()

    assert len(channel.posted) == 1 and channel.lookups == 2


async def test_a_slot_older_than_a_day_is_skipped_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    late = FakeClock(SLOT + timedelta(days=1, seconds=1))  # Realign was down all Monday
    store, channel = MemoryDigests(), Channel()
    tick = ticking(store, channel, late)

    with caplog.at_level(logging.WARNING, logger="bot.digest"):
        assert not await tick.tick()
        assert not await tick.tick()

    assert channel.posted == [] and store.rows == {}
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "2026-12-07 09:00:00+00:00" in skipped[0].getMessage()
    on_time = FakeClock(SLOT + timedelta(days=1))  # exactly a day: still posted
    assert await ticking(store, channel, on_time).tick()


async def test_a_refused_post_or_lookup_is_tried_again_an_hour_later(monday: FakeClock) -> None:
    store, channel = MemoryDigests(), Channel(answers=[Failed("not_in_channel")])
    tick = ticking(store, channel, monday)

    assert not await tick.tick()
    monday.advance(seconds=FAILED_WAIT.total_seconds() - 1)
    assert not await tick.tick()
    channel.look_fails = Retry("not_in_channel", after=60)  # Realign is still not in the channel
    monday.advance(seconds=1)
    assert not await tick.tick() and channel.lookups == 1
    monday.advance(seconds=FAILED_WAIT.total_seconds() - 1)
    assert not await tick.tick() and channel.lookups == 1  # held again, not looked for every lease
    channel.look_fails = None  # invited
    monday.advance(seconds=1)
    assert await tick.tick()

    assert len(channel.posted) == 1 and channel.lookups == 2


async def test_a_workspace_not_served_here_is_left_to_a_process_that_serves_it(monday: FakeClock) -> None:
    store, channel = MemoryDigests(), Channel()

    async def nowhere(workspace: str) -> DigestPoster | None:
        return None

    elsewhere = Digesting(store=store, slots=Weekly(), destination=WHERE, poster=nowhere, clock=monday)
    assert not await elsewhere.tick()
    monday.advance(minutes=2)

    assert await ticking(store, channel, monday).tick() and len(channel.posted) == 1
