"""The audit export from `/change-status CHG-n`, end to end through the Slack fake, on SQLite and
PostgreSQL: Export CSV puts the same CSV `realign export` writes into the clicker's DM, through Slack's
external upload flow (files.getUploadURLExternal, the upload, files.completeUploadExternal); the click is
answered before the upload; only the announcer and admins get it; a failed upload is said in words."""

from __future__ import annotations

import asyncio
from copy import deepcopy
from typing import Any

import pytest

from bot import copy
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_export import rows, run
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack

ADMIN = "UADMIN"
EXPORT = "realign.export"


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_ADMINS": ADMIN}


async def announced(realign: Realign, slack: FakeSlack) -> None:
    """CHG-1 delivered to everyone, U1 acknowledged."""
    seed(slack)
    slack.add_user(ADMIN, name="Ada Admin")
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    await realign.slack.click("U1", deepcopy(slack.dms_to("U1")[0]), action_id="realign.acknowledge")
    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U1")[0]["blocks"]))


async def status_message(realign: Realign, user: str) -> dict[str, Any]:
    """`/change-status CHG-1` as `user` sees it, as a message whose buttons can be clicked."""
    shown = (await realign.slack.command(user, "/change-status", "CHG-1")).json()
    return {"ts": "1", "blocks": shown["blocks"]}


def said_to(slack: FakeSlack, user: str) -> list[str]:
    """What Realign answered `user`'s clicks with (ephemeral, through the response_url)."""
    return [r["text"] for r in slack.responses if r["key"] == f"click-{user}"]


async def test_the_announcer_and_an_admin_get_the_export_in_their_dm(
    realign: Realign, slack: FakeSlack, database_url: str
) -> None:
    await announced(realign, slack)
    shown = await status_message(realign, ANNOUNCER)
    assert copy.EXPORT_CSV in str(shown["blocks"])
    slack.slow("files.getUploadURLExternal", seconds=2)  # a large file takes a while to upload

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await realign.slack.click(ANNOUNCER, shown, action_id=EXPORT)).status == 200
    assert loop.time() - started < 1.5  # answered without waiting for the upload
    assert said_to(slack, ANNOUNCER) == [copy.EXPORT_PREPARING.format(key="CHG-1")]
    assert slack.files.shared_in(f"D{ANNOUNCER}") == []

    await eventually(lambda: len(said_to(slack, ANNOUNCER)) == 2)
    assert said_to(slack, ANNOUNCER)[1] == copy.EXPORT_SENT.format(key="CHG-1", count=9)
    [upload] = slack.files.shared_in(f"D{ANNOUNCER}")
    assert upload.content is not None and upload.length == len(upload.content)
    assert (upload.filename, upload.title) == ("CHG-1-audit.csv", "CHG-1 audit export")
    [message] = slack.dms_to(ANNOUNCER)  # the DM with Realign: the file, and what it is
    assert message["files"][0]["id"] == upload.file_id and "9 rows" in message["text"]
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == f"D{ANNOUNCER}"

    code, out, _ = await run(database_url, "CHG-1")  # the CLI's export: the same file
    assert code == 0
    exported = rows(upload.content.decode("utf-8"))
    assert exported == rows(out) and len(exported) == 9
    assert upload.content.decode("utf-8") == out
    assert {r["user_id"]: r["acknowledged_at"] != "" for r in exported}["U1"] is True

    await realign.slack.click(ADMIN, await status_message(realign, ADMIN), action_id=EXPORT)
    await eventually(lambda: len(slack.files.shared_in(f"D{ADMIN}")) == 1)
    assert slack.files.shared_in(f"D{ADMIN}")[0].content == upload.content


async def test_someone_else_clicking_gets_nothing(realign: Realign, slack: FakeSlack) -> None:
    await announced(realign, slack)
    forged = await status_message(realign, ANNOUNCER)  # the announcer's button, clicked by U2
    nosy = (await realign.slack.command("U2", "/change-status", "CHG-1")).body

    assert (await realign.slack.click("U2", forged, action_id=EXPORT)).status == 200

    assert said_to(slack, "U2") == [copy.NOT_YOURS.format(key="CHG-1")]
    assert copy.EXPORT_CSV not in nosy and "only the announcer of CHG-1" in nosy
    await asyncio.sleep(0.5)  # nothing is being prepared in the background either
    assert slack.calls_to("files.getUploadURLExternal") == []
    assert slack.calls_to("files.completeUploadExternal") == []
    assert len(slack.dms_to("U2")) == 1  # their announcement, and no file


async def test_a_failed_upload_is_explained_and_the_next_click_works(
    realign: Realign, slack: FakeSlack
) -> None:
    await announced(realign, slack)
    shown = await status_message(realign, ANNOUNCER)

    slack.files.fail_uploads(status=500)  # the upload URL refuses the bytes
    await realign.slack.click(ANNOUNCER, shown, action_id=EXPORT)
    await eventually(lambda: len(said_to(slack, ANNOUNCER)) == 2)
    refused = copy.EXPORT_REASONS["upload_refused"]
    assert said_to(slack, ANNOUNCER)[1] == copy.EXPORT_FAILED.format(key="CHG-1", reason=refused)

    slack.error("files.completeUploadExternal", "missing_scope", times=1)  # an app without files:write
    await realign.slack.click(ANNOUNCER, shown, action_id=EXPORT)
    await eventually(lambda: len(said_to(slack, ANNOUNCER)) == 4)
    assert "files:write" in said_to(slack, ANNOUNCER)[3]
    assert slack.files.shared_in(f"D{ANNOUNCER}") == [] and slack.dms_to(ANNOUNCER) == []

    await realign.slack.click(ANNOUNCER, shown, action_id=EXPORT)
    await eventually(lambda: len(said_to(slack, ANNOUNCER)) == 6)
    assert said_to(slack, ANNOUNCER)[5] == copy.EXPORT_SENT.format(key="CHG-1", count=9)
    assert len(slack.files.shared_in(f"D{ANNOUNCER}")) == 1
