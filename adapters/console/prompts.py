"""The console's own words: the questions of its forms (the Slack modal's labels, one per prompt),
command help and hints. Sentences the core and every platform share stay in bot/copy.py."""

from __future__ import annotations

# --- /announce-change, one question per modal field (keys are the core's field names) -------------------
BASICS = {
    "title": "Title",
    "what": "What is changing",
    "why": "Why (the goal; optional, but people adopt changes they understand)",
    "effective_date": "Effective date (2026-12-15, today, tomorrow, +14d)",
    "ack_deadline": "Acknowledge by",
    "customer_impact": "Customer impact: none / indirect / direct",
    "customer_plan": "How customers will be told",
    "remind_after": "Remind those who have not acknowledged after",
    "reminders": "How many reminders",
    "escalate_after": "Tell their managers after",
    "own_words": "Ask each person to say in one line what they will do differently? [y/N]",
    "capacity_check": "Ask each recipient's manager whether their team can do this by then? [y/N]",
    "publish_on": "Publish on (empty: when you publish at review; 2026-12-15, tomorrow, +3d)",
    "publish_time": "Publish at (HH:MM in your time zone, {zone}; empty: 09:00)",
}
OWN_WORDS = "In one line: what will you do differently from {effective}?"
GROUP = {
    "name": "Group name (optional)",
    "people": "People and groups (handles like dana, lee, departments like @support, or @everyone)",
    "today": "What they do today (optional)",
    "from_effective": "What they do from {effective}",
}
CUSTOMER_FACING = "Does this group face customers (their DM says what to tell customers)? [y/N]"
GROUP_HEADING = "Audience group {number} of {key}"
ANOTHER_GROUP = "Add another group? [y/N]"
PUBLISH = "Publish? [y/N]"
SCHEDULE = "Schedule it? [y/N]"
LEFT_AS_DRAFT = "{key} stays a draft; nothing was sent."
CANCELLED = "Cancelled."
CANCEL_WORD = "/cancel"

# --- the REPL ----------------------------------------------------------------------------------------
BANNER = (
    "Realign console · workspace {workspace} · {count} people · it is {now}\n"
    "You are {name}. Type /help for commands, /people for who is here."
)
HELP = """\
/announce-change [title]   declare a change: the same questions as the Slack form, one at a time
                           (answer /cancel to stop); review, then publish to the outbox
/as HANDLE                 be someone else (/people lists handles); their new messages are shown
/inbox                     your messages, numbered
/ack [N | CHG-n]           acknowledge message N of your inbox (default: the latest waiting)
/ask [CHG-n], /concern [CHG-n]
                           ask the announcer a question, or raise a concern (default: your latest
                           announcement); a line typed without a / is a question too
/answer N, /resolve N      answer question N of your inbox; mark concern N resolved
/change-status [CHG-n]     your changes, or one change in detail (announcer, admins, managers)
/close CHG-n               stop reminders and escalations for a change you announced
/amend CHG-n               change what, why, the dates or a group's expectations of a published change
                           of yours; those whose part changed are asked to acknowledge again
/publish CHG-n, /cancel-publish CHG-n
                           publish a scheduled change of yours now, or call its publish off
/capacity N                answer capacity check N of your inbox: yes, help or no, and a comment
/advance DURATION          move the clock (90s, 15m, 24h, 2d) and run the engine as time passes:
                           deliveries, reminders, escalations to managers, gap reports
/people                    who is here: handles, departments (@handle), managers, time zones
/help, /quit
The clock stands still until /advance moves it. Reminders go out at any hour here
(REALIGN_WORKING_HOURS=always) unless you set REALIGN_WORKING_HOURS."""
NOW_AS = "You are {name} ({title})."
NO_SUCH_PERSON = "Nobody here has the handle {handle}; /people lists them."
INBOX_EMPTY = "Your inbox is empty."
INBOX_COUNT = "{count} message(s), {pending} waiting for your acknowledgement. /inbox shows them."
NOTHING_TO_ACK = "You have no announcement waiting for acknowledgement."
NO_SUCH_MESSAGE = "There is no message {number} in your inbox, or it is not an announcement."
ACK_HINT = "Type /ack {number} to acknowledge."
ASK_HINT = "/ask {key} to ask a question, /concern {key} to raise a concern (or just type it)."
ANSWER_HINT = "Type /answer {number} to answer."
CONCERN_HINT = "Type /answer {number} to answer, /resolve {number} once it is dealt with."
QUESTION_TEXT = "Your {kind} (one or a few lines)"
ANSWER_TEXT = "Your answer"
USAGE_ANSWER = "Usage: /answer N, where N is the number of a question in your inbox."
NOT_A_QUESTION = "Message {number} of your inbox is not a question or concern."
UNKNOWN_COMMAND = "There is no command {command}; /help lists them."
NOT_A_COMMAND = "Commands start with /; /help lists them."
USAGE_AS = "Usage: /as HANDLE (for example /as dana)."
USAGE_ADVANCE = "Usage: /advance DURATION, for example /advance 2d."
USAGE_CLOSE = "Usage: /close CHG-12."
USAGE_AMEND = "Usage: /amend CHG-12, for a published change you announced."
AMEND_KEEP = "Press Enter to keep what is shown in [brackets]."
AMEND_TODAY = "{group}: what they do today"
AMEND_FROM = "{group}: what they must do from the effective date"
IT_IS_NOW = "It is now {now}."
ARRIVED = "✉ {kind} of {key} to {count}: {names}"
ARRIVED_ONE = "✉ {kind} of {key} to {name}"
MORE = " and {count} more"
BYE = "Bye."
CAPACITY_HINT = "Type /capacity {number} to answer: yes, help (need help) or no, and a comment."
CAPACITY_CHOICE = "Can your team do this by {effective}? yes / help / no"
CAPACITY_COMMENT = "A comment for the announcer (optional for yes)"
USAGE_CAPACITY = "Usage: /capacity N, where N is the number of a capacity check in your inbox."
NOT_A_CAPACITY_CHECK = "Message {number} of your inbox is not a capacity check."
USAGE_PUBLISH = "Usage: /publish CHG-12 (or /cancel-publish CHG-12) for a scheduled change of yours."
SCHEDULE_HINT = "/publish {key} publishes it now, /cancel-publish {key} calls it off."
BAD_TIME = "Write a time like 09:30 or 14:00."
