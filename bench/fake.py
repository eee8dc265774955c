"""The standalone Slack fake, plus the two control-API extras the benchmark needs.

`tests/fakes/slack_api.py` can add users in bulk over HTTP but not a user group, and it does not say
which modal Realign opened. Until it does, this module serves the same `FakeSlack` with:

- `POST /_fake/config {"usergroup": {"id": "S0BENCH", "handle": "everyone", "prefix": "U",
  "start": 0, "count": N}}`: a user group holding `U00000000` ... (the ids `/_fake/users` creates);
- `GET /_fake/stats` also returns `"views"`: the ids of the views opened so far, oldest first.

Run: `python -m bench.fake --port 0 [--latency S] [--rate-limit METHOD=PER_SECOND]` (first stdout
line: the base URL), exactly like `python -m tests.fakes.slack_api`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from aiohttp import web

from tests.fakes.slack_api import FakeSlack, _parse_args


class BenchFake(FakeSlack):
    """`FakeSlack` whose control API can also create a large user group and list opened views."""

    async def _configure(self, request: web.Request) -> web.Response:
        body = await request.json()  # aiohttp caches the body, so the parent can read it again
        if group := body.get("usergroup"):
            prefix, start, count = group.get("prefix", "U"), int(group.get("start", 0)), int(group["count"])
            members = [f"{prefix}{n:08d}" for n in range(start, start + count)]
            self.add_usergroup(group["id"], group["handle"], members)
        return await super()._configure(request)

    def stats(self) -> dict[str, Any]:
        """The parent's stats plus the ids of opened views."""
        return {**super().stats(), "views": list(self.views)}


async def _serve(args: argparse.Namespace) -> None:
    """Serve until SIGTERM/SIGINT; print the base URL first."""
    fake = BenchFake(token=args.token, record_calls=False)
    fake.latency = args.latency
    for spec in args.rate_limit:
        method, _, per_second = spec.partition("=")
        fake.rate_limit(method, float(per_second))
    await fake.start(port=args.port)
    print(fake.url, flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(_serve(_parse_args()))
