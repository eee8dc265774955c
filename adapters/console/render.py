"""Text for every view model the core hands out: the same information as the Block Kit renderer
(adapters/slack/render.py), as rich markup for a terminal. Buttons become the commands that do the same.

The core's sentences come from bot/copy.py, written with Slack-style emphasis (`*bold*`, `_italic_`);
`styled` turns that into rich markup before any value is filled in, and every value is escaped, so
what people type is shown as typed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from adapters.console import prompts
from adapters.console.directory import handle
from adapters.console.messenger import Kind, Message
from bot import copy
from bot.announce import Review
from bot.capacity import CapacityAnswer, CapacityReply, CapacityRequest
from bot.errors import InvalidInput
from bot.model import Announcement, ChangeState, Escalation, GapReport, PendingPerson, Person
from bot.ports import ChangeSummary
from bot.questions import Question, QuestionKind, QuestionState
from bot.status import ChangeStatus, Totals

Names = Callable[[str | None], str]  # user id -> display name
NAMES = 40
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")


def styled(template: str) -> str:
    """A copy template's `*bold*` and `_italic_` as rich markup."""
    return _ITALIC.sub(r"[italic]\1[/italic]", _BOLD.sub(r"[bold]\1[/bold]", template))


def say(template: str, **values: object) -> str:
    """A copy template, styled, with its values escaped."""
    return styled(template).format(**{name: escape(str(value)) for name, value in values.items()})


def bullets(people: Sequence[PendingPerson], *, total: int | None = None, reason: bool = False) -> str:
    """`• Name` lines for the first NAMES people; `…and N more` for the rest of `total`."""
    shown = [
        f"• {escape(p.name)}" + (f": {escape(p.reason)}" if reason and p.reason else "")
        for p in people[:NAMES]
    ]
    rest = (len(people) if total is None else total) - len(shown)
    if rest > 0:
        shown.append(say(copy.STATUS_AND_MORE, count=rest))
    return "\n".join(shown)


# --- messages ------------------------------------------------------------------------------------------


def announcement(a: Announcement, *, name: Names, number: int | None = None, preview: bool = False) -> str:
    effective = copy.day(a.effective_date)
    lines = [
        f"[bold]{say(copy.DM_HEADER, key=a.change_key, title=a.title)}[/bold]",
        say(copy.DM_WHAT, what=a.what),
    ]
    if a.amended_at is not None:
        reasked = f" {copy.DM_REASKED}" if a.reasked and a.acknowledged_at is None else ""
        amended = say(copy.DM_AMENDED, when=copy.moment(a.amended_at)) + escape(reasked)
        lines.insert(1, f"[yellow]{amended}[/yellow]")
    if a.why:
        lines.append(say(copy.DM_WHY, why=a.why))
    lines += [
        say(copy.DM_DATES, effective=effective, deadline=copy.day(a.ack_deadline)),
        styled(copy.DM_FOR_YOU),
    ]
    for item in a.expectations:
        if item.today:
            lines.append("  " + say(copy.DM_TODAY, text=item.today))
        lines.append("  " + say(copy.DM_FROM, effective=effective, text=item.from_effective))
    if a.customer_briefing:
        lines.append(say(copy.DM_CUSTOMERS, plan=a.customer_briefing))
    lines.append(f"[dim]{say(copy.DM_FROM_ANNOUNCER, announcer=name(a.announcer_id))}[/dim]")
    if a.acknowledged_at is not None:
        lines.append(say(copy.ACKNOWLEDGED, when=copy.moment(a.acknowledged_at)))
    elif not preview and number is not None:
        lines.append(f"[bold cyan]{say(prompts.ACK_HINT, number=number)}[/bold cyan]")
    if not preview and number is not None:
        lines.append(f"[cyan]{say(prompts.ASK_HINT, key=a.change_key)}[/cyan]")
    return "\n".join(lines)


def reminder(a: Announcement, *, number: int) -> str:
    text = say(copy.REMINDER, key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))
    if a.acknowledged_at is not None:
        return f"{text}\n{say(copy.ACKNOWLEDGED, when=copy.moment(a.acknowledged_at))}"
    return f"{text}\n[bold cyan]{say(prompts.ACK_HINT, number=number)}[/bold cyan]"


def amendment_note(a: Announcement, *, number: int) -> str:
    text = say(copy.AMENDMENT_NOTE, key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))
    if a.acknowledged_at is not None:
        return f"{text}\n{say(copy.ACKNOWLEDGED, when=copy.moment(a.acknowledged_at))}"
    return f"{text}\n[bold cyan]{say(prompts.ACK_HINT, number=number)}[/bold cyan]"


def escalation(e: Escalation, *, name: Names) -> str:
    change = e.change
    dates = say(
        copy.DM_DATES, effective=copy.day(change.effective_date), deadline=copy.day(change.ack_deadline)
    )
    heading = say(copy.ESCALATION, key=change.key, title=change.title, count=e.count)
    announcer = say(copy.DM_FROM_ANNOUNCER, announcer=name(change.announcer_id))
    return "\n".join(
        [
            f"[bold]{heading}[/bold]",
            bullets(e.reports, total=e.count),
            say(copy.DM_WHAT, what=change.what),
            dates,
            announcer,
        ]
    )


def gap_report(r: GapReport, *, name: Names) -> str:
    change = r.change
    if r.unmanaged_only:
        heading = say(copy.UNMANAGED, key=change.key, count=r.pending_count)
        return f"[bold]{heading}[/bold]\n{bullets(r.pending, total=r.pending_count)}"
    heading = say(
        copy.GAP_REPORT, key=change.key, title=change.title, pending=r.pending_count, failed=r.failed_count
    )
    lines = [f"[bold]{heading}[/bold]"]
    by_manager: dict[str, list[PendingPerson]] = {}
    for person in r.pending:
        manager = name(person.manager_id) if person.manager_id else copy.NO_MANAGER
        by_manager.setdefault(manager, []).append(person)
    for manager, people in sorted(by_manager.items()):
        lines += [f"[bold]{say(copy.REPORTS_OF, manager=manager)}[/bold]", bullets(people)]
    if r.pending_count > len(r.pending):
        lines.append(say(copy.STATUS_AND_MORE, count=r.pending_count - len(r.pending)))
    departments = r.departments or tuple(Counter(person.department for person in r.pending).items())
    if departments:
        counts = ", ".join(
            f"{department or copy.NO_DEPARTMENT}: {n}"
            for department, n in sorted(departments, key=lambda row: row[0] or "")
        )
        lines.append(f"[dim]{say(copy.BY_DEPARTMENT, lines=counts)}[/dim]")
    if r.failed:
        lines += [
            f"[bold]{say(copy.STATUS_FAILED_TITLE, count=r.failed_count)}[/bold]",
            bullets(r.failed, total=r.failed_count, reason=True),
        ]
    if r.questions_total:
        lines.append(f"[bold]{say(copy.GAP_QUESTIONS, count=r.questions_total)}[/bold]")
        lines += [escape(f"• {name(q.asker_id)} ({q.kind.value}): {q.text}") for q in r.questions]
    return "\n".join(lines)


def _asked(q: Question, *, name: Names) -> str:
    template = copy.QUESTION_FROM if q.kind is QuestionKind.QUESTION else copy.CONCERN_FROM
    return say(template, asker=name(q.asker_id), key=q.change_key, title=q.title)


def question(q: Question, *, name: Names, number: int) -> str:
    """The announcer's message: what was asked, its answer and resolution, and the commands to act."""
    lines = [_asked(q, name=name), f"  {escape(q.text)}"]
    if q.answer is not None and q.answered_at is not None:
        when = copy.moment(q.answered_at)
        lines.append(say(copy.QUESTION_ANSWERED, who=name(q.answered_by), when=when, answer=q.answer))
    if q.state is QuestionState.RESOLVED and q.resolved_at is not None:
        lines.append(say(copy.CONCERN_RESOLVED, when=copy.moment(q.resolved_at)))
        return "\n".join(lines)
    hint = prompts.ANSWER_HINT if q.kind is QuestionKind.QUESTION else prompts.CONCERN_HINT
    lines.append(f"[bold cyan]{say(hint, number=number)}[/bold cyan]")
    return "\n".join(lines)


def answer(q: Question, *, name: Names) -> str:
    said = say(
        copy.ANSWER_FOR_YOU, kind=q.kind.value, key=q.change_key, question=q.text, answer=q.answer or ""
    )
    return f"{said}\n[dim]{say(copy.DM_FROM_ANNOUNCER, announcer=name(q.answered_by))}[/dim]"


def questions(status: ChangeStatus, *, name: Names) -> list[str]:
    if not status.open_questions:
        return []
    lines = [f"[bold]{say(copy.QUESTIONS_TITLE, count=status.open_questions)}[/bold]"]
    for q in status.questions:
        what = "Concern" if q.kind is QuestionKind.CONCERN else "Question"
        answered = " (answered)" if q.state is QuestionState.ANSWERED else ""
        lines.append(escape(f"• {what} from {name(q.asker_id)}{answered}: {q.text}"))
    if status.open_questions > len(status.questions):
        lines.append(say(copy.STATUS_AND_MORE, count=status.open_questions - len(status.questions)))
    return lines


def own_words(status: ChangeStatus, *, name: Names) -> list[str]:
    """What people said they will do, under each audience group, by department."""
    if not status.own_words_count:
        return []
    lines = [f"[bold]{say(copy.OWN_WORDS_TITLE, count=status.own_words_count)}[/bold]"]
    for group in status.own_words:
        lines.append(f"[bold]{escape(group.group)}[/bold]")
        for department, said in group.departments.items():
            lines.append(f"  [italic]{escape(department or copy.NO_DEPARTMENT)}[/italic]")
            lines += [escape(f"    {name(line.user_id)}: {line.text}") for line in said]
    return lines


def capacity_request(r: CapacityRequest, *, name: Names, number: int) -> str:
    change = r.change
    question = copy.CAPACITY_QUESTION.format(effective=copy.day(change.effective_date))
    asked = say(
        copy.CAPACITY_ASKED,
        key=change.key,
        title=change.title,
        announcer=name(change.announcer_id),
        question=question,
    )
    groups = f" ({', '.join(r.groups)})" if r.groups else ""
    people = "person" if r.team == 1 else "people"
    team = say(copy.CAPACITY_TEAM, count=r.team, people=people, groups=groups)
    hint = say(prompts.CAPACITY_HINT, number=number)
    return "\n".join([asked, say(copy.DM_WHAT, what=change.what), team, f"[bold cyan]{hint}[/bold cyan]"])


def capacity_reply(r: CapacityReply, *, name: Names) -> str:
    return say(
        copy.CAPACITY_REPLY,
        icon="⛔" if r.answer is CapacityAnswer.NO else "•",
        manager=name(r.manager_id),
        answer=r.answer.label,
        question=copy.CAPACITY_QUESTION.format(effective=copy.day(r.effective_date)),
        key=r.change_key,
        title=r.title,
        comment=f"\n  {r.comment}" if r.comment else "",
    )


def capacity(status: ChangeStatus, *, name: Names) -> list[str]:
    summary = status.capacity
    if summary is None or not summary.asked:
        return []
    heading = say(
        copy.CAPACITY_TITLE,
        answered=summary.answered,
        asked=summary.asked,
        yes=summary.count(CapacityAnswer.YES),
        help=summary.count(CapacityAnswer.HELP),
        no=summary.count(CapacityAnswer.NO),
    )
    lines = [f"[bold]{heading}[/bold]"]
    for r in summary.replies:
        comment = f": {r.comment}" if r.comment else ""
        lines.append(escape(f"• {name(r.manager_id)}: {r.answer.label}{comment}"))
    return lines


def message(m: Message, *, name: Names) -> Panel:
    """One DM as a panel titled with its inbox number, kind and time."""
    if isinstance(m.body, CapacityRequest):
        body = capacity_request(m.body, name=name, number=m.number)
    elif isinstance(m.body, CapacityReply):
        body = capacity_reply(m.body, name=name)
    elif isinstance(m.body, Question):
        body = (
            question(m.body, name=name, number=m.number)
            if m.kind is Kind.QUESTION
            else answer(m.body, name=name)
        )
    elif m.kind is Kind.ESCALATION:
        assert isinstance(m.body, Escalation)
        body = escalation(m.body, name=name)
    elif m.kind is Kind.GAP_REPORT:
        assert isinstance(m.body, GapReport)
        body = gap_report(m.body, name=name)
    elif m.kind is Kind.REMINDER:
        assert isinstance(m.body, Announcement)
        body = reminder(m.body, number=m.number)
    elif m.kind is Kind.AMENDMENT:
        assert isinstance(m.body, Announcement)
        body = amendment_note(m.body, number=m.number)
    else:
        assert isinstance(m.body, Announcement)
        body = announcement(m.body, name=name, number=m.number)
    title = escape(f"[{m.number}] {m.kind.value} for {name(m.to)} · {copy.moment(m.at)}")
    return Panel(body, title=title, title_align="left", border_style="dim" if m.shown else "cyan")


def updated(m: Message) -> str:
    """One line for a message that changed in place (the acknowledgement now shows on it)."""
    a = m.announcement
    assert a is not None
    when = say(copy.ACKNOWLEDGED, when=copy.moment(a.acknowledged_at)) if a.acknowledged_at else ""
    return f"{escape(f'[{m.number}] {m.kind.value} of {a.change_key}:')} {when}"


def arrivals(messages: Sequence[Message], *, name: Names) -> list[str]:
    """One line per kind of message and change: who was just sent what."""
    groups: dict[tuple[Kind, str], list[str]] = {}
    for m in messages:
        groups.setdefault((m.kind, m.change_key), []).append(name(m.to))
    lines = []
    for (kind, key), names in groups.items():
        people = sorted(names)  # the engine sends in no particular order
        label = kind.value.capitalize()
        if len(people) == 1:
            lines.append(escape(prompts.ARRIVED_ONE.format(kind=label, key=key, name=people[0])))
            continue
        shown = ", ".join(people[:8]) + (
            prompts.MORE.format(count=len(people) - 8) if len(people) > 8 else ""
        )
        lines.append(
            escape(prompts.ARRIVED.format(kind=f"{label}s", key=key, count=len(people), names=shown))
        )
    return lines


# --- the form ----------------------------------------------------------------------------------------------


def problems(error: InvalidInput, labels: dict[str, str]) -> str:
    return "\n".join(
        f"[red]✗ {escape(labels.get(field, field))}: {escape(text)}[/red]"
        for field, text in error.errors.items()
    )


def review(r: Review, *, name: Names) -> str:
    change, resolution = r.change, r.resolution
    lines = [f"[bold]{escape(f'{change.key}: {change.title}')}[/bold]"]
    for group, n in zip(change.groups, resolution.per_group, strict=True):
        lines.append(f"• [bold]{escape(group.name)}[/bold]: {n} {'person' if n == 1 else 'people'}")
    lines.append(f"[bold]{len(resolution.recipients)} people in all[/bold] will get a direct message.")
    if r.scheduled is not None:
        lines.append(escape(copy.SCHEDULED_FOR.format(when=r.scheduled[0], zone=r.scheduled[1])))
    lines += [f"[yellow]⚠ {escape(warning)}[/yellow]" for warning in r.warnings]
    if r.overlapping:
        lines.append(f"[yellow]  {escape(', '.join(name(user) for user in r.overlapping))}[/yellow]")
    if r.preview is not None:
        lines += ["", "[dim]Preview: everyone sees their own groups' expectations[/dim]"]
        lines.append(announcement(r.preview, name=name, preview=True))
    return "\n".join(lines)


# --- /change-status -------------------------------------------------------------------------------


def overview(summaries: list[ChangeSummary]) -> str:
    if not summaries:
        return escape(copy.STATUS_NONE)
    lines = [f"[bold]{escape(copy.STATUS_LIST_TITLE)}[/bold]"]
    for s in summaries:
        bar = copy.progress_bar(s.acknowledged, s.targeted)
        lines.append(f"[bold]{s.key}[/bold] {escape(s.title)} ({s.state})  {bar} acknowledged")
    return "\n".join(lines)


def totals_line(t: Totals) -> str:
    return (
        f"{copy.progress_bar(t.acknowledged, t.targeted)}\n"
        f"Delivered {t.delivered} · Acknowledged {t.acknowledged} · Pending {t.pending} · "
        f"Failed {t.failed} · Not yet sent {t.queued} · Excluded {t.excluded}"
    )


def breakdown(status: ChangeStatus, *, name: Names) -> list[str]:
    lines = []
    for key, title in (("department", copy.BY_DEPARTMENT_TITLE), ("manager", copy.BY_MANAGER_TITLE)):
        rows = status.by(key)
        if len(rows) > 1 or (rows and rows[0][0]):
            lines.append(f"[bold]{escape(title)}[/bold]")
            for who, acked, n in rows[:10]:
                label = (who if key == "department" else name(who)) if who else copy.UNKNOWN
                lines.append(f"  {escape(label)}: {copy.progress_bar(acked, n)}")
    return lines


def detail(status: ChangeStatus, *, name: Names) -> str:
    change = status.change
    lines = [f"[bold]{escape(f'{change.key}: {change.title}')}[/bold] ({change.state.value})"]
    if status.manager_id:
        lines.append(f"[italic]{escape(copy.YOUR_REPORTS_ONLY)}[/italic]")
    lines.append(totals_line(status.totals))
    for position, group in enumerate(status.groups):
        pending = [p.name for p in status.pending if p.group_mask >> position & 1]
        lines += [f"[bold]{escape(group.name)}[/bold]", totals_line(group.totals)]
        if pending:
            lines.append(escape(f"Pending: {', '.join(pending)}"))
    if status.totals.pending > len(status.pending):
        lines.append(say(copy.STATUS_AND_MORE, count=status.totals.pending - len(status.pending)))
    lines += breakdown(status, name=name)
    lines += questions(status, name=name)
    lines += own_words(status, name=name)
    lines += capacity(status, name=name)
    if change.state is ChangeState.SCHEDULED and change.publish_at and not status.manager_id:
        lines.append(escape(copy.STATUS_SCHEDULED.format(when=copy.moment(change.publish_at))))
        lines.append(f"[cyan]{say(prompts.SCHEDULE_HINT, key=change.key)}[/cyan]")
    if status.failed and not status.manager_id:
        lines.append(f"[bold]{say(copy.STATUS_FAILED_TITLE, count=status.totals.failed)}[/bold]")
        lines += [escape(f"• {p.name}: {p.reason}") for p in status.failed]
    return "\n".join(lines)


# --- /people -------------------------------------------------------------------------------------------


def people(roster: Sequence[Person], *, titles: dict[str, str | None], name: Names) -> Table:
    table = Table(title="People (handle, @department)", title_justify="left")
    for column in ("handle", "name", "title", "department", "manager", "time zone"):
        table.add_column(column)
    for person in roster:
        department = f"{person.department} (@{handle(person.department)})" if person.department else ""
        manager = name(person.manager_id) if person.manager_id else ""
        cells = (
            person.user_id,
            person.name,
            titles.get(person.user_id) or "",
            department,
            manager,
            person.tz or "",
        )
        table.add_row(*(escape(cell) for cell in cells), style=None if person.active else "dim strike")
    return table
