"""`realign directory import FILE.csv`: load the org chart (managers, departments, titles) into the
directory, all or nothing, with every bad row reported by line, and a progress bar for big files.

Exit codes (returned to realign.cli): 0 imported, 1 rows with problems and nothing written; an unusable
file or setup raises OrgChartError (2). With a Slack token set, the workspace is registered and its
people synced first, so an import on a fresh database finds the people it names. A Teams tenant
(`teams:<tenant id>`) is matched the same way, by email, against the people its rosters brought in
when Realign was added to its teams (refreshed every hour by the engine).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path
from typing import TextIO

from bot.clock import SystemClock
from realign.settings import Settings
from realign.wiring import Wiring
from store.db import Database
from store.migrate import upgrade
from store.orgchart import OrgChart, OrgChartError, Sheet, check, read_sheet
from store.people import SqlPeople

NO_WORKSPACE = (
    "no workspace is registered yet: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (the import then "
    "registers the workspace and syncs its people first), add Realign to a team in Teams (its roster "
    "registers the tenant), or pass --workspace KEY"
)
PLATFORMS = {"slack": "Slack", "teams": "Teams", "console": "console"}  # how problems name the people
SYNCING = "syncing the directory of {workspace} first"
SEVERAL_WORKSPACES = "{count} workspaces are registered ({keys}): pass --workspace with one of them"
UNKNOWN_WORKSPACE = (
    "workspace '{key}' is not registered (registered: {keys}); pass one of them to --workspace"
)
NOT_IMPORTED = "{bad:,} of {rows:,} rows {verb} problems; nothing was imported"
USE_SKIP = " (use --skip-invalid to import the {good:,} good rows)"
SKIPPED = "skipped {bad:,} of {rows:,} rows with problems"
IMPORTED = "imported {count:,} people ({managed:,} with a manager, {changed:,} changed)"
PROGRESS_FROM = 1000  # rows; smaller files need no progress bar


class Progress:
    """A one-line progress bar: redrawn with \\r on a terminal, one line per 10% otherwise."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, show: bool = True) -> None:
        self.label, self.total, self.show = label, max(total, 1), show
        self.stream: TextIO = stream or sys.stderr
        self.done, self.shown = 0, 0
        self.tty = self.stream.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        percent = min(100, self.done * 100 // self.total)
        step = percent if self.tty else percent - percent % 10
        if not self.show or step == self.shown:
            return
        self.shown = step
        if self.tty:
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{self.label} [{bar:<25}] {percent:3d}% ({self.done:,} of {self.total:,})")
            self.stream.write("\n" if self.done >= self.total else "")
        else:
            self.stream.write(f"{self.label}: {step}% ({self.done:,} of {self.total:,})\n")
        self.stream.flush()


def _read(path: Path) -> Sheet:
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return read_sheet(file)
    except UnicodeDecodeError as error:
        raise OrgChartError(f"{path} is not UTF-8 text (byte {error.start}); save it as CSV UTF-8") from None
    except (OSError, csv.Error) as error:
        raise OrgChartError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None


async def _pick_workspace(people: SqlPeople, key: str | None) -> str:
    keys = await people.workspace_keys()
    if key is not None and key in keys:
        return key
    if key is not None:
        raise OrgChartError(UNKNOWN_WORKSPACE.format(key=key, keys=", ".join(keys) or "none"))
    if len(keys) != 1:
        raise OrgChartError(
            SEVERAL_WORKSPACES.format(count=len(keys), keys=", ".join(keys)) if keys else NO_WORKSPACE
        )
    return keys[0]


async def _sync_directory(settings: Settings) -> None:
    """Register the configured workspace and bring its people up to date, so rows match today's staff
    (this is what makes an import on a fresh database work)."""
    wiring = Wiring(settings)
    try:
        await wiring.open(migrate=False)
        assert wiring.slack is not None
        print(SYNCING.format(workspace=wiring.slack.workspace), file=sys.stderr)
        await wiring.slack.directory.sync()
    finally:
        await wiring.close()


def _report(chart: OrgChart, *, skip_invalid: bool) -> bool:
    """Print every problem; whether the good rows may be written."""
    for problem in chart.problems:
        print(problem, file=sys.stderr)
    bad, good = chart.bad_rows, len(chart.entries)
    if not bad:
        return True
    if skip_invalid and good:
        for note in chart.notes:
            print(note, file=sys.stderr)
        print(SKIPPED.format(bad=bad, rows=chart.rows), file=sys.stderr)
        return True
    failed = NOT_IMPORTED.format(bad=bad, rows=chart.rows, verb="has" if bad == 1 else "have")
    print(failed + (USE_SKIP.format(good=good) if good else ""), file=sys.stderr)
    return False


async def import_org_chart(settings: Settings, args: argparse.Namespace) -> int:
    """`realign directory import`: check the whole file, then write it in one transaction (or nothing)."""
    sheet = _read(args.file)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(settings.database_url)
    if settings.slack_enabled:
        await _sync_directory(settings)
    db = Database(settings.database_url)
    try:
        people = SqlPeople(db)
        workspace = await _pick_workspace(people, args.workspace)
        show = len(sheet.rows) > PROGRESS_FROM
        checking = Progress("checking", len(sheet.rows), show=show)
        platform = PLATFORMS.get(workspace.partition(":")[0], "directory")
        chart = check(sheet, await people.directory(workspace), tick=checking.advance, platform=platform)
        if not _report(chart, skip_invalid=args.skip_invalid):
            return 1
        writing = Progress("writing", len(chart.entries), show=show)
        await people.apply_org_chart(
            workspace, chart.entries, at=SystemClock().now(), progress=writing.advance
        )
    finally:
        await db.close()
    managed = sum(entry.manager_id is not None for entry in chart.entries)
    changed = sum(entry.changed for entry in chart.entries)
    print(IMPORTED.format(count=len(chart.entries), managed=managed, changed=changed))
    return 0
