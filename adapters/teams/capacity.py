"""Adaptive Cards of the capacity check and the scheduled publish: the manager's question with Yes /
Need help / No (each a short comment form on the card), the card after answering, the answer the
announcer gets, and what `change-status` shows of both (with Publish now / Cancel publishing). The
actions carry the change key and the answer chosen, nothing more."""

from __future__ import annotations

from typing import Any

from adapters.teams.cards import Card, Names, block, card, execute, name_of, show_card, text_input
from bot import copy
from bot.capacity import COMMENT_LIMIT, CapacityAnswer, CapacityReply, CapacityRequest
from bot.model import Change, ChangeState
from bot.status import ChangeStatus

CAPACITY_VERBS = {answer: f"realign.capacity_{answer.value}" for answer in CapacityAnswer}  # data: the key
PUBLISH_NOW_VERB, CANCEL_SCHEDULE_VERB = "realign.publish_now", "realign.cancel_schedule"
ICONS = {CapacityAnswer.YES: "✅", CapacityAnswer.HELP: "🙋", CapacityAnswer.NO: "⛔"}
LISTED = 10  # answers shown in change-status (No first)


def comment_input(answer: CapacityAnswer) -> str:
    """The id of an answer's comment box: one each, so no form gathers or checks another's."""
    return f"comment_{answer.value}"


def _question(change: Change) -> str:
    return copy.CAPACITY_QUESTION.format(effective=copy.day(change.effective_date))


def answer_actions(key: str, typed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Yes / Need help / No, each opening a comment box on the card (required but for Yes)."""
    actions = []
    for answer in CapacityAnswer:
        field = text_input(
            comment_input(answer),
            copy.CAPACITY_COMMENT,
            limit=COMMENT_LIMIT,
            multiline=True,
            value=(typed or {}).get(comment_input(answer), ""),
        )
        if answer is CapacityAnswer.YES:
            field["isRequired"] = False
        else:
            field["errorMessage"] = copy.CAPACITY_COMMENT_NEEDED
        send = execute(CAPACITY_VERBS[answer], "Send", {"key": key})
        actions.append(show_card(answer.label, [field], send))
    return actions


def request_text(r: CapacityRequest) -> str:
    return f"{r.change.key}: {_question(r.change)}"


def request(r: CapacityRequest, people: Names) -> Card:
    """The manager's card: the change, their team in it, and the three answers."""
    change = r.change
    asked = copy.CAPACITY_ASKED.format(
        key=change.key,
        title=change.title,
        announcer=name_of(people, change.announcer_id),
        question=_question(change),
    )
    groups = f" ({', '.join(r.groups)})" if r.groups else ""
    team = copy.CAPACITY_TEAM.format(
        count=r.team, people="person" if r.team == 1 else "people", groups=groups
    )
    body = [
        block(asked.replace("\n", "\n\n")),
        block(copy.DM_WHAT.format(what=change.what)),
        block(team, isSubtle=True),
    ]
    return card(body, answer_actions(change.key))


def answered(reply: CapacityReply, people: Names) -> Card:
    """The manager's card once they answered: what they said, that it went on; they may answer again."""
    comment = f": {reply.comment}" if reply.comment else ""
    said = copy.CAPACITY_YOU_ANSWERED.format(
        answer=reply.answer.label, when=copy.moment(reply.at), comment=comment
    ).replace(":memo: ", "📝 ")
    body = [
        block(f"**{reply.change_key}: {reply.title}**"),
        block(copy.CAPACITY_QUESTION.format(effective=copy.day(reply.effective_date))),
        block(said),
        block(copy.CAPACITY_SENT.format(announcer=name_of(people, reply.announcer_id)), color="Good"),
    ]
    return card(body, answer_actions(reply.change_key))


def refused(key: str, note: str, typed: dict[str, str]) -> Card:
    """An answer that was not taken: why, with the answers (and what was typed) to try again."""
    return card([block(f"**{key}**"), block(f"⚠ {note}", color="Attention")], answer_actions(key, typed))


def reply_text(r: CapacityReply, people: Names) -> str:
    return copy.CAPACITY_REPLY_FALLBACK.format(
        manager=name_of(people, r.manager_id),
        answer=r.answer.label,
        key=r.change_key,
        effective=copy.day(r.effective_date),
    )


def reply(r: CapacityReply, people: Names) -> Card:
    """The announcer's card, sent at once; a No leads with ⛔."""
    comment = "".join(f"\n> {line}" for line in r.comment.splitlines() if line.strip())  # each line quoted
    said = copy.CAPACITY_REPLY.format(
        icon=ICONS[r.answer],
        manager=name_of(people, r.manager_id),
        answer=r.answer.label,
        question=copy.CAPACITY_QUESTION.format(effective=copy.day(r.effective_date)),
        key=r.change_key,
        title=r.title,
        comment=comment,
    )
    return card([block(said, color="Attention" if r.answer is CapacityAnswer.NO else "Default")])


def status_section(status: ChangeStatus, people: Names) -> list[dict[str, Any]]:
    """The capacity check in change-status: the counts, then the answers (No first) with comments."""
    summary = status.capacity
    if summary is None or not summary.asked:
        return []
    heading = copy.CAPACITY_TITLE.format(
        answered=summary.answered,
        asked=summary.asked,
        yes=summary.count(CapacityAnswer.YES),
        help=summary.count(CapacityAnswer.HELP),
        no=summary.count(CapacityAnswer.NO),
    )
    shown = [block(heading, weight="Bolder")]
    lines = [
        f"- {ICONS[r.answer]} {name_of(people, r.manager_id)}: {r.answer.label}"
        + (f": {' '.join(r.comment.split())}" if r.comment else "")
        for r in summary.replies[:LISTED]
    ]
    if summary.answered > len(lines) and lines:
        lines.append(copy.STATUS_AND_MORE.format(count=summary.answered - len(lines)))
    if lines:
        shown.append(block("\n".join(lines)))
    return shown


def schedule_actions(key: str) -> list[dict[str, Any]]:
    """Publish now / Cancel publishing of a scheduled change (the announcer's only: the core says so)."""
    return [
        execute(PUBLISH_NOW_VERB, copy.PUBLISH_NOW, {"key": key}),
        execute(CANCEL_SCHEDULE_VERB, copy.CANCEL_SCHEDULE, {"key": key}),
    ]


def scheduled_section(change: Change) -> list[dict[str, Any]]:
    """A scheduled change in status: when it publishes."""
    if change.state is not ChangeState.SCHEDULED or change.publish_at is None:
        return []
    return [block(copy.STATUS_SCHEDULED.format(when=copy.moment(change.publish_at)), color="Accent")]
