"""`realign serve` with REALIGN_LOG_FORMAT=json against the Slack fake: every line it writes is one JSON
object, a delivery's trouble names the change, delivery and workspace, and no line holds a secret or
a message body."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import cast
from uuid import uuid4

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Realign
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.test_first_start import ROOT, free_port
from tests.e2e.test_slack_flow import announce, basics, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET


async def wait_until_up(http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(100):
        if process.returncode is not None:
            return  # it stopped: its output says why
        try:
            async with http.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = await process.communicate()
    raise AssertionError(f"realign serve did not come up: {stderr.decode()}")


async def settled(http: aiohttp.ClientSession, url: str, **states: int) -> None:
    """Wait until the process's own /metrics count at least these settled announcements by outcome."""
    seen: dict[str, float] = {}
    for _ in range(100):
        async with http.get(f"{url}/metrics") as response:
            families = text_string_to_metric_families(await response.text())
        seen = {
            sample.labels["state"]: sample.value
            for family in families
            for sample in family.samples
            if sample.name == "realign_deliveries_total"
        }
        if all(seen.get(state, 0) >= count for state, count in states.items()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"settled so far: {seen}")


async def test_serve_writes_json_lines_with_the_delivery_in_hand_and_no_secret(tmp_path: Path) -> None:
    token = f"xoxb-{uuid4().hex}"
    async with FakeSlack(token=token) as slack:
        written, returncode = await serve(tmp_path, slack, token)

    assert returncode == 0, written
    lines = [json.loads(line) for line in written.splitlines()]  # every line is one JSON object
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any("listening" in line["message"] for line in lines)
    (refused,) = [line for line in lines if "invalid_auth" in line["message"]]
    assert refused["level"] == "ERROR" and refused["change"] == "CHG-1"
    assert refused["workspace"] == "slack:T001" and isinstance(refused["delivery"], int)
    for secret in (token, SECRET):
        assert secret not in written
    for body in (basics()["what"]["value"], "Answer pages at weekends too."):
        assert body not in written


async def serve(tmp_path: Path, slack: FakeSlack, token: str) -> tuple[str, int | None]:
    """Run `realign serve` through one announcement to six people; its standard error and exit code."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "REALIGN_LOG_FORMAT": "json",
    }
    seed(slack)
    # Slack refuses U1's DM with an error an operator must fix: the engine says so, naming the delivery.
    slack.error(
        "chat.postMessage", "invalid_auth", when=lambda params: params.get("channel") == "U1", times=1
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realign.cli", "serve", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until_up(http, url, process)
            driver = SlackDriver(base_url=url, slack=slack, http=http)
            await announce(cast(Realign, Driven(driver)))
            await settled(http, url, delivered=5, retry=1)  # U1's refusal was logged before it settled
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)

    return stderr.decode(), process.returncode


class Driven:
    """Just what `announce` uses of a Realign: its Slack driver (here Realign runs in a subprocess)."""

    def __init__(self, slack: SlackDriver) -> None:
        self.slack = slack
