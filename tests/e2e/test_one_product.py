"""One product for a company on both platforms: one `realign` process serves a Slack workspace and a
Teams tenant at once, on SQLite and PostgreSQL. Each change reaches its own platform's people only, is
seen and acted on only from the workspace it was announced in, and both write one audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from realign.runtime import Runtime
from tests.conftest import FakeClock, count
from tests.e2e import test_slack_flow as on_slack
from tests.e2e import test_teams_flow as on_teams
from tests.e2e.conftest import Realign, eventually, settings
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.teams_driver import TeamsDriver, TeamsRealign, fake  # noqa: F401  (fake: a fixture)
from tests.e2e.test_export import rows, run
from tests.fakes.slack_api import FakeSlack
from tests.fakes.teams_connector import FakeConnector


@dataclass
class Both:
    slack: Realign
    teams: TeamsRealign


@pytest_asyncio.fixture
async def both(
    database_url: str,
    slack: FakeSlack,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> AsyncIterator[Both]:
    runtime = Runtime(settings(database_url, slack, REALIGN_TEAMS_DEV="1"), clock=clock)
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_ticks()
    base = str(server.make_url("/"))
    try:
        async with aiohttp.ClientSession() as http:
            yield Both(
                Realign(runtime, SlackDriver(base_url=base, slack=slack, http=http)),
                TeamsRealign(runtime, TeamsDriver(base_url=base, fake=fake, http=http)),
            )
    finally:
        await server.close()
        await runtime.close()


async def test_one_process_serves_slack_and_teams_with_one_audit_trail(
    both: Both,
    slack: FakeSlack,
    fake: FakeConnector,  # noqa: F811
    database_url: str,
) -> None:
    on_slack.seed(slack)
    on_teams.seed(fake)
    await on_teams.install(both.teams, fake)
    await on_slack.announce(both.slack)  # CHG-1, in the Slack workspace
    await on_teams.announce(both.teams, fake)  # CHG-2, in the Teams tenant
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in on_slack.EVERYONE))
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in on_teams.EVERYONE))
    await both.slack.settled()
    assert all("CHG-1" in str(slack.dms_to(u)[0]["blocks"]) for u in on_slack.EVERYONE)
    assert all("CHG-2" in str(fake.cards_to(u)[0]) for u in on_teams.EVERYONE)

    async with both.slack.db.engine.connect() as connection:
        workspaces = dict((await connection.execute(text("SELECT id, workspace FROM change"))).all())
    assert workspaces[1].startswith("slack:") and workspaces[2].startswith("teams:")
    for change_id in (1, 2):  # one audit trail: both changes' publish and deliveries in the same log
        assert (
            await count(
                both.slack.db,
                "SELECT count(*) FROM audit_event WHERE kind = 'change.published' AND change_id = :c",
                c=change_id,
            )
            == 1
        )
        assert (
            await count(
                both.slack.db,
                "SELECT count(*) FROM audit_event WHERE kind = 'delivery.delivered' AND change_id = :c",
                c=change_id,
            )
            == 6
        )

    # Each change belongs to the workspace it was announced in: the other one cannot see it.
    other = await both.slack.slack.command(on_slack.ANNOUNCER, "/change-status", "CHG-2")
    assert "There is no change called CHG-2" in other.body
    await both.teams.teams.say(on_teams.ANNOUNCER, "change-status CHG-1")
    assert "There is no change called CHG-1" in str(both.teams.teams.last_card(on_teams.ANNOUNCER))
    await both.teams.teams.say(on_teams.ANNOUNCER, "change-status CHG-2")
    assert "Delivered 6" in str(both.teams.teams.last_card(on_teams.ANNOUNCER))

    for key in ("CHG-1", "CHG-2"):  # and one export command for both
        code, out, _ = await run(database_url, key)
        assert code == 0 and len([r for r in rows(out) if r["state"] == "delivered"]) == 6
