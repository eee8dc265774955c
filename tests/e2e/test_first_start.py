"""A newcomer's first run: `realign serve` with nothing configured starts clean and says what to do."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_with_no_platform_answers_healthz_and_logs_no_error(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PORT": str(port), "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realign.cli", "serve", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        health = None
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = (response.status, await response.json())
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # several seconds of running: the dispatcher used to fail every second
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    log = stderr.decode()
    assert health is not None and health[0] == 200 and health[1]["database"] == "ok", log
    assert process.returncode == 0, log
    assert "Traceback" not in log and " ERROR " not in log and "WARNING" not in log, log
    hints = [line for line in log.splitlines() if "realign console" in line]
    assert len(hints) == 1 and "SLACK_BOT_TOKEN" in hints[0], log
    assert (tmp_path / "realign.db").exists()  # SQLite by default, in the working directory
