"""Shared fixtures: a controlled clock, and a migrated database on SQLite and on PostgreSQL.

PostgreSQL comes from REALIGN_TEST_POSTGRES_URL (default: the local `test` database). When it cannot
be reached the PostgreSQL cases are skipped with the reason, unless REALIGN_REQUIRE_POSTGRES=1 (CI),
which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from store.db import Database
from store.migrate import upgrade

POSTGRES_URL = os.environ.get("REALIGN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REALIGN_REQUIRE_POSTGRES") == "1"
TABLES = "audit_event, delivery, audience_group, change, person, workspace"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


_postgres_ready: bool | None = None


def _postgres_url() -> str:
    """Migrate the PostgreSQL test database once per run, then empty its tables for each test."""
    global _postgres_ready
    if _postgres_ready is None:
        try:
            psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
            _postgres_ready = True
        except psycopg.OperationalError as error:
            _postgres_ready = False
            reason = f"PostgreSQL unreachable at {POSTGRES_URL}: {str(error).strip().splitlines()[0]}"
            if REQUIRE_POSTGRES:
                pytest.fail(reason + " (REALIGN_REQUIRE_POSTGRES=1)", pytrace=False)
            pytest.skip(reason)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade(POSTGRES_URL)
    if not _postgres_ready:
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL unreachable at {POSTGRES_URL} (REALIGN_REQUIRE_POSTGRES=1)", pytrace=False
            )
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database; every test using it runs once on each backend."""
    if request.param == "postgres":
        yield _postgres_url()
        return
    url = f"sqlite:///{tmp_path / 'realign.db'}"
    upgrade(url)
    yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()


async def count(db: Database, sql: str, **params: object) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(text(sql), params)).scalar_one())
