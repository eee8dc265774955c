"""Block Kit of the capacity check and the scheduled publish: the manager's question and its comment
form, the answer the announcer gets, and what `/change-status` shows of both."""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import (
    SECTION_LIMIT,
    Block,
    button,
    clip,
    context,
    field,
    listing,
    modal,
    section,
    text_input,
)
from bot import copy
from bot.announce import length
from bot.capacity import COMMENT_LIMIT, CapacityAnswer, CapacityReply, CapacityRequest
from bot.model import Change, ChangeState
from bot.status import ChangeStatus

CAPACITY_FORM = "realign.capacity"
ACTIONS = {
    CapacityAnswer.YES: "realign.capacity_yes",
    CapacityAnswer.HELP: "realign.capacity_help",
    CapacityAnswer.NO: "realign.capacity_no",
}
PUBLISH_NOW_ACTION, CANCEL_SCHEDULE_ACTION = "realign.publish_now", "realign.cancel_schedule"
ICONS = {CapacityAnswer.YES: ":white_check_mark:", CapacityAnswer.HELP: ":raising_hand:"}
ICONS[CapacityAnswer.NO] = ":no_entry:"


def _question(change: Change) -> str:
    return copy.CAPACITY_QUESTION.format(effective=copy.day(change.effective_date))


def request_text(r: CapacityRequest) -> str:
    return clip(f"{r.change.key}: {_question(r.change)}")


def request(r: CapacityRequest) -> list[Block]:
    """The manager's DM: the change, their team in it, and Yes / Need help / No (values: the change key)."""
    change = r.change
    asked = copy.CAPACITY_ASKED.format(
        key=change.key, title=change.title, announcer=f"<@{change.announcer_id}>", question=_question(change)
    )
    groups = f" ({', '.join(r.groups)})" if r.groups else ""
    team = copy.CAPACITY_TEAM.format(
        count=r.team, people="person" if r.team == 1 else "people", groups=groups
    )
    buttons = [button(ACTIONS[answer], answer.label, change.key) for answer in CapacityAnswer]
    buttons[0]["style"], buttons[2]["style"] = "primary", "danger"
    return [
        section(asked),
        section(copy.DM_WHAT.format(what=change.what)),
        context(team),
        {"type": "actions", "block_id": "realign.capacity", "elements": buttons},
    ]


def comment_modal(key: str, answer: CapacityAnswer) -> dict[str, Any]:
    """The small form after a click: the answer chosen, and a comment for the announcer."""
    label = copy.CAPACITY_COMMENT
    blocks = [
        section(f"{key}: *{answer.label}*"),
        field(
            "comment",
            label,
            text_input(multiline=True, limit=COMMENT_LIMIT),
            optional=answer is CapacityAnswer.YES,
        ),
    ]
    meta = {"key": key, "answer": answer.value}
    return modal(CAPACITY_FORM, "Capacity check", blocks, submit="Send", meta=meta)


def reply_text(r: CapacityReply) -> str:
    return clip(
        copy.CAPACITY_REPLY_FALLBACK.format(
            manager=f"<@{r.manager_id}>",
            answer=r.answer.label,
            key=r.change_key,
            effective=copy.day(r.effective_date),
        )
    )


def reply(r: CapacityReply) -> list[Block]:
    """The announcer's DM, at once; a No leads with :no_entry:."""
    comment = f"\n> {r.comment}" if r.comment else ""
    said = copy.CAPACITY_REPLY.format(
        icon=ICONS[r.answer],
        manager=f"<@{r.manager_id}>",
        answer=r.answer.label,
        question=copy.CAPACITY_QUESTION.format(effective=copy.day(r.effective_date)),
        key=r.change_key,
        title=r.title,
        comment=comment,
    )
    return [section(said)]


def capacity(status: ChangeStatus) -> list[Block]:
    """The capacity check in `/change-status`: the counts, then the answers (No first) with comments."""
    summary = status.capacity
    if summary is None or not summary.asked:
        return []
    heading = (
        "*"
        + copy.CAPACITY_TITLE.format(
            answered=summary.answered,
            asked=summary.asked,
            yes=summary.count(CapacityAnswer.YES),
            help=summary.count(CapacityAnswer.HELP),
            no=summary.count(CapacityAnswer.NO),
        )
        + "*"
    )
    lines = [
        f"• {ICONS[r.answer]} <@{r.manager_id}>: {r.answer.label}"
        + (f": {r.comment.replace(chr(10), ' ')}" if r.comment else "")
        for r in summary.replies
    ]
    if not lines:
        return [section(heading)]
    budget = SECTION_LIMIT - length(heading) - 1
    return [section(f"{heading}\n{listing(lines, total=summary.answered, budget=budget)}")]


def scheduled(change: Change) -> list[Block]:
    """A scheduled change in status: when it publishes, and Publish now / Cancel publishing."""
    if change.state is not ChangeState.SCHEDULED or change.publish_at is None:
        return []
    when = copy.STATUS_SCHEDULED.format(when=copy.moment(change.publish_at))
    buttons = [
        button(PUBLISH_NOW_ACTION, copy.PUBLISH_NOW, change.key),
        button(CANCEL_SCHEDULE_ACTION, copy.CANCEL_SCHEDULE, change.key),
    ]
    buttons[0]["style"] = "primary"
    return [section(when), {"type": "actions", "block_id": "realign.schedule", "elements": buttons}]
