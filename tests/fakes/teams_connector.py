"""A fake Bot Framework connector (Teams flavour) speaking real HTTP on 127.0.0.1, for tests and benchmarks.

The product reaches it through the `serviceUrl` of the activities it receives (`fake.url`), exactly as
it reaches `https://smba.trafficmanager.net/teams/`: Connector REST routes under `/v3/`, Teams-shaped
errors (`{"error": {"code", "message"}}`, 429 + `Retry-After`, bare 503/504 pages), a small in-memory
tenant (users, teams, channels, 1:1 chats) and every call recorded. It also answers the three Microsoft
Graph reads Realign uses to find a card whose post went unanswered (`graph_url`, under `/v1.0/`): the app's
personal installation for a user, the chat of that installation (`19:<aad>_<app id>@unq.gbl.spaces`),
and that chat's messages (chatMessage JSON, the bot's cards as attachments, newest change first, paged
by 50 at most); they share the faults but not the connector's rate limit. The activities it builds for
Realign (installs and removals, people leaving, installationUpdates, messages, invokes) carry a
`clientInfo` entity as Teams clients send it, with the user's time zone when `timezones` has one.
Standalone: `python -m tests.fakes.teams_connector --port 0 [--users N] [--rate-limit PER_SECOND]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import calendar
import hashlib
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.fakes.standalone import serve_until_signalled

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
DEFAULT_TENANT = "9f1c2e34-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
DEFAULT_APP_ID = "00000000-0000-4000-8000-00000000b07a"
# Teams' documented limits: paged rosters take 50..500 members a page (200 by default); a bot message
# may be 40 KB as UTF-16 (raised to 100 KB in 2025; the fake keeps the stricter figure).
PAGE_MIN, PAGE_DEFAULT, PAGE_MAX = 50, 200, 500
MAX_ACTIVITY_BYTES = 40 * 1024
# The error code Teams sends with each status, when a fault is injected without one.
DEFAULT_CODES = {
    400: "BadArgument",
    401: "BotNotRegistered",
    403: "ConversationBlockedByUser",
    404: "ConversationNotFound",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
}

Json = dict[str, Any]


class ConnectorError(Exception):
    """A Teams error answer: HTTP `status` with `{"error": {"code": code, "message": message}}`."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message or code


@dataclass(slots=True)
class Call:
    """One connector request the fake received; `route` is botbuilder's operation name."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    match: dict[str, str]  # decoded path parameters: cid (conversation), aid (activity), mid, tid
    at: float  # time.monotonic()

    @property
    def conversation_id(self) -> str | None:
        return self.match.get("cid")


@dataclass
class Conversation:
    """A 1:1 chat, group chat, channel (a team's General is its team id) or thread, with the bot's posts."""

    id: str
    kind: str  # personal | groupChat | channel | thread
    tenant_id: str
    members: list[str]  # user ids, in roster order
    team_id: str | None = None
    name: str | None = None
    private: bool = False
    activities: list[Json] = field(default_factory=list)
    by_id: dict[str, Json] = field(default_factory=dict)


@dataclass
class _Team:
    id: str
    name: str
    tenant_id: str
    aad_group_id: str
    channels: list[str]  # conversation ids, General (== team id) first


@dataclass
class _Fault:
    """A scheduled misbehaviour: sleep `seconds`, then maybe answer `status` (with a Teams error, or
    `body` verbatim when given); `times=None` is for ever."""

    times: int | None
    after_effect: bool
    status: int | None = None
    code: str | None = None
    retry_after: int | None = None
    seconds: float = 0.0
    when: Callable[[Call], bool] | None = None
    body: Any = None


@dataclass
class _Bucket:
    """A tenant's token bucket: `rate` requests a second, burst of max(1, rate)."""

    rate: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = max(1.0, self.rate)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


class FakeConnector:
    """The fake server: a Teams tenant behind the Bot Connector REST API, with call recording and faults."""

    def __init__(
        self,
        *,
        token: str | None = None,
        app_id: str = DEFAULT_APP_ID,
        tenant_id: str = DEFAULT_TENANT,
        record_calls: bool = True,
    ) -> None:
        self.token = token  # when set, every call must carry `Authorization: Bearer <token>`
        self.app_id = app_id
        self.bot_id = f"28:{app_id}"
        self.tenant_id = tenant_id
        self.record_calls = record_calls  # off in benchmarks: `call_counts` is enough there
        self.calls: list[Call] = []
        self.call_counts: Counter[str] = Counter()
        self.rate_limited = 0
        self.latency = 0.0
        self.url = ""
        self.graph_url = ""  # Microsoft Graph's base (MICROSOFT_GRAPH_URL), the same server
        self.users: dict[str, Json] = {}  # user id -> TeamsChannelAccount JSON (live: edit to change)
        self.conversations: dict[str, Conversation] = {}
        self.teams: dict[str, _Team] = {}
        self.blocked: set[str] = set()  # users who blocked the bot: 403 ConversationBlockedByUser
        self.uninstalled: set[str] = set()  # users without the app: 403 on create / send
        self.timezones: dict[str, str] = {}  # user id -> the IANA zone their client reports (clientInfo)
        self._by_aad: dict[str, str] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._ratios: dict[str, tuple[float, int, random.Random]] = {}
        self._rate: tuple[float, int] | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._last_id = 0
        self._runner: web.AppRunner | None = None
        # Files the bot PUT to an upload URL of a file consent (file_consent_from): name -> bytes, and
        # each upload's headers; `upload_status` answers the next uploads instead (e.g. 507).
        self.uploads: dict[str, bytes] = {}
        self.upload_headers: list[dict[str, str]] = []
        self.upload_status: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, *, port: int = 0) -> FakeConnector:
        """Serve on 127.0.0.1 (a free port by default); `url` is the serviceUrl, like `.../teams/`."""
        app = web.Application()
        routes: list[tuple[str, str, str, Handler]] = [
            ("POST", "/v3/conversations", "create_conversation", self._create_conversation),
            ("POST", "/v3/conversations/{cid}/activities", "send_to_conversation", self._send),
            ("POST", "/v3/conversations/{cid}/activities/{aid}", "reply_to_activity", self._reply),
            ("PUT", "/v3/conversations/{cid}/activities/{aid}", "update_activity", self._update),
            ("DELETE", "/v3/conversations/{cid}/activities/{aid}", "delete_activity", self._delete),
            ("GET", "/v3/conversations/{cid}/members", "get_conversation_members", self._members),
            ("GET", "/v3/conversations/{cid}/pagedmembers", "get_conversation_paged_members", self._paged),
            ("GET", "/v3/conversations/{cid}/members/{mid}", "get_conversation_member", self._member),
            ("GET", "/v3/teams/{tid}/conversations", "get_teams_channels", self._channels),
            ("GET", "/v3/teams/{tid}", "get_team_details", self._team_details),
        ]
        for method, path, name, handler in routes:
            app.router.add_route(method, "/teams" + path, self._endpoint(name, handler))
        graph: list[tuple[str, str, Handler]] = [
            ("/v1.0/users/{uid}/teamwork/installedApps", "graph_installed_apps", self._installed_apps),
            ("/v1.0/users/{uid}/teamwork/installedApps/{iid}/chat", "graph_app_chat", self._app_chat),
            ("/v1.0/chats/{chat}/messages", "graph_chat_messages", self._chat_messages),
        ]
        for path, name, handler in graph:
            app.router.add_route("GET", path, self._endpoint(name, handler))
        app.router.add_route("PUT", "/uploads/{name}", self._upload)  # OneDrive's, not the connector's
        # Cancelling a handler whose client gave up makes `slow(after_effect=False)` leave no effect.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{bound_port}/teams/"
        self.graph_url = f"http://{host}:{bound_port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- seeding -----------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        aad_object_id: str | None = None,
        tenant_id: str | None = None,
        user_role: str = "user",
    ) -> Json:
        """Add or replace a user (`29:...`); returns the live TeamsChannelAccount the roster shows."""
        short = user_id.removeprefix("29:")
        name = name or f"User {short}"
        email = email or f"{short.lower()}@example.com"
        aad = aad_object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"realign-fake:{user_id}"))
        given, _, surname = name.partition(" ")
        user = {
            "id": user_id,
            "name": name,
            "givenName": given,
            "surname": surname or None,
            "aadObjectId": aad,
            "email": email,
            "userPrincipalName": email,
            "tenantId": tenant_id or self.tenant_id,
            "userRole": user_role,
        }
        self.users[user_id] = user
        self._by_aad[aad] = user_id
        return user

    def add_users(self, count: int, *, prefix: str = "29:user-", start: int = 0) -> list[str]:
        """Add `count` users `29:user-00000`, `29:user-00001`, ...; returns their ids."""
        ids = [f"{prefix}{n:05d}" for n in range(start, start + count)]
        for user_id in ids:
            self.add_user(user_id)
        return ids

    def add_team(
        self,
        team_id: str,
        members: list[str],
        *,
        name: str | None = None,
        channels: dict[str, str] | None = None,
        tenant_id: str | None = None,
    ) -> Conversation:
        """A team whose General channel is `team_id`, with standard `channels` (id -> name); unknown
        member ids become users. Returns the General channel's conversation."""
        tenant = tenant_id or self.tenant_id
        roster = [self._ensure_user(user_id, tenant) for user_id in members]
        general = Conversation(team_id, "channel", tenant, roster, team_id=team_id)
        self.conversations[team_id] = general
        aad_group = str(uuid.uuid5(uuid.NAMESPACE_URL, f"realign-fake-team:{team_id}"))
        team = _Team(team_id, name or f"Team {team_id[:12]}", tenant, aad_group, [team_id])
        self.teams[team_id] = team
        for channel_id, channel_name in (channels or {}).items():
            self.conversations[channel_id] = Conversation(
                channel_id, "channel", tenant, roster, team_id=team_id, name=channel_name
            )
            team.channels.append(channel_id)
        return general

    def add_private_channel(
        self, channel_id: str, team_id: str, members: list[str], *, name: str | None = None
    ) -> Conversation:
        """A private channel of `team_id`: its own roster, listed with the team's channels."""
        team = self.teams[team_id]
        roster = [self._ensure_user(user_id, team.tenant_id) for user_id in members]
        channel = Conversation(
            channel_id, "channel", team.tenant_id, roster, team_id=team_id, name=name, private=True
        )
        self.conversations[channel_id] = channel
        team.channels.append(channel_id)
        return channel

    def add_group_chat(
        self, chat_id: str, members: list[str], *, tenant_id: str | None = None
    ) -> Conversation:
        """A group chat the bot was added to (its roster comes back whole, never paged)."""
        tenant = tenant_id or self.tenant_id
        roster = [self._ensure_user(user_id, tenant) for user_id in members]
        chat = Conversation(chat_id, "groupChat", tenant, roster)
        self.conversations[chat_id] = chat
        return chat

    def block(self, user_id: str) -> None:
        """The user blocks the bot: sends to their 1:1 answer 403 ConversationBlockedByUser."""
        self.blocked.add(user_id)

    def uninstall(self, user_id: str) -> None:
        """The app is removed from the user's personal scope: 403 on create and on send."""
        self.uninstalled.add(user_id)

    # --- inspection --------------------------------------------------------------------------------

    def calls_to(self, route: str) -> list[Call]:
        """Recorded calls of one operation, e.g. `calls_to("send_to_conversation")`."""
        return [call for call in self.calls if call.route == route]

    def called(self, route: str) -> bool:
        return self.call_counts[route] > 0

    def call_count(self, route: str) -> int:
        return self.call_counts[route]

    def get_payload(self, route: str, index: int = -1) -> Any:
        """The JSON body of one recorded call to `route` (the latest by default)."""
        return self.calls_to(route)[index].body

    def personal_conversation(self, user_id: str) -> str:
        """The id of the bot's 1:1 chat with the user (`a:...`), as Teams gives it: one per user."""
        user = self.users[user_id]
        cid = "a:1" + hashlib.sha256(f"{user['tenantId']}|{user_id}".encode()).hexdigest()[:40]
        if cid not in self.conversations:
            self.conversations[cid] = Conversation(cid, "personal", user["tenantId"], [user_id])
        return cid

    def activities_in(self, conversation_id: str) -> list[Json]:
        """What the bot posted in a conversation (as updated since), in posting order."""
        conversation = self.conversations.get(conversation_id)
        return list(conversation.activities) if conversation else []

    def activities_to(self, user_id: str) -> list[Json]:
        """What the bot posted in the user's 1:1 chat."""
        return self.activities_in(self.personal_conversation(user_id))

    def cards_to(self, user_id: str) -> list[Json]:
        """The Adaptive Cards (attachment contents) the bot posted in the user's 1:1 chat, in order."""
        return [
            attachment["content"]
            for activity in self.activities_to(user_id)
            for attachment in activity.get("attachments") or ()
            if attachment.get("contentType") == ADAPTIVE_CARD
        ]

    def stats(self) -> Json:
        personal = [c for c in self.conversations.values() if c.kind == "personal"]
        return {
            "calls": dict(self.call_counts),
            "personal_activities": sum(len(c.activities) for c in personal),
            "rate_limited": self.rate_limited,
        }

    def message_from(
        self, user_id: str, text: str | None = None, *, value: Any = None, conversation_id: str | None = None
    ) -> Json:
        """An inbound message activity from the user, as Teams would POST it to `/api/messages`
        (in their 1:1 chat unless `conversation_id` names a channel or group chat)."""
        return self._inbound(user_id, {"type": "message", "text": text, "value": value}, conversation_id)

    def invoke_from(
        self,
        user_id: str,
        name: str,
        value: Any,
        *,
        conversation_id: str | None = None,
        reply_to_id: str | None = None,
    ) -> Json:
        """An inbound invoke activity (e.g. `adaptiveCard/action` for an Action.Execute click);
        `reply_to_id` is the activity whose card was clicked, as Teams sets it."""
        content = {"type": "invoke", "name": name, "value": value, "replyToId": reply_to_id}
        return self._inbound(user_id, content, conversation_id)

    def file_consent_from(self, user_id: str, consent: Json, *, accept: bool = True) -> Json:
        """The `fileConsent/invoke` Teams sends when the user accepts (or declines) the file consent card
        whose attachment is `consent`; accepting gives an upload URL on this server (`uploads`)."""
        name = consent["name"]
        value: Json = {"type": "fileUpload", "action": "accept" if accept else "decline"}
        value["context"] = consent["content"]["acceptContext" if accept else "declineContext"]
        if accept:
            value["uploadInfo"] = {
                "name": name,
                "uploadUrl": f"{self.graph_url}/uploads/{name}",
                "contentUrl": f"https://contoso-my.sharepoint.com/personal/{user_id}/Documents/{name}",
                "uniqueId": f"unique-{name}",
                "fileType": name.rsplit(".", 1)[-1],
            }
        return self._inbound(user_id, {"type": "invoke", "name": "fileConsent/invoke", "value": value}, None)

    def files_to(self, user_id: str) -> list[Json]:
        """The file consent and file info attachments the bot posted in the user's 1:1 chat, in order."""
        return [
            attachment
            for activity in self.activities_to(user_id)
            for attachment in activity.get("attachments") or ()
            if attachment.get("contentType", "").startswith("application/vnd.microsoft.teams.card.file.")
        ]

    async def _upload(self, request: web.Request) -> web.Response:
        self.upload_headers.append(dict(request.headers))
        if self.upload_status is not None:
            return web.json_response({"error": {"code": "refused"}}, status=self.upload_status)
        self.uploads[request.match_info["name"]] = await request.read()
        return web.json_response({"id": "file-1", "name": request.match_info["name"]}, status=201)

    def installed_by(self, user_id: str, *, conversation_id: str | None = None) -> Json:
        """The conversationUpdate Teams sends when `user_id` adds the bot: to their personal scope, or
        (with `conversation_id`: a team's General channel id, or a group chat) to a team or chat."""
        activity = self._inbound(
            user_id, {"type": "conversationUpdate", "membersAdded": [{"id": self.bot_id}]}, conversation_id
        )
        conversation = self.conversations[conversation_id or self.personal_conversation(user_id)]
        if conversation.team_id:
            team = self.teams[conversation.team_id]
            activity["channelData"]["team"] |= {"name": team.name, "aadGroupId": team.aad_group_id}
            activity["channelData"]["eventType"] = "teamMemberAdded"
        return activity

    def removed_by(self, user_id: str, *, conversation_id: str | None = None) -> Json:
        """The conversationUpdate Teams sends when `user_id` removes the bot from their personal scope,
        or (with `conversation_id`) from a team or chat; the personal scope answers 403 from then on."""
        activity = self._inbound(
            user_id, {"type": "conversationUpdate", "membersRemoved": [{"id": self.bot_id}]}, conversation_id
        )
        if conversation_id is None:
            self.uninstall(user_id)
        elif self.conversations[conversation_id].team_id:
            activity["channelData"]["eventType"] = "teamMemberRemoved"
        return activity

    def installation_update(self, user_id: str, action: str, *, conversation_id: str | None = None) -> Json:
        """An installationUpdate (`add`, `remove`, `add-upgrade`, ...) from `user_id`, in their personal
        scope or in a team or chat; `remove` in a personal scope makes it answer 403 from then on."""
        activity = self._inbound(user_id, {"type": "installationUpdate", "action": action}, conversation_id)
        if action == "remove" and conversation_id is None:
            self.uninstall(user_id)
        return activity

    def members_left(self, conversation_id: str, user_ids: list[str], *, by: str) -> Json:
        """`user_ids` leave the team (its channels too) or chat `conversation_id`: they are gone from its
        roster, and the conversationUpdate Teams sends about it (from `by`) is returned."""
        conversation = self.conversations[conversation_id]
        team = self.teams.get(conversation.team_id or "")
        for channel in [self.conversations[c] for c in team.channels] if team else [conversation]:
            for user_id in user_ids:
                if user_id in channel.members:
                    channel.members.remove(user_id)
        removed = [{"id": u, "aadObjectId": self.users[u]["aadObjectId"]} for u in user_ids]
        activity = self._inbound(
            by, {"type": "conversationUpdate", "membersRemoved": removed}, conversation_id
        )
        if team:
            activity["channelData"]["eventType"] = "teamMemberRemoved"
        return activity

    # --- fault injection ---------------------------------------------------------------------------

    def rate_limit(self, per_second: float, *, retry_after: int = 1) -> None:
        """Each tenant gets a bucket of `per_second`; calls above it answer 429 + Retry-After, no effect."""
        self._rate = (per_second, retry_after)
        self._buckets.clear()

    def fail(
        self,
        route: str,
        *,
        status: int = 503,
        times: int | None = 1,
        code: str | None = None,
        retry_after: int | None = None,
        after_effect: bool = False,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """The next `times` calls to `route` (matching `when`) answer `status`; `times=None` for ever.
        With `after_effect` the effect happens anyway (the outcome is unknown to the caller)."""
        fault = _Fault(times, after_effect, status=status, code=code, retry_after=retry_after, when=when)
        self._faults.setdefault(route, []).append(fault)

    def add_response(self, route: str, status: int, body: Any = None, *, times: int | None = 1) -> None:
        """The next `times` calls to `route` answer `status` with `body` as JSON, verbatim, no effect."""
        self._faults.setdefault(route, []).append(_Fault(times, False, status=status, body=body))

    def fail_ratio(self, route: str, ratio: float, *, status: int = 503, seed: int = 0) -> None:
        """A seeded random share of calls to `route` answer `status`, with no effect."""
        self._ratios[route] = (ratio, status, random.Random(seed))

    def slow(
        self,
        route: str,
        *,
        seconds: float,
        times: int | None = 1,
        after_effect: bool = True,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """The next `times` calls (matching `when`) answer after `seconds`; with `after_effect` the effect
        happens first, without it only after the sleep, and not at all if the client gives up."""
        self._faults.setdefault(route, []).append(_Fault(times, after_effect, seconds=seconds, when=when))

    # --- request handling --------------------------------------------------------------------------

    def _endpoint(self, route: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.body_exists else None
            except ValueError:
                return _error(400, "BadSyntax", "The request body is not JSON.")
            call = Call(
                route,
                request.method,
                request.path,
                dict(request.query),
                body,
                dict(request.headers),
                dict(request.match_info),
                time.monotonic(),
            )
            self.call_counts[route] += 1
            if self.record_calls:
                self.calls.append(call)
            return await self._answer(call, handler)

        return endpoint

    async def _answer(self, call: Call, handler: Handler) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.token is not None and call.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {"message": "Authorization has been denied for this request."}, status=401
            )
        graph = call.route.startswith("graph_")  # Graph throttles apart from the connector
        if self._rate is not None and not graph and not self._bucket(call).take():
            self.rate_limited += 1
            return _error(429, "Throttled", "Too many requests.", retry_after=self._rate[1])
        ratio = self._ratios.get(call.route)
        if ratio is not None and ratio[2].random() < ratio[0]:
            return _error(ratio[1])
        fault = self._next_fault(call)
        if fault is None:
            return await self._effect(call, handler)
        answer = await self._effect(call, handler) if fault.after_effect else None
        if fault.seconds:
            await asyncio.sleep(fault.seconds)
        if fault.body is not None:
            return web.json_response(fault.body, status=fault.status or 200)
        if fault.status is not None:
            return _error(fault.status, fault.code, retry_after=fault.retry_after)
        return answer if answer is not None else await self._effect(call, handler)

    async def _effect(self, call: Call, handler: Handler) -> web.Response:
        try:
            status, body = await handler(call)
        except ConnectorError as error:
            return _error(error.status, error.code, error.message)
        return web.json_response(body, status=status) if body is not None else web.Response(status=status)

    def _bucket(self, call: Call) -> _Bucket:
        assert self._rate is not None
        tenant = self._tenant_of(call)
        if tenant not in self._buckets:
            self._buckets[tenant] = _Bucket(self._rate[0])
        return self._buckets[tenant]

    def _tenant_of(self, call: Call) -> str:
        if call.conversation_id:
            conversation = self.conversations.get(call.conversation_id.split(";messageid=")[0])
            return conversation.tenant_id if conversation else ""
        if call.route == "create_conversation" and isinstance(call.body, dict):
            return _tenant_in(call.body) or ""
        team = self.teams.get(call.match.get("tid", ""))
        return team.tenant_id if team else ""

    def _next_fault(self, call: Call) -> _Fault | None:
        for fault in self._faults.get(call.route, ()):
            if fault.times != 0 and (fault.when is None or fault.when(call)):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    # --- the Connector API -------------------------------------------------------------------------

    async def _create_conversation(self, call: Call) -> tuple[int, Any]:
        params = call.body if isinstance(call.body, dict) else {}
        tenant = _tenant_in(params)
        if not tenant:
            raise ConnectorError(400, "BadArgument", "tenantId is required to create a conversation.")
        channel = ((params.get("channelData") or {}).get("channel") or {}).get("id")
        if params.get("isGroup") and channel:
            return self._create_thread(channel, params.get("activity"))
        members = params.get("members") or []
        if params.get("isGroup") or len(members) != 1:
            raise ConnectorError(400, "BadSyntax", "Incorrect conversation creation parameters")
        user_id = self._user_id(str(members[0].get("id", "")))
        if user_id is None or self.users[user_id]["tenantId"] != tenant:
            raise ConnectorError(400, "BadArgument", "Unknown member in this tenant.")
        if user_id in self.uninstalled:
            raise ConnectorError(
                403, "ForbiddenOperationException", "Bot isn't installed in user's personal scope"
            )
        conversation = self.conversations[self.personal_conversation(user_id)]
        if params.get("activity"):
            self._post(conversation, params["activity"])
        return 201, {"id": conversation.id}

    def _create_thread(self, channel_id: str, activity: Json | None) -> tuple[int, Any]:
        channel = self.conversations.get(channel_id)
        if channel is None or channel.kind != "channel":
            raise ConnectorError(404, "ConversationNotFound", "Conversation not found.")
        if not activity:
            raise ConnectorError(400, "BadSyntax", "Incorrect conversation creation parameters")
        root = self._post(channel, activity)
        thread_id = f"{channel_id};messageid={root['id']}"
        self.conversations[thread_id] = Conversation(
            thread_id, "thread", channel.tenant_id, channel.members, team_id=channel.team_id
        )
        return 201, {"id": thread_id, "activityId": root["id"]}

    async def _send(self, call: Call) -> tuple[int, Any]:
        conversation = self._writable(call)
        return 201, {"id": self._post(conversation, call.body)["id"]}

    async def _reply(self, call: Call) -> tuple[int, Any]:
        conversation = self._writable(call)
        # The parent may be an inbound activity the fake never saw, so any id is accepted.
        activity = {**(call.body or {}), "replyToId": call.match["aid"]}
        return 201, {"id": self._post(conversation, activity)["id"]}

    async def _update(self, call: Call) -> tuple[int, Any]:
        conversation = self._writable(call)
        stored = conversation.by_id.get(call.match["aid"])
        if stored is None:
            raise ConnectorError(404, "ActivityNotFoundInConversation", "Conversation not found.")
        stored.update({k: v for k, v in call.body.items() if k != "id"})
        stored["edits"] += 1
        stored["modified"] = max(int(stored["id"]), time.time_ns() // 1_000_000)
        return 200, {"id": stored["id"]}

    async def _delete(self, call: Call) -> tuple[int, Any]:
        conversation = self._conversation(call)
        stored = conversation.by_id.pop(call.match["aid"], None)
        if stored is None:
            raise ConnectorError(404, "ActivityNotFoundInConversation", "Conversation not found.")
        conversation.activities.remove(stored)
        return 200, None

    async def _members(self, call: Call) -> tuple[int, Any]:
        return 200, [self.users[user_id] for user_id in self._conversation(call).members]

    async def _paged(self, call: Call) -> tuple[int, Any]:
        conversation = self._conversation(call)
        roster = [self.users[user_id] for user_id in conversation.members]
        if conversation.kind in ("personal", "groupChat"):  # chats are never paged
            return 200, {"members": roster}
        try:
            size = min(max(int(call.query.get("pageSize") or PAGE_DEFAULT), PAGE_MIN), PAGE_MAX)
            token = call.query.get("continuationToken")
            start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        except ValueError:  # also covers binascii.Error and UnicodeDecodeError
            raise ConnectorError(400, "BadArgument", "Invalid continuation token.") from None
        end = start + size
        page: Json = {"members": roster[start:end]}
        if end < len(roster):
            page["continuationToken"] = base64.urlsafe_b64encode(str(end).encode()).decode()
        return 200, page

    async def _member(self, call: Call) -> tuple[int, Any]:
        conversation = self._conversation(call)
        user_id = self._user_id(call.match["mid"])
        if user_id is None or user_id not in conversation.members:
            raise ConnectorError(404, "MemberNotFoundInConversation", "The member isn't in the conversation.")
        return 200, self.users[user_id]

    async def _channels(self, call: Call) -> tuple[int, Any]:
        team = self._team(call)
        listed = []
        for channel_id in team.channels:
            channel = self.conversations[channel_id]
            entry: Json = {"id": channel_id, "type": "private" if channel.private else "standard"}
            if channel.name is not None:  # Teams leaves General unnamed, for clients to localise
                entry["name"] = channel.name
            listed.append(entry)
        return 200, {"conversations": listed}

    async def _team_details(self, call: Call) -> tuple[int, Any]:
        team = self._team(call)
        return 200, {
            "id": team.id,
            "name": team.name,
            "aadGroupId": team.aad_group_id,
            "channelCount": len(team.channels),
            "memberCount": len(self.conversations[team.id].members),
            "type": "standard",
        }

    # --- Microsoft Graph ----------------------------------------------------------------------------

    def graph_chat_id(self, user_id: str) -> str:
        """The Graph id of the user's 1:1 chat with the bot (the connector calls it `a:...`)."""
        return f"19:{self.users[user_id]['aadObjectId']}_{self.app_id}@unq.gbl.spaces"

    def _graph_user(self, call: Call) -> str:
        user_id = self._user_id(call.match["uid"])
        if user_id is None:
            raise ConnectorError(404, "NotFound", "User not found.")
        return user_id

    async def _installed_apps(self, call: Call) -> tuple[int, Any]:
        user_id = self._graph_user(call)
        wanted = call.query.get("$filter", "")
        installed = user_id not in self.uninstalled and wanted == f"teamsApp/externalId eq '{self.app_id}'"
        entry = {
            "id": base64.b64encode(f"{self.users[user_id]['aadObjectId']}##{self.app_id}".encode()).decode(),
            "teamsApp": {"id": self.app_id, "externalId": self.app_id, "displayName": "Realign"},
        }
        return 200, {"value": [entry] if installed else []}

    async def _app_chat(self, call: Call) -> tuple[int, Any]:
        user_id = self._graph_user(call)
        try:
            aad, _, app = base64.b64decode(call.match["iid"]).decode().partition("##")
        except ValueError:
            raise ConnectorError(400, "BadRequest", "Invalid installation id.") from None
        if aad != self.users[user_id]["aadObjectId"] or app != self.app_id or user_id in self.uninstalled:
            raise ConnectorError(404, "NotFound", "Installation not found.")
        self.personal_conversation(user_id)
        return 200, {"id": self.graph_chat_id(user_id), "chatType": "oneOnOne", "tenantId": self.tenant_id}

    async def _chat_messages(self, call: Call) -> tuple[int, Any]:
        aad, _, rest = call.match["chat"].removeprefix("19:").partition("_")
        user_id = self._by_aad.get(aad)
        if user_id is None or rest != f"{self.app_id}@unq.gbl.spaces":
            raise ConnectorError(404, "NotFound", "Chat not found.")
        try:
            top = int(call.query.get("$top") or 20)
            skip = int(base64.urlsafe_b64decode(call.query.get("$skiptoken", "")).decode() or 0)
        except ValueError:
            raise ConnectorError(400, "BadRequest", "Invalid paging.") from None
        if not 1 <= top <= 50:
            raise ConnectorError(400, "BadRequest", "$top must be between 1 and 50.")
        since = 0
        filtered = call.query.get("$filter", "")
        if filtered.startswith("lastModifiedDateTime gt "):
            stamp = filtered.removeprefix("lastModifiedDateTime gt ").removesuffix("Z")
            since = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) * 1000
        messages = [
            self._chat_message(a, call.match["chat"])
            for a in self.activities_to(user_id)
            if a.get("modified", int(a["id"])) > since
        ]
        messages.sort(key=lambda m: str(m["lastModifiedDateTime"]), reverse=True)
        page: Json = {"value": messages[skip : skip + top]}
        if skip + top < len(messages):
            token = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
            page["@odata.nextLink"] = (
                f"{self.graph_url}{call.path}?$top={top}&$filter={filtered}&$skiptoken={token}"
            )
        return 200, page

    def _chat_message(self, activity: Json, chat_id: str) -> Json:
        def stamp(ms: int) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"

        attachments = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{activity['id']}:{n}")),
                "contentType": a.get("contentType"),
                "content": json.dumps(a.get("content")),
                "name": None,
            }
            for n, a in enumerate(activity.get("attachments") or ())
        ]
        body = "".join(f'<attachment id="{a["id"]}"></attachment>' for a in attachments)
        return {
            "id": activity["id"],
            "messageType": "message",
            "chatId": chat_id,
            "createdDateTime": stamp(int(activity["id"])),
            "lastModifiedDateTime": stamp(int(activity.get("modified") or activity["id"])),
            "from": {
                "application": {"id": self.app_id, "displayName": "Realign", "applicationIdentityType": "bot"}
            },
            "body": {"contentType": "html", "content": body or (activity.get("text") or "")},
            "attachments": attachments,
        }

    # --- helpers -----------------------------------------------------------------------------------

    def _conversation(self, call: Call) -> Conversation:
        """The conversation named in the path; a reply thread of a known channel is found on first use."""
        cid = call.conversation_id or ""
        channel = self.conversations.get(cid.split(";messageid=")[0])
        if cid not in self.conversations and channel is not None and channel.kind == "channel":
            self.conversations[cid] = Conversation(
                cid, "thread", channel.tenant_id, channel.members, team_id=channel.team_id
            )
        conversation = self.conversations.get(cid)
        if conversation is None:
            raise ConnectorError(404, "ConversationNotFound", "Conversation not found.")
        return conversation

    def _writable(self, call: Call) -> Conversation:
        """The conversation a post or edit goes to, with Teams' refusals for blocked or removed bots."""
        conversation = self._conversation(call)
        _check_activity(call.body)
        if conversation.kind == "personal":
            [user_id] = conversation.members
            if user_id in self.blocked:
                raise ConnectorError(
                    403, "ConversationBlockedByUser", "User blocked the conversation with the bot."
                )
            if user_id in self.uninstalled:
                raise ConnectorError(
                    403, "BotNotInConversationRoster", "The bot isn't part of the conversation roster."
                )
        return conversation

    def _post(self, conversation: Conversation, activity: Json) -> Json:
        stored = {**activity, "id": self._next_id(), "conversationId": conversation.id, "edits": 0}
        conversation.activities.append(stored)
        conversation.by_id[stored["id"]] = stored
        return stored

    def _next_id(self) -> str:
        """Unique, increasing activity ids shaped like Teams' (milliseconds since the epoch)."""
        self._last_id = max(time.time_ns() // 1_000_000, self._last_id + 1)
        return str(self._last_id)

    def _team(self, call: Call) -> _Team:
        team = self.teams.get(call.match["tid"])
        if team is None:
            raise ConnectorError(404, "NotFound", "Team not found.")
        return team

    def _user_id(self, member_id: str) -> str | None:
        """A user id, from their `29:` id or their AAD object id (Teams accepts both)."""
        return member_id if member_id in self.users else self._by_aad.get(member_id)

    def _ensure_user(self, user_id: str, tenant_id: str) -> str:
        if user_id not in self.users:
            self.add_user(user_id, tenant_id=tenant_id)
        return user_id

    def _inbound(self, user_id: str, content: Json, conversation_id: str | None) -> Json:
        user = self.users[user_id]
        cid = conversation_id or self.personal_conversation(user_id)
        conversation = self.conversations[cid]
        channel_data: Json = {"tenant": {"id": conversation.tenant_id}}
        if conversation.team_id:
            channel_data |= {"team": {"id": conversation.team_id}, "channel": {"id": cid.split(";")[0]}}
        kind = conversation.kind if conversation.kind in ("personal", "groupChat") else "channel"
        account: Json = {"id": cid, "conversationType": kind, "tenantId": conversation.tenant_id}
        if kind != "personal":
            account["isGroup"] = True
        entities = [{"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web"}]
        if user_id in self.timezones:
            entities[0]["timezone"] = self.timezones[user_id]
        return {
            "entities": entities,
            **{k: v for k, v in content.items() if v is not None},
            "id": self._next_id(),
            "channelId": "msteams",
            "serviceUrl": self.url,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "from": {"id": user_id, "name": user["name"], "aadObjectId": user["aadObjectId"]},
            "recipient": {"id": self.bot_id, "name": "Realign"},
            "conversation": account,
            "channelData": channel_data,
            "locale": "en-GB",
        }


def _tenant_in(params: Json) -> str | None:
    """The tenant of a ConversationParameters body: `tenantId` (REST docs), `tenantID` (botbuilder-python)
    or `channelData.tenant.id` (the Teams samples)."""
    tenant = params.get("tenantId") or params.get("tenantID")
    return tenant or ((params.get("channelData") or {}).get("tenant") or {}).get("id")


def _check_activity(activity: Any) -> None:
    if not isinstance(activity, dict) or not activity.get("type"):
        raise ConnectorError(400, "BadArgument", "The activity must be an object with a type.")
    if activity["type"] == "message" and not (activity.get("text") or activity.get("attachments")):
        raise ConnectorError(400, "BadArgument", "A message needs text or attachments.")
    if len(json.dumps(activity).encode("utf-16-le")) > MAX_ACTIVITY_BYTES:
        raise ConnectorError(413, "MessageSizeTooBig", "Message size too large.")


def _error(
    status: int, code: str | None = None, message: str = "", *, retry_after: int | None = None
) -> web.Response:
    """Teams' JSON error body, or for 503 and 504 the bare HTML page a gateway (HTTP.sys) answers with."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    code = code or DEFAULT_CODES.get(status)
    if code is None:
        page = f"<HTML><HEAD><TITLE>{HTTPStatus(status).phrase}</TITLE></HEAD><BODY></BODY></HTML>"
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)
    body = {"error": {"code": code, "message": message or code}}
    return web.json_response(body, status=status, headers=headers)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The standalone fake's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.teams_connector", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--token", default=None, help="bearer token to require (default: accept any)")
    parser.add_argument("--users", type=int, default=0, help="users 29:user-00000... to seed")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="PER_SECOND", help="per tenant")
    return parser.parse_args(argv)


def standalone(args: argparse.Namespace) -> FakeConnector:
    """The fake the command line describes (not started), recording counts but not every call."""
    fake = FakeConnector(token=args.token, record_calls=False)
    fake.latency = args.latency
    fake.add_users(args.users)
    if args.rate_limit:
        fake.rate_limit(args.rate_limit)
    return fake


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(serve_until_signalled(standalone(arguments), port=arguments.port))
