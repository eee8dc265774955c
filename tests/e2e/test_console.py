"""`realign console` end to end: typed lines drive the real use cases, store and engine; assertions read
what each person's inbox holds and what the database holds. Then the demo, as a user would run it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import text

from adapters.console import demo
from adapters.console.clock import ConsoleClock
from adapters.console.lines import Scripted
from adapters.console.messenger import ConsoleMessenger, Message
from adapters.console.repl import Session
from bot.model import Escalation, GapReport
from realign import console as wiring
from realign.settings import Settings
from store.db import Database
from tests.conftest import count

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Terminal:
    """A console session and everything it printed."""

    session: Session
    db: Database
    output: io.StringIO

    @property
    def messenger(self) -> ConsoleMessenger:
        return self.session.services.messenger

    async def type(self, *lines: str) -> str:
        """Type the lines (commands and answers to their questions); returns what the console printed."""
        start = len(self.output.getvalue())
        out = self.session.out
        await self.session.run(Scripted(lines, out=out))
        return self.output.getvalue()[start:]

    def inbox(self, who: str) -> list[Message]:
        return self.messenger.inbox(who)

    def kinds(self, who: str) -> list[str]:
        return [message.kind.value for message in self.inbox(who)]


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Terminal]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    output = io.StringIO()
    out = Console(file=output, width=120, highlight=False)
    session, db = await wiring.build(
        Settings(DATABASE_URL=url), database_url=url, clock=ConsoleClock(demo.START), out=out
    )
    try:
        yield Terminal(session, db, output)
    finally:
        await db.close()


ANNOUNCE = (
    "/announce-change Laptop refresh",
    "Everyone's laptop is replaced by a managed one, collected from the office.",
    "Unmanaged laptops cannot get the new security updates.",
    "next week",  # unreadable: asked again at once
    "2020-01-01",  # readable but in the past: the use case refuses it
    "+7d",
    "none",
    "",  # remind after: the default (1d)
    "",  # two reminders
    "",  # escalate after: the default (2d)
    "",  # in your own words: no
    "",  # capacity check: no
    "",  # publish on: when published at review
    "+7d",  # effective date, asked again alone
    "Engineers",
    "omar hana kofi @nobody",  # someone who is not here: asked again
    "omar hana kofi",
    "Use your own laptop.",
    "Collect the managed laptop and hand the old one in.",
    "y",
    "Finance",
    "@finance",
    "",
    "Collect the managed laptop before month-end close.",
    "n",
    "y",
)


async def delivery_states(db: Database) -> dict[str, tuple[str, bool]]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(text("SELECT user_id, state, acknowledged_at FROM delivery"))
        return {user: (state, acked is not None) for user, state, acked in rows}


async def test_announce_acknowledge_remind_escalate_report(terminal: Terminal) -> None:
    said = await terminal.type(*ANNOUNCE)
    assert "Write a date like 2026-12-15" in said
    assert "✗ Effective date" in said and "This date has already passed." in said
    assert "Nobody is called @nobody" in said
    assert "• Engineers: 3 people" in said and "• Finance: 2 people" in said
    assert "CHG-1 is published: sending to 5 people now." in said
    recipients = ["omar", "hana", "kofi", "tomas", "felix"]
    assert all(terminal.kinds(who) == ["announcement"] for who in recipients)
    assert terminal.kinds("dana") == [] and terminal.kinds("lee") == []
    assert await delivery_states(terminal.db) == {who: ("delivered", False) for who in recipients}

    said = await terminal.type("/as omar", "/ack")
    assert "You are Omar Haddad" in said and "Acknowledged 2 Mar 09:00 UTC" in said
    assert (await delivery_states(terminal.db))["omar"] == ("delivered", True)
    assert terminal.inbox("omar")[0].announcement.acknowledged_at is not None  # type: ignore[union-attr]

    said = await terminal.type("/advance 1d")
    assert "Reminders of CHG-1 to 4" in said
    assert terminal.kinds("omar") == ["announcement"]  # acknowledged: no reminder
    assert all(terminal.kinds(who) == ["announcement", "reminder"] for who in ("hana", "kofi", "felix"))

    await terminal.type("/as hana")
    said = await terminal.type("/advance 1d")
    assert terminal.kinds("hana") == ["announcement", "reminder", "reminder"]
    assert "[3] reminder for Hana Sato" in said  # shown in full: it is for "you"
    escalations = {m.to: m.body for m in terminal.messenger.inbox("lee") + terminal.inbox("tomas")}
    assert terminal.kinds("lee") == ["escalation"] and terminal.kinds("tomas")[-1] == "escalation"
    to_lee, to_tomas = escalations["lee"], escalations["tomas"]
    assert isinstance(to_lee, Escalation) and [p.user_id for p in to_lee.reports] == ["hana"]
    assert isinstance(to_tomas, Escalation) and [p.user_id for p in to_tomas.reports] == ["felix"]
    unmanaged = terminal.inbox("dana")[-1].body
    assert isinstance(unmanaged, GapReport) and unmanaged.unmanaged_only
    assert [p.user_id for p in unmanaged.pending] == ["kofi"]

    said = await terminal.type("/as lee", "/change-status CHG-1")
    assert "Showing your direct reports only." in said and "Pending: Hana Sato" in said

    said = await terminal.type("/as dana", "/advance 5d8h")  # to 17:00 on the deadline
    assert "── 9 Mar 17:00 UTC ──" in said and "Gap report for CHG-1: Laptop refresh. 4 still pending" in said
    report = terminal.inbox("dana")[-1].body
    assert isinstance(report, GapReport) and not report.unmanaged_only
    assert sorted(p.user_id for p in report.pending) == ["felix", "hana", "kofi", "tomas"]

    said = await terminal.type("/change-status CHG-1")
    assert "Delivered 5 · Acknowledged 1 · Pending 4" in said
    assert await count(terminal.db, "SELECT count(*) FROM change WHERE state = 'published'") == 1


async def test_cancelling_keeps_a_draft_and_sends_nothing(terminal: Terminal) -> None:
    said = await terminal.type("/announce-change Quiet change", "Nothing much.", "", "+3d", "+4d", "/cancel")
    assert "Cancelled." in said
    assert await count(terminal.db, "SELECT count(*) FROM delivery") == 0
    said = await terminal.type("/ack", "/as nobody", "/frobnicate", "hello")
    assert "You have no announcement waiting" in said and "Nobody here has the handle nobody" in said
    assert "There is no command /frobnicate" in said and "Commands start with /" in said


async def test_piped_lines_run_the_real_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("/as lee\n/inbox\n/quit\n"))
    url = f"sqlite:///{tmp_path / 'piped.db'}"
    assert await wiring.main(Settings(DATABASE_URL=url), scripted=False) == 0
    printed = capsys.readouterr().out
    assert "lee> /inbox" in printed and "Your inbox is empty." in printed and "Bye." in printed


def test_the_demo_plays_the_whole_flow(tmp_path: Path) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "realign.cli", "console", "--demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    transcript = done.stdout
    for moment in (
        "⚠ 2 selected account(s) will not be messaged: 1 the announcer, 1 deactivated.",
        "CHG-1 is published: sending to 14 people now.",
        "[1] announcement of CHG-1: ✅ Acknowledged 2 Mar 09:00 UTC",
        "── 3 Mar 09:00 UTC ──",
        "✉ Reminders of CHG-1 to 11",
        "✉ Escalations of CHG-1 to 5",
        "have no manager on record, so no manager was told",
        "Showing your direct reports only.",
        "── 5 Mar 17:00 UTC ──",
        "Gap report for CHG-1: New weekend on-call rota for Support. 10 still pending",
        "Bye.",
    ):
        assert moment in transcript, moment
    assert list(tmp_path.iterdir()) == []  # a temporary database: nothing left behind


async def test_questions_and_concerns_in_the_console(terminal: Terminal) -> None:
    await terminal.type(*ANNOUNCE)

    said = await terminal.type("/as omar", "/ask", "Do I keep my old charger?")
    assert "Your question about CHG-1 went to Dana Whitfield." in said
    assert terminal.kinds("dana") == ["question"]
    assert (await delivery_states(terminal.db))["omar"] == ("delivered", False)  # asking is not acking
    said = await terminal.type("/as hana", "/concern CHG-1", "Finance closes the month that week.")
    assert "Your concern about CHG-1 went to Dana Whitfield." in said
    said = await terminal.type("/as kofi", "Can I collect it on Friday?")  # typed, no command
    assert "Your question about CHG-1 went to Dana Whitfield." in said

    said = await terminal.type("/as dana", "/change-status CHG-1")
    assert "Open questions and concerns (3)" in said and "Concern from Hana Sato" in said
    said = await terminal.type("/answer 1", "No, the new one comes with its own.")
    assert "Your answer went to Omar Haddad." in said
    answer = terminal.inbox("omar")[-1]
    assert answer.kind.value == "answer" and answer.thread == terminal.inbox("omar")[0].ref
    said = await terminal.type("/resolve 1")
    assert "Only concerns are marked resolved" in said
    said = await terminal.type("/resolve 2", "/change-status CHG-1")
    assert "The concern is marked resolved." in said and "Open questions and concerns (1)" in said
    said = await terminal.type("/as omar", "/answer 1", "/resolve 2")
    assert "not a question or concern" in said or "Only the announcer" in said
    assert await count(terminal.db, "SELECT count(*) FROM question") == 3


async def test_acknowledging_in_your_own_words(terminal: Terminal) -> None:
    script = list(ANNOUNCE)
    script[script.index("none") + 4] = "y"  # in your own words: yes (after the three follow-up answers)
    await terminal.type(*script)

    said = await terminal.type("/as omar", "/ack", "Hand in my old laptop and collect the new one.")
    assert "Acknowledged 2 Mar 09:00 UTC" in said
    await terminal.type("/as tomas", "/ack", "/cancel")  # no line: not acknowledged
    assert (await delivery_states(terminal.db))["tomas"] == ("delivered", False)
    await terminal.type("/as tomas", "/ack", "Collect it after month-end close.")

    said = await terminal.type("/as dana", "/change-status CHG-1")
    assert "In their own words (2)" in said
    engineers, finance = (
        said.index("Engineers\n", said.index("own words")),
        said.index("Finance\n", said.index("own words")),
    )
    assert engineers < said.index("Omar Haddad: Hand in my old laptop") < finance
    assert finance < said.index("Tomás Herrera: Collect it") and "Collect it after month-end close." in said


def scheduled_announce(*, capacity: str = "") -> list[str]:
    """ANNOUNCE, published tomorrow (3 Mar) at 10:00 where Dana is (Europe/London: UTC in March)."""
    script = list(ANNOUNCE)
    own_words = script.index("none") + 4
    script[own_words + 1 : own_words + 3] = [capacity, "tomorrow", "10:00"]
    return script


async def test_a_scheduled_change_with_a_capacity_check_in_the_console(terminal: Terminal) -> None:
    said = await terminal.type(*scheduled_announce(capacity="y"))
    assert "Publishes 3 Mar 2026 10:00 (Europe/London)" in said
    assert "CHG-1 is scheduled: it publishes 3 Mar 2026 10:00 (Europe/London)." in said
    assert terminal.kinds("omar") == [] and await count(terminal.db, "SELECT count(*) FROM delivery") == 0
    said = await terminal.type("/change-status CHG-1")
    assert "(scheduled)" in said and "Scheduled to publish 3 Mar 10:00 UTC." in said

    said = await terminal.type("/advance 1d2h")  # 10:00 tomorrow passes
    assert all(terminal.kinds(who) == ["announcement"] for who in ("omar", "hana", "kofi", "felix"))
    assert terminal.kinds("lee") == ["capacity check"] and terminal.kinds("alex") == ["capacity check"]
    assert terminal.kinds("tomas") == ["announcement", "capacity check"]  # a recipient and a manager
    assert await count(terminal.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1

    said = await terminal.type("/as lee", "/capacity 1", "maybe", "no", "Hana is away that week.")
    assert "Answer one of: yes, help, no." in said and "Your answer went to Dana Whitfield." in said
    said = await terminal.type("/as dana")
    assert "Lee Chen answered No" in said and "Hana is away that week." in said
    said = await terminal.type("/change-status CHG-1")
    assert "Capacity check: 1 of 3 managers answered · Yes 0 · Need help 0 · No 1" in said
    assert "Lee Chen: No: Hana is away that week." in said
    said = await terminal.type("/as omar", "/capacity 1")  # an announcement, not a capacity check
    assert "not a capacity check" in said


async def test_a_scheduled_change_can_be_cancelled_in_the_console(terminal: Terminal) -> None:
    await terminal.type(*scheduled_announce())

    said = await terminal.type("/as omar", "/cancel-publish CHG-1")
    assert "only the announcer" in said
    said = await terminal.type("/as dana", "/cancel-publish CHG-1", "/advance 1d2h", "/change-status CHG-1")
    assert "CHG-1 will not be published" in said and "(cancelled)" in said
    assert terminal.kinds("omar") == [] and await count(terminal.db, "SELECT count(*) FROM delivery") == 0
    said = await terminal.type("/publish CHG-1")
    assert "CHG-1 is not waiting to be published." in said


async def test_customer_facing_groups_are_told_what_to_tell_customers_in_the_console(
    terminal: Terminal,
) -> None:
    plan = "Calls may drop for ten minutes while laptops are swapped."
    said = await terminal.type(
        "/announce-change Laptop refresh",
        "Everyone's laptop is replaced by a managed one.",
        "Unmanaged laptops cannot get security updates.",
        "+7d",
        "+5d",
        "direct",
        plan,
        *[""] * 6,  # follow-up defaults, own words, capacity check, publish at review
        "Engineers",
        "omar hana",
        "",
        "Collect the managed laptop from the office.",
        "y",  # they face customers
        "y",
        "Finance",
        "@finance",
        "",
        "Collect the managed laptop before month-end close.",
        "n",
        "n",
        "y",
    )
    assert "no group is marked as facing customers" not in said
    assert "CHG-1 is published: sending to 4 people now." in said
    told = {who: terminal.inbox(who)[0].announcement for who in ("omar", "hana", "tomas", "felix")}
    assert told["omar"] and told["omar"].customer_briefing == plan
    assert told["hana"] and told["hana"].customer_briefing == plan
    assert told["tomas"] and told["tomas"].customer_briefing == ""
    assert told["felix"] and told["felix"].customer_briefing == ""


async def test_amending_asks_only_those_whose_part_changed_in_the_console(terminal: Terminal) -> None:
    await terminal.type(*ANNOUNCE, "/as omar", "/ack", "/as tomas", "/ack")
    said = await terminal.type("/amend CHG-1")
    assert "only the announcer of CHG-1 can amend it" in said

    keep = [""] * 7  # what, why, both dates, Engineers' today and from the effective date, Finance's today
    line = "Collect the managed laptop by the 20th."
    said = await terminal.type("/as dana", "/amend CHG-1", *keep, "", *keep, line)
    assert "Nothing was changed." in said  # then every field again: all kept but Finance's new line
    assert "1 people are asked to acknowledge again; 2 messages are updated" in said
    assert terminal.kinds("tomas") == ["announcement", "amendment"]  # Finance: asked again
    assert terminal.kinds("felix") == ["announcement", "amendment"]
    assert terminal.kinds("omar") == ["announcement"]  # Engineers: not disturbed
    updated = terminal.inbox("tomas")[0].announcement
    assert updated is not None and updated.acknowledged_at is None and updated.amended_at is not None
    assert "by the 20th" in str(updated.expectations)
    assert (await delivery_states(terminal.db))["omar"] == ("delivered", True)
    assert (await delivery_states(terminal.db))["tomas"] == ("delivered", False)
    assert await count(terminal.db, "SELECT count(*) FROM ack_history") == 1

    said = await terminal.type("/as tomas", "/ack 2")  # from the note in the thread
    assert (await delivery_states(terminal.db))["tomas"] == ("delivered", True)
