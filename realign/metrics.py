"""Prometheus series of one process (GET /metrics), counted where the work happens.

prometheus_client's default registry is process-global and thread-safe, so the engine thread counts
and the web thread serves the same numbers. Nothing below realign imports it: the engine reports
settled rows through the `bot.ports.Meter` port (`PrometheusMeter`), the rate limiter its waits and the
Slack messenger its error codes through callbacks (`limiter_waits`, `platform_errors`), the web app
its request times through its middleware (`served`). `Ticks` times the engine's tick jobs and
remembers when each last ran, for /healthz.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from bot.model import NoticeKind
from bot.ports import Claim, Deferred, Failed, NoticeClaim, Outcome, Retry, Sent, Skipped

DELIVERIES = Counter(
    "realign_deliveries",
    "Announcements settled, by outcome (delivered, failed, retry)",
    ["platform", "state"],
)
NOTICES = Counter(
    "realign_notices",
    "Follow-up messages settled, by kind and outcome (delivered, failed, retry, deferred, skipped)",
    ["platform", "kind", "state"],
)
PLATFORM_ERRORS = Counter(
    "realign_platform_errors", "Failed platform API calls, by error code", ["platform", "code"]
)
RATE_LIMITED = Counter("realign_rate_limited", "Platform API calls answered 429 (rate limited)", ["platform"])
LIMITER_WAIT = Histogram(
    "realign_limiter_wait_seconds",
    "Time a send waited for its workspace's rate limiter",
    ["platform"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_DURATION = Histogram(
    "realign_http_request_duration_seconds", "Time to answer an HTTP request, by route", ["route"]
)
TICK_DURATION = Histogram(
    "realign_tick_duration_seconds",
    "Time one run of an engine job took (tick jobs, and each drain of an outbox)",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
OUTBOX_DUE = Gauge("realign_outbox_due", "Outbox rows due now, by kind (counted when scraped)", ["kind"])
OUTBOX_KINDS = ("announcement", *(kind.value for kind in NoticeKind))
STATES = {Sent: "delivered", Failed: "failed", Retry: "retry", Deferred: "deferred", Skipped: "skipped"}


def platform_of(workspace: str) -> str:
    """`slack:T0123` -> `slack` (workspaces are labelled by platform: their number is unbounded)."""
    return workspace.partition(":")[0] or "unknown"


class PrometheusMeter:
    """Implements `bot.ports.Meter`: counts each settled row under its platform, kind and outcome."""

    def settled(self, *, workspace: str, outcomes: Sequence[Outcome[Claim] | Outcome[NoticeClaim]]) -> None:
        platform = platform_of(workspace)
        tally: Tally[tuple[str, str]] = Tally()
        for outcome in outcomes:
            kind = outcome.claim.kind.value if isinstance(outcome.claim, NoticeClaim) else "announcement"
            tally[kind, STATES.get(type(outcome.result), "other")] += 1
        for (kind, state), count in tally.items():
            if kind == "announcement":
                DELIVERIES.labels(platform, state).inc(count)
            else:
                NOTICES.labels(platform, kind, state).inc(count)


def platform_errors(platform: str) -> Callable[[str], None]:
    """What a platform's messenger calls with the code of each failed call."""

    def failed(code: str) -> None:
        PLATFORM_ERRORS.labels(platform, code).inc()
        if code == "ratelimited":
            RATE_LIMITED.labels(platform).inc()

    return failed


def limiter_waits(platform: str) -> Callable[[float], None]:
    """What a platform's rate limiters call with how long each send waited for its slot."""
    return LIMITER_WAIT.labels(platform).observe


def served(*, route: str, seconds: float) -> None:
    HTTP_DURATION.labels(route).observe(seconds)


def outbox_due(due: Mapping[str, int]) -> None:
    """Set the backlog gauge; kinds with nothing due read 0 rather than vanishing."""
    for kind in {*OUTBOX_KINDS, *due}:
        OUTBOX_DUE.labels(kind).set(due.get(kind, 0))


def exposition() -> tuple[bytes, str]:
    """Every series in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class Ticks:
    """How long each run of an engine job took, and when each job last started.

    The engine thread writes, /healthz reads on the web thread: hence the lock. A drain that is busy
    with a long fan-out shows when it started, not a stale end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[str, datetime] = {}

    @contextmanager
    def timed(self, job: str) -> Iterator[None]:
        with self._lock:
            self._started[job] = datetime.now(UTC)
        began = time.perf_counter()
        try:
            yield
        finally:
            TICK_DURATION.labels(job).observe(time.perf_counter() - began)

    def last(self) -> dict[str, str]:
        """Each job's last start, as ISO 8601 UTC."""
        with self._lock:
            started = dict(self._started)
        return {job: at.isoformat(timespec="seconds") for job, at in sorted(started.items())}
