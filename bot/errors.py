"""One base error for everything the core refuses; adapters turn these into platform replies."""

from __future__ import annotations


class RealignError(Exception):
    """Base of every error the core raises on purpose; `str(err)` is safe to show a user."""


class InvalidInput(RealignError):
    """Form input that cannot be accepted; `errors` maps a field name to what to fix."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(RealignError):
    """The caller may not do this (not an announcer, not the change's owner, ...)."""


class NotFound(RealignError):
    """The change, delivery or person named does not exist (or is not visible to the caller)."""


class ConfigError(RealignError):
    """A setting is missing or malformed; the message says which and how to fix it."""
