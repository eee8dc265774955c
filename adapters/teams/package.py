"""The Teams app package: `manifest.json` filled in for one bot registration, zipped with its two icons.

`realign teams-package` writes it; an admin uploads the zip in Teams (Apps -> Manage your apps ->
Upload an app) or in the Teams admin center.
"""

from __future__ import annotations

import json
import re
import zipfile
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.errors import ConfigError

# The manifest schema's patterns for `id`/`botId` and for a semantic version.
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
PLACEHOLDER = re.compile(r"\$\{\{(\w+)\}\}")
ICONS = ("color.png", "outline.png")
EXAMPLE_SITE = "https://realign.example.com/"
PACKAGE_NAME = "realign-teams.zip"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed entry times: the same inputs give the same bytes


def build_package(
    *, app_id: str, output: Path, base_url: str | None = None, version: str | None = None
) -> Path:
    """Write the uploadable zip (manifest.json, color.png, outline.png at its root); returns its path.

    `output` is the zip to write, or an existing directory to write `realign-teams.zip` into.
    `app_id` is MICROSOFT_APP_ID (the app id and the bot id); `base_url` is the public URL of
    `realign serve`, whose host becomes the valid domain; `version` defaults to Realign's own."""
    manifest = render_manifest(app_id=app_id, base_url=base_url, version=version)
    target = output / PACKAGE_NAME if output.is_dir() else output
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
        for icon in ICONS:
            _add(archive, icon, _asset(icon))
    return target


def render_manifest(
    *, app_id: str, base_url: str | None = None, version: str | None = None
) -> dict[str, Any]:
    """The shipped manifest with the app id and version in place and, given `base_url`, its domain."""
    values = {"MICROSOFT_APP_ID": _app_id(app_id), "VERSION": _version(version)}
    template = _asset("manifest.json").decode()
    missing = set(PLACEHOLDER.findall(template)) - values.keys()
    if missing:
        raise ConfigError(
            f"the Teams manifest has placeholders nothing fills in: {', '.join(sorted(missing))}"
        )
    manifest: dict[str, Any] = json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], template))
    if base_url is not None:
        site = _site(base_url)
        manifest["validDomains"] = [urlsplit(site).netloc]
        developer = manifest["developer"]
        for key, url in developer.items():
            if isinstance(url, str) and url.startswith(EXAMPLE_SITE):
                developer[key] = site + url.removeprefix(EXAMPLE_SITE)
    return manifest


def _app_id(app_id: str) -> str:
    app_id = (app_id or "").strip()
    if not app_id:
        raise ConfigError("MICROSOFT_APP_ID is not set; the Teams package needs the bot's Microsoft app id")
    if not GUID.fullmatch(app_id):
        raise ConfigError(
            f"MICROSOFT_APP_ID '{app_id}' is not a GUID; copy the Microsoft App ID of the Azure Bot, "
            "like 3f2504e0-4f89-11d3-9a0c-0305e82c3301"
        )
    if set(app_id) <= set("0-"):
        raise ConfigError("MICROSOFT_APP_ID is the all-zero placeholder GUID; use the Azure Bot's app id")
    return app_id


def _version(version: str | None) -> str:
    if version is None:
        try:
            version = metadata.version("realign")
        except metadata.PackageNotFoundError:
            version = "1.0.0"
    if not SEMVER.fullmatch(version):
        raise ConfigError(f"Teams app version '{version}' must be three numbers, like 1.4.0")
    return version


def _site(base_url: str) -> str:
    """`base_url` as `https://host[:port]/`, or ConfigError."""
    parts = urlsplit(base_url.strip())
    invalid = ConfigError(f"'{base_url}' is not a URL like https://realign.example.com")
    try:
        port = parts.port  # ValueError for a port that is not a number in 0..65535
    except ValueError:
        raise invalid from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid
    if parts.username or parts.password:
        raise ConfigError(f"'{base_url}' must not carry a user name or password")
    host = parts.hostname + (f":{port}" if port else "")
    return f"{parts.scheme}://{host}/"


def _asset(name: str) -> bytes:
    return resources.files("adapters.teams").joinpath(name).read_bytes()


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    archive.writestr(entry, data)
