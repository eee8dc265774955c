"""Inbound Teams payloads as core inputs: typed commands (mention stripped), card action data, the
announce form's fields. Pure functions; anything unreadable is InvalidInput, never an exception that
becomes an HTTP 5xx."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.teams.capacity import CAPACITY_VERBS, comment_input
from bot import copy
from bot.announce import Basics
from bot.capacity import COMMENT_LIMIT, CapacityAnswer
from bot.errors import InvalidInput
from bot.model import AudienceGroup, CustomerImpact

TEXT_LIMIT = 4000
ID_LIMIT = 200
USER_ID_LIMIT = 64  # a user id as the database keeps it
COMMANDS = ("announce-change", "change-status", "help")
SEARCH_LIMIT = 50  # typeahead results per query, at most
TZ_LIMIT = 64  # an IANA zone name, at most
_MENTION = re.compile(r"<at>[^<]*</at>", re.IGNORECASE)


def command(text: str | None) -> tuple[str, str] | None:
    """`(command, rest)` of a typed message (a leading `/` and any `<at>mention</at>` ignored), or None."""
    words = _MENTION.sub(" ", text or "").strip()
    name, _, rest = words.partition(" ")
    name = name.lstrip("/").lower()
    return (name, rest.strip()) if name in COMMANDS else None


def action_data(value: Any) -> dict[str, Any]:
    """The `data` of a card action: an invoke's `action.data` (Action.Execute) or a message's value
    (the Action.Submit fallback); {} when there is none."""
    if not isinstance(value, dict):
        return {}
    action = value.get("action")
    if isinstance(action, dict) and isinstance(action.get("data"), dict):
        return {**action["data"], "realign": action["data"].get("realign") or action.get("verb")}
    return value


def verb(data: dict[str, Any]) -> str:
    found = data.get("realign")
    return found if isinstance(found, str) else ""


def number(data: dict[str, Any], name: str) -> int:
    """A whole number the card carried (an id, a position), as the card sent it (number or text)."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidInput({"button": copy.BUTTON_UNREADABLE})
    return int(value)


def delivery_id(data: dict[str, Any]) -> int:
    return number(data, "delivery_id")


def text(data: dict[str, Any], name: str, *, limit: int = TEXT_LIMIT) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput({name: copy.UNREADABLE})
    return value[: limit + 1]


def identifier(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= ID_LIMIT:
        raise InvalidInput({name: copy.FORM_UNREADABLE})
    return value


def day(data: dict[str, Any], name: str) -> date | None:
    value = text(data, name).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput({name: copy.BAD_DATE}) from None


def clock(data: dict[str, Any], name: str) -> time | None:
    """An Input.Time's `HH:mm` (some clients add `:ss`); None when no time was chosen."""
    value = text(data, name).strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?", value):
        raise InvalidInput({name: copy.UNREADABLE})
    try:
        return time.fromisoformat(value).replace(second=0)
    except ValueError:
        raise InvalidInput({name: copy.UNREADABLE}) from None


def _yes(data: dict[str, Any], name: str) -> bool:
    """An Input.Toggle's answer ("true" / "false")."""
    return str(data.get(name)).lower() == "true"


def _choices(data: dict[str, Any], name: str) -> tuple[str, ...]:
    """An Input.ChoiceSet's answer: comma-separated values."""
    return tuple(part for part in (p.strip() for p in text(data, name).split(",")) if part)


def request(data: dict[str, Any], kind: str) -> str:
    """What makes asking from one inline form idempotent: the id the card carried, and the kind."""
    return f"teams-form:{identifier(data, 'request')[:64]}:{kind}"


def typed_ref(conversation_id: str, activity_id: str) -> str:
    """A typed message's key (Teams may deliver it again): its conversation and activity id, hashed to
    fit, since Teams ids are long."""
    digest = hashlib.sha256(f"{conversation_id}|{activity_id}".encode()).hexdigest()[:48]
    return f"teams-typed:{digest}"


@dataclass(frozen=True)
class Search:
    """An `application/search` invoke: the typeahead of a ChoiceSet whose choices come from Realign."""

    dataset: str
    text: str
    skip: int
    top: int


def search(value: Any) -> Search:
    """The invoke's query; anything unreadable asks for the first page of everyone."""
    value = value if isinstance(value, dict) else {}
    options = value.get("queryOptions") if isinstance(value.get("queryOptions"), dict) else {}

    def whole(raw: Any, default: int) -> int:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else default

    dataset = value.get("dataset")
    query = value.get("queryText")
    return Search(
        dataset=dataset if isinstance(dataset, str) else "",
        text=query[:ID_LIMIT] if isinstance(query, str) else "",
        skip=min(whole(options.get("skip"), 0), 1000),
        top=max(1, min(whole(options.get("top"), 15), SEARCH_LIMIT)),
    )


def _owner(data: dict[str, Any]) -> str | None:
    """Who answers questions: one person picked in the form (a user id), or nobody (the announcer)."""
    value = text(data, "owner", limit=USER_ID_LIMIT).strip()
    if len(value) > USER_ID_LIMIT or "," in value:
        raise InvalidInput({"owner": copy.UNREADABLE})
    return value or None


def basics(data: dict[str, Any]) -> Basics:
    impact = text(data, "customer_impact").strip() or CustomerImpact.NONE.value
    try:
        customer_impact = CustomerImpact(impact)
    except ValueError:
        raise InvalidInput({"customer_impact": copy.UNREADABLE}) from None
    return Basics(
        title=text(data, "title"),
        what=text(data, "what"),
        why=text(data, "why"),
        effective_date=day(data, "effective_date"),
        ack_deadline=day(data, "ack_deadline"),
        customer_impact=customer_impact,
        customer_plan=text(data, "customer_plan"),
        owner_id=_owner(data),
        own_words=str(data.get("own_words")).lower() == "true",
        publish_on=day(data, "publish_on"),
        publish_time=clock(data, "publish_time"),
        capacity_check=_yes(data, "capacity_check"),
    )


def group(data: dict[str, Any]) -> AudienceGroup:
    return AudienceGroup(
        name=text(data, "name").strip(),
        today=text(data, "today").strip(),
        from_effective=text(data, "from_effective").strip(),
        user_ids=_choices(data, "people"),
        channel_ids=_choices(data, "channels"),
        customer_facing=_yes(data, "customer_facing"),
    )


def capacity(data: dict[str, Any]) -> tuple[str, CapacityAnswer, str]:
    """A manager's answer to a capacity check: the change key, the answer (the verb says which), and the
    text of that answer's comment box."""
    answer = next((a for a, name in CAPACITY_VERBS.items() if name == verb(data)), None)
    if answer is None:
        raise InvalidInput({"button": copy.BUTTON_UNREADABLE})
    comment = text(data, comment_input(answer), limit=COMMENT_LIMIT)
    return identifier(data, "key"), answer, comment


def time_zone(entities: Any) -> str | None:
    """The IANA time zone an activity's `clientInfo` entity reports (`Europe/London`), if it is one
    Realign knows; a Teams roster has none, so this is where a person's time zone comes from."""
    for entity in entities if isinstance(entities, list) else ():
        # botbuilder's Entity model keeps fields it has no attribute for in `additional_properties`
        fields = (
            entity
            if isinstance(entity, dict)
            else {
                **(getattr(entity, "additional_properties", None) or {}),
                "type": getattr(entity, "type", None),
            }
        )
        found = fields.get("timezone")
        if fields.get("type") != "clientInfo" or not isinstance(found, str) or not 0 < len(found) <= TZ_LIMIT:
            continue
        try:
            ZoneInfo(found)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return found
    return None
