"""Card actions of the scheduled publish (Publish now / Cancel publishing, the announcer's only: the core
refuses anyone else) and of the capacity check (a manager's Yes / Need help / No with its comment), and
the `change-status CHG-n` card with both, as adapters.slack.checks does for Slack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.teams import capacity, cards, translate
from adapters.teams.cards import Card
from bot import copy
from bot.errors import InvalidInput, RealignError
from bot.status import ChangeStatus

if TYPE_CHECKING:
    from adapters.teams.app import TeamsServices

SCHEDULE_VERBS = (capacity.PUBLISH_NOW_VERB, capacity.CANCEL_SCHEDULE_VERB)
VERBS = frozenset({*SCHEDULE_VERBS, *capacity.CAPACITY_VERBS.values()})


def _said(error: RealignError) -> str:
    return " ".join(error.errors.values()) if isinstance(error, InvalidInput) else str(error)


async def names(services: TeamsServices, *user_ids: str | None) -> dict[str, str]:
    wanted = [user_id for user_id in user_ids if user_id]
    if not wanted:
        return {}
    people = await services.directory.people(wanted)
    return {user_id: person.name or person.email or user_id for user_id, person in people.items()}


async def act(services: TeamsServices, data: dict[str, Any], *, verb: str, user_id: str) -> Card:
    """One of VERBS; a refusal of the schedule's actions is RealignError, for the caller to say."""
    if verb in capacity.CAPACITY_VERBS.values():
        return await _answer(services, data, user_id=user_id)
    key = translate.identifier(data, "key")
    if verb == capacity.PUBLISH_NOW_VERB:
        published = await services.announcing.publish(key=key, user_id=user_id, at_once=True)
        done = copy.PUBLISHED if published.first else copy.NOT_SCHEDULED
        return cards.note(done.format(key=key, count=published.recipients))
    cancelled = await services.announcing.cancel(key=key, user_id=user_id)
    return cards.note((copy.SCHEDULE_CANCELLED if cancelled else copy.NOT_SCHEDULED).format(key=key))


async def _answer(services: TeamsServices, data: dict[str, Any], *, user_id: str) -> Card:
    """A manager's answer, recorded and passed on to the announcer at once; a refusal (no comment for a
    No, not asked, not passed on) is said on the card, with the answers and what was typed kept."""
    typed = {k: v for k, v in data.items() if isinstance(v, str) and k.startswith("comment_")}
    key = str(data.get("key") or "")[: translate.ID_LIMIT]
    try:
        key, answer, comment = translate.capacity(data)
        if services.capacity is None:
            raise RealignError(copy.BUTTON_UNREADABLE)
        reply = await services.capacity.answer(
            change_key=key, user_id=user_id, answer=answer, comment=comment
        )
    except RealignError as error:
        return capacity.refused(key or "?", _said(error), typed)
    return capacity.answered(reply, await names(services, reply.announcer_id))


async def detail(services: TeamsServices, status: ChangeStatus) -> Card:
    """`change-status CHG-n`: cards.detail, with the capacity answers and, for a scheduled change, when
    it publishes and Publish now / Cancel publishing (not for a manager, who sees and does not act)."""
    replies = status.capacity.replies if status.capacity is not None else ()
    people = await names(services, *(q.asker_id for q in status.questions), *(r.manager_id for r in replies))
    shown = cards.detail(status, people)
    shown["body"] += capacity.status_section(status, people)
    if status.manager_id is None and capacity.scheduled_section(status.change):
        shown["body"] += capacity.scheduled_section(status.change)
        shown["actions"] = [*shown.get("actions", []), *capacity.schedule_actions(status.change.key)]
    return shown
