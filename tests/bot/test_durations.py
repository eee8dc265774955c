"""Durations as operators write them in settings: `90s`, `15m`, `24h`, `2d`, `1h30m`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.durations import CEILING, FOLLOW_UP_MAX, FOLLOW_UP_MIN, format_duration, parse_duration
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


# --- bounds, and nothing but ConfigError ------------------------------------------------------------


@pytest.mark.parametrize("text", ["99999999999d", "3000000d", "3651d", "9" * 5000 + "s", "1" * 13 + "s"])
def test_a_duration_too_long_to_mean_anything_is_refused_not_overflowed(text: str) -> None:
    with pytest.raises(ConfigError, match="far too long"):
        parse_duration(text)


def test_the_longest_duration_read_is_ten_years() -> None:
    assert parse_duration("3650d") == CEILING
    assert parse_duration("000000000000000000001s") == timedelta(seconds=1)  # leading zeros are not size


@pytest.mark.parametrize(
    ("text", "accepted"),
    [("4s", False), ("5s", True), ("90d", True), ("2160h", True), ("90d1s", False), ("91d", False)],
)
def test_bounds_refuse_just_outside_and_accept_just_inside(text: str, accepted: bool) -> None:
    if accepted:
        assert parse_duration(text, minimum=FOLLOW_UP_MIN, maximum=FOLLOW_UP_MAX) == parse_duration(text)
        return
    with pytest.raises(ConfigError) as refused:
        parse_duration(text, minimum=FOLLOW_UP_MIN, maximum=FOLLOW_UP_MAX)
    assert str(refused.value) == f"'{text}' is out of range: from 5s to 90d"


def test_only_one_bound_may_be_given() -> None:
    assert parse_duration("2h", maximum=timedelta(hours=2)) == timedelta(hours=2)
    with pytest.raises(ConfigError, match="at most 1h"):
        parse_duration("61m", maximum=timedelta(hours=1))
    with pytest.raises(ConfigError, match="at least 5s"):
        parse_duration("4s", minimum=timedelta(seconds=5))


@pytest.mark.parametrize("text", ["5\u00b2s", "\u0663s", "\uff15m", "1\u0000s", "\ud800"])
def test_digits_that_are_not_ascii_are_not_a_duration(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a duration"):
        parse_duration(text)


DURATION_ALPHABET = st.sampled_from("0123456789smhdSMHD -+.²٣５\x00\u0130\ud800")


@given(st.text(DURATION_ALPHABET, max_size=40) | st.text(max_size=60))
def test_nothing_but_config_error_ever_comes_out(text: str) -> None:
    try:
        value = parse_duration(text, minimum=FOLLOW_UP_MIN, maximum=FOLLOW_UP_MAX)
    except ConfigError:
        return
    assert FOLLOW_UP_MIN <= value <= FOLLOW_UP_MAX


@given(st.integers(min_value=1, max_value=int(CEILING.total_seconds())))
def test_every_length_of_time_formats_and_reads_back_the_same(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
