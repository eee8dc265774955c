"""Durations as operators write them: `90s`, `15m`, `24h`, `2d` (and combinations like `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.errors import ConfigError

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"([0-9]+)([smhd])")
_DIGITS = 12  # per number: more than any sane duration, few enough that int() never refuses it
CEILING = timedelta(days=3650)  # no duration is longer: added to any date in use, it stays a date

# The ranges settings and the announce modal both accept (the modal is pre-filled from the settings).
FOLLOW_UP_MIN, FOLLOW_UP_MAX = timedelta(seconds=5), timedelta(days=90)  # remind / escalate after
SWEEP_MIN, SWEEP_MAX = timedelta(seconds=1), timedelta(hours=1)  # how often tick jobs run
LEASE_MAX = timedelta(hours=1)  # how long a worker may hold claimed deliveries


def _seconds(text: str) -> int:
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigError(f"'{text}' is not a duration; write it like 90s, 15m, 24h or 2d")
    if any(len(number.lstrip("0")) > _DIGITS for number, _ in parts):
        raise ConfigError(f"'{text}' is far too long for a duration")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def parse_duration(
    text: str, *, minimum: timedelta | None = None, maximum: timedelta | None = None
) -> timedelta:
    """Parse `90s`, `15m`, `24h`, `2d` or `1h30m`, optionally within [minimum, maximum].

    Raise ConfigError, and nothing else, on anything that is not a positive duration in range."""
    seconds = _seconds(text)
    if seconds <= 0:
        raise ConfigError(f"'{text}' must be longer than zero")
    if seconds > CEILING.total_seconds():
        raise ConfigError(f"'{text}' is far too long for a duration (at most {format_duration(CEILING)})")
    value = timedelta(seconds=seconds)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"'{text}' is out of range: {span(minimum, maximum)}")
    return value


def span(minimum: timedelta | None, maximum: timedelta | None) -> str:
    """`from 5s to 90d`, `at least 5s` or `at most 1h`: a range the way messages state it."""
    if minimum is not None and maximum is not None:
        return f"from {format_duration(minimum)} to {format_duration(maximum)}"
    if minimum is not None:
        return f"at least {format_duration(minimum)}"
    return f"at most {format_duration(maximum or CEILING)}"


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling of a duration in the same units `parse_duration` reads."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
