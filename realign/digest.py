"""The engine's digest tick, wired from the settings: REALIGN_DIGEST_CHANNEL says where (a channel of
the SLACK_BOT_TOKEN workspace, `<team id>/<channel id>` of an OAuth-installed one, or `teams:<tenant id>/
<channel conversation id>` of a team Realign is installed in), REALIGN_DIGEST_CRON when (in UTC)."""

from __future__ import annotations

import logging
from datetime import timedelta

from adapters.slack.digest import SlackDigestPoster
from adapters.teams.digest import TeamsDigestPoster
from adapters.teams.tenants import workspace_key as teams_workspace
from bot.digest import Destination, Digesting, DigestPoster
from realign import metrics
from realign.cron import CronSchedule
from realign.settings import TEAMS_DIGEST_PREFIX, Settings
from realign.slacks import workspace_key
from realign.wiring import Wiring
from store.digest import SqlDigests

log = logging.getLogger(__name__)


def destination(settings: Settings, wiring: Wiring) -> Destination | None:
    """Where the digest goes (None: nowhere, or nowhere this process can post)."""
    if settings.digest_channel is None:
        return None
    if settings.digest_channel.startswith(TEAMS_DIGEST_PREFIX):  # teams:<tenant id>/<conversation id>
        tenant, _, conversation = settings.digest_channel.removeprefix(TEAMS_DIGEST_PREFIX).partition("/")
        return Destination(teams_workspace(tenant), conversation)
    team, _, channel = settings.digest_channel.rpartition("/")
    served = wiring.logins.slack_workspace  # SLACK_BOT_TOKEN's workspace (None with OAuth)
    workspace = workspace_key(team) if team else served
    if workspace is None:  # settings refuse a bare channel id with OAuth; kept for safety
        return None
    if served is not None and workspace != served:
        log.error(
            "REALIGN_DIGEST_CHANNEL names Slack team %s, but SLACK_BOT_TOKEN belongs to %s: no digest is"
            " posted; write the channel id alone",
            team,
            served.removeprefix("slack:"),
        )
        return None
    return Destination(workspace, channel)


def digest_tick(wiring: Wiring, settings: Settings) -> Digesting | None:
    """The digest tick over this loop's wiring, or None when no digest is configured."""
    where = destination(settings, wiring)
    if where is None:
        return None

    store = SqlDigests(wiring.db)

    async def poster(workspace: str) -> DigestPoster | None:
        if workspace.startswith("teams:"):
            tenant = await wiring.teams.load(workspace) if wiring.connectors is not None else None
            if tenant is None or wiring.connectors is None:  # Teams is not served here
                return None
            return TeamsDigestPoster(
                workspace=workspace,
                destination=where.key,
                connectors=wiring.connectors,
                installs=wiring.teams_records,
                notes=store,
                pace=tenant.limiter.acquire,
                on_error=metrics.platform_errors("teams"),
            )
        slack = await wiring.slacks.get(workspace)
        if slack is None:
            return None
        # The messenger's client: posting never auto-retries inside slack_sdk.
        return SlackDigestPoster(slack.messenger.client, on_error=metrics.platform_errors("slack"))

    return Digesting(
        store=store,
        slots=CronSchedule(settings.digest_cron),
        destination=where,
        poster=poster,
        clock=wiring.clock,
        send_timeout=timedelta(seconds=settings.slack_api_timeout),
    )
