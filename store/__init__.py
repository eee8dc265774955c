"""Persistence: SQLModel tables, the async engine, and repositories implementing `bot.ports`."""
