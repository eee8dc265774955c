"""The benchmark's database: a fresh one per run, and the plain SQL the benchmark reads it with."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_DB = "realign_bench"  # never `test`: the test suite empties that one
SETTLED = "SELECT count(*) FROM delivery WHERE state IN ('delivered', 'failed')"
TARGETED = "SELECT count(*) FROM delivery WHERE state <> 'excluded'"
LAST_SENT = "SELECT max(sent_at) FROM delivery"
UNACKNOWLEDGED = (
    "SELECT id, user_id, ts FROM delivery WHERE state = 'delivered' AND acknowledged_at IS NULL"
    " ORDER BY id DESC LIMIT 200"
)


def fresh_postgres(name: str = POSTGRES_DB) -> str:
    """Create the database `name` (`realign_bench`) if missing and empty its public schema; its URL."""
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_SERVER}/{name}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


def fresh_database(kind: str, workdir: Path, *, postgres_name: str = POSTGRES_DB) -> str:
    """A DATABASE_URL for an empty database of `kind` ("sqlite" or "postgres")."""
    if kind == "postgres":
        return fresh_postgres(postgres_name)
    return f"sqlite:///{workdir / f'{workdir.name}.db'}"


class Probe:
    """Read-only queries from the benchmark, run in a thread so the event loop keeps timing requests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = asyncio.Lock()
        self._connection: Any = None

    def _connect(self) -> Any:
        if self.url.startswith("sqlite:///"):
            path = self.url.removeprefix("sqlite:///")
            return sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    def _connected(self) -> Any:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _run(self, sql: str) -> Sequence[Any]:
        return list(self._connected().execute(sql).fetchall())

    def _write(self, sql: str) -> int:
        return int(self._connected().execute(sql).rowcount)

    async def rows(self, sql: str) -> Sequence[Any]:
        """All rows of `sql`."""
        async with self._lock:
            return await asyncio.to_thread(self._run, sql)

    async def execute(self, sql: str) -> int:
        """Run one writing statement (committed at once); how many rows it touched."""
        async with self._lock:
            return await asyncio.to_thread(self._write, sql)

    async def scalar(self, sql: str) -> Any:
        """The first column of the first row of `sql` (None if no row)."""
        rows = await self.rows(sql)
        return rows[0][0] if rows else None

    async def last_sent(self) -> datetime | None:
        """When the last delivery was recorded as sent (UTC)."""
        value = await self.scalar(LAST_SENT)
        if isinstance(value, str):  # SQLite keeps naive UTC text
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return None

    def close(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
