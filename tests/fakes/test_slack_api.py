"""The fake Slack Web API, driven through slack_sdk's AsyncWebClient exactly as the product drives it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.standalone import SlackControl

pytestmark = pytest.mark.asyncio

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def slack_error(call: Awaitable[object]) -> SlackApiError:
    """The SlackApiError the client raises for this call."""
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value


async def error_code(call: Awaitable[object]) -> str:
    """The Slack error code the client gets for this call."""
    return (await slack_error(call)).response["error"]


async def test_users_list_pages_through_every_user_once(slack: FakeSlack, client: AsyncWebClient) -> None:
    for n in range(450):
        slack.add_user(f"U{n:04d}")

    seen: list[str] = []
    cursor = None
    while cursor != "":
        page = await client.users_list(limit=200, cursor=cursor)
        seen += [member["id"] for member in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]

    assert len(seen) == 450
    assert set(seen) == {f"U{n:04d}" for n in range(450)}
    assert len(slack.calls_to("users.list")) == 3


async def test_directory_lookups(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1", email="ada@example.com", tz="America/New_York")
    slack.add_usergroup("S1", "ops", ["U1"])
    slack.add_channel("C1", ["U1", "UBOT"])

    assert (await client.users_info(user="U1"))["user"]["profile"]["email"] == "ada@example.com"
    assert (await client.usergroups_list())["usergroups"][0]["user_count"] == 1
    assert (await client.usergroups_users_list(usergroup="S1"))["users"] == ["U1"]
    assert (await client.conversations_members(channel="C1"))["members"] == ["U1", "UBOT"]
    assert await error_code(client.usergroups_users_list(usergroup="S9")) == "no_such_subteam"
    assert await error_code(client.conversations_members(channel="C9")) == "channel_not_found"
    assert (await client.auth_test())["user_id"] == "UBOT"


async def test_post_to_a_user_id_lands_in_their_dm(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")

    answer = await client.chat_postMessage(channel="U1", text="hello", blocks=[section("hello")])
    opened = await client.conversations_open(users="U1")

    assert answer["channel"] == opened["channel"]["id"] == "D" + "U1"
    [message] = slack.dms_to("U1")
    assert message["ts"] == answer["ts"]
    assert message["text"] == "hello"
    assert message["user"] == "UBOT"
    assert slack.dms_to("DU1") == [message]


async def test_form_encoded_posts_decode_json_fields(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")

    await client.api_call(
        "chat.postMessage", data={"channel": "U1", "blocks": '[{"type": "divider"}]', "text": "x"}
    )

    assert slack.dms_to("U1")[0]["blocks"] == [{"type": "divider"}]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("channel", "extra", "code"),
    [
        ("U404", {}, "user_not_found"),
        ("UGONE", {}, "account_inactive"),
        ("C404", {}, "channel_not_found"),
        ("U1", {"blocks": [section("b")] * 51}, "invalid_blocks"),
        ("U1", {"text": "x" * 40_001}, "msg_too_long"),
        ("U1", {"text": ""}, "no_text"),
    ],
)
async def test_post_message_errors(
    slack: FakeSlack, client: AsyncWebClient, channel: str, extra: dict, code: str
) -> None:
    slack.add_user("U1")
    slack.add_user("UGONE", deleted=True)

    error = await slack_error(client.chat_postMessage(channel=channel, **{"text": "hi", **extra}))

    assert error.response.status_code == 200
    assert error.response["error"] == code
    assert slack.dms_to("U1") == []


async def test_wrong_token_is_invalid_auth(slack: FakeSlack) -> None:
    intruder = AsyncWebClient(token="xoxb-other", base_url=slack.url, retry_handlers=[])

    assert await error_code(intruder.auth_test()) == "invalid_auth"


async def test_unknown_method(client: AsyncWebClient) -> None:
    assert await error_code(client.api_call("pins.add")) == "unknown_method"


async def test_rate_limit_answers_429_with_retry_after(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    slack.rate_limit("chat.postMessage", 1, retry_after=7)

    await client.chat_postMessage(channel="U1", text="first")
    error = await slack_error(client.chat_postMessage(channel="U1", text="second"))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert [m["text"] for m in slack.dms_to("U1")] == ["first"]


async def test_rate_limit_is_per_team(slack: FakeSlack, client: AsyncWebClient) -> None:
    """One team's empty bucket never drains the other's: with T001 refused, T002 still gets its whole
    bucket at once, and neither team is ever given more than its rate. Nothing here depends on how
    fast the machine is: a slow machine only refills buckets, it never empties them."""
    per_second = 10
    slack.add_user("U1")
    slack.add_team("T002", token="xoxb-two").add_user("U2")
    other = AsyncWebClient(token="xoxb-two", base_url=slack.url, retry_handlers=[])
    slack.rate_limit("chat.postMessage", per_second)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def post_until_refused(web: AsyncWebClient, user: str) -> int:
        accepted = 0
        while True:
            try:
                await web.chat_postMessage(channel=user, text="hi")
            except SlackApiError as error:
                assert error.response.status_code == 429
                return accepted
            accepted += 1

    first = await post_until_refused(client, "U1")
    assert first >= per_second  # a full bucket, then refused
    for _ in range(per_second):  # T002's bucket is untouched by T001's
        await other.chat_postMessage(channel="U2", text="hi")
    second = per_second + await post_until_refused(other, "U2")
    elapsed = loop.time() - started

    most = per_second * (1 + elapsed)  # a full bucket (one second's worth), then the rate
    assert first <= most + 1 and second <= most + 1, (first, second, elapsed)
    assert slack.rate_limited_by_team["T001"] > 0 and slack.rate_limited_by_team["T002"] > 0
    assert len(slack.dms_to("U1")) == first
    assert len(slack.dms_to("U2", team="T002")) == second


async def test_fail_after_effect_raises_yet_posts(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    slack.fail("chat.postMessage", status=503, after_effect=True)

    error = await slack_error(client.chat_postMessage(channel="U1", text="maybe"))

    assert error.response.status_code == 503
    assert len(slack.dms_to("U1")) == 1
    await client.chat_postMessage(channel="U1", text="again")
    assert len(slack.dms_to("U1")) == 2


async def test_fail_without_effect_and_fail_ratio(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    slack.fail("chat.postMessage", times=2)
    for _ in range(2):
        error = await slack_error(client.chat_postMessage(channel="U1", text="x"))
        assert error.response.status_code == 500
    slack.fail_ratio("users.info", 0.5, seed=1)

    outcomes = []
    for _ in range(40):
        try:
            outcomes.append((await client.users_info(user="U1"))["ok"])
        except SlackApiError as error:
            outcomes.append(error.response.status_code)

    assert slack.dms_to("U1") == []
    assert 5 < outcomes.count(500) < 35
    assert outcomes.count(True) == 40 - outcomes.count(500)


async def test_slow_call_times_out_in_the_client_but_posts(slack: FakeSlack) -> None:
    slack.add_user("U1")
    slack.slow("chat.postMessage", seconds=3)
    impatient = AsyncWebClient(token="xoxb-test", base_url=slack.url, timeout=1, retry_handlers=[])

    with pytest.raises((asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        await impatient.chat_postMessage(channel="U1", text="lost answer")

    assert [m["text"] for m in slack.dms_to("U1")] == ["lost answer"]


async def test_slow_call_without_effect_leaves_nothing_when_the_client_gives_up(slack: FakeSlack) -> None:
    slack.add_user("U1")
    slack.slow("chat.postMessage", seconds=1.5, after_effect=False)
    impatient = AsyncWebClient(token="xoxb-test", base_url=slack.url, timeout=1, retry_handlers=[])

    with pytest.raises((asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        await impatient.chat_postMessage(channel="U1", text="never sent")
    await asyncio.sleep(1)  # past the end of the server's sleep

    assert slack.dms_to("U1") == []


async def test_error_rule_matches_params(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    slack.add_user("U2")
    slack.error("chat.postMessage", "messages_tab_disabled", when=lambda params: params["channel"] == "U2")

    await client.chat_postMessage(channel="U1", text="ok")
    error = await slack_error(client.chat_postMessage(channel="U2", text="nope"))

    assert error.response["error"] == "messages_tab_disabled"
    assert len(slack.dms_to("U1")) == 1
    assert slack.dms_to("U2") == []


async def test_history_shows_metadata_only_when_asked(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    metadata = {"event_type": "realign_delivery", "event_payload": {"delivery_id": 42}}
    first = await client.chat_postMessage(channel="U1", text="one", metadata=metadata)
    await client.chat_postMessage(channel="U1", text="two")
    await client.chat_postMessage(channel="U1", text="reply", thread_ts=first["ts"])

    bare = await client.conversations_history(channel="DU1")
    full = await client.conversations_history(channel="DU1", include_all_metadata=True)
    thread = await client.conversations_replies(channel="DU1", ts=first["ts"])

    assert [m["text"] for m in bare["messages"]] == ["two", "one"]
    assert all("metadata" not in m for m in bare["messages"])
    assert full["messages"][1]["metadata"] == metadata
    assert [m["text"] for m in thread["messages"]] == ["one", "reply"]


async def test_history_window_and_update(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    posted = [(await client.chat_postMessage(channel="U1", text=f"m{n}"))["ts"] for n in range(3)]

    window = await client.conversations_history(channel="DU1", oldest=posted[0], limit=1)
    updated = await client.chat_update(channel="DU1", ts=posted[1], text="edited")

    assert [m["ts"] for m in window["messages"]] == [posted[2]]
    assert window["has_more"] is True
    assert updated["text"] == "edited"
    assert slack.dms_to("U1")[1]["edits"] == 1
    assert await error_code(client.chat_update(channel="DU1", ts="1.000000", text="x")) == "message_not_found"


async def test_views_open_and_update(slack: FakeSlack, client: AsyncWebClient) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Announce"}, "blocks": [section("a")]}

    opened = (await client.views_open(trigger_id="t1", view=modal))["view"]
    emptied = {**modal, "blocks": []}
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view=emptied)

    assert opened["id"].startswith("V")
    assert slack.views[opened["id"]]["blocks"] == [] == updated["view"]["blocks"]
    stale_hash = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert await error_code(stale_hash) == "hash_conflict"
    assert await error_code(client.views_open(trigger_id="", view=modal)) == "invalid_arguments"
    too_big = {**modal, "blocks": [section("b")] * 101}
    assert await error_code(client.views_open(trigger_id="t2", view=too_big)) == "invalid_blocks"


async def test_post_ephemeral_is_recorded(slack: FakeSlack, client: AsyncWebClient) -> None:
    slack.add_user("U1")
    slack.add_channel("C1", ["U1"])

    answer = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")

    assert slack.ephemerals[0]["text"] == "only you"
    assert slack.ephemerals[0]["message_ts"] == answer["message_ts"]
    assert slack.messages_in("C1") == []


async def test_standalone_cli_serves_what_a_benchmark_needs() -> None:
    """Run as a process of its own (as the benchmarks run it), the fake prints its URL, takes users and a
    user group of them through the control API, and reports calls, DMs and opened views."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.slack_api",
        "--port",
        "0",
        "--rate-limit",
        "chat.postMessage=5",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), timeout=10)).decode().strip()
        async with aiohttp.ClientSession() as http:
            control = SlackControl(http, url)
            assert await control.add_users(3) == 3
            await control.add_usergroup("S0ALL", "everyone", count=2, start=1)
            client = AsyncWebClient(token="any", base_url=url, session=http, retry_handlers=[])
            await client.chat_postMessage(channel="U00000001", text="hi")
            members = await client.usergroups_users_list(usergroup="S0ALL")
            opened = await client.views_open(trigger_id="t", view={"type": "modal", "blocks": []})
            stats = await control.stats()
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0

    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/")
    assert members["users"] == ["U00000001", "U00000002"]
    assert stats == {
        "calls": {"chat.postMessage": 1, "usergroups.users.list": 1, "views.open": 1},
        "dm_counts": {"U00000001": 1},
        "rate_limited": 0,
        "views": [opened["view"]["id"]],
    }
