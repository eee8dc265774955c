"""Who used the machine's CPU during a fan-out: our processes, PostgreSQL, and everything else."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _process(stat: str) -> tuple[str, float]:
    """(command name, user + system CPU seconds) from the text of /proc/PID/stat."""
    head, _, tail = stat.rpartition(")")
    fields = tail.split()
    return head.partition("(")[2], (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def snapshot() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds so far) for every process we can read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = _process((entry / "stat").read_text())
            except (OSError, IndexError, ValueError):
                continue
    return found


def shares(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    ours: dict[int, str],
    seconds: float,
) -> dict[str, float]:
    """CPU used between the snapshots, in % of one core: by our process names, "postgres", and "other"."""
    used: dict[str, float] = {}
    for pid, (command, total) in after.items():
        name = ours.get(pid) or ("postgres" if command.startswith("postgres") else "other")
        used[name] = used.get(name, 0.0) + total - before.get(pid, (command, 0.0))[1]
    return {name: 100 * spent / seconds for name, spent in used.items()} if seconds > 0 else {}
