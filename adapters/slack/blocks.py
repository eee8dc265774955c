"""Block Kit building blocks every Slack view is made of: text, sections, inputs, modals, buttons, and
fitting text into Slack's limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import copy
from bot.announce import TEXT_LIMIT, length

Block = dict[str, Any]
SECTION_LIMIT = 3000  # Slack's limit for a section's (and a context element's) text
HEADER_LIMIT = 150  # and for a header's


def text(value: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": value, "emoji": True}


def clip(value: str, limit: int = SECTION_LIMIT) -> str:
    """`value`, or its start and a visible "…" when it is longer than Slack takes. Validation keeps
    everything people type below the limits, so in practice this never cuts."""
    if length(value) <= limit:
        return value
    cut = value[: limit - 1]
    cut = cut[: len(cut) - max(0, length(cut) - (limit - 1))]
    return cut + "…"


def listing(
    lines: Sequence[str], *, total: int | None = None, budget: int = SECTION_LIMIT, sep: str = "\n"
) -> str:
    """As many of `lines` as fit in `budget` characters, then "…and N more" for the rest (`total`: how
    many there are in all, when `lines` are only the first of them). Never cuts inside a line."""
    total = len(lines) if total is None else total
    joined = sep.join(lines)
    if total == len(lines) and length(joined) <= budget:
        return joined
    reserve = length(sep) + length(copy.STATUS_AND_MORE.format(count=total))
    shown: list[str] = []
    used = 0
    for line in lines:
        cost = length(line) + (length(sep) if shown else 0)
        if used + cost + reserve > budget:
            break
        shown.append(line)
        used += cost
    return sep.join([*shown, copy.STATUS_AND_MORE.format(count=total - len(shown))])


def section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown)}}


def context(markdown: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(markdown)}]}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": text(clip(label, 75)), "value": value}


def field(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = ""
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": text(label),
        "optional": optional,
        "element": {"action_id": "value", **element},
    }
    if hint:
        block["hint"] = text(hint)
    return block


def text_input(
    initial: str = "", *, multiline: bool = False, placeholder: str = "", limit: int = TEXT_LIMIT
) -> dict[str, Any]:
    """A text box that takes at most `limit` characters. A longer `initial` value (a title typed after
    the slash command) is shown whole where it fits, and validation then asks for a shorter one."""
    initial = clip(initial, SECTION_LIMIT)
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max(limit, length(initial)),
    }
    if initial:
        element["initial_value"] = initial
    if placeholder:
        element["placeholder"] = text(placeholder)
    return element


def modal(
    callback_id: str, title: str, blocks: list[Block], *, submit: str | None, meta: dict[str, Any]
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": text(title[:24]),
        "close": text("Cancel"),
        "blocks": blocks,
        "private_metadata": json.dumps(meta),
    }
    if submit:
        view["submit"] = text(submit[:24])
    return view


def button(action_id: str, label: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": text(label), "value": value}
