"""The one HTTP app: Slack at /slack/events, health at /healthz (Teams joins at /api/messages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp


def build_web(*, slack: AsyncApp | None, database_ok: Callable[[], Awaitable[bool]]) -> web.Application:
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        ok = await database_ok()
        body = {
            "status": "ok" if ok else "degraded",
            "database": "ok" if ok else "unreachable",
            "slack": "on" if slack else "off",
        }
        return web.json_response(body, status=200 if ok else 503)

    app.router.add_get("/healthz", healthz)
    if slack is not None:
        bolt = slack

        async def slack_events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

        app.router.add_post("/slack/events", slack_events)
    return app
