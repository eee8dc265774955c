"""Benchmarks that run the real Realign processes against the Slack fake (see bench/README.md)."""
