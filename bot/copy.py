"""Every sentence Realign shows a person, in one place (platform renderers use these too)."""

from __future__ import annotations

import re
from datetime import date, datetime

# --- form validation --------------------------------------------------------------------------------
REQUIRED = "Please fill this in."
TOO_LONG = "Please keep this under {limit} characters."
DATE_PAST = "This date has already passed."
CUSTOMER_PLAN_NEEDED = "Say how customers will be told, since they are affected."
NO_AUDIENCE = "Pick at least one person, user group or channel."
AUDIENCE_EMPTY = (
    "These resolve to nobody Realign can message (bots, deactivated accounts and you are left out)."
)
EXPECTATIONS_EMPTY = "Say what this group must do differently from the effective date."
BAD_DURATION = "Write a duration like 90s, 15m, 24h or 2d."
BAD_REMINDERS = "Choose between 0 and {limit} reminders."
TOO_MANY_GROUPS = "A change can have at most {limit} audience groups."

# --- typed answers (where there is no date picker or people picker: the console) ------------------------
BAD_DATE = "Write a date like 2026-12-15, today, tomorrow or +14d."
BAD_CHOICE = "Answer one of: {choices}."
BAD_NUMBER = "Write a whole number."
UNKNOWN_AUDIENCE = "Nobody is called {names}; /people lists who is here."

# --- readiness warnings (review step) ---------------------------------------------------------------
WARN_NO_WHY = "No reason is given. People adopt changes they understand; say why."
WARN_SOON = (
    "The change takes effect in {days} day(s): {count} people may not have time to prepare "
    "(allow at least {needed} days for an audience this size)."
)
WARN_DEADLINE_AFTER = (
    "People are asked to acknowledge by {deadline}, after the change takes effect on {effective}: "
    "some will learn of it only once it applies."
)
WARN_VAGUE = (
    "Group “{group}”: what they do from the effective date is too vague to act on. "
    "Say what they will do, e.g. “Answer weekend pages within 30 minutes”."
)
WARN_DUPLICATE_GROUPS = (
    "Groups “{group}” and “{other}” have the same expectations: merge them, or say what differs."
)
WARN_SEVERAL_GROUPS = (
    "{count} people are in several groups with different expectations and will be asked to do all of "
    "them. Please confirm that is meant:"
)
WARN_SAME_EXPECTATIONS = "Group “{group}”: today and from the effective date read the same."
WARN_CUSTOMERS = "Customers are affected but there is no plan for telling them."
WARN_EXCLUDED = "{count} selected account(s) will not be messaged: {reasons}."

# --- permissions and lookups ---------------------------------------------------------------------------
NOT_AN_ANNOUNCER = (
    "Sorry, you're not on the list of people who can announce changes. Ask an admin to add you."
)
NOT_YOURS = "Sorry, only the announcer of {key} and admins can see its details."
NO_SUCH_CHANGE = "There is no change called {key}."
NOT_YOUR_DELIVERY = "This announcement was sent to someone else."
REMOVED_FROM_WORKSPACE = "Realign was removed from this workspace"  # why its deliveries failed
NOT_INSTALLED = "Realign is not installed in this workspace any more. Ask an admin to add it again."
ALREADY_PUBLISHED = "{key} was already published."
UNKNOWN_STATUS_ARGUMENT = "Usage: /change-status, or /change-status CHG-12 for one change."

# --- the announcement DM -----------------------------------------------------------------------------------
DM_HEADER = "Change {key}: {title}"
DM_WHAT = "*What is changing*\n{what}"
DM_WHY = "*Why*\n{why}"
DM_DATES = "*Effective* {effective}   ·   *Please acknowledge by* {deadline}"
DM_FOR_YOU = "*What this means for you*"
DM_TODAY = "_Today:_ {text}"
DM_FROM = "_From {effective}:_ {text}"
DM_FROM_ANNOUNCER = "Announced by {announcer}"
ACKNOWLEDGE = "Acknowledge"
ACKNOWLEDGED = ":white_check_mark: Acknowledged {when}"
DM_FALLBACK = "{key}: {title}. Effective {effective}. Please acknowledge by {deadline}."

# --- follow-up --------------------------------------------------------------------------------------------
REMINDER = "Reminder: please read *{key}: {title}* above and acknowledge it by {deadline}."
ESCALATION = "{count} of your direct reports have not acknowledged {key}: {title}"
GAP_REPORT = "Gap report for {key}: {title}. {pending} still pending, {failed} could not be reached."
UNMANAGED = (
    "{count} people have not acknowledged {key} and have no manager on record, so no manager was told:"
)
REPORTS_OF = "Reports of {manager}"
NO_MANAGER = "No manager on record"
NO_DEPARTMENT = "no department"
BY_DEPARTMENT = "Pending by department: {lines}"

# --- status --------------------------------------------------------------------------------------------
STATUS_NONE = "You have no changes to show yet. Announce one with /announce-change."
STATUS_LIST_TITLE = "Your changes"
STATUS_PENDING_TITLE = "Still pending ({count})"
STATUS_FAILED_TITLE = "Could not be delivered ({count})"
BY_DEPARTMENT_TITLE = "By department"
BY_MANAGER_TITLE = "By manager"
UNKNOWN = "not on record"
YOUR_REPORTS_ONLY = "Showing your direct reports only."
STATUS_AND_MORE = "…and {count} more"
CLOSE = "Close change"
CLOSED = "{key} is closed: no more reminders or escalations."
NOT_OPEN = "{key} is not open, so there is nothing to close."
RETRY_FAILED = "Retry failed deliveries"
REQUEUED = "{count} failed deliveries of {key} are queued again."
NOTHING_TO_RETRY = "{key} has no failed deliveries to retry."
PUBLISHED = "{key} is published: sending to {count} people now."

# --- amendments (bot.amend) -------------------------------------------------------------------------------
AMEND = "Amend"
AMEND_TITLE = "Amend {key}"
AMEND_INTRO = (
    "People whose dates or expectations change are asked to acknowledge again; a reworded what or why "
    "updates everyone's message without asking again."
)
AMEND_SUBMIT = "Amend"
AMEND_NOT_YOURS = "Sorry, only the announcer of {key} can amend it."
AMEND_NOT_OPEN = "{key} is {state}: only a published change can be amended."
AMEND_NOTHING = "Nothing was changed."
AMENDING = "Amending {key}… this takes a few seconds for a large audience."
AMEND_GROUPS_CHANGED = "The change's audience groups changed while the form was open; open it again."
AMENDED_MEANWHILE = "{key} was amended or closed while this form was open; open it again to see it."
AMENDED = (
    "{key} is amended ({changes}). {reasked} people are asked to acknowledge again; "
    "{updated} messages are updated."
)
AMENDED_WHAT = "what is changing"
AMENDED_WHY = "why"
AMENDED_EFFECTIVE = "effective {before} → {after}"
AMENDED_DEADLINE = "acknowledge by {before} → {after}"
AMENDED_GROUP = "expectations of {group}"
DM_AMENDED = ":pencil2: Updated {when}."
DM_REASKED = "What this means for you changed: please read it again and acknowledge."
AMENDMENT_NOTE = (
    "*{key}: {title}* was updated: what it means for you changed. Please read it again above and "
    "acknowledge by {deadline}."
)
PUBLISHING = "Publishing {key}… this takes a few seconds for a large audience."


def day(value: date) -> str:
    """`3 Dec 2026`, the way dates are written everywhere people read them."""
    return f"{value.day} {value:%b %Y}"


def moment(value: datetime) -> str:
    """`3 Dec 10:02 UTC`."""
    return f"{value.day} {value:%b %H:%M} UTC"


def progress_bar(done: int, total: int, width: int = 10) -> str:
    """`▓▓▓▓░░░░░░ 40% (4/10)`: text, so it reads the same on every platform."""
    share = done / total if total else 0.0
    filled = round(share * width)
    return f"{'▓' * filled}{'░' * (width - filled)} {share:.0%} ({done}/{total})"


# --- bounded input (appended) ----------------------------------------------------------------------
DURATION_RANGE = "Choose from {minimum} to {maximum}."
DATE_TOO_FAR = "Choose a date within {years} years from today."
UNREADABLE = "Realign could not read this; please choose or type it again."
FORM_UNREADABLE = "Realign could not read this form. Please start again with /announce-change."
BUTTON_UNREADABLE = "Realign could not read this button. Please use the most recent message."
PROBLEM_TITLE = "Could not continue"
AUDIENCE_TOO_LARGE = (
    "These reach {count:,} people; one change may reach at most {limit:,}. Split the audience into "
    "several changes, or ask an admin to raise the limit."
)

# --- why a delivery failed, in words (keys are platform error codes) ---------------------------------
FAILURE_REASONS = {
    "account_inactive": "deactivated account",
    "user_disabled": "deactivated account",
    "messages_tab_disabled": "DMs turned off",
    "user_not_found": "not found",
    "channel_not_found": "not found",
    "cannot_dm_bot": "is a bot",
    "is_archived": "conversation archived",
    "restricted_action": "blocked by workspace settings",
    # Microsoft Teams (the Bot Connector's error codes)
    "ConversationBlockedByUser": "blocked Realign",
    "BotNotInConversationRoster": "Realign is not installed for them",
    "ForbiddenOperationException": "Realign is not installed for them",
    "BotDisabledByAdmin": "blocked by tenant settings",
    "ConversationNotFound": "not found",
    "MemberNotFoundInConversation": "not found",
    "teams_unreachable": "not in any team or chat Realign was added to",
    "teams_removed": "Realign was removed from this tenant",  # the last team or chat removed it
    "teams_removed_by_user": "they removed Realign",  # a personal uninstall
    REMOVED_FROM_WORKSPACE: REMOVED_FROM_WORKSPACE,  # a Slack uninstall (stored in words already)
}
FAILED_AFTER_TRIES = "could not be reached after {attempts} tries"
FAILED_OTHERWISE = "could not be delivered"
_GAVE_UP = re.compile(r"gave up after ([0-9]{1,6}) attempts?\b")


def failure_reason(raw: str | None) -> str:
    """A failed delivery's recorded reason (a platform error code, or `gave up after N attempts: …`) as
    an announcer reads it: never a raw code or an exception name."""
    reason = (raw or "").strip()
    if reason in FAILURE_REASONS:
        return FAILURE_REASONS[reason]
    gave_up = _GAVE_UP.match(reason)
    if gave_up:
        return FAILED_AFTER_TRIES.format(attempts=int(gave_up[1]))
    return FAILED_OTHERWISE


# --- follow-up at scale ---------------------------------------------------------------------------------
GAP_FIRST = "Listed above: the first {shown:,} of {total:,} still pending."

# --- audiences from channels (appended) ---------------------------------------------------------------
CHANNEL_HIDDEN = (
    "Realign can't see who is in one of these channels: it is private and Realign is not a member. "
    "Add Realign to it (/invite @Realign in the channel), or pick its members as people or a user group."
)
CHANNEL_LOADING = (
    "Realign is still reading the member list of a large channel ({count:,} members so far). "
    "Submit again in a few seconds."
)
MORE_MANAGERS = "…and the reports of {managers} more managers ({people} people)."

# --- questions and concerns (two-way alignment) ------------------------------------------------------
ASK_QUESTION = "Ask a question"
RAISE_CONCERN = "I have a concern"
ANSWER = "Answer"
MARK_RESOLVED = "Mark resolved"
QUESTION_PROMPT = "Your question about {key}"
CONCERN_PROMPT = "Your concern about {key} (e.g. my team cannot do this by then)"
ANSWER_PROMPT = "Your answer to {asker}"
QUESTION_FROM = "*Question from {asker} about {key}: {title}*"
CONCERN_FROM = "*Concern from {asker} about {key}: {title}*"
QUESTION_ANSWERED = ":speech_balloon: Answered by {who} {when}: {answer}"
CONCERN_RESOLVED = ":white_check_mark: Resolved {when}"
ANSWER_FOR_YOU = "*Answer to your {kind} about {key}*\n> {question}\n{answer}"
ANSWER_FALLBACK = "Answer to your {kind} about {key}: {answer}"
QUESTION_SENT = "Your {kind} about {key} went to {owner}. Their answer will come here, in this thread."
QUESTION_NOT_SENT = (
    "Your question is recorded, but Realign could not pass it on just now. Please try again in a minute."
)
ANSWER_NOT_SENT = (
    "Your answer is recorded, but Realign could not send it to the asker just now. Please try again."
)
NOT_YOUR_QUESTION = (
    "Only the announcer of the change, or the person it names to answer questions, can answer or "
    "resolve this."
)
ONLY_CONCERNS_RESOLVE = "Only concerns are marked resolved; a question is closed by answering it."
NOTHING_TO_ASK_ABOUT = (
    "Realign passes on questions about the announcements it sent you, and you have none yet."
)
NOT_YOUR_CHANGE_TO_ASK = "You can ask about {key} only if it was announced to you."
ANSWER_SENT = "Your answer went to {asker}."
RESOLVED = "The concern is marked resolved."
QUESTIONS_TITLE = "Open questions and concerns ({count})"
GAP_QUESTIONS = "{count} question(s) and concern(s) still open:"
NO_SUCH_QUESTION = "That question is not known here any more."
FORM_NOT_OPENED = "Realign could not open the form just now. Please click the button again."

# --- the audit export from /change-status (bot.exporting, adapters.slack.exports) ---------------------
EXPORT_CSV = "Export CSV"
EXPORT_PREPARING = "Preparing the audit export of {key}… it comes to your direct messages with Realign."
EXPORT_TITLE = "{key} audit export"
EXPORT_COMMENT = "The audit export of *{key}: {title}*: {count} rows, one per targeted or excluded person."
EXPORT_SENT = "The audit export of {key} ({count} rows) is in your direct messages with Realign."
EXPORT_FAILED = (
    "Realign could not send you the audit export of {key}: {reason} Please click Export CSV again."
)
EXPORT_REASONS = {  # by Slack error code; what people read
    "upload_refused": "Slack did not take the file.",
    "unreachable": "Slack could not be reached.",
    "unreadable": "its rows could not be read from the database.",
    "missing_scope": "Realign may not upload files here (its app needs the files:write scope).",
    "not_allowed_token_type": "Realign may not upload files here (its app needs the files:write scope).",
    "ratelimited": "Slack asked Realign to slow down.",
    "file_upload_size_restricted": "the file is larger than this workspace allows.",
}
EXPORT_REASON_OTHER = "Slack refused the file ({code})."
EXPORT_OFFERED = "The audit export of {key}: {title}: {count} rows, one per targeted or excluded person."
EXPORT_DECLINED = "The audit export of {key} was not saved. Click Export CSV to ask for it again."
EXPORT_TEAMS_REFUSED = "Teams did not take the file (HTTP {status})."
EXPORT_TEAMS_UNREACHABLE = "Teams could not be reached."

# --- in your own words -----------------------------------------------------------------------------------
OWN_WORDS_OPTION = "Ask each person to say in one line what they will do differently"
OWN_WORDS_PROMPT = "In one line: what will you do differently from {effective}?"
OWN_WORDS_NEEDED = "Say in a few words what you will do differently; that is what acknowledging means here."
OWN_WORDS_TITLE = "In their own words ({count})"

# --- scheduled publish --------------------------------------------------------------------------------
PUBLISH_TIME_NEEDS_DATE = "Choose the day to publish on as well."
PUBLISH_PAST = "This moment has already passed; leave it empty to publish at review."
PUBLISH_AFTER_EFFECTIVE = "Publish on or before the effective date."
SCHEDULED_FOR = "Publishes {when} ({zone}), not before. Until then you can publish it now or cancel it."
SCHEDULED = (
    "{key} is scheduled: it publishes {when} ({zone}). `/change-status {key}` to publish it now or cancel."
)
SCHEDULE = "Schedule"
PUBLISH_NOW = "Publish now"
CANCEL_SCHEDULE = "Cancel publishing"
SCHEDULE_CANCELLED = "{key} will not be published: its scheduled publish is cancelled."
NOT_SCHEDULED = "{key} is not waiting to be published."
STATUS_SCHEDULED = "Scheduled to publish {when}."
SCHEDULED_ON_CARD = (  # Teams: the card after Schedule carries Publish now / Cancel publishing itself
    "{key} is scheduled: it publishes {when} ({zone}). Until then you can publish it now or cancel it, "
    "here or from `change-status {key}`."
)


def local_moment(value: datetime) -> str:
    """`14 Dec 2026 09:00`: a moment as the clock on the wall shows it (the caller picks the zone)."""
    return f"{value.day} {value:%b %Y %H:%M}"


# --- capacity check --------------------------------------------------------------------------------------
CAPACITY_OPTION = "Ask each recipient's manager: can the team do this by the effective date?"
CAPACITY_QUESTION = "Can your team do this by {effective}?"
CAPACITY_ASKED = "*{key}: {title}* (announced by {announcer})\n{question}"
CAPACITY_TEAM = "Your team in this change: {count} {people}{groups}."
CAPACITY_YES, CAPACITY_HELP, CAPACITY_NO = "Yes", "Need help", "No"
CAPACITY_COMMENT = "A comment for the announcer (what stands in the way, or what helps)"
CAPACITY_COMMENT_NEEDED = "Say what stands in the way, so the announcer can help."
CAPACITY_YOU_ANSWERED = ":memo: You answered *{answer}* {when}{comment}"
CAPACITY_REPLY = "{icon} {manager} answered *{answer}* to “{question}” for {key}: {title}{comment}"
CAPACITY_REPLY_FALLBACK = "{manager} answered {answer} for {key}: can the team do this by {effective}?"
CAPACITY_SENT = "Your answer went to {announcer}."
CAPACITY_NOT_SENT = (
    "Your answer is recorded, but Realign could not pass it on just now. Please answer again in a minute."
)
CAPACITY_TITLE = (
    "Capacity check: {answered} of {asked} managers answered · Yes {yes} · Need help {help} · No {no}"
)
CAPACITY_NOT_ASKED = "Only the managers Realign asked about {key} can answer its capacity check."

# --- customer-facing briefing -----------------------------------------------------------------------------
CUSTOMER_FACING_OPTION = "This group faces customers: their DM says what to tell customers"
DM_CUSTOMERS = "*What to tell customers*\n{plan}"
WARN_NO_CUSTOMER_FACING = (
    "Customers are directly affected but no group is marked as facing customers: nobody will be told "
    "what to tell them. Mark the groups that talk to customers."
)


# --- the digest and the Home tab (bot.digest, bot.home) ----------------------------------------------------
def counted(count: int, one: str, many: str) -> str:
    """`1 open question`, `3 open questions`."""
    return f"{count} {one if count == 1 else many}"


DIGEST_HEADER = "Realign digest · week to {day}"
DIGEST_FALLBACK = (
    "Realign digest for the week to {day}: {announced} announced, {coming} coming into effect, {open} open"
)
DIGEST_NOTHING = "No changes this week: nothing announced, nothing coming into effect, nothing open."
DIGEST_ANNOUNCED = "*Announced this week* ({count})"
DIGEST_COMING = "*Coming into effect in the next 7 days* ({count})"
DIGEST_OPEN = "*Open changes: acknowledged so far* ({count})"
DIGEST_ANNOUNCED_LINE = "• *{key}* {title} · by {announcer}, {day}"
DIGEST_COMING_LINE = "• *{key}* {title} · {day}"
PROGRESS_LINE = "• *{key}* {title} · {acknowledged}/{targeted} acknowledged ({percent}%){asked}"
OPEN_QUESTIONS = ("open question", "open questions")
OPEN_CONCERNS = ("open concern", "open concerns")
HOME_HEADER = "Realign"
HOME_TO_ACKNOWLEDGE = "*Waiting for your acknowledgement* ({count})"
HOME_TO_ACKNOWLEDGE_LINE = "*{key}* {title}\nAcknowledge by {deadline} · in effect {effective}"
HOME_NOTHING_TO_ACKNOWLEDGE = "You have acknowledged every change that reached you. :white_check_mark:"
HOME_YOURS = "*Your changes* ({count})"
HOME_ALL = "*Every change* ({count})"  # an admin (REALIGN_ADMINS) sees them all
HOME_TEAM = "*Your team: still to acknowledge*"
HOME_TEAM_LINE = "• *{key}* {title} · {pending} of {reports} of your reports: {names}"
HOME_STATE = {"scheduled": " (scheduled)", "closed": " (closed)"}
HOME_FOOTER = "`/change-status CHG-n` for the details of a change, `/announce-change` to announce one."
