"""Settings from the environment (docs/settings.md): defaults, formats, one-line errors naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from realign.settings import Settings, load

CONTRACT = (
    "DATABASE_URL",
    "PORT",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "SLACK_POST_RATE",
    "SLACK_POST_BURST",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
    "MICROSOFT_APP_TYPE",
    "MICROSOFT_APP_TENANT_ID",
    "REALIGN_TEAMS_DEV",
    "REALIGN_REMIND_AFTER",
    "REALIGN_ESCALATE_AFTER",
    "REALIGN_SWEEP_INTERVAL",
    "REALIGN_WORKING_HOURS",
    "REALIGN_ANNOUNCERS",
    "REALIGN_ADMINS",
    "REALIGN_DELIVERY_LEASE",
    "REALIGN_MAX_AUDIENCE",
    "REALIGN_WORKING_DAYS",
    "SLACK_API_TIMEOUT",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_STATE_SECRET",
)
REALIGN = Path(sys.executable).with_name("realign")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment holding none of Realign's settings (in any letter case), in an empty directory."""
    for name in list(os.environ):
        if name.upper() in CONTRACT:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def load_with(env: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        env.setenv(name, value)
    return load()


def error_with(env: pytest.MonkeyPatch, **values: str) -> str:
    with pytest.raises(ConfigError) as refused:
        load_with(env, **values)
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load()

    assert settings.database_url == "sqlite:///realign.db"
    assert settings.port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.slack_enabled is False
    assert settings.teams_configured is False
    assert settings.remind_after == timedelta(hours=24)
    assert settings.escalate_after == timedelta(hours=48)
    assert settings.sweep_interval == timedelta(seconds=60)
    assert settings.working_hours == (time(9), time(17))
    assert settings.announcers == frozenset()
    assert settings.admins == frozenset()
    assert (settings.slack_post_rate, settings.slack_post_burst) == (5.0, None)  # burst: a tenth of a second
    assert settings.max_audience == 100_000
    assert settings.working_days == frozenset({0, 1, 2, 3, 4})  # Monday to Friday, as date.weekday()


def test_the_post_rate_and_burst_are_numbers_of_messages(env: pytest.MonkeyPatch) -> None:
    settings = load_with(env, SLACK_POST_RATE="12.5", SLACK_POST_BURST="40")

    assert (settings.slack_post_rate, settings.slack_post_burst) == (12.5, 40.0)
    assert (
        error_with(env, SLACK_POST_BURST="0.5")
        == "SLACK_POST_BURST: Input should be greater than or equal to 1"
    )


def test_the_post_rate_may_be_auto_with_a_ceiling(env: pytest.MonkeyPatch) -> None:
    assert load_with(env).slack_post_rate_max == 20.0
    assert load_with(env, SLACK_POST_RATE="8").post_rate == 8.0
    auto = load_with(env, SLACK_POST_RATE="Auto", SLACK_POST_RATE_MAX="30")
    assert (auto.slack_post_rate, auto.post_rate, auto.slack_post_rate_max) == ("auto", 5.0, 30.0)
    assert "or auto" in error_with(env, SLACK_POST_RATE="fast")
    assert "or auto" in error_with(env, SLACK_POST_RATE="0")
    assert "SLACK_POST_RATE_MAX: Input should be greater than 0" in error_with(env, SLACK_POST_RATE_MAX="0")


def test_durations_are_read_as_operators_write_them(env: pytest.MonkeyPatch) -> None:
    settings = load_with(
        env, REALIGN_REMIND_AFTER="90s", REALIGN_ESCALATE_AFTER="2d", REALIGN_SWEEP_INTERVAL="1h"
    )

    assert settings.remind_after == timedelta(seconds=90)
    assert settings.escalate_after == timedelta(days=2)
    assert settings.sweep_interval == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("08:30-18:00", (time(8, 30), time(18, 0))),
        ("8:00 - 16:45", (time(8, 0), time(16, 45))),
        ("always", None),
        ("Always", None),
    ],
)
def test_working_hours(env: pytest.MonkeyPatch, text: str, hours: tuple[time, time] | None) -> None:
    assert load_with(env, REALIGN_WORKING_HOURS=text).working_hours == hours


@pytest.mark.parametrize("text", ["9-5", "09:00", "25:00-26:00", "09:60-17:00", "nights"])
def test_working_hours_not_like_the_example_are_refused(env: pytest.MonkeyPatch, text: str) -> None:
    assert error_with(env, REALIGN_WORKING_HOURS=text) == (
        f"REALIGN_WORKING_HOURS: '{text}' is not like 09:00-17:00 (or 'always')"
    )


def test_working_hours_until_midnight_reach_midnight(env: pytest.MonkeyPatch) -> None:
    # Fails today: "24:00" is read as 23:00, so the last hour of the day is lost.
    hours = load_with(env, REALIGN_WORKING_HOURS="09:00-24:00").working_hours

    assert hours is not None
    assert hours[0] == time(9)
    assert hours[1] >= time(23, 59)


def test_a_time_past_midnight_is_not_a_working_hour(env: pytest.MonkeyPatch) -> None:
    # Fails today: "24:30" is accepted and silently read as 23:30.
    assert error_with(env, REALIGN_WORKING_HOURS="09:00-24:30") == (
        "REALIGN_WORKING_HOURS: '09:00-24:30' is not like 09:00-17:00 (or 'always')"
    )


def test_announcers_and_admins_are_lists_of_ids_and_handles(env: pytest.MonkeyPatch) -> None:
    settings = load_with(env, REALIGN_ANNOUNCERS="U1, @leads U2", REALIGN_ADMINS=" UADMIN ")

    assert settings.announcers == frozenset({"U1", "@leads", "U2"})
    assert settings.admins == frozenset({"UADMIN"})


def test_slack_is_on_with_a_bot_token_and_a_signing_secret(env: pytest.MonkeyPatch) -> None:
    settings = load_with(
        env,
        SLACK_BOT_TOKEN="xoxb-1-2-abc",
        SLACK_SIGNING_SECRET="s3cr3t",
        SLACK_API_URL="http://127.0.0.1:9/api",
    )

    assert settings.slack_enabled is True
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert "xoxb-1-2-abc" not in repr(settings)


def test_socket_mode_needs_no_signing_secret(env: pytest.MonkeyPatch) -> None:
    # Slack signs no request that comes through Socket Mode; /slack/events stays off without the secret.
    settings = load_with(env, SLACK_BOT_TOKEN="xoxb-1-2-abc", SLACK_APP_TOKEN=" xapp-1-A1-2-abc ")

    assert settings.slack_enabled and settings.slack_socket_mode
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is not None
    assert settings.slack_app_token.get_secret_value() == "xapp-1-A1-2-abc"
    assert "xapp-1-A1-2-abc" not in repr(settings)


def test_without_an_app_token_slack_is_served_over_http(env: pytest.MonkeyPatch) -> None:
    settings = load_with(
        env, SLACK_BOT_TOKEN="xoxb-1-2-abc", SLACK_SIGNING_SECRET="s3cr3t", SLACK_APP_TOKEN=""
    )

    assert settings.slack_enabled and not settings.slack_socket_mode


def test_slack_secrets_are_used_without_the_whitespace_around_them(env: pytest.MonkeyPatch) -> None:
    # Fails today: validation strips the values but keeps them unstripped, and the runtime sends them as
    # they are (a bearer token with a trailing space; a signing secret that never matches a signature).
    settings = load_with(env, SLACK_BOT_TOKEN=" xoxb-1-2-abc ", SLACK_SIGNING_SECRET="s3cr3t\t")

    assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-1-2-abc"
    assert settings.slack_signing_secret.get_secret_value() == "s3cr3t"


def test_a_postgres_url_is_kept_as_given(env: pytest.MonkeyPatch) -> None:
    url = "postgres://realign:pw@db.internal:5432/realign"

    assert load_with(env, DATABASE_URL=url).database_url == url


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            {"REALIGN_REMIND_AFTER": "soon"},
            "REALIGN_REMIND_AFTER: 'soon' is not a duration; write it like 90s, 15m, 24h or 2d",
        ),
        ({"REALIGN_ESCALATE_AFTER": "0s"}, "REALIGN_ESCALATE_AFTER: '0s' must be longer than zero"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2-abc"},
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not; set both to turn Slack on"
            " (or SLACK_APP_TOKEN instead of the secret, for Socket Mode)",
        ),
        (
            {"SLACK_SIGNING_SECRET": "s3cr3t"},
            "SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; set both to turn Slack on",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-your-token", "SLACK_SIGNING_SECRET": "s3cr3t"},
            "SLACK_BOT_TOKEN still holds a placeholder; set the real value from your app's settings page",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "changeme"},
            "SLACK_SIGNING_SECRET still holds a placeholder; set the real value from your app's"
            " settings page",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxp-1-2-abc", "SLACK_SIGNING_SECRET": "s3cr3t"},
            "SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)",
        ),
        ({"SLACK_API_URL": "localhost:9/api"}, "SLACK_API_URL: 'localhost:9/api' is not an http(s) URL"),
        (
            {"SLACK_APP_TOKEN": "xapp-1-A1-2-abc"},
            "SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not; Socket Mode needs both",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xoxb-1-2-abc"},
            "SLACK_APP_TOKEN must be an app-level token (it starts with xapp-; create one with the"
            " connections:write scope under Basic Information)",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_APP_TOKEN": "xapp-your-app-token"},
            "SLACK_APP_TOKEN still holds a placeholder; set the real value from your app's settings page",
        ),
    ],
    ids=[
        "bad duration",
        "zero duration",
        "token without signing secret",
        "signing secret without token",
        "placeholder token",
        "placeholder signing secret",
        "not a bot token",
        "api url without scheme",
        "app token without bot token",
        "not an app-level token",
        "placeholder app token",
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    env: pytest.MonkeyPatch, values: dict[str, str], error: str
) -> None:
    assert error_with(env, **values) == error


def test_every_bad_setting_is_named_in_the_one_line(env: pytest.MonkeyPatch) -> None:
    message = error_with(env, REALIGN_REMIND_AFTER="soon", PORT="0")

    assert sorted(message.split("; ")) == [
        "PORT: Input should be greater than or equal to 1",
        "REALIGN_REMIND_AFTER: 'soon' is not a duration",
        "write it like 90s, 15m, 24h or 2d",
    ]


# --- bounds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "inside", "outside", "reason"),
    [
        ("REALIGN_REMIND_AFTER", "5s", "4s", "from 5s to 90d"),
        ("REALIGN_REMIND_AFTER", "90d", "91d", "from 5s to 90d"),
        ("REALIGN_ESCALATE_AFTER", "2160h", "2160h1s", "from 5s to 90d"),
        ("REALIGN_SWEEP_INTERVAL", "1s", "0s", "must be longer than zero"),
        ("REALIGN_SWEEP_INTERVAL", "1h", "61m", "from 1s to 1h"),
        ("REALIGN_DELIVERY_LEASE", "1h", "1h1s", "at most 1h"),
    ],
)
def test_durations_have_sane_ranges(
    env: pytest.MonkeyPatch, name: str, inside: str, outside: str, reason: str
) -> None:
    load_with(env, **{name: inside})
    assert error_with(env, **{name: outside}).startswith(f"{name}: '{outside}' ")
    assert reason in error_with(env, **{name: outside})


@pytest.mark.parametrize("text", ["99999999999d", "3000000d", "9" * 5000 + "s"])
def test_an_absurd_duration_is_one_line_not_a_crash(env: pytest.MonkeyPatch, text: str) -> None:
    assert error_with(env, REALIGN_REMIND_AFTER=text).startswith("REALIGN_REMIND_AFTER: ")


def test_settings_given_as_values_are_bounded_too() -> None:
    with pytest.raises(ValueError, match="out of range: from 5s to 90d"):
        Settings(REALIGN_REMIND_AFTER=timedelta(days=91))  # type: ignore[call-arg]


def test_the_audience_cap(env: pytest.MonkeyPatch) -> None:
    assert load_with(env, REALIGN_MAX_AUDIENCE="1").max_audience == 1
    assert load_with(env, REALIGN_MAX_AUDIENCE="250000").max_audience == 250_000
    assert error_with(env, REALIGN_MAX_AUDIENCE="0") == (
        "REALIGN_MAX_AUDIENCE: Input should be greater than or equal to 1"
    )
    assert error_with(env, REALIGN_MAX_AUDIENCE="lots").startswith("REALIGN_MAX_AUDIENCE: ")


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,tue,thu", {0, 1, 3}),
        ("Mon, Tue  Thu", {0, 1, 3}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("saturday", {5}),
        ("mon-wed,fri", {0, 1, 2, 4}),
        ("always", set(range(7))),
        ("ALL", set(range(7))),
    ],
)
def test_working_days(env: pytest.MonkeyPatch, text: str, days: set[int]) -> None:
    assert load_with(env, REALIGN_WORKING_DAYS=text).working_days == frozenset(days)


@pytest.mark.parametrize("text", ["", "weekdays", "mo-fr", "mon-", "mon-tue-wed", "1-5", "mon;fri"])
def test_working_days_not_like_the_examples_are_refused(env: pytest.MonkeyPatch, text: str) -> None:
    assert error_with(env, REALIGN_WORKING_DAYS=text) == (
        f"REALIGN_WORKING_DAYS: '{text}' is not like mon-fri, mon,tue,thu or always"
    )


def test_a_database_password_is_not_in_the_settings_repr(env: pytest.MonkeyPatch) -> None:
    settings = load_with(env, DATABASE_URL="postgresql://realign:hunter2secret@db.internal/realign")
    assert "hunter2secret" not in repr(settings)


# --- the command line -----------------------------------------------------------------------------

PASSWORD = "hunter2secret"
CLI_RUNS = {
    "serve with a bad duration": (["serve"], {"REALIGN_REMIND_AFTER": "soon"}),
    "db upgrade with an unreachable database": (
        ["db", "upgrade"],
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"},
    ),
    "worker with an unreachable database and a password": (
        ["worker"],
        {"DATABASE_URL": f"postgresql://realign:{PASSWORD}@127.0.0.1:1/realign"},
    ),
    "db upgrade with a malformed URL and a password": (
        ["db", "upgrade"],
        {"DATABASE_URL": f"postgresql://realign:{PASSWORD}@127.0.0.1:port/realign"},
    ),
    "db upgrade with an unescaped @ in the password": (
        ["db", "upgrade"],
        {"DATABASE_URL": f"postgresql://realign:{PASSWORD}@x@127.0.0.1:1/realign"},
    ),
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[int, str]]]:
    """Each run of `realign` above: (exit code, stderr). They start together; each takes ~2 s of imports."""
    assert REALIGN.exists(), f"the realign script is not next to {sys.executable}"
    started = {}
    for name, (args, extra) in CLI_RUNS.items():
        cwd = tmp_path_factory.mktemp("cli")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **extra}
        started[name] = subprocess.Popen(
            [str(REALIGN), *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    results = {}
    try:
        for name, process in started.items():
            _, stderr = process.communicate(timeout=30)
            results[name] = (process.returncode, stderr)
        yield results
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        ("serve with a bad duration", "REALIGN_REMIND_AFTER: 'soon' is not a duration"),
        ("db upgrade with an unreachable database", "cannot use the database postgresql"),
        ("worker with an unreachable database and a password", "postgresql://realign:***@127.0.0.1:1/"),
        ("db upgrade with a malformed URL and a password", "is not a database URL"),
        ("db upgrade with an unescaped @ in the password", "realign:***@"),
    ],
)
def test_the_cli_reports_an_operators_mistake_in_one_line(
    cli_runs: dict[str, tuple[int, str]], run: str, reason: str
) -> None:
    code, stderr = cli_runs[run]

    assert code != 0
    assert "Traceback" not in stderr
    (line,) = stderr.splitlines()
    assert line.startswith("realign: error: ")
    assert reason in line


@pytest.mark.parametrize("run", [name for name in CLI_RUNS if "password" in name])
def test_a_database_password_is_never_printed(cli_runs: dict[str, tuple[int, str]], run: str) -> None:
    code, stderr = cli_runs[run]

    assert code != 0
    assert PASSWORD not in stderr
    assert "x@127" not in stderr  # nor any piece of one that holds an unescaped '@'


OAUTH = {"SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "c1i3nt", "SLACK_STATE_SECRET": "st4te"}


def test_many_workspaces_install_through_oauth_with_no_bot_token(env: pytest.MonkeyPatch) -> None:
    settings = load_with(env, SLACK_SIGNING_SECRET="s3cr3t", **OAUTH)

    assert settings.slack_oauth and not settings.slack_enabled
    assert settings.slack_client_secret is not None and settings.slack_state_secret is not None
    assert "c1i3nt" not in repr(settings) and "st4te" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            {
                "SLACK_CLIENT_ID": "1111.2222",
                "SLACK_CLIENT_SECRET": "c1i3nt",
                "SLACK_SIGNING_SECRET": "s3cr3t",
            },
            "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET set but SLACK_STATE_SECRET not; set all three to install"
            " through OAuth",
        ),
        (
            {**OAUTH, "SLACK_CLIENT_SECRET": "changeme", "SLACK_SIGNING_SECRET": "s3cr3t"},
            "SLACK_CLIENT_SECRET still holds a placeholder; set the real value from your app's settings page",
        ),
        (
            {**OAUTH, "SLACK_STATE_SECRET": "<state secret>", "SLACK_SIGNING_SECRET": "s3cr3t"},
            "SLACK_STATE_SECRET still holds a placeholder; set the real value from your app's settings page",
        ),
        (OAUTH, "SLACK_CLIENT_ID is set but SLACK_SIGNING_SECRET is not; OAuth installs need it"),
        (
            {**OAUTH, "SLACK_SIGNING_SECRET": "s3cr3t", "SLACK_BOT_TOKEN": "xoxb-1-2-abc"},
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set; use SLACK_BOT_TOKEN for one workspace or"
            " SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for many, not both",
        ),
    ],
    ids=[
        "two of three",
        "placeholder client secret",
        "placeholder state secret",
        "no signing secret",
        "both",
    ],
)
def test_oauth_settings_come_all_three_or_none(
    env: pytest.MonkeyPatch, values: dict[str, str], error: str
) -> None:
    assert error_with(env, **values) == error
