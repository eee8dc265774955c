"""All settings, from the environment (names are the public contract, docs/settings.md).

Built once at start-up and passed down; a bad value stops start-up with one line saying what to fix.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import (
    FOLLOW_UP_MAX,
    FOLLOW_UP_MIN,
    LEASE_MAX,
    SWEEP_MAX,
    SWEEP_MIN,
    format_duration,
    parse_duration,
    span,
)
from bot.errors import ConfigError
from realign.cron import CronSchedule

PLACEHOLDERS = re.compile(
    r"^(changeme|change-me|xxx+|todo|your[-_ ].*|(xoxb|xapp)-your.*|<.*>|\.\.\.)$", re.I
)
SAFE_POST_RATE = 5.0  # DMs/s: safely under Slack's "several hundred per minute" anywhere
HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
Names = Annotated[frozenset[str], NoDecode]
Days = Annotated[frozenset[int], NoDecode]
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY = frozenset(range(7))
LOG_FORMATS = ("text", "json")
DIGEST_CHANNEL = re.compile(r"^(T[A-Z0-9]+/)?[CG][A-Z0-9]+$")  # a channel id, or a team id / channel id
# A Teams channel: `teams:<tenant id>/<the channel's conversation id>` (`19:…@thread.tacv2`).
TEAMS_DIGEST_PREFIX = "teams:"
TEAMS_DIGEST_CHANNEL = re.compile(
    r"^teams:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/(19:[^/\s]+@thread\.[a-z0-9]+)$",
    re.I,
)
BAD_DAYS = "'{value}' is not like mon-fri, mon,tue,thu or always"
# (shortest, longest) of each duration setting; the announce modal accepts the same follow-up range.
DURATION_BOUNDS: dict[str, tuple[timedelta | None, timedelta]] = {
    "remind_after": (FOLLOW_UP_MIN, FOLLOW_UP_MAX),
    "escalate_after": (FOLLOW_UP_MIN, FOLLOW_UP_MAX),
    "sweep_interval": (SWEEP_MIN, SWEEP_MAX),
    "delivery_lease": (None, LEASE_MAX),
}


def _day(name: str, value: str) -> int:
    name = name.strip()
    matches = [day for day, full in enumerate(DAY_NAMES) if len(name) >= 3 and full.startswith(name)]
    if not matches:
        raise ValueError(BAD_DAYS.format(value=value))
    return matches[0]


def working_days(value: str) -> frozenset[int]:
    """`mon-fri`, `sun-thu` (ranges wrap round the week), `mon,tue,thu`, `always` or `all`: the days
    as `date.weekday()` numbers (0 = Monday)."""
    text = value.strip().lower()
    if text in ("always", "all"):
        return EVERY_DAY
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        first, dash, last = part.partition("-")
        start = _day(first, value)
        end = _day(last, value) if dash else start
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    if not days:
        raise ValueError(BAD_DAYS.format(value=value))
    return frozenset(days)


def _secret(value: SecretStr | None, name: str) -> str | None:
    if value is None or not value.get_secret_value().strip():
        return None
    if PLACEHOLDERS.match(value.get_secret_value().strip()):
        raise ValueError(
            f"{name} still holds a placeholder; set the real value from your app's settings page"
        )
    return value.get_secret_value().strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: str = Field("sqlite:///realign.db", alias="DATABASE_URL", repr=False)  # may hold a password
    port: int = Field(3000, alias="PORT", ge=1, le=65535)
    # `realign worker` serves /healthz and /metrics here (unset: no port; several workers on one host
    # each need their own).
    worker_port: int | None = Field(None, alias="REALIGN_WORKER_PORT", ge=1, le=65535)
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")  # Socket Mode
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_post_rate: float | Literal["auto"] = Field(5.0, alias="SLACK_POST_RATE")  # "auto": probe
    slack_post_rate_max: float = Field(20.0, alias="SLACK_POST_RATE_MAX", gt=0, le=1000)
    slack_post_burst: float | None = Field(None, alias="SLACK_POST_BURST", ge=1)
    slack_api_timeout: int = Field(10, alias="SLACK_API_TIMEOUT", ge=1, le=120)
    # Many workspaces, installed through OAuth (all three, or none).
    slack_client_id: SecretStr | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_state_secret: SecretStr | None = Field(None, alias="SLACK_STATE_SECRET")
    delivery_lease: timedelta = Field(timedelta(seconds=60), alias="REALIGN_DELIVERY_LEASE")
    microsoft_app_id: str | None = Field(None, alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(None, alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_type: str | None = Field(None, alias="MICROSOFT_APP_TYPE")
    microsoft_app_tenant_id: str | None = Field(None, alias="MICROSOFT_APP_TENANT_ID")
    microsoft_graph_url: str = Field("https://graph.microsoft.com", alias="MICROSOFT_GRAPH_URL")  # "": off
    teams_dev: bool = Field(False, alias="REALIGN_TEAMS_DEV")
    teams_post_rate: float = Field(50.0, alias="TEAMS_POST_RATE", gt=0, le=1000)  # per tenant (DESIGN §6)
    remind_after: timedelta = Field(timedelta(hours=24), alias="REALIGN_REMIND_AFTER")
    escalate_after: timedelta = Field(timedelta(hours=48), alias="REALIGN_ESCALATE_AFTER")
    sweep_interval: timedelta = Field(timedelta(seconds=60), alias="REALIGN_SWEEP_INTERVAL")
    working_hours: tuple[time, time] | None = Field((time(9), time(17)), alias="REALIGN_WORKING_HOURS")
    announcers: Names = Field(frozenset(), alias="REALIGN_ANNOUNCERS")
    admins: Names = Field(frozenset(), alias="REALIGN_ADMINS")
    working_days: Days = Field(frozenset(range(5)), alias="REALIGN_WORKING_DAYS")
    max_audience: int = Field(100_000, alias="REALIGN_MAX_AUDIENCE", ge=1, le=10_000_000)
    log_format: str = Field("text", alias="REALIGN_LOG_FORMAT")  # text, or json: one object a line
    # The digest (realign.digest): a Slack channel id, `<team id>/<channel id>` with OAuth, or
    # `teams:<tenant id>/<channel conversation id>`; unset: none.
    digest_channel: str | None = Field(None, alias="REALIGN_DIGEST_CHANNEL")
    digest_cron: str = Field("0 9 * * mon", alias="REALIGN_DIGEST_CRON")  # five fields, in UTC

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "microsoft_app_password", mode="before"
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("remind_after", "escalate_after", "sweep_interval", "delivery_lease", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        minimum, maximum = DURATION_BOUNDS[str(info.field_name)]
        if not isinstance(value, str):
            return value
        try:
            return parse_duration(value, minimum=minimum, maximum=maximum)
        except ConfigError as error:
            raise ValueError(str(error)) from None

    @field_validator("remind_after", "escalate_after", "sweep_interval", "delivery_lease")
    @classmethod
    def _in_range(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        minimum, maximum = DURATION_BOUNDS[str(info.field_name)]
        if (minimum is not None and value < minimum) or value > maximum:
            raise ValueError(f"'{format_duration(value)}' is out of range: {span(minimum, maximum)}")
        return value

    @field_validator("working_days", mode="before")
    @classmethod
    def _days(cls, value: object) -> object:
        return working_days(value) if isinstance(value, str) else value

    @field_validator("slack_post_rate", mode="before")
    @classmethod
    def _post_rate(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            rate = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a number of messages per second, or auto") from None
        if not 0 < rate <= 1000:
            raise ValueError("must be more than 0 and at most 1000 messages per second, or auto")
        return rate

    @property
    def post_rate(self) -> float:
        """Where each workspace's limiter starts: SLACK_POST_RATE, or the safe 5/s when it probes."""
        return SAFE_POST_RATE if self.slack_post_rate == "auto" else self.slack_post_rate

    @field_validator("working_hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.strip().lower() == "always":
            return None
        match = HOURS.match(value.strip())
        try:
            assert match is not None
            start = time(int(match[1]), int(match[2]))
            end = time.max if (match[3], match[4]) in (("24", "00"),) else time(int(match[3]), int(match[4]))
        except (AssertionError, ValueError):
            raise ValueError(f"'{value}' is not like 09:00-17:00 (or 'always')") from None
        return start, end

    @field_validator("announcers", "admins", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in re.split(r"[,\s]+", value) if part.strip())
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in LOG_FORMATS:
            raise ValueError(f"'{value}' is not one of {', '.join(LOG_FORMATS)}")
        return value.strip().lower()

    @field_validator("digest_channel", mode="before")
    @classmethod
    def _digest_channel(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return None if isinstance(value, str) else value  # empty counts as unset
        if value.strip().lower().startswith(TEAMS_DIGEST_PREFIX):
            teams = TEAMS_DIGEST_CHANNEL.match(value.strip())
            if teams is None:
                raise ValueError(
                    f"'{value}' is not teams:<tenant id>/<channel conversation id>, e.g. teams:"
                    "9f1c2e34-5a6b-4c7d-8e9f-0a1b2c3d4e5f/19:abc123@thread.tacv2 (the tenant's id, a GUID,"
                    " and the conversation id of a channel of a team Realign is installed in)"
                )
            return f"{TEAMS_DIGEST_PREFIX}{teams[1].lower()}/{teams[2]}"  # tenant ids are lower case
        if not DIGEST_CHANNEL.match(value.strip()):
            raise ValueError(
                f"'{value}' is not a Slack channel id like C0123ABCD (or T0123ABCD/C0123ABCD, a workspace's"
                " team id and a channel id, with many workspaces; or teams:<tenant id>/<channel conversation"
                " id> for a Teams channel); the channel's details show its id"
            )
        return value.strip()

    @field_validator("digest_cron")
    @classmethod
    def _digest_cron(cls, value: str) -> str:
        return CronSchedule(value).expression  # ValueError says what is wrong with it

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _slack_pair(self) -> Settings:
        token = _secret(self.slack_bot_token, "SLACK_BOT_TOKEN")
        secret = _secret(self.slack_signing_secret, "SLACK_SIGNING_SECRET")
        if token and not secret and self.slack_app_token is None:
            raise ValueError(
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not; set both to turn Slack on"
                " (or SLACK_APP_TOKEN instead of the secret, for Socket Mode)"
            )
        if secret and not token and self.slack_client_id is None:
            raise ValueError(
                "SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; set both to turn Slack on"
            )
        if token and not token.startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
        return self

    @field_validator("slack_client_id", "slack_client_secret", "slack_state_secret", mode="before")
    @classmethod
    def _strip_oauth(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _slack_oauth(self) -> Settings:
        given = {
            name: _secret(value, name)
            for name, value in (
                ("SLACK_CLIENT_ID", self.slack_client_id),
                ("SLACK_CLIENT_SECRET", self.slack_client_secret),
                ("SLACK_STATE_SECRET", self.slack_state_secret),
            )
        }
        missing = [name for name, value in given.items() if not value]
        if len(missing) == len(given):
            return self
        if missing:
            present = ", ".join(name for name in given if name not in missing)
            raise ValueError(
                f"{present} set but {', '.join(missing)} not; set all three to install through OAuth"
            )
        if _secret(self.slack_bot_token, "SLACK_BOT_TOKEN"):
            raise ValueError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set; use SLACK_BOT_TOKEN for one workspace"
                " or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for many, not both"
            )
        if not _secret(self.slack_signing_secret, "SLACK_SIGNING_SECRET"):
            raise ValueError("SLACK_CLIENT_ID is set but SLACK_SIGNING_SECRET is not; OAuth installs need it")
        return self

    @property
    def slack_oauth(self) -> bool:
        """Whether workspaces install Realign through OAuth (SLACK_CLIENT_ID ...) instead of one
        SLACK_BOT_TOKEN."""
        return self.slack_client_id is not None

    @model_validator(mode="after")
    def _lease_covers_a_send(self) -> Settings:
        if self.delivery_lease.total_seconds() < 2 * self.slack_api_timeout:
            least = 2 * self.slack_api_timeout
            raise ValueError(f"REALIGN_DELIVERY_LEASE must be at least twice SLACK_API_TIMEOUT ({least}s)")
        return self

    @model_validator(mode="after")
    def _socket_mode(self) -> Settings:
        # Slack signs no request in Socket Mode: the bot token and the app-level token are enough.
        app_token = _secret(self.slack_app_token, "SLACK_APP_TOKEN")
        if app_token and not _secret(self.slack_bot_token, "SLACK_BOT_TOKEN"):
            raise ValueError("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not; Socket Mode needs both")
        if app_token and not app_token.startswith("xapp-"):
            raise ValueError(
                "SLACK_APP_TOKEN must be an app-level token (it starts with xapp-; create one with the"
                " connections:write scope under Basic Information)"
            )
        return self

    @model_validator(mode="after")
    def _digest_destination(self) -> Settings:
        channel = self.digest_channel
        if channel is None:
            return self
        if channel.startswith(TEAMS_DIGEST_PREFIX):
            if not self.teams_configured:
                raise ValueError(
                    "REALIGN_DIGEST_CHANNEL names a Teams channel but Teams is not configured; set"
                    " MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD (or REALIGN_TEAMS_DEV to try it locally)"
                )
            return self
        if not (self.slack_enabled or self.slack_oauth):
            raise ValueError(
                "REALIGN_DIGEST_CHANNEL is set but Slack is not; a channel id names a Slack channel"
                " (set SLACK_BOT_TOKEN, or SLACK_CLIENT_ID ... for many workspaces; or write"
                " teams:<tenant id>/<channel conversation id> for a Teams channel)"
            )
        if self.slack_oauth and "/" not in channel:
            raise ValueError(
                "with SLACK_CLIENT_ID (many workspaces) write REALIGN_DIGEST_CHANNEL as"
                f" <team id>/<channel id>, e.g. T0123ABCD/{channel}"
            )
        return self

    @property
    def slack_socket_mode(self) -> bool:
        """Whether Slack is reached through Socket Mode (SLACK_APP_TOKEN) rather than /slack/events."""
        return self.slack_enabled and self.slack_app_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and bool(self.slack_bot_token.get_secret_value().strip())

    @property
    def teams_configured(self) -> bool:
        return bool(self.microsoft_app_id) or self.teams_dev


def load() -> Settings:
    """Settings from the environment, or ConfigError with one line per problem."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"]) or "settings"
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name != "settings" else message)
        raise ConfigError("; ".join(problems)) from None
