"""Every modal, button and slash-command handler, driven over HTTP with really signed requests against
one running app per test: malformed payloads, missing fields, wrong types, huge strings, odd Unicode.

Every answer is clean (an inline error, an ephemeral note or a short ack text), never a 5xx or a logged
traceback, and a malformed request changes nothing in the database.
"""

from __future__ import annotations

import logging
import operator
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack import alignment, capacity, render
from store.db import Database
from tests.adapters.test_slack_properties import BASICS_BLOCKS, GROUP_BLOCKS, ODD, json_values, metadata
from tests.conftest import count
from tests.e2e.conftest import Realign
from tests.e2e.test_slack_flow import ANNOUNCER, seed
from tests.e2e.test_slack_flow import basics as valid_basics
from tests.fakes.slack_requests import typed, users

HANDLER_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
TABLES = ("change", "audience_group", "delivery", "audit_event", "question", "notice", "capacity_answer")


async def rows(db: Database) -> dict[str, int]:
    return {table: await count(db, f"SELECT count(*) FROM {table}") for table in TABLES}


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [record for record in caplog.records if record.levelno >= logging.ERROR or record.exc_info]
    assert not bad, [record.getMessage() for record in bad]
    assert "Traceback" not in caplog.text


async def draft_at_group_step(realign: Realign) -> str:
    """The open view of a draft at its first group step (made once per running app; examples share it)."""
    fake = realign.slack.slack
    if not fake.views:
        seed(fake)
        await realign.slack.command(ANNOUNCER, "/announce-change")
        step = await realign.slack.submit(ANNOUNCER, realign.slack.open_view(), valid_basics())
        assert step["view"]["callback_id"] == render.GROUP
    return realign.slack.open_view()


def submission(user: Any, view: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T001"},
        "user": {"id": user, "team_id": "T001"},
        "api_app_id": "A0REALIGN",
        "view": view,
    }


wrong_type = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
present = wrong_type.filter(lambda v: v is not None)
bad_string = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff"])
# Per kind of block, element states it cannot be read from (each must be refused, never ignored).
DAMAGE = {
    "text": present.map(lambda v: {"value": v}) | bad_string.map(lambda v: {"value": v}),
    "date": (st.text(max_size=12).map(lambda t: t + "x") | present).map(lambda v: {"selected_date": v}),
    "time": (st.sampled_from(["25:00", "9", "x", "\x00", "12:60"]) | present).map(
        lambda v: {"selected_time": v}
    ),
    "option": (present.filter(lambda v: not isinstance(v, dict)) | st.just({}) | st.just({"value": 7})).map(
        lambda v: {"selected_option": v}
    )
    | st.sampled_from(["bogus", "-1", "²", "9" * 50, "\x00"]).map(
        lambda v: {"selected_option": {"value": v}}
    ),
    "people": (
        present.filter(lambda v: not isinstance(v, list)) | st.sampled_from([[""], ["U" * 65], [7], ["\x00"]])
    ).map(lambda v: {"selected_users": v}),
    "user": (present.filter(lambda v: not isinstance(v, str)) | st.sampled_from(["U" * 65, "\x00"])).map(
        lambda v: {"selected_user": v}
    ),
    "options": (
        present.filter(lambda v: not isinstance(v, list)) | st.sampled_from([[7], [{}], [{"value": 7}]])
    ).map(lambda v: {"selected_options": v}),
}


def damaged(kinds: dict[str, str], valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` element states with one to three of the blocks the handler reads made unreadable: an
    element that is not an object, or one its kind of block cannot be read from."""

    def one(block: str) -> st.SearchStrategy[tuple[str, Any]]:
        not_an_object = wrong_type.filter(lambda v: not isinstance(v, dict))
        return st.tuples(st.just(block), not_an_object | DAMAGE[kinds[block]])

    picks = st.lists(st.sampled_from(sorted(kinds)), min_size=1, max_size=3, unique=True)
    return picks.flatmap(lambda blocks: st.tuples(*(one(block) for block in blocks))).map(
        lambda damage: valid | dict(damage)
    )


BASICS_KINDS = {name: "text" for name in ("title", "what", "why", "customer_plan", "remind_after")}
BASICS_KINDS |= {"escalate_after": "text", "effective_date": "date", "ack_deadline": "date"}
BASICS_KINDS |= {"customer_impact": "option", "reminders": "option", "owner": "user"}
BASICS_KINDS |= {"publish_on": "date", "publish_time": "time", "capacity_check": "options"}
GROUP_KINDS = {"name": "text", "today": "text", "from_effective": "text", "people": "people"}
GROUP_KINDS |= {"channels": "people", "usergroups": "options", "more": "options"}
GROUP_KINDS |= {"customer_facing": "options"}
garbage_user = json_values.filter(lambda v: not (isinstance(v, str) and 0 < len(v) <= 64 and "\x00" not in v))


def with_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {**view, "state": {"values": {block: {"value": element} for block, element in values.items()}}}


@HANDLER_SETTINGS
@given(
    values=damaged(BASICS_KINDS, valid_basics()) | st.builds(dict),
    user=st.just(ANNOUNCER) | garbage_user,
)
async def test_a_malformed_basics_step_is_answered_inline_and_changes_nothing(
    realign: Realign, caplog: pytest.LogCaptureFixture, values: dict[str, Any], user: Any
) -> None:
    before = await rows(realign.db)
    view = with_state({**render.basics_modal(), "id": f"VB{time.monotonic_ns()}"}, values)
    reply = await realign.slack.interact(submission(user, view))

    assert reply.status < 500, reply
    answer = reply.json()
    assert answer["response_action"] == "errors", answer
    assert answer["errors"] and set(answer["errors"]) <= set(BASICS_BLOCKS)
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


bad_metadata = metadata.filter(
    lambda raw: not (isinstance(raw, str) and raw.startswith('{"key": "CHG-1", "position": 0'))
)


@HANDLER_SETTINGS
@given(
    values=damaged(GROUP_KINDS, {"people": users("U1"), "from_effective": typed("Do X.")}),
    meta=st.none() | bad_metadata,
    user=st.just(ANNOUNCER) | garbage_user,
)
async def test_a_malformed_group_step_is_answered_inline_and_changes_nothing(
    realign: Realign, caplog: pytest.LogCaptureFixture, values: dict[str, Any], meta: Any, user: Any
) -> None:
    view_id = await draft_at_group_step(realign)
    before = await rows(realign.db)
    view = with_state({**realign.slack.slack.views[view_id], "id": view_id}, values)
    if meta is not None:
        view["private_metadata"] = meta
    reply = await realign.slack.interact(submission(user, view))

    assert reply.status < 500, reply
    answer = reply.json()
    assert answer["response_action"] == "errors", answer
    assert answer["errors"] and set(answer["errors"]) <= set(GROUP_BLOCKS)
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


@HANDLER_SETTINGS
@given(meta=metadata | st.just('{"key": "CHG-1"}'), user=st.just("U1") | garbage_user, view_id=json_values)
async def test_a_publish_nobody_may_make_is_answered_in_the_modal_and_changes_nothing(
    realign: Realign, caplog: pytest.LogCaptureFixture, meta: Any, user: Any, view_id: Any
) -> None:
    await draft_at_group_step(realign)
    before = await rows(realign.db)
    view = {"type": "modal", "callback_id": render.REVIEW, "id": view_id, "private_metadata": meta}
    reply = await realign.slack.interact(submission(user, view))

    assert reply.status < 500, reply
    answer = reply.json()
    assert answer["response_action"] == "update"
    assert "sending to" not in str(answer["view"])
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


def click(*, action_id: str, value: Any, user: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T001"},
        "user": {"id": user, "team_id": "T001"},
        "api_app_id": "A0REALIGN",
        "actions": [
            {"action_id": action_id, "block_id": "realign.respond", "type": "button", "value": value}
        ],
        **extra,
    }


@HANDLER_SETTINGS
@given(
    action_id=st.sampled_from(
        [
            render.ACK_ACTION,
            render.RETRY_ACTION,
            render.CLOSE_ACTION,
            alignment.ASK_ACTION,
            alignment.CONCERN_ACTION,
            alignment.ANSWER_ACTION,
            alignment.RESOLVE_ACTION,
            alignment.ACK_WORDS_ACTION,
            capacity.PUBLISH_NOW_ACTION,
            capacity.CANCEL_SCHEDULE_ACTION,
            *capacity.ACTIONS.values(),
        ]
    ),
    value=json_values | st.sampled_from(["1", "CHG-1", "0", "-1", "1" * 19, "²", "CHG-99999999999"]),
    user=st.sampled_from(["U1", "UNOBODY"]) | garbage_user,
    answer_to=st.sampled_from(["fake", "none", "not a url"]),  # unreachable: test_slack_security
    container=json_values,
)
async def test_a_click_nobody_may_make_gets_a_note_and_changes_nothing(
    realign: Realign,
    caplog: pytest.LogCaptureFixture,
    action_id: str,
    value: Any,
    user: Any,
    answer_to: str,
    container: Any,
) -> None:
    await draft_at_group_step(realign)
    fake = realign.slack.slack
    before, answered = await rows(realign.db), len(fake.responses)
    extra: dict[str, Any] = {"container": container}
    if answer_to != "none":
        extra["response_url"] = fake.response_url("click") if answer_to == "fake" else answer_to
    reply = await realign.slack.interact(click(action_id=action_id, value=value, user=user, extra=extra))

    assert reply.status == 200, reply
    if answer_to == "fake":
        assert len(fake.responses) == answered + 1
        assert fake.responses[-1]["response_type"] == "ephemeral" and fake.responses[-1]["text"]
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


form_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60) | st.sampled_from(
    [odd for odd in ODD if odd != "\ud800"]  # form encoding cannot carry a lone surrogate
)


@HANDLER_SETTINGS
@given(
    command=st.sampled_from(["/change-status", "/announce-change"]),
    text=form_text | st.builds(operator.mul, st.sampled_from(["CHG-1 ", "x"]), st.integers(0, 3000)),
    user=st.sampled_from([ANNOUNCER, "U1", None]) | form_text,
    trigger=st.booleans(),
)
async def test_any_slash_command_gets_a_short_answer_and_changes_nothing(
    realign: Realign,
    caplog: pytest.LogCaptureFixture,
    command: str,
    text: str,
    user: str | None,
    trigger: bool,
) -> None:
    await draft_at_group_step(realign)
    before = await rows(realign.db)
    fields = {"team_id": "T001", "command": command, "text": text, "api_app_id": "A0REALIGN"}
    fields |= {"user_id": user} if user is not None else {}
    fields |= {"trigger_id": f"trigger-{time.monotonic_ns()}"} if trigger else {}
    fields["response_url"] = realign.slack.slack.response_url("command")
    reply = await realign.slack.post(urlencode(fields), content_type="application/x-www-form-urlencoded")

    assert reply.status == 200, reply
    if command == "/change-status":  # the status, or a sentence saying why not
        assert reply.body.strip()
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


QUESTION_META = [
    '{"key": "CHG-1", "kind": "question"}',
    '{"key": "CHG-1", "kind": "concern"}',
    '{"question": 1}',
    '{"delivery": 1, "channel": "DU1", "ts": "1.0"}',
    '{"key": "CHG-1", "answer": "no"}',
    '{"key": "CHG-1", "answer": "yes"}',
]


@HANDLER_SETTINGS
@given(
    callback=st.sampled_from(
        [alignment.QUESTION_FORM, alignment.ANSWER_FORM, alignment.OWN_WORDS_FORM, capacity.CAPACITY_FORM]
    ),
    values=st.dictionaries(
        st.sampled_from(["question", "answer", "own_words", "comment"]), json_values, max_size=2
    )
    | st.sampled_from(
        [
            {"question": typed("Why?")},
            {"answer": typed("Because.")},
            {"question": typed(" ")},
            {"comment": typed("We lack people.")},
        ]
    ),
    meta=metadata | st.sampled_from(QUESTION_META),
    user=st.sampled_from(["U1", ANNOUNCER]) | garbage_user,
    view_id=json_values,
)
async def test_a_question_or_answer_nobody_may_send_is_answered_inline_and_changes_nothing(
    realign: Realign,
    caplog: pytest.LogCaptureFixture,
    callback: str,
    values: dict[str, Any],
    meta: Any,
    user: Any,
    view_id: Any,
) -> None:
    await draft_at_group_step(realign)  # CHG-1 is a draft: nobody was sent it, so nobody may ask
    before = await rows(realign.db)
    view = with_state(
        {"type": "modal", "callback_id": callback, "id": view_id, "private_metadata": meta}, values
    )
    reply = await realign.slack.interact(submission(user, view))

    assert reply.status == 200, reply
    answer = reply.json()
    assert answer["response_action"] == "errors", answer
    assert answer["errors"] and set(answer["errors"]) <= {"question", "answer", "own_words", "comment"}
    assert await rows(realign.db) == before
    no_errors_logged(caplog)


slackish = st.sampled_from(["im", "U1", "DU1", "1.2", "", "\x00", "CHG-1"])
# Slack always sends `user` and `channel` as text; bolt itself reads them before any listener (a
# non-text user makes bolt's context extraction raise in adapters/web.py: not reachable from Slack).
message_event = st.fixed_dictionaries(
    {"type": st.just("message")},
    optional={
        **{name: slackish | st.text(max_size=70) for name in ("user", "channel")},
        **{
            name: json_values | slackish
            for name in ("channel_type", "text", "ts", "thread_ts", "subtype", "bot_id")
        },
    },
)


@HANDLER_SETTINGS
@given(event=message_event)
async def test_any_message_event_is_acked_and_changes_nothing_without_an_announcement(
    realign: Realign, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    await draft_at_group_step(realign)
    before = await rows(realign.db)
    reply = await realign.slack.event(event)

    assert reply.status == 200, reply
    assert await rows(realign.db) == before  # nobody was sent an announcement: nothing to ask about
    no_errors_logged(caplog)
