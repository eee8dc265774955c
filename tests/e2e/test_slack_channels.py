"""Channels as audiences, through the real HTTP app, on SQLite and PostgreSQL: a private channel Realign
is not in is refused inline on the group step, with what to do about it."""

from __future__ import annotations

from bot import copy
from tests.e2e.conftest import Realign
from tests.e2e.test_slack_flow import ANNOUNCER, basics, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import conversations, typed


async def test_a_private_channel_realign_is_not_in_is_refused_inline(
    realign: Realign, slack: FakeSlack
) -> None:
    seed(slack)
    slack.add_channel("GPRIVATE", ["U1", "U2"], private=True)
    driver = realign.slack
    await driver.command(ANNOUNCER, "/announce-change", "New on-call rota")
    view = driver.open_view()
    step = await driver.submit(ANNOUNCER, view, basics())
    assert step["view"]["callback_id"] == "realign.group"

    group = {"channels": conversations("GPRIVATE"), "from_effective": typed("Hand over at 18:00.")}
    refused = await driver.submit(ANNOUNCER, view, group)
    assert refused == {"response_action": "errors", "errors": {"channels": copy.CHANNEL_HIDDEN}}

    slack.add_channel("GPRIVATE", ["U1", "U2", "UBOT"], private=True)  # someone invites Realign
    accepted = await driver.submit(ANNOUNCER, view, group)
    assert accepted["response_action"] == "update"
