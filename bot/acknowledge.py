"""A recipient says "understood": record it once, and show it on their message in place."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from bot.clock import Clock
from bot.model import Announcement, Change, announcement_for
from bot.ports import DeliveryQueue, MessageRef, Messenger


class OnAcknowledged(Protocol):
    """Told of each first acknowledgement (e.g. the Home tab republishes the pages it changes)."""

    def __call__(self, *, delivery_id: int, user_id: str, change: Change) -> None: ...


class Acknowledging:
    """The Acknowledge button, for one workspace."""

    def __init__(
        self,
        *,
        workspace: str,
        queue: DeliveryQueue,
        messenger: Messenger,
        clock: Clock,
        later: Callable[[Coroutine[Any, Any, Any]], None],
        on_acknowledged: OnAcknowledged | None = None,
    ) -> None:
        self.workspace = workspace
        self.queue = queue
        self.messenger = messenger
        self.clock = clock
        self.later = later  # runs work after the click has been answered
        self.on_acknowledged = on_acknowledged

    async def acknowledge(
        self, *, delivery_id: int, user_id: str, clicked_in: MessageRef | None
    ) -> Announcement:
        """Idempotent: a second click (or a platform retry) keeps the first time and re-shows it.

        The click is answered once the acknowledgement is recorded; the messages show it a moment later:
        the announcement always, and the reminder too when the click came from one."""
        ack = await self.queue.acknowledge(
            delivery_id=delivery_id, user_id=user_id, at=self.clock.now(), workspace=self.workspace
        )
        shown = announcement_for(
            ack.change, ack.group_mask, delivery_id=delivery_id, acknowledged_at=ack.acknowledged_at
        )
        original = ack.ref or clicked_in
        if original is not None:
            self.later(self.messenger.update_announcement(original, shown))
        if clicked_in is not None and clicked_in != original:  # clicked in a reminder
            self.later(self.messenger.update_reminder(clicked_in, shown))
        if ack.first and self.on_acknowledged is not None:
            self.on_acknowledged(delivery_id=delivery_id, user_id=user_id, change=ack.change)
        return shown
