"""Realign's domain: changes, audiences, deliveries, acknowledgements and status.

Pure Python: no platform SDK, web framework, database or scheduler imports (tests/bot/test_purity.py).
The outside world is reached only through the Protocols in `bot.ports`.
"""
