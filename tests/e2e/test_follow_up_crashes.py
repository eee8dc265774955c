"""Follow-up exactly once through crashes: `realign worker` processes SIGKILLed in the middle of a
reminder wave and of an escalation wave, restarted, and restarted again once the waves are over.

Counted in the Slack fake: every pending person gets exactly one reminder, every manager exactly one
escalation, the announcer one gap report; and the kills landed after sends and before their settle
(the next worker had to look messages up before sending again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from bot.clock import SystemClock
from realign.engine import Engine
from realign.runtime import Runtime
from store.tables import Change
from tests.conftest import count
from tests.e2e.conftest import eventually, settings
from tests.e2e.engine import ANNOUNCER, Worker, publish_to_everyone, staff, worker_env
from tests.fakes.slack_api import FakeSlack

PEOPLE = 1200
MANAGERS = 100  # ten pending reports each
FOLLOW_UP = {"REALIGN_WORKING_HOURS": "always", "REALIGN_WORKING_DAYS": "always"}


@pytest.fixture
async def published(database_url: str, slack: FakeSlack) -> AsyncIterator[tuple[Runtime, list[str]]]:
    """PEOPLE employees with MANAGERS managers, one change delivered to all of them (no ticks running)."""
    users = staff(slack, PEOPLE)
    managers = [f"UM{i:04d}" for i in range(MANAGERS)]
    for manager in managers:
        slack.add_user(manager, name=f"Manager {manager}")
    runtime = Runtime(settings(database_url, slack, SLACK_POST_RATE=1000, **FOLLOW_UP), clock=SystemClock())
    await runtime.open()
    assert runtime.slack is not None
    await runtime.slack.directory.sync()
    await publish_to_everyone(runtime)
    engine = Engine(runtime.settings, logins=runtime.wiring.logins)
    await engine.open()
    await engine.dispatcher.drain()
    await engine.close()
    assert all(len(slack.dms_to(u)) == 1 for u in users)
    async with runtime.db.transaction() as session:
        for i, user in enumerate(users):  # an org chart imported after publishing
            await session.execute(
                text("UPDATE person SET manager_id = :m WHERE user_id = :u"),
                {"m": managers[i % MANAGERS], "u": user},
            )
    try:
        yield runtime, users
    finally:
        await runtime.close()


async def due_now(runtime: Runtime, sql: str) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(text(sql))


async def kill_twice_then_finish(env: dict[str, str], done: Callable[[], int], goal: int) -> None:
    """SIGKILL a worker at a third and at two thirds of the wave, then let a third one finish it."""
    for step in (goal // 3, 2 * goal // 3):
        worker = Worker(env)
        try:
            await eventually(lambda: done() >= step, within=60)  # noqa: B023
        finally:
            worker.kill()
    assert done() < goal, "the wave finished before the last kill; make it longer"
    survivor = Worker(env)
    try:
        await eventually(lambda: done() >= goal, within=90)
        await asyncio.sleep(1)  # anything sent twice would show now
    finally:
        errors = await survivor.stop()
    assert "Traceback" not in errors, errors


async def test_reminder_and_escalation_waves_survive_sigkills_exactly_once(
    published: tuple[Runtime, list[str]], database_url: str, slack: FakeSlack
) -> None:
    runtime, users = published
    acknowledged, pending = users[: PEOPLE // 6], users[PEOPLE // 6 :]
    await due_now(
        runtime,
        "UPDATE delivery SET acknowledged_at = sent_at, remind_at = NULL "
        f"WHERE user_id IN ({', '.join(repr(u) for u in acknowledged)})",
    )
    await due_now(runtime, "UPDATE delivery SET remind_at = sent_at WHERE acknowledged_at IS NULL")
    slack.latency = 0.02
    env = worker_env(
        database_url,
        slack,
        SLACK_POST_RATE="300",
        SLACK_API_TIMEOUT="1",
        REALIGN_DELIVERY_LEASE="2s",
        REALIGN_SWEEP_INTERVAL="1s",
        **FOLLOW_UP,
    )
    reminded = lambda: sum(1 for u in pending if len(slack.dms_to(u)) >= 2)  # noqa: E731

    await kill_twice_then_finish(env, reminded, len(pending))
    assert {u: len(slack.dms_to(u)) for u in pending if len(slack.dms_to(u)) != 2} == {}
    assert all(len(slack.dms_to(u)) == 1 for u in acknowledged)
    assert all(m.get("thread_ts") for u in pending for m in slack.dms_to(u)[1:])  # in the thread
    assert slack.calls_to("conversations.replies"), "no kill landed between a send and its settle"

    managers = sorted({f"UM{i % MANAGERS:04d}" for i in range(PEOPLE // 6, PEOPLE)})
    async with runtime.db.transaction() as session:  # the escalation and the deadline fall due
        now = datetime.now(UTC)
        await session.execute(update(Change).values(escalate_at=now, report_at=now))
    slack.calls.clear()
    env["SLACK_POST_RATE"] = "40"
    escalated = lambda: sum(1 for m in managers if slack.dms_to(m))  # noqa: E731
    await kill_twice_then_finish(env, escalated, len(managers))
    await eventually(lambda: len(slack.dms_to(ANNOUNCER)) >= 1, within=30)
    assert {m: len(slack.dms_to(m)) for m in managers if len(slack.dms_to(m)) != 1} == {}
    report = slack.dms_to(ANNOUNCER)
    assert len(report) == 1 and report[0]["text"].startswith("Gap report for"), report
    assert f"{len(pending)} still pending" in report[0]["text"]
    assert slack.calls_to("conversations.history"), "no kill landed between a send and its settle"

    slack.calls.clear()
    again = Worker(env)  # a restart after the waves sends nothing again
    try:
        await eventually(lambda: len(slack.calls_to("auth.test")) > 0, within=30)
        await asyncio.sleep(3)  # three sweeps
    finally:
        await again.stop()
    assert slack.calls_to("chat.postMessage") == []
    unsettled = await count(runtime.db, "SELECT count(*) FROM notice WHERE state IN ('queued', 'sending')")
    assert unsettled == 0
    audited = await count(runtime.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.escalated'")
    assert audited == len(managers)
