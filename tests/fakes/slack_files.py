"""Slack's external file upload, as the fake Slack serves it: `files.getUploadURLExternal` hands out an
upload URL on the fake itself (127.0.0.1), a POST there stores the bytes, and
`files.completeUploadExternal` shares the file into a conversation, as a message carrying the file (as
Slack posts it). Tests read the bytes back (`FakeSlack.files.shared_in(channel)`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.slack_state import Params, SlackError, Workspace

_FILE_IDS = itertools.count(1)


@dataclass
class Upload:
    """One file, from the upload URL handed out to its completion."""

    file_id: str
    filename: str
    length: int  # as files.getUploadURLExternal was told
    team: str
    content: bytes | None = None  # what was POSTed to the upload URL
    title: str = ""
    channel: str | None = None  # where files.completeUploadExternal shared it
    completed: bool = False


@dataclass
class _Failure:
    times: int
    status: int


class Files:
    """The uploads of every workspace of one fake; `url` gives the fake's `/api/` base URL."""

    def __init__(self, url: Callable[[], str]) -> None:
        self._url = url
        self.uploads: dict[str, Upload] = {}
        self._failures: list[_Failure] = []

    def serve(self, workspace: Workspace) -> None:
        """Answer the two files.* methods for `workspace`."""
        workspace.methods["files.getUploadURLExternal"] = lambda params: self._upload_url(workspace, params)
        workspace.methods["files.completeUploadExternal"] = lambda params: self._complete(workspace, params)

    def fail_uploads(self, *, times: int = 1, status: int = 500) -> None:
        """The next `times` POSTs to an upload URL answer HTTP `status` and store nothing."""
        self._failures.append(_Failure(times, status))

    def shared_in(self, channel_id: str) -> list[Upload]:
        """The files completed into the conversation, oldest first."""
        return [u for u in self.uploads.values() if u.completed and u.channel == channel_id]

    # --- the three steps ---------------------------------------------------------------------------

    def _upload_url(self, workspace: Workspace, params: Params) -> dict[str, Any]:
        filename, length = params.get("filename"), str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise SlackError("invalid_arguments")
        file_id = f"F{next(_FILE_IDS):08X}"
        self.uploads[file_id] = Upload(file_id, str(filename), int(length), workspace.team_id)
        base = self._url().removesuffix("/api/")
        return {"upload_url": f"{base}/_upload/{file_id}", "file_id": file_id}

    async def receive(self, request: web.Request) -> web.Response:
        """The upload URL: answers like files.slack.com, `OK - <bytes>` in plain text."""
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None or upload.completed:
            return web.Response(status=404, text="not found", content_type="text/plain")
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.pop(0)
            return web.Response(status=failure.status, text="upload failed", content_type="text/plain")
        upload.content = await request.read()
        return web.Response(text=f"OK - {len(upload.content)}", content_type="text/plain")

    def _complete(self, workspace: Workspace, params: Params) -> dict[str, Any]:
        files = params.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise SlackError("invalid_arguments")
        uploads = [self.uploads.get(str(f.get("id"))) for f in files]
        found = [u for u in uploads if u and u.team == workspace.team_id and u.content is not None]
        if len(found) != len(files):
            raise SlackError("file_not_found")  # never uploaded, or another workspace's
        channel = params.get("channel_id") or None
        shared = [
            {"id": u.file_id, "name": u.filename, "title": f.get("title") or u.filename, "size": u.length}
            for u, f in zip(found, files, strict=True)
        ]
        if channel:  # the file is shared there as a message of the bot's (unknown channel: not_found)
            text = params.get("initial_comment") or shared[0]["title"]
            posted = workspace.chat_post_message({"channel": channel, "text": text})
            workspace.channels[posted["channel"]].by_ts[posted["ts"]]["files"] = shared
            channel = posted["channel"]
        for upload, file in zip(found, shared, strict=True):
            upload.completed, upload.title, upload.channel = True, file["title"], channel
        return {"files": shared}
