"""Bolt listeners of two-way alignment: the announcement's Ask a question / I have a concern buttons and
their form, the owner's Answer and Mark resolved buttons, replies typed into the DM, and acknowledging in
your own words."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import alignment, translate
from adapters.slack.replies import Ack, answers_click, errors_on, said, tell
from bot import copy
from bot.errors import InvalidInput, RealignError
from bot.questions import Question

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices

log = logging.getLogger(__name__)


async def open_form(client: AsyncWebClient, respond: AsyncRespond, body: Any, view: dict[str, Any]) -> None:
    """Open a form for a click; a click Slack sent without a usable trigger is answered, not dropped."""
    trigger = translate.trigger_id(body)
    if trigger is None:
        await tell(respond, copy.BUTTON_UNREADABLE)
        return
    try:
        await client.views_open(trigger_id=trigger, view=view)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
        code = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
        log.warning("could not open a question form: %s", code)
        await tell(respond, copy.FORM_NOT_OPENED)


View = dict[str, Any]
Form = Callable[[dict[str, Any], dict[str, Any], "SlackServices"], Awaitable[View]]


def opens_form(app: AsyncApp, *action_ids: str, form: Form) -> None:
    """A button whose click opens a form: `form(body, action, services)` reads the click and builds the
    form (the use case's refusal, a RealignError, is said to the clicker instead)."""

    async def clicked(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        services: SlackServices,
    ) -> None:
        await ack()
        try:
            view = await form(body, action, services)
        except RealignError as error:
            await tell(respond, said(error))
            return
        await open_form(client, respond, body, view)

    for action_id in action_ids:
        app.action(action_id)(clicked)


def _sent(question: Question) -> str:
    return copy.QUESTION_SENT.format(
        kind=question.kind.value, key=question.change_key, owner=f"<@{question.owner_id}>"
    )


def register_questions(app: AsyncApp) -> None:
    _register_asking(app)
    _register_answering(app)
    _register_typed(app)
    _register_own_words(app)


def _register_asking(app: AsyncApp) -> None:
    async def question_form(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> View:
        return alignment.question_modal(translate.button_key(action), translate.question_kind(action))

    opens_form(app, alignment.ASK_ACTION, alignment.CONCERN_ACTION, form=question_form)

    @app.view(alignment.QUESTION_FORM)
    async def question_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        try:
            key, kind, text = translate.question_form(view)
            question = await services.questioning.ask(
                change_key=key,
                user_id=translate.user_id(body, block="question"),
                kind=kind,
                text=text,
                request_ref=f"view:{translate.view_id(view, block='question')}",
            )
        except RealignError as error:
            await errors_on(ack, error, field="question")
            return
        await ack(response_action="update", view=alignment.done_modal("Sent", _sent(question)))


def _register_answering(app: AsyncApp) -> None:
    async def answer_form(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> View:
        question_id, user_id = translate.question_id(action), translate.user_id(body)
        return alignment.answer_modal(await services.questioning.question(question_id, user_id=user_id))

    opens_form(app, alignment.ANSWER_ACTION, form=answer_form)

    @app.view(alignment.ANSWER_FORM)
    async def answer_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        try:
            question_id, text = translate.answer_form(view)
            question = await services.questioning.answer(
                question_id=question_id, user_id=translate.user_id(body, block="answer"), text=text
            )
        except RealignError as error:
            await errors_on(ack, error, field="answer")
            return
        note = copy.ANSWER_SENT.format(asker=f"<@{question.asker_id}>")
        await ack(response_action="update", view=alignment.done_modal("Answer sent", note))

    async def resolve(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> str:
        await services.questioning.resolve(
            question_id=translate.question_id(action), user_id=translate.user_id(body)
        )
        return copy.RESOLVED

    answers_click(app, alignment.RESOLVE_ACTION, answer=resolve)


def _register_typed(app: AsyncApp) -> None:
    @app.event("message")
    async def typed_in_dm(
        ack: Ack, event: dict[str, Any], client: AsyncWebClient, services: SlackServices
    ) -> None:
        """A reply typed into the DM (the messages tab) becomes a question about the announcement."""
        await ack()
        typed = translate.typed_reply(event)
        if typed is None:  # Realign's own messages, edits, deletions, channel messages: not questions
            return
        try:
            question = await services.questioning.ask_typed(
                user_id=typed.user_id, text=typed.text, thread=typed.thread, request_ref=typed.ref
            )
            text = copy.NOTHING_TO_ASK_ABOUT if question is None else _sent(question)
        except InvalidInput as error:
            text = said(error)
        except RealignError as error:
            text = str(error)
        thread_ts = typed.thread.id if typed.thread else typed.ts
        try:
            await client.chat_postEphemeral(
                channel=typed.channel, user=typed.user_id, text=text, thread_ts=thread_ts
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.warning("could not answer a message typed into a DM: %s", code)


def _register_own_words(app: AsyncApp) -> None:
    async def own_words_form(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> View:
        """The Acknowledge button of a change that asks for a line: the line's form first."""
        delivery_id, user_id = translate.delivery_id(action), translate.user_id(body)
        shown = await services.restating.announcement(delivery_id=delivery_id, user_id=user_id)
        return alignment.own_words_modal(shown, translate.clicked_message(body))

    opens_form(app, alignment.ACK_WORDS_ACTION, form=own_words_form)

    @app.view(alignment.OWN_WORDS_FORM)
    async def own_words_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        try:
            delivery_id, text, clicked = translate.own_words_form(view)
            shown = await services.restating.acknowledge(
                delivery_id=delivery_id,
                user_id=translate.user_id(body, block="own_words"),
                text=text,
                clicked_in=clicked,
            )
        except RealignError as error:
            await errors_on(ack, error, field="own_words")
            return
        when = copy.moment(shown.acknowledged_at) if shown.acknowledged_at else ""
        await ack(
            response_action="update",
            view=alignment.done_modal("Acknowledged", copy.ACKNOWLEDGED.format(when=when)),
        )
