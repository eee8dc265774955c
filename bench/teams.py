"""Teams benchmark: one change announced to N people of a tenant limited to 50 requests/s, through real
`realign serve` (and `realign worker`) processes against the connector fake.

    python -m bench.teams [--n 5000] [--db sqlite|postgres] [--procs 1] [--latency 0.02] [--cold]
    python -m bench.teams --matrix        # 5,000 on SQLite with 1 process, and on PostgreSQL with 3

Seeded through the install flow (the team's paged roster, 500 a page) and announced through the cards,
as a person would. By default each person's 1:1 chat is already known (`teams_user.conversation_id`, as
after any earlier announcement); `--cold` leaves them to be created, which costs a second request each.
During the fan-out a light stream of `change-status CHG-1` commands and Acknowledge clicks is posted to
/api/messages and timed. One markdown table on stdout, progress on stderr; exit 1 on duplicates or
missing cards (or a run that did not finish).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from sqlalchemy import create_engine, text

from adapters.teams import cards
from bench import procs
from bench.database import fresh_database
from bench.report import percentile
from store.db import Database
from tests.e2e.teams_driver import TeamsDriver
from tests.e2e.test_teams_flow import ANNOUNCER, announce, seed
from tests.fakes.teams_connector import FakeConnector

LIMIT = 50.0  # Teams: 50 requests a second per app per tenant
INTERVAL = 0.25  # one interactive request every 250 ms, commands and clicks alternately
CONNECTOR = ("create_conversation", "send_to_conversation", "reply_to_activity", "update_activity")


@dataclass
class Run:
    n: int
    db: str
    procs: int
    cold: bool
    seconds: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    duplicates: int = 0
    missing: int = 0
    graph: int = 0
    ms: list[float] = field(default_factory=list)
    errors: int = 0
    finished: bool = False

    @property
    def efficiency(self) -> float:
        return self.requests / self.seconds / LIMIT if self.seconds else 0.0

    @property
    def failed(self) -> bool:
        return not self.finished or self.duplicates > 0 or self.missing > 0


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def sync_url(url: str) -> str:
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url
    )


def warm(url: str, fake: FakeConnector) -> int:
    """Record every person's 1:1 chat, as an earlier announcement would have."""
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT user_id, teams_id FROM teams_user")).all()
        updates = [{"u": user, "c": fake.personal_conversation(teams)} for user, teams in rows]
        connection.execute(text("UPDATE teams_user SET conversation_id = :c WHERE user_id = :u"), updates)
    engine.dispose()
    return len(updates)


def announced(fake: FakeConnector, user: str) -> int:
    return sum(1 for c in fake.cards_to(user) if str(c["body"][0].get("text", "")).startswith("Change "))


async def interactive(
    driver: TeamsDriver, fake: FakeConnector, users: list[str], stop: asyncio.Event, run: Run
) -> None:
    """Open loop: alternately `change-status CHG-1` from the announcer and an Acknowledge click."""
    clicked: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def one(kind: str) -> None:
        started = time.perf_counter()
        try:
            if kind == "command":
                answer = await driver.say(ANNOUNCER, "change-status CHG-1")
            else:
                candidates = [u for u in random.sample(users, 50) if u not in clicked and fake.cards_to(u)]
                if not candidates:
                    return
                user = candidates[0]
                clicked.add(user)
                answer = await driver.execute(user, fake.cards_to(user)[0], verb=cards.ACK_VERB)
            run.ms.append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                run.errors += 1
        except Exception:
            run.errors += 1

    tick = 0
    while not stop.is_set():
        task = asyncio.create_task(one("click" if tick % 2 else "command"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        tick += 1
        await asyncio.sleep(INTERVAL)
    if tasks:
        await asyncio.wait(tasks, timeout=30)


async def bench(n: int, db: str, processes: int, *, latency: float, cold: bool, within: float) -> Run:
    run = Run(n, db, processes, cold)
    workdir = Path(tempfile.mkdtemp(prefix="realign-teams-"))
    fake = FakeConnector(record_calls=False)
    await fake.start()
    started: list[procs.Proc] = []
    try:
        seed(fake, extra=n - 6)  # test_teams_flow's tenant, with n people targeted in all
        users = [u for u in fake.users if u != ANNOUNCER]
        url = fresh_database(db, workdir)
        port = procs.free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REALIGN_", "SLACK_", "MICROSOFT_", "TEAMS_"))
        }
        env |= {
            "DATABASE_URL": url,
            "PORT": str(port),
            "REALIGN_TEAMS_DEV": "1",
            "MICROSOFT_GRAPH_URL": fake.graph_url,
            "TEAMS_POST_RATE": f"{LIMIT:g}",
            "REALIGN_WORKING_HOURS": "always",
            "REALIGN_WORKING_DAYS": "always",
        }
        started.append(procs.start_realign("serve", "serve", env=env, logs=workdir))
        await procs.wait_healthy(f"http://127.0.0.1:{port}/healthz", started)
        for i in range(processes - 1):
            started.append(procs.start_realign("worker", f"worker-{i + 1}", env=env, logs=workdir))
        await asyncio.sleep(8 if processes > 1 else 0)  # the workers' heartbeats: each takes 1/N of 50/s
        fake.rate_limit(LIMIT, retry_after=1)
        fake.latency = latency
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            driver = TeamsDriver(base_url=f"http://127.0.0.1:{port}", fake=fake, http=http)
            say(f"{n} people, {db}, {processes} process(es): installing (paged roster)")
            assert (
                await driver.install(ANNOUNCER, conversation_id="19:support-team@thread.tacv2")
            ).status == 200
            await driver.install(ANNOUNCER)
            if not cold:
                say(f"{warm(url, fake)} 1:1 chats recorded (warm)")
            before = sum(fake.call_count(r) for r in CONNECTOR)
            limited_before = fake.rate_limited
            database = Database(url)  # the announce walk checks that a refused card saved nothing
            try:
                realign = SimpleNamespace(teams=driver, db=database)
                await announce(realign, fake, sizes=(n - 2, 3, n))  # type: ignore[arg-type]
            finally:
                await database.close()
            t0 = time.perf_counter()
            stop = asyncio.Event()
            load = asyncio.create_task(interactive(driver, fake, users, stop, run))
            last, posted, shown = t0, fake.call_count("send_to_conversation"), 0.0
            base = posted
            while time.perf_counter() - t0 < within:  # a cheap counter here; cards are counted at the end
                now_posted = fake.call_count("send_to_conversation")
                if now_posted != posted:
                    posted, last = now_posted, time.perf_counter()
                if last - shown >= 10:
                    shown = last
                    say(
                        f"{posted - base} posts after {last - t0:.0f} s, "
                        f"429s: {fake.rate_limited - limited_before}"
                    )
                if (
                    fake.stats()["personal_activities"] >= n
                    and sum(1 for u in users if fake.cards_to(u)) == n
                ):
                    break
                await asyncio.sleep(0.2)
            reached = sum(1 for u in users if fake.cards_to(u))
            stop.set()
            await load
            await asyncio.sleep(3)  # anything sent twice would show now
            run.finished = reached == n
            run.seconds = last - t0
            counts = [announced(fake, u) for u in users]
            run.duplicates = sum(c - 1 for c in counts if c > 1)
            run.missing = sum(1 for c in counts if c == 0)
            run.requests = (
                sum(fake.call_count(r) for r in CONNECTOR) - before - fake.rate_limited + limited_before
            )
            run.rate_limited = fake.rate_limited - limited_before
            run.graph = fake.call_count("graph_chat_messages")
    finally:
        await procs.stop(started)
        await fake.stop()
        tracebacks = 0
        for proc in started:
            errors = proc.log_text().count("Traceback")
            tracebacks += errors
            if errors:
                say(f"{proc.name} logged {errors} tracebacks (kept in {workdir})")
        if not run.failed and not tracebacks:
            shutil.rmtree(workdir, ignore_errors=True)
    return run


def table(runs: list[Run]) -> str:
    head = [
        "people", "db", "processes", "chats", "fan-out s", "cards/s", "requests/s", "efficiency",
        "429s", "duplicates", "missing", "Graph lookups", "interactive p50 ms", "interactive p99 ms",
        "interactive errors",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in runs:
        cells = [
            f"{r.n:,}", r.db, str(r.procs), "cold" if r.cold else "warm",
            f"{r.seconds:.1f}" + ("" if r.finished else " (unfinished)"),
            f"{r.n / r.seconds:.1f}" if r.seconds else "—",
            f"{r.requests / r.seconds:.1f}" if r.seconds else "—",
            f"{100 * r.efficiency:.1f}%", str(r.rate_limited), str(r.duplicates), str(r.missing),
            str(r.graph),
            f"{percentile(r.ms, 0.5):.0f}" if r.ms else "—", f"{percentile(r.ms, 0.99):.0f}" if r.ms else "—",
            str(r.errors),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.teams", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--procs", type=int, default=1, help="delivering processes: serve + workers")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake adds to every call")
    parser.add_argument("--cold", action="store_true", help="no 1:1 chat known yet: each is created first")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--matrix", action="store_true")
    args = parser.parse_args(argv)
    specs: list[tuple[Any, ...]] = (
        [(args.n, "sqlite", 1), (args.n, "postgres", 3)] if args.matrix else [(args.n, args.db, args.procs)]
    )
    runs = [
        asyncio.run(bench(n, db, p, latency=args.latency, cold=args.cold, within=args.timeout))
        for n, db, p in specs
    ]
    print(table(runs))
    return 1 if any(r.failed for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
