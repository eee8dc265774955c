"""Delivery benchmark: publish one change to N people through the real Realign processes, time the fan-out.

    python -m bench.fanout --n 10000 --db sqlite|postgres --workers 1 --latency 0.02 [--limit 200] [--rate R]
    python -m bench.fanout --matrix

Prints one markdown table on stdout, progress on stderr; exits 1 if a run had duplicates or missing DMs
(or did not finish, or failed). See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import cpu, procs
from bench.announce import Announcer
from bench.database import TARGETED, Probe, fresh_database
from bench.load import Interactive, InteractiveLoad, Settling, watch_settled
from bench.procs import Proc
from bench.report import Result, Spec, median, percentile, table
from bench.slack import SignedSlack
from tests.fakes.slack_requests import SECRET
from tests.fakes.standalone import SlackControl

ANNOUNCER = "UANN00000000"  # what POST /_fake/users {"prefix": "UANN", "count": 1} creates
USERGROUP, HANDLE = "S0BENCH", "everyone"
STATUS_SAMPLES = 5
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120)
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\b")
INHERITED_PREFIXES = ("REALIGN_", "SLACK_", "MICROSOFT_", "DATABASE_URL", "PORT")


async def seed(fake: SlackControl, n: int) -> None:
    """N users U00000000..., one announcer, and a user group holding the N users."""
    await fake.add_users(n)
    await fake.add_users(1, prefix="UANN")
    await fake.add_usergroup(USERGROUP, HANDLE, count=n)


@dataclass
class Bench:
    """Everything one run starts, so that it can all be stopped and removed."""

    spec: Spec
    workdir: Path
    keep: bool = False
    fake: Proc | None = None
    realign: list[Proc] = field(default_factory=list)
    probe: Probe | None = None

    async def close(self, failed: bool) -> None:
        """Stop every process (SIGTERM, then SIGKILL), close the probe, drop the temp files."""
        if self.probe is not None:
            self.probe.close()
        await procs.stop([*self.realign, *([self.fake] if self.fake else [])])
        _log_summary(self.realign)
        if self.keep or failed:
            print(f"bench: logs and database kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _log_summary(realign: list[Proc]) -> None:
    """Say on stderr how many errors each Realign process logged, and of which exceptions."""
    for proc in realign:
        lines = proc.log_text().splitlines()
        errors = sum(" ERROR " in line for line in lines)
        kinds = Counter(line.split(":")[0] for line in lines if EXCEPTION_LINE.match(line))
        if errors:
            common = ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common(3))
            print(f"bench: {proc.name} logged {errors} errors ({common})", file=sys.stderr)


def realign_env(spec: Spec, *, database_url: str, fake_url: str, port: int) -> dict[str, str]:
    """The environment of every Realign process: only the settings the benchmark chooses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    return env | {
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_url,
        "SLACK_POST_RATE": "auto" if spec.auto else f"{spec.post_rate:g}",
    }


async def start_realign(bench: Bench, env: dict[str, str], *, directory_timeout: float) -> str:
    """`realign serve` (migrates), then the extra `realign worker`s; wait for health and the directory."""
    assert bench.probe is not None
    url = f"http://127.0.0.1:{env['PORT']}"
    bench.realign.append(procs.start_realign("serve", "serve", env=env, logs=bench.workdir))
    await procs.wait_healthy(url + "/healthz", bench.realign)
    for number in range(2, bench.spec.workers + 1):  # after serve, so they do not race its migration
        bench.realign.append(procs.start_realign("worker", f"worker{number}", env=env, logs=bench.workdir))
    deadline = time.monotonic() + directory_timeout
    while await bench.probe.scalar("SELECT count(*) FROM person") != bench.spec.n + 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the directory did not reach {bench.spec.n + 1} people")
        await asyncio.sleep(0.5)
    await procs.wait_logged(bench.realign, "people synced", within=directory_timeout)
    return url


async def wait_targeted(probe: Probe, *, within: float = 120) -> int:
    """How many deliveries the publish queued (the outbox is written in one transaction)."""
    deadline = time.monotonic() + within
    while not (targeted := int(await probe.scalar(TARGETED) or 0)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no delivery was queued {within:.0f} s after publishing")
        await asyncio.sleep(0.1)
    return targeted


async def fan_out(
    bench: Bench, slack: SignedSlack, key: str, *, published_at: float
) -> tuple[int, Settling, Interactive]:
    """Wait for every delivery to settle while the interactive load runs; returns what was seen."""
    assert bench.probe is not None
    targeted = await wait_targeted(bench.probe)
    stop = asyncio.Event()
    load = InteractiveLoad(
        slack, bench.probe, announcer=ANNOUNCER, key=key, every=bench.spec.interactive_every
    )
    loading = asyncio.create_task(load.run(stop))
    try:
        timeout = bench.spec.fanout_timeout - (time.time() - published_at)
        settling = await watch_settled(bench.probe, targeted=targeted, within=timeout, label=bench.spec.label)
    finally:
        stop.set()
        interactive = await loading
    return targeted, settling, interactive


async def status_latency(slack: SignedSlack, key: str, notes: list[str]) -> float:
    """Median round trip (ms) of STATUS_SAMPLES sequential `/change-status KEY` once the fan-out is over."""
    samples, failed = [], 0
    for _ in range(STATUS_SAMPLES):
        reply = await slack.command(ANNOUNCER, "/change-status", key)
        samples.append(reply.seconds * 1000)
        failed += reply.status != 200 or "blocks" not in reply.json()
    if failed:
        notes.append(f"{failed} of {STATUS_SAMPLES} /change-status after the fan-out failed")
    return median(samples)


def cpu_use(bench: Bench, before: dict[int, tuple[str, float]], seconds: float) -> None:
    """Print who used the CPU during the fan-out, in % of one core."""
    ours = {proc.pid: proc.name for proc in [*([bench.fake] if bench.fake else []), *bench.realign]}
    used = cpu.shares(before, cpu.snapshot(), ours | {os.getpid(): "bench"}, seconds)
    shown = ", ".join(f"{name} {share:.0f}%" for name, share in sorted(used.items(), key=lambda i: -i[1]))
    print(f"  CPU during the fan-out (% of one core, {os.cpu_count()} cores): {shown}", file=sys.stderr)


def record(result: Result, stats: dict[str, Any], settling: Settling, interactive: Interactive) -> None:
    """Fill `result` from the fake's DM counts, the outbox and the interactive load."""
    counts: dict[str, int] = stats.get("dm_counts") or {}
    result.duplicates = sum(max(0, n - 1) for n in counts.values())
    result.missing = sum(1 for i in range(result.spec.n) if not counts.get(f"U{i:08d}"))
    result.delivered_users = result.spec.n - result.missing
    result.rate_limited = int(stats.get("rate_limited", 0))
    result.settled, result.finished = settling.settled, settling.finished
    result.interactive_ms = interactive.all_ms()
    result.interactive_errors = sum(interactive.errors.values())
    for reason, count in sorted(interactive.errors.items()):
        print(f"  interactive failure: {reason} x{count}", file=sys.stderr)
    for kind, values in interactive.ms.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"  {kind}: {len(values)} answered, p50 {p50:.0f} ms, p99 {p99:.0f} ms", file=sys.stderr)


async def measure(bench: Bench, result: Result, http: aiohttp.ClientSession) -> None:
    """One run from an empty workspace to the numbers: start, seed, publish, fan out, look back."""
    spec = bench.spec
    bench.fake, fake_url = await procs.start_fake(latency=spec.latency, limit=spec.limit, logs=bench.workdir)
    fake = SlackControl(http, fake_url)
    await seed(fake, spec.n)
    database_url = await asyncio.to_thread(fresh_database, spec.db, bench.workdir)
    bench.probe = Probe(database_url)
    env = realign_env(spec, database_url=database_url, fake_url=fake_url, port=procs.free_port())
    slack = SignedSlack(
        realign_url=await start_realign(bench, env, directory_timeout=60 + spec.n / 200),
        fake_url=fake_url,
        http=http,
    )
    announcer = Announcer(slack, bench.probe, user=ANNOUNCER, usergroup=USERGROUP, views=fake.views)
    key, publish_seconds = await announcer.publish()
    published_at, cpu_before = time.time(), cpu.snapshot()
    result.publish_ms, result.notes = publish_seconds * 1000, announcer.late_steps()
    result.targeted, settling, interactive = await fan_out(bench, slack, key, published_at=published_at)
    cpu_use(bench, cpu_before, settling.seen_at - published_at)
    last_sent = await bench.probe.last_sent()
    ended = last_sent.timestamp() if settling.finished and last_sent else settling.seen_at
    result.elapsed = max(ended - published_at, 1e-3)
    result.status_after_ms = await status_latency(slack, key, result.notes)
    result.peak_rss_mb = max((proc.peak_rss_mb() or 0.0) for proc in bench.realign)
    record(result, await fake.stats(), settling, interactive)


async def run(spec: Spec, *, keep: bool = False) -> Result:
    """Run one benchmark; errors are recorded in the result, and everything started is stopped."""
    result = Result(spec)
    bench = Bench(spec, Path(tempfile.mkdtemp(prefix="realign-bench-")), keep=keep)
    try:
        async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
            await measure(bench, result, http)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        result.error = (f"{type(error).__name__}: {error}".splitlines() or [""])[0][:200]
    finally:
        await bench.close(failed=result.failed)
    return result


MATRIX = (
    Spec(10_000, "sqlite"),
    Spec(10_000, "postgres"),
    Spec(10_000, "postgres", workers=3),
    Spec(10_000, "sqlite", limit=200),
    Spec(10_000, "postgres", limit=200),
    Spec(10_000, "postgres", workers=3, limit=200),
    Spec(100_000, "postgres"),
    Spec(100_000, "sqlite", timeout=180, optional=True),  # reported even if it does not finish in 3 min
)


async def run_all(specs: Sequence[Spec], *, keep: bool) -> list[Result]:
    """Run the specs one after another, with a summary line on stderr after each."""
    results = []
    for number, spec in enumerate(specs, 1):
        print(f"bench: run {number}/{len(specs)}: {spec.label}", file=sys.stderr, flush=True)
        started = time.monotonic()
        results.append(await run(spec, keep=keep))
        print(f"bench: run {number} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="recipients (default 10000)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="delivering processes: serve + N-1 workers")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake adds to every call")
    parser.add_argument("--limit", type=float, default=None, help="the fake's chat.postMessage limit, per s")
    parser.add_argument("--rate", type=float, default=None, help="SLACK_POST_RATE (default: the limit)")
    parser.add_argument("--timeout", type=float, default=None, help="fan-out timeout in seconds")
    parser.add_argument(
        "--interactive-every",
        type=float,
        default=0.05,
        metavar="S",
        help="seconds between interactive requests during the fan-out (default 0.05; 0: none)",
    )
    parser.add_argument("--auto", action="store_true", help="SLACK_POST_RATE=auto: find the limit by probing")
    parser.add_argument("--matrix", action="store_true", help="run the standard set (bench/README.md)")
    parser.add_argument("--keep", action="store_true", help="keep logs and the SQLite file")
    return parser


def spec_from(args: argparse.Namespace) -> Spec:
    """The one run the command line describes."""
    return Spec(
        n=args.n,
        db=args.db,
        workers=args.workers,
        latency=args.latency,
        limit=args.limit,
        rate=args.rate,
        timeout=args.timeout,
        interactive_every=args.interactive_every,
        auto=args.auto,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the table; 1 if any run failed."""
    args = _parser().parse_args(argv)
    if args.workers < 1 or args.n < 1:
        raise SystemExit("--n and --workers must be at least 1")
    specs = MATRIX if args.matrix else (spec_from(args),)
    started = time.monotonic()
    results = asyncio.run(run_all(specs, keep=args.keep))
    print(f"bench: {len(results)} runs in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(table(results))
    return 1 if any(result.failed for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
