"""The readiness check: what makes a change less likely to land, shown at the review step.

Pure functions, one per rule; each returns the warnings it finds (none: an empty list). Warnings never
block publishing: the announcer reads them and decides.
"""

from __future__ import annotations

import re
from datetime import date

from bot import copy
from bot.audience import Resolution
from bot.model import AudienceGroup, Change, CustomerImpact, groups_in

MIN_WORDS = 3  # fewer words than this cannot say what to do differently
NAMES_LISTED = 20  # people in several groups, listed for the announcer to confirm
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
# Words that say someone does something: imperative action verbs, and the modal words that introduce
# one ("you will ...", "must ...").
_ACTIONS = """
    accept add agree answer apply approve archive ask assign attend back book bring build call cancel
    change check choose clean close collect complete confirm contact copy cover create decide delete
    deliver deploy describe direct do document download drive email enter escalate explain fill find
    finish fix follow forward get give go hand handle help hold include inform install invite invoice
    join keep label lead learn leave list log look mail make manage mark meet move notify note offer open
    order pack page pass pay pick plan post prepare present print process publish put raise read record
    refer register reject remove renew reply report request reserve respond return review rotate route
    run save schedule send set share ship sign speak start stop store submit swap switch take talk tell
    test track train transfer triage update upload use verify visit wear work write
    must will should shall need needs please always never only
"""
ACTION_WORDS = frozenset(_ACTIONS.split())


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def is_vague(expectation: str) -> bool:
    """Too short to act on, or with no word that says what to do."""
    words = _words(expectation)
    return len(words) < MIN_WORDS or not any(word in ACTION_WORDS for word in words)


def _expectations(group: AudienceGroup) -> tuple[str, str]:
    return (" ".join(_words(group.today)), " ".join(_words(group.from_effective)))


def no_why(change: Change) -> list[str]:
    return [] if change.why.strip() else [copy.WARN_NO_WHY]


def lead_days_needed(audience: int) -> int:
    """Days people need between hearing of a change and its taking effect: more for a bigger audience
    (the message spreads through managers and teams, and questions take longer to answer)."""
    for people, days in ((50, 3), (500, 5), (5000, 10)):
        if audience < people:
            return days
    return 14


def too_soon(change: Change, *, audience: int, today: date) -> list[str]:
    days, needed = (change.effective_date - today).days, lead_days_needed(audience)
    return [copy.WARN_SOON.format(days=days, count=audience, needed=needed)] if days < needed else []


def deadline_after_effective(change: Change) -> list[str]:
    if change.ack_deadline <= change.effective_date:
        return []
    return [
        copy.WARN_DEADLINE_AFTER.format(
            deadline=copy.day(change.ack_deadline), effective=copy.day(change.effective_date)
        )
    ]


def customers_unaddressed(change: Change) -> list[str]:
    if change.customer_impact is CustomerImpact.NONE or change.customer_plan.strip():
        return []
    return [copy.WARN_CUSTOMERS]


def unchanged_groups(groups: list[AudienceGroup]) -> list[str]:
    """Groups whose "today" reads like their "from the effective date"."""
    return [
        copy.WARN_SAME_EXPECTATIONS.format(group=group.name)
        for group in groups
        if _expectations(group)[0] and _expectations(group)[0] == _expectations(group)[1]
    ]


def vague_groups(groups: list[AudienceGroup]) -> list[str]:
    return [
        copy.WARN_VAGUE.format(group=group.name)
        for group in groups
        if group.from_effective.strip() and is_vague(group.from_effective)
    ]


def duplicate_groups(groups: list[AudienceGroup]) -> list[str]:
    """A group whose expectations equal an earlier group's: two names for one message."""
    first: dict[tuple[str, str], str] = {}
    warnings = []
    for group in groups:
        seen = first.setdefault(_expectations(group), group.name)
        if seen != group.name:
            warnings.append(copy.WARN_DUPLICATE_GROUPS.format(group=group.name, other=seen))
    return warnings


def overlapping(change: Change, resolution: Resolution) -> list[str]:
    """Recipients in two or more groups whose expectations differ: they get them all, which the
    announcer should confirm is meant. User ids, in the resolution's order."""
    people = []
    for recipient in resolution.recipients:
        groups = groups_in(recipient.group_mask, change.groups)
        if len({_expectations(group) for group in groups}) > 1:
            people.append(recipient.user_id)
    return people


def in_several_groups(people: list[str]) -> list[str]:
    return [copy.WARN_SEVERAL_GROUPS.format(count=len(people))] if people else []


def excluded_accounts(resolution: Resolution) -> list[str]:
    if not resolution.excluded:
        return []
    reasons = ", ".join(f"{n} {reason.value}" for reason, n in resolution.exclusions.most_common())
    return [copy.WARN_EXCLUDED.format(count=len(resolution.excluded), reasons=reasons)]


def warnings(change: Change, resolution: Resolution, *, today: date) -> list[str]:
    """Every rule's warnings, in the order the announcer reads them."""
    audience = len(resolution.recipients)
    return [
        *no_why(change),
        *too_soon(change, audience=audience, today=today),
        *deadline_after_effective(change),
        *customers_unaddressed(change),
        *no_customer_facing_group(change),
        *unchanged_groups(change.groups),
        *vague_groups(change.groups),
        *duplicate_groups(change.groups),
        *in_several_groups(overlapping(change, resolution)),
        *excluded_accounts(resolution),
    ]


def no_customer_facing_group(change: Change) -> list[str]:
    """Customers directly affected, but no group marked as facing them: nobody gets the briefing. (With
    no plan at all, `customers_unaddressed` says so instead.)"""
    if not change.briefs_customers or not change.groups:
        return []
    if any(group.customer_facing for group in change.groups):
        return []
    return [copy.WARN_NO_CUSTOMER_FACING]
