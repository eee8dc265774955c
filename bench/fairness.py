"""Fairness benchmark: many Slack workspaces, installed through OAuth, all fanning out at once.

    python -m bench.fairness                      # even: 20 workspaces x 1,000 recipients, 20/s each
    python -m bench.fairness skewed               # one workspace of 10,000 beside nineteen of 100
    python -m bench.fairness --workspaces 5 --n 100 --db sqlite     # a quick smoke run

Serves the Slack fake in this process with one team per workspace, each limited to its own `--limit`
of chat.postMessage a second (429 + Retry-After: 1 above it); installs every team through Realign's
OAuth installation store (store/installations.py); writes one published change per workspace with its
deliveries queued straight into the database; starts `realign worker`s with SLACK_CLIENT_ID ... (no
SLACK_BOT_TOKEN); makes every delivery due with one SQL update and reads what each team received.
One markdown table on stdout (a row per workspace, then a summary), progress on stderr; exits 1 on a
duplicate or missing DM, or if the fan-out did not finish. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
from slack_sdk.oauth.installation_store.models.installation import Installation

from bench import cpu, procs
from bench.database import Probe, fresh_database
from bench.followup import EXCEPTION_LINE, INHERITED_PREFIXES  # bench.fanout's, as followup uses them
from bench.followup_seed import CHANGE, DELIVERY, GROUP, PERSON, TZ, marks, sqlite_value, time_literal
from bench.procs import Proc
from store.db import Database
from store.installations import SqlInstallations
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET
from tests.fakes.slack_state import Workspace, bulk_ids

POSTGRES_NAME = "realign_fairness_bench"  # neither `test` nor another benchmark's database
CLIENT_ID, CLIENT_SECRET, STATE_SECRET = "bench-client-id", "bench-client-secret", "bench-state-secret"
ANNOUNCEMENT_EVENT = "realign_announcement"  # adapters/slack/messenger.py: the metadata on every DM
EFFICIENCY_TARGET = 0.97  # issue 9: every workspace at >= 97% of its own limit
DISCOVERY = 1.0  # realign.engine.DISPATCH_POLL: rows made due by SQL are found within it
STALL = 0.15  # seconds: a pause in a workspace's stream of DMs (at 20/s they are 50 ms apart)
SMALL_SLACK = 1.2  # skewed: "about its ideal time" = within 1.2 x ideal + DISCOVERY
POLL_EVERY, PROGRESS_EVERY = 0.5, 5.0
HEARTBEAT = 5.0  # realign.engine.HEARTBEAT: within it every worker has seen the others and split the rate
PENDING = (
    "SELECT c.workspace, count(*) FROM delivery d JOIN change c ON c.id = d.change_id"
    " WHERE d.state NOT IN ('delivered', 'failed') GROUP BY c.workspace"
)
DELIVERED = "SELECT count(*) FROM delivery WHERE state = 'delivered'"
STATES = (
    "SELECT c.workspace, d.state, count(*) FROM delivery d JOIN change c ON c.id = d.change_id"
    " GROUP BY c.workspace, d.state"
)


@dataclass(frozen=True)
class Team:
    """One workspace: a Slack team of the fake, installed through OAuth, with one change to fan out."""

    index: int  # 1, 2, ...: also its change's id
    n: int  # recipients

    @property
    def id(self) -> str:
        return f"T{self.index:03d}"

    @property
    def key(self) -> str:
        return f"slack:{self.id}"  # realign.slacks.workspace_key

    @property
    def token(self) -> str:
        return f"xoxb-bench-{self.id}"

    @property
    def prefix(self) -> str:
        """Recipients are `U001` + eight digits: distinct across teams, as Slack's user ids are."""
        return f"U{self.index:03d}"

    @property
    def announcer(self) -> str:
        return bulk_ids(f"UA{self.index:03d}", 0, 1)[0]

    @property
    def recipients(self) -> list[str]:
        return bulk_ids(self.prefix, 0, self.n)


@dataclass(frozen=True)
class Spec:
    """One run: the scenario, its workspaces and their sizes, the per-workspace limit, the processes."""

    scenario: str = "even"
    workspaces: int = 20
    n: int | None = None  # recipients of each workspace (skewed: of each small one); default 1000 / 100
    big: int = 10_000  # skewed: the first workspace's recipients
    limit: float = 20.0  # each team's chat.postMessage limit in the fake, and SLACK_POST_RATE
    workers: int = 1
    db: str = "postgres"
    latency: float = 0.02
    timeout: float | None = None  # default max(120, 3 x the largest ideal + 60)
    sweep: str | None = None  # REALIGN_SWEEP_INTERVAL (the follow-up tick); default Realign's own

    @property
    def small(self) -> int:
        return self.n if self.n is not None else (1000 if self.scenario == "even" else 100)

    @property
    def teams(self) -> list[Team]:
        big = self.scenario == "skewed"
        return [Team(i, self.big if big and i == 1 else self.small) for i in range(1, self.workspaces + 1)]

    @property
    def fanout_timeout(self) -> float:
        return self.timeout or max(120.0, 3 * max(team.n for team in self.teams) / self.limit + 60)

    @property
    def label(self) -> str:
        sizes = (
            f"{self.workspaces} x {self.small:,}"
            if self.scenario == "even"
            else f"1 x {self.big:,} + {self.workspaces - 1} x {self.small:,}"
        )
        return f"{self.scenario}: {sizes}, {self.limit:g}/s each, {self.db} x{self.workers}"


@dataclass
class Result:
    """What one workspace received (times are time.time(), from the fake's message ts)."""

    team: Team
    limit: float
    due_at: float
    messages: int = 0
    first: float = math.nan
    last: float = math.nan
    duplicates: int = 0
    missing: int = 0
    rate_limited: int = 0
    notes: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list, repr=False)  # every DM's time, in order

    @property
    def elapsed(self) -> float:
        """From the update that made the rows due to the workspace's last DM."""
        return self.last - self.due_at

    @property
    def ideal(self) -> float:
        return self.team.n / self.limit

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def efficiency(self) -> float:
        """ideal / elapsed, as bench/waves.py (elapsed here counts from the due time)."""
        return self.ideal / self.elapsed if self.elapsed > 0 else math.nan


# --- the starting point: the fake's teams, the installs, the rows ---------------------------------------


def fake_for(spec: Spec) -> FakeSlack:
    """The fake with every team (the first is the fake's default one), its users, the per-team limit."""
    teams = spec.teams
    fake = FakeSlack(token=teams[0].token, team_id=teams[0].id, record_calls=False)
    fake.latency = spec.latency
    fake.rate_limit("chat.postMessage", spec.limit)  # per team: each one's own bucket
    for team in teams:
        workspace = fake.teams.get(team.id) or fake.add_team(team.id, token=team.token)
        workspace.add_users(team.n, prefix=team.prefix)  # users.list gives the directory sync these
        workspace.add_users(1, prefix=team.announcer[:-8])
    return fake


def _people(team: Team, at: datetime) -> Iterator[tuple[Any, ...]]:
    """As the directory sync writes them from the fake's users.list, so the sync changes nothing."""
    for user in (team.announcer, *team.recipients):
        name = user.lower()
        yield (team.key, user, name, f"{name}@example.com", TZ, True, False, None, None, None, at)


def _deliveries(team: Team, not_yet: datetime) -> Iterator[tuple[Any, ...]]:
    """Queued, first attempt, due only when the benchmark says so (`not_yet` is a year away)."""
    for user in team.recipients:
        yield (
            team.index,
            user,
            1,
            "queued",
            None,
            0,
            False,
            not_yet,
            None,
            None,
            None,
            None,
            None,
            0,
            None,
            None,
        )


def _change(team: Team, at: datetime) -> tuple[Any, ...]:
    today = at.date()
    return (
        *(team.index, team.key, team.announcer, f"Bench {team.id}: new expense tool", "Expenses move"),
        *("The old one is retired", today + timedelta(days=14), today + timedelta(days=21), "none", ""),
        *("published", None, at - timedelta(minutes=1), at, None),
        *(86400, 2, 90 * 86400, None, None),
    )


def _group(team: Team) -> tuple[Any, ...]:
    return (team.index, 0, "Everyone", "", "File expenses in the new tool", "[]", "[]", "[]")


def _workspace(team: Team, at: datetime) -> tuple[Any, ...]:
    return (team.key, "slack", f"Team {team.id}", at)


WORKSPACE = "key, platform, name, installed_at"
SMALL_TABLES = (("workspace", WORKSPACE, _workspace), ("change", CHANGE, _change))


def seed_postgres(url: str, teams: list[Team], *, at: datetime) -> None:
    not_yet = at + timedelta(days=365)
    with psycopg.connect(url, connect_timeout=5) as connection:
        for table, columns, one in SMALL_TABLES:
            statement = f"INSERT INTO {table} ({columns}) VALUES ({marks(columns, '%s')})"
            connection.cursor().executemany(statement, [one(team, at) for team in teams])
        statement = f"INSERT INTO audience_group ({GROUP}) VALUES ({marks(GROUP, '%s')})"
        connection.cursor().executemany(statement, [_group(team) for team in teams])
        with connection.cursor() as cursor:
            for team in teams:
                for table, columns, rows in (
                    ("person", PERSON, _people(team, at)),
                    ("delivery", DELIVERY, _deliveries(team, not_yet)),
                ):
                    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        connection.commit()
        connection.autocommit = True
        connection.execute("ANALYZE")


def seed_sqlite(path: str, teams: list[Team], *, at: datetime) -> None:
    not_yet = at + timedelta(days=365)
    connection = sqlite3.connect(path, timeout=30)
    try:
        with connection:
            for table, columns, one in SMALL_TABLES:
                statement = f"INSERT INTO {table} ({columns}) VALUES ({marks(columns, '?')})"
                connection.executemany(statement, [tuple(map(sqlite_value, one(team, at))) for team in teams])
            statement = f"INSERT INTO audience_group ({GROUP}) VALUES ({marks(GROUP, '?')})"
            connection.executemany(statement, [_group(team) for team in teams])
            for team in teams:
                for table, columns, rows in (
                    ("person", PERSON, _people(team, at)),
                    ("delivery", DELIVERY, _deliveries(team, not_yet)),
                ):
                    statement = f"INSERT INTO {table} ({columns}) VALUES ({marks(columns, '?')})"
                    connection.executemany(statement, (tuple(map(sqlite_value, row)) for row in rows))
        connection.execute("ANALYZE")
    finally:
        connection.close()


def seed_database(url: str, teams: list[Team], *, at: datetime) -> None:
    """The workspaces, people, changes, groups and queued deliveries, into the migrated, empty database."""
    if url.startswith("sqlite:///"):
        seed_sqlite(url.removeprefix("sqlite:///"), teams, at=at)
    else:
        seed_postgres(url, teams, at=at)


async def install(url: str, teams: list[Team], *, at: datetime) -> None:
    """Each team's install, saved as bolt's OAuth flow saves it: through Realign's installation store."""
    db = Database(url)
    try:
        store = SqlInstallations(db, client_id=CLIENT_ID)
        for team in teams:
            await store.async_save(
                Installation(
                    app_id="A0REALIGN",
                    team_id=team.id,
                    team_name=f"Team {team.id}",
                    bot_token=team.token,
                    bot_id=f"B{team.id}",
                    bot_user_id="UBOT",  # FakeSlack.add_team's default
                    bot_scopes="chat:write,commands,im:write,im:history,users:read",
                    user_id="UINSTALLER",
                    installed_at=at.timestamp(),
                )
            )
    finally:
        await db.close()


# --- one run ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything one run starts, so that it can all be stopped and removed."""

    spec: Spec
    workdir: Path
    fake: FakeSlack
    keep: bool = False
    workers: list[Proc] = field(default_factory=list)
    probe: Probe | None = None

    async def close(self, failed: bool) -> None:
        if self.probe is not None:
            self.probe.close()
        await procs.stop(self.workers)
        await self.fake.stop()
        if self.keep or failed:
            print(f"bench: logs and database kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def logged(self, level: str) -> Counter[str]:
        """The workers' log lines of `level` (with the exception line after an ERROR), counted."""
        found: Counter[str] = Counter()
        for proc in self.workers:
            lines = proc.log_text().splitlines()
            for number, line in enumerate(lines):
                if f" {level} " in line:
                    text = line.partition(f" {level} ")[2][:100]
                    after = [x for x in lines[number + 1 : number + 60] if EXCEPTION_LINE.match(x)][:1]
                    found[text + (f" ({after[0][:80]})" if after and level == "ERROR" else "")] += 1
        return found

    def check_alive(self) -> None:
        for proc in self.workers:
            if not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}: {proc.log_text()[-2000:]}"
                )


def worker_env(spec: Spec, *, database_url: str, fake_url: str) -> dict[str, str]:
    """OAuth installs (no SLACK_BOT_TOKEN); other REALIGN_/SLACK_ variables are not passed on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    return (
        env
        | {
            "DATABASE_URL": database_url,
            "PORT": str(procs.free_port()),
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_STATE_SECRET": STATE_SECRET,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake_url,
            "SLACK_POST_RATE": f"{spec.limit:g}",
            "REALIGN_WORKING_HOURS": "always",
            "REALIGN_WORKING_DAYS": "always",
        }
        | ({"REALIGN_SWEEP_INTERVAL": spec.sweep} if spec.sweep else {})
    )


async def prepare(run: Run) -> None:
    """Fake serving, database migrated and seeded, installs saved, workers started, synced, sharing."""
    spec, teams = run.spec, run.spec.teams
    await run.fake.start()
    url = await asyncio.to_thread(fresh_database, spec.db, run.workdir, postgres_name=POSTGRES_NAME)
    env = worker_env(spec, database_url=url, fake_url=run.fake.url)
    upgrade = procs.spawn(
        "upgrade", [str(procs.PYTHON.parent / "realign"), "db", "upgrade"], env=env, logs=run.workdir
    )
    if await asyncio.to_thread(upgrade.popen.wait):
        raise RuntimeError(f"realign db upgrade failed: {upgrade.log_text()[-2000:]}")
    started, at = time.monotonic(), datetime.now(UTC)
    await asyncio.to_thread(seed_database, url, teams, at=at)
    await install(url, teams, at=at)
    total = sum(team.n for team in teams)
    print(
        f"  seeded {len(teams)} installs and {total:,} deliveries in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    run.probe = Probe(url)
    for number in range(1, spec.workers + 1):
        run.workers.append(procs.start_realign("worker", f"worker{number}", env=env, logs=run.workdir))
    deadline = time.monotonic() + 120 + total / 500
    # Each worker syncs every workspace's directory on start-up (or sees another hold its lease).
    while not all(proc.log_text().count("people synced") >= len(teams) for proc in run.workers):
        run.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not sync every workspace's directory in time")
        await asyncio.sleep(POLL_EVERY)
    if spec.workers > 1:
        while int(await run.probe.scalar("SELECT count(*) FROM worker") or 0) < spec.workers:
            run.check_alive()
            await asyncio.sleep(POLL_EVERY)
        await asyncio.sleep(HEARTBEAT + 1)


async def wait_fanout(run: Run, *, within: float) -> bool:
    """Poll until every delivery is settled, or `within` seconds pass; progress on stderr."""
    assert run.probe is not None
    started = last_report = time.monotonic()
    last_sent, teams = 0, len(run.spec.teams)
    while True:
        pending = {str(key): int(n) for key, n in await run.probe.rows(PENDING)}
        if not pending:
            return True
        run.check_alive()
        now = time.monotonic()
        if now - started > within:
            return False
        if now - last_report >= PROGRESS_EVERY:
            sent = int(await run.probe.scalar(DELIVERED) or 0)
            rate = (sent - last_sent) / (now - last_report)
            print(
                f"  {sent:,} sent, {sum(pending.values()):,} to go, {teams - len(pending)}/{teams}"
                f" workspaces done, {rate:,.0f}/s, {now - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            last_report, last_sent = now, sent
        await asyncio.sleep(POLL_EVERY)


def announcements(workspace: Workspace) -> list[tuple[str, float]]:
    """(receiver, time) of every announcement DM the team holds (from the fake's state)."""
    found = []
    for channel_id, channel in workspace.channels.items():
        for message in channel.messages if channel_id.startswith("D") else ():
            if (message.get("metadata") or {}).get("event_type") == ANNOUNCEMENT_EVENT:
                found.append((channel_id[1:], float(message["ts"])))
    return found


async def tally(run: Run, due_at: float, limited: Counter[str]) -> list[Result]:
    """Each workspace's result from what its team in the fake received, and the delivery states."""
    assert run.probe is not None
    states: dict[str, dict[str, int]] = {}
    for key, state, n in await run.probe.rows(STATES):
        states.setdefault(str(key), {})[str(state)] = int(n)
    results = []
    for team in run.spec.teams:
        result = Result(team, run.spec.limit, due_at)
        received = announcements(run.fake.team(team.id))
        per_receiver = Counter(user for user, _ in received)
        expected = set(team.recipients)
        result.messages = len(received)
        result.duplicates = sum(n - 1 for n in per_receiver.values())
        result.missing = len(expected - per_receiver.keys())
        result.rate_limited = run.fake.rate_limited_by_team[team.id] - limited[team.id]
        if received:
            result.times = sorted(t for _, t in received)
            result.first, result.last = result.times[0], result.times[-1]
        if strays := sum(n for user, n in per_receiver.items() if user not in expected):
            result.notes.append(f"{strays} DMs to people not in the audience")
        if others := {s: n for s, n in states.get(team.key, {}).items() if s != "delivered"}:
            result.notes.append(", ".join(f"{n} {s}" for s, n in sorted(others.items())))
        results.append(result)
    return results


def stalls(results: list[Result], limit: float) -> None:
    """Say on stderr where the time beyond the ideal went: the start (due -> first DM), and the pauses in
    each workspace's stream (gaps over STALL, with how often they came), which the rate cannot explain."""
    step = 1 / limit
    lines = []
    for result in results:
        times = result.times
        if len(times) < 2:
            continue
        gaps = [(b - a, a) for a, b in pairwise(times) if b - a > STALL]
        lost = sum(gap - step for gap, _ in gaps)
        every = statistics.median(b - a for (_, a), (_, b) in pairwise(gaps)) if len(gaps) > 1 else math.nan
        longest = max((gap for gap, _ in gaps), default=0.0)
        stream = times[-1] - times[0]
        lines.append(
            f"  {result.team.key}: start {times[0] - result.due_at:.1f} s, stream {stream:.1f} s for"
            f" {len(times) - 1} intervals of {step * 1000:.0f} ms ({(len(times) - 1) * step:.1f} s);"
            f" {len(gaps)} pauses > {STALL * 1000:.0f} ms lose {lost:.1f} s, one every {every:.1f} s,"
            f" longest {longest:.2f} s; at +" + ", +".join(f"{at - result.due_at:.0f}" for _, at in gaps[:12])
        )
    everything = sorted(t - result.due_at for result in results for t in result.times)
    if everything:
        per_second = Counter(int(t) for t in everything)
        timeline = " ".join(str(per_second.get(second, 0)) for second in range(int(everything[-1]) + 1))
        lines.append(f"  DMs per second from the due time, all workspaces: {timeline}")
    print("\n".join(lines), file=sys.stderr)


class GcPauses:
    """Keeps the garbage collector out of the measurement in this process, where the fake serves: its
    full collections (up to 0.5 s with the fake's messages piling up) stalled every workspace's stream at
    once, the apparatus's pause, not Realign's. Collection is off during the fan-out (reference counting
    still frees nearly everything); what still ran is reported."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.collect()
        gc.freeze()  # the seeded users and channels: never scanned again
        gc.disable()
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)
        gc.enable()
        gc.unfreeze()
        longest = max(self.pauses, default=0.0)
        print(
            f"  garbage collection in the bench+fake process: {len(self.pauses)} runs,"
            f" {sum(self.pauses) * 1000:.0f} ms in all, longest {longest * 1000:.0f} ms",
            file=sys.stderr,
        )


def cpu_use(run: Run, before: dict[int, tuple[str, float]], seconds: float) -> None:
    """Say who used the CPU during the fan-out (in % of one core) and the load average."""
    ours = {proc.pid: proc.name for proc in run.workers} | {os.getpid(): "bench+fake"}
    used = cpu.shares(before, cpu.snapshot(), ours, seconds)
    shown = ", ".join(f"{who} {share:.0f}%" for who, share in sorted(used.items(), key=lambda i: -i[1]))
    print(
        f"  CPU during the fan-out (% of one core, {os.cpu_count()} cores, load average now"
        f" {load_average()}): {shown}",
        file=sys.stderr,
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(spec: Spec, *, keep: bool = False) -> tuple[list[Result], str]:
    """One fan-out across every workspace; the results and a note (unfinished, an error, the load)."""
    bench = Run(spec, Path(tempfile.mkdtemp(prefix="realign-fairness-")), fake_for(spec), keep=keep)
    results: list[Result] = []
    note, failed = "", True
    try:
        await prepare(bench)
        assert bench.probe is not None
        warnings_before, errors_before = bench.logged("WARNING"), bench.logged("ERROR")
        limited, cpu_before = Counter(bench.fake.rate_limited_by_team), cpu.snapshot()
        load_before = load_average()
        now = time_literal(bench.probe.url, datetime.now(UTC))
        print(f"bench: {spec.label}: all due now (load average {load_before})", file=sys.stderr)
        with GcPauses():
            due_at = time.time()
            await bench.probe.execute(f"UPDATE delivery SET due_at = {now} WHERE state = 'queued'")
            finished = await wait_fanout(bench, within=spec.fanout_timeout)
        cpu_use(bench, cpu_before, time.time() - due_at)
        results = await tally(bench, due_at, limited)
        stalls(results, spec.limit)
        note = f"load average {load_before} before, {load_average()} after"
        if not finished:
            note += f"; unfinished after {spec.fanout_timeout:.0f} s"
        for level, before in (("WARNING", warnings_before), ("ERROR", errors_before)):
            for text, n in (bench.logged(level) - before).most_common(8):
                print(f"  logged {level} x{n}: {text}", file=sys.stderr)
        if errors := sum((bench.logged("ERROR") - errors_before).values()):
            note += f"; {errors} errors logged"
        failed = not finished or any(r.duplicates or r.missing for r in results)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        note = "error: " + (f"{type(error).__name__}: {error}".splitlines() or [""])[0][:200]
    finally:
        await bench.close(failed=failed)
    return results, note


# --- the table --------------------------------------------------------------------------------------------

COLUMNS = (
    *("workspace", "recipients", "messages", "due → first (s)", "due → last (s)", "ideal (s)"),
    *("msgs/s", "efficiency", "duplicates", "missing", "429s", "notes"),
)


def _num(value: float, digits: int = 0) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1%}"


def row(result: Result) -> list[str]:
    notes = list(result.notes)
    if result.efficiency < EFFICIENCY_TARGET:
        notes.append(f"below {EFFICIENCY_TARGET:.0%}")
    return [
        *(result.team.key, f"{result.team.n:,}", f"{result.messages:,}"),
        *(_num(result.first - result.due_at, 1), _num(result.elapsed, 1), _num(result.ideal, 1)),
        *(_num(result.rate, 1), _pct(result.efficiency), str(result.duplicates), str(result.missing)),
        *(str(result.rate_limited), "; ".join(notes)),
    ]


def summary_row(results: list[Result]) -> list[str]:
    efficiencies = [r.efficiency for r in results if not math.isnan(r.efficiency)]
    longest = max((r.elapsed for r in results if not math.isnan(r.elapsed)), default=math.nan)
    messages = sum(r.messages for r in results)
    below = sum(e < EFFICIENCY_TARGET for e in efficiencies)
    shown = (
        f"min {min(efficiencies):.1%}, median {statistics.median(efficiencies):.1%}" if efficiencies else "—"
    )
    first = min((r.first - r.due_at for r in results), default=math.nan)
    ideal = max((r.ideal for r in results), default=math.nan)
    return [
        *(f"**all {len(results)}**", f"{sum(r.team.n for r in results):,}", f"{messages:,}"),
        *(_num(first, 1), _num(longest, 1), _num(ideal, 1)),
        *(_num(messages / longest if longest > 0 else math.nan, 1), shown),
        *(str(sum(r.duplicates for r in results)), str(sum(r.missing for r in results))),
        *(str(sum(r.rate_limited for r in results)), f"{below} below {EFFICIENCY_TARGET:.0%}"),
    ]


def verdict(spec: Spec, results: list[Result]) -> list[str]:
    """The targets of issue 9, met or not, in words."""
    if not results:
        return []
    lines = []
    duplicates, missing = sum(r.duplicates for r in results), sum(r.missing for r in results)
    if spec.scenario == "even":
        worst = min(results, key=lambda r: r.efficiency if not math.isnan(r.efficiency) else -1)
        met = all(r.efficiency >= EFFICIENCY_TARGET for r in results) and not duplicates and not missing
        lines.append(
            f"even: every workspace ≥ {EFFICIENCY_TARGET:.0%} of its own limit, 0 duplicates, 0 missing:"
            f" {'met' if met else 'MISSED'} (lowest {_pct(worst.efficiency)}, {worst.team.key};"
            f" {duplicates} duplicates, {missing} missing)"
        )
    else:
        big, small = results[0], results[1:]
        finish = sorted(r.elapsed for r in small)
        ideal = spec.small / spec.limit
        bound = SMALL_SLACK * ideal + DISCOVERY
        met = bool(finish) and finish[-1] <= bound and not duplicates and not missing
        shown = (
            f"min {finish[0]:.1f} s, median {statistics.median(finish):.1f} s, max {finish[-1]:.1f} s"
            if finish and not math.isnan(finish[-1])
            else "—"
        )
        lines.append(
            f"skewed: the {len(small)} small workspaces finished (due → last) {shown} against their ideal"
            f" {ideal:.1f} s (target: within {bound:.1f} s = {SMALL_SLACK:g} x ideal + {DISCOVERY:g} s to"
            f" find the rows): {'met' if met else 'MISSED'}; the big one ({big.team.n:,}) at"
            f" {_pct(big.efficiency)} of its limit ({_num(big.elapsed, 1)} s against {big.ideal:.1f} s);"
            f" {duplicates} duplicates, {missing} missing"
        )
    lines.append("efficiency = ideal ÷ (due → last), as bench/waves.py; ideal = recipients ÷ limit")
    return lines


def table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row(result)) + " |" for result in results]
    if results:
        lines.append("| " + " | ".join(summary_row(results)) + " |")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", choices=("even", "skewed"), default="even")
    parser.add_argument("--workspaces", type=int, default=20, help="workspaces (default 20)")
    parser.add_argument(
        "--n", type=int, default=None, help="recipients per workspace (skewed: per small one); 1000 / 100"
    )
    parser.add_argument("--big", type=int, default=10_000, help="skewed: the big workspace (default 10000)")
    parser.add_argument(
        "--limit", type=float, default=20.0, help="each workspace's limit, per s (default 20)"
    )
    parser.add_argument("--workers", type=int, default=1, help="realign worker processes (default 1)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake adds to every call")
    parser.add_argument("--timeout", type=float, default=None, help="seconds the fan-out may take")
    parser.add_argument(
        "--sweep", default=None, help="REALIGN_SWEEP_INTERVAL for the workers (default: Realign's, 60s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and the SQLite file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.workspaces < 2 or args.workers < 1 or (args.n is not None and args.n < 1) or args.big < 1:
        raise SystemExit("--workspaces must be at least 2, --workers, --n and --big at least 1")
    spec = Spec(
        *(args.scenario, args.workspaces, args.n, args.big, args.limit, args.workers, args.db),
        *(args.latency, args.timeout, args.sweep),
    )
    print(f"bench: {spec.label}", file=sys.stderr, flush=True)
    started = time.monotonic()
    results, note = asyncio.run(run(spec, keep=args.keep))
    print(f"bench: the run took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{spec.label}; {note}\n")
    print(table(results))
    for line in verdict(spec, results):
        print(f"\n{line}")
    sys.stdout.flush()
    failed = not results or "unfinished" in note or note.startswith("error")
    return 1 if failed or any(r.duplicates or r.missing for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
