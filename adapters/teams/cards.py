"""The core's view models as Adaptive Cards (Teams' Block Kit). Every sentence comes from bot.copy;
card actions carry opaque ids only (a delivery id, a change key) in their `data`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from bot import copy
from bot.model import MAX_GROUPS, Announcement, ChangeState, Escalation, GapReport, PendingPerson
from bot.ports import ChangeSummary
from bot.questions import QUESTION_LIMIT, Question, QuestionKind, QuestionState
from bot.status import ChangeStatus, Totals
from bot.words import WORDS_LIMIT

Card = dict[str, Any]
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.5"
ACK_VERB = "realign.acknowledge"
RETRY_VERB = "realign.retry"
CLOSE_VERB = "realign.close"
AMEND_VERB = "realign.amend"  # adapters.teams.amend: the form; its submission there too
EXPORT_VERB = "realign.export"  # adapters.teams.exports: the audit CSV into the clicker's 1:1 chat
ACK_WORDS_VERB = "realign.acknowledge_in_own_words"  # Acknowledge, when the change asks for a line
ASK_VERB, CONCERN_VERB = "realign.ask", "realign.concern"
ANSWER_VERB, RESOLVE_VERB = "realign.answer", "realign.resolve"
# The inputs' ids: each inline form has its own, so no form gathers or checks another's.
QUESTION_INPUTS = {QuestionKind.QUESTION: "question", QuestionKind.CONCERN: "concern"}
ANSWER_INPUT, OWN_WORDS_INPUT = "answer", "own_words"
NAMES = 40
QUESTIONS_SHOWN = 10
_BOLD = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_QUOTE = re.compile(r"\n?^> ?(.*)$\n?", re.MULTILINE)
_EMOJI = {":white_check_mark:": "✅", ":speech_balloon:": "💬"}
Names = Mapping[str, str]  # user id -> the name people are shown by


def md(text: str) -> str:
    """Slack-flavoured copy (`*bold*`, `:emoji:`, `> quote`) as Teams' card Markdown (`**bold**`; a
    quoted line becomes a paragraph of its own, in italics)."""
    for name, glyph in _EMOJI.items():
        text = text.replace(name, glyph)
    text = _QUOTE.sub(lambda m: f"\n\n_{m[1].strip()}_\n\n" if m[1].strip() else "\n\n", text)
    return _BOLD.sub(r"**\1**", text).strip("\n")


def name_of(names: Names, user_id: str | None) -> str:
    return names.get(user_id or "") or user_id or ""


def block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": md(text), "wrap": True, **style}


def card(body: list[dict[str, Any]], actions: Sequence[dict[str, Any]] = ()) -> Card:
    shown: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": VERSION,
        "body": body,
    }
    if actions:
        shown["actions"] = list(actions)
    return shown


def attachment(content: Card) -> dict[str, Any]:
    return {"contentType": CONTENT_TYPE, "content": content}


def execute(verb: str, title: str, data: dict[str, Any]) -> dict[str, Any]:
    """An Action.Execute (Universal Actions) with an Action.Submit fallback for older clients; both
    carry the verb in `data`, so either reaches the same handler."""
    payload = {"realign": verb, **data}
    return {
        "type": "Action.Execute",
        "verb": verb,
        "title": title,
        "data": payload,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
    }


def show_card(title: str, inputs: list[dict[str, Any]], action: dict[str, Any]) -> dict[str, Any]:
    """A short form that opens on the card itself (Action.ShowCard), sent with an Action.Execute."""
    return {"type": "Action.ShowCard", "title": title, "card": card(inputs, [action])}


def text_input(name: str, label: str, *, limit: int, multiline: bool, value: str = "") -> dict[str, Any]:
    field: dict[str, Any] = {
        "type": "Input.Text",
        "id": name,
        "label": label,
        "isRequired": True,
        "errorMessage": copy.REQUIRED,
        "maxLength": limit,
        "isMultiline": multiline,
    }
    if value:
        field["value"] = value
    return field


def nonce() -> str:
    """A fresh id for the inline forms of one rendering of a card: a double click on the same card asks
    once (the core keys questions by it), a question asked from a card shown afterwards is a new one."""
    return uuid.uuid4().hex


# --- the DM --------------------------------------------------------------------------------------


def announcement_text(a: Announcement) -> str:
    return copy.DM_FALLBACK.format(
        key=a.change_key,
        title=a.title,
        effective=copy.day(a.effective_date),
        deadline=copy.day(a.ack_deadline),
    )


def acknowledge_action(a: Announcement, *, typed: str = "") -> dict[str, Any]:
    """Acknowledge: a plain action, or, when the change asks for a line in the person's own words, a
    one-line form on the card whose Acknowledge sends the line (required) with the click."""
    data = {"delivery_id": a.delivery_id}
    if not a.own_words:
        return execute(ACK_VERB, copy.ACKNOWLEDGE, data)
    prompt = copy.OWN_WORDS_PROMPT.format(effective=copy.day(a.effective_date))
    line = text_input(OWN_WORDS_INPUT, prompt, limit=WORDS_LIMIT, multiline=False, value=typed)
    line["errorMessage"] = copy.OWN_WORDS_NEEDED
    return show_card(copy.ACKNOWLEDGE, [line], execute(ACK_WORDS_VERB, copy.ACKNOWLEDGE, data))


def asking_actions(a: Announcement, *, request: str, typed: Mapping[str, str]) -> list[dict[str, Any]]:
    """Ask a question / I have a concern, each a short form on the card. Asking is not acknowledging,
    so both stay after the person has acknowledged."""
    actions = []
    for kind, title, prompt, verb in (
        (QuestionKind.QUESTION, copy.ASK_QUESTION, copy.QUESTION_PROMPT, ASK_VERB),
        (QuestionKind.CONCERN, copy.RAISE_CONCERN, copy.CONCERN_PROMPT, CONCERN_VERB),
    ):
        name = QUESTION_INPUTS[kind]
        field = text_input(
            name,
            prompt.format(key=a.change_key),
            limit=QUESTION_LIMIT,
            multiline=True,
            value=typed.get(name, ""),
        )
        data = {"delivery_id": a.delivery_id, "key": a.change_key, "request": request}
        actions.append(show_card(title, [field], execute(verb, "Send", data)))
    return actions


def announcement(
    a: Announcement,
    *,
    preview: bool = False,
    note: str = "",
    attention: bool = False,
    request: str | None = None,
    typed: Mapping[str, str] | None = None,
) -> Card:
    """The announcement DM. `note` is said under it (a confirmation, or with `attention` a refusal);
    `request` and `typed` keep the inline forms' id and text when the card is shown again after a
    refusal, so sending it again asks once."""
    effective = copy.day(a.effective_date)
    body = [
        block(copy.DM_HEADER.format(key=a.change_key, title=a.title), size="Large", weight="Bolder"),
        block(copy.DM_WHAT.format(what=a.what)),
    ]
    if a.amended_at is not None:
        reasked = f" {copy.DM_REASKED}" if a.reasked and a.acknowledged_at is None else ""
        amended = copy.DM_AMENDED.format(when=copy.moment(a.amended_at)) + reasked
        body.insert(1, block(amended, color="Warning" if reasked else "Default", isSubtle=not reasked))
    if a.why:
        body.append(block(copy.DM_WHY.format(why=a.why)))
    body.append(block(copy.DM_DATES.format(effective=effective, deadline=copy.day(a.ack_deadline))))
    body.append(block(copy.DM_FOR_YOU))
    for item in a.expectations:
        lines = [copy.DM_TODAY.format(text=item.today)] if item.today else []
        lines.append(copy.DM_FROM.format(effective=effective, text=item.from_effective))
        body.append(block("\n\n".join(lines)))
    if a.customer_briefing:  # customer-facing groups only (bot.model.announcement_for)
        body.append(block(copy.DM_CUSTOMERS.format(plan=a.customer_briefing).replace("\n", "\n\n")))
    actions = []
    typed = typed or {}
    if a.acknowledged_at is not None:
        body.append(block(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at)), color="Good"))
    elif not preview:
        actions.append(acknowledge_action(a, typed=typed.get(OWN_WORDS_INPUT, "")))
    if note:
        body.append(block(f"⚠ {note}" if attention else note, color="Attention" if attention else "Accent"))
    if not preview:
        actions += asking_actions(a, request=request or nonce(), typed=typed)
    return card(body, actions)


def reminder_text(a: Announcement) -> str:
    return copy.REMINDER.format(key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))


def reminder(a: Announcement) -> Card:
    if a.acknowledged_at is not None:
        return card(
            [block(reminder_text(a)), block(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at)))]
        )
    return card([block(reminder_text(a))], [acknowledge_action(a)])


# --- follow-up -------------------------------------------------------------------------------------


def names(people: Sequence[PendingPerson], *, reason: bool = False, total: int | None = None) -> str:
    shown = [
        f"- {p.name or p.user_id}" + (f": {copy.failure_reason(p.reason)}" if reason else "")
        for p in people[:NAMES]
    ]
    hidden = (len(people) if total is None else total) - len(shown)
    if hidden > 0:
        shown.append(copy.STATUS_AND_MORE.format(count=hidden))
    return "\n".join(shown)


def escalation_text(e: Escalation) -> str:
    return copy.ESCALATION.format(key=e.change.key, title=e.change.title, count=e.count)


def escalation(e: Escalation) -> Card:
    change = e.change
    dates = copy.DM_DATES.format(
        effective=copy.day(change.effective_date), deadline=copy.day(change.ack_deadline)
    )
    return card(
        [
            block(escalation_text(e), weight="Bolder"),
            block(names(e.reports, total=e.count)),
            block(copy.DM_WHAT.format(what=change.what)),
            block(dates, isSubtle=True),
        ]
    )


def gap_report_text(r: GapReport) -> str:
    if r.unmanaged_only:
        return copy.UNMANAGED.format(key=r.change.key, count=r.pending_count)
    return copy.GAP_REPORT.format(
        key=r.change.key, title=r.change.title, pending=r.pending_count, failed=r.failed_count
    )


def gap_report(r: GapReport, people: Names | None = None) -> Card:
    body = [block(gap_report_text(r), weight="Bolder")]
    if r.pending:
        body.append(block(names(r.pending, total=r.pending_count)))
    if r.failed and not r.unmanaged_only:
        body.append(block(copy.STATUS_FAILED_TITLE.format(count=r.failed_count), weight="Bolder"))
        body.append(block(names(r.failed, reason=True, total=r.failed_count)))
    if r.questions_total and not r.unmanaged_only:
        asked = [
            f"- {name_of(people or {}, q.asker_id)} ({q.kind.value}): {_one_line(q.text)}"
            for q in r.questions
        ]
        hidden = r.questions_total - len(asked)
        if hidden > 0:
            asked.append(copy.STATUS_AND_MORE.format(count=hidden))
        body.append(block(copy.GAP_QUESTIONS.format(count=r.questions_total), weight="Bolder"))
        body.append(block("\n".join(asked)))
    return card(body)


# --- questions and concerns ------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _asked(q: Question, people: Names) -> str:
    template = copy.QUESTION_FROM if q.kind is QuestionKind.QUESTION else copy.CONCERN_FROM
    return template.format(asker=name_of(people, q.asker_id), key=q.change_key, title=q.title)


def question_text(q: Question, people: Names) -> str:
    return f"{_asked(q, people).strip('*')}: {_one_line(q.text)}"[:300]


def question(q: Question, people: Names, *, note: str = "", attention: bool = False) -> Card:
    """The owner's card: what was asked, then its answer and resolution as they come, with Answer (a
    short form on the card) and, for a concern, Mark resolved."""
    body = [
        block(_asked(q, people)),
        {"type": "Container", "style": "emphasis", "items": [block(q.text)]},
    ]
    if q.answer is not None and q.answered_at is not None:
        said = copy.QUESTION_ANSWERED.format(
            who=name_of(people, q.answered_by), when=copy.moment(q.answered_at), answer=q.answer
        )
        body.append(block(said))
    if note:
        body.append(block(f"⚠ {note}" if attention else note, color="Attention" if attention else "Accent"))
    if q.state is QuestionState.RESOLVED and q.resolved_at is not None:
        body.append(block(copy.CONCERN_RESOLVED.format(when=copy.moment(q.resolved_at)), color="Good"))
        return card(body)
    prompt = copy.ANSWER_PROMPT.format(asker=name_of(people, q.asker_id))
    answer_field = text_input(ANSWER_INPUT, prompt, limit=QUESTION_LIMIT, multiline=True)
    actions = [
        show_card(copy.ANSWER, [answer_field], execute(ANSWER_VERB, "Send answer", {"question_id": q.id}))
    ]
    if q.kind is QuestionKind.CONCERN:
        actions.append(execute(RESOLVE_VERB, copy.MARK_RESOLVED, {"question_id": q.id}))
    return card(body, actions)


def answer_text(q: Question) -> str:
    return copy.ANSWER_FALLBACK.format(kind=q.kind.value, key=q.change_key, answer=_one_line(q.answer or ""))[
        :300
    ]


def answer(q: Question, people: Names) -> Card:
    """The asker's card, a reply to their announcement."""
    said = copy.ANSWER_FOR_YOU.format(
        kind=q.kind.value, key=q.change_key, question=_one_line(q.text), answer=q.answer or ""
    )
    by = copy.DM_FROM_ANNOUNCER.format(announcer=name_of(people, q.answered_by))
    return card([block(said), block(by, isSubtle=True)])


def questions(status: ChangeStatus, people: Names) -> list[dict[str, Any]]:
    """The open questions and concerns of a change, for its announcer."""
    if not status.open_questions:
        return []
    lines = [
        f"- {'Concern' if q.kind is QuestionKind.CONCERN else 'Question'} from {name_of(people, q.asker_id)}"
        + (" (answered)" if q.state is QuestionState.ANSWERED else "")
        + f": {_one_line(q.text)}"
        for q in status.questions[:QUESTIONS_SHOWN]
    ]
    hidden = status.open_questions - len(lines)
    if hidden > 0:
        lines.append(copy.STATUS_AND_MORE.format(count=hidden))
    title = copy.QUESTIONS_TITLE.format(count=status.open_questions)
    return [block(title, weight="Bolder"), block("\n".join(lines))]


def own_words(status: ChangeStatus) -> list[dict[str, Any]]:
    """The lines people said, under each audience group, by department."""
    if not status.own_words_count:
        return []
    shown = [block(copy.OWN_WORDS_TITLE.format(count=status.own_words_count), weight="Bolder")]
    for group in status.own_words[:MAX_GROUPS]:
        lines = [
            f"- _{department or copy.NO_DEPARTMENT}_: {line.name or line.user_id}: {_one_line(line.text)}"
            for department, said in group.departments.items()
            for line in said
        ]
        shown.append(block(f"**{group.group}**\n\n" + "\n".join(lines)))
    return shown


# --- change-status ---------------------------------------------------------------------------------


def overview(summaries: list[ChangeSummary]) -> Card:
    if not summaries:
        return card([block(copy.STATUS_NONE)])
    body = [block(copy.STATUS_LIST_TITLE, weight="Bolder")]
    for s in summaries[:20]:
        body.append(
            block(f"**{s.key}** {s.title} ({s.state})\n\n{copy.progress_bar(s.acknowledged, s.targeted)}")
        )
    if len(summaries) > 20:
        body.append(block(copy.STATUS_AND_MORE.format(count=len(summaries) - 20)))
    return card(body)


def totals_line(t: Totals) -> str:
    return (
        f"{copy.progress_bar(t.acknowledged, t.targeted)}\n\n"
        f"Delivered {t.delivered} · Acknowledged {t.acknowledged} · Pending {t.pending} · "
        f"Failed {t.failed} · Not yet sent {t.queued} · Excluded {t.excluded}"
    )


def detail(status: ChangeStatus, people: Names | None = None) -> Card:
    change = status.change
    body = [block(f"**{change.key}: {change.title}** ({change.state.value})", size="Medium")]
    if status.manager_id:
        body.append(block(copy.YOUR_REPORTS_ONLY, isSubtle=True))
    body.append(block(totals_line(status.totals)))
    for position, group in enumerate(status.groups):
        pending = [p.name or p.user_id for p in status.pending if p.group_mask >> position & 1]
        who = f"\n\nPending: {', '.join(pending[:NAMES])}" if pending else ""
        body.append(block(f"**{group.name}**\n\n{totals_line(group.totals)}{who}"))
    if status.totals.pending > len(status.pending):
        body.append(block(copy.STATUS_AND_MORE.format(count=status.totals.pending - len(status.pending))))
    body += questions(status, people or {})
    body += own_words(status)
    if status.manager_id:
        return card(body)
    actions = []
    if status.failed:
        failed = [f"- {p.name or p.user_id}: {copy.failure_reason(p.reason)}" for p in status.failed[:NAMES]]
        body.append(block(copy.STATUS_FAILED_TITLE.format(count=status.totals.failed), weight="Bolder"))
        body.append(block("\n".join(failed)))
        actions.append(execute(RETRY_VERB, copy.RETRY_FAILED, {"key": change.key}))
    if change.state is ChangeState.PUBLISHED:
        actions.append(execute(CLOSE_VERB, copy.CLOSE, {"key": change.key}))
        actions.append(execute(AMEND_VERB, copy.AMEND, {"key": change.key}))  # adapters.teams.amend
    if change.state in (ChangeState.PUBLISHED, ChangeState.CLOSED):  # a change with people to list
        actions.append(execute(EXPORT_VERB, copy.EXPORT_CSV, {"key": change.key}))
    return card(body, actions)


def note(text: str) -> Card:
    """A one-line answer (a refusal, a confirmation) as a card."""
    return card([block(text)])
