"""REALIGN_DIGEST_CRON: a standard five-field crontab, read in UTC, and the moments it names.

APScheduler's CronTrigger does the calendar arithmetic. Where it reads a crontab differently from cron
itself, the expression is adjusted or refused here, so it means what an operator expects:

- APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0 (and 7): the day-of-week field
  is rewritten into day names before APScheduler sees it (`1-5` is Monday to Friday, as in cron).
- Cron fires when *either* a restricted day of the month or a restricted day of the week matches;
  APScheduler would need both. An expression that restricts both is refused rather than read otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's numbering: Sunday is 0 (and 7)
FIRST_WINDOW = timedelta(hours=1)  # how far back the search for the latest moment starts ...
SEARCH = timedelta(days=9 * 366)  # ... and how far back it gives up (29 February: up to 8 years apart)
SECOND = timedelta(seconds=1)


def _weekday(token: str, field: str) -> int:
    """One crontab weekday, `0`-`7` or `sun`-`sat`, as 0-7 (7 is Sunday again)."""
    name = token.strip().lower()
    if name.isdigit() and int(name) <= 7:
        return int(name)
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    raise ValueError(f"'{field}' is not a day of the week field (0-7 or sun-sat, ranges, lists, steps)")


def weekdays(field: str) -> str:
    """A crontab day-of-week field (`mon`, `1-5`, `0,6`, `*/2`, `sat-sun`...) as APScheduler's list of day
    names (`*` stays `*`)."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, slash, every = part.partition("/")
        if slash and not (every.isdigit() and int(every) > 0):
            raise ValueError(f"'{field}' has a step that is not a positive number")
        if base == "*":
            start, end = 0, 6
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _weekday(first, field), _weekday(last, field)
        else:
            start = _weekday(base, field)
            end = 6 if slash else start  # `1/2`: from Monday, every other day
        if start > end:
            raise ValueError(
                f"'{field}' has a range that runs backwards; list the days instead (fri,sat,sun)"
            )
        days.update(day % 7 for day in range(start, end + 1, int(every) if slash else 1))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def trigger(expression: str) -> CronTrigger:
    """The CronTrigger of a five-field crontab (minute hour day-of-month month day-of-week), in UTC;
    ValueError saying what is wrong with it."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"'{expression}' is not a five-field crontab (minute hour day-of-month month day-of-week), "
            "e.g. 0 9 * * mon"
        )
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        raise ValueError(
            f"'{expression}' restricts both the day of the month and the day of the week; restrict one"
        )
    try:
        cron = CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=weekdays(day_of_week), timezone=UTC
        )
    except ValueError as error:
        raise ValueError(f"'{expression}' is not a crontab schedule: {error}") from None
    if cron.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise ValueError(f"'{expression}' names no moment that ever comes")
    return cron


class CronSchedule:
    """The moments a crontab names, in UTC (implements `bot.digest.Slots`)."""

    def __init__(self, expression: str) -> None:
        self.expression = " ".join(expression.split())
        self._trigger = trigger(expression)

    def _next(self, at: datetime) -> datetime | None:
        """The first moment at or after `at` (to the second)."""
        moment = self._trigger.get_next_fire_time(None, at)
        return None if moment is None else moment.astimezone(UTC)

    def _fires_by(self, start: datetime, at: datetime) -> bool:
        moment = self._next(start)
        return moment is not None and moment <= at

    def latest(self, at: datetime) -> datetime | None:
        """The last moment at or before `at`; None when there is none in the SEARCH before it.

        APScheduler only looks forward, so this looks back for a start whose next moment is not after
        `at` (doubling the distance from FIRST_WINDOW), then bisects to the latest such start: its next
        moment is the answer. About 30 steps, whatever the schedule."""
        window = FIRST_WINDOW
        while not self._fires_by(at - window, at):
            window *= 2
            if window > SEARCH:
                return None
        low, high = at - window, at  # the moment after `low` is at or before `at`
        if self._fires_by(high, at):
            return self._next(high)
        while high - low > SECOND:  # ... the one after `high` is not
            middle = low + (high - low) / 2
            if self._fires_by(middle, at):
                low = middle
            else:
                high = middle
        return self._next(low)

    def before(self, moment: datetime) -> datetime | None:
        """The last moment strictly before `moment`."""
        return self.latest(moment - timedelta(microseconds=1))
