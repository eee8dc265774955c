"""Slack OAuth installs in Realign's database (tables of migration 0008), on SQLite and PostgreSQL:
installations saved by bolt's flow are found by team, the latest token wins, removal forgets a team;
OAuth states are single use and must carry Realign's signature."""

from __future__ import annotations

import time

from slack_sdk.oauth.installation_store import Installation

from store.db import Database
from store.installations import SignedStates, SqlInstallations

CLIENT_ID = "1111.2222"


def installation(team: str, token: str, *, at: float) -> Installation:
    return Installation(
        app_id="A0REALIGN",
        enterprise_id=None,
        team_id=team,
        team_name=f"Team {team}",
        bot_token=token,
        bot_id="BBOT",
        bot_user_id="UBOT",
        bot_scopes="chat:write,commands",
        user_id="UINSTALLER",
        installed_at=at,
    )


async def test_installs_are_found_by_team_and_the_latest_token_wins(db: Database) -> None:
    store = SqlInstallations(db, client_id=CLIENT_ID)
    now = time.time()
    await store.async_save(installation("T1", "xoxb-old", at=now - 60))
    await store.async_save(installation("T1", "xoxb-new", at=now))
    await store.async_save(installation("T2", "xoxb-two", at=now))

    found = await store.bot("T1")
    assert found is not None and found.bot_token == "xoxb-new" and found.bot_user_id == "UBOT"
    assert sorted((bot.team_id, bot.bot_token) for bot in await store.bots()) == [
        ("T1", "xoxb-new"),
        ("T2", "xoxb-two"),
    ]
    assert await SqlInstallations(db, client_id="another-app").bots() == []  # another app's rows are not ours

    await store.remove("T1")
    assert await store.bot("T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert [bot.team_id for bot in await store.bots()] == ["T2"]


async def test_an_oauth_state_works_once_and_only_as_signed(db: Database) -> None:
    states = SignedStates(db, secret="state-secret")
    state = await states.async_issue()
    nonce, _, signature = state.rpartition(".")

    assert not await states.async_consume(f"{nonce}.{'0' * len(signature)}")  # not Realign's signature
    assert not await SignedStates(db, secret="another-secret").async_consume(state)
    assert not await states.async_consume(nonce)
    assert await states.async_consume(state)
    assert not await states.async_consume(state)  # used up


async def test_an_expired_oauth_state_is_refused(db: Database) -> None:
    states = SignedStates(db, secret="state-secret", lifetime=-1)

    assert not await states.async_consume(await states.async_issue())
