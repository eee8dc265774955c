"""Shared fixtures: a controlled clock, and a migrated database on SQLite and on PostgreSQL.

PostgreSQL comes from REALIGN_TEST_POSTGRES_URL (default: the local `test` database); each test
session creates its own database on that server and drops it at the end. When the server cannot be
reached, the PostgreSQL cases are skipped with the reason, unless REALIGN_REQUIRE_POSTGRES=1 (as in
CI), which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import store.tables  # noqa: F401  (the tables, for TABLES)
from store.db import Database
from store.migrate import upgrade

POSTGRES_URL = os.environ.get("REALIGN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REALIGN_REQUIRE_POSTGRES") == "1"
TABLES = ", ".join(table.name for table in SQLModel.metadata.sorted_tables)


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


_private_url: str | None = None
_unreachable: str | None = None


def new_database(name: str) -> str:
    """An empty database of this name on the PostgreSQL server (dropped first if it exists)."""
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")


def _private_database() -> str:
    """A database of this test session's own on the PostgreSQL server, so concurrent runs never meet."""
    url = new_database(f"realign_test_{os.getpid()}")
    upgrade(url)
    return url


def postgres_url() -> str:
    """This session's migrated PostgreSQL database, emptied for each test."""
    global _private_url, _unreachable
    if _private_url is None and _unreachable is None:
        try:
            _private_url = _private_database()
        except psycopg.OperationalError as error:
            _unreachable = f"PostgreSQL unreachable at {POSTGRES_URL}: {str(error).strip().splitlines()[0]}"
    if _private_url is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{_unreachable} (REALIGN_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(str(_unreachable))
    with psycopg.connect(_private_url, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return _private_url


@pytest.fixture(scope="session", autouse=True)
def _drop_private_database() -> Iterator[None]:
    yield
    if _private_url is not None:
        drop_database(_private_url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database; every test using it runs once on each backend."""
    if request.param == "postgres":
        yield postgres_url()
        return
    url = f"sqlite:///{tmp_path / 'realign.db'}"
    upgrade(url)
    yield url


@pytest.fixture(params=["sqlite", "postgres"])
def bare_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema at all, for migration tests; on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bare.db'}"
        return
    postgres_url()  # skips or fails as for every PostgreSQL test when the server is unreachable
    url = new_database(f"realign_test_{os.getpid()}_bare")
    yield url
    drop_database(url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()


async def count(db: Database, sql: str, **params: object) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(text(sql), params)).scalar_one())
