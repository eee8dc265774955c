"""The roster sync of one Teams tenant, outside any turn (the engine's hourly directory tick): every
installed team's roster, and each private channel's and group chat's, read again page by page, so
people who joined are known and people who left every install become inactive (audiences then exclude
them as deactivated; store.teams `mark_leavers`), and people who came back are active again.

One process at a time per tenant: the sync runs under the lease `directory.sync:teams:<tenant id>`
(bot.singleton, as Slack's sync does), and a process that finds it held skips the run. Each page goes
through the tenant's limiter (Teams' budget is per app and tenant, for every call); a 429 is waited
out and the page asked for again, never skipped. A roster that cannot be read (the bot was removed
while nobody listened, Teams is down) leaves that install's members as they were, and says so in one
log line; only rosters read to the end replace what is stored.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any, Protocol

from botbuilder.schema.teams import TeamsChannelAccount

from adapters.teams.connector import Connectors
from adapters.teams.replies import throttled
from adapters.teams.roster import PAGE, InstallRecords, PeopleWriter, keep
from bot.clock import Clock
from bot.ports import Leases
from bot.rate import RateLimiter
from bot.singleton import run_alone
from store.teams import Install

log = logging.getLogger(__name__)
SYNC_LEASE = timedelta(minutes=2)  # renewed every third of it while a sync runs
THROTTLED_PAGE = 5  # times a page answered 429 is asked for again before the roster is left as it was
WAIT_AT_MOST = 30.0  # seconds of Retry-After honoured per 429 (a background job: nobody waits)


class SyncRecords(InstallRecords, Protocol):
    async def personal_members(self, workspace: str) -> dict[str, str]: ...


def _read_again(install: Install) -> bool:
    """Whether the install has a roster of its own: a team (its General channel), a private channel, a
    group chat. A standard channel's audience is its team's roster; a personal scope is one person."""
    if install.kind == "channel" and install.team_id and install.conversation_id != install.team_id:
        return install.private
    return install.kind != "personal"


class RosterSync:
    """Implements the hourly sync of one tenant's rosters (see the module's docstring)."""

    def __init__(
        self,
        *,
        workspace: str,
        connectors: Connectors,
        people: PeopleWriter,
        records: SyncRecords,
        clock: Clock,
        limiter: RateLimiter,
        leases: Leases,
        holder: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.connectors = connectors
        self.people = people
        self.records = records
        self.clock = clock
        self.limiter = limiter
        self.leases = leases
        self.holder = holder or uuid.uuid4().hex

    async def sync(self) -> int | None:
        """Read every roster again; returns how many people are in them, or None if another process
        holds the lease (it syncs instead)."""
        seen = await run_alone(
            self._sync,
            leases=self.leases,
            name=f"directory.sync:{self.workspace}",
            holder=self.holder,
            clock=self.clock,
            ttl=SYNC_LEASE,
        )
        if seen is None:
            log.info("directory %s: rosters synced by another process (it holds the lease)", self.workspace)
        return seen

    async def _sync(self) -> int:
        personal = await self.records.personal_members(self.workspace)
        seen: set[str] = set()
        unread = 0
        for install in await self.records.installs(self.workspace):
            if install.kind == "personal":
                user_id = personal.get(install.conversation_id)
                if user_id:  # installs made before personal scopes had a member row get one now
                    await self.records.replace_members(self.workspace, install.conversation_id, [user_id])
                    seen.add(user_id)
                continue
            if not _read_again(install):
                continue
            try:
                members = await self._paged(install)
            except Exception as error:
                unread += 1
                log.warning(
                    "directory %s: the roster of %s was not read (%s); its members stay as they were",
                    self.workspace,
                    install.conversation_id,
                    _said(error),
                )
                continue
            await keep(
                self.people,
                self.records,
                workspace=self.workspace,
                conversation_id=install.conversation_id,
                members=members,
                service_url=install.service_url,
                at=self.clock.now(),
            )
            seen.update(str(getattr(m, "aad_object_id", None) or m.id) for m in members)
        gone, back = await self.records.mark_leavers(self.workspace, at=self.clock.now())
        log.info(
            "directory %s: %d people in the rosters, %d inactive now, %d active again%s",
            self.workspace,
            len(seen),
            gone,
            back,
            f", {unread} rosters not read" if unread else "",
        )
        return len(seen)

    async def _paged(self, install: Install) -> list[TeamsChannelAccount]:
        """Every page of the install's roster, each within the tenant's rate."""
        client = await self.connectors.client(install.service_url)
        members: list[TeamsChannelAccount] = []
        token: str | None = None
        while True:
            page = await self._page(client, install.conversation_id, token)
            members.extend(page.members or [])
            token = page.continuation_token
            if not token:
                return members

    async def _page(self, client: Any, conversation_id: str, token: str | None) -> Any:
        for _ in range(THROTTLED_PAGE):
            await self.limiter.acquire()
            try:
                return await client.conversations.get_teams_conversation_paged_members(
                    conversation_id, PAGE, token
                )
            except Exception as error:
                after = throttled(error)
                if after is None:
                    raise
                self.limiter.penalize(min(after, WAIT_AT_MOST))  # the next acquire waits it out
        raise RuntimeError(f"throttled (429) {THROTTLED_PAGE} times in a row")


def _said(error: BaseException) -> str:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status else str(error) or type(error).__name__
