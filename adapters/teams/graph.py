"""Microsoft Graph, for one thing only: finding a card Realign may have posted in a person's 1:1 chat
with the bot when the connector's answer never came (a timeout, a 5xx, a crash mid-request).

The Bot Connector cannot list a conversation's messages; Graph can (documented, v1.0):

- the chat between a user and the app: `GET /users/{aad}/teamwork/installedApps?$expand=teamsApp&$filter=
  teamsApp/externalId eq '{app id}'`, then `GET /users/{aad}/teamwork/installedApps/{id}/chat` (application
  permission `TeamsAppInstallation.ReadForUser.All`). The bot's `a:` conversation id is not a Graph chat id.
- its messages: `GET /chats/{chat id}/messages?$top=50&$orderby=lastModifiedDateTime desc&$filter=
  lastModifiedDateTime gt …` (application `Chat.Read.All`, a protected API that Microsoft approves on
  request, or the RSC permission `ChatMessage.Read.Chat`, declared in a manifest). A bot's card comes back
  as an attachment whose `content` is the card's JSON, so the card carries a client-generated id Realign
  can recognise: the `id` of its first element, `realign-<kind>-<row id>` (see `marker`).

Tokens come from the bot's own registration (client credentials, scope `https://graph.microsoft.com/.default`,
authority = the tenant the chat lives in), through botframework's MSAL wrapper, cached by it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
PAGE = 50  # Graph's maximum $top for chat messages
PAGES = 10  # how far back a lookup reads before it gives up (and the row stays unsure)
WINDOW = timedelta(days=1)  # an unsure send is at most the retry schedule old (well under an hour)

TokenSource = Callable[[str], Awaitable[str | None]]  # tenant id -> bearer token (None: dev mode)


class GraphError(Exception):
    """Graph refused or failed; `retry_after` from a 429/503's header, when it sent one."""

    def __init__(self, status: int | None, code: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"Graph {status} {code}")
        self.status, self.code, self.retry_after = status, code, retry_after


def marker(kind: str, row_id: int) -> str:
    """The client-generated id a posted card carries, so a lookup can recognise it."""
    return f"realign-{kind}-{row_id}"


def mark(card: dict[str, Any], kind: str, row_id: int) -> dict[str, Any]:
    """A copy of `card` whose first element carries `marker(kind, row_id)` as its id."""
    body = list(card.get("body") or [])
    if body and isinstance(body[0], dict) and "id" not in body[0]:
        body[0] = {**body[0], "id": marker(kind, row_id)}
    else:
        body.insert(0, {"type": "TextBlock", "text": " ", "isVisible": False, "id": marker(kind, row_id)})
    return {**card, "body": body}


def carries(message: dict[str, Any], wanted: str) -> bool:
    """Whether a Graph chatMessage is a card whose first element's id is `wanted`."""
    for attachment in message.get("attachments") or ():
        if attachment.get("contentType") != ADAPTIVE_CARD:
            continue
        content = attachment.get("content")
        try:
            card = json.loads(content) if isinstance(content, str) else content
        except ValueError:
            continue
        body = card.get("body") if isinstance(card, dict) else None
        if body and isinstance(body[0], dict) and body[0].get("id") == wanted:
            return True
    return False


class Graph:
    """A Graph client for one tenant, on a shared aiohttp session."""

    def __init__(
        self,
        *,
        base_url: str,
        tenant_id: str,
        token: TokenSource,
        session: Callable[[], aiohttp.ClientSession],
        timeout: float,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/v1.0"
        self.tenant_id = tenant_id
        self._token = token
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _get(self, url: str) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        token = await self._token(self.tenant_id)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._session().get(url, headers=headers, timeout=self._timeout) as response:
                if response.status == 200:
                    body = await response.json(content_type=None)
                    if not isinstance(body, dict):
                        raise GraphError(200, "not_json")
                    return body
                try:
                    error = (await response.json(content_type=None)).get("error") or {}
                except (ValueError, AttributeError, aiohttp.ContentTypeError):
                    error = {}
                after = response.headers.get("Retry-After")
                raise GraphError(
                    response.status,
                    str(error.get("code") or f"http_{response.status}"),
                    retry_after=float(after) if after and after.isdigit() else None,
                )
        except (TimeoutError, aiohttp.ClientError) as error:
            raise GraphError(None, type(error).__name__) from error

    async def chat_id(self, user_aad_id: str, app_id: str) -> str | None:
        """The Graph id of the 1:1 chat between the user and the app; None if the app has no personal
        installation for them (then that chat cannot be found through Graph)."""
        user = quote(user_aad_id, safe="")
        query = f"$expand=teamsApp&$filter=teamsApp/externalId eq '{app_id}'"
        installed = await self._get(f"{self.base_url}/users/{user}/teamwork/installedApps?{query}")
        apps = installed.get("value") or []
        if not apps:
            return None
        installation = quote(str(apps[0]["id"]), safe="")
        chat = await self._get(f"{self.base_url}/users/{user}/teamwork/installedApps/{installation}/chat")
        return str(chat["id"]) if chat.get("id") else None

    async def find(self, chat_id: str, wanted: str, *, app_id: str, now: datetime) -> str | None:
        """The id (== the connector's activity id) of the app's message carrying `wanted`, posted or
        edited since `now - WINDOW`; None when the chat has none. Raises GraphError when it cannot tell."""
        since = (now - WINDOW).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        url: str | None = (
            f"{self.base_url}/chats/{quote(chat_id, safe='')}/messages?$top={PAGE}"
            f"&$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt {since}"
        )
        for _ in range(PAGES):
            if url is None:
                return None
            page = await self._get(url)
            for message in page.get("value") or ():
                sender = ((message.get("from") or {}).get("application") or {}).get("id")
                if (not app_id or sender == app_id) and carries(message, wanted):
                    return str(message["id"])
            url = page.get("@odata.nextLink")
        if url is None:
            return None
        raise GraphError(None, "too_many_messages")  # not read to the end: cannot say it is not there
