"""The App Home tab: the page's Block Kit, its publisher (views.publish), and the `app_home_opened`
listener. The Acknowledge buttons are the DM's (render.ACK_ACTION, or the own-words one), so the
listeners that record a click in a DM record it here too (a click in a view has no message to update:
the DM is updated instead)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.alignment import ACK_WORDS_ACTION
from adapters.slack.blocks import HEADER_LIMIT, Block, button, clip, context, listing, section, text
from adapters.slack.digest import progress
from adapters.slack.render import ACK_ACTION
from adapters.slack.replies import Ack
from bot import copy
from bot.home import Home, TeamChange, ToAcknowledge

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices

log = logging.getLogger(__name__)
MAX_BLOCKS = 100  # Slack's limit for a Home tab view
ID_LIMIT = 64


def _pending(item: ToAcknowledge) -> Block:
    line = copy.HOME_TO_ACKNOWLEDGE_LINE.format(
        key=item.key,
        title=item.title,
        deadline=copy.day(item.ack_deadline),
        effective=copy.day(item.effective_date),
    )
    action = ACK_WORDS_ACTION if item.own_words else ACK_ACTION
    return {**section(line), "accessory": button(action, copy.ACKNOWLEDGE, str(item.delivery_id))}


def _team_line(change: TeamChange) -> str:
    names = ", ".join(f"<@{person.user_id}>" for person in change.names)
    if change.pending > len(change.names):
        names += f" {copy.STATUS_AND_MORE.format(count=change.pending - len(change.names))}"
    return copy.HOME_TEAM_LINE.format(
        key=change.key, title=change.title, pending=change.pending, reports=change.reports, names=names
    )


def home_blocks(home: Home) -> list[Block]:
    blocks: list[Block] = [{"type": "header", "text": text(clip(copy.HOME_HEADER, HEADER_LIMIT))}]
    if home.to_acknowledge:
        blocks.append(section(copy.HOME_TO_ACKNOWLEDGE.format(count=home.to_acknowledge_total)))
        blocks.extend(_pending(item) for item in home.to_acknowledge)
        if home.to_acknowledge_total > len(home.to_acknowledge):
            more = home.to_acknowledge_total - len(home.to_acknowledge)
            blocks.append(context(copy.STATUS_AND_MORE.format(count=more)))
    else:
        blocks.append(section(copy.HOME_NOTHING_TO_ACKNOWLEDGE))
    if home.changes:
        heading = (copy.HOME_ALL if home.admin else copy.HOME_YOURS).format(count=home.changes_total)
        lines = [
            progress(
                c.key,
                c.title + copy.HOME_STATE.get(c.state, ""),
                acknowledged=c.acknowledged,
                targeted=c.targeted,
                questions=c.open_questions,
                concerns=c.open_concerns,
            )
            for c in home.changes
        ]
        blocks += [{"type": "divider"}, section(f"{heading}\n{listing(lines, total=home.changes_total)}")]
    if home.team:
        lines = [_team_line(change) for change in home.team]
        blocks += [{"type": "divider"}, section(f"{copy.HOME_TEAM}\n{listing(lines)}")]
    blocks.append(context(copy.HOME_FOOTER))
    return blocks[:MAX_BLOCKS]


def home_view(home: Home) -> dict[str, Any]:
    return {"type": "home", "blocks": home_blocks(home)}


class SlackHomePublisher:
    """Implements `bot.home.HomePublisher` for one Slack workspace."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def publish_home(self, home: Home) -> None:
        try:
            await self.client.views_publish(user_id=home.user_id, view=home_view(home))
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:  # shown fresh at the next open
            code = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.warning("could not publish the Home tab of %s: %s", home.user_id, code)


def opened_by(event: object) -> str | None:
    """Who opened the Home tab (None: another tab, or an event not shaped like Slack's)."""
    if not isinstance(event, dict) or event.get("tab") != "home":
        return None
    user = event.get("user")
    if not isinstance(user, str) or not user or len(user) > ID_LIMIT or "\x00" in user:
        return None
    return user


def register_home(app: AsyncApp) -> None:
    @app.event("app_home_opened")
    async def home_opened(ack: Ack, event: dict[str, Any], services: SlackServices) -> None:
        await ack()
        user = opened_by(event)
        if user is not None and services.home is not None:
            services.in_background(services.home.opened(user_id=user))
