"""The org chart file: read the CSV, check every row against the file and the cached directory.

Pure functions, no database: `SqlPeople.directory` supplies the people to check against and
`SqlPeople.apply_org_chart` writes the entries. Line numbers are physical CSV lines (header = line 1).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.errors import RealignError

REQUIRED = ("email", "manager_email", "department")
OPTIONAL = ("title", "slack_user_id", "name")  # in the order of Row's last fields
EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+$")

# What the operator is told, in one place.
NO_HEADER = "the file is empty: it needs a header row ({columns})"
MISSING_COLUMN = "the header has no '{column}' column (it has: {found})"
REPEATED_COLUMN = "the header names '{column}' twice"
WIDTH = "has {count} fields but the header has {expected} (quote values that contain commas)"
MALFORMED = "malformed email '{email}'"
NO_EMAIL = "email is empty"
MALFORMED_MANAGER = "malformed manager_email '{email}'"
DUPLICATE = "duplicate email {email} (first on line {first})"
SAME_PERSON = "same {platform} user {user_id} as line {first}"
NOT_FOUND = "no {platform} user with email {email} in the directory"
NO_SUCH_ID = "no {platform} user with id {user_id} in the directory"
AMBIGUOUS = "{email} matches several {platform} users ({user_ids}); add slack_user_id"
MISMATCH = "slack_user_id {user_id} does not match {email} (that is {other})"
UNKNOWN_MANAGER = "unknown manager {email}"
AMBIGUOUS_MANAGER = "manager {email} matches several {platform} users"
SELF_MANAGER = "{email} is their own manager"
CYCLE = "manager cycle {path}"
MANAGER_SKIPPED = "manager {email} (line {manager_line}) was skipped; imported without a manager"


class OrgChartError(RealignError):
    """The file as a whole cannot be imported (no header, a required column missing)."""


@dataclass(frozen=True)
class Known:
    """A person already in the workspace's directory (synced from Slack, or a Teams tenant's rosters)."""

    user_id: str
    email: str | None
    name: str = ""
    active: bool = True
    manager_id: str | None = None
    department: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Row:
    """One line of the file, values stripped; empty optional values are None."""

    line: int
    email: str  # lower-cased
    manager_email: str  # lower-cased; "" at the top of the org
    department: str | None
    title: str | None
    slack_user_id: str | None
    name: str | None


@dataclass(frozen=True)
class Sheet:
    """The rows of a file, read but not yet checked; `problems` are rows that could not be read."""

    rows: list[Row]
    has_title: bool
    problems: list[Problem]


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Entry:
    """What the import writes for one person: `title` kept if the file has none, `name` if Slack has none."""

    user_id: str
    department: str | None
    title: str | None
    manager_id: str | None
    name: str | None = None
    changed: bool = True


@dataclass(frozen=True)
class OrgChart:
    """The checked file: entries for the good rows, and every problem found."""

    rows: int
    entries: list[Entry]
    problems: list[Problem]
    notes: list[Problem]  # good rows imported with a caveat (their manager's row was skipped)

    @property
    def bad_rows(self) -> int:
        return len({problem.line for problem in self.problems})


def read_sheet(lines: Iterable[str]) -> Sheet:
    """Parse CSV text (a file opened with encoding='utf-8-sig', newline=''); raises OrgChartError."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise OrgChartError(NO_HEADER.format(columns=", ".join(REQUIRED)))
    columns = _columns(header)
    rows, problems = [], []
    last = reader.line_num
    for fields in reader:
        line, last = last + 1, reader.line_num
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(header):
            problems.append(Problem(line, WIDTH.format(count=len(fields), expected=len(header))))
        rows.append(_row(line, fields, columns))
    return Sheet(rows, "title" in columns, problems)


def _columns(header: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        name = raw.strip().lower().lstrip("\ufeff")
        if name in columns and name in REQUIRED + OPTIONAL:
            raise OrgChartError(REPEATED_COLUMN.format(column=name))
        columns.setdefault(name, position)
    for column in REQUIRED:
        if column not in columns:
            found = ", ".join(name for name in columns if name) or "nothing"
            raise OrgChartError(MISSING_COLUMN.format(column=column, found=found))
    return columns


def _row(line: int, fields: Sequence[str], columns: dict[str, int]) -> Row:
    value = {name: fields[at].strip() if at < len(fields) else "" for name, at in columns.items()}
    optional = [value.get(name) or None for name in OPTIONAL]
    return Row(
        line, value["email"].lower(), value["manager_email"].lower(), value["department"] or None, *optional
    )


class Directory:
    """The known people, indexed by user id and by lower-cased email; `platform` names them in problems."""

    def __init__(self, people: Iterable[Known], *, platform: str = "Slack") -> None:
        self.platform = platform
        self.by_id: dict[str, Known] = {}
        self.by_email: dict[str, list[Known]] = {}
        for person in people:
            self.by_id[person.user_id] = person
            if person.email:
                self.by_email.setdefault(person.email.lower(), []).append(person)

    def find(self, email: str) -> tuple[Known | None, str | None]:
        """The person with this email, or why there is none (an active account wins over old ones)."""
        found = self.by_email.get(email, [])
        if len(found) > 1:
            found = [person for person in found if person.active] or found
        if len(found) > 1:
            user_ids = ", ".join(person.user_id for person in found)
            return None, AMBIGUOUS.format(email=email, user_ids=user_ids, platform=self.platform)
        return (found[0], None) if found else (None, NOT_FOUND.format(email=email, platform=self.platform))

    def identify(self, row: Row) -> tuple[Known | None, str | None]:
        """The row's person: by slack_user_id if given (checked against the email), else by email."""
        if row.slack_user_id is None:
            return self.find(row.email)
        person = self.by_id.get(row.slack_user_id)
        if person is None:
            return None, NO_SUCH_ID.format(user_id=row.slack_user_id, platform=self.platform)
        if person.email and person.email.lower() != row.email:
            return None, MISMATCH.format(user_id=person.user_id, other=person.email.lower(), email=row.email)
        owner, _ = self.find(row.email)
        if owner and owner.user_id != person.user_id:
            return None, MISMATCH.format(user_id=person.user_id, other=owner.user_id, email=row.email)
        return person, None

    def user_id(self, email: str) -> str | None:
        person, _ = self.find(email) if email else (None, None)
        return person.user_id if person else None

    def label(self, user_id: str) -> str:
        person = self.by_id.get(user_id)
        return (person.email or user_id) if person else user_id


class _Seen:
    """What the rows checked so far claim: emails (first row wins) and Slack users."""

    def __init__(self) -> None:
        self.first: dict[str, Row] = {}  # email -> the row that owns it
        self.persons: dict[int, Known] = {}  # line -> the row's person
        self.lines: dict[str, int] = {}  # user id -> the row that names them

    def node(self, row: Row) -> str:
        person = self.persons.get(row.line)
        return person.user_id if person else f"line {row.line}"


def check(
    sheet: Sheet,
    people: Iterable[Known],
    *,
    tick: Callable[[int], None] | None = None,
    platform: str = "Slack",
) -> OrgChart:
    """Check every row; `entries` are the good rows, as `--skip-invalid` would import them. `platform`
    (Slack, Teams) is how problems name the people the directory holds."""
    directory, seen = Directory(people, platform=platform), _Seen()
    problems = list(sheet.problems)
    for row in sheet.rows:
        problems += _identity_problems(row, directory, seen)
        if tick:
            tick(1)
    managers: dict[int, str | None] = {}
    for row in seen.first.values():
        managers[row.line], reason = _manager(row, directory, seen)
        if reason:
            problems.append(Problem(row.line, reason))
    problems += _cycle_problems(directory, seen)
    problems.sort(key=lambda problem: problem.line)
    entries, notes = _entries(sheet, seen, managers, {problem.line for problem in problems})
    return OrgChart(len(sheet.rows), entries, problems, notes)


def _identity_problems(row: Row, directory: Directory, seen: _Seen) -> list[Problem]:
    if not EMAIL.match(row.email):
        return [Problem(row.line, MALFORMED.format(email=row.email) if row.email else NO_EMAIL)]
    if row.email in seen.first:
        return [Problem(row.line, DUPLICATE.format(email=row.email, first=seen.first[row.email].line))]
    seen.first[row.email] = row
    problems = []
    if row.manager_email and not EMAIL.match(row.manager_email):
        problems.append(Problem(row.line, MALFORMED_MANAGER.format(email=row.manager_email)))
    person, reason = directory.identify(row)
    if person is None:
        return [*problems, Problem(row.line, str(reason))]
    if person.user_id in seen.lines:
        twin = SAME_PERSON.format(
            user_id=person.user_id, first=seen.lines[person.user_id], platform=directory.platform
        )
        return [*problems, Problem(row.line, twin)]
    seen.persons[row.line], seen.lines[person.user_id] = person, row.line
    return problems


def _manager(row: Row, directory: Directory, seen: _Seen) -> tuple[str | None, str | None]:
    """The manager's user id, or why the row's manager cannot be used."""
    email = row.manager_email
    if not email or not EMAIL.match(email):
        return None, None
    if email == row.email:
        return None, SELF_MANAGER.format(email=email)
    if email in seen.first:  # a row of the file: its own problems, if any, are reported there
        person = seen.persons.get(seen.first[email].line)
        return (person.user_id if person else None), None
    person, _ = directory.find(email)
    if person is None and email in directory.by_email:
        return None, AMBIGUOUS_MANAGER.format(email=email, platform=directory.platform)
    return (person.user_id, None) if person else (None, UNKNOWN_MANAGER.format(email=email))


def _cycle_problems(directory: Directory, seen: _Seen) -> list[Problem]:
    """Rows on a manager cycle, counting the managers the directory already has for people not in the file."""
    edges = {p.user_id: p.manager_id for p in directory.by_id.values() if p.manager_id}
    rows = {seen.node(row): row for row in seen.first.values()}
    for node in rows:
        edges.pop(node, None)
    for node, row in rows.items():
        boss = seen.first.get(row.manager_email)
        target = seen.node(boss) if boss else directory.user_id(row.manager_email)
        if target and boss is not row:
            edges[node] = target
    problems = []
    for cycle in _cycles(edges, starts=rows):
        labels = [rows[n].email if n in rows else directory.label(n) for n in cycle]
        for at, node in enumerate(cycle):
            if node in rows:
                path = " → ".join(labels[at:] + labels[: at + 1])
                problems.append(Problem(rows[node].line, CYCLE.format(path=path)))
    return problems


def _cycles(edges: dict[str, str], *, starts: Iterable[str]) -> list[list[str]]:
    """Every cycle reachable from `starts` in a graph where each node has at most one edge."""
    done: set[str] = set()
    cycles = []
    for start in starts:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = edges.get(node)
        if node is not None and node in on_path:
            cycles.append(path[path.index(node) :])
        done.update(path)
    return cycles


def _entries(
    sheet: Sheet, seen: _Seen, managers: dict[int, str | None], bad: set[int]
) -> tuple[list[Entry], list[Problem]]:
    entries, notes = [], []
    for row in seen.first.values():
        if row.line in bad:
            continue
        person, manager = seen.persons[row.line], managers[row.line]
        boss = seen.first.get(row.manager_email)
        if boss is not None and boss.line in bad:
            manager = None
            note = MANAGER_SKIPPED.format(email=boss.email, manager_line=boss.line)
            notes.append(Problem(row.line, note))
        name = row.name if row.name and not person.name else None
        title = row.title if sheet.has_title else person.title
        changed = (person.manager_id, person.department, person.title) != (manager, row.department, title)
        entries.append(Entry(person.user_id, row.department, title, manager, name, changed or bool(name)))
    return entries, notes
