"""The one HTTP app: Slack at /slack/events (and /slack/install, /slack/oauth_redirect with OAuth),
/healthz and /metrics for operators, and Teams at /api/messages."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)


class Operations(Protocol):
    """What operators read off the process (realign.operations implements it)."""

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the process can do its work (its database answers), and the details to show."""
        ...

    async def metrics(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and their content type."""
        ...

    def served(self, *, route: str, seconds: float) -> None:
        """A request to `route` (the matched resource's path, never the raw URL) took `seconds`."""
        ...


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"  # a 404: not one label per URL


def build_web(
    *, slack: AsyncApp | None, operations: Operations, teams: Handler | None = None
) -> web.Application:
    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        try:
            return await handler(request)
        finally:
            operations.served(route=_route(request), seconds=time.perf_counter() - began)

    app = web.Application(middlewares=[timed])

    async def healthz(_request: web.Request) -> web.Response:
        ok, body = await operations.health()
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        body, content_type = await operations.metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if teams is not None:  # Bot Framework activities (adapters.teams.app.TeamsEndpoint)
        endpoint = teams

        async def api_messages(request: web.Request) -> web.StreamResponse:
            return await endpoint(request)

        app.router.add_post("/api/messages", api_messages)
    if slack is not None:
        bolt = slack

        async def slack_events(request: web.Request) -> web.Response:
            try:
                bolt_request = await to_bolt_request(request)
            except (TypeError, ValueError, AttributeError, KeyError) as error:
                # bolt reads the ids out of the body before anything checks the signature, and trips
                # over a body whose `user` or `team` is not what Slack sends: refuse it, in one line.
                log.warning("refused a request to /slack/events bolt cannot read: %s", type(error).__name__)
                return web.Response(status=400)
            return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

        app.router.add_post("/slack/events", slack_events)
        flow = bolt.oauth_flow
        if flow is not None:  # installs through OAuth: /slack/install, /slack/oauth_redirect

            async def slack_install(request: web.Request) -> web.Response:
                bolt_request = await to_bolt_request(request)
                return await to_aiohttp_response(await flow.handle_installation(bolt_request))

            async def slack_redirect(request: web.Request) -> web.Response:
                bolt_request = await to_bolt_request(request)
                return await to_aiohttp_response(await flow.handle_callback(bolt_request))

            app.router.add_get(flow.install_path, slack_install)
            app.router.add_get(flow.redirect_uri_path, slack_redirect)
    return app
