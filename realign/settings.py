"""All settings, from the environment (names are the public contract, DESIGN.md §6).

Built once at start-up and passed down; a bad value stops start-up with one line saying what to fix.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import parse_duration
from bot.errors import ConfigError

PLACEHOLDERS = re.compile(r"^(changeme|change-me|xxx+|todo|your[-_ ].*|xoxb-your.*|<.*>|\.\.\.)$", re.I)
HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
Names = Annotated[frozenset[str], NoDecode]


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

    database_url: str = Field("sqlite:///realign.db", alias="DATABASE_URL")
    port: int = Field(3000, alias="PORT", ge=1, le=65535)
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_post_rate: float = Field(5.0, alias="SLACK_POST_RATE", gt=0)
    slack_post_burst: float | None = Field(None, alias="SLACK_POST_BURST", ge=1)
    slack_api_timeout: int = Field(10, alias="SLACK_API_TIMEOUT", ge=1, le=120)
    delivery_lease: timedelta = Field(timedelta(seconds=60), alias="REALIGN_DELIVERY_LEASE")
    microsoft_app_id: str | None = Field(None, alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(None, alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_type: str | None = Field(None, alias="MICROSOFT_APP_TYPE")
    microsoft_app_tenant_id: str | None = Field(None, alias="MICROSOFT_APP_TENANT_ID")
    teams_dev: bool = Field(False, alias="REALIGN_TEAMS_DEV")
    remind_after: timedelta = Field(timedelta(hours=24), alias="REALIGN_REMIND_AFTER")
    escalate_after: timedelta = Field(timedelta(hours=48), alias="REALIGN_ESCALATE_AFTER")
    sweep_interval: timedelta = Field(timedelta(seconds=60), alias="REALIGN_SWEEP_INTERVAL")
    working_hours: tuple[time, time] | None = Field((time(9), time(17)), alias="REALIGN_WORKING_HOURS")
    announcers: Names = Field(frozenset(), alias="REALIGN_ANNOUNCERS")
    admins: Names = Field(frozenset(), alias="REALIGN_ADMINS")

    @field_validator("slack_bot_token", "slack_signing_secret", "microsoft_app_password", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("remind_after", "escalate_after", "sweep_interval", "delivery_lease", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        try:
            return parse_duration(value) if isinstance(value, str) else value
        except ConfigError as error:
            raise ValueError(str(error)) from None

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
        if token and not secret:
            raise ValueError(
                "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not; set both to turn Slack on"
            )
        if secret and not token:
            raise ValueError(
                "SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; set both to turn Slack on"
            )
        if token and not token.startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
        return self

    @model_validator(mode="after")
    def _lease_covers_a_send(self) -> Settings:
        if self.delivery_lease.total_seconds() < 2 * self.slack_api_timeout:
            least = 2 * self.slack_api_timeout
            raise ValueError(f"REALIGN_DELIVERY_LEASE must be at least twice SLACK_API_TIMEOUT ({least}s)")
        return self

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
