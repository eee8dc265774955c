"""The core's view models as Adaptive Cards (Teams' Block Kit). Every sentence comes from bot.copy;
card actions carry opaque ids only (a delivery id, a change key) in their `data`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot import copy
from bot.model import Announcement, ChangeState, Escalation, GapReport, PendingPerson
from bot.ports import ChangeSummary
from bot.status import ChangeStatus, Totals

Card = dict[str, Any]
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSION = "1.5"
ACK_VERB = "realign.acknowledge"
RETRY_VERB = "realign.retry"
CLOSE_VERB = "realign.close"
NAMES = 40
_BOLD = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
_EMOJI = {":white_check_mark:": "✅"}


def md(text: str) -> str:
    """Slack-flavoured copy (`*bold*`, `:emoji:`) as Teams' card Markdown (`**bold**`)."""
    for name, glyph in _EMOJI.items():
        text = text.replace(name, glyph)
    return _BOLD.sub(r"**\1**", text)


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


# --- the DM --------------------------------------------------------------------------------------


def announcement_text(a: Announcement) -> str:
    return copy.DM_FALLBACK.format(
        key=a.change_key,
        title=a.title,
        effective=copy.day(a.effective_date),
        deadline=copy.day(a.ack_deadline),
    )


def announcement(a: Announcement, *, preview: bool = False) -> Card:
    effective = copy.day(a.effective_date)
    body = [
        block(copy.DM_HEADER.format(key=a.change_key, title=a.title), size="Large", weight="Bolder"),
        block(copy.DM_WHAT.format(what=a.what)),
    ]
    if a.why:
        body.append(block(copy.DM_WHY.format(why=a.why)))
    body.append(block(copy.DM_DATES.format(effective=effective, deadline=copy.day(a.ack_deadline))))
    body.append(block(copy.DM_FOR_YOU))
    for item in a.expectations:
        lines = [copy.DM_TODAY.format(text=item.today)] if item.today else []
        lines.append(copy.DM_FROM.format(effective=effective, text=item.from_effective))
        body.append(block("\n\n".join(lines)))
    actions = []
    if a.acknowledged_at is not None:
        body.append(block(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at)), color="Good"))
    elif not preview:
        actions.append(execute(ACK_VERB, copy.ACKNOWLEDGE, {"delivery_id": a.delivery_id}))
    return card(body, actions)


def reminder_text(a: Announcement) -> str:
    return copy.REMINDER.format(key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))


def reminder(a: Announcement) -> Card:
    if a.acknowledged_at is not None:
        return card(
            [block(reminder_text(a)), block(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at)))]
        )
    return card(
        [block(reminder_text(a))], [execute(ACK_VERB, copy.ACKNOWLEDGE, {"delivery_id": a.delivery_id})]
    )


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


def gap_report(r: GapReport) -> Card:
    body = [block(gap_report_text(r), weight="Bolder")]
    if r.pending:
        body.append(block(names(r.pending, total=r.pending_count)))
    if r.failed and not r.unmanaged_only:
        body.append(block(copy.STATUS_FAILED_TITLE.format(count=r.failed_count), weight="Bolder"))
        body.append(block(names(r.failed, reason=True, total=r.failed_count)))
    return card(body)


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


def detail(status: ChangeStatus) -> Card:
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
    return card(body, actions)


def note(text: str) -> Card:
    """A one-line answer (a refusal, a confirmation) as a card."""
    return card([block(text)])
