"""Durations as operators write them in settings: `90s`, `15m`, `24h`, `2d`, `1h30m`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.durations import format_duration, parse_duration
from bot.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 1H 30M ", timedelta(hours=1, minutes=30)),
    ],
)
def test_reads_a_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "soon", "10", "5x", "m5", "1.5h", "0s", "0h0m", "-5m"])
def test_rejects_what_is_not_a_positive_duration_and_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_duration(text)
    assert f"'{text}'" in str(refused.value)


def test_a_non_duration_is_explained_with_examples() -> None:
    with pytest.raises(ConfigError, match="write it like 90s, 15m, 24h or 2d"):
        parse_duration("soon")


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        (timedelta(seconds=90), "90s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=24), "1d"),
        (timedelta(days=2), "2d"),
        (timedelta(hours=1, minutes=30), "90m"),
        (timedelta(hours=36), "36h"),
        (timedelta(seconds=1), "1s"),
    ],
)
def test_formats_in_the_largest_exact_unit_and_reads_back_the_same(value: timedelta, spelled: str) -> None:
    assert format_duration(value) == spelled
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["90s", "15m", "24h", "2d", "1h30m", "1d1s"])
def test_what_is_read_formats_back_to_the_same_length_of_time(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
