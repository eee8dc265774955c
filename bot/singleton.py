"""Singleton jobs: work that one process at a time may do (e.g. a workspace's directory sync).

The work runs under a named lease: taken before it starts (a process that cannot take it skips the
work), renewed every third of its TTL while the work runs (so a long run keeps it however long it
takes), released at the end. If a renewal finds the lease taken over (this process stalled past the
TTL), the work is cancelled and LeaseLost raised, rather than the work running twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from bot.clock import Clock
from bot.ports import Leases

log = logging.getLogger(__name__)
T = TypeVar("T")


class LeaseLost(Exception):
    """Another process took the lease over while this one ran the work (which was cancelled)."""


async def run_alone(
    work: Callable[[], Awaitable[T]],
    *,
    leases: Leases,
    name: str,
    holder: str,
    clock: Clock,
    ttl: timedelta,
) -> T | None:
    """The result of `work()` run under the lease `name`, or None if another holder has the lease (the
    work did not run). Raises LeaseLost if another took it over meanwhile (the work was cancelled)."""
    if not await leases.acquire(name, holder=holder, now=clock.now(), ttl=ttl):
        log.debug("%s: another process holds the lease", name)
        return None
    task = asyncio.ensure_future(work())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=ttl.total_seconds() / 3)
            if done:
                return task.result()
            if not await leases.acquire(name, holder=holder, now=clock.now(), ttl=ttl):
                raise LeaseLost(f"{name}: another process took the lease over; this run was stopped")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await leases.release(name, holder=holder)
        except Exception as error:  # it expires by itself after ttl
            log.warning("%s: could not release the lease (%s); it expires in %s", name, error, ttl)
