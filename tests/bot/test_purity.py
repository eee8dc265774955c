"""The core stays pure: nothing under bot/ imports a platform SDK, web framework, database or scheduler."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
FORBIDDEN_PREFIXES = ("slack", "botbuilder", "botframework", "psycopg")
FORBIDDEN = {"aiohttp", "sqlmodel", "sqlalchemy", "apscheduler", "aiosqlite"}
OUTER_LAYERS = frozenset({"adapters", "store", "realign"})


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in the source, at any depth (functions, TYPE_CHECKING)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return sorted(found)


def forbidden_imports(source: str, *, banned_layers: frozenset[str] = frozenset()) -> list[str]:
    """The imports of `source` that the core must not have, as `line: module`."""
    bad = []
    for line, module in imported_modules(source):
        top = module.split(".")[0]
        if top.startswith(FORBIDDEN_PREFIXES) or top in FORBIDDEN | banned_layers:
            bad.append(f"{line}: {module}")
    return bad


def bot_sources() -> list[Path]:
    sources = sorted(BOT.rglob("*.py"))
    assert len(sources) > 5, f"expected the core's modules under {BOT}"
    return sources


@pytest.mark.parametrize("path", bot_sources(), ids=lambda path: str(path.relative_to(BOT.parent)))
def test_core_module_imports_no_platform_web_database_or_scheduler_library(path: Path) -> None:
    assert forbidden_imports(path.read_text()) == []


@pytest.mark.parametrize("path", bot_sources(), ids=lambda path: str(path.relative_to(BOT.parent)))
def test_core_module_does_not_reach_into_adapters_store_or_runtime(path: Path) -> None:
    assert forbidden_imports(path.read_text(), banned_layers=OUTER_LAYERS) == []


SAMPLE = """
from __future__ import annotations
import asyncio
from typing import TYPE_CHECKING
from sqlalchemy import select
from bot.model import Change
from . import copy

if TYPE_CHECKING:
    import slack_sdk.web

def send():
    import aiohttp
    from botbuilder.core import TurnContext
    from psycopg import connect

class Job:
    def run(self):
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        import os, sqlmodel as sm
        from slack_bolt.async_app import AsyncApp
        from aiosqlite import connect
        import botframework.connector
"""


def test_detector_flags_every_forbidden_import_in_a_sample_and_nothing_else() -> None:
    assert forbidden_imports(SAMPLE) == [
        "5: sqlalchemy",
        "10: slack_sdk.web",
        "13: aiohttp",
        "14: botbuilder.core",
        "15: psycopg",
        "19: apscheduler.schedulers.asyncio",
        "20: sqlmodel",
        "21: slack_bolt.async_app",
        "22: aiosqlite",
        "23: botframework.connector",
    ]


def test_detector_flags_a_plain_from_import_of_sqlalchemy() -> None:
    assert forbidden_imports("from sqlalchemy import select\n") == ["1: sqlalchemy"]


def test_detector_flags_imports_of_the_outer_layers_only_when_asked() -> None:
    source = "from store.db import Database\nimport adapters.slack.render\n"
    assert forbidden_imports(source) == []
    assert forbidden_imports(source, banned_layers=OUTER_LAYERS) == [
        "1: store.db",
        "2: adapters.slack.render",
    ]
