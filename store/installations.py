"""Slack OAuth installs in Realign's own database: slack_sdk's SQLAlchemy stores, over our engine.

The tables are slack_sdk's own layout (store.tables, created by migration 0008), so its stores read and
write them. Around them Realign adds: writes take this process's writer turn (SQLite queues writers
fairly), reads never take the write lock, the installed workspaces can be listed and found by team, and
the OAuth `state` is signed with SLACK_STATE_SECRET as well as stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import (
    AsyncSQLAlchemyInstallationStore,
    SQLAlchemyInstallationStore,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import delete, desc, select

from store.db import Database
from store.tables import SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES

log = logging.getLogger(__name__)
STATE_LIFETIME = 600  # seconds from /slack/install to the redirect back


class SqlInstallations(AsyncInstallationStore):
    """The installation store bolt's OAuth flow saves into, plus the look-ups Realign's wiring makes."""

    def __init__(self, db: Database, *, client_id: str) -> None:
        self.db = db
        self.client_id = client_id
        self._reads = AsyncSQLAlchemyInstallationStore(client_id, db.reading_engine, logger=log)
        self._writes = AsyncSQLAlchemyInstallationStore(client_id, db.engine, logger=log)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        async with self.db.writer_turn():
            await self._writes.async_save(installation)

    async def async_save_bot(self, bot: Bot) -> None:
        async with self.db.writer_turn():
            await self._writes.async_save_bot(bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return await self._reads.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await self._reads.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self.db.writer_turn():
            await self._writes.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        async with self.db.writer_turn():
            await self._writes.async_delete_installation(
                enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
            )

    # --- Realign's own look-ups, by team alone (a workspace of an Enterprise Grid has both ids) ---------

    async def bot(self, team_id: str) -> Bot | None:
        """The team's latest bot with a token, if Realign is installed there."""
        c = SLACK_BOTS.c
        query = (
            select(SLACK_BOTS)
            .where(c.client_id == self.client_id, c.team_id == team_id, c.bot_token.is_not(None))
            .order_by(desc(c.installed_at), desc(c.id))
            .limit(1)
        )
        async with self.db.reading() as session:
            row = (await session.execute(query)).mappings().first()
        return None if row is None else SQLAlchemyInstallationStore.build_bot_entity(row)

    async def bots(self) -> list[Bot]:
        """Every installed team's latest bot with a token."""
        c = SLACK_BOTS.c
        query = (
            select(SLACK_BOTS)
            .where(c.client_id == self.client_id, c.team_id.is_not(None), c.bot_token.is_not(None))
            .order_by(desc(c.installed_at), desc(c.id))
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).mappings().all()
        latest: dict[str, Any] = {}
        for row in rows:
            latest.setdefault(row["team_id"], row)
        return [SQLAlchemyInstallationStore.build_bot_entity(row) for row in latest.values()]

    async def remove(self, team_id: str) -> None:
        """Forget every installation and bot of the team (the app was uninstalled, its tokens revoked)."""
        async with self.db.transaction() as session:
            for table in (SLACK_INSTALLATIONS, SLACK_BOTS):
                await session.execute(
                    delete(table).where(table.c.client_id == self.client_id, table.c.team_id == team_id)
                )


class SignedStates(AsyncOAuthStateStore):
    """OAuth `state`s: single-use rows in our database that expire after STATE_LIFETIME, handed out
    signed with SLACK_STATE_SECRET, so a forged or altered one is refused before the database is asked.
    (Bolt also ties each state to the installer's browser with a cookie.)"""

    def __init__(self, db: Database, *, secret: str, lifetime: int = STATE_LIFETIME) -> None:
        self.db = db
        self._key = secret.encode()
        self._rows = AsyncSQLAlchemyOAuthStateStore(lifetime, db.engine, logger=log)

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        now = datetime.now(UTC).replace(tzinfo=None)  # slack_sdk keeps naive UTC here
        async with self.db.transaction() as session:  # states nobody came back with
            await session.execute(delete(SLACK_OAUTH_STATES).where(SLACK_OAUTH_STATES.c.expire_at < now))
        async with self.db.writer_turn():
            nonce = await self._rows.async_issue()
        return f"{nonce}.{self._sign(nonce)}"

    async def async_consume(self, state: str) -> bool:
        nonce, _, signature = (state or "").rpartition(".")
        if not nonce or not hmac.compare_digest(signature.encode(), self._sign(nonce).encode()):
            log.warning("refused an OAuth redirect whose state Realign did not sign")
            return False
        async with self.db.writer_turn():
            return await self._rows.async_consume(nonce)
