"""A fake Slack Web API speaking real HTTP on 127.0.0.1, for tests and benchmarks.

The product reaches it only through `AsyncWebClient(base_url=fake.url)`, so it answers as Slack does
on the wire: 200 + `{"ok": ...}`, 429 + `Retry-After`, bare HTML pages for injected 5xx.
Standalone (the benchmarks run it so, and reach it through tests.fakes.standalone.SlackControl):
`python -m tests.fakes.slack_api --port 0 [--latency S] [--token T] [--rate-limit METHOD=PER_SECOND]`;
the first stdout line is the base URL. Its control API: `POST /_fake/users` (users in bulk),
`POST /_fake/config` (latency, a rate limit, a user group of bulk users), `GET /_fake/stats`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.fakes.slack_files import Files
from tests.fakes.slack_state import Message, Params, SlackError, Workspace, bulk_ids
from tests.fakes.standalone import serve_until_signalled

# Fields that form-encoded posts carry as JSON strings.
JSON_FIELDS = ("blocks", "metadata", "view")


@dataclass(slots=True)
class Call:
    """One Web API request the fake received, with its merged query, form and JSON params."""

    method: str
    params: Params
    at: float  # time.monotonic()
    team: str | None = None  # whose bot token the call carried (None: no known token)


@dataclass
class _Bucket:
    """One team's token bucket for one method: `rate` tokens a second, burst of max(1, rate)."""

    rate: float
    retry_after: int
    capacity: float = field(init=False)
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.capacity = self.tokens = max(1.0, self.rate)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Fault:
    """A scheduled misbehaviour for the next `times` calls: sleep, then maybe answer HTTP `status`."""

    times: int
    after_effect: bool  # apply the call's effect before misbehaving
    status: int | None = None
    seconds: float = 0.0


@dataclass
class _ErrorRule:
    code: str
    when: Callable[[Params], bool] | None
    times: int | None  # None: for ever


@dataclass
class _Throttle:
    when: Callable[[Params], bool] | None
    times: int
    retry_after: int


@dataclass
class _FailRatio:
    ratio: float
    status: int
    rng: random.Random


class FakeSlack:
    """The fake server: a `Workspace` behind HTTP, with call recording and fault injection."""

    def __init__(
        self,
        *,
        token: str | None = "xoxb-test",
        team_id: str = "T001",
        bot_user_id: str = "UBOT",
        record_calls: bool = True,
    ) -> None:
        self.token = token
        self.workspace = Workspace(team_id=team_id, bot_user_id=bot_user_id)
        self.teams: dict[str, Workspace] = {team_id: self.workspace}  # more with add_team
        self._team_tokens: dict[str, str] = {token: team_id} if token else {}
        self._revoked: set[str] = set()
        self._oauth_app: tuple[str, str] | None = None  # (client id, secret) oauth.v2.access accepts
        self._oauth_codes: dict[str, str] = {}  # code -> team id, each usable once
        self.record_calls = record_calls  # off in benchmarks: `call_counts` is enough there
        self.calls: list[Call] = []
        self.call_counts: Counter[str] = Counter()
        self.rate_limited = 0
        self.rate_limited_by_team: Counter[str] = Counter()  # 429s from rate_limit(), by team id
        self.latency = 0.0
        self.url = ""
        self.responses: list[dict[str, Any]] = []  # bodies posted to response_url(...)
        self._limits: dict[str, tuple[float, int]] = {}  # method -> (per second, Retry-After), per team
        self._buckets: dict[tuple[str, str], _Bucket] = {}  # (method, team id) -> that team's bucket
        self._faults: dict[str, deque[_Fault]] = {}
        self._errors: dict[str, list[_ErrorRule]] = {}
        self._fail_ratios: dict[str, _FailRatio] = {}
        self._throttles: dict[str, list[_Throttle]] = {}
        self._method_tokens: dict[str, str] = {}  # methods that take another token (an app-level one)
        self._runner: web.AppRunner | None = None
        self.files = Files(lambda: self.url)  # external uploads: files.* and the upload URL
        self.files.serve(self.workspace)

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, *, port: int = 0) -> FakeSlack:
        """Serve on 127.0.0.1 (a free port by default) and set `url` to the `/api/` base URL."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_get("/_fake/stats", self._stats)
        app.router.add_post("/_fake/users", self._add_users)
        app.router.add_post("/_fake/config", self._configure)
        app.router.add_post("/_response/{key}", self._response)
        app.router.add_post("/_upload/{file_id}", self.files.receive)
        # Cancelling a handler whose client gave up makes `slow(after_effect=False)` leave no effect;
        # the short shutdown keeps a sleeping `slow` call from holding up stop().
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{bound_port}/api/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- seeding and inspection --------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        tz: str = "Europe/London",
        tz_offset: int | None = None,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Add or replace a member; returns the live dict users.list shows (edit it to change the user)."""
        return self.workspace.add_user(
            user_id, name=name, email=email, tz=tz, tz_offset=tz_offset, deleted=deleted, is_bot=is_bot
        )

    def add_users(self, count: int, *, prefix: str = "U", start: int = 0, tz: str = "Europe/London") -> int:
        """Add `count` users `U00000000`, `U00000001`, ... in bulk; returns `count`."""
        return self.workspace.add_users(count, prefix=prefix, start=start, tz=tz)

    def remove_user(self, user_id: str) -> None:
        self.workspace.remove_user(user_id)

    def add_usergroup(self, group_id: str, handle: str, users: list[str], *, name: str | None = None) -> None:
        self.workspace.add_usergroup(group_id, handle, users, name=name)

    def add_channel(
        self, channel_id: str, members: list[str], *, name: str | None = None, private: bool = False
    ) -> None:
        """Add or replace a channel; a private one is invisible to the bot unless it is a member."""
        self.workspace.add_channel(channel_id, members, name=name, private=private)

    def add_method(
        self, method: str, handler: Callable[[Params], dict[str, Any]], *, token: str | None = None
    ) -> None:
        """Answer `method` with `handler` (another fake plugging in, e.g. Socket Mode's
        `apps.connections.open`); with `token`, the method takes that token instead of the bot token,
        and the bot token gets `not_allowed_token_type` there, as from Slack."""
        self.workspace.methods[method] = handler
        if token is not None:
            self._method_tokens[method] = token

    # --- several workspaces, OAuth -----------------------------------------------------------------

    def add_team(
        self, team_id: str, *, token: str, bot_user_id: str = "UBOT", name: str | None = None
    ) -> Workspace:
        """Another workspace, reached with its own bot `token`: every call carrying that token acts on
        this workspace alone (a DM to another team's member is `user_not_found`, as from Slack)."""
        workspace = Workspace(team_id=team_id, bot_user_id=bot_user_id, name=name or f"Team {team_id}")
        self.teams[team_id] = workspace
        self._team_tokens[token] = team_id
        self.files.serve(workspace)
        return workspace

    def team(self, team_id: str) -> Workspace:
        return self.teams[team_id]

    def oauth_app(self, client_id: str, client_secret: str) -> None:
        """The app credentials oauth.v2.access accepts (HTTP basic auth, as slack_sdk sends them)."""
        self._oauth_app = (client_id, client_secret)

    def grant(self, code: str, *, team_id: str, token: str, bot_user_id: str = "UBOT") -> None:
        """Slack's side of an install: the installer approved, and Slack redirects back with `code`;
        oauth.v2.access exchanges it (once) for `token`, the bot token of `team_id` (added if new)."""
        if team_id not in self.teams:
            self.add_team(team_id, token=token, bot_user_id=bot_user_id)
        self._team_tokens[token] = team_id
        self._oauth_codes[code] = token

    def revoke(self, team_id: str) -> None:
        """The team's bot tokens stop working (`token_revoked`), as after an uninstall."""
        self._revoked |= {token for token, team in self._team_tokens.items() if team == team_id}

    def _team_of(self, request: web.Request) -> str | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return None if token in self._revoked else self._team_tokens.get(token)

    def _oauth_access(self, request: web.Request, params: Params) -> web.Response:
        auth = request.headers.get("Authorization", "")
        try:
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            return _slack_error("invalid_client_id")
        if self._oauth_app is None or (client_id, secret) != self._oauth_app:
            return _slack_error("invalid_client_id")
        token = self._oauth_codes.pop(str(params.get("code") or ""), None)
        if token is None:
            return _slack_error("invalid_code")
        workspace = self.teams[self._team_tokens[token]]
        return web.json_response(
            {
                "ok": True,
                "app_id": "A0REALIGN",
                "authed_user": {"id": "UINSTALLER"},
                "scope": "chat:write,commands,im:write,im:history,users:read",
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": workspace.bot_user_id,
                "team": {"id": workspace.team_id, "name": workspace.name},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        )

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def dms_to(self, user_id: str, *, team: str | None = None) -> list[Message]:
        """Messages posted into the user's DM (given as user id or DM id), in posting order; in the
        default workspace, or in `team`'s."""
        workspace = self.teams[team] if team else self.workspace
        return workspace.messages_in(user_id if user_id.startswith("D") else f"D{user_id}")

    def messages_in(self, channel_id: str) -> list[Message]:
        return self.workspace.messages_in(channel_id)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """View id -> latest view opened, pushed or updated."""
        return self.workspace.views

    def home_of(self, user_id: str, *, team: str | None = None) -> dict[str, Any] | None:
        """The user's App Home tab as Realign last published it (views.publish), if ever."""
        return (self.teams[team] if team else self.workspace).homes.get(user_id)

    def home_publishes(self, user_id: str) -> int:
        """How many views.publish calls were made for the user."""
        return sum(1 for call in self.calls_to("views.publish") if call.params.get("user_id") == user_id)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """chat.postEphemeral payloads, in order."""
        return self.workspace.ephemerals

    def response_url(self, key: str) -> str:
        """A `response_url` to put in interaction payloads; what is posted there lands in `responses`."""
        return self.url.replace("/api/", f"/_response/{key}")

    def stats(self) -> dict[str, Any]:
        """What `GET /_fake/stats` answers: calls by method, DMs per user, 429s, and the ids of the views
        opened (oldest first: a driver in another process submits the modal Realign opened by its id)."""
        return {
            "calls": dict(self.call_counts),
            "dm_counts": self.workspace.dm_counts(),
            "rate_limited": self.rate_limited,
            "views": list(self.views),
        }

    # --- fault injection ---------------------------------------------------------------------------

    def rate_limit(self, method: str, per_second: float, *, retry_after: int = 1) -> None:
        """Answer 429 + Retry-After (and do nothing) once the calling team's bucket for the method is
        empty: each team (workspace) has a bucket of its own of `per_second`, as Slack's limits are per
        workspace. Calls whose token names no team count against the default team's bucket."""
        self._limits[method] = (per_second, retry_after)
        for key in [key for key in self._buckets if key[0] == method]:
            del self._buckets[key]

    def _bucket(self, method: str, team: str | None) -> _Bucket | None:
        limit = self._limits.get(method)
        if limit is None:
            return None
        key = (method, team or self.workspace.team_id)
        bucket = self._buckets.get(key)
        if bucket is None:  # full, as if created by rate_limit(): a full bucket stays full
            bucket = self._buckets[key] = _Bucket(*limit)
        return bucket

    def throttle(
        self,
        method: str,
        *,
        when: Callable[[Params], bool] | None = None,
        times: int = 1,
        retry_after: int = 0,
    ) -> None:
        """The next `times` calls whose params match `when` answer 429 + Retry-After (and do nothing)."""
        self._throttles.setdefault(method, []).append(_Throttle(when, times, retry_after))

    def fail(self, method: str, *, times: int = 1, status: int = 500, after_effect: bool = False) -> None:
        """The next `times` calls answer HTTP `status`; with `after_effect` the effect happens anyway."""
        self._faults.setdefault(method, deque()).append(_Fault(times, after_effect, status=status))

    def fail_ratio(self, method: str, ratio: float, *, status: int = 500, seed: int = 0) -> None:
        """A seeded random share of calls answer HTTP `status`, with no effect."""
        self._fail_ratios[method] = _FailRatio(ratio, status, random.Random(seed))

    def slow(self, method: str, *, seconds: float, times: int = 1, after_effect: bool = True) -> None:
        """The next `times` calls answer after `seconds`; with `after_effect` the effect happens first,
        without it only after the sleep, and not at all if the client gives up (outcome unknown vs. none)."""
        self._faults.setdefault(method, deque()).append(_Fault(times, after_effect, seconds=seconds))

    def error(
        self,
        method: str,
        code: str,
        *,
        when: Callable[[Params], bool] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer `{"ok": false, "error": code}` (no effect) to calls whose params match `when`."""
        self._errors.setdefault(method, []).append(_ErrorRule(code, when, times))

    # --- request handling --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        self.call_counts[method] += 1
        team = self._team_of(request)
        if self.record_calls:
            self.calls.append(Call(method, params, time.monotonic(), team))
        if self.latency:
            await asyncio.sleep(self.latency)
        if method == "oauth.v2.access":
            return self._oauth_access(request, params)
        if denied := self._auth_error(request, method):
            return _slack_error(denied)
        if (retry_after := self._throttled(method, params)) is not None:
            self.rate_limited += 1
            return _rate_limited(retry_after)
        bucket = self._bucket(method, team)
        if bucket is not None and not bucket.take():
            self.rate_limited += 1
            self.rate_limited_by_team[team or self.workspace.team_id] += 1
            return _rate_limited(bucket.retry_after)
        if code := self._injected_error(method, params):
            return _slack_error(code)
        ratio = self._fail_ratios.get(method)
        if ratio is not None and ratio.rng.random() < ratio.ratio:
            return _http_error(ratio.status)
        fault = self._next_fault(method)
        workspace = self.teams.get(team or "", self.workspace)
        if fault is None:
            return self._answer(method, params, workspace)
        return await self._misbehave(fault, method, params, workspace)

    def _answer(self, method: str, params: Params, workspace: Workspace | None = None) -> web.Response:
        handler = (workspace or self.workspace).methods.get(method)
        if handler is None:
            return _slack_error("unknown_method")
        try:
            return web.json_response({"ok": True, **handler(params)})
        except SlackError as error:
            return _slack_error(error.code)

    async def _misbehave(
        self, fault: _Fault, method: str, params: Params, workspace: Workspace | None = None
    ) -> web.Response:
        answer = self._answer(method, params, workspace) if fault.after_effect else None
        if fault.seconds:
            await asyncio.sleep(fault.seconds)
        if fault.status is not None:
            return _http_error(fault.status)
        return answer if answer is not None else self._answer(method, params, workspace)

    def _auth_error(self, request: web.Request, method: str) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") in self._revoked:
            return "token_revoked"
        if method not in self._method_tokens and self._team_of(request) is not None:
            return None  # a team's bot token: the call acts on that team's workspace
        expected = self._method_tokens.get(method, self.token)
        if expected is None:
            return None
        if "Authorization" not in request.headers:
            return "not_authed"
        if header == f"Bearer {expected}":
            return None
        known = {f"Bearer {token}" for token in (self.token, *self._method_tokens.values()) if token}
        return "not_allowed_token_type" if header in known else "invalid_auth"

    def _throttled(self, method: str, params: Params) -> int | None:
        for rule in self._throttles.get(method, ()):
            if rule.times > 0 and (rule.when is None or rule.when(params)):
                rule.times -= 1
                return rule.retry_after
        return None

    def _injected_error(self, method: str, params: Params) -> str | None:
        for rule in self._errors.get(method, ()):
            if rule.times != 0 and (rule.when is None or rule.when(params)):
                if rule.times is not None:
                    rule.times -= 1
                return rule.code
        return None

    def _next_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # --- control API, for a fake running in another process ---------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append({"key": request.match_info["key"], **await request.json()})
        return web.Response(text="ok")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _add_users(self, request: web.Request) -> web.Response:
        body = await request.json()
        created = self.add_users(
            int(body["count"]),
            prefix=body.get("prefix", "U"),
            start=int(body.get("start", 0)),
            tz=body.get("tz", "Europe/London"),
        )
        return web.json_response({"ok": True, "created": created})

    async def _configure(self, request: web.Request) -> web.Response:
        body = await request.json()
        if group := body.get("usergroup"):  # members: the ids /_fake/users gives the same numbers
            start, count = int(group.get("start", 0)), int(group["count"])
            self.add_usergroup(group["id"], group["handle"], bulk_ids(group.get("prefix", "U"), start, count))
        if "latency" in body:
            self.latency = float(body["latency"])
        if limit := body.get("rate_limit"):
            self.rate_limit(
                limit["method"], float(limit["per_second"]), retry_after=int(limit.get("retry_after", 1))
            )
        return web.json_response({"ok": True})


async def _read_params(request: web.Request) -> Params:
    """Merge query, form and JSON params, decoding the JSON strings that form posts carry."""
    params: Params = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
    for key in JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):  # left a string, the method rejects it as Slack would
                params[key] = json.loads(value)
    return params


def _slack_error(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})


def _rate_limited(retry_after: int) -> web.Response:
    body = {"ok": False, "error": "ratelimited"}
    return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})


def _http_error(status: int) -> web.Response:
    """An injected failure, shaped like the HTML error page a proxy in front of Slack returns."""
    page = f"<html><body><h1>{status} {HTTPStatus(status).phrase}</h1></body></html>"
    return web.Response(status=status, text=page, content_type="text/html")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The standalone fake's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.slack_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--token", default=None, help="bot token to require (default: accept any)")
    parser.add_argument(
        "--rate-limit", action="append", default=[], metavar="METHOD=PER_SECOND", help="repeatable"
    )
    return parser.parse_args(argv)


def standalone(args: argparse.Namespace) -> FakeSlack:
    """The fake the command line describes (not started), recording counts but not every call."""
    fake = FakeSlack(token=args.token, record_calls=False)
    fake.latency = args.latency
    for spec in args.rate_limit:
        method, _, per_second = spec.partition("=")
        fake.rate_limit(method, float(per_second))
    return fake


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(serve_until_signalled(standalone(arguments), port=arguments.port))
