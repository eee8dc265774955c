"""Many workspaces through OAuth, on SQLite and PostgreSQL: an install is stored and serves the next
request with its own token; two workspaces holding the same user ids see and change only their own
changes, through every command, form and button; an uninstall stops deliveries and follow-up there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from copy import deepcopy
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from bot import copy
from realign.runtime import Runtime
from realign.settings import Settings
from store.db import Database
from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.test_slack_flow import basics
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET, typed, users

CLIENT_ID, CLIENT_SECRET = "1111.2222", "client-secret-for-tests"
T1, T2 = "T001", "T002"
TOKENS = {T1: "xoxb-test", T2: "xoxb-second-team"}
ANNOUNCER = "UANN"  # the same ids in both workspaces (as on an Enterprise Grid): only the team differs
PEOPLE = ["U1", "U2"]


def oauth_settings(database_url: str, slack: FakeSlack, **extra: Any) -> Settings:
    """Realign installing through OAuth: no SLACK_BOT_TOKEN, the fake's app credentials."""
    values = {
        "DATABASE_URL": database_url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_STATE_SECRET": "state-secret-for-tests",
        "SLACK_API_URL": slack.url,
        "SLACK_POST_RATE": 500,
        "REALIGN_SWEEP_INTERVAL": "1s",
        **extra,
    }
    return Settings(**values)


@pytest.fixture
async def many(database_url: str, slack: FakeSlack, clock: FakeClock) -> AsyncIterator[Realign]:
    slack.oauth_app(CLIENT_ID, CLIENT_SECRET)
    runtime = Runtime(oauth_settings(database_url, slack), clock=clock)
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_ticks()
    try:
        async with aiohttp.ClientSession() as http:
            yield Realign(runtime, SlackDriver(base_url=str(server.make_url("/")), slack=slack, http=http))
    finally:
        await server.close()
        await runtime.close()


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Wait until the (database) condition holds: the work happens in the background."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within}s")
        await asyncio.sleep(0.05)


def seed(slack: FakeSlack, team: str, *extra: str) -> None:
    """The workspace (added if new) with the announcer, PEOPLE, and `extra` people of its own."""
    workspace = slack.teams.get(team) or slack.add_team(team, token=TOKENS[team])
    for user in (ANNOUNCER, *PEOPLE, *extra):
        workspace.add_user(user, name=f"{user} of {team}")


async def redirect(driver: SlackDriver, *, code: str, state: str, cookie: str) -> int:
    url = f"{driver.base_url}slack/oauth_redirect?code={code}&state={state}"
    async with driver.http.get(url, headers={"Cookie": cookie}, allow_redirects=False) as reply:
        await reply.read()
        return reply.status


async def install(realign: Realign, team: str) -> tuple[int, str, str]:
    """An admin of `team` installs Realign: /slack/install sends the browser to Slack's consent page
    with a state (and a cookie holding it); Slack redirects back with a code, which the fake grants.
    Returns the redirect's status, and the state and cookie it carried."""
    driver = realign.slack
    async with driver.http.get(driver.base_url + "slack/install", allow_redirects=False) as started:
        assert started.status == 302, await started.text()
        consent = urlparse(started.headers["Location"])
        cookie = started.headers["Set-Cookie"].split(";")[0]
    query = parse_qs(consent.query)
    assert consent.netloc == "slack.com" and query["client_id"] == [CLIENT_ID]
    assert "chat:write" in query["scope"][0].split(",")
    driver.slack.grant(f"code-{team}", team_id=team, token=TOKENS[team])
    status = await redirect(driver, code=f"code-{team}", state=query["state"][0], cookie=cookie)
    return status, query["state"][0], cookie


async def installed(realign: Realign, team: str, *, people: int = 3) -> None:
    """Install, then wait for the background directory sync of the new workspace."""
    status, _, _ = await install(realign, team)
    assert status == 200
    await until(lambda: synced(realign.db, team, people))


async def synced(db: Database, team: str, people: int) -> bool:
    return await count(db, "SELECT count(*) FROM person WHERE workspace = :w", w=f"slack:{team}") >= people


async def announce(
    driver: SlackDriver, db: Database, *, to: list[str], publish: bool = True, **fields: Any
) -> tuple[str, str]:
    """ANNOUNCER walks the announce modal in the driver's workspace; returns the change key and view."""
    assert (await driver.command(ANNOUNCER, "/announce-change", "Rota")).status == 200
    view = driver.open_view()
    step = await driver.submit(ANNOUNCER, view, basics(title=typed(f"Rota in {driver.team}"), **fields))
    assert step["view"]["callback_id"] == "realign.group", step
    group = {"name": typed("All"), "people": users(*to), "from_effective": typed("Answer pages.")}
    review = await driver.submit(ANNOUNCER, view, group)
    assert review["view"]["callback_id"] == "realign.review", review
    if publish:
        assert (await driver.submit(ANNOUNCER, view, {}))["response_action"] == "update"
    workspace = f"slack:{driver.team}"
    return f"CHG-{await count(db, 'SELECT max(id) FROM change WHERE workspace = :w', w=workspace)}", view


async def told(slack: FakeSlack, key: str) -> str:
    """The last ephemeral answer posted to a click's response_url."""
    return str([r for r in slack.responses if r["key"] == key][-1]["text"])


def sent_with(slack: FakeSlack, team: str) -> int:
    return sum(call.team == team for call in slack.calls_to("chat.postMessage"))


async def equals(db: Database, sql: str, expected: int) -> bool:
    return await count(db, sql) == expected


def engine_workspaces(realign: Realign) -> list[str]:
    """The workspaces the engine thread's own wiring serves right now."""
    engine = realign.runtime.engine
    ticking = getattr(engine, "_runtime", None)
    return list(ticking.wiring.slacks.by_key) if ticking is not None else []


async def test_an_install_is_stored_and_serves_the_next_request_with_its_token(
    many: Realign, slack: FakeSlack
) -> None:
    seed(slack, T2)
    driver = many.slack
    forged = "0a1b2c3d.not-signed-by-realign"
    assert (
        await redirect(driver, code="anything", state=forged, cookie=f"slack-app-oauth-state={forged}") == 401
    )

    status, state, cookie = await install(many, T2)

    assert status == 200
    assert await count(many.db, "SELECT count(*) FROM slack_bots WHERE team_id = 'T002'") == 1
    assert await count(many.db, "SELECT count(*) FROM slack_installations WHERE team_id = 'T002'") == 1
    assert await count(many.db, "SELECT count(*) FROM workspace WHERE key = 'slack:T002'") == 1
    await until(lambda: synced(many.db, T2, 3))
    assert await redirect(driver, code=f"code-{T2}", state=state, cookie=cookie) == 401  # a state works once

    two = driver.of(T2)
    assert (await two.command(ANNOUNCER, "/announce-change", "Hello")).status == 200
    opened = slack.calls_to("views.open")[-1]
    assert opened.team == T2  # answered with T002's own token, into T002's workspace
    assert two.views[two.open_view()]["blocks"][0]["element"]["initial_value"] == "Hello"
    assert (await two.command(ANNOUNCER, "/change-status")).json()["text"] == copy.STATUS_LIST_TITLE

    elsewhere = await driver.of("T009").command(ANNOUNCER, "/change-status")
    assert elsewhere.status == 200 and copy.STATUS_LIST_TITLE not in elsewhere.body  # not installed there
    assert "install this app" in await told(slack, f"command-{ANNOUNCER}")

    restarted = Runtime(many.runtime.settings, migrate=False)  # a new process loads the installs at start
    await restarted.open()
    try:
        assert list(restarted.wiring.slacks.by_key) == ["slack:T002"]
    finally:
        await restarted.close()


async def test_each_workspace_sees_and_changes_only_its_own_changes(many: Realign, slack: FakeSlack) -> None:
    seed(slack, T1, "U3")
    seed(slack, T2)
    await installed(many, T1, people=4)
    await installed(many, T2)
    one, two = many.slack.of(T1), many.slack.of(T2)
    slack.error("chat.postMessage", "messages_tab_disabled", when=lambda p: "U3" in str(p.get("channel")))

    first, _ = await announce(one, many.db, to=["U1", "U2", "U3"])
    second, _ = await announce(two, many.db, to=PEOPLE)

    await eventually(lambda: all(len(slack.dms_to(u, team=t)) == 1 for t in (T1, T2) for u in PEOPLE))
    for team, key in ((T1, first), (T2, second)):  # each workspace's own token, to its own people
        for user in PEOPLE:
            assert slack.dms_to(user, team=team)[0]["metadata"]["event_payload"]["change_key"] == key
    assert sent_with(slack, T1) >= 3 and sent_with(slack, T2) == 2
    failed = "SELECT count(*) FROM delivery WHERE state = 'failed'"
    await until(lambda: equals(many.db, failed, 1))

    overview = str((await two.command(ANNOUNCER, "/change-status")).json()["blocks"])
    assert second in overview and first not in overview
    refused = await two.command(ANNOUNCER, "/change-status", first)
    assert refused.body == copy.NO_SUCH_CHANGE.format(key=first)
    detail = (await one.command(ANNOUNCER, "/change-status", first)).json()
    status_message = {"blocks": detail["blocks"], "ts": "1700000000.000100"}

    # Clicks carrying the other workspace's ids are refused, and change nothing.
    in_one = deepcopy(slack.dms_to("U1", team=T1)[0])
    assert (await two.click("U1", in_one, action_id="realign.acknowledge")).status == 200
    assert "There is no change" in await told(slack, "click-U1")
    for action in ("realign.close", "realign.retry_failed"):
        assert (await two.click(ANNOUNCER, status_message, action_id=action)).status == 200
        assert await told(slack, f"click-{ANNOUNCER}") == copy.NO_SUCH_CHANGE.format(key=first)
    assert await count(many.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0
    assert await count(many.db, "SELECT count(*) FROM change WHERE state = 'published'") == 2
    assert await count(many.db, failed) == 1
    assert not slack.calls_to("chat.update")

    # So are forms: publishing, or overwriting, the other workspace's draft.
    draft, view = await announce(one, many.db, to=["U1"], publish=False)
    shown = await two.submit(ANNOUNCER, view, {}, as_shown=deepcopy(one.views[view]))
    assert copy.NO_SUCH_CHANGE.format(key=draft) in str(shown["view"]["blocks"])
    assert (await two.command(ANNOUNCER, "/announce-change", "Take over")).status == 200
    forged = deepcopy(two.views[two.open_view()])
    refused = await two.submit(ANNOUNCER, view, basics(title=typed("Taken over")), as_shown=forged)
    assert refused == {"response_action": "errors", "errors": {"title": copy.FORM_UNREADABLE}}
    drafts = "SELECT count(*) FROM change WHERE state = 'draft' AND title = 'Rota in T001'"
    assert await count(many.db, drafts) == 1
    assert await count(many.db, f"SELECT count(*) FROM delivery WHERE change_id = {draft.split('-')[1]}") == 0

    # The same clicks from the change's own workspace do their work.
    await one.click("U1", in_one, action_id="realign.acknowledge")
    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U1", team=T1)[0]["blocks"]))
    assert "Acknowledged" not in str(slack.dms_to("U1", team=T2)[0]["blocks"])
    await one.click(ANNOUNCER, status_message, action_id="realign.close")
    assert await told(slack, f"click-{ANNOUNCER}") == copy.CLOSED.format(key=first)


async def test_an_uninstall_stops_deliveries_and_follow_up_there(
    many: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack, T1)
    seed(slack, T2, "U9")
    await installed(many, T1)
    await installed(many, T2, people=4)
    one, two = many.slack.of(T1), many.slack.of(T2)
    slack.error("chat.postMessage", "internal_error", when=lambda p: "U9" in str(p.get("channel")))
    key, _ = await announce(two, many.db, to=["U1", "U9"], remind_after=typed("5s"))
    await eventually(lambda: len(slack.dms_to("U1", team=T2)) == 1)
    await many.settled()
    change = key.split("-")[1]
    clock.advance(hours=9)  # 18:00: U1's reminder is due, but waits for their morning
    waiting_notice = f"SELECT count(*) FROM notice WHERE change_id = {change} AND state = 'queued'"
    await until(lambda: equals(many.db, waiting_notice, 1))
    queued = f"SELECT count(*) FROM delivery WHERE change_id = {change} AND state IN ('queued', 'sending')"
    assert await count(many.db, queued) == 1  # U9: Slack's trouble, tried again later

    slack.revoke(T2)  # Slack revokes the tokens of an uninstalled app ...
    assert (await two.event({"type": "app_uninstalled"})).status == 200  # ... and tells Realign

    assert await count(many.db, "SELECT count(*) FROM slack_bots WHERE team_id = 'T002'") == 0
    assert await count(many.db, "SELECT count(*) FROM slack_installations WHERE team_id = 'T002'") == 0
    gone = copy.REMOVED_FROM_WORKSPACE
    assert await count(many.db, queued) == 0
    ended = "SELECT count(*) FROM {table} WHERE change_id = :c AND state = :state AND last_error = :r"
    assert await count(many.db, ended.format(table="delivery"), c=int(change), state="failed", r=gone) == 1
    assert await count(many.db, ended.format(table="notice"), c=int(change), state="skipped", r=gone) == 1
    assert (
        await count(many.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.workspace_removed'") == 1
    )

    # The engine drops the workspace at its next heartbeat; a row of it that falls due again (say,
    # queued by a process that had not heard) is settled as failed, not sent, and the engine goes on.
    await eventually(lambda: "slack:T002" not in engine_workspaces(many))
    posted = sent_with(slack, T2), len(slack.calls_to("chat.postMessage"))
    u9 = f"change_id = {change} AND user_id = 'U9'"
    async with many.db.transaction() as session:
        again = f"UPDATE delivery SET state = 'queued', due_at = :now, last_error = NULL WHERE {u9}"
        await session.execute(text(again), {"now": clock.now()})
    many.runtime.wake_dispatcher()
    await until(lambda: equals(many.db, f"SELECT count(*) FROM delivery WHERE {u9} AND state = 'failed'", 1))
    assert await count(many.db, f"SELECT count(*) FROM delivery WHERE {u9} AND last_error = :r", r=gone) == 1
    await announce(one, many.db, to=PEOPLE)  # the other workspace is served as before
    await eventually(lambda: all(len(slack.dms_to(u, team=T1)) == 1 for u in PEOPLE))
    assert sent_with(slack, T2) == posted[0]
    assert all(call.team == T1 for call in slack.calls_to("chat.postMessage")[posted[1] :])


async def test_a_revoked_bot_token_removes_the_workspace_but_user_tokens_do_not(
    many: Realign, slack: FakeSlack
) -> None:
    seed(slack, T2)
    await installed(many, T2)
    two = many.slack.of(T2)
    installs = "SELECT count(*) FROM slack_bots WHERE team_id = 'T002'"

    assert (await two.event({"type": "tokens_revoked", "tokens": {"oauth": ["UADMIN"]}})).status == 200
    assert await count(many.db, installs) == 1
    assert (await two.event({"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}})).status == 200
    assert await count(many.db, installs) == 0
    assert "slack:T002" not in many.runtime.wiring.slacks.by_key
