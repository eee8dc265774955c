"""The database: URL handling, the async engine, sessions, and what differs between SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.errors import ConfigError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


# user:password@ up to the last '@' (a password with an unescaped '@' is hidden whole, not in part)
_USERINFO = re.compile(r"^(?P<scheme>[^:/]*://[^:/?#@]*:)(?P<password>.*)@(?P<rest>[^@]*)$", re.S)


def safe_url(raw: str) -> str:
    """The URL as it may be logged or shown: its password, if any, replaced by `***`."""
    return _USERINFO.sub(r"\g<scheme>***@\g<rest>", raw.strip())


def redact(text: str, *, url: str) -> str:
    """`text` (e.g. a driver's error message) without the password of `url` anywhere in it. A password
    with an unescaped '@' is read by drivers as a shorter password and a host: neither part is shown."""
    found = _USERINFO.match(url.strip())
    if not found or not found["password"]:
        return text
    pieces = found["password"].split("@")
    parts = {found["password"]: "***"}
    for cut in range(1, len(pieces)):
        parts["@".join(pieces[:cut])] = "***"  # what a driver takes for the password
        parts["@".join(pieces[cut:]) + "@"] = "***@"  # and the start of what it takes for the host
    for secret in sorted(parts, key=len, reverse=True):
        text = text.replace(secret, parts[secret])
    return text


def parse_url(raw: str, *, sync: bool = False) -> URL:
    """Accept the URLs hosts hand out (`postgres://`, `postgresql://`, `sqlite:///x.db`); pick our driver."""
    try:
        url = make_url(raw.strip())
    except Exception as error:  # the parser's message may quote the URL, password and all
        reason = redact(str(error), url=raw)
        raise ConfigError(f"DATABASE_URL '{safe_url(raw)}' is not a database URL ({reason})") from None
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


_READING = "realign_reading"  # execution option of the engine behind Database.reading()


def _begin(connection: Any) -> None:
    # A writing transaction takes the write lock at BEGIN: a deferred one that reads and then writes
    # while another connection commits fails at once with SQLITE_BUSY instead of waiting for
    # busy_timeout. A reading one stays deferred, so reads never queue behind writers (WAL).
    reading = connection.get_execution_options().get(_READING, False)
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


class WriterQueue:
    """A lock for async code on any thread or event loop, granted first come, first served.

    asyncio.Lock serves one event loop; a process with an engine thread has two, writing the same
    SQLite file through two connection pools."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn: asyncio.Future[None] = loop.create_future()
            self._waiting.append((loop, turn))
        try:
            await turn
        except asyncio.CancelledError:
            with self._mutex:
                if (loop, turn) in self._waiting:
                    self._waiting.remove((loop, turn))
                    raise
            if not turn.cancelled():  # granted, then cancelled before it ran: pass it on
                self._release()
            raise  # else the grant, when it runs, sees the cancelled turn and passes it on

    async def __aexit__(self, *_: object) -> None:
        self._release()

    def _release(self) -> None:
        with self._mutex:
            if not self._waiting:
                self._held = False
                return
            loop, turn = self._waiting.popleft()
        try:
            loop.call_soon_threadsafe(self._grant, turn)
        except RuntimeError:  # that loop has closed: its waiter is gone
            self._release()

    def _grant(self, turn: asyncio.Future[None]) -> None:
        if turn.cancelled():
            self._release()
        else:
            turn.set_result(None)


_SQLITE_WRITERS: dict[str, WriterQueue] = {}  # per database file, shared by this process's pools


class Database:
    """One engine per process; repositories open short sessions from it: `reading()` for queries,
    `transaction()` for changes.

    SQLite has one writer at a time. This process's writers, on every thread, queue on one lock, first
    come first served, rather than in SQLite's busy handler, which sleeps up to 100 ms between tries
    and lets a steady stream of writers (a fan-out) starve an occasional one (a button click)."""

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
        self._write_lock: WriterQueue | contextlib.nullcontext[None] = contextlib.nullcontext()
        if self.is_sqlite:
            self._write_lock = _SQLITE_WRITERS.setdefault(str(self.url.database), WriterQueue())

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

    @asynccontextmanager
    async def writer_turn(self) -> AsyncIterator[None]:
        """This process's turn to write, for code that opens its own transactions on `engine` (a
        library's store): on SQLite it queues with the other writers instead of in the busy handler."""
        async with self._write_lock:
            yield

    @property
    def reading_engine(self) -> AsyncEngine:
        """`engine` for reads only: on SQLite its transactions never take the write lock."""
        return self.engine.execution_options(**{_READING: True})

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
