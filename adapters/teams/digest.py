"""The digest in a Teams channel: its Adaptive Card (the same lists as Slack's Block Kit, one line per
change, capped), and the poster that posts it with the connector's send_to_conversation to the channel's
conversation, within the tenant's limiter.

Reconciliation. The connector cannot list or read a channel's messages, so the poster keeps what it knows
in the slot's `digest_post` row (its `ref`) while the slot is claimed: SENDING just before the request
leaves, the activity id the moment the connector answers, nothing again when the request surely had no
effect (a 429, a 412, a refusal, a connection that never opened). A claim taken over later finds the
activity id there (recorded as posted), or nothing (posted now), or SENDING: the earlier post's answer
never came, it may be in the channel, and there is no way to look: it is not posted again (the tick
waits, as Slack's does when it cannot read the channel's history), so a digest goes out at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from adapters.teams import cards
from adapters.teams.messenger import classify, message
from bot import copy
from bot.digest import Digest, DigestChange
from bot.model import MessageRef
from bot.ports import Failed, Found, Retry, SendResult, Sent
from store.teams import Install

log = logging.getLogger(__name__)
SHOWN = 10  # lines per list; the rest is "…and N more"
SENDING = "sending"  # the `ref` of a claimed digest whose post has left without an answer (yet)
NOT_INSTALLED = "not_installed"  # the channel is not one of an installed team's


class Installs(Protocol):
    """The tenant's installs and people's names (store.teams.SqlTeams)."""

    async def installs(self, workspace: str) -> list[Install]: ...

    async def names(self, workspace: str, user_ids: Collection[str]) -> dict[str, str]: ...


class Notes(Protocol):
    """A claimed digest's `ref` as the poster writes and reads it (store.digest.SqlDigests)."""

    async def note(self, *, slot: datetime, destination: str, ref: str | None) -> None: ...

    async def noted(self, *, slot: datetime, destination: str) -> str | None: ...


class Connector(Protocol):
    """What the poster needs of adapters.teams.connector.Connectors."""

    async def client(self, service_url: str) -> Any: ...


def progress(c: DigestChange) -> str:
    """`• *CHG-3* New CRM · 140/200 acknowledged (70%) · 2 open questions` (bot.copy's line)."""
    asked = [
        copy.counted(count, *words)
        for count, words in ((c.open_questions, copy.OPEN_QUESTIONS), (c.open_concerns, copy.OPEN_CONCERNS))
        if count
    ]
    return copy.PROGRESS_LINE.format(
        key=c.key,
        title=c.title,
        acknowledged=c.acknowledged,
        targeted=c.targeted,
        percent=round(100 * c.rate),
        asked="".join(f" · {part}" for part in asked),
    )


def _listed(heading: str, lines: Sequence[str]) -> list[dict[str, Any]]:
    shown = [line.replace("• ", "- ", 1) for line in lines[:SHOWN]]  # a Markdown list on the card
    if len(lines) > SHOWN:
        shown.append(copy.STATUS_AND_MORE.format(count=len(lines) - SHOWN))
    return [cards.block(heading, weight="Bolder"), cards.block("\n".join(shown))]


def digest_text(d: Digest) -> str:
    """The notification's summary."""
    if d.empty:
        return copy.DIGEST_NOTHING
    return copy.DIGEST_FALLBACK.format(
        day=copy.day(d.slot.date()), announced=len(d.announced), coming=len(d.coming), open=len(d.open)
    )


def digest_card(d: Digest, names: cards.Names | None = None) -> cards.Card:
    """The digest as an Adaptive Card; announcers by the names people are shown by (`names`)."""
    title = copy.DIGEST_HEADER.format(day=copy.day(d.slot.date()))
    header = cards.block(title, size="Large", weight="Bolder")
    if d.empty:
        return cards.card([header, cards.block(copy.DIGEST_NOTHING)])
    body = [header]
    if d.announced:
        lines = [
            copy.DIGEST_ANNOUNCED_LINE.format(
                key=c.key,
                title=c.title,
                announcer=cards.name_of(names or {}, c.announcer_id),
                day=copy.day((c.published_at or d.slot).date()),
            )
            for c in d.announced
        ]
        body += _listed(copy.DIGEST_ANNOUNCED.format(count=len(lines)), lines)
    if d.coming:
        lines = [
            copy.DIGEST_COMING_LINE.format(key=c.key, title=c.title, day=copy.day(c.effective_date))
            for c in d.coming
        ]
        body += _listed(copy.DIGEST_COMING.format(count=len(lines)), lines)
    if d.open:
        body += _listed(copy.DIGEST_OPEN.format(count=len(d.open)), [progress(c) for c in d.open])
    return cards.card(body)


def ref_of(value: str) -> MessageRef:
    """A `ref` as store.digest writes it: `<conversation id>/<activity id>`."""
    conversation, _, activity_id = value.rpartition("/")
    return MessageRef(conversation, activity_id)


class TeamsDigestPoster:
    """Implements `bot.digest.DigestPoster` for one tenant's channel (`destination`: the digest's
    `Destination.key`, whose `digest_post` row the poster notes what it knows in)."""

    def __init__(
        self,
        *,
        workspace: str,
        destination: str,
        connectors: Connector,
        installs: Installs,
        notes: Notes,
        pace: Callable[[], Awaitable[None]] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.destination = destination
        self.connectors = connectors
        self.installs = installs
        self.notes = notes
        self.pace = pace  # the tenant's limiter (TEAMS_POST_RATE): the digest is one more post
        self._on_error = on_error

    def _classify(self, error: BaseException) -> Retry | Failed:
        verdict = classify(error)
        if self._on_error is not None:
            self._on_error(verdict.reason)
        return verdict

    async def _install(self, channel: str) -> Install | None:
        return next(
            (
                i
                for i in await self.installs.installs(self.workspace)
                if i.conversation_id == channel and i.kind == "channel"
            ),
            None,
        )

    async def _names(self, d: Digest) -> dict[str, str]:
        try:
            return await self.installs.names(self.workspace, [c.announcer_id for c in d.announced])
        except Exception:  # names are a nicety: the digest goes out with ids rather than not at all
            log.exception("could not read the announcers' names for the digest")
            return {}

    async def post_digest(self, digest: Digest, *, channel: str) -> SendResult:
        install = await self._install(channel)
        if install is None:
            log.error(
                "REALIGN_DIGEST_CHANNEL names %s, which is not a channel of a team Realign is installed in"
                " (in tenant %s): add Realign to the team, or fix the setting",
                channel,
                self.workspace,
            )
            return Failed(NOT_INSTALLED)
        activity = message(digest_card(digest, await self._names(digest)), digest_text(digest))
        slot = digest.slot
        if self.pace is not None:
            await self.pace()
        await self.notes.note(slot=slot, destination=self.destination, ref=SENDING)
        try:
            client = await self.connectors.client(install.service_url)
            sent = await client.conversations.send_to_conversation(channel, activity)
        except PermissionError as error:  # a serviceUrl dev mode may not call: nothing was sent
            log.error("%s", error)
            await self.notes.note(slot=slot, destination=self.destination, ref=None)
            return Failed(NOT_INSTALLED)
        except Exception as error:
            verdict = self._classify(error)
            if not (isinstance(verdict, Retry) and verdict.unsure):  # surely not posted: say so
                await self.notes.note(slot=slot, destination=self.destination, ref=None)
            return verdict
        ref = MessageRef(channel, str(sent.id))
        await self.notes.note(slot=slot, destination=self.destination, ref=f"{ref.conversation}/{ref.id}")
        return Sent(ref)

    async def find_digest(self, *, channel: str, slot: datetime) -> Found:
        noted = await self.notes.noted(slot=slot, destination=self.destination)
        if noted is None:
            return None  # no post left, or it surely had no effect
        if noted == SENDING:
            # Not knowing is not "not there": posting again could post it twice, and the connector
            # cannot read a channel. Not unsure: the tick holds the claim rather than looking every lease.
            return Retry("a post whose answer never came; a Teams channel cannot be looked in", after=60)
        return ref_of(noted)
