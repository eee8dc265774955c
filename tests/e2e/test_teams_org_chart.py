"""`realign directory import` for a Teams tenant, on SQLite and PostgreSQL: with Teams people in the
database from a team's roster (Realign added to the team through the real HTTP app and the connector
fake), the org chart matches them by email (any case), sets managers (by their Entra object ids, the
ids the core knows Teams people by) and departments, touches no other workspace's people, and names
Teams, not Slack, in the problems it reports."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.teams.tenants import workspace_key
from bot.model import Person
from realign.orgchart_import import import_org_chart
from store.orgchart import Known
from tests.conftest import FakeClock
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.e2e.test_teams_flow import ANNOUNCER, aad, install, seed
from tests.fakes.teams_connector import FakeConnector

HEADER = "email,manager_email,department"


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    async with running(database_url, fake, clock) as app:
        yield app


async def installed(realign: TeamsRealign, teams: FakeConnector) -> None:
    """The tenant of `seed`, one of whose people has a mixed-case address in Entra ID."""
    seed(teams)
    teams.users["29:s2"]["email"] = "Sue.Two@Example.COM"
    await install(realign, teams)


async def run_import(realign: TeamsRealign, tmp_path: Path, *lines: str, workspace: str | None = None) -> int:
    path = tmp_path / "org.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    args = argparse.Namespace(file=path, workspace=workspace, skip_invalid=False)
    return await import_org_chart(realign.runtime.settings, args)


async def directory(realign: TeamsRealign, workspace: str) -> dict[str, Known]:
    return {p.user_id: p for p in await realign.runtime.wiring.people.directory(workspace)}


async def test_teams_people_are_matched_by_email_with_managers_and_departments(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await installed(realign, fake)

    done = await run_import(  # the tenant is the only workspace: no --workspace needed
        realign,
        tmp_path,
        "ann@example.com,,Leadership",
        "s1@example.com,ann@example.com,Support",
        "sue.two@example.com,s1@example.com,Support",
        "O5@example.com,ann@example.com,On-call",
    )

    assert done == 0
    assert capsys.readouterr().out == "imported 4 people (3 with a manager, 4 changed)\n"
    people = await directory(realign, workspace_key(fake.tenant_id))
    ann, s1, s2, o5 = (aad(fake, user) for user in (ANNOUNCER, "29:s1", "29:s2", "29:o5"))
    assert (people[ann].manager_id, people[ann].department) == (None, "Leadership")
    assert (people[s1].manager_id, people[s1].department) == (ann, "Support")
    assert (people[s2].manager_id, people[s2].department) == (s1, "Support")
    assert (people[o5].manager_id, people[o5].department) == (ann, "On-call")
    assert people[aad(fake, "29:s3")].department is None  # not in the file: untouched


async def test_only_the_named_tenant_changes_and_problems_name_teams(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await installed(realign, fake)
    people, now = realign.runtime.wiring.people, datetime(2026, 12, 1, tzinfo=UTC)
    await people.ensure_workspace(key="slack:T1", platform="slack", name="Acme", at=now)
    await people.upsert_synced("slack:T1", [Person("U1", "Sam", email="s1@example.com")], at=now)
    tenant = workspace_key(fake.tenant_id)

    refused = await run_import(
        realign,
        tmp_path,
        "s1@example.com,,Support",
        "zed@example.com,s1@example.com,Support",
        workspace=tenant,
    )

    assert refused == 1
    problems = capsys.readouterr().err.splitlines()
    assert problems[0] == "line 3: no Teams user with email zed@example.com in the directory"
    assert (await directory(realign, tenant))[aad(fake, "29:s1")].department is None  # nothing written

    assert await run_import(realign, tmp_path, "s1@example.com,,Support", workspace=tenant) == 0
    assert (await directory(realign, tenant))[aad(fake, "29:s1")].department == "Support"
    assert (await directory(realign, "slack:T1"))["U1"].department is None  # the same address elsewhere
