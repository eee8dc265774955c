"""The follow-up benchmark's waves: what each one sends, what the fake received, the table of results.

Pure bookkeeping, no processes: bench.followup runs the waves and hands the fake and the notice table here.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

from bench.followup_seed import Population
from tests.fakes.slack_api import FakeSlack

NOTICE_EVENT = "realign_notice"  # adapters/slack/messenger.py: the metadata on every follow-up message
EFFICIENCY_TARGET, RSS_TARGET_MB = 0.97, 300.0


@dataclass(frozen=True)
class Spec:
    """One run: recipients, database, `realign worker` processes, the workspace limit."""

    n: int
    db: str
    workers: int = 1
    limit: float = 200.0  # the fake's chat.postMessage limit and SLACK_POST_RATE, per second
    latency: float = 0.02
    per_manager: int = 10
    unmanaged: int = 10
    timeout: float | None = None  # seconds a wave may take; default max(120, 8 x ideal + 60)

    @property
    def label(self) -> str:
        return f"N={self.n} {self.db} x{self.workers} limit {self.limit:g}/s"

    def wave_timeout(self, expected: int) -> float:
        """How long a wave of `expected` messages may take before it is called unfinished."""
        return self.timeout or max(120.0, 8 * expected / self.limit + 60)

    @property
    def population(self) -> Population:
        return Population(self.n, per_manager=self.per_manager, unmanaged=self.unmanaged)


@dataclass(frozen=True)
class WaveKind:
    """A wave: the notice kinds it sends, the update that makes it due, what is still left to plan."""

    name: str
    kinds: tuple[str, ...]
    trigger: str  # {now}: the due time, as an SQL literal
    unplanned: str


WAVES = (
    WaveKind(
        "reminders",
        ("reminder",),
        "UPDATE delivery SET remind_at = {now} WHERE change_id = 1 AND acknowledged_at IS NULL",
        "SELECT count(*) FROM delivery WHERE remind_at <= {now}",
    ),
    WaveKind(
        "escalations",
        ("escalation", "unmanaged"),
        "UPDATE change SET escalate_at = {now} WHERE id = 1",
        "SELECT count(*) FROM change WHERE escalate_at IS NOT NULL",
    ),
    WaveKind(
        "gap report",
        ("report",),
        "UPDATE change SET report_at = {now} WHERE id = 1",
        "SELECT count(*) FROM change WHERE report_at IS NOT NULL",
    ),
)


@dataclass
class Wave:
    """What one wave measured (times are time.time())."""

    spec: Spec
    name: str
    expected: int = 0
    messages: int = 0
    due_at: float = math.nan
    first: float = math.nan
    last: float = math.nan
    finished: bool = False
    duplicates: int = 0
    missing: int = 0
    unexpected: int = 0
    rate_limited: int = 0
    peak_rss_mb: float = math.nan
    cpu_ms: float = math.nan  # the workers' CPU time per message of the wave
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def elapsed(self) -> float:
        """First to last message the fake accepted."""
        return self.last - self.first

    @property
    def ideal(self) -> float:
        return self.expected / self.spec.limit

    @property
    def efficiency(self) -> float:
        ok = self.expected > 1 and self.elapsed > 0
        return self.ideal / self.elapsed if ok else math.nan

    @property
    def failed(self) -> bool:
        return bool(self.error or self.duplicates or self.missing or self.unexpected or not self.finished)


@dataclass(frozen=True)
class Post:
    """A follow-up message the fake accepted."""

    notice_id: int
    receiver: str
    at: float
    thread_ts: str | None


def posts(fake: FakeSlack) -> list[Post]:
    """Every message with follow-up metadata in any DM, read from the fake's state (no call log needed)."""
    found = []
    for channel_id, channel in fake.workspace.channels.items():
        for message in channel.messages if channel_id.startswith("D") else ():
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == NOTICE_EVENT:
                notice = int((metadata.get("event_payload") or {}).get("notice_id", 0))
                found.append(Post(notice, channel_id[1:], float(message["ts"]), message.get("thread_ts")))
    return found


def count(
    wave: Wave,
    everything: list[Post],
    kinds_by_id: dict[int, str],
    *,
    kind: WaveKind,
    expected: frozenset[str],
) -> None:
    """Fill `wave` from the follow-up messages the fake holds (`kinds_by_id`: notice id -> kind)."""
    mine = [post for post in everything if kinds_by_id.get(post.notice_id) in kind.kinds]
    per_receiver = Counter(post.receiver for post in mine)
    wave.messages = len(mine)
    wave.duplicates = sum(n - 1 for n in per_receiver.values())
    wave.missing = len(expected - per_receiver.keys())
    wave.unexpected = sum(n for who, n in per_receiver.items() if who not in expected)
    if mine:
        wave.first, wave.last = min(p.at for p in mine), max(p.at for p in mine)
        pace(kind.name, sorted(p.at for p in mine))
    if twice := sum(n - 1 for n in Counter(post.notice_id for post in mine).values()):
        wave.notes.append(f"{twice} notices posted more than once")
    if strays := sum(post.notice_id not in kinds_by_id for post in everything):
        wave.notes.append(f"{strays} messages name no notice")
    if kind.name == "reminders":
        parent_ts = wave.spec.population.parent_ts
        wrong = sum(p.thread_ts != parent_ts(int(p.receiver[1:])) for p in mine)
        if wrong:
            wave.notes.append(f"{wrong} reminders not in their announcement's thread")


def pace(name: str, times: list[float]) -> None:
    """Say on stderr how even the wave was: its quietest and busiest whole second, its longest gap (and
    when, from the first message), and its rate in each tenth of its messages."""
    start = times[0]
    per_second = Counter(int(t - start) for t in times)
    whole = [per_second.get(second, 0) for second in range(int(times[-1] - start))]  # not the last
    if not whole:
        return
    gap, at = max(((b - a, a - start) for a, b in pairwise(times)), default=(0.0, 0.0))
    cuts = sorted({round(k * (len(times) - 1) / 10) for k in range(11)})  # message indexes
    tenths = " ".join(
        f"{(j - i) / (times[j] - times[i]):.0f}" if times[j] > times[i] else "—" for i, j in pairwise(cuts)
    )
    print(
        f"  {name}: {min(whole)}..{max(whole)} messages a second, longest gap {gap:.2f} s at +{at:.0f} s;"
        f" msgs/s by tenth: {tenths}",
        file=sys.stderr,
    )


COLUMNS = (
    *("N", "database", "workers", "wave", "expected", "limit (req/s)", "messages", "elapsed (s)"),
    *("ideal (s)", "msgs/s", "efficiency", "due → last (s)", "duplicates", "missing", "unexpected"),
    *("429s", "worker CPU/msg (ms)", "peak RSS (MB)", "notes"),
)


def _num(value: float, digits: int = 0) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def row(wave: Wave) -> list[str]:
    spec, notes = wave.spec, list(wave.notes)
    if wave.error:
        notes.append(f"error: {wave.error}")
    elif not wave.finished:
        notes.append("unfinished")
    if wave.efficiency < EFFICIENCY_TARGET:
        notes.append(f"below the {EFFICIENCY_TARGET:.0%} target")
    if wave.peak_rss_mb > RSS_TARGET_MB:
        notes.append(f"RSS over {RSS_TARGET_MB:.0f} MB")
    rate = wave.messages / wave.elapsed if wave.elapsed > 0 else math.nan
    return [
        *(f"{spec.n:,}", {"sqlite": "SQLite", "postgres": "PostgreSQL"}[spec.db], str(spec.workers)),
        *(wave.name, f"{wave.expected:,}", f"{spec.limit:g}", f"{wave.messages:,}", _num(wave.elapsed, 1)),
        *(_num(wave.ideal, 1), _num(rate), "—" if math.isnan(wave.efficiency) else f"{wave.efficiency:.1%}"),
        *(_num(wave.last - wave.due_at, 1), str(wave.duplicates), str(wave.missing), str(wave.unexpected)),
        *(str(wave.rate_limited), _num(wave.cpu_ms, 1), _num(wave.peak_rss_mb), "; ".join(notes)),
    ]


def table(waves: list[Wave]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row(wave)) + " |" for wave in waves)])
