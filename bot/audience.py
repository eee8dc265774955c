"""Resolve audience groups to recipients: one entry per person, every exclusion with its reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.model import AudienceGroup, Exclusion, Person
from bot.ports import Directory, Excluded, Recipient

# Slackbot is a user, not flagged as a bot, but it cannot be messaged.
_NOT_PEOPLE = frozenset({"USLACKBOT"})


@dataclass
class Resolution:
    recipients: list[Recipient] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    per_group: list[int] = field(default_factory=list)  # recipients in each group, by position

    @property
    def exclusions(self) -> Counter[Exclusion]:
        return Counter(item.reason for item in self.excluded)


def _why_excluded(user_id: str, person: Person | None, announcer_id: str) -> Exclusion | None:
    if user_id == announcer_id:
        return Exclusion.ANNOUNCER
    if person is None:
        return Exclusion.NOT_FOUND
    if person.is_bot or user_id in _NOT_PEOPLE:
        return Exclusion.BOT
    if not person.active:
        return Exclusion.DEACTIVATED
    return None


async def resolve(groups: list[AudienceGroup], *, directory: Directory, announcer_id: str) -> Resolution:
    """Expand every group through the directory and merge: a person in several groups is one recipient."""
    masks: dict[str, int] = {}
    for position, group in enumerate(groups):
        for user_id in await directory.members(group):
            masks[user_id] = masks.get(user_id, 0) | 1 << position
    people = await directory.people(masks.keys())
    result = Resolution(per_group=[0] * len(groups))
    for user_id, mask in masks.items():
        person = people.get(user_id)
        reason = _why_excluded(user_id, person, announcer_id)
        if reason is not None:
            result.excluded.append(Excluded(user_id, mask, reason))
            continue
        assert person is not None
        result.recipients.append(Recipient(user_id, mask, person.department, person.manager_id))
        for position in range(len(groups)):
            result.per_group[position] += mask >> position & 1
    return result


async def anyone_reachable(
    groups: list[AudienceGroup], *, directory: Directory, announcer_id: str, batch: int = 500
) -> bool:
    """Whether the groups hold at least one person who can be told. People are looked up a batch at a
    time, so a 100,000-person group is settled by its first batch, well inside Slack's 3 s."""
    members: set[str] = set()
    for group in groups:
        members |= await directory.members(group)
    chosen = sorted(members)
    for start in range(0, len(chosen), batch):
        some = chosen[start : start + batch]
        people = await directory.people(some)
        if any(_why_excluded(user_id, people.get(user_id), announcer_id) is None for user_id in some):
            return True
    return False
