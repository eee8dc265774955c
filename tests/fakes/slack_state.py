"""Workspace state behind the fake Slack Web API: directory, conversations, views.

Each Web API method is a plain function of the request params that returns Slack's answer (without
`ok`) or raises `SlackError`, so the HTTP layer in `slack_api.py` only routes and misbehaves.
"""

from __future__ import annotations

import base64
import itertools
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

_VIEW_IDS = itertools.count(1)  # view ids are unique across workspaces, as Slack's are
# Slack's documented limits.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000

Params = dict[str, Any]
Message = dict[str, Any]


def bulk_ids(prefix: str, start: int, count: int) -> list[str]:
    """The ids of users added in bulk: `U00000000`, `U00000001`, ... (prefix, then eight digits)."""
    return [f"{prefix}{n:08d}" for n in range(start, start + count)]


class SlackError(Exception):
    """Slack's `{"ok": false, "error": code}` answer."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Channel:
    """A conversation: its members and its messages in posting order, indexed by ts."""

    id: str
    members: list[str]
    name: str = ""
    private: bool = False
    messages: list[Message] = field(default_factory=list)
    by_ts: dict[str, Message] = field(default_factory=dict)


class Workspace:
    """One Slack workspace as the bot token sees it; `methods` maps Web API method names to handlers."""

    def __init__(self, *, team_id: str, bot_user_id: str, name: str = "Fake Workspace") -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.name = name
        self.users: dict[str, dict[str, Any]] = {}
        self._user_ids: list[str] = []  # users.list order, sliced by the pagination cursor
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self._views_by_external_id: dict[str, str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.homes: dict[str, dict[str, Any]] = {}  # user id -> their Home tab as last published
        self._last_ts_us = 0
        self._serial = 0
        self.methods: dict[str, Callable[[Params], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "users.list": self.users_list,
            "users.info": self.users_info,
            "usergroups.list": self.usergroups_list,
            "usergroups.users.list": self.usergroups_users_list,
            "conversations.members": self.conversations_members,
            "conversations.open": self.conversations_open,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
        }

    # --- seeding and inspection -------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        tz: str = "Europe/London",
        tz_offset: int | None = None,
        deleted: bool = False,
        is_bot: bool = False,
    ) -> dict[str, Any]:
        """Add or replace a member; returns the live dict users.list shows (edit it to change the user)."""
        name = name or user_id.lower()
        profile: dict[str, Any] = {"real_name": name, "display_name": name}
        if email or not is_bot:  # like Slack, bots have no email
            profile["email"] = email or f"{name}@example.com"
        member = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name,
            "deleted": deleted,
            "is_bot": is_bot,
            "tz": tz,
            "tz_offset": _tz_offset(tz) if tz_offset is None else tz_offset,
            "profile": profile,
        }
        if user_id not in self.users:
            self._user_ids.append(user_id)
        self.users[user_id] = member
        return member

    def add_users(self, count: int, *, prefix: str = "U", start: int = 0, tz: str = "Europe/London") -> int:
        """Add `count` users `U00000000`, `U00000001`, ... in bulk (for benchmarks); returns `count`."""
        for user_id in bulk_ids(prefix, start, count):
            self.add_user(user_id, tz=tz)
        return count

    def add_usergroup(self, group_id: str, handle: str, users: list[str], *, name: str | None = None) -> None:
        """Add or replace a user group (`@handle`) with these member ids."""
        self.usergroups[group_id] = {
            "id": group_id,
            "team_id": self.team_id,
            "handle": handle,
            "name": name or handle,
            "users": list(users),
        }

    def add_channel(
        self, channel_id: str, members: list[str], *, name: str | None = None, private: bool = False
    ) -> Channel:
        """Add or replace a channel with these member ids."""
        self.channels[channel_id] = Channel(
            channel_id, list(members), name or channel_id.lower(), private=private
        )
        return self.channels[channel_id]

    def messages_in(self, channel_id: str) -> list[Message]:
        """Every message posted in the conversation, thread replies included, in posting order."""
        channel = self.channels.get(channel_id)
        return list(channel.messages) if channel else []

    def dm_counts(self) -> dict[str, int]:
        """Number of messages in each user's DM, by user id."""
        return {cid[1:]: len(ch.messages) for cid, ch in self.channels.items() if cid.startswith("D")}

    # --- directory ---------------------------------------------------------------------------------

    def auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": self.name,
            "user": "realign",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": f"B{self.bot_user_id}",
        }

    def remove_user(self, user_id: str) -> None:
        """The person is no longer in the workspace at all (users.list stops listing them)."""
        del self.users[user_id]
        self._user_ids.remove(user_id)

    def users_list(self, params: Params) -> dict[str, Any]:
        ids, cursor = _paginate(self._user_ids, params, default=200, maximum=1000)
        return {
            "members": [self.users[user_id] for user_id in ids],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": cursor},
        }

    def users_info(self, params: Params) -> dict[str, Any]:
        return {"user": self._user(params.get("user"))}

    def usergroups_list(self, params: Params) -> dict[str, Any]:
        with_users = _flag(params.get("include_users"))
        groups = []
        for group in self.usergroups.values():
            shown = {**group, "user_count": len(group["users"])}
            if not with_users:
                del shown["users"]
            groups.append(shown)
        return {"usergroups": groups}

    def usergroups_users_list(self, params: Params) -> dict[str, Any]:
        group = self.usergroups.get(params.get("usergroup", ""))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}

    def conversations_members(self, params: Params) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        if channel.private and self.bot_user_id not in channel.members:  # Slack hides it altogether
            raise SlackError("channel_not_found")
        members, cursor = _paginate(channel.members, params, default=100, maximum=1000)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    # --- conversations -----------------------------------------------------------------------------

    def conversations_open(self, params: Params) -> dict[str, Any]:
        users = params.get("users") or ""
        user_ids = users if isinstance(users, list) else [u for u in users.split(",") if u]
        if not user_ids:
            raise SlackError("users_list_not_supplied")
        for user_id in user_ids:
            if self._user(user_id)["deleted"]:
                raise SlackError("user_disabled")
        if len(user_ids) == 1:
            return {"channel": {"id": self._dm(user_ids[0]).id}}
        group_id = f"G{zlib.crc32(','.join(sorted(user_ids)).encode()):08X}"
        if group_id not in self.channels:
            self.add_channel(group_id, [*user_ids, self.bot_user_id])
        return {"channel": {"id": group_id}}

    def conversations_history(self, params: Params) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        oldest = _ts_key(params.get("oldest") or "0")
        latest = _ts_key(params["latest"]) if params.get("latest") else math.inf
        inclusive = _flag(params.get("inclusive"))
        window = [
            message
            for message in reversed(channel.messages)
            if message.get("thread_ts") in (None, message["ts"])  # replies stay in their thread
            and _within(_ts_key(message["ts"]), oldest, latest, inclusive=inclusive)
        ]
        page, cursor = _paginate(window, params, default=100, maximum=999)
        with_metadata = _flag(params.get("include_all_metadata"))
        return {
            "messages": [_public(message, with_metadata=with_metadata) for message in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def conversations_replies(self, params: Params) -> dict[str, Any]:
        channel = self._conversation(params.get("channel"))
        parent = channel.by_ts.get(params.get("ts", ""))
        if parent is None:
            raise SlackError("thread_not_found")
        replies = [m for m in channel.messages if m.get("thread_ts") == parent["ts"] and m is not parent]
        with_metadata = _flag(params.get("include_all_metadata"))
        return {
            "messages": [_public(message, with_metadata=with_metadata) for message in [parent, *replies]],
            "has_more": False,
        }

    # --- messages ----------------------------------------------------------------------------------

    def chat_post_message(self, params: Params) -> dict[str, Any]:
        channel = self._target(params.get("channel") or "")
        message: Message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": f"B{self.bot_user_id}",
            "team": self.team_id,
            **_content(params),
            "thread_ts": params.get("thread_ts"),
            "ts": self._next_ts(),
            "edits": 0,
        }
        channel.messages.append(message)
        channel.by_ts[message["ts"]] = message
        return {"channel": channel.id, "ts": message["ts"], "message": _public(message, with_metadata=True)}

    def chat_update(self, params: Params) -> dict[str, Any]:
        channel = self._target(params.get("channel") or "")
        message = channel.by_ts.get(params.get("ts", ""))
        if message is None:
            raise SlackError("message_not_found")
        edited = {key: params.get(key, message[key]) for key in ("text", "blocks", "metadata")}
        message.update(_content(edited))
        message["edits"] += 1
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": _public(message, with_metadata=True),
        }

    def chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._target(params.get("channel") or "")
        self._user(params.get("user"))
        _content(params)
        ts = self._next_ts()
        self.ephemerals.append({**params, "channel": channel.id, "message_ts": ts})
        return {"message_ts": ts}

    # --- views -------------------------------------------------------------------------------------

    def views_open(self, params: Params) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise SlackError("invalid_arguments")
        return {"view": self._store_view(f"V{next(_VIEW_IDS):08X}", params)}

    views_push = views_open

    def views_publish(self, params: Params) -> dict[str, Any]:
        """A user's App Home tab (`view.type` home), replaced whole by each publish."""
        user = self._user(params.get("user_id"))
        view = params.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise SlackError("invalid_arguments")
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_blocks")
        current = self.homes.get(user["id"])
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current is not None else f"V{next(_VIEW_IDS):08X}"
        stored = {**view, "id": view_id, "team_id": self.team_id, "hash": f"{self._next_serial():08x}"}
        self.homes[user["id"]] = stored
        return {"view": stored}

    def views_update(self, params: Params) -> dict[str, Any]:
        view_id = params.get("view_id") or self._views_by_external_id.get(params.get("external_id", ""))
        if not (params.get("view_id") or params.get("external_id")):
            raise SlackError("invalid_arguments")
        current = self.views.get(view_id or "")
        if current is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        return {"view": self._store_view(current["id"], params)}

    # --- helpers -----------------------------------------------------------------------------------

    def _user(self, user_id: str | None) -> dict[str, Any]:
        user = self.users.get(user_id or "")
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _dm(self, user_id: str) -> Channel:
        channel = self.channels.get(f"D{user_id}")
        if channel is None:
            channel = self.add_channel(f"D{user_id}", [user_id, self.bot_user_id])
        return channel

    def _conversation(self, channel_id: str | None) -> Channel:
        """A registered channel, or the DM `D<user id>` of a known user."""
        channel_id = channel_id or ""
        if channel_id in self.channels:
            return self.channels[channel_id]
        if channel_id.startswith("D") and channel_id[1:] in self.users:
            return self._dm(channel_id[1:])
        raise SlackError("channel_not_found")

    def _target(self, channel_id: str) -> Channel:
        """Where a post goes; a user id means that user's DM, with Slack's errors for absent users."""
        kind = channel_id[:1]
        if kind not in ("U", "W", "D"):
            return self._conversation(channel_id)
        user = self.users.get(channel_id[1:] if kind == "D" else channel_id)
        if user is None:
            raise SlackError("channel_not_found" if kind == "D" else "user_not_found")
        if user["deleted"]:
            raise SlackError("account_inactive")
        return self._dm(user["id"])

    def _store_view(self, view_id: str, params: Params) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_blocks")
        stored = {
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "hash": f"{int(time.time())}.{self._next_serial():08x}",
            "state": {"values": {}},
        }
        self.views[view_id] = stored
        if external_id := view.get("external_id"):
            self._views_by_external_id[external_id] = view_id
        return stored

    def _next_ts(self) -> str:
        """Unique, increasing, wall-clock message ts like Slack's ("1700000000.000100")."""
        self._last_ts_us = max(time.time_ns() // 1000, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial


def _content(params: Params) -> dict[str, Any]:
    """The text, blocks and metadata of a message, checked against Slack's limits."""
    text = params.get("text") or ""
    blocks = params.get("blocks") or None
    metadata = params.get("metadata") or None
    if blocks is not None and (not isinstance(blocks, list) or len(blocks) > MAX_MESSAGE_BLOCKS):
        raise SlackError("invalid_blocks")
    if not text and not blocks:
        raise SlackError("no_text")
    if len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if metadata is not None and not (isinstance(metadata, dict) and metadata.get("event_type")):
        raise SlackError("invalid_metadata_format")
    return {"text": text, "blocks": blocks, "metadata": metadata}


def _public(message: Message, *, with_metadata: bool) -> Message:
    """A message as the Web API shows it: no empty fields, metadata only when asked for."""
    hidden = ("edits",) if with_metadata else ("edits", "metadata")
    return {k: v for k, v in message.items() if v is not None and k not in hidden}


def _paginate(items: list[Any], params: Params, *, default: int, maximum: int) -> tuple[list[Any], str]:
    """Slice by Slack's `limit` and opaque `cursor`; returns the page and the next cursor ("" at the end)."""
    try:
        limit = min(int(params.get("limit") or default), maximum)
        start = int(base64.urlsafe_b64decode(params["cursor"]).decode()) if params.get("cursor") else 0
    except ValueError:  # also covers binascii.Error and UnicodeDecodeError
        raise SlackError("invalid_cursor") from None
    end = start + max(limit, 1)
    next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else ""
    return items[start:end], next_cursor


def _ts_key(ts: str) -> int:
    """A ts as integer microseconds, so "1700000000" and "1700000000.000001" compare exactly."""
    seconds, _, fraction = str(ts).partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _within(key: int, oldest: float, latest: float, *, inclusive: bool) -> bool:
    return oldest <= key <= latest if inclusive else oldest < key < latest


def _flag(value: Any) -> bool:
    """Slack booleans arrive as true/false, "true"/"false" or "1"/"0"."""
    return value in (True, 1, "1", "true")


@lru_cache
def _tz_offset(tz: str) -> int:
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    return int(offset.total_seconds()) if offset else 0
