"""The Slack workspaces one event loop reaches, each with its own token, directory, messenger and limiter.

With SLACK_BOT_TOKEN that is one workspace, for the life of the process. With OAuth (SLACK_CLIENT_ID
...) it is every workspace in the installation store (store.installations), which other loops and other
processes change: each loop loads them all at start-up, loads one it does not know yet on first use (an
install made since), and every REFRESH matches the store again (uninstalls, new tokens). The web loop
refreshes when a request finds it stale; the engine on its heartbeat and on a miss.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.directory import SlackDirectory
from adapters.slack.messenger import SlackMessenger
from bot.rate import RateLimiter
from store.installations import SqlInstallations

log = logging.getLogger(__name__)
REFRESH = 5.0  # seconds a loop trusts what it knows of the installation store
T = TypeVar("T")


def workspace_key(team_id: str) -> str:
    return f"slack:{team_id}"


@dataclass
class Slack:
    """One Slack workspace's clients, as this loop uses them."""

    workspace: str
    client: AsyncWebClient
    directory: SlackDirectory
    messenger: SlackMessenger
    limiter: RateLimiter
    bot_id: str | None = None  # known for OAuth installs (bolt's authorize reports them)
    bot_user_id: str | None = None
    token: str = field(default="", repr=False)


class Each(Mapping[str, T]):
    """A live view of one part of every workspace's Slack: a dispatcher keeps it while installs come
    and go."""

    def __init__(self, slacks: dict[str, Slack], part: Callable[[Slack], T]) -> None:
        self._slacks = slacks
        self._part = part

    def __getitem__(self, workspace: str) -> T:
        return self._part(self._slacks[workspace])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._slacks))

    def __len__(self) -> int:
        return len(self._slacks)


# (workspace key, bot token, limiter to keep or None) -> that workspace's Slack
Build = Callable[[str, str, RateLimiter | None], Slack]


class SlackWorkspaces:
    """The workspaces by key (`slack:<team id>`)."""

    def __init__(self, *, build: Build, installations: SqlInstallations | None = None) -> None:
        self.installations = installations
        self.by_key: dict[str, Slack] = {}
        self._build = build
        self._senders = 1
        self._fresh_until = 0.0

    def add(self, slack: Slack) -> Slack:
        slack.limiter.share(self._senders)
        self.by_key[slack.workspace] = slack
        return slack

    def forget(self, workspace: str) -> None:
        """No more sends to the workspace from this loop (Realign was removed from it)."""
        if self.by_key.pop(workspace, None) is not None:
            log.info("Slack workspace %s is no longer served by this process", workspace)

    def share(self, senders: int) -> None:
        """`senders` processes deliver now: each workspace's limiter takes this one's part."""
        self._senders = max(1, senders)
        for slack in self.by_key.values():
            slack.limiter.share(self._senders)

    @property
    def messengers(self) -> Mapping[str, SlackMessenger]:
        return Each(self.by_key, lambda slack: slack.messenger)

    @property
    def limiters(self) -> Mapping[str, RateLimiter]:
        return Each(self.by_key, lambda slack: slack.limiter)

    async def get(self, workspace: str) -> Slack | None:
        """The workspace's Slack: matched against the store when stale, loaded when new; None when
        Realign is not installed there."""
        if self.installations is not None and time.monotonic() >= self._fresh_until:
            await self.refresh()
        return self.by_key.get(workspace) or await self.load(workspace)

    async def load(self, workspace: str) -> Slack | None:
        """Read the workspace's install from the store (an install this loop has not seen yet)."""
        if self.installations is None or not workspace.startswith("slack:"):
            return self.by_key.get(workspace)
        bot = await self.installations.bot(workspace.removeprefix("slack:"))
        if bot is None:
            self.forget(workspace)
            return None
        return self._from(bot)

    async def refresh(self) -> None:
        """Match the store: add new installs, take new tokens, drop uninstalled workspaces."""
        if self.installations is None:
            return
        self._fresh_until = time.monotonic() + REFRESH  # before awaiting: concurrent callers skip it
        bots = {workspace_key(str(bot.team_id)): bot for bot in await self.installations.bots()}
        for workspace in set(self.by_key) - set(bots):
            self.forget(workspace)
        for bot in bots.values():
            self._from(bot)

    def _from(self, bot: Bot) -> Slack:
        workspace, token = workspace_key(str(bot.team_id)), str(bot.bot_token)
        current = self.by_key.get(workspace)
        if current is not None and current.token == token:
            return current
        # A new install, or a reinstall with a new token: the workspace keeps its limiter (and its rate).
        slack = self._build(workspace, token, current.limiter if current else None)
        slack.bot_id, slack.bot_user_id = bot.bot_id, bot.bot_user_id
        if current is None:
            log.info("Slack workspace %s (%s) is served", workspace, bot.team_name or "no name")
        return self.add(slack)
