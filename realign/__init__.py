"""The composition root: settings, wiring of core, store and adapters, and the `realign` CLI."""
