"""What one benchmark run measured, and the markdown table the runs are printed as."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

NO_LIMIT_RATE = 1000.0  # SLACK_POST_RATE meaning "no client-side limit": the highest it accepts


@dataclass(frozen=True)
class Spec:
    """One run: how many recipients, which database, how many delivering processes, which limits."""

    n: int
    db: str
    workers: int = 1
    latency: float = 0.02
    limit: float | None = None  # the fake's chat.postMessage limit, per second
    rate: float | None = None  # SLACK_POST_RATE; default: the limit, else NO_LIMIT_RATE
    timeout: float | None = None  # fan-out timeout; default max(120 s, 5 x N / expected rate)
    optional: bool = False  # a timeout is reported but does not fail the benchmark
    interactive_every: float = 0.05  # seconds between interactive requests during the fan-out; 0: none
    auto: bool = False  # SLACK_POST_RATE=auto: Realign looks for the fake's limit itself

    @property
    def post_rate(self) -> float:
        """The SLACK_POST_RATE the Realign processes get."""
        return self.rate or self.limit or NO_LIMIT_RATE

    @property
    def fanout_timeout(self) -> float:
        """How long the fan-out may take before the run is called unfinished."""
        expected = min(self.limit or 1000.0, self.post_rate)
        return self.timeout or max(120.0, 5 * self.n / expected)

    @property
    def label(self) -> str:
        """A short name for progress lines."""
        limit = f"limit {self.limit:g}/s" if self.limit else "no limit"
        return f"N={self.n} {self.db} x{self.workers} {limit}" + (" rate auto" if self.auto else "")


@dataclass
class Result:
    """The measurements of one run (times in seconds unless the name says ms)."""

    spec: Spec
    finished: bool = False
    targeted: int = 0
    settled: int = 0
    elapsed: float = math.nan
    delivered_users: int = 0
    duplicates: int = 0
    missing: int = 0
    interactive_ms: list[float] = field(default_factory=list)
    interactive_errors: int = 0
    peak_rss_mb: float = math.nan
    status_after_ms: float = math.nan
    publish_ms: float = math.nan
    rate_limited: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def dms_per_second(self) -> float:
        """Recipients who got their DM, per second of fan-out."""
        return self.delivered_users / self.elapsed if self.elapsed > 0 else math.nan

    @property
    def failed(self) -> bool:
        """Duplicates, missing recipients, an error, or a required run that did not finish."""
        if self.error or self.duplicates:
            return True
        return (self.missing > 0 or not self.finished) and not self.spec.optional


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    """The median of `values`; NaN when empty."""
    return statistics.median(values) if values else math.nan


COLUMNS = (
    "N",
    "database",
    "workers",
    "limit (req/s)",
    "elapsed (s)",
    "DMs/s",
    "efficiency",
    "duplicates",
    "missing",
    "interactive p50 (ms)",
    "interactive p99 (ms)",
    "peak RSS (MB)",
    "/change-status after (ms)",
    "publish (ms)",
    "429s",
    "notes",
)


def _num(value: float, digits: int = 0) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def _notes(result: Result) -> str:
    notes = list(result.notes)
    if result.error:
        notes.append(f"error: {result.error}")
    elif not result.finished:
        progress = f"{result.settled:,}/{result.targeted:,} settled"
        notes.append(f"unfinished after {result.spec.fanout_timeout:.0f} s: {progress}")
    if result.interactive_errors:
        notes.append(f"{result.interactive_errors} interactive requests failed")
    if not result.spec.interactive_every:
        notes.append("no interactive load")
    return "; ".join(notes)


def row(result: Result) -> list[str]:
    """The table cells of one run."""
    spec = result.spec
    efficiency = "—" if not spec.limit else f"{100 * result.dms_per_second / spec.limit:.1f}%"
    return [
        f"{spec.n:,}",
        {"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(spec.db, spec.db),
        str(spec.workers),
        f"{spec.limit:g}" if spec.limit else "none",
        _num(result.elapsed, 1),
        _num(result.dms_per_second),
        efficiency,
        str(result.duplicates),
        str(result.missing),
        _num(percentile(result.interactive_ms, 0.50)),
        _num(percentile(result.interactive_ms, 0.99)),
        _num(result.peak_rss_mb),
        _num(result.status_after_ms),
        _num(result.publish_ms),
        str(result.rate_limited),
        _notes(result),
    ]


def table(results: list[Result]) -> str:
    """One markdown table, one line per run."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(row(result)) + " |" for result in results]
    return "\n".join(lines)
