"""`realign directory import` as an operator runs it: a real process, exit codes, what it prints on stderr,
and what the database holds afterwards (nothing, when it refuses)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from asyncio.subprocess import PIPE
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.model import Person
from store.db import Database
from store.migrate import upgrade
from store.orgchart import Known
from store.people import SqlPeople
from tests.fakes.slack_api import FakeSlack

REALIGN = Path(sys.executable).parent / "realign"
WORKSPACE = "slack:T1"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STAFF = [Person("U1", "Ada", email="ada@acme.com"), Person("U2", "Bob", email="bob@acme.com")]


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'realign.db'}"
    upgrade(url)
    return url


def seed(url: str, people: list[Person], *, workspaces: tuple[str, ...] = (WORKSPACE,)) -> None:
    async def run() -> None:
        db = Database(url)
        store = SqlPeople(db)
        for key in workspaces:
            await store.ensure_workspace(key=key, platform="slack", name=key, at=NOW)
            await store.upsert_synced(key, people, at=NOW)
        await db.close()

    asyncio.run(run())


def directory(url: str, workspace: str = WORKSPACE) -> dict[str, Known]:
    async def run() -> dict[str, Known]:
        db = Database(url)
        try:
            return {person.user_id: person for person in await SqlPeople(db).directory(workspace)}
        finally:
            await db.close()

    return asyncio.run(run())


def realign(url: str, csv: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_URL": url}
    command = [str(REALIGN), "directory", "import", str(csv), *flags]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def write_csv(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "org.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_imports_and_exits_0(database: str, tmp_path: Path) -> None:
    seed(database, STAFF)
    csv = write_csv(
        tmp_path, "email,manager_email,department", "ada@acme.com,,Board", "bob@acme.com,ada@acme.com,Sales"
    )

    done = realign(database, csv)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "imported 2 people (1 with a manager, 2 changed)\n"
    assert (directory(database)["U2"].manager_id, directory(database)["U2"].department) == ("U1", "Sales")


def test_bad_rows_exit_1_and_write_nothing(database: str, tmp_path: Path) -> None:
    seed(database, STAFF)
    csv = write_csv(
        tmp_path, "email,manager_email,department", "ada@acme.com,,Board", "bob@acme.com,carl@acme.com,Sales"
    )

    done = realign(database, csv)

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "line 3: unknown manager carl@acme.com",
        "1 of 2 rows has problems; nothing was imported (use --skip-invalid to import the 1 good rows)",
    ]
    assert done.stdout == ""
    assert {person.department for person in directory(database).values()} == {None}


def test_skip_invalid_exits_0(database: str, tmp_path: Path) -> None:
    seed(database, STAFF)
    csv = write_csv(
        tmp_path, "email,manager_email,department", "ada@acme.com,,Board", "bob@acme.com,carl@acme.com,Sales"
    )

    done = realign(database, csv, "--skip-invalid")

    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "line 3: unknown manager carl@acme.com",
        "skipped 1 of 2 rows with problems",
    ]
    assert done.stdout == "imported 1 people (0 with a manager, 1 changed)\n"
    assert directory(database)["U1"].department == "Board"


def test_missing_column_exits_2(database: str, tmp_path: Path) -> None:
    seed(database, STAFF)
    csv = write_csv(tmp_path, "email,manager_email", "ada@acme.com,")

    done = realign(database, csv)

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "realign: error: the header has no 'department' column (it has: email, manager_email)"
    ]


def test_unreadable_file_exits_2(database: str, tmp_path: Path) -> None:
    done = realign(database, tmp_path / "missing.csv")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"realign: error: cannot read {tmp_path / 'missing.csv'}: No such file or directory"
    ]


def test_no_workspace_yet_exits_2(database: str, tmp_path: Path) -> None:
    csv = write_csv(tmp_path, "email,manager_email,department", "ada@acme.com,,Board")

    done = realign(database, csv)

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET" in line and "--workspace" in line


def test_several_workspaces_need_a_choice(database: str, tmp_path: Path) -> None:
    seed(database, STAFF, workspaces=("slack:T1", "slack:T2"))
    csv = write_csv(tmp_path, "email,manager_email,department", "ada@acme.com,,Board")

    refused = realign(database, csv)
    chosen = realign(database, csv, "--workspace", "slack:T2")

    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "realign: error: 2 workspaces are registered (slack:T1, slack:T2): pass --workspace with one of them"
    ]
    assert chosen.returncode == 0
    assert (
        directory(database, "slack:T1")["U1"].department,
        directory(database, "slack:T2")["U1"].department,
    ) == (
        None,
        "Board",
    )


def test_large_files_show_progress(database: str, tmp_path: Path) -> None:
    size = 1_500
    seed(database, [Person(f"U{n}", f"P{n}", email=f"p{n}@acme.com") for n in range(size)])
    rows = [f"p{n}@acme.com,{f'p{n - 1}@acme.com' if n else ''},Dept" for n in range(size)]
    csv = write_csv(tmp_path, "email,manager_email,department", *rows)

    done = realign(database, csv)

    assert done.returncode == 0
    progress = done.stderr.splitlines()
    assert progress[0] == "checking: 10% (150 of 1,500)"
    assert progress[9] == "checking: 100% (1,500 of 1,500)"
    assert progress[-1] == "writing: 100% (1,500 of 1,500)"
    assert done.stdout == "imported 1,500 people (1,499 with a manager, 1,500 changed)\n"


async def test_on_a_fresh_database_with_slack_configured_it_registers_and_syncs_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # not even migrated
    csv = write_csv(
        tmp_path, "email,manager_email,department", "ada@acme.com,,Board", "bob@acme.com,ada@acme.com,Sales"
    )
    async with FakeSlack() as slack:
        slack.add_user("U1", name="Ada", email="ada@acme.com")
        slack.add_user("U2", name="Bob", email="bob@acme.com")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "s3cret-signing",
            "SLACK_API_URL": slack.url,
        }
        process = await asyncio.create_subprocess_exec(
            str(REALIGN), "directory", "import", str(csv), env=env, stdout=PIPE, stderr=PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert out.decode() == "imported 2 people (1 with a manager, 2 changed)\n"
    assert "syncing the directory of slack:T001 first" in err.decode()
    assert (await asyncio.to_thread(directory, url, "slack:T001"))["U2"].manager_id == "U1"
