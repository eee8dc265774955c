"""The announcer's side: `/announce-change`, then the modal's steps (basics, one group, review = publish).

Slack waits 3 s for an answer to a view submission; Bolt answers 404 when the listener has not acked by
then, but the listener goes on. A late step is recorded, and the benchmark waits for its effect in the
database before taking the next step, as an announcer retrying would.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from bench.database import Probe
from bench.slack import SignedSlack, basics_values, group_values
from tests.fakes.slack_requests import Reply

SLACK_ACK_TIMEOUT = 3.0
DRAFT_WAIT = 300.0  # seconds a late step may take to show in the database
VIEW_WAIT = 10.0  # seconds for Realign to open the modal after acking /announce-change
VIEW_POLL = 0.05


def _view(view: Reply, expected: str) -> dict[str, Any] | None:
    """The next view if Realign answered with step `expected`; None if it answered too late; else raise."""
    if view.status == 404 and view.seconds >= SLACK_ACK_TIMEOUT:
        return None
    answer = view.json() if view.status == 200 else {}
    shown = answer.get("view") or {}
    if answer.get("response_action") != "update" or shown.get("callback_id", "") != expected:
        raise RuntimeError(f"expected view '{expected}', got HTTP {view.status}: {view.body[:500]}")
    return dict(shown)


class Announcer:
    """Publishes one change to a user group, timing every step (`steps`: callback id -> seconds)."""

    def __init__(
        self,
        slack: SignedSlack,
        probe: Probe,
        *,
        user: str,
        usergroup: str,
        views: Callable[[], Awaitable[list[str]]],
    ) -> None:
        self.slack = slack
        self.probe = probe
        self.user = user
        self.usergroup = usergroup
        self.views = views
        self.steps: dict[str, float] = {}

    async def _submit(
        self, view_id: str, callback_id: str, meta: dict[str, Any], values: dict[str, Any], expected: str
    ) -> dict[str, Any] | None:
        view = {"id": view_id, "callback_id": callback_id, "private_metadata": json.dumps(meta)}
        reply = await self.slack.submit(self.user, view, values)
        self.steps[callback_id] = reply.seconds
        print(f"  modal step {callback_id}: {reply.seconds * 1000:,.0f} ms", file=sys.stderr)
        return _view(reply, expected)

    async def _until(self, sql: str, what: str) -> Any:
        """The first non-empty value of `sql`, polled until DRAFT_WAIT passes."""
        deadline = time.monotonic() + DRAFT_WAIT
        while not (value := await self.probe.scalar(sql)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not show in the database")
            await asyncio.sleep(0.2)
        return value

    async def _opened_view(self) -> str:
        """The id of the modal Realign opens (after acking the command); Realign keys the draft by it."""
        for _ in range(int(VIEW_WAIT / VIEW_POLL)):
            if views := await self.views():
                return views[-1]
            await asyncio.sleep(VIEW_POLL)
        raise TimeoutError(f"Realign opened no modal within {VIEW_WAIT:.0f} s of /announce-change")

    async def publish(self) -> tuple[str, float]:
        """Walk the modal to the end; returns the change key and the publish step's round trip (s)."""
        opened = await self.slack.command(self.user, "/announce-change", "Benchmark")
        if opened.status != 200:
            raise RuntimeError(f"/announce-change answered {opened.status}: {opened.body[:300]}")
        view_id = await self._opened_view()
        basics = basics_values(date.today())
        shown = await self._submit(view_id, "realign.basics", {}, basics, "realign.group")
        if shown is not None:
            key = str(json.loads(shown["private_metadata"])["key"])
        else:
            change_id = await self._until(f"SELECT id FROM change WHERE draft_ref = '{view_id}'", "the draft")
            key = f"CHG-{change_id}"
        group = group_values(self.usergroup)
        meta = {"key": key, "position": 0}
        if await self._submit(view_id, "realign.group", meta, group, "realign.review") is None:
            await self._until("SELECT count(*) FROM audience_group", "the audience group")
        await self._submit(view_id, "realign.review", {"key": key}, {}, "")  # "published" has no callback
        return key, self.steps["realign.review"]

    def late_steps(self) -> list[str]:
        """Notes for the steps Slack would have given up on."""
        return [
            f"modal step {name.removeprefix('realign.')} took {seconds:.1f} s (Slack allows 3 s)"
            for name, seconds in self.steps.items()
            if seconds >= SLACK_ACK_TIMEOUT
        ]
