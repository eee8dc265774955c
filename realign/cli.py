"""`realign`: serve, worker, db upgrade, directory import. Fixable errors print one line, exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from adapters.teams.package import build_package
from bot.clock import SystemClock
from bot.errors import ConfigError
from realign import console, logs
from realign import settings as config
from realign.runtime import Runtime
from realign.wiring import Wiring
from store.db import Database, redact, safe_url
from store.migrate import upgrade
from store.orgchart import OrgChart, OrgChartError, Sheet, check, read_sheet
from store.people import SqlPeople

log = logging.getLogger("realign")

NO_WORKSPACE = (
    "no workspace is registered yet: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (the import then "
    "registers the workspace and syncs its people first), or pass --workspace KEY"
)
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


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGINT/SIGTERM; installed first, so a signal during start-up still shuts down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: config.Settings, *, web_server: bool) -> None:
    stopped = _stop_on_signals()
    runtime = Runtime(settings)
    runner: web.AppRunner | None = None
    try:
        await runtime.open()
        if web_server:
            runner = web.AppRunner(runtime.web_app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", settings.port).start()
            await runtime.start_socket()  # with SLACK_APP_TOKEN: no public URL needed
            slack = "through Socket Mode" if runtime.socket else "on" if runtime.slack else "off"
            slack = "for every workspace installed through OAuth" if settings.slack_oauth else slack
            log.info("Realign listening on :%d (Slack %s)", settings.port, slack)
        await runtime.start_ticks()
        # Start-up built a few hundred thousand long-lived objects (libraries, pools, caches). Frozen,
        # the collector stops walking them in every full collection: during a fan-out those walks
        # paused every thread, the web's too, for 70-190 ms (now under 40 ms).
        gc.freeze()
        await stopped.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        await runtime.close()


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


async def _sync_directory(settings: config.Settings) -> None:
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


async def import_org_chart(settings: config.Settings, args: argparse.Namespace) -> int:
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
        chart = check(sheet, await people.directory(workspace), tick=checking.advance)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realign", description="Make organisational changes land.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the web endpoints and the tick jobs in one process")
    commands.add_parser("worker", help="run the tick jobs (deliveries) without the web endpoints")
    teams = commands.add_parser("teams-package", help="build the Teams app package (zip) to upload")
    teams.add_argument("--output", type=Path, default=Path("."), metavar="PATH", help="zip file or folder")
    teams.add_argument("--base-url", metavar="URL", help="Realign's public URL (valid domain, links)")
    trial = commands.add_parser("console", help="try the whole flow in a terminal, no workspace needed")
    trial.add_argument("--demo", action="store_true", help="play a scripted walk-through and exit")
    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply pending migrations")
    directory = commands.add_parser("directory", help="the people directory").add_subparsers(
        dest="directory_command", required=True
    )
    org_chart = directory.add_parser(
        "import", help="load the org chart (manager, department, title) from CSV"
    )
    org_chart.add_argument("file", type=Path, metavar="FILE.csv")
    org_chart.add_argument(
        "--skip-invalid", action="store_true", help="import the good rows, report the rest"
    )
    org_chart.add_argument(
        "--workspace", metavar="KEY", help="workspace key, e.g. slack:T0123 (default: the only one)"
    )
    return parser


def _describe(error: DBAPIError, url: str) -> str:
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"cannot use the database {safe_url(url)}: {redact(reason, url=url)}"


def _teams_package(settings: config.Settings, args: argparse.Namespace) -> int:
    """`realign teams-package`: the zip to upload in Teams (or the Teams admin centre)."""
    if not settings.microsoft_app_id:
        raise ConfigError("set MICROSOFT_APP_ID (the bot's Microsoft app id) to build the Teams package")
    path = build_package(app_id=settings.microsoft_app_id, output=args.output, base_url=args.base_url)
    print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = config.load()
        logs.configure(settings)
        if args.command == "db":
            upgrade(settings.database_url)
            print("database is up to date")
        elif args.command == "directory":
            return asyncio.run(import_org_chart(settings, args))
        elif args.command == "teams-package":
            return _teams_package(settings, args)
        elif args.command == "console":
            return asyncio.run(console.main(settings, scripted=args.demo))
        else:
            asyncio.run(serve(settings, web_server=args.command == "serve"))
    except (ConfigError, OrgChartError) as error:
        print(f"realign: error: {error}", file=sys.stderr)
        return 2
    except DBAPIError as error:
        print(f"realign: error: {_describe(error, settings.database_url)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
