"""/api/messages refuses what it must: no token with an app id set (401), a non-loopback serviceUrl in
dev mode (403, nothing called), unreadable bodies (4xx); and answers Action.Execute with a proper
invoke response (botbuilder's CloudAdapter.process would answer 500)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import AdaptiveCardInvokeResponse

from adapters.teams import cards
from tests.conftest import FakeClock, count
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, TEAM, seed
from tests.fakes.teams_connector import FakeConnector

APP_ID = "11111111-2222-4333-8444-555555555555"


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    async with running(database_url, fake, clock) as app:
        yield app


async def test_with_an_app_id_an_activity_without_a_token_is_401_and_changes_nothing(
    database_url: str,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    extra = {"REALIGN_TEAMS_DEV": "0", "MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "not-a-secret-x"}
    async with running(database_url, fake, clock, **extra) as app:
        install = await app.teams.install(ANNOUNCER, conversation_id=TEAM)
        forged = await app.teams.install(ANNOUNCER, conversation_id=TEAM)
        assert install.status == 401
        denied = await app.teams.post(fake.installed_by(ANNOUNCER), headers={"Authorization": "Basic eA=="})
        assert denied.status == 401 and forged.status == 401
        assert await count(app.db, "SELECT count(*) FROM teams_install") == 0
        assert await count(app.db, "SELECT count(*) FROM person") == 0
    assert fake.calls == []


async def test_dev_mode_refuses_a_non_loopback_service_url_and_calls_nothing(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    for url in (
        "https://smba.trafficmanager.net/teams/",
        "http://10.0.0.5:8080/teams/",
        "http://127.0.0.1.evil.example/",
    ):
        activity = fake.installed_by(ANNOUNCER, conversation_id=TEAM) | {"serviceUrl": url}
        answer = await realign.teams.post(activity)
        assert answer.status == 403, url
    assert await count(realign.db, "SELECT count(*) FROM teams_install") == 0
    assert fake.calls == []
    localhost = fake.installed_by(ANNOUNCER) | {"serviceUrl": fake.url.replace("127.0.0.1", "localhost")}
    assert (await realign.teams.post(localhost)).status == 200  # loopback by name is fine


async def test_unreadable_requests_are_4xx_never_5xx(realign: TeamsRealign, fake: FakeConnector) -> None:  # noqa: F811
    http, url = realign.teams.http, realign.teams.url
    for body, content_type in (("{", "application/json"), ("[]", "application/json"), ("x", "text/plain")):
        async with http.post(url, data=body, headers={"Content-Type": content_type}) as response:
            assert 400 <= response.status < 500, body
    seed(fake)
    bad_click = fake.invoke_from(
        ANNOUNCER,
        "adaptiveCard/action",
        {"action": {"verb": cards.ACK_VERB, "data": {"realign": cards.ACK_VERB, "delivery_id": "x"}}},
    )
    answer = await realign.teams.post(bad_click)
    assert answer.status == 200 and answer.body["statusCode"] == 200  # refused on the card


async def test_action_execute_is_answered_with_a_card_where_cloud_adapter_process_fails() -> None:
    """The trap: CloudAdapter.process re-serialises an invoke body that is already a dict, and answers 500.
    Realign's endpoint (the other tests) calls process_activity and writes the body itself."""

    class Answering(TeamsActivityHandler):
        async def on_adaptive_card_invoke(
            self, turn: TurnContext, invoke_value: object
        ) -> AdaptiveCardInvokeResponse:
            return AdaptiveCardInvokeResponse(
                status_code=200, type=cards.CONTENT_TYPE, value=cards.note("ok")
            )

    class Dev:
        APP_ID = ""
        APP_PASSWORD = ""

    adapter, bot = CloudAdapter(ConfigurationBotFrameworkAuthentication(Dev())), Answering()

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            response = await adapter.process(request, bot)
        except Exception:
            return web.Response(status=500)
        return response or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    async with FakeConnector() as teams, TestServer(app, host="127.0.0.1") as server:
        teams.add_user(ANNOUNCER)
        import aiohttp

        activity = teams.invoke_from(ANNOUNCER, "adaptiveCard/action", {"action": {"verb": "x", "data": {}}})
        async with (
            aiohttp.ClientSession() as http,
            http.post(server.make_url("/api/messages"), json=activity) as r,
        ):
            assert r.status == 500
