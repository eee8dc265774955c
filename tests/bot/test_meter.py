"""What the delivery engine tells a Meter (settled rows, by workspace and outcome) and what the rate
limiter reports of its waits: the numbers operators' dashboards are made of."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.context import bound
from bot.delivery import Dispatcher, EngineTuning
from bot.ports import Claim, Failed, NoticeClaim, Outcome
from bot.rate import RateLimiter
from tests.bot.memory import FakeMessenger, MemoryChanges, MemoryQueue
from tests.bot.test_delivery import LEASE, RATE_LIMITED, WORKSPACE, publish
from tests.conftest import FakeClock


class Tally:
    """A Meter that counts what it is told, by workspace and outcome."""

    def __init__(self) -> None:
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.batches = 0

    def settled(self, *, workspace: str, outcomes: Sequence[Outcome[Claim] | Outcome[NoticeClaim]]) -> None:
        self.batches += 1
        for outcome in outcomes:
            self.outcomes[workspace, type(outcome.result).__name__] += 1


async def test_every_settled_row_is_counted_once_under_its_workspace_and_outcome(
    queue: MemoryQueue, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    limiter = RateLimiter(10_000, monotonic=lambda: clock.now().timestamp())
    meter = Tally()
    engine = Dispatcher(
        queue=queue,
        changes=changes,
        messengers={WORKSPACE: messenger},
        limiters={WORKSPACE: limiter},
        clock=clock,
        tuning=EngineTuning(lease=LEASE),
        meter=meter,
    )
    await publish(changes, clock)  # Bob and Cat
    messenger.script("UBOB", Failed("account_inactive"))
    messenger.script("UCAT", RATE_LIMITED)

    await engine.drain()
    assert meter.outcomes == {(WORKSPACE, "Failed"): 1, (WORKSPACE, "Retry"): 1}

    clock.advance(seconds=5)  # Cat's retry falls due
    await engine.drain()
    assert meter.outcomes == {(WORKSPACE, "Failed"): 1, (WORKSPACE, "Retry"): 1, (WORKSPACE, "Sent"): 1}
    assert messenger.dms_to("UCAT") == 1
    assert bound() == {}  # what the engine's tasks bound for their log lines stayed in those tasks


async def test_the_limiter_reports_how_long_each_send_waited() -> None:
    waits: list[float] = []
    limiter = RateLimiter(20, burst=1, on_wait=waits.append)  # one slot every 50 ms

    for _ in range(3):
        await limiter.acquire()

    assert len(waits) == 3
    assert waits[0] < 0.02  # the burst's slot was there
    assert all(0.03 < wait < 0.5 for wait in waits[1:])  # then one a rate's interval apart
