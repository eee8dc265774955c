"""The Teams announce card's scheduled publish, capacity check and customer-facing parts, and the capacity
check's answers, as pure functions: what the cards ask, and what their submissions are read as."""

from __future__ import annotations

from datetime import date, time

import pytest

from adapters.teams import forms, translate
from adapters.teams.capacity import CAPACITY_VERBS, answer_actions
from bot.capacity import CapacityAnswer
from bot.errors import InvalidInput


def ids(card: dict) -> list[str]:
    return [field["id"] for field in card["body"] if "id" in field]


def test_the_basics_card_asks_the_schedule_the_capacity_check_and_customers() -> None:
    card = forms.basics_form(draft="d", values={"capacity_check": "true"}, people=[], channels=[])

    assert {"publish_on", "publish_time", "capacity_check", "customer_facing"} <= set(ids(card))
    kinds = {field["id"]: field["type"] for field in card["body"] if "id" in field}
    assert (kinds["publish_on"], kinds["publish_time"]) == ("Input.Date", "Input.Time")
    assert next(f for f in card["body"] if f.get("id") == "capacity_check")["value"] == "true"


def test_a_further_group_asks_about_customers_only_when_they_are_directly_affected() -> None:
    def group(**options: object) -> dict:
        return forms.group_form(draft="d", key="CHG-1", position=1, people=[], channels=[], **options)

    assert "customer_facing" in ids(group(values={}, asks_customers=True))
    assert "customer_facing" not in ids(group(values={}, asks_customers=False))
    assert "customer_facing" in ids(group(values={"customer_facing": "false"}))  # back as it was sent
    assert "customer_facing" not in ids(group(values={"name": "x"}))


def test_the_submission_is_read_as_the_same_form_types_slack_fills() -> None:
    data = {
        "title": "T",
        "what": "W",
        "publish_on": "2026-12-01",
        "publish_time": "11:00",
        "capacity_check": "true",
        "customer_facing": "true",
        "people": "a",
    }

    basics, group = translate.basics(data), translate.group(data)

    assert (basics.publish_on, basics.publish_time) == (date(2026, 12, 1), time(11, 0))
    assert basics.capacity_check is True and group.customer_facing is True
    assert translate.basics({"publish_time": "11:00:30"}).publish_time == time(11, 0)
    assert translate.basics({}).publish_time is None and translate.group({}).customer_facing is False
    with pytest.raises(InvalidInput) as refused:
        translate.basics({"publish_time": "eleven"})
    assert list(refused.value.errors) == ["publish_time"]


def test_each_answer_has_its_own_verb_and_comment_box() -> None:
    actions = answer_actions("CHG-3")
    verbs = [a["card"]["actions"][0]["verb"] for a in actions]
    boxes = [a["card"]["body"][0] for a in actions]

    assert verbs == [CAPACITY_VERBS[a] for a in CapacityAnswer] and len(set(verbs)) == 3
    assert [b["isRequired"] for b in boxes] == [False, True, True]  # a Yes needs no comment
    no = {"realign": CAPACITY_VERBS[CapacityAnswer.NO], "key": "CHG-3", "comment_no": "On leave."}
    assert translate.capacity(no | {"comment_yes": "ignored"}) == ("CHG-3", CapacityAnswer.NO, "On leave.")
    with pytest.raises(InvalidInput):
        translate.capacity({"realign": "realign.capacity_maybe", "key": "CHG-3"})
