"""In your own words: when a change asks for it, acknowledging takes one line saying what the person will
do differently. The announcer reads the lines grouped by audience group and department, so a team that
read the change differently stands out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot import copy
from bot.acknowledge import Acknowledging
from bot.errors import InvalidInput
from bot.model import Announcement, Change, MessageRef

WORDS_LIMIT = 300  # one line


@dataclass(frozen=True)
class OwnWordsLine:
    """One person's line, with where they sit (their delivery's groups and department)."""

    user_id: str
    name: str
    group_mask: int
    department: str | None
    text: str


@dataclass
class WordsGroup:
    """The lines of one audience group, by department."""

    group: str
    departments: dict[str | None, list[OwnWordsLine]] = field(default_factory=dict)


class OwnWordsStore(Protocol):
    """The lines people said, one per delivery."""

    async def record(
        self, *, delivery_id: int, user_id: str, workspace: str, text: str, at: datetime
    ) -> None:
        """Keep the line (a later one replaces it). NotFound / NotAllowed as for acknowledging."""
        ...

    async def lines(self, change_id: int, *, limit: int) -> list[OwnWordsLine]:
        """The change's first `limit` lines, by department and name."""
        ...

    async def announcement(self, *, delivery_id: int, user_id: str, workspace: str) -> Announcement:
        """What the user was sent for this delivery (NotFound / NotAllowed as for acknowledging)."""
        ...


def check_words(text: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidInput({"own_words": copy.OWN_WORDS_NEEDED})
    if len(cleaned) > WORDS_LIMIT:
        raise InvalidInput({"own_words": copy.TOO_LONG.format(limit=WORDS_LIMIT)})
    return cleaned


def grouped(change: Change, lines: Sequence[OwnWordsLine]) -> list[WordsGroup]:
    """Lines under each of their groups (a person in two groups is in both), then by department."""
    groups = [WordsGroup(group.name) for group in change.groups]
    for line in lines:
        for position in range(len(change.groups)):
            if line.group_mask >> position & 1:
                groups[position].departments.setdefault(line.department, []).append(line)
    return [group for group in groups if group.departments]


class Restating:
    """Acknowledge in your own words, for one workspace: the line is kept, then the acknowledgement
    is recorded exactly as the Acknowledge button records it."""

    def __init__(self, *, workspace: str, store: OwnWordsStore, acknowledging: Acknowledging) -> None:
        self.workspace = workspace
        self.store = store
        self.acknowledging = acknowledging

    async def announcement(self, *, delivery_id: int, user_id: str) -> Announcement:
        """The announcement whose Acknowledge button asks for a line (for the line's form)."""
        return await self.store.announcement(
            delivery_id=delivery_id, user_id=user_id, workspace=self.workspace
        )

    async def acknowledge(
        self, *, delivery_id: int, user_id: str, text: str, clicked_in: MessageRef | None
    ) -> Announcement:
        line = check_words(text)
        await self.store.record(
            delivery_id=delivery_id,
            user_id=user_id,
            workspace=self.workspace,
            text=line,
            at=self.acknowledging.clock.now(),
        )
        return await self.acknowledging.acknowledge(
            delivery_id=delivery_id, user_id=user_id, clicked_in=clicked_in
        )
