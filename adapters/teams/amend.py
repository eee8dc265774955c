"""Amending a published change on Teams (bot.amend): the Amend action on `change-status CHG-n`, its card
form (what, why, the dates, each group's expectations, filled in as they are now; refusals shown on
it, beside what was typed), and the note that asks someone to acknowledge again."""

from __future__ import annotations

from typing import Any

from adapters.teams import translate
from adapters.teams.cards import AMEND_VERB, Card, acknowledge_action, block, card, execute
from bot import copy
from bot.amend import Amended, Amendment
from bot.model import Announcement, Change

AMEND_SUBMIT_VERB = "realign.amend_submit"
MAX_POSITION = 64
__all__ = ["AMEND_SUBMIT_VERB", "AMEND_VERB", "done", "form", "note", "note_text", "submitted"]


def _field(kind: str, name: str, label: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "id": name, "label": label, "value": value, **extra}


def form(
    change: Change, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Card:
    """The change as it stands (or as typed, with the refusals)."""
    shown = {
        "what": change.what,
        "why": change.why,
        "effective_date": change.effective_date.isoformat(),
        "ack_deadline": change.ack_deadline.isoformat(),
    }
    for position, group in enumerate(change.groups):
        shown[f"today_{position}"], shown[f"group_{position}"] = group.today, group.from_effective
    shown |= values or {}
    body = [block(copy.AMEND_TITLE.format(key=change.key), size="Medium", weight="Bolder")]
    body += [block(f"⚠ {message}", color="Attention") for message in (errors or {}).values()]
    body += [
        block(copy.AMEND_INTRO, isSubtle=True),
        _field("Input.Text", "what", "What is changing", shown["what"], isMultiline=True, isRequired=True),
        _field("Input.Text", "why", "Why", shown["why"], isMultiline=True),
        _field("Input.Date", "effective_date", "Effective date", shown["effective_date"]),
        _field("Input.Date", "ack_deadline", "Acknowledge by", shown["ack_deadline"]),
    ]
    for position, group in enumerate(change.groups):
        body += [
            block(group.name, weight="Bolder"),
            _field(
                "Input.Text",
                f"today_{position}",
                "What they do today",
                shown[f"today_{position}"],
                isMultiline=True,
            ),
            _field(
                "Input.Text",
                f"group_{position}",
                "What they do from the effective date",
                shown[f"group_{position}"],
                isMultiline=True,
            ),
        ]
    data = {"key": change.key, "revision": change.revision}
    return card(body, [execute(AMEND_SUBMIT_VERB, copy.AMEND_SUBMIT, data)])


def submitted(data: dict[str, Any]) -> tuple[str, int, Amendment]:
    """The form's change key, the revision it was opened on, and what it holds."""
    key, revision = translate.identifier(data, "key"), translate.number(data, "revision")
    expectations: list[tuple[str, str]] = []
    while f"group_{len(expectations)}" in data and len(expectations) < MAX_POSITION:
        position = len(expectations)
        expectations.append(
            (translate.text(data, f"today_{position}"), translate.text(data, f"group_{position}"))
        )
    form = Amendment(
        what=translate.text(data, "what"),
        why=translate.text(data, "why"),
        effective_date=translate.day(data, "effective_date"),
        ack_deadline=translate.day(data, "ack_deadline"),
        expectations=tuple(expectations),
    )
    return key, revision, form


def done(amended: Amended) -> Card:
    changes = "; ".join(amended.changed)
    text = copy.AMENDED.format(
        key=amended.change.key, changes=changes, reasked=amended.reasked, updated=amended.updated
    )
    return card([block(text)])


def note_text(a: Announcement) -> str:
    return copy.AMENDMENT_NOTE.format(key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))


def note(a: Announcement) -> Card:
    """After the announcement in the 1:1 chat (which has no threads): please acknowledge again."""
    if a.acknowledged_at is not None:
        return card(
            [block(note_text(a)), block(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at)))]
        )
    return card([block(note_text(a))], [acknowledge_action(a)])
