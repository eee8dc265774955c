"""Bolt listeners of the scheduled publish (Publish now / Cancel publishing in `/change-status`, the
announcer's only) and of the capacity check (a manager's Yes / Need help / No, then the comment form)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from adapters.slack import alignment, capacity, translate
from adapters.slack.questions import View, opens_form
from adapters.slack.replies import Ack, answers_click, errors_on
from bot import copy
from bot.errors import RealignError

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices


def register_checks(app: AsyncApp) -> None:
    _register_schedule(app)
    _register_capacity(app)


def _register_schedule(app: AsyncApp) -> None:
    async def publish_now(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> str:
        key = translate.button_key(action)
        published = await services.announcing.publish(key=key, user_id=translate.user_id(body), at_once=True)
        done = copy.PUBLISHED if published.first else copy.NOT_SCHEDULED
        return done.format(key=key, count=published.recipients)

    async def cancel(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> str:
        key = translate.button_key(action)
        cancelled = await services.announcing.cancel(key=key, user_id=translate.user_id(body))
        return (copy.SCHEDULE_CANCELLED if cancelled else copy.NOT_SCHEDULED).format(key=key)

    answers_click(app, capacity.PUBLISH_NOW_ACTION, answer=publish_now)
    answers_click(app, capacity.CANCEL_SCHEDULE_ACTION, answer=cancel)


def _register_capacity(app: AsyncApp) -> None:
    async def comment_form(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> View:
        """A manager's Yes / Need help / No: the comment form, with the answer chosen."""
        return capacity.comment_modal(*translate.capacity_choice(action))

    opens_form(app, *capacity.ACTIONS.values(), form=comment_form)

    @app.view(capacity.CAPACITY_FORM)
    async def comment_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], services: SlackServices
    ) -> None:
        try:
            if services.capacity is None:
                raise RealignError(copy.FORM_UNREADABLE)
            key, answer, comment = translate.capacity_form(view)
            reply = await services.capacity.answer(
                change_key=key,
                user_id=translate.user_id(body, block="comment"),
                answer=answer,
                comment=comment,
            )
        except RealignError as error:
            await errors_on(ack, error, field="comment")
            return
        note = copy.CAPACITY_SENT.format(announcer=f"<@{reply.announcer_id}>")
        await ack(response_action="update", view=alignment.done_modal("Answer sent", note))
