"""Slack payloads to core inputs: modal state to forms, button values to ids."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bot.announce import Basics
from bot.model import AudienceGroup, CustomerImpact
from bot.ports import MessageRef


def _values(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """block_id -> the element state of our single `value` action in that block."""
    return {block: actions.get("value", {}) for block, actions in view["state"]["values"].items()}


def _text(values: dict[str, dict[str, Any]], block: str) -> str:
    return str(values.get(block, {}).get("value") or "")


def _date(values: dict[str, dict[str, Any]], block: str) -> date | None:
    raw = values.get(block, {}).get("selected_date")
    return date.fromisoformat(raw) if raw else None


def _selected(values: dict[str, dict[str, Any]], block: str) -> list[str]:
    state = values.get(block, {})
    if "selected_users" in state:
        return list(state["selected_users"] or [])
    if "selected_conversations" in state:
        return list(state["selected_conversations"] or [])
    return [item["value"] for item in state.get("selected_options") or []]


def _chosen(values: dict[str, dict[str, Any]], block: str) -> str | None:
    option = values.get(block, {}).get("selected_option") or {}
    return option.get("value")


def meta(view: dict[str, Any]) -> dict[str, Any]:
    raw = view.get("private_metadata") or "{}"
    return dict(json.loads(raw))


def basics(view: dict[str, Any]) -> Basics:
    values = _values(view)
    impact = _chosen(values, "customer_impact") or "none"
    return Basics(
        title=_text(values, "title"),
        what=_text(values, "what"),
        why=_text(values, "why"),
        effective_date=_date(values, "effective_date"),
        ack_deadline=_date(values, "ack_deadline"),
        customer_impact=CustomerImpact(impact),
        customer_plan=_text(values, "customer_plan"),
        remind_after=_text(values, "remind_after"),
        reminders=int(reminders) if (reminders := _chosen(values, "reminders")) else None,
        escalate_after=_text(values, "escalate_after"),
    )


def group(view: dict[str, Any]) -> tuple[AudienceGroup, bool]:
    """The group typed into the modal, and whether the announcer asked to add another one."""
    values = _values(view)
    audience = AudienceGroup(
        name=_text(values, "name").strip(),
        today=_text(values, "today").strip(),
        from_effective=_text(values, "from_effective").strip(),
        user_ids=tuple(_selected(values, "people")),
        usergroup_ids=tuple(_selected(values, "usergroups")),
        channel_ids=tuple(_selected(values, "channels")),
    )
    return audience, "yes" in _selected(values, "more")


def clicked_message(body: dict[str, Any]) -> MessageRef | None:
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    return MessageRef(channel, ts) if channel and ts else None
