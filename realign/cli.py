"""`realign`: serve, worker, db upgrade. Errors an operator can fix print one line and exit non-zero."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.errors import ConfigError
from realign import settings as config
from realign.runtime import Runtime
from store.migrate import upgrade

log = logging.getLogger("realign")


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(settings: config.Settings, *, web_server: bool) -> None:
    runtime = Runtime(settings)
    runner: web.AppRunner | None = None
    try:
        await runtime.open()
        if web_server:
            runner = web.AppRunner(runtime.web_app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", settings.port).start()
            log.info("Realign listening on :%d (Slack %s)", settings.port, "on" if runtime.slack else "off")
        runtime.start_ticks()
        await _until_stopped()
    finally:
        if runner is not None:
            await runner.cleanup()
        await runtime.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realign", description="Make organisational changes land.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the web endpoints and the tick jobs in one process")
    commands.add_parser("worker", help="run the tick jobs (deliveries) without the web endpoints")
    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply pending migrations")
    return parser


def _describe(error: DBAPIError, url: str) -> str:
    where = make_url(url).render_as_string(hide_password=True)
    reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"cannot use the database {where}: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        settings = config.load()
        if args.command == "db":
            upgrade(settings.database_url)
            print("database is up to date")
        else:
            asyncio.run(serve(settings, web_server=args.command == "serve"))
    except ConfigError as error:
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
