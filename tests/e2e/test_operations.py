"""What operators see of a running Realign: /metrics after a real fan-out (with 429s), the backlog,
/healthz, and 503 once the database is gone.

The metrics registry is process-global (the engine thread and the web thread share it), so it also
holds what earlier tests counted: each test compares a scrape after with a scrape before.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import SystemClock
from realign.runtime import Runtime
from realign.settings import Settings
from store.migrate import upgrade
from tests.conftest import FakeClock, drop_database, new_database, postgres_url
from tests.e2e.conftest import Realign, settings
from tests.e2e.engine import publish_to_everyone, staff
from tests.e2e.test_slack_flow import EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
DELIVERIES = "realign_deliveries_total"


@dataclass
class Scrape:
    samples: Samples

    def __call__(self, name: str, **labels: str) -> float:
        """The sample's value (summed over the labels not given); 0 when there is none yet."""
        wanted = set(labels.items())
        return sum(v for (n, have), v in self.samples.items() if n == name and wanted <= have)

    def labels(self, name: str, label: str) -> set[str]:
        return {dict(have)[label] for (n, have) in self.samples if n == name and label in dict(have)}


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with http.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def base(realign: Realign) -> str:
    return realign.slack.events_url.removesuffix("/slack/events")


async def scrape(http: aiohttp.ClientSession, base_url: str) -> Scrape:
    status, content_type, text = await get(http, f"{base_url}/metrics")
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    families = text_string_to_metric_families(text)
    return Scrape({(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples})


async def health(http: aiohttp.ClientSession, base_url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{base_url}/healthz") as response:
        return response.status, await response.json()


async def until_scrape(realign: Realign, check: Callable[[Scrape], bool], *, within: float = 10) -> Scrape:
    """Scrape until `check` holds (counters move when a batch settles, just after the fake saw it)."""
    for _ in range(int(within * 10)):
        now = await scrape(realign.slack.http, base(realign))
        if check(now):
            return now
        await asyncio.sleep(0.1)
    raise AssertionError(f"the metrics never showed it: {check}")


async def everyone_has_one_dm(slack: FakeSlack, clock: FakeClock) -> None:
    """Wait for the six DMs, moving the test clock on so retries after a 429 fall due."""
    for _ in range(200):
        if all(len(slack.dms_to(user)) == 1 for user in EVERYONE):
            return
        clock.advance(seconds=1)
        await asyncio.sleep(0.1)
    raise AssertionError({user: len(slack.dms_to(user)) for user in EVERYONE})


async def test_metrics_count_a_fan_out_its_429s_and_its_requests(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    before = await scrape(realign.slack.http, base(realign))
    slack.rate_limit("chat.postMessage", per_second=2)  # six DMs at once: some are answered 429
    await announce(realign)
    await everyone_has_one_dm(slack, clock)
    after = await until_scrape(
        realign, lambda m: m(DELIVERIES, state="delivered") - before(DELIVERIES, state="delivered") >= 6
    )

    def grew(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    throttled = slack.rate_limited
    assert throttled > 0
    assert grew(DELIVERIES, platform="slack", state="delivered") == 6
    assert grew(DELIVERIES, platform="slack", state="failed") == 0
    assert grew(DELIVERIES, platform="slack", state="retry") == throttled  # each 429 put one back
    assert grew("realign_rate_limited_total", platform="slack") == throttled
    assert grew("realign_platform_errors_total", platform="slack", code="ratelimited") == throttled
    assert grew("realign_limiter_wait_seconds_count", platform="slack") >= 6 + throttled
    # /announce-change, then seven modal submissions, all on the one route
    assert grew("realign_http_request_duration_seconds_count", route="/slack/events") >= 7
    assert grew("realign_tick_duration_seconds_count", job="delivery-drain") >= 1
    assert after("realign_tick_duration_seconds_count", job="heartbeat") >= 1
    assert after("realign_outbox_due", kind="announcement") == 0  # all settled
    assert {"announcement", "reminder", "escalation", "report"} <= after.labels("realign_outbox_due", "kind")


async def test_requests_are_timed_by_route_not_by_url(realign: Realign) -> None:
    http, url = realign.slack.http, base(realign)
    for path in ("/nowhere/1", "/nowhere/2?token=xoxb-secret", "/healthz?probe=1"):
        async with http.get(url + path):
            pass
    routes = (await scrape(http, url)).labels("realign_http_request_duration_seconds_count", "route")
    assert {"unmatched", "/healthz"} <= routes
    assert not [route for route in routes if "nowhere" in route or "?" in route]


@pytest.fixture
async def idle(database_url: str, slack: FakeSlack) -> AsyncIterator[tuple[Runtime, str]]:
    """The web part only, no engine thread: whatever is published stays due."""
    runtime = Runtime(settings(database_url, slack), clock=SystemClock())
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield runtime, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
        await runtime.close()


async def test_the_backlog_shows_in_metrics_and_healthz(idle: tuple[Runtime, str], slack: FakeSlack) -> None:
    runtime, url = idle
    staff(slack, 5)
    assert runtime.slack is not None
    await runtime.slack.directory.sync()
    await publish_to_everyone(runtime)

    async with aiohttp.ClientSession() as http:
        metrics = await scrape(http, url)
        status, body = await health(http, url)
    assert metrics("realign_outbox_due", kind="announcement") == 5
    assert metrics("realign_outbox_due", kind="reminder") == 0
    assert status == 200
    assert body["database"] == "ok" and body["slack"] == "on" and body["teams"] == "off"
    assert body["backlog"]["announcement"] == 5 and body["backlog"]["reminder"] == 0
    assert body["ticks"] == {}  # no engine in this process


async def test_healthz_shows_when_each_engine_job_last_ran(realign: Realign) -> None:
    http, url = realign.slack.http, base(realign)
    for _ in range(100):
        status, body = await health(http, url)
        if {"heartbeat", "delivery-drain", "follow-up-drain"} <= body["ticks"].keys():
            break
        await asyncio.sleep(0.1)
    assert status == 200, body
    assert {"heartbeat", "delivery-drain", "follow-up-drain"} <= body["ticks"].keys(), body
    assert all(datetime.fromisoformat(at).utcoffset() is not None for at in body["ticks"].values())
    assert body["database"] == "ok" and body["slack"] == "on" and body["teams"] == "off"
    assert body["backlog"]["announcement"] == 0


async def test_healthz_answers_503_once_the_database_is_gone(tmp_path: Any) -> None:
    postgres_url()  # skips (or fails, in CI) as every PostgreSQL test does when the server is unreachable
    url = new_database(f"realign_test_{os.getpid()}_gone")
    upgrade(url)
    runtime = Runtime(Settings(DATABASE_URL=url), migrate=False)  # type: ignore[call-arg]
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    base_url = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession() as http:
            status, body = await health(http, base_url)
            assert status == 200 and body["database"] == "ok" and body["slack"] == "off", body
            drop_database(url)  # WITH (FORCE): the pool's connections are cut too
            status, body = await health(http, base_url)
            assert status == 503, body
            assert body["database"] == "unreachable" and body["status"] == "degraded"
            assert body["backlog"] is None
            metrics_status, _, _ = await get(http, f"{base_url}/metrics")
            assert metrics_status == 200  # the counters are still there to read
    finally:
        await server.close()
        await runtime.close()
        drop_database(url)
