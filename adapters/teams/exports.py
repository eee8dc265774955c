"""Export CSV on Teams: the audit file of `change-status CHG-n`, into the asker's 1:1 chat with Realign.

A bot may put a file in a personal chat only with the person's consent (Teams' file consent flow):
1. The Export CSV click (announcer and admins, as on Slack: bot.exporting) is answered on the card at
   once; in the background the CSV is written to learn its size, and a file consent card ("Realign
   wants to send you CHG-3-audit.csv, 2 MB") goes to the asker's 1:1 chat.
2. Accepting it is a `fileConsent/invoke` carrying an upload URL in the person's OneDrive. The asker's
   right to the rows is checked again, the invoke is answered, and in the background the CSV is written
   afresh (the rows as they are now) and PUT whole to that URL; then a file card showing the file is
   posted, or the failure said in words. Declining is answered with a note.

Nothing is kept between the steps but the change key in the consent card's context, so the accept may
reach any web process, after any restart.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Coroutine
from typing import IO, Any, Protocol

from botbuilder.schema import Activity, ActivityTypes, Attachment
from botbuilder.schema.teams import FileConsentCard, FileConsentCardResponse, FileInfoCard, FileUploadInfo

from adapters.teams import cards, translate
from bot import copy
from bot.exporting import Export, Exporting
from bot.ports import SendResult, Sent

log = logging.getLogger(__name__)
FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
SPOOLED = 8 * 1024 * 1024  # bytes of CSV kept in memory before it spills to a temporary file


class Sender(Protocol):
    """What the exports need of adapters.teams.messenger.TeamsMessenger."""

    async def send_activity(
        self, user_id: str, activity: Activity, *, reply_to: str | None = None
    ) -> SendResult: ...


class Uploader(Protocol):
    """adapters.teams.connector.Connectors.upload."""

    async def upload(self, url: str, file: IO[bytes], *, size: int) -> int: ...


def _message(*attachments: Attachment, summary: str = "") -> Activity:
    return Activity(type=ActivityTypes.message, summary=summary, attachments=list(attachments))


async def _written(export: Export, file: IO[bytes]) -> tuple[int, int]:
    """(rows, bytes) of the CSV written into `file`, which is left at its start."""
    rows = await export.write_file(file)
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return rows, size


class TeamsExports:
    """The Export CSV button and the file consent that follows it, for one tenant."""

    def __init__(
        self,
        *,
        exporting: Exporting,
        sender: Sender,
        uploader: Uploader,
        later: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.exporting = exporting
        self.sender = sender
        self.uploader = uploader
        self.later = later  # runs work after the invoke has been answered

    async def clicked(self, *, key: str, user_id: str) -> str:
        """Export CSV: the note for the clicked card (a refusal is raised, RealignError)."""
        export = await self.exporting.export(key=key, user_id=user_id)
        self.later(self._offer(export, user_id))
        return copy.EXPORT_PREPARING.format(key=export.change.key)

    async def _offer(self, export: Export, user_id: str) -> None:
        key = export.change.key
        try:
            with tempfile.SpooledTemporaryFile(max_size=SPOOLED) as file:
                rows, size = await _written(export, file)
        except Exception:
            log.exception("the audit export of %s could not be written", key)
            await self._tell(
                user_id, copy.EXPORT_FAILED.format(key=key, reason=copy.EXPORT_REASONS["unreadable"])
            )
            return
        consent = FileConsentCard(
            description=copy.EXPORT_OFFERED.format(key=key, title=export.change.title, count=rows),
            size_in_bytes=size,
            accept_context={"key": key},
            decline_context={"key": key},
        )
        offer = Attachment(content_type=FILE_CONSENT, content=consent.serialize(), name=export.filename)
        sent = await self.sender.send_activity(user_id, _message(offer, summary=export.filename))
        if not isinstance(sent, Sent):
            log.warning("the file consent card of %s did not reach %s: %s", key, user_id, sent)

    async def answered(self, *, user_id: str, response: FileConsentCardResponse) -> None:
        """The person accepted or declined the consent card (a refusal is raised, RealignError)."""
        key = translate.identifier(response.context if isinstance(response.context, dict) else {}, "key")
        if response.action != "accept":
            self.later(self._tell(user_id, copy.EXPORT_DECLINED.format(key=key)))
            return
        export = await self.exporting.export(key=key, user_id=user_id)  # still theirs to read?
        info = response.upload_info
        if not isinstance(info, FileUploadInfo) or not info.upload_url:
            raise ValueError("a file consent without an upload URL")
        self.later(self._upload(export, user_id, info))

    async def _upload(self, export: Export, user_id: str, info: FileUploadInfo) -> None:
        key = export.change.key
        try:
            with tempfile.SpooledTemporaryFile(max_size=SPOOLED) as file:
                rows, size = await _written(export, file)
                status = await self.uploader.upload(info.upload_url, file, size=size)
        except PermissionError as error:
            log.error("%s", error)
            status = 0
        except Exception as error:
            log.warning(
                "the audit export of %s was not uploaded for %s: %s", key, user_id, type(error).__name__
            )
            await self._tell(
                user_id, copy.EXPORT_FAILED.format(key=key, reason=copy.EXPORT_TEAMS_UNREACHABLE)
            )
            return
        if status not in (200, 201):
            log.warning("Teams refused the audit export of %s for %s: HTTP %s", key, user_id, status)
            reason = copy.EXPORT_TEAMS_REFUSED.format(status=status)
            await self._tell(user_id, copy.EXPORT_FAILED.format(key=key, reason=reason))
            return
        shown = FileInfoCard(unique_id=info.unique_id, file_type=info.file_type)
        file_card = Attachment(
            content_type=FILE_INFO, content_url=info.content_url, name=info.name, content=shown.serialize()
        )
        await self.sender.send_activity(user_id, _message(file_card, summary=info.name or export.filename))
        log.info("sent the audit export of %s (%d rows) to %s", key, rows, user_id)

    async def _tell(self, user_id: str, text: str) -> None:
        card = cards.note(text)
        await self.sender.send_activity(
            user_id, _message(Attachment(content_type=cards.CONTENT_TYPE, content=card), summary=text)
        )
