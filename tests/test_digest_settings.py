"""REALIGN_DIGEST_CHANNEL and REALIGN_DIGEST_CRON (docs/settings.md): the defaults, a crontab read as
cron reads it (Sunday is 0 and 7, in UTC), the slot a moment falls in, and one-line start-up errors that
name the setting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.digest import Destination
from bot.errors import ConfigError
from realign.cron import CronSchedule
from realign.digest import destination
from realign.settings import Settings, load
from realign.wiring import Logins

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}
OAUTH = {
    "SLACK_CLIENT_ID": "1.2",
    "SLACK_CLIENT_SECRET": "secret",
    "SLACK_STATE_SECRET": "state",
    "SLACK_SIGNING_SECRET": "s3cret",
}
TEAMS = {"MICROSOFT_APP_ID": "00000000-0000-4000-8000-00000000b07a", "MICROSOFT_APP_PASSWORD": "pw"}
TENANT = "9f1c2e34-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
CHANNEL = "19:support-team@thread.tacv2"
TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def loaded(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name in ("REALIGN_DIGEST_CHANNEL", "REALIGN_DIGEST_CRON", *SLACK, *OAUTH, "SLACK_APP_TOKEN", *TEAMS):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load()


def test_no_digest_by_default_and_monday_nine_utc_when_a_channel_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert loaded(monkeypatch).digest_channel is None
    settings = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=" C0123ABCD ", **SLACK)

    assert settings.digest_channel == "C0123ABCD" and settings.digest_cron == "0 9 * * mon"
    assert CronSchedule(settings.digest_cron).latest(TUESDAY) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="", **SLACK).digest_channel is None  # empty: unset


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"REALIGN_DIGEST_CRON": "0 9 * *"}, "REALIGN_DIGEST_CRON: '0 9 * *' is not a five-field crontab"),
        ({"REALIGN_DIGEST_CRON": "0 25 * * mon"}, "REALIGN_DIGEST_CRON: '0 25 * * mon' is not a crontab"),
        ({"REALIGN_DIGEST_CRON": "0 9 * * funday"}, "REALIGN_DIGEST_CRON: '0 9 * * funday' is not a cron"),
        ({"REALIGN_DIGEST_CRON": "0 9 1 * mon"}, "restricts both the day of the month and the day of the"),
        ({"REALIGN_DIGEST_CRON": "0 0 31 2 *"}, "REALIGN_DIGEST_CRON: '0 0 31 2 *' names no moment that"),
        (
            {"REALIGN_DIGEST_CHANNEL": "#general", **SLACK},
            "REALIGN_DIGEST_CHANNEL: '#general' is not a Slack",
        ),
        ({"REALIGN_DIGEST_CHANNEL": "C0123ABCD"}, "REALIGN_DIGEST_CHANNEL is set but Slack is not"),
        ({"REALIGN_DIGEST_CHANNEL": "C0123ABCD", **OAUTH}, "write REALIGN_DIGEST_CHANNEL as <team id>/<ch"),
    ],
)
def test_a_setting_that_cannot_work_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        loaded(monkeypatch, **values)

    assert said in str(refused.value)


def test_many_workspaces_name_the_team_of_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    assert loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="T0123/C0456", **OAUTH).digest_channel == "T0123/C0456"


@pytest.mark.parametrize(
    ("expression", "at", "slot"),
    [
        ("0 9 * * mon", TUESDAY, datetime(2026, 11, 30, 9, 0)),
        ("0 9 * * mon", datetime(2026, 11, 30, 9, 0), datetime(2026, 11, 30, 9, 0)),  # at its moment
        ("0 9 * * 1", datetime(2026, 11, 30, 8, 59, 59), datetime(2026, 11, 23, 9, 0)),  # 1 is Monday
        ("30 17 * * 0", TUESDAY, datetime(2026, 11, 29, 17, 30)),  # 0 is Sunday, as in cron ...
        ("30 17 * * 7", TUESDAY, datetime(2026, 11, 29, 17, 30)),  # ... and so is 7
        ("0 8 * * 1-5", TUESDAY, datetime(2026, 12, 1, 8, 0)),
        ("0 8 * * sat,sun", TUESDAY, datetime(2026, 11, 29, 8, 0)),
        ("*/15 * * * *", datetime(2026, 12, 1, 9, 14, 59), datetime(2026, 12, 1, 9, 0)),
        ("0 6 1 * *", TUESDAY, datetime(2026, 12, 1, 6, 0)),
        ("0 0 29 2 *", TUESDAY, datetime(2024, 2, 29, 0, 0)),  # years back
    ],
)
def test_the_slot_is_the_latest_moment_at_or_before_now_in_utc(
    expression: str, at: datetime, slot: datetime
) -> None:
    schedule = CronSchedule(expression)

    found = schedule.latest(at.replace(tzinfo=UTC))

    assert found == slot.replace(tzinfo=UTC)
    earlier = schedule.before(slot.replace(tzinfo=UTC))
    assert earlier is not None and earlier < slot.replace(tzinfo=UTC)
    assert schedule.latest(slot.replace(tzinfo=UTC) - timedelta(microseconds=1)) == earlier


def test_the_destination_is_the_token_workspaces_channel_or_the_named_teams(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    one = SimpleNamespace(logins=Logins(slack_workspace="slack:T001"))  # what Wiring learnt from auth.test
    many = SimpleNamespace(logins=Logins())

    plain = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="C0123", **SLACK)
    same_team = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="T001/C0123", **SLACK)
    other_team = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="T999/C0123", **SLACK)
    oauth = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL="T999/C0123", **OAUTH)

    assert destination(plain, one) == Destination("slack:T001", "C0123")
    assert destination(same_team, one) == Destination("slack:T001", "C0123")
    assert destination(oauth, many) == Destination("slack:T999", "C0123")
    assert destination(loaded(monkeypatch, **SLACK), one) is None
    with caplog.at_level(logging.ERROR, logger="realign.digest"):
        assert destination(other_team, one) is None
    assert "names Slack team T999, but SLACK_BOT_TOKEN belongs to T001" in caplog.text


def test_a_teams_channel_is_its_tenant_and_its_conversation_id(monkeypatch: pytest.MonkeyPatch) -> None:
    upper = f" teams:{TENANT.upper()}/{CHANNEL} "  # as pasted: the tenant id is read in lower case
    settings = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=upper, **TEAMS)
    dev = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=f"teams:{TENANT}/{CHANNEL}", REALIGN_TEAMS_DEV="1")
    with_slack = loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=f"teams:{TENANT}/{CHANNEL}", **TEAMS, **OAUTH)

    assert settings.digest_channel == dev.digest_channel == f"teams:{TENANT}/{CHANNEL}"
    for each in (settings, dev, with_slack):  # Slack's logins do not matter to a Teams channel
        wiring = SimpleNamespace(logins=Logins(slack_workspace="slack:T001"))
        assert destination(each, wiring) == Destination(f"teams:{TENANT}", CHANNEL)
    assert Destination(f"teams:{TENANT}", CHANNEL).key == f"teams:{TENANT}/{CHANNEL}"


@pytest.mark.parametrize(
    ("channel", "said"),
    [
        (f"teams:{CHANNEL}", f"REALIGN_DIGEST_CHANNEL: 'teams:{CHANNEL}' is not teams:<tenant id>/<channel"),
        (f"teams:contoso/{CHANNEL}", "is not teams:<tenant id>/<channel conversation id>, e.g. teams:"),
        (f"teams:{TENANT}/C0123ABCD", f"'teams:{TENANT}/C0123ABCD' is not teams:<tenant id>/<channel"),
        (f"teams:{TENANT}/19:abc", "is not teams:<tenant id>/<channel conversation id>"),
        (f"teams:{TENANT}/{CHANNEL}/x", "is not teams:<tenant id>/<channel conversation id>"),
        (f"TEAMS:{TENANT}", "is not teams:<tenant id>/<channel conversation id>"),
    ],
)
def test_a_teams_channel_written_otherwise_stops_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, channel: str, said: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=channel, **TEAMS)

    assert said in str(refused.value)


def test_a_teams_channel_needs_teams_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as refused:
        loaded(monkeypatch, REALIGN_DIGEST_CHANNEL=f"teams:{TENANT}/{CHANNEL}", **SLACK)

    assert "REALIGN_DIGEST_CHANNEL names a Teams channel but Teams is not configured" in str(refused.value)
    assert "MICROSOFT_APP_ID" in str(refused.value)
