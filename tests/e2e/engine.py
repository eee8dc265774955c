"""Helpers for delivery-engine tests: publish through the use cases, run `realign worker` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from uuid import uuid4

from bot.announce import Basics
from bot.model import AudienceGroup
from realign.runtime import Runtime
from store.db import Database
from tests.conftest import count
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET

ANNOUNCER = "UANN"
EVERYONE_GROUP = "SALL"


def staff(slack: FakeSlack, n: int) -> list[str]:
    """N employees (U00000000…), an announcer, and a user group holding all employees."""
    slack.add_users(n)
    slack.add_user(ANNOUNCER, name="Ann Announcer")
    users = [f"U{i:08d}" for i in range(n)]
    slack.add_usergroup(EVERYONE_GROUP, "everyone", users)
    return users


async def publish_to_everyone(runtime: Runtime) -> str:
    """Announce a change to the whole user group through the real use cases; returns its key."""
    assert runtime.slack is not None
    announcing, ref = runtime.slack.services.announcing, f"test-{uuid4().hex[:8]}"
    today = date.today()
    basics = Basics(
        "Engine test", "Everything changes.", "Because.", today + timedelta(14), today + timedelta(21)
    )
    change = await announcing.submit_basics(user_id=ANNOUNCER, draft_ref=ref, form=basics)
    group = AudienceGroup(name="Everyone", from_effective="Do it.", usergroup_ids=(EVERYONE_GROUP,))
    await announcing.submit_group(key=change.key, user_id=ANNOUNCER, draft_ref=ref, position=0, group=group)
    published = await announcing.publish(key=change.key, user_id=ANNOUNCER)
    assert published.first
    return change.key


async def unsettled(db: Database) -> int:
    return await count(db, "SELECT count(*) FROM delivery WHERE state IN ('queued', 'sending')")


async def all_settled(db: Database, *, within: float = 30) -> None:
    """Wait until no delivery is queued or in flight."""
    for _ in range(int(within * 10)):
        if await unsettled(db) == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{await unsettled(db)} deliveries still unsettled after {within}s")


def worker_env(database_url: str, slack: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        **extra,
    }


class Worker:
    """A `realign worker` process, to be killed and restarted at will; its stderr goes to a file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "realign.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def stop(self) -> str:
        """SIGTERM and wait (SIGKILL after 30 s); returns what the worker wrote to stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        self.log.close()
        return output
