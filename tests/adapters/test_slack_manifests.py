"""The two Slack app manifests (HTTP and Socket Mode) ask for the same app: they differ only in how
Slack reaches Realign, so a scope or command added to one cannot be forgotten in the other."""

from __future__ import annotations

from pathlib import Path

from adapters.slack.install import BOT_SCOPES

SLACK = Path(__file__).resolve().parents[2] / "adapters" / "slack"


def settings(path: Path) -> list[str]:
    """The manifest's lines without comments and without what says how Slack reaches the app."""
    lines = [line.split(" #")[0].rstrip() for line in path.read_text().splitlines()]
    return [
        line
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
        if not line.lstrip().startswith(
            ("url:", "request_url:", "socket_mode_enabled:", "redirect_urls:", "- https://")
        )
    ]


def test_the_socket_mode_manifest_is_the_http_one_without_urls() -> None:
    http, socket = SLACK / "manifest.yml", SLACK / "manifest.socket.yml"

    assert settings(socket) == settings(http)
    assert "socket_mode_enabled: false" in http.read_text()
    assert "socket_mode_enabled: true" in socket.read_text()
    assert not any("url:" in line for line in socket.read_text().splitlines() if not line.startswith("#"))


def test_an_oauth_install_asks_for_the_manifests_bot_scopes() -> None:
    lines = (SLACK / "manifest.yml").read_text().splitlines()
    start = lines.index("    bot:") + 1
    scopes = []
    for line in lines[start:]:
        if not line.startswith("      - "):
            break
        scopes.append(line.split("#")[0].removeprefix("      - ").strip())

    assert tuple(scopes) == BOT_SCOPES
