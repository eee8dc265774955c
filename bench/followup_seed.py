"""The follow-up benchmark's starting point, written straight into the database and the Slack fake.

One change published a day ago to N people `U00000000`..., every DM delivered (a thread parent in each
DM in the fake), a seeded random half acknowledged. The org chart gives the first N - `unmanaged`
recipients a manager `UM00000000`... (`per_manager` reports each); every LATE_EVERY-th of them has no
manager on the delivery yet (an org chart imported after publishing), so the escalation wave fills it
from `person`. No fan-out runs: the rows are copied in seconds. No due time is set: nothing is due
until the benchmark sets one (`due_now`).
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

import psycopg

from tests.fakes.slack_api import FakeSlack

WORKSPACE = "slack:T001"  # FakeSlack's team id, as its auth.test says
ANNOUNCER = "UANN00000000"  # what add_users(1, prefix="UANN") creates
CHANGE_ID = 1
LATE_EVERY = 10
PARENT_TS = 1_700_000_000  # the announcements' ts, seconds part
TZ = "Europe/London"  # the fake's default, so the directory sync changes nothing
PERSON = "workspace, user_id, name, email, tz, active, is_bot, department, title, manager_id, updated_at"
DELIVERY = (
    "change_id, user_id, group_mask, state, last_error, attempts, unsure, due_at, channel, ts, sent_at,"
    " acknowledged_at, remind_at, reminders_sent, department, manager_id"
)
CHANGE = (
    "id, workspace, announcer_id, title, what, why, effective_date, ack_deadline, customer_impact,"
    " customer_plan, state, draft_ref, created_at, published_at, closed_at, remind_after_s,"
    " max_reminders, escalate_after_s, escalate_at, report_at"
)
GROUP = "change_id, position, name, today, from_effective, user_ids, usergroup_ids, channel_ids"


@dataclass(frozen=True)
class Population:
    """Who is in the benchmark's workspace, who acknowledged, and who manages whom."""

    n: int
    per_manager: int = 10
    unmanaged: int = 10
    seed: int = 0

    @property
    def managed(self) -> int:
        """Recipients with a manager: the first ones."""
        return max(0, self.n - self.unmanaged)

    @property
    def managers(self) -> int:
        return math.ceil(self.managed / self.per_manager)

    @staticmethod
    def user(i: int) -> str:
        return f"U{i:08d}"

    def manager_of(self, i: int) -> str | None:
        return f"UM{i // self.per_manager:08d}" if i < self.managed else None

    @staticmethod
    def parent_ts(i: int) -> str:
        """The ts of recipient i's announcement: unique, older than anything the fake posts."""
        return f"{PARENT_TS + i // 1_000_000}.{i % 1_000_000:06d}"

    @cached_property
    def acknowledged(self) -> frozenset[int]:
        return frozenset(random.Random(self.seed).sample(range(self.n), self.n // 2))

    @cached_property
    def pending(self) -> frozenset[str]:
        """Who should get a reminder."""
        return frozenset(self.user(i) for i in range(self.n) if i not in self.acknowledged)

    @cached_property
    def escalated(self) -> frozenset[str]:
        """Who should get an escalation: every manager with at least one pending report."""
        found = (self.manager_of(i) for i in range(self.managed) if i not in self.acknowledged)
        return frozenset(m for m in found if m is not None)

    @property
    def unmanaged_pending(self) -> bool:
        """Whether the announcer should hear about pending people with no manager."""
        return any(i not in self.acknowledged for i in range(self.managed, self.n))


def seed_fake(fake: FakeSlack, population: Population) -> None:
    """The users (recipients, managers, announcer) and each recipient's announcement in their DM."""
    fake.add_users(population.n, prefix="U")
    fake.add_users(population.managers, prefix="UM")
    fake.add_users(1, prefix="UANN")
    workspace = fake.workspace
    for i in range(population.n):
        user, ts = population.user(i), population.parent_ts(i)
        channel = workspace.add_channel(f"D{user}", [user, workspace.bot_user_id])
        message = {
            "type": "message",
            "user": workspace.bot_user_id,
            "bot_id": f"B{workspace.bot_user_id}",
            "team": workspace.team_id,
            "text": "Bench: new expense tool",
            "blocks": None,
            "metadata": None,
            "thread_ts": None,
            "ts": ts,
            "edits": 0,
        }
        channel.messages.append(message)
        channel.by_ts[ts] = message


def _people(population: Population, at: datetime) -> Iterator[tuple[Any, ...]]:
    def one(user: str, manager: str | None, department: str | None) -> tuple[Any, ...]:
        name = user.lower()
        email = f"{name}@example.com"
        return (WORKSPACE, user, name, email, TZ, True, False, department, None, manager, at)

    yield one(ANNOUNCER, None, None)
    for m in range(population.managers):
        yield one(f"UM{m:08d}", None, "management")
    for i in range(population.n):
        manager = population.manager_of(i)
        yield one(population.user(i), manager, _department(population, i))


def _department(population: Population, i: int) -> str:
    return f"team {i // population.per_manager % 50:02d}"


def _delivery_rows(population: Population, at: datetime) -> Iterator[tuple[Any, ...]]:
    sent, acknowledged = at - timedelta(days=1), at - timedelta(hours=1)
    for i in range(population.n):
        user = population.user(i)
        manager = None if i % LATE_EVERY == LATE_EVERY - 1 else population.manager_of(i)
        ack = acknowledged if i in population.acknowledged else None
        yield (
            *(CHANGE_ID, user, 1, "delivered", None, 1, False, None),
            *(f"D{user}", population.parent_ts(i), sent, ack, None, 0),
            *(_department(population, i), manager),
        )


def _change(at: datetime) -> tuple[Any, ...]:
    today = at.date()
    return (
        *(CHANGE_ID, WORKSPACE, ANNOUNCER, "Bench: new expense tool", "Expenses move to the new tool"),
        *("The old one is retired", today + timedelta(days=14), today + timedelta(days=21), "none", ""),
        *("published", None, at - timedelta(days=2), at - timedelta(days=1), None),
        *(86400, 2, 90 * 86400, None, None),
    )


GROUP_ROW = (CHANGE_ID, 0, "Everyone", "", "File expenses in the new tool", "[]", "[]", "[]")


def marks(columns: str, mark: str) -> str:
    return ", ".join(mark for _ in columns.split(","))


def seed_postgres(url: str, population: Population, *, at: datetime) -> None:
    """COPY the people and deliveries, insert the workspace, change and group; ANALYZE."""
    with psycopg.connect(url, connect_timeout=5) as connection:
        connection.execute(
            "INSERT INTO workspace (key, platform, name, installed_at) VALUES (%s, 'slack', '', %s)",
            (WORKSPACE, at),
        )
        connection.execute(f"INSERT INTO change ({CHANGE}) VALUES ({marks(CHANGE, '%s')})", _change(at))
        connection.execute(f"INSERT INTO audience_group ({GROUP}) VALUES ({marks(GROUP, '%s')})", GROUP_ROW)
        with connection.cursor() as cursor:
            for table, columns, rows in (
                ("person", PERSON, _people(population, at)),
                ("delivery", DELIVERY, _delivery_rows(population, at)),
            ):
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("ANALYZE")


def sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite: naive UTC text, booleans as 0/1."""
    if isinstance(value, datetime):
        return sqlite_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def sqlite_time(at: datetime) -> str:
    """`at` the way SQLAlchemy's SQLite DateTime writes it (so text comparisons order correctly)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def seed_sqlite(path: str, population: Population, *, at: datetime) -> None:
    """The same rows, with executemany in one transaction."""
    connection = sqlite3.connect(path, timeout=30)
    try:
        with connection:
            connection.execute(
                "INSERT INTO workspace (key, platform, name, installed_at) VALUES (?, 'slack', '', ?)",
                (WORKSPACE, sqlite_value(at)),
            )
            connection.execute(
                f"INSERT INTO change ({CHANGE}) VALUES ({marks(CHANGE, '?')})",
                tuple(map(sqlite_value, _change(at))),
            )
            connection.execute(
                f"INSERT INTO audience_group ({GROUP}) VALUES ({marks(GROUP, '?')})", GROUP_ROW
            )
            for table, columns, rows in (
                ("person", PERSON, _people(population, at)),
                ("delivery", DELIVERY, _delivery_rows(population, at)),
            ):
                statement = f"INSERT INTO {table} ({columns}) VALUES ({marks(columns, '?')})"
                connection.executemany(statement, (tuple(map(sqlite_value, row)) for row in rows))
        connection.execute("ANALYZE")
    finally:
        connection.close()


def seed_database(url: str, population: Population, *, at: datetime) -> None:
    """Seed the (migrated, empty) database at `url`."""
    if url.startswith("sqlite:///"):
        seed_sqlite(url.removeprefix("sqlite:///"), population, at=at)
    else:
        seed_postgres(url, population, at=at)


def time_literal(url: str, at: datetime) -> str:
    """`at` as an SQL literal comparable with the stored due times."""
    if url.startswith("sqlite:///"):
        return f"'{sqlite_time(at)}'"
    return f"'{at.astimezone(UTC).isoformat()}'::timestamptz"
