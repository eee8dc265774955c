"""Drives the real Realign HTTP app as Teams would: activities POSTed to /api/messages carrying the
fake connector's serviceUrl, card clicks and form submissions as `adaptiveCard/action` invokes (or the
Action.Submit fallback). What Realign sends back lands in the fake, where the tests read it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer

from realign.runtime import Runtime
from realign.settings import Settings
from store.db import Database
from tests.conftest import FakeClock
from tests.e2e.conftest import Realign
from tests.fakes.teams_connector import FakeConnector

Json = dict[str, Any]


@dataclass
class Answer:
    status: int
    body: Any


class TeamsDriver:
    """A Teams tenant talking to Realign at `base_url`."""

    def __init__(self, *, base_url: str, fake: FakeConnector, http: aiohttp.ClientSession) -> None:
        self.url = base_url.rstrip("/") + "/api/messages"
        self.fake = fake
        self.http = http

    async def post(self, activity: Json, *, headers: dict[str, str] | None = None) -> Answer:
        sent = {"Content-Type": "application/json", **(headers or {})}
        async with self.http.post(self.url, data=json.dumps(activity), headers=sent) as response:
            text = await response.text()
            return Answer(response.status, json.loads(text) if text else None)

    async def install(self, user_id: str, *, conversation_id: str | None = None) -> Answer:
        """`user_id` adds Realign to their personal scope, or to the team or chat `conversation_id`."""
        return await self.post(self.fake.installed_by(user_id, conversation_id=conversation_id))

    async def say(self, user_id: str, text: str, *, conversation_id: str | None = None) -> Answer:
        return await self.post(self.fake.message_from(user_id, text, conversation_id=conversation_id))

    def last_card(self, user_id: str) -> Json:
        return self.fake.cards_to(user_id)[-1]

    async def execute(self, user_id: str, card: Json, *, verb: str, inputs: Json | None = None) -> Answer:
        """Click the Action.Execute `verb` of `card`, at the top or in one of its inline forms
        (Action.ShowCard), with the card's inputs filled in as `inputs`."""
        action = find_action(card, verb)
        activity_id = self.activity_of(user_id, card)  # the clicked card's activity: Teams sends replyToId
        value = {
            "action": {"type": "Action.Execute", "verb": verb, "data": {**action["data"], **(inputs or {})}}
        }
        activity = self.fake.invoke_from(user_id, "adaptiveCard/action", value, reply_to_id=activity_id)
        return await self.post(activity)

    def activity_of(self, user_id: str, card: Json) -> str | None:
        """The id of the activity in the user's 1:1 chat that carries `card` (None: not posted there)."""
        return next(
            (
                a["id"]
                for a in self.fake.activities_to(user_id)
                for at in a.get("attachments") or ()
                if at["content"] == card
            ),
            None,
        )

    async def submit(self, user_id: str, card: Json, *, verb: str, inputs: Json | None = None) -> Answer:
        """The Action.Submit fallback of `verb`: a message whose value is the action's data (and inputs)."""
        action = find_action(card, verb)
        value = {**action["fallback"]["data"], **(inputs or {})}
        return await self.post(self.fake.message_from(user_id, value=value))

    async def search(self, user_id: str, text: str, *, dataset: str, skip: int = 0, top: int = 15) -> Answer:
        """Type into a ChoiceSet whose choices come from Realign (`choices.data`): an `application/search`
        invoke, as Teams sends it for a typeahead."""
        value = {"queryText": text, "queryOptions": {"skip": skip, "top": top}, "dataset": dataset}
        return await self.post(self.fake.invoke_from(user_id, "application/search", value))


def actions_of(card: Json) -> list[Json]:
    """Every action of a card: its own, and those of its inline forms (Action.ShowCard), depth first."""
    found = []
    for action in card.get("actions") or ():
        found.append(action)
        if action.get("type") == "Action.ShowCard":
            found += actions_of(action["card"])
    return found


def find_action(card: Json, verb: str) -> Json:
    return next(a for a in actions_of(card) if a.get("verb") == verb)


def inline_form(card: Json, title: str) -> Json:
    """The card an Action.ShowCard titled `title` opens."""
    return next(
        a["card"] for a in actions_of(card) if a.get("type") == "Action.ShowCard" and a["title"] == title
    )


def teams_settings(database_url: str, **extra: Any) -> Settings:
    return Settings(**{"DATABASE_URL": database_url, "REALIGN_TEAMS_DEV": "1", **extra})


@dataclass
class TeamsRealign:
    """A running Realign serving Teams in dev mode, the driver, and the fake behind it."""

    runtime: Runtime
    teams: TeamsDriver

    @property
    def db(self) -> Database:
        return self.runtime.db

    async def settled(self, *, within: float = 10.0) -> None:
        await Realign(self.runtime, slack=None).settled(within=within)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as connector:
        yield connector


@asynccontextmanager
async def running(
    database_url: str, fake: FakeConnector, clock: FakeClock, **extra: Any
) -> AsyncIterator[TeamsRealign]:
    """Realign on `database_url` with REALIGN_TEAMS_DEV, its web app on a free port, its engine ticking."""
    runtime = Runtime(teams_settings(database_url, **extra), clock=clock)
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_ticks()
    try:
        async with aiohttp.ClientSession() as http:
            yield TeamsRealign(runtime, TeamsDriver(base_url=str(server.make_url("/")), fake=fake, http=http))
    finally:
        await server.close()
        await runtime.close()
