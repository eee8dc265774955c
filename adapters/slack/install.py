"""Installing Realign in many workspaces through Slack's OAuth flow, and authorizing each request with
its own workspace's bot (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, SLACK_STATE_SECRET).

Bolt's flow serves `GET /slack/install` (a redirect to Slack's consent page, with a `state` tied to the
installer's browser by a cookie) and `GET /slack/oauth_redirect` (the `code` exchanged with
oauth.v2.access, the installation saved in the store it is given). Requests are then authorized from
what the runtime already holds per workspace: no store query and no auth.test per request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
# What Realign asks each workspace for: the bot scopes of manifest.yml (a test keeps them equal).
BOT_SCOPES = (
    "chat:write",
    "commands",
    "im:write",
    "im:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "channels:history",  # the digest (REALIGN_DIGEST_CHANNEL): reconciling a post
    "groups:history",
    "files:write",  # the audit export from /change-status (adapters.slack.exports)
)


@dataclass(frozen=True)
class InstalledBot:
    """An installed workspace's bot, as the runtime holds it."""

    token: str
    bot_id: str | None = None
    bot_user_id: str | None = None


FindBot = Callable[[str], Awaitable[InstalledBot | None]]  # team id -> its bot, if installed


class InstalledAuthorize(AsyncAuthorize):
    """Authorizes a request with the bot of the workspace it came from; none for a workspace Realign
    is not installed in (bolt then answers the person that the app is not installed)."""

    def __init__(self, find: FindBot) -> None:
        self.find = find

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        bot = await self.find(team_id) if team_id else None
        if bot is None:
            log.warning("a request came from Slack team %s, where Realign is not installed", team_id)
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=bot.token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            user_id=user_id,
        )


@dataclass(frozen=True)
class Installs:
    """What a bolt app needs to install and serve many workspaces."""

    flow: AsyncOAuthFlow
    authorize: AsyncAuthorize


def oauth_installs(
    *,
    client_id: str,
    client_secret: str,
    installations: AsyncInstallationStore,
    states: AsyncOAuthStateStore,
    client: AsyncWebClient,
    find: FindBot,
    on_installed: Callable[[Installation], Awaitable[None]],
) -> Installs:
    """Bolt's OAuth flow over our stores; `client` reaches oauth.v2.access (SLACK_API_URL), and
    `on_installed` runs once an installation is saved, before the installer sees the success page."""

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        await on_installed(args.installation)
        return await args.default.success(args)

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        log.warning("a Slack install did not complete: %s", args.reason)
        return await args.default.failure(args)

    settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        install_page_rendering_enabled=False,  # /slack/install goes straight to Slack's consent page
        callback_options=AsyncCallbackOptions(success=success, failure=failure),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=states,
        logger=log,
    )
    return Installs(AsyncOAuthFlow(client=client, logger=log, settings=settings), InstalledAuthorize(find))
