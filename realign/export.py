"""`realign export CHANGE_KEY [--output FILE]`: the per-recipient CSV of a change, for audits.

One row per targeted or excluded person (what `/change-status` counts), written as it is read from the
database. Standard output by default; with --output the file is written beside and renamed into place,
so a failed export never leaves half a file under the name asked for."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import copy
from bot.errors import ConfigError
from bot.exporting import write_csv
from realign.settings import Settings
from store.db import Database, parse_url, safe_url
from store.export import COLUMNS, export_rows, find_change


def _check_database(url: str) -> None:
    """Refuse, rather than create, a SQLite file that is not there."""
    database = parse_url(url)
    path = database.database if database.get_backend_name() == "sqlite" else None
    if path not in (None, "", ":memory:") and not Path(str(path)).exists():
        raise ConfigError(f"there is no database at {safe_url(url)}; set DATABASE_URL")


async def _write(db: Database, key: str, out: TextIO) -> int:
    try:
        change = await find_change(db, key)
    except (OperationalError, ProgrammingError) as error:  # reachable, but not Realign's (not migrated)
        raise ConfigError(
            f"the database {safe_url(str(db.url))} holds no Realign data; run `realign db upgrade`"
        ) from error
    if change is None:
        raise ConfigError(copy.NO_SUCH_CHANGE.format(key=key))
    return await write_csv(COLUMNS, export_rows(db, change), out)  # the Export CSV button's writer too


async def export(settings: Settings, args: argparse.Namespace) -> int:
    """Write the CSV; ConfigError (one line) for an unknown change or no database."""
    _check_database(settings.database_url)
    key, output = args.key.strip().upper(), args.output
    db = Database(settings.database_url)
    try:
        if output is None:
            await _write(db, key, sys.stdout)
            return 0
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("w", newline="", encoding="utf-8") as file:
                written = await _write(db, key, file)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
        print(f"wrote {written} rows to {output}", file=sys.stderr)
        return 0
    finally:
        await db.close()
