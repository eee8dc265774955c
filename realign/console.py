"""`realign console [--demo]`: the whole flow in a terminal, over the same core, store and engine.

`build` constructs everything in one place (to move onto the shared wiring later). The database is
`DATABASE_URL` when set, else `realign-console.db` here; `--demo` always uses a fresh temporary SQLite
database. The bundled sample organisation is loaded into workspace `console:demo` on first start.
Working hours and days are "always" unless REALIGN_WORKING_HOURS / REALIGN_WORKING_DAYS are set, so
`/advance` shows reminders without waiting for 09:00 on a weekday.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console

from adapters.console import demo, organisation
from adapters.console.clock import ConsoleClock
from adapters.console.directory import ConsoleDirectory
from adapters.console.lines import Lines, Piped, Scripted, Terminal
from adapters.console.messenger import ConsoleMessenger
from adapters.console.repl import ConsoleServices, Later, Session
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.announce import Announcing
from bot.capacity import CapacityChecking
from bot.delivery import Dispatcher, EngineTuning
from bot.followup import EVERY_DAY, FollowUp
from bot.model import Policy
from bot.notices import NoticeDispatcher, WorkingTime
from bot.questions import Questioning
from bot.rate import RateLimiter
from bot.schedule import ScheduledPublishing
from bot.status import Closing, Reporting
from bot.words import Restating
from realign.settings import Settings
from store.amend import SqlAmendments
from store.capacity import SqlCapacity
from store.changes import SqlChangeStore
from store.db import Database
from store.deliveries import SqlDeliveryQueue
from store.followup import SqlFollowUp
from store.migrate import upgrade
from store.orgchart import Entry
from store.people import SqlPeople
from store.questions import SqlQuestions
from store.schedule import SqlSchedule
from store.words import SqlOwnWords

WORKSPACE = "console:demo"
LOCAL_DATABASE = "sqlite:///realign-console.db"
RATE = 10_000.0  # messages per second: nothing to protect in a terminal
WIDTH = 100  # columns of the transcript when the output is not a terminal
TUNING = EngineTuning(lanes=1)  # one sender is plenty, and every lane's claim is a write


@dataclass
class ConsoleEngine:
    """What the tick jobs do beside `realign serve`, run once: announcements, then follow-up planning,
    then the follow-up messages it queued."""

    deliveries: Dispatcher
    follow_up: FollowUp
    notices: NoticeDispatcher
    publishing: ScheduledPublishing | None = None  # set once the use cases are built

    async def run(self) -> None:
        if self.publishing is not None:  # scheduled changes whose moment has come
            await self.publishing.tick()
        await self.deliveries.drain()
        await self.follow_up.tick()
        await self.notices.drain()


def working_time(settings: Settings) -> WorkingTime:
    """The settings' working hours and days if the operator set them, else any time."""
    chosen = settings.model_fields_set
    hours = settings.working_hours if "working_hours" in chosen else None
    return WorkingTime(hours=hours, days=settings.working_days if "working_days" in chosen else EVERY_DAY)


async def load_sample(people: SqlPeople, *, at: datetime) -> None:
    """The sample organisation into the console's workspace, once (a restart keeps what is there)."""
    if await people.workspace(WORKSPACE) is not None:
        return
    await people.ensure_workspace(key=WORKSPACE, platform="console", name="Northwind (sample)", at=at)
    members = organisation.sample()
    await people.upsert_synced(WORKSPACE, [member.person for member in members], at=at)
    entries = [
        Entry(m.person.user_id, department=m.person.department, title=m.title, manager_id=m.person.manager_id)
        for m in members
    ]
    await people.apply_org_chart(WORKSPACE, entries, at=at)


def build_engine(
    *,
    queue: SqlDeliveryQueue,
    follow_up: SqlFollowUp,
    changes: SqlChangeStore,
    messenger: ConsoleMessenger,
    clock: ConsoleClock,
    working: WorkingTime,
) -> ConsoleEngine:
    """The tick jobs' work as one call: announcements, follow-up planning, follow-up messages."""
    messengers, limiters = {WORKSPACE: messenger}, {WORKSPACE: RateLimiter(RATE, burst=RATE)}
    deliveries = Dispatcher(
        queue=queue, changes=changes, messengers=messengers, limiters=limiters, clock=clock, tuning=TUNING
    )
    notices = NoticeDispatcher(
        store=follow_up,
        changes=changes,
        messengers=messengers,
        limiters=limiters,
        clock=clock,
        working=working,
        tuning=TUNING,
    )
    return ConsoleEngine(deliveries, FollowUp(store=follow_up, clock=clock), notices)


async def build(
    settings: Settings, *, database_url: str, clock: ConsoleClock, out: Console
) -> tuple[Session, Database]:
    """Migrate and open the database, load the sample, and wire the console over the core and engine."""
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    people, changes = SqlPeople(db), SqlChangeStore(db)
    queue, follow_up_store = SqlDeliveryQueue(db, changes), SqlFollowUp(db, changes)
    await load_sample(people, at=clock.now())
    directory = ConsoleDirectory(workspace=WORKSPACE, people=people)
    await directory.refresh()
    messenger, later, working = ConsoleMessenger(clock=clock), Later(), working_time(settings)
    engine = build_engine(
        queue=queue,
        follow_up=follow_up_store,
        changes=changes,
        messenger=messenger,
        clock=clock,
        working=working,
    )
    questions, words, capacity = SqlQuestions(db), SqlOwnWords(db), SqlCapacity(db)
    reporting = Reporting(
        workspace=WORKSPACE, changes=changes, questions=questions, words=words, capacity=capacity
    )
    acknowledging = Acknowledging(
        workspace=WORKSPACE, queue=queue, messenger=messenger, clock=clock, later=later
    )
    announcing = Announcing(
        workspace=WORKSPACE,
        changes=changes,
        directory=directory,
        clock=clock,
        policy=Policy(settings.remind_after, Policy().max_reminders, settings.escalate_after),
        hours=working.hours,
        max_audience=settings.max_audience,
        schedule=SqlSchedule(db),
    )

    async def announcing_of(workspace: str) -> Announcing | None:
        return announcing if workspace == WORKSPACE else None

    engine.publishing = ScheduledPublishing(store=SqlSchedule(db), announcing=announcing_of, clock=clock)
    services = ConsoleServices(
        workspace=WORKSPACE,
        announcing=announcing,
        reporting=reporting,
        acknowledging=acknowledging,
        restating=Restating(workspace=WORKSPACE, store=words, acknowledging=acknowledging),
        amending=Amending(announcing=announcing, store=SqlAmendments(db)),
        closing=Closing(reporting=reporting, store=follow_up_store, clock=clock),
        questioning=Questioning(
            workspace=WORKSPACE, store=questions, messenger=messenger, clock=clock, later=later
        ),
        directory=directory,
        messenger=messenger,
        engine=engine,
        clock=clock,
        later=later,
        sweep=settings.sweep_interval,
        capacity=CapacityChecking(workspace=WORKSPACE, store=capacity, messenger=messenger, clock=clock),
    )
    return Session(services=services, out=out, me=demo.ANNOUNCER), db


async def play(
    settings: Settings,
    *,
    database_url: str,
    clock: ConsoleClock,
    out: Console,
    lines: Callable[[Session], Lines],
) -> int:
    session, db = await build(settings, database_url=database_url, clock=clock, out=out)
    try:
        session.banner()
        await session.run(lines(session))
    finally:
        await db.close()
    return 0


async def main(settings: Settings, *, scripted: bool) -> int:
    """`realign console`: a terminal, or lines piped in; with `scripted`, the demo walk-through."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    out = Console(highlight=False, width=None if sys.stdout.isatty() else WIDTH)
    if scripted:
        with tempfile.TemporaryDirectory(prefix="realign-demo-") as folder:
            url = f"sqlite:///{Path(folder) / 'demo.db'}"
            script = lambda _: Scripted(demo.SCRIPT, out=out)  # noqa: E731
            return await play(
                settings, database_url=url, clock=ConsoleClock(demo.START), out=out, lines=script
            )
    url = settings.database_url if "database_url" in settings.model_fields_set else LOCAL_DATABASE

    def typed(session: Session) -> Lines:
        return Terminal(out=out, words=session.words) if sys.stdin.isatty() else Piped(sys.stdin, out=out)

    return await play(settings, database_url=url, clock=ConsoleClock(), out=out, lines=typed)
