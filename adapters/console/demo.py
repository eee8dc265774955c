"""`realign console --demo`: a scripted walk-through, typed into the console as a person would.

Dana (VP Customer Support) announces a new weekend on-call rota to two groups; some people acknowledge;
days pass: reminders, escalations to managers, the announcer hears about the one with no manager, and at
the deadline the gap report; status along the way."""

from __future__ import annotations

from datetime import UTC, datetime

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning, so the transcript is the same every run
ANNOUNCER = "dana"

SCRIPT = (
    "/people",
    "/announce-change New weekend on-call rota for Support",
    "From 9 March weekend support is covered by a published on-call rota instead of ad hoc volunteers.",
    "Weekend tickets waited 14 hours on average last quarter; a rota gets every customer an answer within 2.",
    "+7d",
    "+3d",  # acknowledge by: before the effective date, so people have time to prepare
    "indirect",
    "Account teams mention the new weekend response time in their next customer check-in.",
    "",
    "",
    "",
    "",  # in your own words: not for this change
    "",  # capacity check: not for this change
    "",  # publish on: at review
    "Support engineers",
    "@support",
    "Weekend cover is arranged ad hoc in the #support channel.",
    "Take one weekend on-call shift every six weeks from the rota; swap shifts only through the rota.",
    "y",
    "Account teams",
    "@sales",
    "",
    "Tell customers with weekend usage that weekend tickets are now answered within 2 hours.",
    "n",
    "y",
    "/as omar",
    "/ack",
    "/as chloe",
    "/ack",
    "/as maya",
    "/ack",
    "/as dana",
    "/change-status CHG-1",
    "/advance 1d",
    "/as hana",
    "/ack",
    "/advance 1d",
    "/as lee",
    "/change-status CHG-1",
    "/as dana",
    "/advance 1d8h",  # to the end of the deadline's working day
    "/change-status CHG-1",
    "/quit",
)
