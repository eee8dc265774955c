"""Loading the org chart: every row is checked against the file and the synced directory, then all of it
is written in one transaction, or nothing is (unless --skip-invalid). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.model import Person
from realign.orgchart_import import import_org_chart
from realign.settings import Settings
from store.db import Database
from store.orgchart import OrgChartError
from store.people import SqlPeople
from tests.conftest import FakeClock, count

WORKSPACE = "slack:T1"
HEADER = "email,manager_email,department,title"
DIRECTORY = [
    Person("U1", "Ada Boss", email="ada@acme.com"),
    Person("U2", "Bob", email="bob@acme.com"),
    Person("U3", "Cy", email="Cy@Acme.com"),  # Slack keeps the case people typed
    Person("U4", "Dee", email="dee@acme.com"),
    Person("U5", "", email="eve@acme.com"),  # no display name yet
]
GOOD = [
    "ada@acme.com,,Board,CEO",
    "bob@acme.com,ada@acme.com,Sales,VP Sales",
    "cy@acme.com,bob@acme.com,Sales,Account executive",
    "dee@acme.com,bob@acme.com,Sales,",
    "eve@acme.com,ada@acme.com,Finance,CFO",
]


@dataclass
class Imported:
    code: int
    errors: list[str]
    output: str


ImportCsv = Callable[..., Awaitable[Imported]]


@pytest.fixture
async def people(db: Database, clock: FakeClock) -> SqlPeople:
    """The directory as the Slack sync left it: five people, no org chart yet."""
    store = SqlPeople(db)
    await store.ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    await store.upsert_synced(WORKSPACE, DIRECTORY, at=clock.now())
    return store


@pytest.fixture
def import_csv(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> ImportCsv:
    """Run `realign directory import` in-process on `text`; returns its exit code and what it printed."""

    async def run(text: str, *flags: str, encoding: str = "utf-8") -> Imported:
        path = tmp_path / "org.csv"
        path.write_text(text, encoding=encoding)
        args = argparse.Namespace(file=path, skip_invalid="--skip-invalid" in flags, workspace=None)
        capsys.readouterr()
        code = await import_org_chart(Settings.model_validate({"DATABASE_URL": database_url}), args)
        out, err = capsys.readouterr()
        return Imported(code, err.splitlines(), out.strip())

    return run


def csv_of(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


async def org(people: SqlPeople) -> dict[str, tuple[str | None, str | None, str | None]]:
    """user id -> (manager id, department, title), as the database holds them."""
    return {p.user_id: (p.manager_id, p.department, p.title) for p in await people.directory(WORKSPACE)}


async def assert_nothing_written(people: SqlPeople, db: Database) -> None:
    assert set((await org(people)).values()) == {(None, None, None)}
    assert await count(db, "SELECT count(*) FROM audit_event") == 0


# --- the good path -----------------------------------------------------------------------------------


async def test_sets_managers_departments_and_titles(
    people: SqlPeople, db: Database, import_csv: ImportCsv
) -> None:
    result = await import_csv(csv_of(*GOOD))

    assert (result.code, result.errors) == (0, [])
    assert result.output == "imported 5 people (4 with a manager, 5 changed)"
    assert await org(people) == {
        "U1": (None, "Board", "CEO"),
        "U2": ("U1", "Sales", "VP Sales"),
        "U3": ("U2", "Sales", "Account executive"),
        "U4": ("U2", "Sales", None),
        "U5": ("U1", "Finance", "CFO"),
    }
    assert (
        await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'directory.org_chart_imported'") == 1
    )


async def test_name_fills_only_a_missing_one_and_sync_fields_stay(
    people: SqlPeople, import_csv: ImportCsv
) -> None:
    header = "Email,Manager_Email,Department,Name"
    result = await import_csv(
        csv_of("bob@acme.com,,Sales,Robert", "eve@acme.com,,Finance,Eve Adams", header=header)
    )

    assert result.code == 0
    synced = {p.user_id: p for p in await people.directory(WORKSPACE)}
    assert (synced["U2"].name, synced["U5"].name) == ("Bob", "Eve Adams")
    assert (synced["U2"].email, synced["U2"].active) == ("bob@acme.com", True)


async def test_reimport_updates_in_place(people: SqlPeople, db: Database, import_csv: ImportCsv) -> None:
    await import_csv(csv_of(*GOOD))
    moved = [
        row.replace("dee@acme.com,bob@acme.com,Sales", "dee@acme.com,eve@acme.com,Finance") for row in GOOD
    ]

    again = await import_csv(csv_of(*moved))
    once_more = await import_csv(csv_of(*moved))

    assert again.output == "imported 5 people (4 with a manager, 1 changed)"
    assert once_more.output == "imported 5 people (4 with a manager, 0 changed)"
    assert (await org(people))["U4"] == ("U5", "Finance", None)
    assert (await org(people))["U3"] == ("U2", "Sales", "Account executive")
    assert await count(db, "SELECT count(*) FROM person") == len(DIRECTORY)


async def test_without_a_title_column_titles_are_kept(people: SqlPeople, import_csv: ImportCsv) -> None:
    await import_csv(csv_of(*GOOD))

    result = await import_csv(csv_of("ada@acme.com,,Board", header="email,manager_email,department"))

    assert result.code == 0
    assert (await org(people))["U1"] == (None, "Board", "CEO")


# --- one test per kind of bad row: the exact line, and nothing written --------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            ["bob@acme.com,,Sales", "ada(at)acme.com,,Board"],
            ["line 3: malformed email 'ada(at)acme.com'"],
            id="malformed-email",
        ),
        pytest.param(
            ["ada@acme.com,,Board", "bob@acme.com,ada@acme.com,Sales", "ADA@acme.com,,Board"],
            ["line 4: duplicate email ada@acme.com (first on line 2)"],
            id="duplicate-email",
        ),
        pytest.param(
            ["ada@acme.com,,Board", "bob@acme.com,zed@acme.com,Sales"],
            ["line 3: unknown manager zed@acme.com"],
            id="unknown-manager",
        ),
        pytest.param(
            ["ada@acme.com,,Board", "bob@acme.com,cy@acme.com,Sales", "cy@acme.com,bob@acme.com,Sales"],
            [
                "line 3: manager cycle bob@acme.com → cy@acme.com → bob@acme.com",
                "line 4: manager cycle cy@acme.com → bob@acme.com → cy@acme.com",
            ],
            id="cycle-of-2",
        ),
        pytest.param(
            [
                "bob@acme.com,dee@acme.com,Sales",
                "ada@acme.com,,Board",
                "cy@acme.com,bob@acme.com,Sales",
                "dee@acme.com,cy@acme.com,Sales",
            ],
            [
                "line 2: manager cycle bob@acme.com → dee@acme.com → cy@acme.com → bob@acme.com",
                "line 4: manager cycle cy@acme.com → bob@acme.com → dee@acme.com → cy@acme.com",
                "line 5: manager cycle dee@acme.com → cy@acme.com → bob@acme.com → dee@acme.com",
            ],
            id="cycle-of-3",
        ),
        pytest.param(
            ["ada@acme.com,,Board", "bob@acme.com,bob@acme.com,Sales"],
            ["line 3: bob@acme.com is their own manager"],
            id="self-manager",
        ),
        pytest.param(
            ["ada@acme.com,,Board", "zed@acme.com,ada@acme.com,Sales"],
            ["line 3: no Slack user with email zed@acme.com in the directory"],
            id="not-in-directory",
        ),
    ],
)
async def test_bad_row(
    people: SqlPeople, db: Database, import_csv: ImportCsv, rows: list[str], expected: list[str]
) -> None:
    result = await import_csv(csv_of(*rows, header="email,manager_email,department"))

    assert result.code == 1
    assert result.errors[:-1] == expected
    assert result.errors[-1].startswith(f"{len(expected)} of {len(rows)} rows ")
    assert "nothing was imported" in result.errors[-1]
    await assert_nothing_written(people, db)


async def test_slack_user_id_must_match_the_email(
    people: SqlPeople, db: Database, import_csv: ImportCsv
) -> None:
    header = "email,manager_email,department,slack_user_id"
    rows = [
        "ada@acme.com,,Board,U1",
        "bob@acme.com,ada@acme.com,Sales,U3",
        "cy@acme.com,ada@acme.com,Sales,U9",
    ]

    result = await import_csv(csv_of(*rows, header=header))

    assert result.code == 1
    assert result.errors == [
        "line 3: slack_user_id U3 does not match bob@acme.com (that is cy@acme.com)",
        "line 4: no Slack user with id U9 in the directory",
        "2 of 3 rows have problems; nothing was imported (use --skip-invalid to import the 1 good rows)",
    ]
    await assert_nothing_written(people, db)


async def test_a_cycle_through_a_manager_already_in_the_directory(
    people: SqlPeople, import_csv: ImportCsv
) -> None:
    await import_csv(
        csv_of(
            "ada@acme.com,,Board", "bob@acme.com,ada@acme.com,Sales", header="email,manager_email,department"
        )
    )

    result = await import_csv(
        csv_of("ada@acme.com,bob@acme.com,Board", header="email,manager_email,department")
    )

    assert result.errors[0] == "line 2: manager cycle ada@acme.com → bob@acme.com → ada@acme.com"
    assert (await org(people))["U1"] == (None, "Board", None)


async def test_line_numbers_are_physical_lines(people: SqlPeople, import_csv: ImportCsv) -> None:
    text = csv_of('ada@acme.com,,Board,"Chief\nExecutive"', "", "bob@acme.com,nobody@acme.com,Sales,VP")

    result = await import_csv(text)

    assert result.errors[0] == "line 5: unknown manager nobody@acme.com"


# --- --skip-invalid ------------------------------------------------------------------------------------


async def test_skip_invalid_imports_the_good_rows(people: SqlPeople, import_csv: ImportCsv) -> None:
    rows = [
        "ada@acme.com,,Board,CEO",
        "bob@acme.com,zed@acme.com,Sales,VP Sales",  # unknown manager: skipped
        "cy@acme.com,bob@acme.com,Sales,AE",  # manager skipped: imported without one
        "dee@acme.com,ada@acme.com,Sales,",
        "not-an-email,ada@acme.com,Sales,",
    ]

    result = await import_csv(csv_of(*rows), "--skip-invalid")

    assert result.code == 0
    assert result.errors == [
        "line 3: unknown manager zed@acme.com",
        "line 6: malformed email 'not-an-email'",
        "line 4: manager bob@acme.com (line 3) was skipped; imported without a manager",
        "skipped 2 of 5 rows with problems",
    ]
    assert result.output == "imported 3 people (1 with a manager, 3 changed)"
    assert await org(people) == {
        "U1": (None, "Board", "CEO"),
        "U2": (None, None, None),
        "U3": (None, "Sales", "AE"),
        "U4": ("U1", "Sales", None),
        "U5": (None, None, None),
    }


async def test_skip_invalid_with_no_good_row_imports_nothing(
    people: SqlPeople, db: Database, import_csv: ImportCsv
) -> None:
    result = await import_csv(csv_of("zed@acme.com,,Board,"), "--skip-invalid")

    assert result.code == 1
    assert result.errors[-1] == "1 of 1 rows has problems; nothing was imported"
    await assert_nothing_written(people, db)


# --- the header ------------------------------------------------------------------------------------------


async def test_header_with_bom_any_case_and_spaces(people: SqlPeople, import_csv: ImportCsv) -> None:
    text = csv_of("ada@acme.com,,Board,CEO", header=" EMAIL , Manager_Email,Department ,Title")

    result = await import_csv(text, encoding="utf-8-sig")

    assert result.code == 0
    assert (await org(people))["U1"] == (None, "Board", "CEO")


async def test_missing_required_column(people: SqlPeople, db: Database, import_csv: ImportCsv) -> None:
    with pytest.raises(
        OrgChartError, match=r"^the header has no 'manager_email' column \(it has: email, department\)$"
    ):
        await import_csv(csv_of("ada@acme.com,Board", header="email,department"))

    await assert_nothing_written(people, db)


# --- a large org --------------------------------------------------------------------------------------------


async def test_twenty_thousand_people(db: Database, clock: FakeClock, import_csv: ImportCsv) -> None:
    people = SqlPeople(db)
    await people.ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    size = 20_000
    await people.upsert_synced(
        WORKSPACE, (Person(f"U{n}", f"P{n}", email=f"p{n}@acme.com") for n in range(size)), at=clock.now()
    )
    rows = [
        f"p{n}@acme.com,{f'p{(n - 1) // 10}@acme.com' if n else ''},Dept {n % 40},Title {n % 7}"
        for n in range(size)
    ]

    started = time.perf_counter()
    result = await import_csv(csv_of(*rows))
    elapsed = time.perf_counter() - started

    print(f"\n20,000-row import on {db.url.get_backend_name()}: {elapsed:.2f}s")
    assert result.output == f"imported 20,000 people ({size - 1:,} with a manager, 20,000 changed)"
    assert [line for line in result.errors if not line.startswith(("checking: ", "writing: "))] == []
    assert len([line for line in result.errors if line.startswith("writing: ")]) == 10
    assert await count(db, "SELECT count(*) FROM person WHERE manager_id IS NOT NULL") == size - 1
    assert await count(db, "SELECT count(*) FROM person WHERE manager_id = 'U1'") == 10
