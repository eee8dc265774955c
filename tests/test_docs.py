"""The documentation stands on its own in a fresh clone: every link resolves to a file in the repository
(and to a heading there, for `#anchors`), nothing points outside it, every setting Realign reads is in
docs/settings.md and no setting documented there is one it does not read, and the README's set-up
commands are the ones CI runs."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from realign.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted({ROOT / "README.md", ROOT / "CHANGELOG.md", *ROOT.glob("docs/*.md"), *ROOT.glob("bench/*.md")})
SETTINGS_DOC = ROOT / "docs" / "settings.md"
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
UP_PATH = re.compile(r"(?:\.\./)+[\w.\-/]*")
SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.I)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
SETTING_NAME = re.compile(r"\b(?:SLACK|REALIGN|MICROSOFT)_[A-Z0-9_]+\b")
TEST_ONLY = {"REALIGN_TEST_POSTGRES_URL", "REALIGN_REQUIRE_POSTGRES"}  # read by tests/conftest.py
SET_UP = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/realign serve",
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/pytest",
)


def prose(text: str) -> str:
    """The Markdown without fenced code blocks and code spans, where links are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    """Targets of inline links, images and reference definitions."""
    body = prose(text)
    return INLINE_LINK.findall(body) + REFERENCE.findall(body)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base, n = slug(heading), 0
        while (anchor := f"{base}-{n}" if n else base) in found:
            n += 1
        found.add(anchor)
    return found


def inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT)


def aliases() -> list[str]:
    return sorted(str(field.alias) for field in Settings.model_fields.values() if field.alias)


def documented(path: Path) -> set[str]:
    return set(SETTING_NAME.findall(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    problems = []
    for target in links(doc.read_text(encoding="utf-8")):
        if SCHEME.match(target):
            continue  # a web address
        path_part, _, anchor = target.partition("#")
        if path_part.startswith("/"):
            problems.append(f"{target}: absolute path (write it relative to {doc.parent.name or '.'}/)")
            continue
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not inside(resolved):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading '#{anchor}' in {resolved.relative_to(ROOT)}")
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_path_points_outside_the_repository(doc: Path) -> None:
    """Not in a link, and not in code either: a reader of a fresh clone has nothing up there."""
    text = doc.read_text(encoding="utf-8")
    escaping = [path for path in UP_PATH.findall(text) if not inside(doc.parent / path)]
    assert not escaping, f"{doc.relative_to(ROOT)} names paths outside the repository: {escaping}"
    assert "shared/DESIGN.md" not in text and "STYLE.md" not in text


def test_the_required_documents_exist() -> None:
    for name in ("README.md", "CHANGELOG.md", "docs/architecture.md", "docs/settings.md"):
        assert (ROOT / name).is_file(), name


def test_every_setting_realign_reads_is_documented() -> None:
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    missing = [alias for alias in aliases() if f"`{alias}`" not in text]
    assert len(aliases()) > 20, "expected the settings' aliases (alias= on each Field)"
    assert not missing, f"docs/settings.md does not describe: {', '.join(missing)}"


@pytest.mark.parametrize("doc", [ROOT / "README.md", *ROOT.glob("docs/*.md")], ids=lambda p: p.name)
def test_no_document_names_a_setting_realign_does_not_read(doc: Path) -> None:
    unknown = documented(doc) - set(aliases()) - TEST_ONLY
    assert not unknown, f"{doc.relative_to(ROOT)} names settings Realign does not read: {sorted(unknown)}"


def test_the_readme_links_the_settings_reference_and_the_architecture() -> None:
    targets = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/settings.md" in targets and "docs/architecture.md" in targets


def test_set_up_has_the_two_commands_ci_runs() -> None:
    """.ci/run runs the second one word for word."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up\n", 1)[1].split("\n## ", 1)[0]
    commands = [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]
    assert commands == list(SET_UP)
    assert SET_UP[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_link_checker_sees_links_and_skips_code() -> None:
    sample = "[a](docs/x.md) ![i](img.png) `[not](a/link)`\n```\n[nor](this)\n```\n[r]: ../ref.md\n"
    assert links(sample) == ["docs/x.md", "img.png", "../ref.md"]
    assert slug("Without a public URL: Socket Mode") == "without-a-public-url-socket-mode"
    assert slug("Many workspaces (OAuth)") == "many-workspaces-oauth"
    assert slug("`realign console` and `--demo`") == "realign-console-and---demo"
