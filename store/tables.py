"""SQLModel tables. The domain types live in `bot.model`; repositories translate between the two.

A delivery's audience groups are the bits of `group_mask` (bit n = the group at position n), so the
per-group status is one GROUP BY over a change's deliveries. `due_at` says when a row next needs a
worker: queued rows when they may be (re)sent, sending rows when their lease expires; NULL once settled.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import JSON, BigInteger, Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from store.types import UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are plain INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Workspace(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=64)  # "slack:T001"
    platform: str = Field(max_length=16)
    name: str = ""
    directory_synced_at: datetime | None = utc(default=None)
    installed_at: datetime = utc()
    post_rate: float | None = None  # DMs/s that SLACK_POST_RATE=auto found for this workspace


class Worker(SQLModel, table=True):
    """A process delivering right now (`serve` or `worker`), seen at its last heartbeat."""

    id: str = Field(primary_key=True, max_length=64)
    name: str  # host:pid, for operators
    seen_at: datetime = utc()


class Person(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("workspace", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(max_length=64)
    user_id: str = Field(max_length=64)
    name: str = ""
    email: str | None = Field(default=None, index=True)
    tz: str | None = None
    active: bool = True
    is_bot: bool = False
    department: str | None = None
    title: str | None = None
    manager_id: str | None = None
    updated_at: datetime = utc()


class Change(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    workspace: str = Field(max_length=64, index=True)
    announcer_id: str = Field(max_length=64, index=True)
    title: str
    what: str
    why: str = ""
    effective_date: date
    ack_deadline: date
    customer_impact: str = Field(default="none", max_length=16)
    customer_plan: str = ""
    state: str = Field(default="draft", max_length=16)
    draft_ref: str | None = Field(default=None, unique=True, max_length=64)
    created_at: datetime = utc()
    published_at: datetime | None = utc(default=None)
    closed_at: datetime | None = utc(default=None)
    remind_after_s: int = 86400
    max_reminders: int = 2
    escalate_after_s: int = 172800
    escalate_at: datetime | None = utc(default=None, index=True)  # NULL once escalated
    report_at: datetime | None = utc(default=None, index=True)  # NULL once the gap report went out
    owner_id: str | None = Field(default=None, max_length=64)  # answers questions; NULL: the announcer
    own_words: bool = False  # acknowledging asks for a line "in your own words"
    # A scheduled publish: due at publish_at (UTC); a process that claims it leases it until publish_lease.
    publish_at: datetime | None = utc(default=None, index=True)
    publish_lease: datetime | None = utc(default=None)
    capacity_check: bool = False  # at publishing, ask each recipient's manager whether the team can
    revision: int = 0  # how many times the published change was amended
    amended_at: datetime | None = utc(default=None)


class AudienceGroup(SQLModel, table=True):
    __tablename__ = "audience_group"
    __table_args__ = (UniqueConstraint("change_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE")
    position: int
    name: str
    today: str = ""
    from_effective: str
    user_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    usergroup_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    customer_facing: bool = False  # their DM carries what to tell customers


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("change_id", "user_id"),
        # Only rows that still need a worker are indexed: settled rows have due_at NULL.
        Index(
            "ix_delivery_due",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index(
            "ix_delivery_remind",
            "remind_at",
            postgresql_where=text("remind_at IS NOT NULL"),
            sqlite_where=text("remind_at IS NOT NULL"),
        ),
        Index(
            "ix_delivery_change_due",  # which workspaces have rows due; a workspace's claims
            "change_id",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_delivery_tally", "change_id", "state", "group_mask"),
        Index("ix_delivery_manager", "change_id", "manager_id"),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE")
    user_id: str = Field(max_length=64)
    group_mask: int = Field(sa_type=BigInteger)
    state: str = Field(max_length=16)
    last_error: str | None = None
    attempts: int = 0
    unsure: bool = False  # an attempt may have reached the platform: reconcile before resending
    due_at: datetime | None = utc(default=None)
    channel: str | None = Field(default=None, max_length=64)
    ts: str | None = Field(default=None, max_length=64)
    sent_at: datetime | None = utc(default=None)
    acknowledged_at: datetime | None = utc(default=None)
    remind_at: datetime | None = utc(
        default=None
    )  # next reminder due; NULL: none (acknowledged, done, closed)
    reminders_sent: int = 0
    # The recipient's team as at publishing: status reports count by it without joining `person`.
    department: str | None = None
    manager_id: str | None = Field(default=None, max_length=64)
    reasked_revision: int = 0  # the amendment (change.revision) that last asked them to acknowledge again
    reminders_before: int = 0  # reminders sent before that: the policy's count starts again from here


class AckHistory(SQLModel, table=True):
    """An acknowledgement an amendment set aside (the person was asked to acknowledge again)."""

    __tablename__ = "ack_history"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    delivery_id: int = Field(sa_type=BigInteger, foreign_key="delivery.id", ondelete="CASCADE", index=True)
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE")
    acknowledged_at: datetime = utc()
    revision: int  # the amendment that set it aside
    set_aside_at: datetime = utc()


class DigestPost(SQLModel, table=True):
    """One digest the cron schedule called for (`slot`, its fire time in UTC) to one destination: claimed
    with a lease by the process that posts it, `posted` once it is out, so each is posted once."""

    __tablename__ = "digest_post"

    slot: datetime = utc(primary_key=True)
    destination: str = Field(primary_key=True)
    state: str = Field(max_length=16)  # claimed, posted
    lease_until: datetime | None = utc(default=None)
    posted_at: datetime | None = utc(default=None)
    ref: str | None = None  # where it was posted (a message id); Teams: `sending` while unanswered


class Notice(SQLModel, table=True):
    """A follow-up message (reminder, escalation, gap report) as an outbox row, claimed like a delivery.

    The unique key makes planning idempotent: a wave planned twice, or by two workers, writes each
    message once. `priority` 0 (escalations, reports) is claimed before 1 (reminders)."""

    __table_args__ = (
        UniqueConstraint("change_id", "kind", "user_id", "seq"),
        Index(
            "ix_notice_due",
            "change_id",
            "priority",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    user_id: str = Field(max_length=64)  # who receives it
    seq: int = 0  # a reminder's number (1, 2, ...); 0 for the others
    delivery_id: int | None = Field(default=None, sa_type=BigInteger)  # a reminder's delivery
    priority: int = 1
    state: str = Field(max_length=16)  # queued, sending, sent, failed, skipped
    attempts: int = 0
    unsure: bool = False
    due_at: datetime | None = utc(default=None)
    channel: str | None = Field(default=None, max_length=64)
    ts: str | None = Field(default=None, max_length=64)
    last_error: str | None = None
    created_at: datetime = utc()
    sent_at: datetime | None = utc(default=None)


class Question(SQLModel, table=True):
    """A recipient's question or concern about a change, and its answer. `request_ref` (a form's id, a
    typed message's id) makes asking idempotent: a resubmitted form or a retried event asks once."""

    __table_args__ = (Index("ix_question_open", "change_id", "state"),)

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE")
    delivery_id: int = Field(sa_type=BigInteger, foreign_key="delivery.id", ondelete="CASCADE")
    asker_id: str = Field(max_length=64)
    owner_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # question, concern
    text: str
    state: str = Field(max_length=16)  # open, answered, resolved
    request_ref: str = Field(max_length=128, unique=True)
    asked_at: datetime = utc()
    channel: str | None = Field(default=None, max_length=64)  # the message asking the owner
    ts: str | None = Field(default=None, max_length=64)
    answer: str | None = None
    answered_by: str | None = Field(default=None, max_length=64)
    answered_at: datetime | None = utc(default=None)
    resolved_at: datetime | None = utc(default=None)


class OwnWords(SQLModel, table=True):
    """What a person said, as they acknowledged, they will do differently (one line per delivery)."""

    __tablename__ = "own_words"

    delivery_id: int = Field(
        sa_type=BigInteger, foreign_key="delivery.id", ondelete="CASCADE", primary_key=True
    )
    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE", index=True)
    text: str
    at: datetime = utc()


class CapacityAnswer(SQLModel, table=True):
    """A manager's answer to a change's capacity check (the latest one: answering again replaces it)."""

    __tablename__ = "capacity_answer"

    change_id: int = Field(foreign_key="change.id", ondelete="CASCADE", primary_key=True)
    manager_id: str = Field(primary_key=True, max_length=64)
    answer: str = Field(max_length=16)  # yes, help, no
    comment: str = ""
    answered_at: datetime = utc()


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, sa_type=BigId, primary_key=True)
    at: datetime = utc()
    kind: str = Field(max_length=48)
    actor: str = Field(max_length=64)
    change_id: int | None = Field(default=None, index=True)
    delivery_id: int | None = Field(default=None, sa_type=BigInteger)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class HomeViewer(SQLModel, table=True):
    """Someone who opened their Slack Home tab: their page is republished as acknowledgements arrive,
    by whichever process records them."""

    __tablename__ = "home_viewer"

    workspace: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True)
    opened_at: datetime = utc()


class Lease(SQLModel, table=True):
    """A named lease: while `until` is ahead, only `holder` runs the singleton job `name` (e.g. one
    workspace's directory sync). Taken and renewed by one upsert, so two processes never both hold it."""

    name: str = Field(primary_key=True, max_length=128)
    holder: str = Field(max_length=64)
    until: datetime = utc()


# Slack OAuth installs (SLACK_CLIENT_ID ...), as slack_sdk's SQLAlchemy stores read and write them
# (store.installations). Declared here so the schema is whole; migration 0008 creates them.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    SQLModel.metadata, "slack_installations"
)
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(SQLModel.metadata, "slack_bots")
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    SQLModel.metadata, "slack_oauth_states"
)


# Microsoft Teams (issue 10). Teams ids and conversation ids are long and unbounded, so they are
# plain text; a person's core user id is their Entra object id (a GUID), which fits everywhere.


class TeamsUser(SQLModel, table=True):
    """How to reach one Teams person: their `29:` id, and the bot's 1:1 conversation once created."""

    __tablename__ = "teams_user"

    workspace: str = Field(primary_key=True, max_length=64)  # "teams:<tenant id>"
    user_id: str = Field(primary_key=True, max_length=64)  # the Entra object id
    teams_id: str
    service_url: str
    conversation_id: str | None = None
    updated_at: datetime = utc()


class TeamsInstall(SQLModel, table=True):
    """A conversation Realign was added to (personal, group chat, a team's channel) and its reference."""

    __tablename__ = "teams_install"

    workspace: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(primary_key=True)
    kind: str = Field(max_length=16)  # personal, groupChat, channel
    team_id: str | None = None
    name: str = ""
    private: bool = False
    service_url: str
    reference: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    installed_at: datetime = utc()


class TeamsMember(SQLModel, table=True):
    """Who is in an installed team or channel (a private channel has its own members)."""

    __tablename__ = "teams_member"

    workspace: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(primary_key=True)
    user_id: str = Field(primary_key=True, max_length=64)


class TeamsSent(SQLModel, table=True):
    """The activity id of each message Realign posted, written the moment the connector answers, so a
    crash before the outbox row is settled never leads to a second post (the connector cannot list a
    conversation's messages)."""

    __tablename__ = "teams_sent"

    kind: str = Field(primary_key=True, max_length=16)  # delivery, notice
    row_id: int = Field(primary_key=True, sa_type=BigInteger)
    user_id: str = Field(max_length=64)
    activity_id: str
    sent_at: datetime = utc()
