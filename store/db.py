"""The database: URL handling, the async engine, sessions, and what differs between SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.errors import ConfigError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def parse_url(raw: str, *, sync: bool = False) -> URL:
    """Accept the URLs hosts hand out (`postgres://`, `postgresql://`, `sqlite:///x.db`); pick our driver."""
    try:
        url = make_url(raw.strip())
    except Exception as error:
        raise ConfigError(f"DATABASE_URL '{raw}' is not a database URL ({error})") from None
    backend = {"postgres": "postgresql"}.get(url.get_backend_name(), url.get_backend_name())
    drivers = _SYNC_DRIVERS if sync else _ASYNC_DRIVERS
    if backend not in drivers:
        raise ConfigError(
            f"DATABASE_URL must be sqlite:///... or postgresql://..., not '{url.drivername}://'"
        )
    return url.set(drivername=drivers[backend])


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes writers queue instead of failing.
    dbapi_connection.isolation_level = None  # the driver's implicit BEGIN is replaced by _begin_immediate
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin(connection: Any) -> None:
    # A writing transaction takes the write lock at BEGIN: a deferred one that reads and then writes
    # while another connection commits fails at once with SQLITE_BUSY instead of waiting for
    # busy_timeout. A reading one stays deferred, so reads never queue behind writers (WAL).
    reading = connection.get_execution_options().get(_READING, False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


_READING = "realign_reading"


class Database:
    """One engine per process; repositories open short sessions from it: `reading()` for queries,
    `transaction()` for changes.

    SQLite has one writer at a time. This process's writers queue on a lock, first come first served,
    rather than in SQLite's busy handler, which sleeps up to 100 ms between tries and lets a steady
    stream of writers (a fan-out) starve an occasional one (a button click)."""

    def __init__(self, raw_url: str, *, pool_size: int = 10) -> None:
        self.url = parse_url(raw_url)
        options: dict[str, Any] = {}
        if not self.is_sqlite:
            options = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
            event.listen(self.engine.sync_engine, "begin", _begin)
        self._writers = async_sessionmaker(self.engine, expire_on_commit=False)
        self._readers = async_sessionmaker(
            self.engine.execution_options(**{_READING: True}), expire_on_commit=False
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def reading(self) -> AsyncSession:
        """A session for queries only (`async with db.reading() as session:`)."""
        return self._readers()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one writing transaction: committed on success, rolled back on error."""
        async with self._write_lock, self._writers() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
