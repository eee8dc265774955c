"""The console's clock: it stands still until `/advance` moves it, so time passes only when you say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ConsoleClock:
    """Implements `bot.clock.Clock`; `advance` is the console's fast-forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, by: timedelta) -> datetime:
        self.current += by
        return self.current
