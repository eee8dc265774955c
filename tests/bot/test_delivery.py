"""The delivery engine: claim due deliveries, send each within the workspace's rate, settle the outcome.

Every person ends delivered or failed with a reason; a send whose outcome is unknown is looked up before
it is sent again, so nobody gets the announcement twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bot.delivery import Dispatcher, EngineTuning
from bot.model import Announcement, AudienceGroup, Change, ChangeState, DeliveryState
from bot.ports import Claim, Failed, MessageRef, Outcome, Recipient, Retry, SendResult, Sent
from bot.rate import RateLimiter
from tests.bot.memory import FakeMessenger, Landed, MemoryChanges, MemoryQueue
from tests.conftest import FakeClock

WORKSPACE = "T1"
SALES = AudienceGroup("Sales", today="Log calls in a sheet", from_effective="Log calls in the CRM")
SUPPORT = AudienceGroup("Support", from_effective="Answer tickets in the CRM")
LEASE = timedelta(minutes=5)
RATE_LIMITED = Retry("ratelimited", after=2, rate_limited=True)


@pytest.fixture
def limiter(clock: FakeClock) -> RateLimiter:
    """Very fast, and on the test's clock, so a 429's pause ends when the test moves time on."""
    return RateLimiter(10_000, monotonic=lambda: clock.now().timestamp())


def dispatcher(
    queue: MemoryQueue,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    limiter: RateLimiter,
    clock: FakeClock,
    **tuning: object,
) -> Dispatcher:
    return Dispatcher(
        queue=queue,
        changes=changes,
        messengers={WORKSPACE: messenger},
        limiters={WORKSPACE: limiter},
        clock=clock,
        tuning=EngineTuning(lease=LEASE, **tuning),  # type: ignore[arg-type]
    )


@pytest.fixture
def engine(
    queue: MemoryQueue,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    limiter: RateLimiter,
    clock: FakeClock,
) -> Dispatcher:
    return dispatcher(queue, changes, messenger, limiter, clock, max_attempts=3)


async def publish(changes: MemoryChanges, clock: FakeClock, *recipients: Recipient) -> Change:
    """A published change whose outbox holds `recipients` (default: Bob in Sales, Cat in both groups)."""
    change = Change(
        workspace=WORKSPACE,
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="One view of each customer.",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 18),
        groups=[SALES, SUPPORT],
    )
    stored = await changes.save_draft(change, draft_ref="V1", at=clock.now())
    recipients = recipients or (Recipient("UBOB", 0b01), Recipient("UCAT", 0b11))
    await changes.publish(stored, recipients, [], at=clock.now())
    return stored


async def test_every_recipient_gets_one_dm_with_what_it_means_for_them(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    change = await publish(changes, clock)

    assert await engine.drain() == 2

    (to_bob,) = messenger.dms["UBOB"]
    (to_cat,) = messenger.dms["UCAT"]
    assert (to_bob.change_key, to_bob.delivery_id) == (change.key, changes.delivery("UBOB").id)
    assert [item.group for item in to_bob.expectations] == ["Sales"]
    assert [item.group for item in to_cat.expectations] == ["Sales", "Support"]
    bob = changes.delivery("UBOB")
    assert (bob.state, bob.attempts, bob.sent_at, bob.due_at) == (
        DeliveryState.DELIVERED,
        1,
        clock.now(),
        None,
    )
    assert bob.ref is not None and bob.ref.conversation == "D-UBOB"


async def test_draining_again_sends_nothing_more(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock)
    await engine.drain()

    clock.advance(days=1)

    assert await engine.drain() == 0
    assert (messenger.dms_to("UBOB"), messenger.dms_to("UCAT")) == (1, 1)


async def test_a_large_outbox_is_shared_by_the_lanes_and_everyone_gets_exactly_one_dm(
    queue: MemoryQueue,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    limiter: RateLimiter,
    clock: FakeClock,
) -> None:
    people = [f"U{n:04}" for n in range(250)]
    await publish(changes, clock, *(Recipient(user_id, 0b01) for user_id in people))
    engine = dispatcher(queue, changes, messenger, limiter, clock, batch=30, lanes=4)

    assert await engine.drain() == 250

    assert {user_id: messenger.dms_to(user_id) for user_id in people} == dict.fromkeys(people, 1)
    assert {row.state for row in changes.deliveries} == {DeliveryState.DELIVERED}


async def test_a_permanent_failure_is_recorded_with_its_reason_and_not_retried(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock)
    messenger.script("UBOB", Failed("account_inactive"))

    await engine.drain()
    clock.advance(days=1)
    await engine.drain()

    bob = changes.delivery("UBOB")
    assert (bob.state, bob.last_error, bob.due_at) == (DeliveryState.FAILED, "account_inactive", None)
    assert messenger.sends["UBOB"] == 1
    assert changes.delivery("UCAT").state is DeliveryState.DELIVERED


async def test_a_429_slows_the_workspace_down_and_retries_after_retry_after(
    engine: Dispatcher,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    limiter: RateLimiter,
    clock: FakeClock,
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", RATE_LIMITED)

    await engine.drain()

    bob = changes.delivery("UBOB")
    assert (bob.state, bob.due_at, bob.last_error) == (
        DeliveryState.QUEUED,
        clock.now() + timedelta(seconds=2),
        "ratelimited",
    )
    assert limiter.rate < limiter.configured

    clock.advance(seconds=1)
    assert await engine.drain() == 0  # not due yet
    clock.advance(seconds=1)
    assert await engine.drain() == 1
    assert bob.state is DeliveryState.DELIVERED
    assert messenger.dms_to("UBOB") == 1


async def test_rate_limited_sends_are_retried_however_many_attempts_they_take(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", *[RATE_LIMITED] * 5)  # more than max_attempts (3)

    for _ in range(6):
        await engine.drain()
        clock.advance(seconds=2)

    assert changes.delivery("UBOB").state is DeliveryState.DELIVERED
    assert messenger.sends["UBOB"] == 6


async def test_a_send_that_may_have_landed_is_looked_up_before_sending_again(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", Landed(Retry("timeout", unsure=True)))  # posted, but the reply was lost

    await engine.drain()
    bob = changes.delivery("UBOB")
    assert (bob.state, bob.unsure, bob.last_error) == (DeliveryState.QUEUED, True, "timeout")

    clock.advance(minutes=5)
    await engine.drain()

    assert messenger.lookups["UBOB"] == 1
    assert messenger.sends["UBOB"] == 1
    assert messenger.dms_to("UBOB") == 1
    assert (bob.state, bob.unsure, bob.ref) == (DeliveryState.DELIVERED, False, MessageRef("D-UBOB", "1.000"))


async def test_a_429_while_looking_a_send_up_waits_and_uses_up_no_attempt(
    engine: Dispatcher,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    clock: FakeClock,
    limiter: RateLimiter,
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", Landed(Retry("timeout", unsure=True)))
    messenger.lookup_replies["UBOB"].extend([RATE_LIMITED] * 5)  # more than max_attempts (3)

    await engine.drain()  # posted, the reply lost
    clock.advance(minutes=5)
    await engine.drain()  # the lookup is rate limited
    assert limiter.rate < limiter.configured  # the workspace slows down for a lookup's 429 too
    assert changes.delivery("UBOB").unsure  # and the next attempt must look again
    for _ in range(5):
        clock.advance(minutes=5)
        await engine.drain()

    bob = changes.delivery("UBOB")
    assert (bob.state, messenger.lookups["UBOB"], messenger.sends["UBOB"]) == (DeliveryState.DELIVERED, 6, 1)


async def test_an_unsure_send_that_never_landed_is_sent_again(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", Retry("timeout", unsure=True))

    await engine.drain()
    clock.advance(minutes=5)
    await engine.drain()

    assert (messenger.lookups["UBOB"], messenger.sends["UBOB"], messenger.dms_to("UBOB")) == (1, 2, 1)
    assert changes.delivery("UBOB").state is DeliveryState.DELIVERED


async def test_a_sure_retry_is_sent_again_without_a_lookup(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", Retry("internal_error"))

    await engine.drain()
    clock.advance(minutes=5)
    await engine.drain()

    assert (messenger.lookups["UBOB"], messenger.sends["UBOB"], messenger.dms_to("UBOB")) == (0, 2, 1)


async def test_after_max_attempts_the_delivery_fails_saying_why(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", *[Retry("timeout")] * 3)

    for _ in range(4):
        await engine.drain()
        clock.advance(minutes=10)

    bob = changes.delivery("UBOB")
    assert (bob.state, bob.last_error) == (DeliveryState.FAILED, "gave up after 3 attempts: timeout")
    assert messenger.sends["UBOB"] == 3
    assert messenger.dms_to("UBOB") == 0


async def test_retries_back_off_before_they_are_due_again(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messenger.script("UBOB", Retry("timeout"), Retry("timeout"))
    bob = changes.delivery("UBOB")

    await engine.drain()
    first_wait = (bob.due_at or clock.now()) - clock.now()
    clock.advance(seconds=4)
    await engine.drain()
    second_wait = (bob.due_at or clock.now()) - clock.now()

    assert timedelta(seconds=1) <= first_wait <= timedelta(seconds=2)  # base 2 s, full jitter
    assert timedelta(seconds=2) <= second_wait <= timedelta(seconds=4)
    assert bob.state is DeliveryState.QUEUED


async def test_an_error_raised_while_sending_loses_nothing(
    engine: Dispatcher, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock)
    messenger.script("UBOB", RuntimeError("connection reset"))

    assert await engine.drain() == 2

    bob = changes.delivery("UBOB")
    assert (bob.state, bob.unsure, bob.last_error) == (
        DeliveryState.QUEUED,
        True,
        "internal error: RuntimeError",
    )
    assert changes.delivery("UCAT").state is DeliveryState.DELIVERED

    clock.advance(minutes=5)
    await engine.drain()
    assert (messenger.lookups["UBOB"], messenger.dms_to("UBOB")) == (1, 1)
    assert bob.state is DeliveryState.DELIVERED


async def test_a_worker_that_died_mid_send_is_taken_over_after_its_lease_and_its_late_outcome_ignored(
    engine: Dispatcher, queue: MemoryQueue, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    (stale,) = await queue.claim(now=clock.now(), limit=10, lease=LEASE, workspace=WORKSPACE)  # then gone

    assert await engine.drain() == 0  # still leased

    clock.advance(minutes=5)
    assert await engine.drain() == 1
    bob = changes.delivery("UBOB")
    assert (bob.state, bob.attempts) == (DeliveryState.DELIVERED, 2)
    assert (messenger.lookups["UBOB"], messenger.dms_to("UBOB")) == (1, 1)  # reconciled first

    await queue.settle([Outcome(stale, Failed("channel_not_found"))], now=clock.now())
    assert (bob.state, bob.last_error) == (DeliveryState.DELIVERED, None)


async def test_claims_shrink_to_what_the_lanes_can_send_at_the_rate_as_it_is_now(
    queue: MemoryQueue, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    people = [f"U{n:04}" for n in range(60)]
    await publish(changes, clock, *(Recipient(user_id, 0b01) for user_id in people))
    limiter = RateLimiter(400)  # real time: 60 sends at 100/s take half a second
    engine = dispatcher(queue, changes, messenger, limiter, clock, batch=100, lanes=2, batch_seconds=0.1)
    limits: list[int] = []
    claim = queue.claim

    async def recording(*, now: datetime, limit: int, lease: timedelta, workspace: str) -> list[Claim]:
        limits.append(limit)
        return await claim(now=now, limit=limit, lease=lease, workspace=workspace)

    queue.claim = recording  # type: ignore[method-assign]
    limiter.share(4)  # three other processes joined: 100/s is this one's part

    assert await engine.drain() == 60
    assert set(limits) == {5}  # 100/s x 0.1 s, over two lanes


async def test_one_workspaces_fan_out_never_holds_up_another_workspace(
    queue: MemoryQueue, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    """Each workspace sends at its own rate in lanes of its own: a slow, big fan-out in one workspace
    leaves another's small one to finish in its own time."""
    await publish(changes, clock, *(Recipient(f"UB{n:03}", 0b01) for n in range(40)))  # 40 at 20/s: 2 s
    first = await changes.get_by_id(1)
    assert first is not None
    other = replace(first, workspace="T2", state=ChangeState.DRAFT)
    small = await changes.save_draft(other, draft_ref="V2", at=clock.now())
    await changes.publish(small, [Recipient(f"US{n}", 0b01) for n in range(5)], [], at=clock.now())
    finished: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    started = loop.time()
    send = messenger.send_announcement

    async def timed(announcement: Announcement, *, user_id: str) -> SendResult:
        result = await send(announcement, user_id=user_id)
        finished[user_id] = loop.time() - started
        return result

    messenger.send_announcement = timed  # type: ignore[method-assign]
    engine = Dispatcher(
        queue=queue,
        changes=changes,
        messengers={WORKSPACE: messenger, "T2": messenger},
        limiters={WORKSPACE: RateLimiter(20, burst=1), "T2": RateLimiter(50, burst=1)},
        clock=clock,
        tuning=EngineTuning(lease=LEASE),
    )

    assert await engine.drain() == 45
    small_done = max(finished[f"US{n}"] for n in range(5))  # 5 at 50/s: about a tenth of a second
    assert small_done < 1.0 and max(finished.values()) > small_done + 0.8  # the big one took its time


async def test_a_row_whose_outcome_cannot_be_recorded_fails_alone_and_the_rest_go_on(
    queue: MemoryQueue,
    changes: MemoryChanges,
    messenger: FakeMessenger,
    limiter: RateLimiter,
    clock: FakeClock,
) -> None:
    await publish(changes, clock)  # Bob and Cat
    settle = queue.settle

    async def poisoned(outcomes: Sequence[Outcome[Claim]], *, now: datetime) -> None:
        if any(o.claim.user_id == "UBOB" and isinstance(o.result, Sent) for o in outcomes):
            raise OverflowError("date value out of range")  # e.g. a next-reminder time past year 9999
        await settle(outcomes, now=now)

    queue.settle = poisoned  # type: ignore[method-assign]
    engine = dispatcher(queue, changes, messenger, limiter, clock)

    assert await engine.drain() == 2
    bob, cat = changes.delivery("UBOB"), changes.delivery("UCAT")
    assert cat.state is DeliveryState.DELIVERED
    assert (bob.state, bob.last_error) == (
        DeliveryState.FAILED,
        "internal error recording the outcome: OverflowError",
    )
    assert await engine.drain() == 0  # nothing stuck in flight
