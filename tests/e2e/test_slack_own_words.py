"""In your own words through the Slack fake: a change that asks for a line turns Acknowledge into a short
form; the line is kept, the acknowledgement recorded as usual, and the announcer reads the lines by
audience group and department in /change-status."""

from __future__ import annotations

from copy import deepcopy

from tests.conftest import count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_export import rows, run
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import checked, typed


async def acknowledge_in_own_words(realign: Realign, user: str, dm: dict, line: str) -> dict:
    reply = await realign.slack.click(user, dm, action_id="realign.acknowledge_in_own_words")
    assert reply.status == 200
    form = realign.slack.open_view()
    assert realign.slack.views[form]["callback_id"] == "realign.own_words"
    return await realign.slack.submit(user, form, {"own_words": typed(line)})


async def test_lines_are_kept_and_shown_by_group_and_department(
    realign: Realign, slack: FakeSlack, database_url: str
) -> None:
    seed(slack)
    await announce(realign, own_words=checked("yes"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    delivered = {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}
    assert "realign.acknowledge_in_own_words" in str(delivered["U1"]["blocks"])

    refused = await acknowledge_in_own_words(realign, "U1", delivered["U1"], "   ")
    assert refused["response_action"] == "errors" and set(refused["errors"]) == {"own_words"}
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 0

    done = await acknowledge_in_own_words(realign, "U1", delivered["U1"], "I answer weekend pages.")
    assert done["response_action"] == "update" and "Acknowledged" in str(done["view"])
    await acknowledge_in_own_words(realign, "U5", delivered["U5"], "I hand over at 18:00.")
    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U1")[0]["blocks"]))
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 2
    assert await count(realign.db, "SELECT count(*) FROM own_words") == 2

    status = str((await realign.slack.command(ANNOUNCER, "/change-status", "CHG-1")).json()["blocks"])
    mine = status.index("In their own words (2)")
    support, oncall = status.index("*Support*", mine), status.index("*On-call*", mine)
    assert support < status.index("<@U1>: I answer weekend pages.") < oncall
    assert oncall < status.index("<@U5>: I hand over at 18:00.")
    code, out, _ = await run(database_url, "CHG-1")  # and in the audit export
    assert code == 0
    assert {row["user_id"]: row["own_words"] for row in rows(out)}["U1"] == "I answer weekend pages."


async def test_someone_elses_line_is_refused(realign: Realign, slack: FakeSlack) -> None:
    seed(slack)
    await announce(realign, own_words=checked("yes"))
    await eventually(lambda: len(slack.dms_to("U1")) == 1)
    await realign.settled()

    await realign.slack.click("U2", slack.dms_to("U1")[0], action_id="realign.acknowledge_in_own_words")

    await eventually(lambda: any("sent to someone else" in r.get("text", "") for r in slack.responses))
    assert await count(realign.db, "SELECT count(*) FROM own_words") == 0
