"""Migrations on a database that already holds data: migration 0004 gives existing deliveries their
recipient's team from the directory. SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import store.tables  # noqa: F401  (the tables the metadata holds)
from store.db import parse_url
from store.migrate import upgrade

BEFORE_TEAMS = "0003"
ROWS = """
INSERT INTO workspace (key, platform, name, installed_at) VALUES ('slack:T1', 'slack', 'Acme', '2026-11-01');
INSERT INTO person (workspace, user_id, name, active, is_bot, department, manager_id, updated_at) VALUES
    ('slack:T1', 'U1', 'Ann', true, false, 'Sales', 'UBOSS', '2026-11-01'),
    ('slack:T1', 'U2', 'Bo', true, false, NULL, NULL, '2026-11-01');
INSERT INTO change (id, workspace, announcer_id, title, what, why, effective_date, ack_deadline,
                    customer_impact, customer_plan, state, created_at)
    VALUES (1, 'slack:T1', 'UANN', 'New CRM', 'What', '', '2026-12-01', '2026-12-08', 'none', '',
            'published', '2026-11-01');
INSERT INTO delivery (change_id, user_id, group_mask, state, attempts, unsure, reminders_sent) VALUES
    (1, 'U1', 1, 'delivered', 1, false, 0),
    (1, 'U2', 1, 'queued', 0, false, 0),
    (1, 'UGONE', 1, 'excluded', 0, false, 0);
"""


def test_existing_deliveries_get_their_recipients_team(bare_database_url: str) -> None:
    upgrade(bare_database_url, BEFORE_TEAMS)
    engine = create_engine(parse_url(bare_database_url, sync=True))
    with engine.begin() as connection:
        for statement in ROWS.split(";"):
            if statement.strip():
                connection.execute(text(statement))

    upgrade(bare_database_url)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT user_id, department, manager_id FROM delivery ORDER BY user_id")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("U1", "Sales", "UBOSS"),
        ("U2", None, None),
        ("UGONE", None, None),
    ]


def test_the_migrations_build_the_schema_the_tables_declare(database_url: str) -> None:
    """Upgrading from nothing gives exactly the tables, columns and indexes store.tables declares, so a
    migration forgotten (or written differently from its table) fails here, not in production."""
    engine = create_engine(parse_url(database_url, sync=True))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
