"""Schema changes go through Alembic only; `upgrade` brings any database to the newest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from store.db import parse_url

MIGRATIONS = Path(__file__).parent / "migrations"


def config(raw_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic runs synchronously (sqlite3 / psycopg); '%' must be escaped for ConfigParser.
    url = parse_url(raw_url, sync=True).render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(raw_url: str, revision: str = "head") -> None:
    command.upgrade(config(raw_url), revision)
