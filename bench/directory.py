"""Directory benchmark: sync N people from the Slack fake (users.list over HTTP on 127.0.0.1) through the
real SlackDirectory into SQLite and PostgreSQL; time the first sync (empty table) and a second one.

    python -m bench.directory --n 100000 [--db sqlite|postgres|both] [--latency S] [--throttle K]

The fake runs in a process of its own; each database's syncs run in a child process of their own, so
its peak RSS (VmHWM) is the sync's alone. Prints a markdown table on stdout, progress on stderr; exits
1 if a sync did not end with exactly N active people.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from bench import procs
from bench.database import POSTGRES_SERVER
from bot.clock import SystemClock
from tests.fakes.standalone import SlackControl

POSTGRES_DB = "realign_bench_directory"  # neither `test` nor bench.fanout's `realign_bench`
WORKSPACE = "slack:T001"


def fresh_postgres() -> str:
    """Create `realign_bench_directory` if missing and empty its public schema; returns its URL."""
    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,)).fetchone():
            admin.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
    url = f"{POSTGRES_SERVER}/{POSTGRES_DB}"
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_child(db_kind: str, fake_url: str, workdir: Path) -> dict[str, Any]:
    """In this process: a fresh database, then two syncs of everyone the fake lists."""
    from adapters.slack.directory import SlackDirectory
    from store.db import Database
    from store.leases import SqlLeases
    from store.migrate import upgrade
    from store.people import SqlPeople

    url = fresh_postgres() if db_kind == "postgres" else f"sqlite:///{workdir / 'directory.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    people, clock = SqlPeople(db), SystemClock()
    await people.ensure_workspace(key=WORKSPACE, platform="slack", name="Bench", at=clock.now())
    result: dict[str, Any] = {"db": db_kind}
    # As realign.runtime builds it: one shared aiohttp session behind the client.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:
        client = AsyncWebClient(token="xoxb-bench", base_url=fake_url, session=http, timeout=30)
        directory = SlackDirectory(
            workspace=WORKSPACE, client=client, people=people, clock=clock, leases=SqlLeases(db)
        )
        for run in ("first", "again"):
            started = time.perf_counter()
            synced = await directory.sync()
            result[run] = time.perf_counter() - started
            result[f"{run}_synced"] = synced
            print(f"bench: {db_kind} {run} sync: {synced} people in {result[run]:.2f}s", file=sys.stderr)
    async with db.engine.connect() as connection:
        counted = await connection.execute(
            text("SELECT count(*), sum(CASE WHEN active THEN 1 ELSE 0 END) FROM person")
        )
        result["people"], result["active"] = (int(value or 0) for value in counted.one())
    await db.close()
    result["rss"] = peak_rss_mb()
    return result


async def seed(fake: SlackControl, n: int, *, throttle: int) -> None:
    """N people for users.list; with `throttle`, a token bucket of that many pages a second, then 429 +
    Retry-After: 1."""
    await fake.add_users(n)
    if throttle:
        await fake.rate_limit("users.list", throttle, retry_after=1)


async def run_parent(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="realign-bench-directory-"))
    fake, fake_url = await procs.start_fake(latency=args.latency, limit=None, logs=workdir)
    rows: list[dict[str, Any]] = []
    failed = False
    try:
        async with aiohttp.ClientSession() as http:
            failed = await sync_each(args, SlackControl(http, fake_url), fake_url, workdir, rows)
    finally:
        await procs.stop([fake])
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(rows, n=args.n))
    return 1 if failed or not rows else 0


async def sync_each(
    args: argparse.Namespace, fake: SlackControl, fake_url: str, workdir: Path, rows: list[dict[str, Any]]
) -> bool:
    """Seed the fake, then run each database's syncs in a child process of its own, adding a row to
    `rows` for each; whether any failed."""
    failed = False
    await seed(fake, args.n, throttle=args.throttle)
    print(f"bench: fake at {fake_url} lists {args.n} people", file=sys.stderr)
    for kind in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        before = (await fake.stats())["calls"].get("users.list", 0)
        child = await asyncio.create_subprocess_exec(
            str(procs.PYTHON), "-m", "bench.directory", "--child", kind, "--fake", fake_url,
            "--workdir", str(workdir), cwd=procs.ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await child.communicate()
        if child.returncode != 0:
            print(f"bench: the {kind} run failed (exit {child.returncode})", file=sys.stderr)
            failed = True
            continue
        row = json.loads(out.decode().strip().splitlines()[-1])
        after = await fake.stats()
        row["calls"] = after["calls"].get("users.list", 0) - before
        row["limited"] = after["rate_limited"]
        failed |= not (row["people"] == row["active"] == args.n)
        rows.append(row)
    return failed


def table(rows: Sequence[dict[str, Any]], *, n: int) -> str:
    lines = [
        "| N | database | first sync (s) | second sync (s) | people/s (first) | users.list calls | 429s "
        "| people / active | peak RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {n:,} | {row['db']} | {row['first']:.2f} | {row['again']:.2f} | {n / row['first']:,.0f} "
            f"| {row['calls']} | {row['limited']} | {row['people']:,} / {row['active']:,} "
            f"| {row['rss']:.0f} |"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="people users.list lists (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the fake adds to every call")
    parser.add_argument("--throttle", type=int, default=0, help="users.list pages/s before 429s (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the fake's log and the SQLite file")
    parser.add_argument("--child", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    parser.add_argument("--fake", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        result = asyncio.run(run_child(args.child, args.fake, Path(args.workdir)))
        print(json.dumps(result, default=str))
        return 0
    print(f"bench: started {datetime.now(UTC):%H:%M:%S}", file=sys.stderr)
    return asyncio.run(run_parent(args))


if __name__ == "__main__":
    sys.exit(main())
