"""The delivery engine and workspaces that come and go: one installed since the engine last looked is
looked up before its rows are sent; rows of one Realign was removed from settle as failed, in words,
and the drain goes on with the others."""

from __future__ import annotations

from collections.abc import Mapping

from bot import copy
from bot.delivery import Dispatcher
from bot.model import DeliveryState
from bot.ports import Recipient
from bot.rate import RateLimiter
from tests.bot.memory import FakeMessenger, MemoryChanges, MemoryQueue
from tests.bot.test_delivery import WORKSPACE, publish
from tests.conftest import FakeClock


def dispatcher(
    queue: MemoryQueue,
    changes: MemoryChanges,
    clock: FakeClock,
    messengers: Mapping[str, FakeMessenger],
    limiters: Mapping[str, RateLimiter],
    connect: object = None,
) -> Dispatcher:
    return Dispatcher(
        queue=queue,
        changes=changes,
        messengers=messengers,
        limiters=limiters,
        clock=clock,
        connect=connect,  # type: ignore[arg-type]
    )


async def test_rows_of_a_workspace_realign_was_removed_from_fail_with_the_reason(
    queue: MemoryQueue, changes: MemoryChanges, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    looked_for: list[str] = []

    async def connect(workspace: str) -> None:
        looked_for.append(workspace)  # not installed any more: nothing is added

    assert await dispatcher(queue, changes, clock, {}, {}, connect).drain() == 1

    assert looked_for == [WORKSPACE]
    row = changes.delivery("UBOB")
    assert row.state is DeliveryState.FAILED and row.last_error == copy.REMOVED_FROM_WORKSPACE


async def test_a_workspace_installed_since_is_looked_up_then_served(
    queue: MemoryQueue, changes: MemoryChanges, messenger: FakeMessenger, clock: FakeClock
) -> None:
    await publish(changes, clock, Recipient("UBOB", 0b01))
    messengers: dict[str, FakeMessenger] = {}
    limiters: dict[str, RateLimiter] = {}

    async def connect(workspace: str) -> None:
        messengers[workspace], limiters[workspace] = messenger, RateLimiter(10_000)

    assert await dispatcher(queue, changes, clock, messengers, limiters, connect).drain() == 1

    assert changes.delivery("UBOB").state is DeliveryState.DELIVERED and messenger.dms_to("UBOB") == 1
