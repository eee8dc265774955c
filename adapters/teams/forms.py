"""The `announce-change` form as Adaptive Cards: the basics with the first audience group, further
groups, the review (head counts, readiness warnings, a preview) and publishing. Each submission
comes back with the verb and opaque ids (the draft's ref, the change key, the group's position);
refusals are shown on the card itself, beside what was typed."""

from __future__ import annotations

from typing import Any

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


def _group_fields(values: dict[str, Any], people: Choices, channels: Choices) -> list[dict[str, Any]]:
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
) -> Card:
    body = [
        block(f"{key}: audience group {position + 1}", size="Large", weight="Bolder"),
        *_errors(errors or {}),
        *_group_fields(values, people, channels),
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
    if r.preview is not None:
        body.append(block("Preview: everyone sees their own groups' expectations", isSubtle=True))
        body.append(
            {
                "type": "Container",
                "style": "emphasis",
                "items": announcement_card(r.preview, preview=True)["body"],
            }
        )
    return card(body, [execute(PUBLISH_VERB, "Publish", {"key": change.key})])


def published(key: str, recipients: int, *, note: str = "") -> Card:
    return card(
        [
            block(note or copy.PUBLISHED.format(key=key, count=recipients)),
            block(f"Follow it with `change-status {key}`."),
        ]
    )
