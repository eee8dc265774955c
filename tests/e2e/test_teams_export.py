"""Export CSV on Teams through the real HTTP app and the connector fake, on SQLite and PostgreSQL: the
announcer's click on change-status CHG-n is answered at once, a file consent card follows in their 1:1
chat, and accepting it uploads the same file `realign export` writes (one row per targeted or excluded
person) and shows it; someone else gets a refusal and no file; a decline and a refused upload are said
in words."""

from __future__ import annotations

import csv
import io
from typing import Any

from adapters.teams import cards
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake  # noqa: F401
from tests.e2e.test_export import run
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, announce, install, realign, seed  # noqa: F401
from tests.fakes.teams_connector import FakeConnector

FILE = "CHG-1-audit.csv"
CONSENT = "application/vnd.microsoft.teams.card.file.consent"
INFO = "application/vnd.microsoft.teams.card.file.info"


async def announced(realign: TeamsRealign, fake: FakeConnector) -> dict[str, Any]:  # noqa: F811
    """CHG-1 delivered to everyone, one of them acknowledged; the announcer's change-status CHG-1 card."""
    seed(fake)
    await install(realign, fake)
    await announce(realign, fake)
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    await realign.teams.execute("29:s1", fake.cards_to("29:s1")[0], verb=cards.ACK_VERB)
    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    return realign.teams.last_card(ANNOUNCER)


def consents(fake: FakeConnector, user: str) -> list[dict[str, Any]]:  # noqa: F811
    return [f for f in fake.files_to(user) if f["contentType"] == CONSENT]


def notes(fake: FakeConnector, user: str) -> str:  # noqa: F811
    return str(fake.cards_to(user))


async def test_the_announcer_gets_the_audit_file_after_consenting(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
    database_url: str,
) -> None:
    status = await announced(realign, fake)

    clicked = await realign.teams.execute(ANNOUNCER, status, verb=cards.EXPORT_VERB)
    assert clicked.status == 200 and "Preparing the audit export of CHG-1" in str(clicked.body["value"])
    await eventually(lambda: len(consents(fake, ANNOUNCER)) == 1)
    offer = consents(fake, ANNOUNCER)[0]
    assert offer["name"] == FILE and offer["content"]["acceptContext"] == {"key": "CHG-1"}
    assert "rows, one per targeted or excluded person" in offer["content"]["description"]
    offered_size = offer["content"]["sizeInBytes"]

    accepted = await realign.teams.post(fake.file_consent_from(ANNOUNCER, offer))
    assert accepted.status == 200
    await eventually(lambda: any(f["contentType"] == INFO for f in fake.files_to(ANNOUNCER)))
    uploaded = fake.uploads[FILE]
    assert fake.upload_headers[0]["Content-Range"] == f"bytes 0-{len(uploaded) - 1}/{len(uploaded)}"
    assert len(uploaded) == offered_size  # nothing moved between the offer and the upload
    code, out, _ = await run(database_url, "CHG-1")
    assert code == 0 and uploaded.decode() == out  # the same file as `realign export`
    exported = list(csv.DictReader(io.StringIO(uploaded.decode())))
    assert len([row for row in exported if row["state"] != "excluded"]) == len(EVERYONE)
    assert [row["person"] for row in exported if row["acknowledged_at"]] == [fake.users["29:s1"]["name"]]
    shown = next(f for f in fake.files_to(ANNOUNCER) if f["contentType"] == INFO)
    assert shown["name"] == FILE and shown["content"] == {"uniqueId": f"unique-{FILE}", "fileType": "csv"}
    assert shown["contentUrl"].endswith(f"/Documents/{FILE}")


async def test_someone_else_gets_a_refusal_and_no_file(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    status = await announced(realign, fake)

    refused = await realign.teams.execute("29:s2", status, verb=cards.EXPORT_VERB)  # a forged click

    assert refused.status == 200 and "CHG-1" in str(refused.body["value"])
    assert "Preparing" not in str(refused.body["value"])
    await realign.settled()
    assert fake.files_to("29:s2") == []
    forged = {"name": FILE, "content": {"acceptContext": {"key": "CHG-1"}, "declineContext": {}}}
    assert (await realign.teams.post(fake.file_consent_from("29:s2", forged))).status == 200
    await realign.settled()
    assert fake.uploads == {} and fake.files_to("29:s2") == []
    assert "CHG-1" in notes(fake, "29:s2")  # the refusal, said in their chat


async def test_a_decline_and_a_refused_upload_are_said_and_the_next_try_works(
    realign: TeamsRealign,  # noqa: F811
    fake: FakeConnector,  # noqa: F811
) -> None:
    status = await announced(realign, fake)
    await realign.teams.execute(ANNOUNCER, status, verb=cards.EXPORT_VERB)
    await eventually(lambda: len(consents(fake, ANNOUNCER)) == 1)

    declined = await realign.teams.post(
        fake.file_consent_from(ANNOUNCER, consents(fake, ANNOUNCER)[0], accept=False)
    )
    assert declined.status == 200
    await eventually(lambda: "The audit export of CHG-1 was not saved" in notes(fake, ANNOUNCER))

    fake.upload_status = 507  # the person's OneDrive is full
    await realign.teams.post(fake.file_consent_from(ANNOUNCER, consents(fake, ANNOUNCER)[0]))
    await eventually(lambda: "Teams did not take the file (HTTP 507)" in notes(fake, ANNOUNCER))
    assert fake.uploads == {}

    fake.upload_status = None
    await realign.teams.post(fake.file_consent_from(ANNOUNCER, consents(fake, ANNOUNCER)[0]))
    await eventually(lambda: FILE in fake.uploads)
    await eventually(lambda: any(f["contentType"] == INFO for f in fake.files_to(ANNOUNCER)))
