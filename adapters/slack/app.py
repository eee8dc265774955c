"""Bolt listeners. Each one acks, translates, calls a use case and renders; nothing else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from adapters.slack.amend import register_amending
from adapters.slack.checks import register_checks
from adapters.slack.directory import SlackDirectory
from adapters.slack.exports import register_exports
from adapters.slack.home import register_home
from adapters.slack.install import Installs
from adapters.slack.questions import register_questions
from adapters.slack.replies import Ack, answers_click, errors_on, said
from bot import copy
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.announce import Announcing
from bot.capacity import CapacityChecking
from bot.errors import InvalidInput, RealignError
from bot.exporting import Exporting
from bot.home import HomePages
from bot.questions import Questioning
from bot.status import Closing, Reporting, Requeueing
from bot.words import Restating

log = logging.getLogger(__name__)
ACK_BUDGET = 2.0  # seconds of Slack's 3 spent waiting for a publish to finish
UPDATE_AFTER_ACK = 1.0


@dataclass(frozen=True)
class SlackServices:
    """The use cases one Slack workspace's listeners call."""

    announcing: Announcing
    reporting: Reporting
    acknowledging: Acknowledging
    requeueing: Requeueing
    closing: Closing
    questioning: Questioning
    restating: Restating
    amending: Amending
    directory: SlackDirectory
    in_background: Callable[[Coroutine[Any, Any, Any]], None]
    capacity: CapacityChecking | None = None
    home: HomePages | None = None  # the App Home tab (adapters.slack.home)
    exporting: Exporting | None = None  # Export CSV in /change-status CHG-n (adapters.slack.exports)


# A request's team id -> the services of that workspace (None: Realign is not installed there).
Workspaces = Callable[[str | None], Awaitable[SlackServices | None]]
Removed = Callable[[str], Awaitable[None]]  # a team id: Realign was uninstalled there
REMOVAL_EVENTS = ("app_uninstalled", "tokens_revoked")


class ForWorkspace(AsyncMiddleware):
    """Hands every listener (as its `services` argument) the use cases of the workspace the request
    came from, so each command, form and click reads and changes that workspace's data alone."""

    def __init__(self, workspaces: Workspaces) -> None:
        self.workspaces = workspaces

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        services = await self.workspaces(req.context.team_id)
        event = req.body.get("event") if isinstance(req.body, dict) else None
        if services is None and not (isinstance(event, dict) and event.get("type") in REMOVAL_EVENTS):
            log.warning("a request from Slack team %s, which Realign does not serve", req.context.team_id)
            return BoltResponse(status=200, body=copy.NOT_INSTALLED if req.body.get("command") else "")
        req.context["services"] = services
        return await next()


def well_formed(body: object) -> bool:
    """Whether a request has the envelope Slack always sends (bolt reads it without checking): a view
    submission's view with its type and callback id, a click's actions with their ids, an event's type."""
    if not isinstance(body, dict):
        return False
    kind = body.get("type")
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        return isinstance(view, dict) and all(isinstance(view.get(k), str) for k in ("type", "callback_id"))
    if kind == "block_actions":
        actions = body.get("actions")
        return (
            isinstance(actions, list)
            and bool(actions)
            and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
        )
    if kind == "event_callback":
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    return True  # slash commands come form-encoded: every field is text


class WellFormed(AsyncMiddleware):
    """Answers 400 to a (signed) request whose envelope is not Slack's, before bolt trips over it.
    What is inside the envelope, the listeners' translators check."""

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        if well_formed(req.body):
            return await next()
        kind = req.body.get("type") if isinstance(req.body, dict) else None
        log.warning("refused a Slack request that is not shaped like one (type %r)", kind)
        return BoltResponse(status=400, body="")


async def _skip_retried_commands(
    req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[Any]]
) -> Any:
    # Slack re-sends a request it thinks timed out; the first copy is already being handled.
    if req.headers.get("x-slack-retry-num") and req.body.get("command"):
        return BoltResponse(status=200, body="")
    return await next()


async def _publish(announcing: Announcing, *, key: str, user_id: str) -> dict[str, Any]:
    """Publish and return the modal that tells the announcer how it went."""
    try:
        published = await announcing.publish(key=key, user_id=user_id)
    except RealignError as error:
        return render.published_modal(key, 0, note=said(error))
    if not published.first:
        return render.published_modal(key, 0, note=copy.ALREADY_PUBLISHED.format(key=key))
    return render.published_modal(key, published.recipients, scheduled=published.scheduled)


async def _open(client: AsyncWebClient, *, trigger_id: object, view: dict[str, Any]) -> None:
    if not isinstance(trigger_id, str) or not trigger_id:
        log.warning("/announce-change came without a trigger_id; no form was opened")
        return
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:  # e.g. expired_trigger_id: the person runs the command again
        log.warning("could not open the announce form: %s", error.response.get("error"))


def register(app: AsyncApp) -> None:
    """The listeners; each takes its workspace's use cases as `services` (see ForWorkspace)."""
    _register_announce(app)
    _register_buttons(app)
    _register_status(app)
    register_questions(app)
    register_checks(app)
    register_amending(app)
    register_home(app)
    register_exports(app)


def _register_announce(app: AsyncApp) -> None:
    @app.command("/announce-change")
    async def announce_change(
        ack: Ack, body: dict[str, Any], client: AsyncWebClient, services: SlackServices
    ) -> None:
        announcing = services.announcing
        try:
            await announcing.check_may_announce(user_id=translate.command_user(body))
        except RealignError as error:
            await ack(text=said(error))
            return
        await ack()
        form = render.basics_modal(translate.command_text(body).strip(), policy=announcing.policy)
        await _open(client, trigger_id=body.get("trigger_id"), view=form)

    @app.view(render.BASICS)
    async def basics_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        announcing = services.announcing
        try:
            change = await announcing.submit_basics(
                user_id=translate.user_id(body, block="title"),
                draft_ref=translate.view_id(view, block="title"),
                form=translate.basics(view),
            )
        except RealignError as error:
            await errors_on(ack, error, field="title")
            return
        usergroups = await services.directory.usergroups()
        await ack(response_action="update", view=render.group_modal(change, 0, usergroups))

    @app.view(render.GROUP)
    async def group_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        announcing = services.announcing
        try:
            user_id, draft_ref = translate.user_id(body), translate.view_id(view)
            (key, position), (group, more) = translate.group_step(view), translate.group(view)
            change = await announcing.submit_group(
                key=key, user_id=user_id, draft_ref=draft_ref, position=position, group=group
            )
            if more:
                following = render.group_modal(change, position + 1, await services.directory.usergroups())
            else:
                following = render.review_modal(await announcing.review(key=key, user_id=user_id))
        except RealignError as error:
            await errors_on(ack, error, field="people")
            return
        await ack(response_action="update", view=following)

    @app.view(render.REVIEW)
    async def publish_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, services: SlackServices
    ) -> None:
        announcing = services.announcing
        try:
            user_id, view_id = translate.user_id(body), translate.view_id(view)
            key = translate.change_key(translate.meta(view))
        except InvalidInput:
            await ack(response_action="update", view=render.problem_modal(copy.FORM_UNREADABLE))
            return
        publishing = asyncio.ensure_future(_publish(announcing, key=key, user_id=user_id))
        done, _ = await asyncio.wait({publishing}, timeout=ACK_BUDGET)
        if done:
            await ack(response_action="update", view=publishing.result())
            return
        # A very large outbox: answer Slack in time, then show the outcome once it is written.
        await ack(response_action="update", view=render.publishing_modal(key))

        async def show_outcome() -> None:
            outcome = await publishing
            await asyncio.sleep(UPDATE_AFTER_ACK)  # let Slack apply the first answer before replacing it
            await client.views_update(view_id=view_id, view=outcome)

        services.in_background(show_outcome())


def _register_buttons(app: AsyncApp) -> None:
    async def acknowledge(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> None:
        await services.acknowledging.acknowledge(
            delivery_id=translate.delivery_id(action),
            user_id=translate.user_id(body),
            clicked_in=translate.clicked_message(body),
        )  # the DM itself shows it: nothing to say

    async def retry_failed(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> str:
        key = translate.button_key(action)
        count = await services.requeueing.retry_failed(key=key, user_id=translate.user_id(body))
        return copy.REQUEUED.format(count=count, key=key) if count else copy.NOTHING_TO_RETRY.format(key=key)

    async def close(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> str:
        key = translate.button_key(action)
        closed = await services.closing.close(key=key, user_id=translate.user_id(body))
        return (copy.CLOSED if closed else copy.NOT_OPEN).format(key=key)

    answers_click(app, render.ACK_ACTION, answer=acknowledge)
    answers_click(app, render.RETRY_ACTION, answer=retry_failed)
    answers_click(app, render.CLOSE_ACTION, answer=close)


def _register_status(app: AsyncApp) -> None:
    @app.command("/change-status")
    async def change_status(ack: Ack, body: dict[str, Any], services: SlackServices) -> None:
        reporting = services.reporting
        try:
            user_id, words = translate.command_user(body), translate.command_text(body).split()
            if not words:
                blocks = render.overview(await reporting.overview(user_id=user_id))
            elif len(words) == 1:
                blocks = render.detail(await reporting.status(key=words[0], user_id=user_id))
            else:
                raise RealignError(copy.UNKNOWN_STATUS_ARGUMENT)
        except RealignError as error:
            await ack(text=said(error))
            return
        await ack(text=copy.STATUS_LIST_TITLE, blocks=blocks)


def _register_removal(app: AsyncApp, removed: Removed) -> None:
    """Realign uninstalled from a workspace, or its bot token revoked: nothing more goes there."""

    @app.event("app_uninstalled")
    async def uninstalled(ack: Ack, context: AsyncBoltContext) -> None:
        await ack()
        if context.team_id:
            await removed(context.team_id)

    @app.event("tokens_revoked")
    async def revoked(ack: Ack, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        tokens = event.get("tokens")
        bots = tokens.get("bot") if isinstance(tokens, dict) else None
        if context.team_id and isinstance(bots, list) and bots:  # user tokens alone: Realign uses none
            await removed(context.team_id)


def build_app(
    *,
    client: AsyncWebClient,
    signing_secret: str,
    services: SlackServices | None = None,
    workspaces: Workspaces | None = None,
    removed: Removed | None = None,
    installs: Installs | None = None,
) -> AsyncApp:
    """One bolt app for every workspace: the one workspace's `services` (SLACK_BOT_TOKEN), or
    `workspaces` to find each request's; with `installs`, workspaces install it through OAuth."""

    async def only(_team_id: str | None) -> SlackServices | None:
        return services

    oauth: dict[str, Any] = {}
    if installs is not None:
        oauth = {"oauth_flow": installs.flow, "authorize": installs.authorize}
    # Listeners finish before the response goes back (they are quick); slow work is handed to
    # `in_background`, which the runtime tracks, so nothing runs on untracked after a shutdown.
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=True, **oauth)
    app.use(WellFormed())  # first: the function middleware below has bolt read the envelope
    app.middleware(_skip_retried_commands)
    app.use(ForWorkspace(workspaces or only))
    register(app)
    if removed is not None:
        _register_removal(app, removed)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.exception("Slack listener failed for %s", body.get("type") or body.get("command"), exc_info=error)

    return app
