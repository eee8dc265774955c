"""The fake Bot Framework connector, driven through botbuilder's own clients as the Teams adapter drives them.

Besides the fake, these pin down what botbuilder-python 4.17 does on the wire (retries, error types),
since the Teams messenger has to classify exactly those.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import pytest_asyncio
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from botbuilder.schema.teams import TeamsChannelAccount
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AppCredentials, MicrosoftAppCredentials
from botframework.connector.models import ErrorResponseException
from botframework.connector.teams import TeamsConnectorClient
from msrest.exceptions import ClientRequestError, DeserializationError, HttpOperationError

from tests.fakes.teams_connector import FakeConnector

pytestmark = pytest.mark.asyncio

ADA = "29:1ada-mri"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "New CRM"}]}


class StaticToken(AppCredentials):
    """Credentials that sign every request with a fixed bearer token, instead of asking Entra ID."""

    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self.token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self.token


@pytest_asyncio.fixture
async def teams() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        fake.add_user(ADA, name="Ada Lovelace", email="ada@contoso.com")
        yield fake


@pytest_asyncio.fixture
async def client(teams: FakeConnector) -> AsyncIterator[ConnectorClient]:
    async with ConnectorClient(MicrosoftAppCredentials.empty(), base_url=teams.url) as connector:
        yield connector


def one_to_one(teams: FakeConnector, member_id: str = ADA, **extra: Any) -> ConversationParameters:
    """What the Teams messenger sends to open a user's 1:1 chat."""
    return ConversationParameters(
        is_group=False,
        bot=ChannelAccount(id=teams.bot_id),
        members=[ChannelAccount(id=member_id)],
        tenant_id=teams.tenant_id,
        channel_data={"tenant": {"id": teams.tenant_id}},
        **extra,
    )


def card_message() -> Activity:
    return MessageFactory.attachment(CardFactory.adaptive_card(CARD))


async def connector_error(call: Awaitable[object]) -> HttpOperationError:
    """The HttpOperationError (ErrorResponseException for most routes) the client raises for this call."""
    with pytest.raises(HttpOperationError) as raised:
        await call
    return raised.value


def code_of(error: HttpOperationError) -> str:
    return error.response.json()["error"]["code"]


async def test_one_conversation_per_user_and_the_card_lands_in_it(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    first = await client.conversations.create_conversation(one_to_one(teams))
    again = await client.conversations.create_conversation(one_to_one(teams))
    sent = await client.conversations.send_to_conversation(first.id, card_message())

    assert first.id == again.id == teams.personal_conversation(ADA)
    assert first.id.startswith("a:")
    assert teams.cards_to(ADA) == [CARD]
    [activity] = teams.activities_to(ADA)
    assert activity["id"] == sent.id
    assert "replyToId" not in activity
    assert teams.get_payload("create_conversation")["tenantID"] == teams.tenant_id  # botbuilder's spelling
    assert teams.call_count("create_conversation") == 2


async def test_create_conversation_by_aad_object_id_with_a_first_message(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    aad = teams.users[ADA]["aadObjectId"]

    made = await client.conversations.create_conversation(
        one_to_one(teams, aad, activity=MessageFactory.text("Welcome"))
    )

    assert made.id == teams.personal_conversation(ADA)
    assert [a["text"] for a in teams.activities_to(ADA)] == ["Welcome"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"is_group": True, "members": [ChannelAccount(id=ADA), ChannelAccount(id="29:bob")]}, "BadSyntax"),
        ({"members": [ChannelAccount(id="29:nobody")]}, "BadArgument"),
        ({"tenant_id": None, "channel_data": None}, "BadArgument"),
    ],
)
async def test_create_conversation_refusals(
    teams: FakeConnector, client: ConnectorClient, params: dict[str, Any], code: str
) -> None:
    base = one_to_one(teams)
    for key, value in params.items():
        setattr(base, key, value)

    error = await connector_error(client.conversations.create_conversation(base))

    assert isinstance(error, ErrorResponseException)
    assert error.response.status_code == 400
    assert error.error.error.code == code


async def test_reply_and_update_in_place(teams: FakeConnector, client: ConnectorClient) -> None:
    cid = teams.personal_conversation(ADA)
    question = teams.message_from(ADA, "Does this apply to contractors?")

    reply = await client.conversations.reply_to_activity(cid, question["id"], MessageFactory.text("Yes"))
    edited = MessageFactory.text("Acknowledged 3 Dec 10:02")
    edited.id = reply.id
    await client.conversations.update_activity(cid, reply.id, edited)
    missing = await connector_error(client.conversations.update_activity(cid, "404", edited))

    [activity] = teams.activities_in(cid)
    assert activity["replyToId"] == question["id"]
    assert (activity["text"], activity["edits"]) == ("Acknowledged 3 Dec 10:02", 1)
    assert missing.response.status_code == 404
    assert code_of(missing) == "ActivityNotFoundInConversation"


async def test_paged_team_roster_clamps_page_size_and_pages_once_through(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    members = teams.add_users(120)
    teams.add_team("19:general@thread.tacv2", [ADA, *members])

    pages, token = [], None
    while True:
        page = await client.conversations.get_teams_conversation_paged_members(
            "19:general@thread.tacv2", page_size=10, continuation_token=token
        )
        pages.append(page.members)
        token = page.continuation_token
        if not token:
            break

    assert [len(p) for p in pages] == [50, 50, 21]  # Teams treats pageSize < 50 as 50
    ada = pages[0][0]
    assert isinstance(ada, TeamsChannelAccount)
    assert (ada.id, ada.name, ada.email, ada.user_principal_name) == (
        ADA,
        "Ada Lovelace",
        "ada@contoso.com",
        "ada@contoso.com",
    )
    assert (ada.aad_object_id, ada.tenant_id, ada.user_role) == (
        teams.users[ADA]["aadObjectId"],
        teams.tenant_id,
        "user",
    )
    assert {m.id for p in pages for m in p} == {ADA, *members}
    assert [c.query.get("pageSize") for c in teams.calls_to("get_conversation_paged_members")] == ["10"] * 3


async def test_private_channel_has_its_own_roster_and_is_listed_with_the_team(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    team = "19:team@thread.tacv2"
    teams.add_team(team, [ADA, "29:bob", "29:cy"], name="Sales", channels={"19:deals@thread.tacv2": "Deals"})
    teams.add_private_channel("19:leads@thread.tacv2", team, ["29:bob"], name="Leads")
    sync = TeamsConnectorClient(MicrosoftAppCredentials.empty(), base_url=teams.url)  # botbuilder's is sync

    channels = await asyncio.to_thread(sync.teams.get_teams_channels, team)
    details = await asyncio.to_thread(sync.teams.get_team_details, team)
    standard = await client.conversations.get_teams_conversation_paged_members("19:deals@thread.tacv2")
    private = await client.conversations.get_teams_conversation_paged_members("19:leads@thread.tacv2")

    assert [(c.id, c.name) for c in channels.conversations] == [
        (team, None),  # General is unnamed, for clients to localise
        ("19:deals@thread.tacv2", "Deals"),
        ("19:leads@thread.tacv2", "Leads"),
    ]
    assert (details.name, details.channel_count, details.member_count) == ("Sales", 3, 3)
    assert [m.id for m in standard.members] == [ADA, "29:bob", "29:cy"]
    assert [m.id for m in private.members] == ["29:bob"]


async def test_one_member_by_id_or_aad_object_id(teams: FakeConnector, client: ConnectorClient) -> None:
    teams.add_team("19:team@thread.tacv2", [ADA])
    teams.add_user("29:eve")

    by_id = await client.conversations.get_conversation_member("19:team@thread.tacv2", ADA)
    by_aad = await client.conversations.get_conversation_member(
        "19:team@thread.tacv2", teams.users[ADA]["aadObjectId"]
    )
    outsider = await connector_error(
        client.conversations.get_conversation_member("19:team@thread.tacv2", "29:eve")
    )

    assert by_id.id == by_aad.id == ADA
    assert (
        by_id.additional_properties["email"] == "ada@contoso.com"
    )  # TeamsInfo reads it as TeamsChannelAccount
    assert (outsider.response.status_code, code_of(outsider)) == (404, "MemberNotFoundInConversation")


async def test_throttled_post_surfaces_429_with_retry_after_and_posts_nothing(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    cid = teams.personal_conversation(ADA)
    teams.fail("send_to_conversation", status=429, retry_after=7)

    error = await connector_error(client.conversations.send_to_conversation(cid, card_message()))

    assert isinstance(error, ErrorResponseException)
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.error.error.code == "Throttled"
    assert teams.activities_to(ADA) == []
    assert teams.call_count("send_to_conversation") == 1  # botbuilder does not retry a POST


async def test_rate_limit_is_per_tenant(teams: FakeConnector, client: ConnectorClient) -> None:
    teams.add_user("29:other", tenant_id="other-tenant")
    ours, theirs = teams.personal_conversation(ADA), teams.personal_conversation("29:other")
    teams.rate_limit(1, retry_after=3)  # one a second: a burst of one, then a second's wait

    await client.conversations.send_to_conversation(ours, MessageFactory.text("ok"))
    limited = await connector_error(
        client.conversations.send_to_conversation(ours, MessageFactory.text("no"))
    )
    await client.conversations.send_to_conversation(theirs, MessageFactory.text("other tenant"))

    assert (limited.response.status_code, limited.response.headers["Retry-After"]) == (429, "3")
    assert len(teams.activities_in(ours)) == 1
    assert teams.rate_limited == 1
    assert len(teams.activities_in(theirs)) == 1


@pytest.mark.parametrize(
    ("arrange", "route", "status", "code"),
    [
        ("block", "send_to_conversation", 403, "ConversationBlockedByUser"),
        ("uninstall", "send_to_conversation", 403, "BotNotInConversationRoster"),
        ("uninstall", "create_conversation", 403, "ForbiddenOperationException"),
        ("unknown_conversation", "send_to_conversation", 404, "ConversationNotFound"),
        ("huge_card", "send_to_conversation", 413, "MessageSizeTooBig"),
    ],
)
async def test_permanent_refusals_carry_teams_codes(
    teams: FakeConnector, client: ConnectorClient, arrange: str, route: str, status: int, code: str
) -> None:
    cid = teams.personal_conversation(ADA)
    message = card_message()
    if arrange == "block":
        teams.block(ADA)
    elif arrange == "uninstall":
        teams.uninstall(ADA)
    elif arrange == "unknown_conversation":
        cid = "a:1unknown"
    else:
        message.attachments[0].content = {**CARD, "body": [{"type": "TextBlock", "text": "x" * 30_000}]}
    call = (
        client.conversations.create_conversation(one_to_one(teams))
        if route == "create_conversation"
        else client.conversations.send_to_conversation(cid, message)
    )

    error = await connector_error(call)

    assert (error.response.status_code, error.error.error.code) == (status, code)
    assert teams.activities_to(ADA) == []


async def test_a_gateway_html_page_is_a_deserialization_error_without_status(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    cid = teams.personal_conversation(ADA)
    teams.fail("send_to_conversation", status=503)
    teams.fail("send_to_conversation", status=503, code="ServiceUnavailable")

    with pytest.raises(DeserializationError):  # msrest cannot read text/html, so the status is lost
        await client.conversations.send_to_conversation(cid, card_message())
    json_error = await connector_error(client.conversations.send_to_conversation(cid, card_message()))

    assert json_error.response.status_code == 503
    assert teams.activities_to(ADA) == []


async def test_transport_retries_gets_and_puts_on_5xx_but_never_posts(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    cid = teams.personal_conversation(ADA)
    sent = await client.conversations.send_to_conversation(cid, MessageFactory.text("v1"))
    teams.fail("get_conversation_member", status=502)
    teams.fail("update_activity", status=502)
    teams.fail("send_to_conversation", status=502)
    edited = MessageFactory.text("v2")

    member = await client.conversations.get_conversation_member(cid, ADA)
    await client.conversations.update_activity(cid, sent.id, edited)
    post = await connector_error(client.conversations.send_to_conversation(cid, MessageFactory.text("x")))
    teams.fail("update_activity", status=412, code="PreconditionFailed")
    precondition = await connector_error(client.conversations.update_activity(cid, sent.id, edited))

    assert member.id == ADA
    assert teams.call_count("get_conversation_member") == 2  # urllib3 retried the 502 at once
    assert teams.call_count("update_activity") == 3  # 502 retried; 412 is not
    assert (post.response.status_code, teams.call_count("send_to_conversation")) == (502, 2)
    assert (precondition.response.status_code, code_of(precondition)) == (412, "PreconditionFailed")
    assert [a["text"] for a in teams.activities_to(ADA)] == ["v2"]


async def test_failure_after_effect_leaves_the_message_posted(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    cid = teams.personal_conversation(ADA)
    teams.fail("send_to_conversation", status=504, code="GatewayTimeout", after_effect=True)

    error = await connector_error(client.conversations.send_to_conversation(cid, card_message()))

    assert error.response.status_code == 504
    assert teams.cards_to(ADA) == [CARD]  # outcome unknown to the sender, yet delivered


async def test_slow_post_times_out_in_the_client_but_posts(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    cid = teams.personal_conversation(ADA)
    teams.slow("send_to_conversation", seconds=1.0)
    client.config.connection.timeout = 0.3

    with pytest.raises(ClientRequestError):
        await client.conversations.send_to_conversation(cid, card_message())

    assert teams.cards_to(ADA) == [CARD]
    assert teams.call_count("send_to_conversation") == 1


async def test_fail_ratio_and_a_verbatim_response(teams: FakeConnector, client: ConnectorClient) -> None:
    cid = teams.personal_conversation(ADA)
    teams.fail_ratio("send_to_conversation", 0.5, status=500, seed=3)
    teams.add_response("create_conversation", 201, {"id": "a:1canned", "activityId": "42"})

    outcomes = []
    for _ in range(30):
        try:
            await client.conversations.send_to_conversation(cid, MessageFactory.text("x"))
            outcomes.append(201)
        except ErrorResponseException as error:
            outcomes.append(error.response.status_code)
    canned = await client.conversations.create_conversation(one_to_one(teams))

    assert 5 < outcomes.count(500) < 25
    assert len(teams.activities_to(ADA)) == outcomes.count(201)
    assert (canned.id, canned.activity_id) == ("a:1canned", "42")


async def test_a_targeted_fault_hits_only_the_matching_conversation(
    teams: FakeConnector, client: ConnectorClient
) -> None:
    teams.add_user("29:bob")
    ada, bob = teams.personal_conversation(ADA), teams.personal_conversation("29:bob")
    teams.fail(
        "send_to_conversation",
        status=403,
        code="BotDisabledByAdmin",
        times=None,
        when=lambda c: c.conversation_id == bob,
    )

    statuses = []
    for _ in range(2):
        await client.conversations.send_to_conversation(ada, MessageFactory.text("hi"))
        refused = await connector_error(
            client.conversations.send_to_conversation(bob, MessageFactory.text("hi"))
        )
        statuses.append(refused.response.status_code)

    assert statuses == [403, 403]

    assert len(teams.activities_in(ada)) == 2
    assert teams.activities_in(bob) == []


async def test_channel_thread_and_replies_in_it(teams: FakeConnector, client: ConnectorClient) -> None:
    teams.add_team("19:team@thread.tacv2", [ADA])
    params = ConversationParameters(
        is_group=True,
        activity=MessageFactory.text("CHG-12 is live"),
        channel_data={"channel": {"id": "19:team@thread.tacv2"}},
        tenant_id=teams.tenant_id,
    )

    thread = await client.conversations.create_conversation(params)
    await client.conversations.send_to_conversation(thread.id, MessageFactory.text("Reminder"))

    assert thread.id == f"19:team@thread.tacv2;messageid={thread.activity_id}"
    assert [a["text"] for a in teams.activities_in("19:team@thread.tacv2")] == ["CHG-12 is live"]
    assert [a["text"] for a in teams.activities_in(thread.id)] == ["Reminder"]


async def test_bearer_token_is_required_when_configured(teams: FakeConnector) -> None:
    teams.token = "token-1"
    cid = teams.personal_conversation(ADA)

    async with ConnectorClient(MicrosoftAppCredentials.empty(), base_url=teams.url) as anonymous:
        denied = await connector_error(anonymous.conversations.send_to_conversation(cid, card_message()))
    async with ConnectorClient(StaticToken(teams.app_id, "token-1"), base_url=teams.url) as signed:
        await signed.conversations.send_to_conversation(cid, card_message())

    assert denied.response.status_code == 401
    first, second = teams.calls_to("send_to_conversation")
    assert "Authorization" not in first.headers  # empty credentials send no header at all
    assert second.headers["Authorization"] == "Bearer token-1"
    assert len(teams.cards_to(ADA)) == 1


async def test_cloud_adapter_create_then_continue_conversation(teams: FakeConnector) -> None:
    class DevConfig:
        APP_ID = ""  # authentication off: REALIGN_TEAMS_DEV
        APP_PASSWORD = ""

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(DevConfig()))
    sent: dict[str, str] = {}

    async def announce(turn: TurnContext) -> None:
        sent["conversation"] = turn.activity.conversation.id
        sent["activity"] = (await turn.send_activity(card_message())).id

    async def acknowledge(turn: TurnContext) -> None:
        edited = MessageFactory.text("Acknowledged")
        edited.id = sent["activity"]
        await turn.update_activity(edited)

    await adapter.create_conversation(
        "", announce, one_to_one(teams), channel_id="msteams", service_url=teams.url
    )
    reference = ConversationReference(
        service_url=teams.url,
        channel_id="msteams",
        conversation=ConversationAccount(id=sent["conversation"], tenant_id=teams.tenant_id),
        bot=ChannelAccount(id=teams.bot_id),
        user=ChannelAccount(id=ADA),
    )
    await adapter.continue_conversation(reference, acknowledge, "")

    assert [c.route for c in teams.calls] == ["create_conversation", "reply_to_activity", "update_activity"]
    [activity] = teams.activities_to(ADA)
    assert activity["text"] == "Acknowledged"
    # Inside create_conversation's turn, send_activity replies to a made-up activity id (a uuid).
    assert len(teams.calls[1].match["aid"]) == 36


async def test_inbound_activities_deserialize_with_the_fakes_service_url(teams: FakeConnector) -> None:
    teams.add_team("19:team@thread.tacv2", [ADA])

    personal = Activity().deserialize(teams.message_from(ADA, "status CHG-12"))
    click = Activity().deserialize(
        teams.invoke_from(ADA, "adaptiveCard/action", {"action": {"type": "Action.Execute", "verb": "ack"}})
    )
    channel = Activity().deserialize(teams.message_from(ADA, "hi", conversation_id="19:team@thread.tacv2"))

    assert personal.service_url == teams.url
    assert personal.conversation.id == teams.personal_conversation(ADA)
    assert personal.conversation.conversation_type == "personal"
    assert personal.from_property.aad_object_id == teams.users[ADA]["aadObjectId"]
    assert personal.recipient.id == teams.bot_id
    assert (click.type, click.name, click.value["action"]["verb"]) == ("invoke", "adaptiveCard/action", "ack")
    assert channel.conversation.is_group is True
    assert channel.channel_data["team"]["id"] == "19:team@thread.tacv2"
