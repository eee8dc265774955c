"""Bolt listeners. Each one acks, translates, calls a use case and renders; nothing else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from adapters.slack.directory import SlackDirectory
from bot import copy
from bot.acknowledge import Acknowledging
from bot.announce import Announcing
from bot.errors import InvalidInput, RealignError
from bot.status import Closing, Reporting, Requeueing

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[Any]]
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
    directory: SlackDirectory
    in_background: Callable[[Coroutine[Any, Any, Any]], None]


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
        return render.published_modal(key, 0, note=str(error))
    if not published.first:
        return render.published_modal(key, 0, note=copy.ALREADY_PUBLISHED.format(key=key))
    return render.published_modal(key, published.recipients)


async def _errors(ack: Ack, error: RealignError, *, field: str) -> None:
    errors = error.errors if isinstance(error, InvalidInput) else {field: str(error)}
    await ack(response_action="errors", errors=errors)


def register(app: AsyncApp, services: SlackServices) -> None:
    announcing, reporting = services.announcing, services.reporting

    @app.command("/announce-change")
    async def announce_change(ack: Ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        try:
            await announcing.check_may_announce(user_id=body["user_id"])
        except RealignError as error:
            await ack(text=str(error))
            return
        await ack()
        form = render.basics_modal(body.get("text", "").strip(), policy=announcing.policy)
        await client.views_open(trigger_id=body["trigger_id"], view=form)

    @app.view(render.BASICS)
    async def basics_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            change = await announcing.submit_basics(
                user_id=body["user"]["id"], draft_ref=view["id"], form=translate.basics(view)
            )
        except RealignError as error:
            await _errors(ack, error, field="title")
            return
        usergroups = await services.directory.usergroups()
        await ack(response_action="update", view=render.group_modal(change, 0, usergroups))

    @app.view(render.GROUP)
    async def group_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id, meta = body["user"]["id"], translate.meta(view)
        group, more = translate.group(view)
        try:
            change = await announcing.submit_group(
                key=meta["key"], user_id=user_id, draft_ref=view["id"], position=meta["position"], group=group
            )
            if more:
                following = render.group_modal(
                    change, meta["position"] + 1, await services.directory.usergroups()
                )
            else:
                following = render.review_modal(await announcing.review(key=meta["key"], user_id=user_id))
        except RealignError as error:
            await _errors(ack, error, field="people")
            return
        await ack(response_action="update", view=following)

    @app.view(render.REVIEW)
    async def publish_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        key = translate.meta(view)["key"]
        publishing = asyncio.ensure_future(_publish(announcing, key=key, user_id=body["user"]["id"]))
        done, _ = await asyncio.wait({publishing}, timeout=ACK_BUDGET)
        if done:
            await ack(response_action="update", view=publishing.result())
            return
        # A very large outbox: answer Slack in time, then show the outcome once it is written.
        await ack(response_action="update", view=render.publishing_modal(key))

        async def show_outcome() -> None:
            outcome = await publishing
            await asyncio.sleep(UPDATE_AFTER_ACK)  # let Slack apply the first answer before replacing it
            await client.views_update(view_id=view["id"], view=outcome)

        services.in_background(show_outcome())

    @app.action(render.ACK_ACTION)
    async def acknowledge_clicked(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        try:
            await services.acknowledging.acknowledge(
                delivery_id=int(action["value"]),
                user_id=body["user"]["id"],
                clicked_in=translate.clicked_message(body),
            )
        except RealignError as error:
            await respond(text=str(error), replace_original=False, response_type="ephemeral")

    @app.action(render.RETRY_ACTION)
    async def retry_failed_clicked(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()
        key = action["value"]
        try:
            count = await services.requeueing.retry_failed(key=key, user_id=body["user"]["id"])
            text = (
                copy.REQUEUED.format(count=count, key=key) if count else copy.NOTHING_TO_RETRY.format(key=key)
            )
        except RealignError as error:
            text = str(error)
        await respond(text=text, replace_original=False, response_type="ephemeral")

    @app.action(render.CLOSE_ACTION)
    async def close_clicked(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        key = action["value"]
        try:
            closed = await services.closing.close(key=key, user_id=body["user"]["id"])
            text = (copy.CLOSED if closed else copy.NOT_OPEN).format(key=key)
        except RealignError as error:
            text = str(error)
        await respond(text=text, replace_original=False, response_type="ephemeral")

    @app.command("/change-status")
    async def change_status(ack: Ack, body: dict[str, Any]) -> None:
        user_id, words = body["user_id"], body.get("text", "").split()
        try:
            if not words:
                blocks = render.overview(await reporting.overview(user_id=user_id))
            elif len(words) == 1:
                blocks = render.detail(await reporting.status(key=words[0], user_id=user_id))
            else:
                raise RealignError(copy.UNKNOWN_STATUS_ARGUMENT)
        except RealignError as error:
            await ack(text=str(error))
            return
        await ack(text=copy.STATUS_LIST_TITLE, blocks=blocks)


def build_app(*, client: AsyncWebClient, signing_secret: str, services: SlackServices) -> AsyncApp:
    # Listeners finish before the response goes back (they are quick); slow work is handed to
    # `in_background`, which the runtime tracks, so nothing runs on untracked after a shutdown.
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=True)
    app.middleware(_skip_retried_commands)
    register(app, services)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.exception("Slack listener failed for %s", body.get("type") or body.get("command"), exc_info=error)

    return app
