"""The Slack messenger's hot path: cached announcement bodies, and what each Web API reply means."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from adapters.slack import render
from adapters.slack.messenger import METADATA_EVENT, AnnouncementBodies, classify_reply
from bot.model import Announcement, Expectation
from bot.ports import Failed, Retry

ANNOUNCEMENT = Announcement(
    change_key="CHG-7",
    title="New CRM",
    what="We move to the new CRM.",
    why="One place for every customer.",
    effective_date=date(2026, 12, 1),
    ack_deadline=date(2026, 12, 8),
    announcer_id="UANN",
    expectations=(Expectation("Sales", "Log calls in a sheet", "Log calls in the CRM"),),
    delivery_id=41,
)


def expected(a: Announcement, user_id: str) -> dict[str, object]:
    return {
        "channel": user_id,
        "text": render.announcement_text(a),
        "blocks": render.announcement(a),
        "unfurl_links": False,
        "metadata": {
            "event_type": METADATA_EVENT,
            "event_payload": {"change_key": a.change_key, "delivery_id": a.delivery_id},
        },
    }


def test_each_recipient_gets_their_own_channel_and_delivery_id_in_a_cached_body() -> None:
    bodies = AnnouncementBodies()
    for user_id, delivery_id in [("U1", 41), ("U2", 42), ("U3", 1_000_003)]:
        announcement = replace(ANNOUNCEMENT, delivery_id=delivery_id)
        assert json.loads(bodies.body(announcement, user_id=user_id)) == expected(announcement, user_id)
    assert len(bodies._pieces) == 1  # one rendering served all three


def test_another_group_set_is_rendered_separately() -> None:
    bodies = AnnouncementBodies()
    support = replace(ANNOUNCEMENT, expectations=(Expectation("Support", "", "Answer tickets in the CRM"),))
    assert json.loads(bodies.body(support, user_id="U9")) == expected(support, "U9")
    assert json.loads(bodies.body(ANNOUNCEMENT, user_id="U1")) == expected(ANNOUNCEMENT, "U1")


def test_text_that_contains_the_marker_is_left_alone() -> None:
    odd = replace(ANNOUNCEMENT, what=f"Ticket {AnnouncementBodies.MARKER} is closed.")
    assert json.loads(AnnouncementBodies().body(odd, user_id="U1")) == expected(odd, "U1")


def test_replies_are_classified_by_status_and_error_code() -> None:
    assert classify_reply(429, {"ok": False, "error": "ratelimited"}, "3") == Retry(
        "ratelimited", after=3.0, rate_limited=True
    )
    assert classify_reply(500, None, None) == Retry("http_500", unsure=True)
    assert classify_reply(200, {"ok": False, "error": "fatal_error"}, None) == Retry(
        "fatal_error", unsure=True
    )
    assert classify_reply(200, {"ok": False, "error": "account_inactive"}, None) == Failed("account_inactive")
    refused = classify_reply(200, {"ok": False, "error": "invalid_auth"}, None)
    assert refused == Retry("invalid_auth", after=60)
