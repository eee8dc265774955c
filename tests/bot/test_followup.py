"""The follow-up policy: working hours across time zones, reminder counts, escalation grouping, deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.followup import by_manager, deadline_moment, next_reminder, next_working_moment, within
from bot.model import Change, PendingPerson, Policy

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


def person(user_id: str, manager: str | None) -> PendingPerson:
    return PendingPerson(
        delivery_id=hash(user_id) % 1000, change_id=1, user_id=user_id, name=user_id, manager_id=manager
    )


def test_one_escalation_per_manager_listing_all_their_reports_and_the_unmanaged_apart() -> None:
    change = Change(
        workspace="slack:T1",
        announcer_id="UANN",
        title="t",
        what="w",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 21),
        key="CHG-1",
    )
    pending = [person("U1", "UM1"), person("U2", "UM2"), person("U3", "UM1"), person("U4", None)]
    escalations, unmanaged = by_manager(change, pending)
    assert [(e.manager_id, [p.user_id for p in e.reports]) for e in escalations] == [
        ("UM1", ["U1", "U3"]),
        ("UM2", ["U2"]),
    ]
    assert [p.user_id for p in unmanaged] == ["U4"]
