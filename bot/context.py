"""What the current task is working on (change, delivery, workspace), for the log lines it writes.

The engine binds these as it takes a row in hand; realign.logs adds them to every record written in
that task, the platform adapter's too, so a log line says which delivery it is about without each
call passing it along. asyncio gives each task a copy of the context it was created in, so what one
task binds is seen by that task and the tasks it starts, never by its siblings (the idea of
structlog's `bind_contextvars`, with the standard library only).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import MappingProxyType

_BOUND: ContextVar[Mapping[str, object]] = ContextVar("realign_log_fields", default=MappingProxyType({}))


def bind(**fields: object) -> None:
    """Add `fields` (None values are left out) to the rest of the current task's log lines."""
    given = {name: value for name, value in fields.items() if value is not None}
    if given:
        _BOUND.set({**_BOUND.get(), **given})


def bound() -> Mapping[str, object]:
    """The fields bound in the current task."""
    return _BOUND.get()
