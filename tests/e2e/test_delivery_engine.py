"""The delivery engine against the Slack fake: permanent errors, faults, crashes, several workers.

Every recipient must end with exactly one DM (counted in the fake) or a recorded failure reason.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.clock import SystemClock
from bot.delivery import EngineTuning
from realign.runtime import Runtime
from tests.conftest import count, postgres_url
from tests.e2e.conftest import Realign, eventually, settings
from tests.e2e.engine import Worker, all_settled, publish_to_everyone, staff, unsettled, worker_env
from tests.e2e.test_operations import DELIVERIES, health, scrape
from tests.e2e.test_slack_flow import ANNOUNCER, announce, seed
from tests.fakes.slack_api import FakeSlack

FAST_RETRIES = EngineTuning(
    lease=timedelta(seconds=2), send_timeout=timedelta(seconds=1), backoff_base=0.05, backoff_cap=0.5
)


async def test_permanent_errors_are_recorded_and_retried_on_request(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    assert realign.runtime.slack is not None
    await realign.runtime.slack.directory.sync()
    slack.add_user("U5", name="Person U5", deleted=True)  # deactivated after the last directory sync
    key = await announce(realign)
    await all_settled(realign.db)
    status = (await realign.slack.command(ANNOUNCER, "/change-status", key)).json()
    assert "Failed 1" in str(status["blocks"]) and "<@U5>: deactivated account" in str(status["blocks"])
    assert slack.dms_to("U5") == []

    slack.add_user("U5", name="Person U5")  # an admin reactivated the account
    status_message = {"ts": "1", "blocks": status["blocks"]}
    reply = await realign.slack.click(ANNOUNCER, status_message, action_id="realign.retry_failed")
    assert reply.status == 200
    await eventually(lambda: len(slack.dms_to("U5")) == 1)
    await eventually(lambda: any("queued again" in r.get("text", "") for r in slack.responses))
    await all_settled(realign.db)
    after = (await realign.slack.command(ANNOUNCER, "/change-status", key)).json()
    assert "Delivered 6 · Acknowledged 0 · Pending 6 · Failed 0" in str(after["blocks"])


@pytest.fixture
async def engine(database_url: str, slack: FakeSlack) -> AsyncIterator[Runtime]:
    """A Runtime on the real clock with fast retries; ticks not started."""
    runtime = Runtime(
        settings(database_url, slack, SLACK_POST_RATE=200, SLACK_API_TIMEOUT=1, REALIGN_DELIVERY_LEASE="2s"),
        clock=SystemClock(),
        tuning=FAST_RETRIES,
    )
    await runtime.open()
    yield runtime
    await runtime.close()


async def test_faults_lose_nothing_and_duplicate_nothing(engine: Runtime, slack: FakeSlack) -> None:
    users = staff(slack, 150)
    gone = users[:2]
    assert engine.slack is not None
    await engine.slack.directory.sync()
    for user in gone:
        slack.add_user(user, deleted=True)
    await publish_to_everyone(engine)
    slack.fail_ratio("chat.postMessage", 0.05, seed=7)  # 5% HTTP 500, nothing posted
    slack.slow(
        "chat.postMessage", seconds=2.5, times=4, after_effect=True
    )  # posted, answer lost to the timeout
    slack.rate_limit("chat.postMessage", per_second=60)  # bursts over the workspace limit get 429s
    await engine.start_ticks()

    await all_settled(engine.db, within=60)
    assert {u: len(slack.dms_to(u)) for u in users[2:] if len(slack.dms_to(u)) != 1} == {}
    assert all(slack.dms_to(u) == [] for u in gone)
    failed = await count(
        engine.db, "SELECT count(*) FROM delivery WHERE state = 'failed' AND last_error = 'account_inactive'"
    )
    assert failed == 2
    assert slack.rate_limited > 0
    assert len(slack.calls_to("conversations.history")) >= 4  # unknown outcomes were looked up, not resent


async def test_a_worker_killed_mid_fanout_again_and_again_sends_everyone_exactly_one_dm(
    engine: Runtime, database_url: str, slack: FakeSlack
) -> None:
    users = staff(slack, 160)
    assert engine.slack is not None
    await engine.slack.directory.sync()
    await publish_to_everyone(engine)
    slack.latency = 0.02
    env = worker_env(
        database_url, slack, SLACK_POST_RATE="60", SLACK_API_TIMEOUT="1", REALIGN_DELIVERY_LEASE="2s"
    )

    def delivered() -> int:
        return sum(1 for u in users if slack.dms_to(u))

    for _ in range(3):
        worker, before = Worker(env), delivered()
        try:
            await eventually(lambda: delivered() >= before + 25, within=30)  # noqa: B023
        finally:
            worker.kill()  # SIGKILL: no chance to settle what it had in hand
    assert delivered() < len(users), "the fan-out finished before the last kill; make it longer"
    survivor = Worker(env)
    try:
        await eventually(lambda: delivered() == len(users), within=60)
        await all_settled(engine.db)
    finally:
        await survivor.stop()
    assert {u: len(slack.dms_to(u)) for u in users if len(slack.dms_to(u)) != 1} == {}
    assert await count(engine.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == len(users)


async def test_three_workers_share_one_change_on_postgresql(slack: FakeSlack) -> None:
    database_url = postgres_url()
    runtime = Runtime(settings(database_url, slack), clock=SystemClock())
    await runtime.open()
    try:
        users = staff(slack, 600)
        assert runtime.slack is not None
        await runtime.slack.directory.sync()
        await publish_to_everyone(runtime)
        slack.latency = 0.01
        workers = [Worker(worker_env(database_url, slack, SLACK_POST_RATE="150")) for _ in range(3)]
        try:
            await eventually(lambda: sum(1 for u in users if slack.dms_to(u)) == len(users), within=90)
            # all three count each other by heartbeat, so each takes a third of the workspace rate
            assert await count(runtime.db, "SELECT count(*) FROM worker") == 3
        finally:
            errors = [await worker.stop() for worker in workers]
        assert not [e for e in errors if "Traceback" in e], errors
        assert await count(runtime.db, "SELECT count(*) FROM worker") == 0  # they signed off
        assert {u: len(slack.dms_to(u)) for u in users if len(slack.dms_to(u)) != 1} == {}
        assert await unsettled(runtime.db) == 0
    finally:
        await runtime.close()


async def test_the_post_rate_and_burst_settings_shape_the_workspace_limiter(
    database_url: str, slack: FakeSlack
) -> None:
    runtime = Runtime(settings(database_url, slack, SLACK_POST_RATE="7", SLACK_POST_BURST="30"))
    await runtime.open()
    try:
        assert runtime.wiring.slack is not None
        limiter = runtime.wiring.slack.limiter
        assert (limiter.configured, limiter.burst) == (7, 30)
    finally:
        await runtime.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_worker_serves_healthz_and_metrics_on_its_own_port(
    engine: Runtime, database_url: str, slack: FakeSlack
) -> None:
    """With REALIGN_WORKER_PORT, the process that delivers can be scraped: its /metrics count what it
    sent, its /healthz shows its engine's ticks, and nothing of Slack or Teams is served there."""
    users = staff(slack, 20)
    assert engine.slack is not None
    await engine.slack.directory.sync()
    await publish_to_everyone(engine)
    port = free_port()
    worker = Worker(worker_env(database_url, slack, SLACK_POST_RATE="200", REALIGN_WORKER_PORT=str(port)))
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: all(slack.dms_to(u) for u in users), within=30)
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the counters move when the batch is settled, just after the fake saw it
                try:
                    scraped = await scrape(http, url)
                except aiohttp.ClientConnectionError:
                    scraped = None
                if scraped is not None and scraped(DELIVERIES, state="delivered") == len(users):
                    break
                await asyncio.sleep(0.1)
            assert scraped is not None and scraped(DELIVERIES, state="delivered") == len(users)
            status, body = await health(http, url)
            assert status == 200 and "delivery-drain" in body["ticks"], body
            async with http.post(f"{url}/slack/events", data=b"{}") as response:
                assert response.status in (404, 405)
    finally:
        output = await worker.stop()
    assert f"/healthz and /metrics on :{port}" in output
