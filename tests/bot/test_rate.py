"""The per-workspace send limiter: steady rate, bursts, pausing on 429 and recovering afterwards.

Time is real monotonic time that a test can also skip ahead (`Monotonic.skip`); waits are real but short.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from bot.rate import Probing, RateLimiter


class Monotonic:
    """The limiter's clock: real monotonic time plus whatever the test skipped."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


async def slots_within(limiter: RateLimiter, seconds: float, *, senders: int = 1) -> int:
    """How many slots `senders` concurrent callers get from the limiter within `seconds` of real time."""
    taken = 0

    async def keep_sending() -> None:
        nonlocal taken
        while True:
            await limiter.acquire()
            taken += 1

    async def all_senders() -> None:
        await asyncio.gather(*(keep_sending() for _ in range(senders)))

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_senders(), seconds)
    return taken


async def test_hands_out_slots_at_the_configured_rate(monotonic: Monotonic) -> None:
    limiter = RateLimiter(200, monotonic=monotonic)

    taken = await slots_within(limiter, 0.5)

    expected = limiter.burst + 200 * 0.5
    assert expected * 0.85 <= taken <= expected * 1.15


async def test_concurrent_senders_share_one_rate(monotonic: Monotonic) -> None:
    limiter = RateLimiter(200, burst=10, monotonic=monotonic)

    taken = await slots_within(limiter, 0.4, senders=8)

    expected = 10 + 200 * 0.4
    assert expected * 0.85 <= taken <= expected * 1.15


async def test_a_burst_goes_out_at_once_and_an_idle_limiter_saves_up_no_more_than_a_burst(
    monotonic: Monotonic,
) -> None:
    limiter = RateLimiter(10, burst=5, monotonic=monotonic)  # the next slot after a burst is 0.1 s away

    assert await slots_within(limiter, 0.03) == 5

    monotonic.skip(0.3)
    assert await slots_within(limiter, 0.03) == 3

    monotonic.skip(3600)
    assert await slots_within(limiter, 0.03) == 5


async def test_a_spent_slot_goes_first_and_the_bulk_senders_pay_for_it() -> None:
    now, slept = [0.0], []

    async def sleep(seconds: float) -> None:  # virtual time: the test is exact under any load
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(200, burst=1, monotonic=lambda: now[0], sleep=sleep)
    await limiter.acquire()  # the burst is used up
    for _ in range(20):
        limiter.spend()  # twenty replies at once: none waits
    assert slept == [] and limiter.spent == 20

    await limiter.acquire()  # the bulk sender waits for what the replies took, and its own slot

    assert sum(slept) == pytest.approx(21 / 200)


def test_the_default_burst_is_a_tenth_of_a_second_of_sending_and_at_least_one() -> None:
    assert RateLimiter(200).burst == 20
    assert RateLimiter(2).burst == 1


@pytest.mark.parametrize("rate", [0, -1])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(rate)


async def test_a_429_stops_every_sender_until_retry_after_has_passed(monotonic: Monotonic) -> None:
    limiter = RateLimiter(200, monotonic=monotonic)
    started = time.monotonic()

    limiter.penalize(0.2)
    await limiter.acquire()

    assert 0.2 <= time.monotonic() - started < 0.6  # waited the pause out, and not much more


async def test_the_pause_is_measured_on_the_limiters_clock(monotonic: Monotonic) -> None:
    limiter = RateLimiter(200, monotonic=monotonic)

    limiter.penalize(30)
    assert await slots_within(limiter, 0.05, senders=3) == 0

    monotonic.skip(30)
    assert await slots_within(limiter, 0.02) > 0


async def test_a_429_without_retry_after_pauses_for_one_second(monotonic: Monotonic) -> None:
    limiter = RateLimiter(200, monotonic=monotonic)

    limiter.penalize(None)
    monotonic.skip(0.9)
    assert await slots_within(limiter, 0.03) == 0

    monotonic.skip(0.15)
    assert await slots_within(limiter, 0.02) > 0


def test_a_429_lowers_the_rate_by_a_fifth(monotonic: Monotonic) -> None:
    limiter = RateLimiter(100, monotonic=monotonic)

    limiter.penalize(1)

    assert (limiter.configured, limiter.rate) == (100, 80)


def test_many_429s_during_one_pause_lower_the_rate_once(monotonic: Monotonic) -> None:
    limiter = RateLimiter(100, monotonic=monotonic)

    limiter.penalize(1)
    for _ in range(5):  # the other in-flight calls report the same episode
        monotonic.skip(0.1)
        limiter.penalize(1)
    assert limiter.rate == 80

    monotonic.skip(1.01)  # the (extended) pause is over: a new 429 is a new episode
    limiter.penalize(1)
    assert limiter.rate == 64


def test_the_rate_never_drops_below_a_twentieth_of_the_configured_rate(monotonic: Monotonic) -> None:
    limiter = RateLimiter(100, monotonic=monotonic)

    for _ in range(30):
        limiter.penalize(1)
        monotonic.skip(1.01)

    assert limiter.rate == 5


async def test_the_rate_climbs_back_after_quiet_seconds_and_stops_at_the_configured_rate(
    monotonic: Monotonic,
) -> None:
    limiter = RateLimiter(100, recover_after=5, monotonic=monotonic)
    limiter.penalize(0.1)
    assert limiter.rate == 80

    monotonic.skip(4)
    await limiter.acquire()
    assert limiter.rate == 80  # not quiet for long enough yet

    monotonic.skip(2)  # 1 s past recover_after: a tenth of the configured rate back
    await limiter.acquire()
    assert limiter.rate == pytest.approx(90, abs=0.1)

    monotonic.skip(60)
    await limiter.acquire()
    assert limiter.rate == 100


async def test_a_new_429_restarts_the_quiet_period(monotonic: Monotonic) -> None:
    limiter = RateLimiter(100, recover_after=5, monotonic=monotonic)
    limiter.penalize(0.1)
    monotonic.skip(4)
    limiter.penalize(0.1)  # a new episode: 64
    monotonic.skip(4)

    await limiter.acquire()

    assert limiter.rate == 64


async def test_three_senders_each_take_a_third_of_the_workspace_rate(monotonic: Monotonic) -> None:
    limiter = RateLimiter(300, burst=30, monotonic=monotonic)
    limiter.share(3)
    assert (limiter.configured, limiter.rate, limiter.burst) == (100, 100, 10)

    taken = await slots_within(limiter, 0.5)

    expected = limiter.burst + 100 * 0.5
    assert expected * 0.85 <= taken <= expected * 1.15


def test_a_share_keeps_how_far_a_429_slowed_the_rate_down(monotonic: Monotonic) -> None:
    limiter = RateLimiter(300, monotonic=monotonic)
    limiter.penalize(1)  # 240 of 300
    limiter.share(2)
    assert (limiter.configured, limiter.rate) == (150, 120)
    limiter.share(1)  # the other sender left
    assert (limiter.configured, limiter.rate, limiter.burst) == (300, 240, 30)


class Virtual:
    """Virtual time for long runs: sleeping moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)  # as real time would, however little was asked


class Workspace:
    """A platform whose limit nobody publishes: a token bucket (a second's burst) answering 429 above it."""

    def __init__(self, limit: float, clock: Virtual) -> None:
        self.limit, self.clock = limit, clock
        self.tokens, self.stamp = limit, clock()
        self.sent = self.refused = 0

    def post(self) -> bool:
        now = self.clock()
        self.tokens = min(self.limit, self.tokens + (now - self.stamp) * self.limit)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.sent += 1
            return True
        self.refused += 1
        return False


async def probe(limit: float, *, seconds: float, start: float = 5.0) -> tuple[RateLimiter, Workspace, float]:
    """Send as fast as an auto limiter allows for `seconds` of virtual time; returns the limiter, the
    workspace, and the rate the second half of the run achieved."""
    clock = Virtual()
    limiter = RateLimiter(start, monotonic=clock, sleep=clock.sleep, probing=Probing(ceiling=20))
    workspace = Workspace(limit, clock)
    sent_at_half: int | None = None
    while clock() < seconds:
        await limiter.acquire()
        if not workspace.post():
            limiter.penalize(1.0)
        if sent_at_half is None and clock() >= seconds / 2:
            sent_at_half = workspace.sent
    return limiter, workspace, (workspace.sent - (sent_at_half or 0)) / (seconds / 2)


@pytest.mark.parametrize("limit", [8.0, 12.0])
async def test_auto_settles_just_under_an_unpublished_limit_with_few_429s(limit: float) -> None:
    limiter, workspace, achieved = await probe(limit, seconds=600)
    assert achieved >= 0.9 * limit  # once it has found the limit
    assert limiter.limit_seen is not None and 0.9 * limit <= limiter.whole <= 1.15 * limit  # near it
    assert workspace.refused < 0.02 * (workspace.sent + workspace.refused)


async def test_auto_never_passes_its_ceiling_and_starts_where_it_was_told() -> None:
    limiter, workspace, achieved = await probe(100.0, seconds=120, start=12.0)
    assert limiter.whole == pytest.approx(20.0) and workspace.refused == 0
    assert achieved == pytest.approx(20.0, rel=0.05)
    assert RateLimiter(50, probing=Probing(ceiling=20)).whole == 20  # a learnt rate above the ceiling


async def test_auto_does_not_climb_while_idle() -> None:
    clock = Virtual()
    limiter = RateLimiter(5, monotonic=clock, sleep=clock.sleep, probing=Probing(ceiling=20))
    for _ in range(10):
        await clock.sleep(3)
        await limiter.acquire()  # one send every 3 s: no evidence that it could go faster
    assert limiter.whole == 5
