"""Property-based tests of what reads a Slack payload, and of the Block Kit limits.

Translators: whatever the payload (missing fields, wrong types, huge strings, odd Unicode), they return
a core input or raise InvalidInput naming a block of the modal, nothing else. Rendering: whatever
validation lets through fits Slack's limits, uncut. The handlers, over HTTP, are in
tests/e2e/test_slack_properties.py.
"""

from __future__ import annotations

import operator
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack import render, translate
from bot import copy
from bot.announce import NAME_LIMIT, TEXT_LIMIT, TITLE_LIMIT, Basics, length
from bot.capacity import CapacityAnswer
from bot.errors import InvalidInput
from bot.model import (
    MAX_GROUPS,
    Announcement,
    AudienceGroup,
    Change,
    ChangeState,
    DeliveryState,
    Expectation,
    GapReport,
    PendingPerson,
)
from bot.ports import ChangeSummary, PersonState, TallyRow
from bot.questions import QuestionKind
from bot.status import ChangeStatus, fold
from tests.e2e.test_slack_flow import basics as valid_basics
from tests.fakes.slack_requests import typed

# --- strategies ----------------------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "\x00",
    "\ud800",
    "²",
    "CHG-²",
    "chg-0",
    "CHG--1",
    "9" * 30,
    "😀" * 10,
    "\u202ertl",
    "<!channel>",
    "09:30",
    "24:00",
    "9:3",
    "\uff12\uff13:\uff10\uff10",  # full-width digits
]
huge = st.builds(operator.mul, st.sampled_from(["x", "😀", "é", "\x00"]), st.integers(2900, 6000))
odd_text = st.text(max_size=30) | st.sampled_from(ODD) | huge
leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text
json_values = st.recursive(
    leaf,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=8,
)
element_keys = ["type", "value", "selected_date", "selected_option", "selected_users"]
element_keys += ["selected_conversations", "selected_options", "selected_time"]
any_element = st.dictionaries(st.sampled_from(element_keys), json_values, max_size=4) | json_values
BASICS_BLOCKS = [block["block_id"] for block in render.basics_modal()["blocks"]]
GROUP_BLOCKS = ["name", "people", "usergroups", "channels", "today", "from_effective", "more"]
GROUP_BLOCKS += ["customer_facing"]


def view_with(blocks: list[str]) -> st.SearchStrategy[Any]:
    state_values = st.dictionaries(
        st.sampled_from(blocks) | st.text(max_size=5),
        st.fixed_dictionaries({}, optional={"value": any_element}) | json_values,
        max_size=6,
    )
    view = st.fixed_dictionaries(
        {},
        optional={
            "id": json_values,
            "private_metadata": json_values,
            "state": st.fixed_dictionaries({}, optional={"values": state_values | json_values}) | json_values,
        },
    )
    return view | json_values


def check_refusal(error: InvalidInput, blocks: list[str]) -> None:
    assert error.errors and set(error.errors) <= set(blocks), error.errors
    assert all(isinstance(message, str) and message for message in error.errors.values())


# --- translators ----------------------------------------------------------------------------------------


@given(view_with(BASICS_BLOCKS))
def test_basics_read_any_payload_or_name_the_block_to_fix(view: Any) -> None:
    try:
        form = translate.basics(view)
    except InvalidInput as error:
        check_refusal(error, BASICS_BLOCKS)
        return
    assert isinstance(form, Basics)
    assert all("\x00" not in getattr(form, name) for name in ("title", "what", "why", "customer_plan"))


@given(view_with(GROUP_BLOCKS))
def test_groups_read_any_payload_or_name_the_block_to_fix(view: Any) -> None:
    try:
        group, more = translate.group(view)
    except InvalidInput as error:
        check_refusal(error, GROUP_BLOCKS)
        return
    assert isinstance(group, AudienceGroup) and isinstance(more, bool)
    assert all(isinstance(i, str) and 0 < len(i) <= 64 for i in group.user_ids + group.channel_ids)


meta_text = st.builds(
    lambda key, position: f'{{"key": {key}, "position": {position}}}',
    st.sampled_from(['"CHG-1"', '"CHG-²"', '"CHG-99999999999"', "1", "null", '"x"']),
    st.sampled_from(["0", "-1", "19", "20", "true", "1.5", '"0"', "99999999999999999999999"]),
)
metadata = json_values | meta_text | st.sampled_from(["[" * 5000 + "]" * 5000, "{", "x" * 4000])


@given(st.fixed_dictionaries({"private_metadata": metadata}) | json_values)
def test_garbage_metadata_is_refused_not_crashed_on(view: Any) -> None:
    try:
        key, position = translate.group_step(view)
    except InvalidInput as error:
        assert error.errors == {"people": copy.FORM_UNREADABLE}
        return
    assert key.startswith("CHG-") and 0 <= position < MAX_GROUPS


@given(json_values | st.fixed_dictionaries({"value": json_values | odd_text}))
def test_a_button_value_is_an_id_or_refused(action: Any) -> None:
    try:
        delivery_id = translate.delivery_id(action)
    except InvalidInput as error:
        assert error.errors == {"value": copy.BUTTON_UNREADABLE}
    else:
        assert 0 < delivery_id < 2**63
    try:
        key = translate.button_key(action)
    except InvalidInput:
        return
    assert key.startswith("CHG-") and key[4:].isascii() and key[4:].isdigit()


@given(json_values | st.fixed_dictionaries({}, optional={"user": json_values, "container": json_values}))
def test_who_clicked_and_where_is_read_or_refused(body: Any) -> None:
    ref = translate.clicked_message(body)
    assert ref is None or (isinstance(ref.conversation, str) and isinstance(ref.id, str))
    try:
        assert isinstance(translate.user_id(body), str)
    except InvalidInput as error:
        assert set(error.errors) == {"people"}


readable = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=200)


@given(title=readable, what=readable, today=readable, name=readable)
def test_what_people_type_reaches_the_core_as_typed(title: str, what: str, today: str, name: str) -> None:
    view = {"state": {"values": {b: {"value": e} for b, e in valid_basics(title=typed(title)).items()}}}
    view["state"]["values"]["what"] = {"value": typed(what)}
    form = translate.basics(view)
    assert (form.title, form.what, form.effective_date) == (title, what, date(2026, 12, 14))
    group_view = {"state": {"values": {"today": {"value": typed(today)}, "name": {"value": typed(name)}}}}
    group, _ = translate.group(group_view)
    assert (group.today, group.name) == (today.strip(), name.strip())


# --- Block Kit limits ------------------------------------------------------------------------------------


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text object's text (sections, headers, context elements, buttons)."""
    found = [block["text"] for block in blocks if "text" in block]
    found += [e["text"] for block in blocks for e in block.get("elements", []) if "text" in e]
    return [text["text"] if isinstance(text, dict) else text for text in found]


def within_limits(blocks: list[dict[str, Any]], *, most: int = 50) -> None:
    assert len(blocks) <= most
    for block in blocks:
        limit = render.HEADER_LIMIT if block["type"] == "header" else render.SECTION_LIMIT
        for text in texts([block]):
            assert length(text) <= limit


def largest_announcement(fill: str) -> Announcement:
    def full(limit: int) -> str:
        return (fill * limit)[:limit] if length(fill) == 1 else fill * (limit // 2)

    expectations = tuple(
        Expectation(
            f"G{n}", today=full(TEXT_LIMIT - 2) + f"{n:02}", from_effective=full(TEXT_LIMIT - 2) + f"{n:02}"
        )
        for n in range(MAX_GROUPS)
    )
    return Announcement(
        change_key="CHG-2147483647",
        title=full(TITLE_LIMIT),
        what=full(TEXT_LIMIT),
        why=full(TEXT_LIMIT),
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 18),
        announcer_id="U" + "A" * 63,
        expectations=expectations,
        delivery_id=2**63 - 1,
    )


@pytest.mark.parametrize("fill", ["x", "😀"])
def test_the_largest_announcement_fits_uncut(fill: str) -> None:
    announcement = largest_announcement(fill)
    blocks = render.announcement(announcement)

    within_limits(blocks)
    shown = "\n".join(texts(blocks))
    assert "…" not in shown
    for item in announcement.expectations:
        assert item.today in shown and item.from_effective in shown
    assert announcement.what in shown and announcement.why in shown
    assert announcement.title in blocks[0]["text"]["text"]


def status_of(groups: int, people: int, *, id_length: int) -> ChangeStatus:
    change = Change(
        workspace="T1",
        announcer_id="UANN",
        title="t" * TITLE_LIMIT,
        what="w",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 18),
        state=ChangeState.PUBLISHED,
        key="CHG-1",
        id=1,
        groups=[AudienceGroup("n" * NAME_LIMIT, from_effective="f") for _ in range(groups)],
    )
    everyone = (1 << groups) - 1
    pending = [
        PersonState(f"U{n:0{id_length - 1}d}", "P", everyone, DeliveryState.DELIVERED) for n in range(people)
    ]
    failed = [
        PersonState(
            f"U{n:0{id_length - 1}d}", "P", everyone, DeliveryState.FAILED, "gave up after 99 attempts"
        )
        for n in range(people)
    ]
    rows = [TallyRow(everyone, DeliveryState.FAILED, False, 10**6)]
    totals, group_status = fold(change, rows)
    return ChangeStatus(change, totals, group_status, pending, failed)


@given(groups=st.integers(0, MAX_GROUPS), people=st.integers(0, 50), id_length=st.sampled_from([11, 64]))
def test_change_status_never_builds_more_than_slack_shows(groups: int, people: int, id_length: int) -> None:
    blocks = render.detail(status_of(groups, people, id_length=id_length))
    within_limits(blocks)
    assert "gave up" not in str(blocks)


@given(managers=st.integers(0, 40), departments=st.integers(1, 400), failed=st.integers(0, 60))
def test_a_gap_report_fits_and_says_who_it_leaves_out(managers: int, departments: int, failed: int) -> None:
    change = status_of(1, 0, id_length=11).change
    pending = tuple(
        PendingPerson(
            n, 1, f"U{n:010d}", "P", 1, manager_id=f"M{n % max(managers, 1)}", department=f"D{n:04d}" * 9
        )
        for n in range(max(departments, managers))
    )
    gone = tuple(PendingPerson(n, 1, f"U{n:010d}", "P", reason="account_inactive") for n in range(failed))
    blocks = render.gap_report(GapReport(change, pending, gone))

    within_limits(blocks)
    shown = str(blocks)
    assert "account_inactive" not in shown
    assert (managers > 20) == ("more managers" in shown)
    assert "…" not in shown.replace("…and", "")  # whatever is left out is counted, never cut


@given(st.integers(0, 300))
def test_the_list_of_changes_is_capped_and_says_how_many_more(changes: int) -> None:
    summaries = [ChangeSummary(f"CHG-{n}", "t" * TITLE_LIMIT, "published", 1, 2) for n in range(changes)]
    blocks = render.overview(summaries)
    within_limits(blocks)
    if changes > render.OVERVIEW_SHOWN:
        more = copy.STATUS_AND_MORE.format(count=changes - render.OVERVIEW_SHOWN)
        assert blocks[-1]["elements"][0]["text"] == more


@given(
    st.lists(st.text(st.characters(exclude_characters="\n,"), max_size=120), max_size=300),
    st.integers(40, 3000),
    st.sampled_from(["\n", ", "]),
)
def test_a_listing_fits_its_budget_and_counts_what_it_leaves_out(
    lines: list[str], budget: int, sep: str
) -> None:
    shown = render.listing(lines, budget=budget, sep=sep)
    assert length(shown) <= budget
    if shown != sep.join(lines):
        kept = shown.split(sep)[:-1]
        assert kept == lines[: len(kept)]
        assert shown.endswith(copy.STATUS_AND_MORE.format(count=len(lines) - len(kept)))


# --- questions and answers ------------------------------------------------------------------------------

question_meta = st.builds(
    lambda key, kind: f'{{"key": {key}, "kind": {kind}}}',
    st.sampled_from(['"CHG-1"', '"CHG-²"', "1", "null"]),
    st.sampled_from(['"question"', '"concern"', '"praise"', "1", "null"]),
)


@given(
    view_with(["question"])
    | st.fixed_dictionaries({"private_metadata": metadata | question_meta}, optional={"state": json_values})
)
def test_a_question_form_reads_any_payload_or_names_the_question(view: Any) -> None:
    try:
        key, kind, text = translate.question_form(view)
    except InvalidInput as error:
        check_refusal(error, ["question"])
        return
    assert key.startswith("CHG-") and isinstance(kind, QuestionKind) and "\x00" not in text


@given(
    view_with(["answer"])
    | st.fixed_dictionaries(
        {
            "private_metadata": metadata
            | st.sampled_from(['{"question": 1}', '{"question": -1}', '{"question": 1e3}'])
        },
        optional={"state": json_values},
    )
)
def test_an_answer_form_reads_any_payload_or_names_the_answer(view: Any) -> None:
    try:
        number, text = translate.answer_form(view)
    except InvalidInput as error:
        check_refusal(error, ["answer"])
        return
    assert 0 < number < 2**63 and "\x00" not in text


@given(
    json_values
    | st.fixed_dictionaries(
        {},
        optional={
            name: json_values | odd_text | st.sampled_from(["im", "U1", "D1", "1.5"])
            for name in ("channel_type", "user", "channel", "text", "ts", "thread_ts", "subtype", "bot_id")
        },
    )
)
def test_a_typed_reply_is_read_or_ignored(event: Any) -> None:
    reply = translate.typed_reply(event)
    if reply is None:
        return
    assert event["channel_type"] == "im" and event.get("subtype") is None
    assert reply.text.strip() and "\x00" not in reply.text and 0 < len(reply.user_id) <= 64
    assert reply.thread is None or reply.thread.id != reply.ts


@given(
    view_with(["own_words"])
    | st.fixed_dictionaries(
        {"private_metadata": metadata | st.sampled_from(['{"delivery": 1}', '{"delivery": 1, "ts": 5}'])},
        optional={"state": json_values},
    )
)
def test_an_own_words_form_reads_any_payload_or_names_the_line(view: Any) -> None:
    try:
        delivery_id, text, clicked = translate.own_words_form(view)
    except InvalidInput as error:
        check_refusal(error, ["own_words"])
        return
    assert 0 < delivery_id < 2**63 and "\x00" not in text
    assert clicked is None or (clicked.conversation and clicked.id)


# --- the capacity check ---------------------------------------------------------------------------------

capacity_actions = st.sampled_from([*translate.CAPACITY_ACTIONS, "realign.ask", "x"]) | json_values


@given(
    st.fixed_dictionaries({}, optional={"action_id": capacity_actions, "value": json_values | odd_text})
    | json_values
)
def test_a_capacity_button_is_an_answer_and_a_change_key_or_refused(action: Any) -> None:
    try:
        key, answer = translate.capacity_choice(action)
    except InvalidInput as error:
        assert error.errors == {"value": copy.BUTTON_UNREADABLE}
        return
    assert translate.KEY.fullmatch(key) and isinstance(answer, CapacityAnswer)


capacity_meta = st.sampled_from(
    ['{"key": "CHG-1", "answer": "no"}', '{"key": "CHG-1", "answer": "maybe"}', '{"key": 1, "answer": "yes"}']
)


@given(
    view_with(["comment"])
    | st.fixed_dictionaries(
        {"private_metadata": metadata | capacity_meta},
        optional={"state": json_values | view_with(["comment"])},
    )
)
def test_a_capacity_form_reads_any_payload_or_names_the_comment(view: Any) -> None:
    try:
        key, answer, comment = translate.capacity_form(view)
    except InvalidInput as error:
        check_refusal(error, ["comment"])
        return
    assert key.startswith("CHG-") and isinstance(answer, CapacityAnswer) and "\x00" not in comment
