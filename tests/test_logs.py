"""Log lines: one JSON object a line with REALIGN_LOG_FORMAT=json, the fields of the delivery in hand,
and never a secret, in either format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import Dispatcher
from bot.rate import RateLimiter
from realign import logs
from realign.cli import main
from realign.settings import Settings
from tests.bot.memory import FakeMessenger, MemoryChanges, MemoryDirectory, MemoryQueue
from tests.bot.test_delivery import WORKSPACE, publish
from tests.conftest import FakeClock

TOKEN = "xoxb-1234-abcdEFGHijkl"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
DB_PASSWORD = "pg-pa55word"


def realign_settings(log_format: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        DATABASE_URL=f"postgresql://realign:{DB_PASSWORD}@db.internal:5432/realign",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING,
        REALIGN_LOG_FORMAT=log_format,
    )


@pytest.fixture
def lines() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    """A handler set up as `logs.configure` sets up the root's, writing to a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter(realign_settings("json")))
    handler.addFilter(logs.WorkInHand())
    yield buffer, handler


def logged(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def emit(handler: logging.Handler, message: str, *args: object, **extra: Any) -> None:
    log = logging.getLogger("realign.test")
    log.addHandler(handler)
    try:
        log.warning(message, *args, extra=extra)
    finally:
        log.removeHandler(handler)


def test_json_lines_carry_time_level_logger_message_and_extra_fields(
    lines: tuple[io.StringIO, logging.Handler],
) -> None:
    buffer, handler = lines
    emit(handler, "sent %d of %d", 5, 6, change="CHG-3", workspace="slack:T1")

    (line,) = logged(buffer)
    assert list(line)[:4] == ["time", "level", "logger", "message"]
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "realign.test", "sent 5 of 6")
    assert line["time"].endswith("+00:00") and (line["change"], line["workspace"]) == ("CHG-3", "slack:T1")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_reaches_a_line_whatever_wrote_it(log_format: str) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.formatter(realign_settings(log_format)))
    try:
        raise RuntimeError(f"connect to postgresql://realign:{DB_PASSWORD}@db.internal failed")
    except RuntimeError:
        log = logging.getLogger("realign.test")
        log.addHandler(handler)
        try:
            log.exception("token %s, secret %s", TOKEN, SIGNING)
        finally:
            log.removeHandler(handler)

    written = buffer.getvalue()
    assert "***" in written and "RuntimeError" in written
    for secret in (TOKEN, SIGNING, DB_PASSWORD):
        assert secret not in written, written
    if log_format == "json":
        assert len(logged(buffer)) == 1  # the traceback too is inside the one line


async def test_an_engine_error_says_which_change_delivery_and_workspace(
    lines: tuple[io.StringIO, logging.Handler], clock: FakeClock
) -> None:
    buffer, handler = lines
    changes = MemoryChanges(MemoryDirectory())
    messenger = FakeMessenger()
    engine = Dispatcher(
        queue=MemoryQueue(changes),
        changes=changes,
        messengers={WORKSPACE: messenger},
        limiters={WORKSPACE: RateLimiter(10_000)},
        clock=clock,
    )
    change = await publish(changes, clock)
    messenger.script("UBOB", ValueError("a bug"))
    engine_log = logging.getLogger("bot.delivery")
    engine_log.addHandler(handler)
    try:
        await engine.drain()
    finally:
        engine_log.removeHandler(handler)

    (line,) = logged(buffer)
    assert line["level"] == "ERROR" and "ValueError: a bug" in line["exc_info"]
    assert line["change"] == change.key and line["workspace"] == WORKSPACE
    assert line["delivery"] == changes.delivery("UBOB").id


def test_an_unknown_log_format_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REALIGN_LOG_FORMAT", "xml")

    assert main(["serve"]) == 2

    error = capsys.readouterr().err
    assert error == "realign: error: REALIGN_LOG_FORMAT: 'xml' is not one of text, json\n"
