"""Child processes: the Slack fake and the Realign processes, with their logs, memory and CPU figures."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Proc:
    """One child process and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def peak_rss_mb(self) -> float | None:
        """VmHWM (peak resident set) in MB, or None once the process is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(name: str, argv: list[str], *, env: dict[str, str], logs: Path, stdout_pipe: bool = False) -> Proc:
    """Start `argv` in the repository root; stderr (and stdout unless piped) go to `logs/name.log`."""
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else sink,
            stderr=sink,
        )
    return Proc(name, popen, log)


async def start_fake(
    *, latency: float, limit: float | None, logs: Path, within: float = 20
) -> tuple[Proc, str]:
    """Start the Slack fake (`python -m tests.fakes.slack_api`) and return it with its base URL
    (`http://127.0.0.1:P/api/`); with `limit`, chat.postMessage is limited to that many a second."""
    argv = [str(PYTHON), "-m", "tests.fakes.slack_api", "--port", "0", "--latency", str(latency)]
    if limit:
        argv += ["--rate-limit", f"chat.postMessage={limit:g}"]
    proc = spawn("fake", argv, env=dict(os.environ), logs=logs, stdout_pipe=True)
    assert proc.popen.stdout is not None
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.popen.stdout.readline), within)
        url = line.decode().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the Slack fake did not start: {proc.log_text()[-2000:]}")
    except BaseException:
        await stop([proc])
        raise
    return proc, url


def start_realign(command: str, name: str, *, env: dict[str, str], logs: Path) -> Proc:
    """Start `realign serve` or `realign worker` with the given environment."""
    return spawn(name, [str(PYTHON.parent / "realign"), command], env=env, logs=logs)


async def wait_healthy(url: str, procs: list[Proc], *, within: float = 60) -> None:
    """Wait for GET `url` to answer 200 (fail early if a process died)."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            _check_alive(procs)
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {within:.0f}s")


async def wait_logged(procs: list[Proc], text: str, *, within: float) -> None:
    """Wait until every process's log contains `text` (fail early if one died)."""
    deadline = time.monotonic() + within
    while not all(text in proc.log_text() for proc in procs):
        _check_alive(procs)
        if time.monotonic() > deadline:
            raise TimeoutError(f"'{text}' not logged by every process after {within:.0f}s")
        await asyncio.sleep(0.5)


async def _exited(proc: Proc, within: float) -> bool:
    """Wait up to `within` seconds for the process to exit; True if it did."""
    try:
        await asyncio.to_thread(proc.popen.wait, within)
    except subprocess.TimeoutExpired:
        return False
    return True


def _check_alive(procs: list[Proc]) -> None:
    for proc in procs:
        if not proc.alive():
            tail = proc.log_text()[-3000:]
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{tail}")


async def stop(procs: list[Proc]) -> None:
    """SIGTERM every process, SIGKILL what is still running after STOP_GRACE seconds."""
    for proc in procs:
        if proc.alive():
            proc.popen.send_signal(signal.SIGTERM)
    await asyncio.gather(*(_exited(proc, STOP_GRACE) for proc in procs))
    for proc in procs:
        if proc.alive():
            print(f"bench: {proc.name} (pid {proc.pid}) ignored SIGTERM; killing it", file=sys.stderr)
            proc.popen.kill()
        proc.popen.wait()
        if proc.popen.stdout is not None:
            proc.popen.stdout.close()
