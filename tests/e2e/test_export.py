"""`realign export` (the CLI) as an auditor runs it: a real process against the database a running
Realign wrote (a change announced through the Slack fake), its CSV on standard output or in a file, and
one-line errors."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from copy import deepcopy
from pathlib import Path

from store.export import COLUMNS
from tests.conftest import count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import typed

REALIGN = Path(sys.executable).parent / "realign"


async def run(url: str, *args: str) -> tuple[int, str, str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        str(REALIGN), "export", *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_one_row_per_targeted_or_excluded_person(
    realign: Realign, slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    seed(slack)
    await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    dm = deepcopy(slack.dms_to("U1")[0])
    await realign.slack.click("U1", dm, action_id="realign.acknowledge")
    await eventually(lambda: "Acknowledged" in str(slack.dms_to("U1")[0]["blocks"]))
    await realign.slack.click("U2", slack.dms_to("U2")[0], action_id="realign.concern")
    await realign.slack.submit("U2", realign.slack.open_view(), {"question": typed("Too soon for us.")})

    code, out, err = await run(database_url, "chg-1")

    assert (code, err) == (0, "")
    exported = rows(out)
    assert tuple(exported[0]) == COLUMNS
    delivered = await count(realign.db, "SELECT count(*) FROM delivery WHERE change_id = 1")
    assert len(exported) == delivered == 9  # 6 targeted + 3 excluded, as /change-status counts them
    by_user = {row["user_id"]: row for row in exported}
    assert by_user["U1"]["acknowledged_at"] and by_user["U1"]["state"] == "delivered"
    assert by_user["U1"]["person"] == "Person U1" and by_user["U1"]["groups"] == "Support"
    assert by_user["U4"]["groups"] == "Support; On-call"
    assert (by_user["U2"]["questions"], by_user["U2"]["open_questions"]) == ("1", "1")
    assert by_user["UGONE"]["state"] == "excluded" and by_user["UGONE"]["reason"] == "deactivated"
    assert by_user[ANNOUNCER]["reason"] == "the announcer"
    assert all(row["sent_at"] for row in exported if row["state"] == "delivered")

    target = tmp_path / "audit.csv"
    code, out, err = await run(database_url, "CHG-1", "--output", str(target))
    assert (code, out, err) == (0, "", f"wrote 9 rows to {target}\n")
    assert rows(await asyncio.to_thread(target.read_text, encoding="utf-8")) == exported
    assert [name for name in files(tmp_path) if name.endswith(".partial")] == []


async def test_an_unknown_change_is_one_line(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    await asyncio.to_thread(folder.mkdir)
    for key in ("CHG-99", "nonsense"):
        code, out, err = await run(database_url, key, "--output", str(folder / "x.csv"))
        assert (code, out) == (2, "")
        assert err == f"realign: error: There is no change called {key.upper()}.\n"
    assert files(folder) == []  # no file, not even half of one


async def test_no_database_is_one_line(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    code, out, err = await run(missing, "CHG-1")

    assert (code, out) == (2, "")
    assert err.startswith("realign: error: there is no database at sqlite:///") and err.count("\n") == 1
    assert files(tmp_path) == []  # not created by looking

    await asyncio.to_thread((tmp_path / "empty.db").touch)
    code, _, err = await run(f"sqlite:///{tmp_path / 'empty.db'}", "CHG-1")
    assert code == 2 and "holds no Realign data; run `realign db upgrade`" in err and err.count("\n") == 1
