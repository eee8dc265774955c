"""Slack payloads to core inputs: modal state to forms, button values to ids.

Payloads come from outside: anything that is not what Slack sends (a missing field, a wrong type, a
malformed date, garbage metadata) is refused with InvalidInput naming the block to fix, never with a
KeyError, ValueError or TypeError."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from bot import copy
from bot.amend import Amendment
from bot.announce import Basics
from bot.capacity import CapacityAnswer
from bot.errors import InvalidInput
from bot.model import MAX_GROUPS, AudienceGroup, CustomerImpact
from bot.ports import MessageRef
from bot.questions import QuestionKind

METADATA_LIMIT = 3000  # Slack's limit for a view's private_metadata
ID_LIMIT = 64  # longer than any Slack id (and the directory's column)
KEY = re.compile(r"CHG-[0-9]{1,10}")
NUMBER = re.compile(r"[0-9]{1,18}")  # a delivery id: fits a signed 64-bit column
Values = dict[str, Any]


def unreadable(block: str, message: str = copy.UNREADABLE) -> InvalidInput:
    return InvalidInput({block: message})


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _clean(value: object, block: str) -> str:
    """A string the database can hold (no NUL, no lone surrogate), or InvalidInput on `block`."""
    if not isinstance(value, str) or "\x00" in value:
        raise unreadable(block)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise unreadable(block) from None
    return value


def _values(view: object) -> Values:
    """block_id -> what Slack sent for that block (a view without state has nothing filled in)."""
    return _mapping(_mapping(_mapping(view).get("state")).get("values"))


def _element(values: Values, block: str) -> dict[str, Any]:
    """The state of our single `value` element in `block` ({} when the block sent nothing)."""
    if block not in values:
        return {}
    actions = values[block]
    element = actions.get("value", {}) if isinstance(actions, dict) else None
    if not isinstance(element, dict):
        raise unreadable(block)
    return element


def _text(values: Values, block: str) -> str:
    raw = _element(values, block).get("value")
    return "" if raw is None else _clean(raw, block)


def _date(values: Values, block: str) -> date | None:
    raw = _element(values, block).get("selected_date")
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(_clean(raw, block))
    except ValueError:
        raise unreadable(block) from None


def _time(values: Values, block: str) -> time | None:
    """A timepicker's `HH:MM` (None: no time chosen)."""
    raw = _element(values, block).get("selected_time")
    if raw is None or raw == "":
        return None
    cleaned = _clean(raw, block)
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}", cleaned):
        raise unreadable(block)
    try:
        return time.fromisoformat(cleaned)
    except ValueError:
        raise unreadable(block) from None


def _ids(items: object, block: str) -> list[str]:
    if not isinstance(items, list):
        raise unreadable(block)
    ids = [_clean(item, block) for item in items]
    if any(not item or len(item) > ID_LIMIT for item in ids):
        raise unreadable(block)
    return ids


def _selected(values: Values, block: str) -> list[str]:
    state = _element(values, block)
    for name in ("selected_users", "selected_conversations"):
        if name in state:
            return [] if state[name] is None else _ids(state[name], block)
    options = state.get("selected_options")
    if options is None:
        return []
    if not isinstance(options, list):
        raise unreadable(block)
    return _ids([_mapping(item).get("value") for item in options], block)


def _chosen(values: Values, block: str) -> str | None:
    option = _element(values, block).get("selected_option")
    if option is None:
        return None
    return _clean(_mapping(option).get("value"), block)


def _user(values: Values, block: str) -> str | None:
    """A single users_select's choice (None: nobody chosen)."""
    raw = _element(values, block).get("selected_user")
    if raw is None or raw == "":
        return None
    return _ids([raw], block)[0]


def _impact(values: Values) -> CustomerImpact:
    try:
        return CustomerImpact(_chosen(values, "customer_impact") or "none")
    except ValueError:
        raise unreadable("customer_impact") from None


def _reminders(values: Values) -> int | None:
    raw = _chosen(values, "reminders")
    if raw is None or raw == "":
        return None
    if not re.fullmatch(r"[0-9]{1,3}", raw):
        raise unreadable("reminders")
    return int(raw)


def meta(view: object, *, block: str = "people") -> dict[str, Any]:
    """The view's private metadata (what Realign put there), or InvalidInput on `block`."""
    raw = _mapping(view).get("private_metadata") or "{}"
    if not isinstance(raw, str) or len(raw) > METADATA_LIMIT:
        raise unreadable(block, copy.FORM_UNREADABLE)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise unreadable(block, copy.FORM_UNREADABLE) from None
    if not isinstance(data, dict):
        raise unreadable(block, copy.FORM_UNREADABLE)
    return data


def change_key(data: dict[str, Any], *, block: str = "people") -> str:
    key = data.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise unreadable(block, copy.FORM_UNREADABLE)
    return key


def group_step(view: object) -> tuple[str, int]:
    """The change key and group position the group modal was opened for."""
    data = meta(view)
    position = data.get("position")
    if type(position) is not int or not 0 <= position < MAX_GROUPS:
        raise unreadable("people", copy.FORM_UNREADABLE)
    return change_key(data), position


def basics(view: object) -> Basics:
    values = _values(view)
    return Basics(
        title=_text(values, "title"),
        what=_text(values, "what"),
        why=_text(values, "why"),
        effective_date=_date(values, "effective_date"),
        ack_deadline=_date(values, "ack_deadline"),
        customer_impact=_impact(values),
        customer_plan=_text(values, "customer_plan"),
        remind_after=_text(values, "remind_after"),
        reminders=_reminders(values),
        escalate_after=_text(values, "escalate_after"),
        owner_id=_user(values, "owner"),
        own_words="yes" in _selected(values, "own_words"),
        publish_on=_date(values, "publish_on"),
        publish_time=_time(values, "publish_time"),
        capacity_check="yes" in _selected(values, "capacity_check"),
    )


def group(view: object) -> tuple[AudienceGroup, bool]:
    """The group typed into the modal, and whether the announcer asked to add another one."""
    values = _values(view)
    audience = AudienceGroup(
        name=_text(values, "name").strip(),
        today=_text(values, "today").strip(),
        from_effective=_text(values, "from_effective").strip(),
        user_ids=tuple(_selected(values, "people")),
        usergroup_ids=tuple(_selected(values, "usergroups")),
        channel_ids=tuple(_selected(values, "channels")),
        customer_facing="yes" in _selected(values, "customer_facing"),
    )
    return audience, "yes" in _selected(values, "more")


def _id(value: object, block: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= ID_LIMIT:
        raise unreadable(block, copy.FORM_UNREADABLE)
    return _clean(value, block)


def user_id(body: object, *, block: str = "people") -> str:
    """Who sent an interaction (a view submission or a click)."""
    return _id(_mapping(_mapping(body).get("user")).get("id"), block)


def view_id(view: object, *, block: str = "people") -> str:
    return _id(_mapping(view).get("id"), block)


def command_user(body: object) -> str:
    """Who ran a slash command."""
    return _id(_mapping(body).get("user_id"), "user_id")


def command_text(body: object) -> str:
    """What was typed after a slash command, as text the database can hold ('' when it is not text)."""
    text = _mapping(body).get("text")
    if not isinstance(text, str):
        return ""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def delivery_id(action: object) -> int:
    """The delivery an Acknowledge button stands for."""
    value = _mapping(action).get("value")
    if not isinstance(value, str) or not NUMBER.fullmatch(value) or int(value) == 0:
        raise unreadable("value", copy.BUTTON_UNREADABLE)
    return int(value)


def button_key(action: object) -> str:
    """The change key a status button (Retry, Close) stands for."""
    value = _mapping(action).get("value")
    if not isinstance(value, str) or not KEY.fullmatch(value):
        raise unreadable("value", copy.BUTTON_UNREADABLE)
    return value


def clicked_message(body: object) -> MessageRef | None:
    container = _mapping(_mapping(body).get("container"))
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not (isinstance(channel, str) and isinstance(ts, str) and channel and ts):
        return None
    if len(channel) > ID_LIMIT or len(ts) > ID_LIMIT or "\x00" in channel + ts:
        return None
    return MessageRef(channel, ts)


# --- questions and answers --------------------------------------------------------------------------------


def question_kind(action: object) -> QuestionKind:
    """Which of the announcement's asking buttons was clicked."""
    action_id = _mapping(action).get("action_id")
    return QuestionKind.CONCERN if action_id == "realign.concern" else QuestionKind.QUESTION


def question_id(action: object) -> int:
    """The question an Answer or Mark resolved button stands for."""
    return delivery_id(action)  # the same shape: a positive number


def trigger_id(body: object) -> str | None:
    value = _mapping(body).get("trigger_id")
    return value if isinstance(value, str) and 0 < len(value) <= 256 else None


def question_form(view: object) -> tuple[str, QuestionKind, str]:
    """The change key, kind and text of a submitted question form."""
    data = meta(view, block="question")
    try:
        kind = QuestionKind(str(data.get("kind")))
    except ValueError:
        raise unreadable("question", copy.FORM_UNREADABLE) from None
    return change_key(data, block="question"), kind, _text(_values(view), "question")


def answer_form(view: object) -> tuple[int, str]:
    """The question id and the answer of a submitted answer form."""
    number = meta(view, block="answer").get("question")
    if type(number) is not int or not 0 < number < 2**63:
        raise unreadable("answer", copy.FORM_UNREADABLE)
    return number, _text(_values(view), "answer")


@dataclass(frozen=True)
class TypedReply:
    """A message a person typed into their DM with Realign (the messages tab)."""

    user_id: str
    text: str
    channel: str
    ts: str
    thread: MessageRef | None

    @property
    def ref(self) -> str:
        """What makes asking idempotent when Slack delivers the event twice."""
        return f"im:{self.channel}:{self.ts}"


def typed_reply(event: object) -> TypedReply | None:
    """A person's own new message in a DM, or None for anything else (a bot's message, an edit, a
    deletion, a channel message, a malformed event): those are not questions."""
    e = _mapping(event)
    if e.get("channel_type") != "im" or e.get("subtype") is not None or e.get("bot_id") is not None:
        return None
    user, text, channel, ts = (e.get(name) for name in ("user", "text", "channel", "ts"))
    fields = (user, channel, ts)
    if not all(isinstance(f, str) and 0 < len(f) <= ID_LIMIT and "\x00" not in f for f in fields):
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        cleaned = _clean(text, "question")
    except InvalidInput:
        return None
    thread_ts = e.get("thread_ts")
    thread = None
    if isinstance(thread_ts, str) and 0 < len(thread_ts) <= ID_LIMIT and thread_ts != ts:
        thread = MessageRef(str(channel), thread_ts)
    return TypedReply(str(user), cleaned, str(channel), str(ts), thread)


def own_words_form(view: object) -> tuple[int, str, MessageRef | None]:
    """The delivery, the line typed, and the message the Acknowledge button was clicked in."""
    data = meta(view, block="own_words")
    number = data.get("delivery")
    if type(number) is not int or not 0 < number < 2**63:
        raise unreadable("own_words", copy.FORM_UNREADABLE)
    channel, ts = data.get("channel"), data.get("ts")
    clicked = None
    if (
        isinstance(channel, str)
        and isinstance(ts, str)
        and 0 < len(channel) <= ID_LIMIT
        and 0 < len(ts) <= ID_LIMIT
    ):
        clicked = MessageRef(channel, ts)
    return number, _text(_values(view), "own_words"), clicked


# --- the capacity check ------------------------------------------------------------------------------------

CAPACITY_ACTIONS = {
    "realign.capacity_yes": CapacityAnswer.YES,
    "realign.capacity_help": CapacityAnswer.HELP,
    "realign.capacity_no": CapacityAnswer.NO,
}


def capacity_choice(action: object) -> tuple[str, CapacityAnswer]:
    """The change key and the answer of a Yes / Need help / No button."""
    answer = CAPACITY_ACTIONS.get(str(_mapping(action).get("action_id")))
    if answer is None:
        raise unreadable("value", copy.BUTTON_UNREADABLE)
    return button_key(action), answer


def capacity_form(view: object) -> tuple[str, CapacityAnswer, str]:
    """The change key, the answer chosen and the comment of a submitted capacity form."""
    data = meta(view, block="comment")
    try:
        answer = CapacityAnswer(str(data.get("answer")))
    except ValueError:
        raise unreadable("comment", copy.FORM_UNREADABLE) from None
    return change_key(data, block="comment"), answer, _text(_values(view), "comment")


def amendment(view: object) -> tuple[str, int, Amendment]:
    """The amend form: the change key, the revision it was opened on, and what it holds now."""
    data = meta(view, block="what")
    key, revision = change_key(data, block="what"), data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise unreadable("what", copy.FORM_UNREADABLE)
    values = _values(view)
    expectations: list[tuple[str, str]] = []
    while f"group_{len(expectations)}" in values and len(expectations) < MAX_GROUPS:
        position = len(expectations)
        expectations.append((_text(values, f"today_{position}"), _text(values, f"group_{position}")))
    form = Amendment(
        what=_text(values, "what"),
        why=_text(values, "why"),
        effective_date=_date(values, "effective_date"),
        ack_deadline=_date(values, "ack_deadline"),
        expectations=tuple(expectations),
    )
    return key, revision, form
