"""The `announce-change` form as Adaptive Cards: the basics with the first audience group, further
groups, the review (head counts, readiness warnings, a preview) and publishing. Each submission
comes back with the verb and opaque ids (the draft's ref, the change key, the group's position);
refusals are shown on the card itself, beside what was typed."""

from __future__ import annotations

from typing import Any

from adapters.teams.capacity import schedule_actions
from adapters.teams.cards import Card, block, card, execute
from adapters.teams.cards import announcement as announcement_card
from bot import copy
from bot.announce import Review
from bot.model import CustomerImpact

BASICS_VERB = "realign.basics"
GROUP_VERB = "realign.group"
PUBLISH_VERB = "realign.publish"
IMPACTS = {CustomerImpact.NONE: "None", CustomerImpact.INDIRECT: "Indirect", CustomerImpact.DIRECT: "Direct"}
Choices = list[tuple[str, str]]  # (title, value)
PEOPLE_DATASET = "realign.people"  # the typeahead of the people pickers (an `application/search` invoke)
SHOWN_PEOPLE = 25  # people listed before anything is typed; the rest are found by typing


def _choices(options: Choices) -> list[dict[str, str]]:
    return [{"title": title, "value": value} for title, value in options]


def people_picker(
    name: str, label: str, values: dict[str, Any], people: Choices, *, many: bool, **extra: Any
) -> dict[str, Any]:
    """A searchable people picker: a few people listed (and those already chosen), everyone else found
    by typing, answered from the person table (Data.Query)."""
    return _input(
        "Input.ChoiceSet",
        name,
        label,
        values,
        isMultiSelect=many,
        style="filtered",
        choices=_choices(people),
        **{"choices.data": {"type": "Data.Query", "dataset": PEOPLE_DATASET}},
        **extra,
    )


def _input(kind: str, name: str, label: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    field = {"type": kind, "id": name, "label": label, **extra}
    if values.get(name):
        field["value"] = values[name]
    return field


def _errors(errors: dict[str, str]) -> list[dict[str, Any]]:
    return [block(f"⚠ {message}", color="Attention") for message in errors.values()]


def _toggle(name: str, label: str, title: str, values: dict[str, Any]) -> dict[str, Any]:
    """A yes/no box; its answer comes back as "true" or "false", as it was when the form was sent."""
    on = str(values.get(name)).lower() == "true"
    return {
        "type": "Input.Toggle",
        "id": name,
        "label": label,
        "title": title,
        "value": "true" if on else "false",
    }


def _group_fields(
    values: dict[str, Any], people: Choices, channels: Choices, *, asks_customers: bool = True
) -> list[dict[str, Any]]:
    facing = _toggle(
        "customer_facing", "Customers (when customer impact is direct)", copy.CUSTOMER_FACING_OPTION, values
    )
    return [
        block("Audience group", weight="Bolder"),
        _input("Input.Text", "name", "Group name", values),
        people_picker("people", "People", values, people, many=True),
        _input(
            "Input.ChoiceSet",
            "channels",
            "Teams and channels",
            values,
            isMultiSelect=True,
            choices=_choices(channels),
        ),
        _input("Input.Text", "today", "What they do today", values, isMultiline=True),
        _input(
            "Input.Text", "from_effective", "What they do from the effective date", values, isMultiline=True
        ),
        *([facing] if asks_customers else []),  # who briefs customers (bot.model.announcement_for)
        {"type": "Input.Toggle", "id": "more", "title": "Add another group after this one", "value": "false"},
    ]


def basics_form(
    *,
    draft: str,
    values: dict[str, Any],
    people: Choices,
    channels: Choices,
    errors: dict[str, str] | None = None,
) -> Card:
    impact = [{"title": label, "value": impact.value} for impact, label in IMPACTS.items()]
    body = [
        block("Announce a change", size="Large", weight="Bolder"),
        *_errors(errors or {}),
        _input("Input.Text", "title", "Title", values, isRequired=True),
        _input("Input.Text", "what", "What is changing", values, isMultiline=True),
        _input("Input.Text", "why", "Why (the goal)", values, isMultiline=True),
        _input("Input.Date", "effective_date", "Effective date", values),
        _input("Input.Date", "ack_deadline", "Acknowledge by", values),
        _input("Input.ChoiceSet", "customer_impact", "Customer impact", values, choices=impact),
        _input("Input.Text", "customer_plan", "How customers will be told", values, isMultiline=True),
        {
            "type": "Input.Toggle",
            "id": "own_words",
            "label": "In your own words",
            "title": copy.OWN_WORDS_OPTION,
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if str(values.get("own_words")).lower() == "true" else "false",
        },
        _toggle("capacity_check", "Capacity check", copy.CAPACITY_OPTION, values),
        _input("Input.Date", "publish_on", "Publish on (leave empty to publish at review)", values),
        _input(
            "Input.Time",
            "publish_time",
            "Publish at (in your time zone, as your Teams reports it; a day alone publishes at 09:00)",
            values,
        ),
        people_picker(
            "owner",
            "Who answers questions and concerns (leave empty to answer them yourself)",
            values,
            people,
            many=False,
        ),
        *_group_fields(values, people, channels),
    ]
    return card(body, [execute(BASICS_VERB, "Next: review", {"draft": draft})])


def group_form(
    *,
    draft: str,
    key: str,
    position: int,
    values: dict[str, Any],
    people: Choices,
    channels: Choices,
    errors: dict[str, str] | None = None,
    asks_customers: bool | None = None,
) -> Card:
    """A further group; `asks_customers`: whether customers are directly affected (None: as the form
    submitted showed it, when it comes back with a refusal)."""
    asks = "customer_facing" in values if asks_customers is None else asks_customers
    body = [
        block(f"{key}: audience group {position + 1}", size="Large", weight="Bolder"),
        *_errors(errors or {}),
        *_group_fields(values, people, channels, asks_customers=asks),
    ]
    return card(body, [execute(GROUP_VERB, "Next", {"draft": draft, "key": key, "position": position})])


def review(r: Review) -> Card:
    change, resolution = r.change, r.resolution
    counts = "\n".join(
        f"- **{group.name}**: {n} {'person' if n == 1 else 'people'}"
        for group, n in zip(change.groups, resolution.per_group, strict=True)
    )
    body = [
        block(f"**{change.key}: {change.title}**", size="Large"),
        block(counts),
        block(f"**{len(resolution.recipients)} people in all** will get a direct message."),
        *(block(f"⚠ {warning}", color="Warning") for warning in r.warnings),
    ]
    scheduled = r.scheduled
    if scheduled is not None:
        body.insert(3, block("📅 " + copy.SCHEDULED_FOR.format(when=scheduled[0], zone=scheduled[1])))
    if r.preview is not None:
        body.append(block("Preview: everyone sees their own groups' expectations", isSubtle=True))
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": announcement_card(r.preview, preview=True)["body"],
            }
        )
    title = copy.SCHEDULE if scheduled is not None else "Publish"
    return card(body, [execute(PUBLISH_VERB, title, {"key": change.key})])


def published(key: str, recipients: int, *, note: str = "", scheduled: tuple[str, str] | None = None) -> Card:
    """How publishing went; a scheduled change says when it goes out, with Publish now and Cancel."""
    if scheduled is not None and not note:
        when, zone = scheduled
        body = [block(copy.SCHEDULED_ON_CARD.format(key=key, when=when, zone=zone))]
        return card(body, schedule_actions(key))
    return card(
        [
            block(note or copy.PUBLISHED.format(key=key, count=recipients)),
            block(f"Follow it with `change-status {key}`."),
        ]
    )
