"""The follow-up policy: working hours across time zones, reminder counts, escalation grouping, deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.followup import deadline_moment, next_reminder, next_working_moment, within
from bot.model import Policy

NINE_TO_FIVE = (time(9), time(17))
NIGHTS = (time(22), time(6))  # a night shift: the window crosses midnight


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_inside_working_hours_a_reminder_goes_now() -> None:
    assert next_working_moment(at(10), tz="Europe/London", hours=NINE_TO_FIVE) == at(10)


def test_a_recipient_whose_day_has_not_started_waits_for_nine_their_time() -> None:
    # 10:00 UTC is 05:00 in New York (EST, UTC-5): wait until 09:00 there, 14:00 UTC.
    assert next_working_moment(at(10), tz="America/New_York", hours=NINE_TO_FIVE) == at(14)


def test_a_recipient_whose_day_has_ended_waits_for_tomorrow() -> None:
    # 10:00 UTC is 23:00 in Auckland (NZDT, UTC+13): next 09:00 there is 20:00 UTC the same day.
    assert next_working_moment(at(10), tz="Pacific/Auckland", hours=NINE_TO_FIVE) == at(20)


def test_a_window_across_midnight() -> None:
    assert within(time(23, 30), NIGHTS) and within(time(5, 59), NIGHTS)
    assert not within(time(6), NIGHTS) and not within(time(12), NIGHTS)
    assert next_working_moment(at(3), tz="UTC", hours=NIGHTS) == at(3)
    assert next_working_moment(at(12), tz="UTC", hours=NIGHTS) == at(22)


def test_always_means_now_and_an_unknown_zone_means_utc() -> None:
    assert next_working_moment(at(3), tz="Europe/London", hours=None) == at(3)
    assert next_working_moment(at(3), tz="Not/AZone", hours=NINE_TO_FIVE) == at(9)


def test_reminders_stop_at_the_policys_count() -> None:
    policy = Policy(remind_after=timedelta(hours=24), max_reminders=2)
    assert next_reminder(at(10), reminders_sent=1, policy=policy) == at(10, day=2)
    assert next_reminder(at(10), reminders_sent=2, policy=policy) is None
    assert next_reminder(at(10), reminders_sent=0, policy=Policy(max_reminders=0)) is None


def test_the_deadline_is_the_end_of_the_announcers_working_day() -> None:
    assert deadline_moment(date(2026, 12, 21), tz="Europe/Berlin", hours=NINE_TO_FIVE) == at(16, day=21)
    assert deadline_moment(date(2026, 12, 21), tz=None, hours=None) == at(17, day=21)


WEEKDAYS = frozenset(range(5))


def test_a_reminder_due_on_saturday_waits_for_monday_nine_local_time() -> None:
    # Saturday 5 December 2026, 10:00 UTC: Monday 09:00 in London is 09:00 UTC on the 7th.
    saturday = at(10, day=5)
    assert next_working_moment(saturday, tz="Europe/London", hours=NINE_TO_FIVE, days=WEEKDAYS) == at(
        9, day=7
    )
    # With every day a working day it goes now.
    assert next_working_moment(saturday, tz="Europe/London", hours=NINE_TO_FIVE) == saturday


def test_friday_evening_waits_over_the_weekend_and_always_hours_still_skip_weekends() -> None:
    friday_evening = at(18, day=4)  # 18:00 UTC Friday
    assert next_working_moment(friday_evening, tz="UTC", hours=NINE_TO_FIVE, days=WEEKDAYS) == at(9, day=7)
    # "always" means any hour of a working day: Saturday waits for Monday's midnight, local time.
    assert next_working_moment(at(12, day=5), tz="UTC", hours=None, days=WEEKDAYS) == at(0, day=7)


def test_the_weekend_is_the_recipients_own_across_a_time_zone_boundary() -> None:
    # Friday 4 Dec 23:30 UTC is already Saturday 10:30 in Auckland (UTC+13): wait for their Monday 09:00,
    # which is Sunday 20:00 UTC. In New York it is still Friday 18:30, after hours: Monday 09:00 EST.
    late_friday = at(23, 30, day=4)
    assert next_working_moment(late_friday, tz="Pacific/Auckland", hours=NINE_TO_FIVE, days=WEEKDAYS) == at(
        20, day=6
    )
    assert next_working_moment(late_friday, tz="America/New_York", hours=NINE_TO_FIVE, days=WEEKDAYS) == at(
        14, day=7
    )
    # Sunday-to-Thursday working week (e.g. Israel): Sunday 10:00 in Jerusalem (UTC+2) goes at once.
    sun_thu = frozenset({6, 0, 1, 2, 3})
    assert next_working_moment(at(8, day=6), tz="Asia/Jerusalem", hours=NINE_TO_FIVE, days=sun_thu) == at(
        8, day=6
    )


def test_a_night_shift_belongs_to_the_day_it_starts() -> None:
    # Friday 22:00 - Saturday 06:00 is Friday's shift: Saturday 03:00 is working time; Saturday 22:00 is not.
    assert next_working_moment(at(3, day=5), tz="UTC", hours=NIGHTS, days=WEEKDAYS) == at(3, day=5)
    assert next_working_moment(at(23, day=5), tz="UTC", hours=NIGHTS, days=WEEKDAYS) == at(22, day=7)


def test_no_working_day_at_all_never_holds_a_message_back() -> None:
    assert next_working_moment(at(3), tz="UTC", hours=NINE_TO_FIVE, days=frozenset()) == at(3)
