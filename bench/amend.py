"""How long amending a large published change takes: the one transaction of `store/amend.py` (the change,
its group, the acknowledgements set aside into `ack_history`, reminders restarted, one `amendment` notice
per delivered DM), on a change published to N people of whom a seeded half acknowledged.

    python -m bench.amend [--n 100000] [--db postgres|sqlite]

The population is bench.followup's (`bench/followup_seed.py`, copied straight into the database); the
amendment changes the one group's expectations, so every acknowledged person is asked again and every
DM is to be updated. Sending those updates is the follow-up outbox's work at the workspace's rate (see
bench.followup); this measures what the announcer waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.database import fresh_database
from bench.followup_seed import CHANGE_ID, Population, seed_database
from bot.amend import reasked_mask, touched_mask
from store.amend import SqlAmendments
from store.changes import SqlChangeStore
from store.db import Database
from store.migrate import upgrade

POSTGRES_NAME = "realign_amend_bench"


async def measure(n: int, kind: str, workdir: Path) -> list[str]:
    url = await asyncio.to_thread(fresh_database, kind, workdir, postgres_name=POSTGRES_NAME)
    await asyncio.to_thread(upgrade, url)
    at = datetime.now(UTC)
    await asyncio.to_thread(seed_database, url, Population(n), at=at)
    db = Database(url)
    try:
        before = await SqlChangeStore(db).get_by_id(CHANGE_ID)
        assert before is not None
        group = replace(before.groups[0], from_effective="File expenses in the new tool, receipts attached")
        after = replace(before, groups=[group])
        now = datetime.now(UTC)
        started = time.perf_counter()
        counts = await SqlAmendments(db).amend(
            after,
            revision=before.revision,
            reask_mask=reasked_mask(before, after),
            touch_mask=touched_mask(before, after),
            report_at=None,
            escalate_at=now + before.policy.escalate_after,  # as bot.amend plans it: people are asked again
            actor=before.announcer_id,
            at=now,
            changed=("expectations of Everyone",),
        )
        seconds = time.perf_counter() - started
    finally:
        await db.close()
    assert counts is not None
    reasked, updated = counts
    return [
        f"{n:,}",
        "PostgreSQL" if kind == "postgres" else "SQLite",
        f"{reasked:,}",
        f"{updated:,}",
        f"{seconds:.2f}",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    args = parser.parse_args()
    kinds = ("postgres", "sqlite") if args.db == "both" else (args.db,)
    print("| N | database | asked again | DMs to update | amend (s) |")
    print("| --- | --- | --- | --- | --- |")
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="realign-amend-") as folder:
            print("| " + " | ".join(await measure(args.n, kind, Path(folder))) + " |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
