"""Follow-up benchmark: the reminder wave and the escalation wave for N recipients at a workspace limit.

    python -m bench.followup --n 100000 --db postgres|sqlite --workers 1 --limit 200
    python -m bench.followup --matrix

Seeds a published change straight into the database (half of N acknowledged, bench/followup_seed.py),
serves the Slack fake in this process, starts `realign worker`s, then makes each wave due with one SQL
update and reads what the fake received: reminders, then escalations (with the unmanaged notice), then
the gap report. One markdown table on stdout, progress on stderr; exits 1 if a wave had duplicate,
missing or unexpected messages, did not finish, or a run failed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import cpu, procs
from bench.database import Probe, fresh_database
from bench.fanout import EXCEPTION_LINE, INHERITED_PREFIXES
from bench.followup_seed import ANNOUNCER, seed_database, seed_fake, time_literal
from bench.procs import Proc
from bench.waves import WAVES, Spec, Wave, WaveKind, count, posts, table
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET

TOKEN = "xoxb-bench"
POSTGRES_NAME = "realign_followup_bench"  # not bench.fanout's database, so the two can run side by side
POLL_EVERY, PROGRESS_EVERY = 0.5, 5.0
HEARTBEAT = 5.0  # realign.engine.HEARTBEAT: within it every worker has seen the others and split the rate


@dataclass
class Run:
    """Everything one run starts, so that it can all be stopped and removed."""

    spec: Spec
    workdir: Path
    keep: bool = False
    fake: FakeSlack = field(default_factory=lambda: FakeSlack(token=TOKEN, record_calls=False))
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

    def errors_logged(self) -> list[str]:
        """Every ERROR line the workers logged so far, and the exception line that follows it, if any."""
        found = []
        for proc in self.workers:
            lines = proc.log_text().splitlines()
            for number, line in enumerate(lines):
                if " ERROR " in line:
                    after = [x for x in lines[number + 1 : number + 60] if EXCEPTION_LINE.match(x)][:1]
                    found.append(line.partition(" ERROR ")[2][:80] + (f" ({after[0][:80]})" if after else ""))
        return found

    def check_alive(self) -> None:
        for proc in self.workers:
            if not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}: {proc.log_text()[-2000:]}"
                )


def worker_env(spec: Spec, *, database_url: str, fake_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    return env | {
        "DATABASE_URL": database_url,
        "PORT": str(procs.free_port()),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_url,
        "SLACK_POST_RATE": f"{spec.limit:g}",
        "REALIGN_SWEEP_INTERVAL": "1s",
        "REALIGN_WORKING_HOURS": "always",
        "REALIGN_WORKING_DAYS": "always",
    }


async def prepare(run: Run) -> None:
    """Fake and database seeded, schema migrated, workers started, synced and sharing the rate."""
    spec, population = run.spec, run.spec.population
    run.fake.latency = spec.latency
    run.fake.rate_limit("chat.postMessage", spec.limit)
    await run.fake.start()
    seed_fake(run.fake, population)
    url = await asyncio.to_thread(fresh_database, spec.db, run.workdir, postgres_name=POSTGRES_NAME)
    env = worker_env(spec, database_url=url, fake_url=run.fake.url)
    upgrade = procs.spawn(
        "upgrade", [str(procs.PYTHON.parent / "realign"), "db", "upgrade"], env=env, logs=run.workdir
    )
    if await asyncio.to_thread(upgrade.popen.wait):
        raise RuntimeError(f"realign db upgrade failed: {upgrade.log_text()[-2000:]}")
    started = time.monotonic()
    await asyncio.to_thread(seed_database, url, population, at=datetime.now(UTC))
    print(f"  seeded {spec.n:,} deliveries in {time.monotonic() - started:.1f} s", file=sys.stderr)
    run.probe = Probe(url)
    for number in range(1, spec.workers + 1):
        run.workers.append(procs.start_realign("worker", f"worker{number}", env=env, logs=run.workdir))
    await procs.wait_logged(run.workers, "people synced", within=120 + spec.n / 500)
    if spec.workers > 1:
        while int(await run.probe.scalar("SELECT count(*) FROM worker") or 0) < spec.workers:
            run.check_alive()
            await asyncio.sleep(POLL_EVERY)
        await asyncio.sleep(HEARTBEAT + 1)


async def wait_wave(run: Run, wave: WaveKind, now: str, *, within: float) -> bool:
    """Poll until nothing of the wave is left to plan or send, or `within` seconds pass; with progress."""
    assert run.probe is not None
    kinds = ", ".join(f"'{kind}'" for kind in wave.kinds)
    left = (
        f"SELECT ({wave.unplanned.format(now=now)}),"
        f" (SELECT count(*) FROM notice WHERE kind IN ({kinds}) AND due_at IS NOT NULL),"
        f" (SELECT count(*) FROM notice WHERE kind IN ({kinds}) AND due_at IS NULL)"
    )
    started = last_report = time.monotonic()
    last_settled = 0
    while True:
        unplanned, unsettled, settled = (await run.probe.rows(left))[0]
        if unplanned + unsettled == 0:
            return True
        run.check_alive()
        now_s = time.monotonic()
        if now_s - started > within:
            return False
        if now_s - last_report >= PROGRESS_EVERY:
            rate = (settled - last_settled) / (now_s - last_report)
            print(
                f"  {wave.name}: {settled:,} sent, {unsettled:,} queued, {unplanned:,} to plan,"
                f" {rate:,.0f}/s, {now_s - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            last_report, last_settled = now_s, settled
        await asyncio.sleep(POLL_EVERY)


async def tally(run: Run, wave: Wave, kind: WaveKind, expected: frozenset[str]) -> None:
    """Fill `wave` from what the fake holds and what the notice table says."""
    assert run.probe is not None
    kinds_by_id = {int(i): str(k) for i, k in await run.probe.rows("SELECT id, kind FROM notice")}
    count(wave, posts(run.fake), kinds_by_id, kind=kind, expected=expected)
    quoted = ", ".join(f"'{k}'" for k in kind.kinds)
    states = await run.probe.rows(
        f"SELECT state, count(*) FROM notice WHERE kind IN ({quoted}) GROUP BY state ORDER BY state"
    )
    if others := [f"{n} {state}" for state, n in states if state != "sent"]:
        wave.notes.append("notices " + ", ".join(others))


def cpu_use(run: Run, before: dict[int, tuple[str, float]], seconds: float, name: str) -> float:
    """Print who used the CPU during the wave (in % of one core); the workers' CPU seconds."""
    ours = {proc.pid: proc.name for proc in run.workers} | {os.getpid(): "bench+fake"}
    used = cpu.shares(before, cpu.snapshot(), ours, seconds)
    shown = ", ".join(f"{who} {share:.0f}%" for who, share in sorted(used.items(), key=lambda i: -i[1]))
    load = Path("/proc/loadavg").read_text().split()[0]
    print(
        f"  CPU during the {name} (% of one core, {os.cpu_count()} cores, load average now {load}): {shown}",
        file=sys.stderr,
    )
    return sum(used.get(proc.name, 0.0) for proc in run.workers) * seconds / 100


async def run_wave(run: Run, kind: WaveKind, expected: frozenset[str]) -> Wave:
    """Make the wave due, wait for it, count what arrived."""
    assert run.probe is not None
    spec = run.spec
    wave = Wave(spec, kind.name, expected=len(expected))
    now = time_literal(run.probe.url, datetime.now(UTC))
    limited, errors, cpu_before = run.fake.rate_limited, run.errors_logged(), cpu.snapshot()
    wave.due_at = time.time()
    await run.probe.execute(kind.trigger.format(now=now))
    wave.finished = await wait_wave(run, kind, now, within=spec.wave_timeout(len(expected)))
    worker_cpu = cpu_use(run, cpu_before, time.time() - wave.due_at, kind.name)
    wave.rate_limited = run.fake.rate_limited - limited
    wave.peak_rss_mb = max((proc.peak_rss_mb() or 0.0) for proc in run.workers)
    await tally(run, wave, kind, expected)
    wave.cpu_ms = 1000 * worker_cpu / wave.messages if wave.messages else math.nan
    if logged := run.errors_logged()[len(errors) :]:
        kinds = Counter(logged).most_common(2)
        shown = "; ".join(f"{text} x{n}" for text, n in kinds)
        wave.notes.append(f"{len(logged)} errors logged: {shown}")
        for text, n in Counter(logged).most_common():
            print(f"  logged x{n}: {text}", file=sys.stderr)
    return wave


async def run(spec: Spec, *, keep: bool = False) -> list[Wave]:
    """All three waves of one run; an error ends the run with a row saying so."""
    bench = Run(spec, Path(tempfile.mkdtemp(prefix="realign-followup-")), keep=keep)
    population = spec.population
    escalated = population.escalated | ({ANNOUNCER} if population.unmanaged_pending else set())
    expected = (population.pending, escalated, frozenset({ANNOUNCER}))
    waves: list[Wave] = []
    try:
        await prepare(bench)
        for kind, receivers in zip(WAVES, expected, strict=True):
            print(f"bench: {spec.label}: {kind.name} ({len(receivers):,} expected)", file=sys.stderr)
            waves.append(await run_wave(bench, kind, receivers))
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        message = (f"{type(error).__name__}: {error}".splitlines() or [""])[0][:200]
        waves.append(Wave(spec, WAVES[len(waves)].name, error=message))
    finally:
        await bench.close(failed=any(wave.failed for wave in waves))
    return waves


MATRIX = (Spec(100_000, "postgres"), Spec(100_000, "postgres", workers=3), Spec(100_000, "sqlite"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.followup", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="recipients (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--workers", type=int, default=1, help="realign worker processes (default 1)")
    parser.add_argument("--limit", type=float, default=200.0, help="workspace limit, per s (default 200)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake adds to every call")
    parser.add_argument("--per-manager", type=int, default=10, help="reports per manager (default 10)")
    parser.add_argument("--unmanaged", type=int, default=10, help="recipients with no manager (default 10)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds a wave may take")
    parser.add_argument("--matrix", action="store_true", help="PostgreSQL x1, x3 and SQLite x1 at N=100000")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the SQLite file")
    return parser


async def run_all(specs: Sequence[Spec], *, keep: bool) -> list[Wave]:
    waves = []
    for number, spec in enumerate(specs, 1):
        print(f"bench: run {number}/{len(specs)}: {spec.label}", file=sys.stderr, flush=True)
        started = time.monotonic()
        waves += await run(spec, keep=keep)
        print(f"bench: run {number} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return waves


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.n < 2 or args.workers < 1 or args.per_manager < 1 or not 0 <= args.unmanaged <= args.n:
        raise SystemExit("--n must be at least 2, --workers and --per-manager at least 1, --unmanaged 0..N")
    one = Spec(
        *(args.n, args.db, args.workers, args.limit, args.latency, args.per_manager, args.unmanaged),
        timeout=args.timeout,
    )
    specs = [replace(spec, timeout=args.timeout) for spec in MATRIX] if args.matrix else [one]
    waves = asyncio.run(run_all(specs, keep=args.keep))
    print(table(waves))
    return 1 if any(wave.failed for wave in waves) else 0


if __name__ == "__main__":
    sys.exit(main())
