"""Logging set-up: readable lines for a terminal (`text`), or one JSON object a line for a log pipeline
(`json`), as REALIGN_LOG_FORMAT says.

python-json-logger rather than structlog: it is a `logging.Formatter`, so the standard `logging` calls
Realign makes, and those of the libraries under it (aiohttp, slack_bolt, APScheduler, Alembic), come
out as the same JSON with no change at any call site and `extra=` fields as keys. structlog would have
us move every call to its own API, or route the standard library through its ProcessorFormatter, to
print the same lines. python-json-logger is small, pure Python, typed, and maintained.

A JSON line holds `time` (ISO 8601, UTC), `level`, `logger`, `message`, and where they apply the
fields the engine bound for the work in hand (`change`, `delivery`, `workspace`: bot.context) or a call
passed with `extra=`. No secret reaches a line in either format: every secret setting and the password
in DATABASE_URL are masked in the finished line, whatever wrote it (an exception's text, a library).
Realign logs no message bodies at info level.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from bot.context import bound
from realign.settings import Settings
from store.db import redact

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "{asctime}{levelname}{name}{message}"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
MASK = "***"
SHORTEST_SECRET = 4  # masking a shorter value would garble every line it happens to occur in


class WorkInHand(logging.Filter):
    """Adds the fields bound in the current task (bot.context) to each record, unless it has its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in bound().items():
            record.__dict__.setdefault(name, value)
        return True


class IsoJson(JsonFormatter):
    """JSON lines whose `time` is ISO 8601 in UTC, to the millisecond."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class Masked(logging.Formatter):
    """Formats with `inner`, then masks each secret (as written, and as JSON escapes it) in the line."""

    def __init__(self, inner: logging.Formatter, *, secrets: Iterable[str], database_url: str) -> None:
        super().__init__()
        self._inner = inner
        forms = {form for secret in secrets for form in (secret, json.dumps(secret)[1:-1])}
        self._secrets = sorted(forms, key=len, reverse=True)
        self._database_url = database_url

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            line = line.replace(secret, MASK)
        return redact(line, url=self._database_url)


def secrets(settings: Settings) -> list[str]:
    """The values of every secret setting that is set (tokens, signing and client secrets, passwords)."""
    values = (getattr(settings, name) for name in type(settings).model_fields)
    found = (value.get_secret_value().strip() for value in values if isinstance(value, SecretStr))
    return [secret for secret in found if len(secret) >= SHORTEST_SECRET]


def formatter(settings: Settings) -> logging.Formatter:
    inner: logging.Formatter = logging.Formatter(TEXT)
    if settings.log_format == "json":
        inner = IsoJson(JSON_FIELDS, style="{", rename_fields=JSON_NAMES)
    return Masked(inner, secrets=secrets(settings), database_url=settings.database_url)


def configure(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Log INFO and above to standard error in the configured format (once per process: like
    `logging.basicConfig`, it leaves a root logger that already has handlers alone)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    handler.addFilter(WorkInHand())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
