"""Slack: Bolt listeners, Block Kit rendering, the Web API messenger and the directory sync."""
