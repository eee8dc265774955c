"""The readiness check through the Slack modal: a deadline before the effective date is accepted; the
review step shows warnings (and the people to confirm) without blocking the publish."""

from __future__ import annotations

from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_slack_flow import ANNOUNCER, basics, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import date, typed, users


async def test_a_deadline_before_the_effective_date_is_accepted(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    driver = realign.slack
    await driver.command(ANNOUNCER, "/announce-change")
    view = driver.open_view()

    step = await driver.submit(
        ANNOUNCER, view, basics(effective_date=date("2026-12-14"), ack_deadline=date("2026-12-10"))
    )

    assert step.get("response_action") == "update" and step["view"]["callback_id"] == "realign.group"
    review = await driver.submit(
        ANNOUNCER, view, {"people": users("U1"), "from_effective": typed("Answer pages at weekends.")}
    )
    assert "after the change takes effect" not in str(review["view"]["blocks"])  # no warning either
    published = await driver.submit(ANNOUNCER, view, {})
    assert published["response_action"] == "update"
    await eventually(lambda: len(slack.dms_to("U1")) == 1)


async def test_the_review_step_warns_and_still_publishes(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    driver = realign.slack
    await driver.command(ANNOUNCER, "/announce-change")
    view = driver.open_view()
    await driver.submit(ANNOUNCER, view, basics(ack_deadline=date("2026-12-21")))  # after it takes effect
    await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("Support"),
            "people": users("U1", "U4"),
            "from_effective": typed("The CRM."),
            "more": {"type": "checkboxes", "selected_options": [{"value": "yes"}]},
        },
    )
    review = await driver.submit(
        ANNOUNCER,
        view,
        {
            "name": typed("On-call"),
            "people": users("U4", "U5"),
            "from_effective": typed("Hand over at 18:00."),
        },
    )

    shown = str(review["view"]["blocks"])
    assert "after the change takes effect on 14 Dec 2026" in shown
    assert "Group “Support”: what they do from the effective date is too vague" in shown
    assert "1 people are in several groups" in shown and "<@U4>" in shown
    published = await driver.submit(ANNOUNCER, view, {})
    assert published["response_action"] == "update"
    await eventually(lambda: all(len(slack.dms_to(user)) == 1 for user in ("U1", "U4", "U5")))
