"""What operators read off a running process: GET /healthz and GET /metrics (adapters.web serves them).

Both count the outbox backlog when asked (store.backlog: one COUNT over the partial due-row indexes)
rather than on a tick: the number is exact at the moment it is read, costs nothing while nobody looks,
and a web process whose deliveries run in separate workers still shows it. The same query is the
health check's database probe: if it answers, the database is reachable and migrated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from bot.clock import Clock
from realign import metrics
from realign.metrics import Ticks
from store.backlog import SqlBacklog
from store.db import Database

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 3.0  # seconds: a database that has not answered by then counts as unreachable


class Operations:
    """Implements `adapters.web.Operations` over this process's database, engine ticks and platforms."""

    def __init__(self, *, db: Database, clock: Clock, ticks: Ticks, platforms: Mapping[str, str]) -> None:
        self._backlog = SqlBacklog(db)
        self._clock = clock
        self._ticks = ticks
        self._platforms = dict(platforms)
        self._reachable = True

    async def health(self) -> tuple[bool, dict[str, Any]]:
        due = await self._due()
        ok = due is not None
        backlog = None if due is None else dict.fromkeys(metrics.OUTBOX_KINDS, 0) | due
        body = {
            "status": "ok" if ok else "degraded",
            "database": "ok" if ok else "unreachable",
            **self._platforms,
            "ticks": self._ticks.last(),
            "backlog": backlog,
        }
        return ok, body

    async def metrics(self) -> tuple[bytes, str]:
        due = await self._due()
        if due is not None:
            metrics.outbox_due(due)
        return metrics.exposition()

    def served(self, *, route: str, seconds: float) -> None:
        metrics.served(route=route, seconds=seconds)

    async def _due(self) -> dict[str, int] | None:
        """The backlog by kind, or None when the database does not answer (said once per outage)."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                due = await self._backlog.due(now=self._clock.now())
        except Exception as error:
            if self._reachable:
                log.warning("the database does not answer: %s", type(error).__name__)
            self._reachable = False
            return None
        if not self._reachable:
            log.info("the database answers again")
        self._reachable = True
        return due
