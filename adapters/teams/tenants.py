"""The Teams tenants one event loop serves, each with its messenger, directory and limiter, keyed
`teams:<tenant id>`. Tenants are registered in the `workspace` table at install, so every loop and
process finds them there (at start-up, and on first use of one installed since)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from adapters.teams.directory import TeamsDirectory
from adapters.teams.messenger import TeamsMessenger
from adapters.teams.sync import RosterSync
from bot.rate import RateLimiter

log = logging.getLogger(__name__)
PREFIX = "teams:"
T = TypeVar("T")


def workspace_key(tenant_id: str) -> str:
    return f"{PREFIX}{tenant_id}"


def tenant_of(workspace: str) -> str:
    return workspace.removeprefix(PREFIX)


@dataclass
class Tenant:
    workspace: str
    messenger: TeamsMessenger
    directory: TeamsDirectory
    limiter: RateLimiter  # TEAMS_POST_RATE (the web loop's replies are paid for by the engine's)
    rosters: RosterSync | None = None  # the hourly roster sync (the engine's directory tick)


class Part(Mapping[str, T], Generic[T]):
    """A live view of one part of every tenant (the dispatchers keep it while tenants join)."""

    def __init__(self, tenants: dict[str, Tenant], part: Callable[[Tenant], T]) -> None:
        self._tenants, self._part = tenants, part

    def __getitem__(self, workspace: str) -> T:
        return self._part(self._tenants[workspace])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._tenants))

    def __len__(self) -> int:
        return len(self._tenants)


class TeamsTenants:
    """The tenants by workspace key; `build` makes one, `known` lists the registered ones."""

    def __init__(self, *, build: Callable[[str], Tenant], known: Callable[[], object]) -> None:
        self.by_key: dict[str, Tenant] = {}
        self._build = build
        self._known = known
        self._senders = 1

    def get(self, workspace: str) -> Tenant:
        """The tenant, built on first use (installs register the workspace before anything is sent)."""
        tenant = self.by_key.get(workspace)
        if tenant is None:
            tenant = self._build(workspace)
            tenant.limiter.share(self._senders)
            self.by_key[workspace] = tenant
            log.info("Teams tenant %s is served", workspace)
        return tenant

    async def load(self, workspace: str) -> Tenant | None:
        if not workspace.startswith(PREFIX):
            return None
        return self.get(workspace)

    async def refresh(self) -> None:
        keys = await self._known()  # type: ignore[misc]
        for workspace in keys:
            self.get(workspace)

    def share(self, senders: int) -> None:
        self._senders = max(1, senders)
        for tenant in self.by_key.values():
            tenant.limiter.share(self._senders)

    @property
    def messengers(self) -> Mapping[str, TeamsMessenger]:
        return Part(self.by_key, lambda t: t.messenger)

    @property
    def limiters(self) -> Mapping[str, RateLimiter]:
        return Part(self.by_key, lambda t: t.limiter)
