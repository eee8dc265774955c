"""During the fan-out: watch the outbox settle, and keep interactive requests coming at the web process."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from bench.database import SETTLED, UNACKNOWLEDGED, Probe
from bench.slack import SignedSlack
from tests.fakes.slack_requests import Reply

INTERVAL = 0.05  # one interactive request every 50 ms
PROGRESS_EVERY = 3.0
POLL_EVERY = 0.2
POOL_REFRESH = 1.0
DRAIN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Delivered:
    """A delivered, unacknowledged DM someone can click Acknowledge on."""

    delivery_id: int
    user_id: str
    ts: str


@dataclass
class Interactive:
    """Round-trip times (ms) of every answer by kind of request, and why some were not what Slack needs."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {"command": [], "click": []})
    errors: Counter[str] = field(default_factory=Counter)  # "command: HTTP 404" -> how many

    def all_ms(self) -> list[float]:
        """Every answered round trip, commands and clicks together."""
        return self.ms["command"] + self.ms["click"]


def _failure(kind: str, reply: Reply) -> str | None:
    """Why the answer is not what Slack needs (a 200, and for /change-status a report), or None."""
    if reply.status != 200:
        return f"{kind}: HTTP {reply.status} (after {reply.seconds:.0f} s)"
    if kind == "command" and "blocks" not in reply.json():
        return f"{kind}: no report ({reply.body[:80]})"
    return None


class InteractiveLoad:
    """Open-loop load: every `every` seconds, alternately `/change-status KEY` and an Acknowledge click."""

    def __init__(
        self, slack: SignedSlack, probe: Probe, *, announcer: str, key: str, every: float = INTERVAL
    ) -> None:
        self.slack = slack
        self.every = every
        self.probe = probe
        self.announcer = announcer
        self.key = key
        self.result = Interactive()
        self._pool: list[Delivered] = []
        self._clicked: set[int] = set()  # so a refresh racing a click does not offer the same DM again
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> Interactive:
        """Send until `stop` is set, then wait (bounded) for the answers still outstanding."""
        if self.every <= 0:
            return self.result
        refresher = asyncio.create_task(self._refresh(stop))
        started, tick = time.perf_counter(), 0
        while not stop.is_set():
            kind = "click" if tick % 2 and self._pool else "command"
            task = asyncio.create_task(self._one(kind))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            tick += 1
            delay = started + tick * self.every - time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, delay))
        await refresher
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=DRAIN_TIMEOUT)
            if late:
                self.result.errors["no answer in time"] += len(late)
            for task in late:
                task.cancel()
        return self.result

    async def _refresh(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rows = await self.probe.rows(UNACKNOWLEDGED)
            fresh = [Delivered(int(r[0]), str(r[1]), str(r[2])) for r in rows if r[2]]
            self._pool = [d for d in fresh if d.delivery_id not in self._clicked]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POOL_REFRESH)

    async def _one(self, kind: str) -> None:
        if kind == "click" and not self._pool:  # another click took the last one meanwhile
            kind = "command"
        try:
            if kind == "click":
                delivered = self._pool.pop()
                self._clicked.add(delivered.delivery_id)
                reply = await self.slack.acknowledge(delivered.user_id, delivered.delivery_id, delivered.ts)
            else:
                reply = await self.slack.command(self.announcer, "/change-status", self.key)
        except (aiohttp.ClientError, TimeoutError) as error:
            self.result.errors[f"{kind}: {type(error).__name__}"] += 1
            return
        self.result.ms[kind].append(reply.seconds * 1000)  # a failed answer is a slow one too
        if failure := _failure(kind, reply):
            self.result.errors[failure] += 1


@dataclass
class Settling:
    """How far the outbox got: settled rows, whether all targeted rows settled, when the poll saw it."""

    settled: int
    finished: bool
    seen_at: float  # time.time()


async def watch_settled(probe: Probe, *, targeted: int, within: float, label: str) -> Settling:
    """Poll until every targeted delivery is delivered or failed, or `within` seconds pass; with progress."""
    started = time.monotonic()
    last_report, last_settled = started, 0
    while True:
        settled = int(await probe.scalar(SETTLED) or 0)
        now = time.monotonic()
        if settled >= targeted or now - started > within:
            return Settling(settled, settled >= targeted, time.time())
        if now - last_report >= PROGRESS_EVERY:
            rate = (settled - last_settled) / (now - last_report)
            print(
                f"  {label}: {settled:,}/{targeted:,} settled, {rate:,.0f}/s, {now - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            last_report, last_settled = now, settled
        await asyncio.sleep(POLL_EVERY)
