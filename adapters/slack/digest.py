"""The digest in a Slack channel: its Block Kit (one line per change, capped lists), and the poster that
posts it with the slot in its message metadata and finds it again in the channel's history."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import HEADER_LIMIT, Block, clip, listing, section, text
from adapters.slack.messenger import classify, error_code
from bot import copy
from bot.digest import Digest, DigestChange
from bot.model import MessageRef
from bot.ports import Failed, Found, Retry, SendResult, Sent

log = logging.getLogger(__name__)
DIGEST_EVENT = "realign_digest"  # message metadata: {"slot": <ISO 8601>}
SHOWN = 10  # lines per list; the rest is "…and N more"
HISTORY_DEPTH = 100  # messages of the channel looked through when reconciling


def progress(
    key: str, title: str, *, acknowledged: int, targeted: int, questions: int = 0, concerns: int = 0
) -> str:
    """`• *CHG-3* New CRM · 140/200 acknowledged (70%) · 2 open questions`."""
    asked = [
        copy.counted(count, *words)
        for count, words in ((questions, copy.OPEN_QUESTIONS), (concerns, copy.OPEN_CONCERNS))
        if count
    ]
    percent = round(100 * acknowledged / targeted) if targeted else 0
    return copy.PROGRESS_LINE.format(
        key=key,
        title=title,
        acknowledged=acknowledged,
        targeted=targeted,
        percent=percent,
        asked="".join(f" · {part}" for part in asked),
    )


def _listed(heading: str, lines: Sequence[str]) -> Block:
    return section(f"{heading}\n{listing(list(lines[:SHOWN]), total=len(lines), budget=2800)}")


def _open_line(c: DigestChange) -> str:
    return progress(
        c.key,
        c.title,
        acknowledged=c.acknowledged,
        targeted=c.targeted,
        questions=c.open_questions,
        concerns=c.open_concerns,
    )


def digest_text(d: Digest) -> str:
    """The notification / accessibility fallback for the blocks."""
    if d.empty:
        return copy.DIGEST_NOTHING
    return copy.DIGEST_FALLBACK.format(
        day=copy.day(d.slot.date()), announced=len(d.announced), coming=len(d.coming), open=len(d.open)
    )


def digest_blocks(d: Digest) -> list[Block]:
    blocks: list[Block] = [
        {
            "type": "header",
            "text": text(clip(copy.DIGEST_HEADER.format(day=copy.day(d.slot.date())), HEADER_LIMIT)),
        }
    ]
    if d.empty:
        return [*blocks, section(copy.DIGEST_NOTHING)]
    if d.announced:
        lines = [
            copy.DIGEST_ANNOUNCED_LINE.format(
                key=c.key,
                title=c.title,
                announcer=f"<@{c.announcer_id}>",
                day=copy.day((c.published_at or d.slot).date()),
            )
            for c in d.announced
        ]
        blocks.append(_listed(copy.DIGEST_ANNOUNCED.format(count=len(lines)), lines))
    if d.coming:
        lines = [
            copy.DIGEST_COMING_LINE.format(key=c.key, title=c.title, day=copy.day(c.effective_date))
            for c in d.coming
        ]
        blocks.append(_listed(copy.DIGEST_COMING.format(count=len(lines)), lines))
    if d.open:
        blocks.append(_listed(copy.DIGEST_OPEN.format(count=len(d.open)), [_open_line(c) for c in d.open]))
    return blocks


def slot_key(slot: datetime) -> str:
    """How a message's metadata names its slot."""
    return slot.isoformat()


class SlackDigestPoster:
    """Implements `bot.digest.DigestPoster` for one Slack workspace (its client must not retry posts
    by itself: the digest tick decides, after looking)."""

    def __init__(self, client: AsyncWebClient, *, on_error: Callable[[str], None] | None = None) -> None:
        self.client = client
        self._on_error = on_error  # told the code of every failed call (metrics)

    def _classify(self, error: BaseException) -> Retry | Failed:
        if self._on_error is not None:
            self._on_error(error_code(error))
        return classify(error)

    async def post_digest(self, digest: Digest, *, channel: str) -> SendResult:
        metadata = {"event_type": DIGEST_EVENT, "event_payload": {"slot": slot_key(digest.slot)}}
        try:
            response = await self.client.chat_postMessage(
                channel=channel,
                text=digest_text(digest),
                blocks=digest_blocks(digest),
                unfurl_links=False,
                metadata=metadata,
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            return self._classify(error)
        return Sent(MessageRef(response["channel"], response["ts"]))

    async def find_digest(self, *, channel: str, slot: datetime) -> Found:
        try:
            reply = await self.client.api_call(
                "conversations.history",
                http_verb="GET",
                params={"channel": channel, "include_all_metadata": True, "limit": HISTORY_DEPTH},
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            verdict = self._classify(error)
            # Not knowing is not "not there": posting again could post it twice. (A refusal here is
            # usually a missing channels:history / groups:history scope, or Realign not in the channel.)
            return verdict if isinstance(verdict, Retry) else Retry(verdict.reason, after=60)
        wanted = slot_key(slot)
        messages: list[dict[str, Any]] = reply.get("messages") or []
        for message in messages:
            metadata: dict[str, Any] = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == DIGEST_EVENT and payload.get("slot") == wanted:
                return MessageRef(channel, str(message["ts"]))
        return None
