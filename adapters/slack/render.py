"""Block Kit for every view model the core produces. Block ids are the core's field names."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from adapters.slack import capacity
from adapters.slack.alignment import ACK_WORDS_ACTION, ASK_ACTION, CONCERN_ACTION, own_words, questions
from adapters.slack.blocks import (
    HEADER_LIMIT,
    SECTION_LIMIT,
    Block,
    button,
    clip,
    context,
    field,
    listing,
    modal,
    option,
    section,
    text,
    text_input,
)
from bot import copy
from bot.announce import DEFAULT_POLICY, MAX_REMINDERS, NAME_LIMIT, TITLE_LIMIT, Review, length
from bot.durations import format_duration
from bot.model import (
    Announcement,
    Change,
    ChangeState,
    CustomerImpact,
    Escalation,
    GapReport,
    PendingPerson,
    Policy,
)
from bot.ports import ChangeSummary
from bot.status import ChangeStatus, Totals

ACK_ACTION = "realign.acknowledge"
RETRY_ACTION = "realign.retry_failed"
CLOSE_ACTION = "realign.close"
AMEND_ACTION = "realign.amend"  # adapters.slack.amend
EXPORT_ACTION = "realign.export"  # adapters.slack.exports: the audit CSV into the clicker's DM
BASICS, GROUP, REVIEW = "realign.basics", "realign.group", "realign.review"
OVERVIEW_SHOWN = 40  # changes listed by /change-status (Slack shows at most 50 blocks)
DURATION_CHARS = 20  # the follow-up durations' text boxes: "1h30m"-style, never long
IMPACT_LABELS = {
    CustomerImpact.NONE: "None",
    CustomerImpact.INDIRECT: "Indirect",
    CustomerImpact.DIRECT: "Direct: customers will notice",
}


# --- the announcement DM -----------------------------------------------------------------------------


def announcement_text(a: Announcement) -> str:
    """The notification / accessibility fallback for the blocks."""
    return copy.DM_FALLBACK.format(
        key=a.change_key,
        title=a.title,
        effective=copy.day(a.effective_date),
        deadline=copy.day(a.ack_deadline),
    )


def announcement(a: Announcement, *, preview: bool = False) -> list[Block]:
    effective = copy.day(a.effective_date)
    blocks: list[Block] = [
        {
            "type": "header",
            "text": text(clip(copy.DM_HEADER.format(key=a.change_key, title=a.title), HEADER_LIMIT)),
        },
        section(copy.DM_WHAT.format(what=a.what)),
    ]
    if a.amended_at is not None:  # with the most groups, 50 blocks in all: Slack's limit
        reasked = f" {copy.DM_REASKED}" if a.reasked and a.acknowledged_at is None else ""
        blocks.insert(1, context(copy.DM_AMENDED.format(when=copy.moment(a.amended_at)) + reasked))
    if a.why:
        blocks.append(section(copy.DM_WHY.format(why=a.why)))
    blocks.append(section(copy.DM_DATES.format(effective=effective, deadline=copy.day(a.ack_deadline))))
    blocks.append(section(copy.DM_FOR_YOU))
    for item in a.expectations:  # at most MAX_GROUPS: with two blocks each, 47 blocks in all (Slack: 50)
        lines = [copy.DM_TODAY.format(text=item.today)] if item.today else []
        lines.append(copy.DM_FROM.format(effective=effective, text=item.from_effective))
        together = "\n".join(lines)
        blocks += [section(together)] if length(together) <= SECTION_LIMIT else [section(x) for x in lines]
    if a.customer_briefing:  # customer-facing groups only (one block more: 48 in all)
        blocks.append(section(copy.DM_CUSTOMERS.format(plan=a.customer_briefing)))
    blocks.append(context(copy.DM_FROM_ANNOUNCER.format(announcer=f"<@{a.announcer_id}>")))
    if a.acknowledged_at is not None:
        blocks.append(section(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at))))
    if not preview:
        blocks.append(acknowledge_actions(a, asking=True))
    return blocks


def acknowledge_actions(a: Announcement, *, asking: bool = False) -> Block:
    """The Acknowledge button (until acknowledged), and with `asking` Ask a question / I have a concern
    (always: asking is not acknowledging). The Acknowledge button's value is the delivery id; the others'
    the change key, since the clicker and the change name the delivery (and the announcement body stays
    the same for every recipient but its one delivery id, see messenger.AnnouncementBodies)."""
    buttons = []
    if a.acknowledged_at is None:
        buttons.append(
            {
                "type": "button",
                "action_id": ACK_WORDS_ACTION if a.own_words else ACK_ACTION,
                "style": "primary",
                "text": text(copy.ACKNOWLEDGE),
                "value": str(a.delivery_id),
            }
        )
    if asking:
        buttons += [
            button(ASK_ACTION, copy.ASK_QUESTION, a.change_key),
            button(CONCERN_ACTION, copy.RAISE_CONCERN, a.change_key),
        ]
    return {"type": "actions", "block_id": "realign.respond", "elements": buttons}


# --- follow-up ----------------------------------------------------------------------------------------

NAMES = 40


def names(people: Sequence[PendingPerson], *, reason: bool = False, total: int | None = None) -> str:
    """A bulleted list of the first NAMES people; `total` counts everyone when `people` is the first few."""
    shown = [
        f"• <@{p.user_id}>" + (f": {copy.failure_reason(p.reason)}" if reason else "") for p in people[:NAMES]
    ]
    hidden = (len(people) if total is None else total) - len(shown)
    if hidden > 0:
        shown.append(copy.STATUS_AND_MORE.format(count=hidden))
    return "\n".join(shown)


def reminder_text(a: Announcement) -> str:
    return copy.REMINDER.format(key=a.change_key, title=a.title, deadline=copy.day(a.ack_deadline))


def reminder(a: Announcement) -> list[Block]:
    if a.acknowledged_at is not None:  # acknowledged (here or on the announcement): the button goes
        return [
            section(reminder_text(a)),
            section(copy.ACKNOWLEDGED.format(when=copy.moment(a.acknowledged_at))),
        ]
    return [section(reminder_text(a)), acknowledge_actions(a)]


def escalation_text(e: Escalation) -> str:
    return copy.ESCALATION.format(key=e.change.key, title=e.change.title, count=e.count)


def escalation(e: Escalation) -> list[Block]:
    change = e.change
    dates = copy.DM_DATES.format(
        effective=copy.day(change.effective_date), deadline=copy.day(change.ack_deadline)
    )
    return [
        section(f"*{escalation_text(e)}*\n{names(e.reports, total=e.count)}"),
        section(copy.DM_WHAT.format(what=change.what)),
        context(f"{dates}   ·   " + copy.DM_FROM_ANNOUNCER.format(announcer=f"<@{change.announcer_id}>")),
    ]


def gap_report_text(r: GapReport) -> str:
    if r.unmanaged_only:
        return copy.UNMANAGED.format(key=r.change.key, count=r.pending_count)
    return copy.GAP_REPORT.format(
        key=r.change.key, title=r.change.title, pending=r.pending_count, failed=r.failed_count
    )


def gap_report(r: GapReport) -> list[Block]:
    blocks = [section(f"*{gap_report_text(r)}*")]
    if r.unmanaged_only:
        return [*blocks, section(names(r.pending, total=r.pending_count))]
    by_manager: dict[str, list[PendingPerson]] = {}
    for person in r.pending:
        by_manager.setdefault(f"<@{person.manager_id}>" if person.manager_id else copy.NO_MANAGER, []).append(
            person
        )
    for manager, people in sorted(by_manager.items())[:20]:
        blocks.append(section(f"*{copy.REPORTS_OF.format(manager=manager)}*\n{names(people)}"))
    if len(by_manager) > 20:  # said, not dropped
        hidden = sorted(by_manager.items())[20:]
        more = copy.MORE_MANAGERS.format(managers=len(hidden), people=sum(len(p) for _, p in hidden))
        blocks.append(context(more))
    if r.pending_count > len(r.pending):
        blocks.append(context(copy.GAP_FIRST.format(shown=len(r.pending), total=r.pending_count)))
    counted = r.departments or tuple(Counter(person.department for person in r.pending).items())
    departments = Counter({name or copy.NO_DEPARTMENT: n for name, n in counted})
    if departments:
        budget = SECTION_LIMIT - length(copy.BY_DEPARTMENT.format(lines=""))
        lines = listing([f"{name}: {n}" for name, n in sorted(departments.items())], budget=budget, sep=", ")
        blocks.append(context(copy.BY_DEPARTMENT.format(lines=lines)))
    if r.failed:
        blocks.append(
            section(
                f"*{copy.STATUS_FAILED_TITLE.format(count=r.failed_count)}*\n"
                + names(r.failed, reason=True, total=r.failed_count)
            )
        )
    if r.questions_total:
        asked = [f"• <@{q.asker_id}> ({q.kind.value}): {q.text.replace(chr(10), ' ')}" for q in r.questions]
        heading = f"*{copy.GAP_QUESTIONS.format(count=r.questions_total)}*"
        budget = SECTION_LIMIT - length(heading) - 1
        blocks.append(section(f"{heading}\n{listing(asked, total=r.questions_total, budget=budget)}"))
    return blocks[:50]


# --- the /announce-change modal --------------------------------------------------------------------------


def basics_modal(title: str = "", *, policy: Policy = DEFAULT_POLICY) -> dict[str, Any]:
    impacts = [option(label, impact.value) for impact, label in IMPACT_LABELS.items()]
    counts = [option(str(n), str(n)) for n in range(MAX_REMINDERS + 1)]
    blocks = [
        field(
            "title",
            "Title",
            text_input(title, placeholder="e.g. New on-call rota for Support", limit=TITLE_LIMIT),
        ),
        field("what", "What is changing", text_input(multiline=True)),
        field(
            "why",
            "Why (the goal)",
            text_input(multiline=True),
            optional=True,
            hint="People adopt changes they understand.",
        ),
        field("effective_date", "Effective date", {"type": "datepicker"}),
        field("ack_deadline", "Acknowledge by", {"type": "datepicker"}),
        field(
            "customer_impact",
            "Customer impact",
            {"type": "static_select", "options": impacts, "initial_option": impacts[0]},
        ),
        field("customer_plan", "How customers will be told", text_input(multiline=True), optional=True),
        field(
            "own_words",
            "In your own words",
            {"type": "checkboxes", "options": [option(copy.OWN_WORDS_OPTION, "yes")]},
            optional=True,
        ),
        field(
            "capacity_check",
            "Capacity check",
            {"type": "checkboxes", "options": [option(copy.CAPACITY_OPTION, "yes")]},
            optional=True,
        ),
        field(
            "publish_on",
            "Publish on (leave empty to publish at review)",
            {"type": "datepicker"},
            optional=True,
        ),
        field(
            "publish_time",
            "Publish at",
            {"type": "timepicker"},
            optional=True,
            hint="In your time zone, as your Slack profile sets it. A day with no time publishes at 09:00.",
        ),
        field(
            "owner",
            "Who answers questions and concerns",
            {"type": "users_select"},
            optional=True,
            hint="Leave empty to answer them yourself.",
        ),
        field(
            "remind_after",
            "Remind those who have not acknowledged after",
            text_input(format_duration(policy.remind_after), limit=DURATION_CHARS),
            hint="Like 90s, 15m, 24h or 2d. Reminders arrive in each person's working hours.",
        ),
        field(
            "reminders",
            "How many reminders",
            {
                "type": "static_select",
                "options": counts,
                "initial_option": counts[min(policy.max_reminders, MAX_REMINDERS)],
            },
        ),
        field(
            "escalate_after",
            "Tell their managers after",
            text_input(format_duration(policy.escalate_after), limit=DURATION_CHARS),
        ),
    ]
    return modal(BASICS, "Announce a change", blocks, submit="Next: audience", meta={})


def group_modal(change: Change, position: int, usergroups: list[tuple[str, str]]) -> dict[str, Any]:
    """The audience group at `position`; `usergroups` are (id, handle) pairs to choose from."""
    effective = copy.day(change.effective_date)
    blocks: list[Block] = [
        context(f"*{change.key}: {change.title}*  ·  audience group {position + 1}"),
        field(
            "name",
            "Group name",
            text_input(placeholder="e.g. Support engineers", limit=NAME_LIMIT),
            optional=True,
        ),
        field("people", "People", {"type": "multi_users_select"}, optional=True),
    ]
    if usergroups:
        options = [option(f"@{handle}", group_id) for group_id, handle in usergroups[:100]]
        blocks.append(
            field(
                "usergroups",
                "User groups",
                {"type": "multi_static_select", "options": options},
                optional=True,
            )
        )
    blocks += [
        field(
            "channels",
            "Members of channels",
            {
                "type": "multi_conversations_select",
                "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            },
            optional=True,
        ),
        field("today", "What they do today", text_input(multiline=True), optional=True),
        field("from_effective", f"What they do from {effective}", text_input(multiline=True)),
    ]
    if change.customer_impact is CustomerImpact.DIRECT:  # who briefs customers: asked only when it matters
        facing = {"type": "checkboxes", "options": [option(copy.CUSTOMER_FACING_OPTION, "yes")]}
        blocks.append(field("customer_facing", "Customers", facing, optional=True))
    blocks += [
        field(
            "more",
            "More groups?",
            {"type": "checkboxes", "options": [option("Add another group next", "yes")]},
            optional=True,
        ),
    ]
    return modal(
        GROUP, "Who is affected", blocks, submit="Next", meta={"key": change.key, "position": position}
    )


def review_modal(review: Review) -> dict[str, Any]:
    change, resolution = review.change, review.resolution
    counts = "\n".join(
        f"• *{group.name}*: {n} {'person' if n == 1 else 'people'}"
        for group, n in zip(change.groups, resolution.per_group, strict=True)
    )
    blocks: list[Block] = [
        section(
            f"*{change.key}: {change.title}*\n{counts}\n*{len(resolution.recipients)} people in all* "
            f"will get a direct message."
        ),
    ]
    scheduled = review.scheduled if review.change.publish_at else None
    if scheduled is not None:
        blocks.append(
            section(":calendar: " + copy.SCHEDULED_FOR.format(when=scheduled[0], zone=scheduled[1]))
        )
    blocks += [context(f":warning: {warning}") for warning in review.warnings]
    if review.overlapping:  # the people the several-groups warning asks the announcer to confirm
        blocks.append(context(listing([f"<@{user}>" for user in review.overlapping], sep=", ")))
    if review.preview is not None:
        blocks += [{"type": "divider"}, context("Preview: everyone sees their own groups' expectations")]
        blocks += announcement(review.preview, preview=True)
    # At most 1 + 1 + 24 warnings + 1 + 2 + 48 (the preview) = 77 blocks: within a modal's 100.
    submit = copy.SCHEDULE if scheduled is not None else "Publish"
    return modal(REVIEW, "Review and publish", blocks[:100], submit=submit, meta={"key": change.key})


def published_modal(
    key: str, recipients: int, *, note: str = "", scheduled: tuple[str, str] | None = None
) -> dict[str, Any]:
    if scheduled is not None and not note:
        note = copy.SCHEDULED.format(key=key, when=scheduled[0], zone=scheduled[1])
    blocks = [
        section(note or copy.PUBLISHED.format(key=key, count=recipients)),
        context(f"Follow it with `/change-status {key}`."),
    ]
    title = "Scheduled" if scheduled is not None else "Published"
    return {"type": "modal", "title": text(title), "close": text("Done"), "blocks": blocks}


def problem_modal(note: str) -> dict[str, Any]:
    """What replaces a form that cannot go on (Slack shows errors inline only beside input blocks)."""
    blocks = [section(note)]
    return {"type": "modal", "title": text(copy.PROBLEM_TITLE), "close": text("Done"), "blocks": blocks}


def publishing_modal(key: str) -> dict[str, Any]:
    blocks = [section(copy.PUBLISHING.format(key=key))]
    return {"type": "modal", "title": text("Publishing…"), "close": text("Done"), "blocks": blocks}


# --- /change-status -------------------------------------------------------------------------------


def overview(summaries: list[ChangeSummary]) -> list[Block]:
    if not summaries:
        return [section(copy.STATUS_NONE)]
    lines = [
        f"*{s.key}* {s.title} ({s.state})\n`{copy.progress_bar(s.acknowledged, s.targeted)}` acknowledged"
        for s in summaries[:OVERVIEW_SHOWN]
    ]
    blocks = [section(f"*{copy.STATUS_LIST_TITLE}*"), *(section(line) for line in lines)]
    if len(summaries) > OVERVIEW_SHOWN:
        blocks.append(context(copy.STATUS_AND_MORE.format(count=len(summaries) - OVERVIEW_SHOWN)))
    return blocks


def totals_line(t: Totals) -> str:
    return (
        f"`{copy.progress_bar(t.acknowledged, t.targeted)}`\n"
        f"Delivered {t.delivered} · Acknowledged {t.acknowledged} · Pending {t.pending} · "
        f"Failed {t.failed} · Not yet sent {t.queued} · Excluded {t.excluded}"
    )


def breakdown(status: ChangeStatus) -> list[Block]:
    """Progress by department and by manager (top ten each)."""
    blocks = []
    for key, title, label in (
        ("department", copy.BY_DEPARTMENT_TITLE, str),
        ("manager", copy.BY_MANAGER_TITLE, lambda m: f"<@{m}>"),
    ):
        rows = status.by(key)
        if len(rows) > 1 or (rows and rows[0][0]):
            lines = [
                f"{label(name) if name else copy.UNKNOWN}: `{copy.progress_bar(acked, n)}`"
                for name, acked, n in rows[:10]
            ]
            heading = f"*{title}*"
            budget = SECTION_LIMIT - length(heading) - 1
            blocks.append(section(f"{heading}\n{listing(lines, total=len(rows), budget=budget)}"))
    return blocks


def detail(status: ChangeStatus) -> list[Block]:
    change = status.change
    scope = f"\n_{copy.YOUR_REPORTS_ONLY}_" if status.manager_id else ""
    blocks = [
        section(f"*{change.key}: {change.title}* ({change.state.value}){scope}\n{totals_line(status.totals)}")
    ]
    for position, group in enumerate(status.groups):
        pending = [f"<@{p.user_id}>" for p in status.pending if p.group_mask >> position & 1]
        heading = f"*{group.name}*\n{totals_line(group.totals)}"
        budget = SECTION_LIMIT - length(heading) - length("\nPending: ")
        who = f"\nPending: {listing(pending, budget=budget, sep=', ')}" if pending else ""
        blocks.append(section(heading + who))
    if status.totals.pending > len(status.pending):
        blocks.append(context(copy.STATUS_AND_MORE.format(count=status.totals.pending - len(status.pending))))
    blocks += breakdown(status)
    blocks += questions(status)
    blocks += own_words(status)
    blocks += capacity.capacity(status)
    if status.manager_id:  # managers see, they do not act on the announcer's change
        return blocks
    blocks += capacity.scheduled(change)
    buttons = []
    if status.failed:
        failed = [f"• <@{p.user_id}>: {copy.failure_reason(p.reason)}" for p in status.failed]
        heading = f"*{copy.STATUS_FAILED_TITLE.format(count=status.totals.failed)}*"
        budget = SECTION_LIMIT - length(heading) - 1
        blocks.append(section(f"{heading}\n{listing(failed, total=status.totals.failed, budget=budget)}"))
        buttons.append(button(RETRY_ACTION, copy.RETRY_FAILED, change.key))
    if change.state is ChangeState.PUBLISHED:
        buttons.append(button(CLOSE_ACTION, copy.CLOSE, change.key))
        buttons.append(button(AMEND_ACTION, copy.AMEND, change.key))
    if change.state in (ChangeState.PUBLISHED, ChangeState.CLOSED):  # a change with people to list
        buttons.append(button(EXPORT_ACTION, copy.EXPORT_CSV, change.key))
    if buttons:
        blocks.append({"type": "actions", "block_id": "realign.status", "elements": buttons})
    return blocks  # at most MAX_GROUPS + 5 blocks: within Slack's 50
