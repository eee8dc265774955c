"""The audit export from `/change-status CHG-n`: **Export CSV** puts the change's CSV (the rows `realign
export` writes) into the clicker's DM with Realign, through Slack's external upload flow
(`files.getUploadURLExternal`, the upload to the URL it returns, `files.completeUploadExternal` into the
DM): slack_sdk's `files_upload_v2`, which takes the upload URL as given.

Who may have it is the core's to say (bot.exporting: the announcer and admins). The click is answered at
once with "preparing…"; the file is written (to a temporary file, from rows read in batches) and uploaded
in the background, since a 100,000-person change takes a while, and the clicker is then told how it went,
a failure in words."""

from __future__ import annotations

import logging
import tempfile
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render, translate
from adapters.slack.replies import Ack, said, tell
from bot import copy
from bot.errors import RealignError
from bot.exporting import Export

if TYPE_CHECKING:
    from adapters.slack.app import SlackServices

log = logging.getLogger(__name__)
UPLOAD_TIMEOUT = 120  # seconds for each call of the upload: a 100,000-row file is some 20 MB


def register_exports(app: AsyncApp) -> None:
    @app.action(render.EXPORT_ACTION)
    async def export_clicked(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
        services: SlackServices,
    ) -> None:
        await ack()
        try:
            if services.exporting is None:
                raise RealignError(copy.BUTTON_UNREADABLE)
            user_id = translate.user_id(body)
            export = await services.exporting.export(key=translate.button_key(action), user_id=user_id)
        except RealignError as error:
            await tell(respond, said(error))
            return
        await tell(respond, copy.EXPORT_PREPARING.format(key=export.change.key))
        services.in_background(send_export(client, respond, export, user_id=user_id))


async def send_export(client: AsyncWebClient, respond: AsyncRespond, export: Export, *, user_id: str) -> None:
    """Write the CSV, upload it into the user's DM, and tell them how it went."""
    key = export.change.key
    try:
        with tempfile.TemporaryFile() as file:
            rows = await export.write_file(file)
            dm = await client.conversations_open(users=user_id)
            await _uploader(client).files_upload_v2(
                channel=dm["channel"]["id"],
                file=file,
                filename=export.filename,
                title=copy.EXPORT_TITLE.format(key=key),
                initial_comment=copy.EXPORT_COMMENT.format(key=key, title=export.change.title, count=rows),
            )
    except Exception as error:  # said to the clicker in words, whatever it was
        code = _code(error)
        unexpected = error if code == "unreadable" else None  # with its stack: not Slack's doing
        log.warning("the audit export of %s was not sent to %s: %s", key, user_id, code, exc_info=unexpected)
        await tell(respond, copy.EXPORT_FAILED.format(key=key, reason=_reason(code)))
        return
    log.info("sent the audit export of %s (%d rows) to %s", key, rows, user_id)
    await tell(respond, copy.EXPORT_SENT.format(key=key, count=rows))


def _uploader(client: AsyncWebClient) -> AsyncWebClient:
    """The clicker's client (its token, base URL and session), with time for a large file."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        session=client.session,
        timeout=max(client.timeout, UPLOAD_TIMEOUT),
        ssl=client.ssl,
        proxy=client.proxy,
        retry_handlers=client.retry_handlers,
    )


def _code(error: Exception) -> str:
    """What went wrong, for the log and to pick the words: Slack's error code where it gave one."""
    if isinstance(error, SlackApiError):
        data = error.response.data
        return str(data.get("error") or "unknown") if isinstance(data, dict) else "not_json"
    if isinstance(error, SlackRequestError):
        return "upload_refused"  # the upload URL answered other than 200 (or the file was refused)
    if isinstance(error, aiohttp.ClientError | TimeoutError):
        return "unreachable"
    return "unreadable"  # the database, most likely: the rows could not be read


def _reason(code: str) -> str:
    return copy.EXPORT_REASONS.get(code) or copy.EXPORT_REASON_OTHER.format(code=code)
