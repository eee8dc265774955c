"""Durations as operators write them: `90s`, `15m`, `24h`, `2d` (and combinations like `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import ConfigError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PART = re.compile(r"(\d+)([smhd])")


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `15m`, `24h`, `2d` or `1h30m`; raise ConfigError on anything else."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigError(f"'{text}' is not a duration; write it like 90s, 15m, 24h or 2d")
    value = timedelta()
    for number, unit in parts:
        value += timedelta(**{_UNITS[unit]: int(number)})
    if value <= timedelta():
        raise ConfigError(f"'{text}' must be longer than zero")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration in the same units `parse_duration` reads."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
