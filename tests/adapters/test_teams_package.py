"""The Teams app package: what an admin uploads, checked against the manifest schema's main constraints.

The constraints are those of https://developer.microsoft.com/json-schemas/teams/v1.29/MicrosoftTeams.schema.json
(and the Teams docs' 32-character command titles), written out here since no PyPI package ships the schema.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import tomllib
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.teams.package import PACKAGE_NAME, build_package, render_manifest
from bot.errors import ConfigError

APP_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
TOP_LEVEL = {  # the schema's top-level properties this manifest may use (additionalProperties: false)
    "$schema", "manifestVersion", "version", "id", "developer", "name", "description", "icons",
    "accentColor", "bots", "permissions", "validDomains",
}  # fmt: skip
REQUIRED = {"manifestVersion", "version", "id", "developer", "name", "description", "icons", "accentColor"}


def unpack(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["manifest.json"]), files


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGBA rows of an 8-bit RGBA PNG, its row filters undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    at = 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        chunks[kind] = chunks.get(kind, b"") + data[at + 8 : at + 8 + length]
        at += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 6, 0), "8-bit RGBA, not interlaced"
    raw, stride = zlib.decompress(chunks[b"IDAT"]), width * 4 + 1
    rows, above = [], bytes(width * 4)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for x in range(len(line)):
            left, up = (line[x - 4] if x >= 4 else 0), above[x]
            corner = above[x - 4] if x >= 4 else 0
            predictor = [0, left, up, (left + up) // 2, _paeth(left, up, corner)][kind]
            line[x] = (line[x] + predictor) % 256
        rows.append(above := bytes(line))
    return width, height, rows


def _paeth(left: int, up: int, corner: int) -> int:
    guess = left + up - corner
    near_left, near_up, near_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
    if near_left <= near_up and near_left <= near_corner:
        return left
    return up if near_up <= near_corner else corner


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return build_package(app_id=APP_ID, output=tmp_path, base_url="https://realign.contoso.com/app")


def test_the_zip_holds_manifest_and_icons_at_its_root(package: Path, tmp_path: Path) -> None:
    manifest, files = unpack(package)

    assert package == tmp_path / PACKAGE_NAME
    assert sorted(files) == ["color.png", "manifest.json", "outline.png"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_manifest_names_the_bot_and_its_domain(package: Path) -> None:
    manifest, _ = unpack(package)
    [bot] = manifest["bots"]

    assert manifest["id"] == bot["botId"] == APP_ID
    assert manifest["validDomains"] == ["realign.contoso.com"]
    assert manifest["developer"]["privacyUrl"] == "https://realign.contoso.com/privacy"
    assert "${{" not in json.dumps(manifest)
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert (bot["supportsFiles"], bot["isNotificationOnly"]) == (
        True,
        False,
    )  # the audit export is a file in the 1:1 chat
    for scope in ("personal", "team", "groupChat"):
        [commands] = [entry["commands"] for entry in bot["commandLists"] if entry["scopes"] == [scope]]
        assert [c["title"] for c in commands] == ["announce-change", "change-status"]
        assert all(c["description"] for c in commands)


def test_the_manifest_keeps_the_schemas_main_constraints(package: Path) -> None:
    manifest, _ = unpack(package)

    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")
    assert manifest["manifestVersion"] == "1.29"
    assert REQUIRED <= manifest.keys() <= TOP_LEVEL
    assert SCHEMA_GUID.match(manifest["id"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", manifest["accentColor"])
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    developer = manifest["developer"]
    assert len(developer["name"]) <= 32
    assert all(developer[k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert set(manifest["permissions"]) <= {"identity", "messageTeamMembers"}
    [bot] = manifest["bots"]
    assert set(bot) <= {"botId", "scopes", "supportsFiles", "isNotificationOnly", "commandLists"}
    assert SCHEMA_GUID.match(bot["botId"])
    assert len(bot["commandLists"]) <= 3
    for entry in bot["commandLists"]:
        assert set(entry["scopes"]) <= {"team", "personal", "groupChat"}
        assert len(entry["commands"]) <= 12
        for command in entry["commands"]:
            assert set(command) <= {"title", "description"}
            assert len(command["title"]) <= 32 and len(command["description"]) <= 128


def test_icons_have_the_sizes_teams_requires_and_the_outline_is_white_on_transparent(package: Path) -> None:
    _, files = unpack(package)

    width, height, colour_rows = png_pixels(files["color.png"])
    assert (width, height) == (192, 192)
    assert all(row[3::4] == b"\xff" * 192 for row in colour_rows), "the colour icon is opaque"
    width, height, outline_rows = png_pixels(files["outline.png"])
    assert (width, height) == (32, 32)
    pixels = {bytes(row[x : x + 4]) for row in outline_rows for x in range(0, 128, 4)}
    assert {p for p in pixels if p[3]} == {b"\xff\xff\xff\xff"}, "only white where it is not transparent"
    assert any(p[3] == 0 for p in pixels)


def test_without_a_base_url_there_are_no_valid_domains_and_output_may_be_a_file(tmp_path: Path) -> None:
    target = tmp_path / "dist" / "teams.zip"

    written = build_package(app_id=APP_ID.upper(), output=target, version="2.3.4")
    manifest, _ = unpack(written)

    assert written == target
    assert (manifest["id"], manifest["version"], manifest["validDomains"]) == (APP_ID.upper(), "2.3.4", [])


def test_the_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_package(app_id=APP_ID, output=tmp_path / "a.zip", version="1.0.0")
    second = build_package(app_id=APP_ID, output=tmp_path / "b.zip", version="1.0.0")

    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"app_id": ""}, "MICROSOFT_APP_ID is not set"),
        ({"app_id": "my-bot"}, "is not a GUID"),
        ({"app_id": "00000000-0000-0000-0000-000000000000"}, "placeholder"),
        ({"app_id": APP_ID, "base_url": "realign.contoso.com"}, "is not a URL"),
        ({"app_id": APP_ID, "base_url": "https://realign.contoso.com:99999"}, "is not a URL"),
        ({"app_id": APP_ID, "version": "1.0"}, "three numbers"),
    ],
)
def test_bad_settings_are_config_errors_that_say_what_to_fix(
    tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_package(output=tmp_path, **settings)

    assert list(tmp_path.iterdir()) == []


@given(st.text(max_size=40))
def test_only_guids_are_accepted_as_app_ids(text: str) -> None:
    if SCHEMA_GUID.fullmatch(text.strip()) and set(text.strip()) - set("0-"):
        assert render_manifest(app_id=text)["id"] == text.strip()
    else:
        with pytest.raises(ConfigError):
            render_manifest(app_id=text)


@given(st.uuids())
def test_every_guid_lands_as_app_and_bot_id(app_id: uuid.UUID) -> None:
    manifest = render_manifest(app_id=str(app_id))

    assert manifest["id"] == manifest["bots"][0]["botId"] == str(app_id)


def test_the_package_data_ships_the_manifest_and_icons() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())

    shipped = pyproject["tool"]["setuptools"]["package-data"]["adapters"]

    assert {"teams/manifest.json", "teams/*.png"} <= set(shipped)


def test_the_cli_builds_the_package_from_the_app_id_setting(tmp_path: Path) -> None:
    realign = Path(sys.executable).parent / "realign"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    missing = subprocess.run(
        [str(realign), "teams-package"], env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "set MICROSOFT_APP_ID" in missing.stderr
    env["MICROSOFT_APP_ID"] = "2f6a1c3e-8b4d-4e5f-9a0b-1c2d3e4f5a6b"
    built = subprocess.run(
        [str(realign), "teams-package", "--output", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(tmp_path / "realign-teams.zip") as package:
        manifest = json.loads(package.read("manifest.json"))
    assert manifest["bots"][0]["botId"] == env["MICROSOFT_APP_ID"]
