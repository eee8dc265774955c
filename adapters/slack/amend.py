"""Amending a published change on Slack: the Amend button on `/change-status CHG-n` (render.detail), its
form (what, why, the dates, each group's expectations, filled in as they are now), and the note in an
announcement's thread that asks someone to acknowledge again (bot.amend)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.alignment import done_modal
from adapters.slack.blocks import Block, context, field, modal, section, text_input
from adapters.slack.questions import View, opens_form
from adapters.slack.render import AMEND_ACTION, acknowledge_actions
from adapters.slack.replies import Ack, errors_on, said
from bot import copy
from bot.amend import Amended
from bot.errors import InvalidInput, RealignError
from bot.model import Announcement, Change

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices

AMEND_FORM = "realign.amend_form"
ACK_BUDGET = 2.0  # seconds of Slack's 3 spent waiting for the amendment to be written
UPDATE_AFTER_ACK = 1.0


def _day(block: str, label: str, value: date) -> Block:
    return field(block, label, {"type": "datepicker", "initial_date": value.isoformat()})


def _text(block: str, label: str, value: str, *, optional: bool = False) -> Block:
    return field(block, label, text_input(value, multiline=True), optional=optional)


def amend_modal(change: Change) -> dict[str, Any]:
    """At most 4 + 2 x MAX_GROUPS + 1 = 45 blocks: within a modal's 100."""
    blocks: list[Block] = [
        context(copy.AMEND_INTRO),
        _text("what", "What is changing", change.what),
        _text("why", "Why", change.why, optional=True),
        _day("effective_date", "Effective date", change.effective_date),
        _day("ack_deadline", "Acknowledge by", change.ack_deadline),
    ]
    for position, group in enumerate(change.groups):
        blocks += [
            _text(f"today_{position}", f"{group.name}: today", group.today, optional=True),
            _text(f"group_{position}", f"{group.name}: from the effective date", group.from_effective),
        ]
    title, meta = copy.AMEND_TITLE.format(key=change.key), {"key": change.key, "revision": change.revision}
    return modal(AMEND_FORM, title, blocks, submit=copy.AMEND_SUBMIT, meta=meta)


def amended_text(amended: Amended) -> str:
    changes = "; ".join(amended.changed)
    return copy.AMENDED.format(
        key=amended.change.key, changes=changes, reasked=amended.reasked, updated=amended.updated
    )


def note_text(a: Announcement) -> str:
    return copy.AMENDMENT_NOTE.format(key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))


def note(a: Announcement) -> list[Block]:
    """In the announcement's thread, to someone whose part changed: please acknowledge again."""
    return [section(note_text(a)), acknowledge_actions(a)]


def _on_form(error: InvalidInput, view: object) -> InvalidInput:
    """The errors on blocks the form has; any other (the groups changed meanwhile) beside "what"."""
    blocks = view.get("blocks") if isinstance(view, dict) else None
    ids = {b.get("block_id") for b in blocks if isinstance(b, dict)} if isinstance(blocks, list) else set()
    shown = {k: v for k, v in error.errors.items() if k in ids}
    rest = [v for k, v in error.errors.items() if k not in ids]
    if rest:
        shown["what"] = " ".join(filter(None, [shown.get("what"), *rest]))
    return InvalidInput(shown)


def register_amending(app: AsyncApp) -> None:
    async def form(body: dict[str, Any], action: dict[str, Any], services: SlackServices) -> View:
        key, user_id = translate.button_key(action), translate.user_id(body)
        return amend_modal(await services.amending.start(key=key, user_id=user_id))

    opens_form(app, AMEND_ACTION, form=form)

    @app.view(AMEND_FORM)
    async def amend_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, services: SlackServices
    ) -> None:
        try:
            key, revision, form = translate.amendment(view)
            user_id, view_id = translate.user_id(body, block="what"), translate.view_id(view, block="what")
        except InvalidInput as error:
            await errors_on(ack, _on_form(error, view), field="what")
            return
        title = copy.AMEND_TITLE.format(key=key)
        amending = asyncio.ensure_future(
            services.amending.amend(key=key, user_id=user_id, form=form, revision=revision)
        )
        done, _ = await asyncio.wait({amending}, timeout=ACK_BUDGET)
        if done:
            try:
                amended = amending.result()
            except InvalidInput as error:
                await errors_on(ack, _on_form(error, view), field="what")
                return
            except RealignError as error:
                await errors_on(ack, error, field="what")
                return
            await ack(response_action="update", view=done_modal(title, amended_text(amended)))
            return
        # A very large change (100,000 people take a few seconds): answer Slack in time, then the outcome.
        await ack(response_action="update", view=done_modal(title, copy.AMENDING.format(key=key)))

        async def show_outcome() -> None:
            try:
                outcome = amended_text(await amending)
            except RealignError as error:
                outcome = said(error)
            await asyncio.sleep(UPDATE_AFTER_ACK)  # let Slack apply the first answer before replacing it
            await client.views_update(view_id=view_id, view=done_modal(title, outcome))

        services.in_background(show_outcome())
