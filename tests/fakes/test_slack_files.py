"""The fake's external file upload, driven through slack_sdk's `files_upload_v2` as the product drives it:
the upload URL is the fake's own, the bytes are kept, the file is shared into the DM; Slack's refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U1", name="Una")
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


async def test_an_upload_is_kept_and_shared_into_the_dm(slack: FakeSlack, client: AsyncWebClient) -> None:
    dm = (await client.conversations_open(users="U1"))["channel"]["id"]

    done = await client.files_upload_v2(
        channel=dm, content=b"a,b\n1,2\n", filename="x.csv", title="X", initial_comment="here"
    )

    [upload] = slack.files.shared_in(dm)
    assert upload.content == b"a,b\n1,2\n" and upload.length == 8 and upload.title == "X"
    assert done["file"]["id"] == upload.file_id
    [message] = slack.dms_to("U1")
    assert message["text"] == "here" and message["files"][0]["name"] == "x.csv"
    assert slack.calls_to("files.getUploadURLExternal")[0].params["filename"] == "x.csv"


async def test_a_refused_upload_and_an_unknown_file_share_nothing(
    slack: FakeSlack, client: AsyncWebClient
) -> None:
    slack.files.fail_uploads(status=503)
    with pytest.raises(SlackRequestError):
        await client.files_upload_v2(channel="DU1", content=b"x", filename="x.csv")

    with pytest.raises(SlackApiError) as never_uploaded:
        await client.files_completeUploadExternal(files=[{"id": "F404", "title": "x"}], channel_id="DU1")
    with pytest.raises(SlackApiError) as nowhere:
        await client.files_upload_v2(channel="CNONE", content=b"x", filename="x.csv")

    assert never_uploaded.value.response["error"] == "file_not_found"
    assert nowhere.value.response["error"] == "channel_not_found"
    assert slack.dms_to("U1") == [] and slack.files.shared_in("DU1") == []
