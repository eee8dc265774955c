"""In-memory ports for the core's tests (see tests/bot/memory.py)."""

from __future__ import annotations

import pytest

from tests.bot.memory import FakeMessenger, MemoryChanges, MemoryDirectory, MemoryQueue


@pytest.fixture
def directory() -> MemoryDirectory:
    return MemoryDirectory()


@pytest.fixture
def changes(directory: MemoryDirectory) -> MemoryChanges:
    return MemoryChanges(directory)


@pytest.fixture
def queue(changes: MemoryChanges) -> MemoryQueue:
    return MemoryQueue(changes)


@pytest.fixture
def messenger() -> FakeMessenger:
    return FakeMessenger()
