"""How listeners answer a person: errors beside a form's fields, ephemeral notes, refusals in words."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.errors import InvalidInput, RealignError

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices

log = logging.getLogger(__name__)
Ack = Callable[..., Awaitable[Any]]
Answer = Callable[[dict[str, Any], dict[str, Any], "SlackServices"], Awaitable[str | None]]


async def errors_on(ack: Ack, error: RealignError, *, field: str) -> None:
    """Answer a form submission with the error beside its field (`field` when the error names none)."""
    errors = error.errors if isinstance(error, InvalidInput) else {field: str(error)}
    await ack(response_action="errors", errors=errors)


async def tell(respond: AsyncRespond, text: str) -> None:
    """An ephemeral note to whoever clicked. Slack always sends a response_url; a request without a
    usable one gets the plain ack alone."""
    if not isinstance(respond.response_url, str):
        log.warning("a click came without a response_url; it was not answered")
        return
    try:
        await respond(text=text, replace_original=False, response_type="ephemeral")
    except (aiohttp.ClientError, ValueError, TimeoutError) as error:
        log.warning("could not answer a click through its response_url: %s", type(error).__name__)


def said(error: RealignError) -> str:
    """What to tell a person about a refusal (an InvalidInput's messages, without the field names)."""
    return " ".join(error.errors.values()) if isinstance(error, InvalidInput) else str(error)


def answers_click(app: AsyncApp, *action_ids: str, answer: Answer) -> None:
    """A button whose click is acked at once, then answered with a note to the clicker: `answer(body,
    action, services)` runs the use case and says what became of it (None: nothing to say); its refusal,
    a RealignError, is said instead."""

    async def clicked(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, services: SlackServices
    ) -> None:
        await ack()
        try:
            text = await answer(body, action, services)
        except RealignError as error:
            text = said(error)
        if text is not None:
            await tell(respond, text)

    for action_id in action_ids:
        app.action(action_id)(clicked)
