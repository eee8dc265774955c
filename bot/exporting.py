"""The audit export of one change: one CSV row per targeted or excluded person (what `/change-status`
counts), for its announcer and admins, the people who see the change's status in full.

The rows come from the database in batches through `ExportRows` (store.export), so a 100,000-person
change never sits in memory; `write_csv` is the one CSV writer, used by `realign export` and by the
platforms' Export CSV buttons alike, so the file is the same however it is asked for."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, Protocol, TextIO

from bot.model import Change
from bot.status import Reporting


class ExportRows(Protocol):
    """A change's export rows as text cells, in `columns` order, streamed (store.export.SqlExport)."""

    @property
    def columns(self) -> Sequence[str]: ...

    def rows(self, change: Change) -> AsyncIterator[list[str]]: ...


async def write_csv(columns: Sequence[str], rows: AsyncIterable[Sequence[str]], out: TextIO) -> int:
    """The header, then each row as it comes; returns how many rows (the header not counted)."""
    writer = csv.writer(out)
    writer.writerow(columns)
    written = 0
    async for row in rows:
        writer.writerow(row)
        written += 1
    return written


@dataclass(frozen=True)
class Export:
    """A change's export that its asker may have: written when wanted, as large as the change is."""

    change: Change
    source: ExportRows

    @property
    def filename(self) -> str:
        return f"{self.change.key}-audit.csv"

    async def write(self, out: TextIO) -> int:
        """The CSV into `out` (opened with newline=""); returns the number of rows."""
        return await write_csv(self.source.columns, self.source.rows(self.change), out)

    async def write_file(self, file: IO[bytes]) -> int:
        """The CSV into `file` as UTF-8, which is left at its start for an upload to read; returns the
        number of rows."""
        text = io.TextIOWrapper(file, encoding="utf-8", newline="")
        try:
            rows = await self.write(text)
            text.flush()
        finally:
            text.detach()  # the file stays open: it is the upload's
        file.seek(0)
        return rows


class Exporting:
    """The Export CSV button of `/change-status CHG-n`, for one workspace."""

    def __init__(self, *, reporting: Reporting, rows: ExportRows) -> None:
        self.reporting = reporting
        self.rows = rows

    async def export(self, *, key: str, user_id: str) -> Export:
        """The change's export; NotFound for a change not of this workspace, NotAllowed for anyone but
        its announcer and admins (a manager sees their reports in status, not everyone's rows)."""
        change = await self.reporting.visible_change(key=key, user_id=user_id)
        return Export(change, self.rows)
