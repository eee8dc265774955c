"""Block Kit of two-way alignment: the question and answer forms and messages, acknowledging in your
own words, and what status shows of both."""

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
    text,
    text_input,
)
from bot import copy
from bot.announce import length
from bot.model import MAX_GROUPS, Announcement, MessageRef
from bot.questions import QUESTION_LIMIT, Question, QuestionKind, QuestionState
from bot.status import ChangeStatus
from bot.words import WORDS_LIMIT

ASK_ACTION, CONCERN_ACTION = "realign.ask", "realign.concern"
ANSWER_ACTION, RESOLVE_ACTION = "realign.answer", "realign.resolve"
ACK_WORDS_ACTION = "realign.acknowledge_in_own_words"  # Acknowledge, when the change asks for a line
QUESTION_FORM, ANSWER_FORM = "realign.question", "realign.answer_form"
OWN_WORDS_FORM = "realign.own_words"


def question_modal(key: str, kind: QuestionKind) -> dict[str, Any]:
    prompt = copy.QUESTION_PROMPT if kind is QuestionKind.QUESTION else copy.CONCERN_PROMPT
    label = copy.ASK_QUESTION if kind is QuestionKind.QUESTION else copy.RAISE_CONCERN
    blocks = [
        field("question", prompt.format(key=key), text_input(multiline=True, limit=QUESTION_LIMIT)),
    ]
    return modal(QUESTION_FORM, label, blocks, submit="Send", meta={"key": key, "kind": kind.value})


def answer_modal(q: Question) -> dict[str, Any]:
    blocks = [
        section(f"{_asked(q)}\n> {q.text}"),
        field(
            "answer",
            copy.ANSWER_PROMPT.format(asker=q.asker_id)[:150],
            text_input(multiline=True, limit=QUESTION_LIMIT),
        ),
    ]
    return modal(ANSWER_FORM, copy.ANSWER, blocks, submit="Send answer", meta={"question": q.id})


def own_words_modal(a: Announcement, clicked: MessageRef | None) -> dict[str, Any]:
    """Acknowledging in your own words; the message clicked in is kept to update it afterwards."""
    meta: dict[str, Any] = {"delivery": a.delivery_id}
    if clicked is not None:
        meta |= {"channel": clicked.conversation, "ts": clicked.id}
    prompt = copy.OWN_WORDS_PROMPT.format(effective=copy.day(a.effective_date))
    blocks = [field("own_words", prompt[:150], text_input(limit=WORDS_LIMIT))]
    return modal(OWN_WORDS_FORM, copy.ACKNOWLEDGE, blocks, submit=copy.ACKNOWLEDGE, meta=meta)


def own_words(status: ChangeStatus) -> list[Block]:
    """The lines people said, under each audience group, by department."""
    if not status.own_words_count:
        return []
    blocks = [section(f"*{copy.OWN_WORDS_TITLE.format(count=status.own_words_count)}*")]
    for group in status.own_words[:MAX_GROUPS]:
        lines = [
            f"_{department or copy.NO_DEPARTMENT}_: <@{line.user_id}>: {line.text}"
            for department, said in group.departments.items()
            for line in said
        ]
        heading = f"*{group.group}*"
        blocks.append(section(f"{heading}\n{listing(lines, budget=SECTION_LIMIT - length(heading) - 1)}"))
    return blocks


def done_modal(title: str, note: str) -> dict[str, Any]:
    return {"type": "modal", "title": text(title[:24]), "close": text("Done"), "blocks": [section(note)]}


def _asked(q: Question) -> str:
    template = copy.QUESTION_FROM if q.kind is QuestionKind.QUESTION else copy.CONCERN_FROM
    return template.format(asker=f"<@{q.asker_id}>", key=q.change_key, title=q.title)


def question_text(q: Question) -> str:
    return clip(f"{_asked(q).strip('*')}: {q.text}")  # the heading's bold marks only, not the text's


def question(q: Question) -> list[Block]:
    """The owner's DM: what was asked, then its answer and resolution as they come."""
    blocks = [section(f"{_asked(q)}\n> {q.text}")]
    if q.answer is not None and q.answered_at is not None:
        who = f"<@{q.answered_by}>" if q.answered_by else ""
        when = copy.moment(q.answered_at)
        blocks.append(section(copy.QUESTION_ANSWERED.format(who=who, when=when, answer=q.answer)))
    if q.state is QuestionState.RESOLVED and q.resolved_at is not None:
        blocks.append(section(copy.CONCERN_RESOLVED.format(when=copy.moment(q.resolved_at))))
        return blocks
    buttons = [button(ANSWER_ACTION, copy.ANSWER, str(q.id))]
    if q.kind is QuestionKind.CONCERN:
        buttons.append(button(RESOLVE_ACTION, copy.MARK_RESOLVED, str(q.id)))
    blocks.append({"type": "actions", "block_id": "realign.question", "elements": buttons})
    return blocks


def answer_text(q: Question) -> str:
    return clip(copy.ANSWER_FALLBACK.format(kind=q.kind.value, key=q.change_key, answer=q.answer or ""))


def answer(q: Question) -> list[Block]:
    """The asker's DM, in the thread of their announcement."""
    said = copy.ANSWER_FOR_YOU.format(
        kind=q.kind.value, key=q.change_key, question=q.text.replace("\n", " "), answer=q.answer or ""
    )
    return [section(said), context(copy.DM_FROM_ANNOUNCER.format(announcer=f"<@{q.answered_by}>"))]


def questions(status: ChangeStatus) -> list[Block]:
    """The open questions and concerns of a change, for its announcer."""
    if not status.open_questions:
        return []
    lines = [
        f"• {'Concern' if q.kind is QuestionKind.CONCERN else 'Question'} from <@{q.asker_id}>"
        + (" (answered)" if q.state is QuestionState.ANSWERED else "")
        + f": {q.text.replace(chr(10), ' ')}"
        for q in status.questions
    ]
    heading = f"*{copy.QUESTIONS_TITLE.format(count=status.open_questions)}*"
    budget = SECTION_LIMIT - length(heading) - 1
    return [section(f"{heading}\n{listing(lines, total=status.open_questions, budget=budget)}")]
