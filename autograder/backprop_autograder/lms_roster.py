"""The class list an instructor exported from the LMS, for the grade export.

:func:`read_roster` reads it: who is in the class and how the LMS names them, for
:mod:`backprop_autograder.lms` to write the import files by. A roster that cannot be used
as it is raises :class:`RosterError`, which says what is wrong and how to fix it.

- Canvas: its gradebook export (Grades > Export > Export Entire Gradebook), whose columns
  start ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``. The rows that
  are not students are left out, as Canvas's importer (``lib/gradebook_importer.rb``)
  leaves them out: the ``    Points Possible`` row Canvas's export writes itself, its Test
  Student (from Student View, ``Student, Test``), the muted/manual-posting marker row and
  blank lines.
- Moodle: any CSV with the column the import is to identify students by (its grade export,
  or an assignment's grading worksheet, whose ``Identifier`` column names a participant
  "Participant 54321").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CANVAS = "canvas"
MOODLE = "moodle"
FORMATS = (CANVAS, MOODLE)
DEFAULT_MOODLE_ID = "Email address"

CANVAS_REQUIRED = ["Student", "ID"]  # what Canvas's importer itself cannot do without
CANVAS_TEST_STUDENT = "Student, Test"
# Canvas's importer skips rows made of nothing but these (which assignments are muted).
CANVAS_MARKER_CELL = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)
# Moodle's grading worksheet names a participant "Participant 54321" (in the site's
# language: "Participante54321", ...): a label, then the participant id.
WORKSHEET_IDENTIFIER = re.compile(r"(\D+?)\s?(\d+)")


class RosterError(ValueError):
    """A roster that cannot be used as it is: what is wrong, and how to fix it."""


@dataclass
class Roster:
    """The class as the LMS knows it: its rows in file order, and how to find a student.

    ``exact`` and ``folded`` map an identifier (as is, or case-folded) to the rows
    holding it; ``id_column`` is the identifier an LMS import is keyed on.
    """

    lms: str
    path: Path
    header: list[str]
    rows: list[dict[str, str]]
    lines: list[int]  # each row's line in the file, for messages
    id_column: str
    exact: dict[str, set[int]] = field(default_factory=dict)
    folded: dict[str, set[int]] = field(default_factory=dict)

    def find(self, student: str) -> int | None:
        """The row of nbgrader student ``student``, None if no row holds them.

        Raises RosterError when several rows do: guessing could give a grade to the
        wrong person.
        """
        found = self.exact.get(student, set()) | self.folded.get(student.casefold(), set())
        if len(found) > 1:
            rows = "; ".join(self.label(index) for index in sorted(found))
            raise RosterError(
                f"{self.path}: nbgrader student {student!r} matches several rows ({rows}); "
                "each identifier must name one student: fix the roster or the student id"
            )
        return next(iter(found), None)

    def label(self, index: int) -> str:
        """A row as a person reads it: name and identifier."""
        row = self.rows[index]
        if self.lms == CANVAS:
            return f"{row['Student']} (ID {row['ID']})"
        name = " ".join(row[c] for c in ("First name", "Last name") if row.get(c))
        name = name or row.get("Full name", "")
        value = row[self.id_column]
        return f"{name} ({value})" if name else value


def read_roster(
    path: Path, fmt: str, id_column: str = DEFAULT_MOODLE_ID, match_column: str | None = None
) -> Roster:
    """The class list an instructor exported from the LMS.

    ``fmt`` "canvas": Canvas's gradebook export (Grades > Export > Export Entire
    Gradebook). A nbgrader student id matches a row's ``ID``, ``SIS User ID`` or
    ``SIS Login ID`` (the login also in any case).

    ``fmt`` "moodle": any CSV with the column ``id_column`` (Moodle's grade export has
    "First name", "Last name", "ID number", "Institution", "Department", "Email
    address", then the grades); it is what the import file identifies students by. A
    nbgrader student id matches ``match_column`` (default: ``id_column``) in any case;
    where that column holds grading-worksheet identifiers ("Participant 54321"), the
    participant id alone matches too.

    Raises RosterError when the file is missing, empty, not UTF-8, lacks a column or
    names a student twice.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown LMS {fmt!r}: choose one of {', '.join(FORMATS)}")
    header, rows, lines = _read_table(path)
    if fmt == CANVAS:
        return _canvas_roster(path, header, rows, lines)
    return _moodle_roster(path, header, rows, lines, id_column, match_column or id_column)


def _read_table(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The header and the rows (with their line numbers) of a CSV written by an LMS or by
    Excel: any UTF-8 byte-order mark dropped, ``,`` ``;`` or tab as the separator."""
    if not path.is_file():
        raise RosterError(f"{path}: no such file; export the roster from the LMS first")
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel and some LMSs start with a BOM
    except UnicodeDecodeError as error:
        raise RosterError(
            f"{path} is not UTF-8 ({error.reason} at byte {error.start}); save it again as "
            "'CSV UTF-8' or export it from the LMS again"
        ) from None
    first = text.split("\n", 1)[0]
    # Spreadsheets in many locales save CSV with ";": the header line tells which.
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = [(row, reader.line_num) for row in reader]
    if not table or not any(cell.strip() for cell in table[0][0]):
        raise RosterError(f"{path} is empty: export the roster from the LMS again")
    header = [cell.strip() for cell in table[0][0]]
    width = len(header)
    rows = [(row + [""] * width)[:width] for row, _ in table[1:]]
    return header, rows, [line for _, line in table[1:]]


def require_columns(path: Path, header: list[str], columns: Iterable[str], hint: str) -> None:
    """Each of ``columns`` is in the header once, or the error names it and the fix."""
    for column in columns:
        if column not in header:
            shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
            raise RosterError(f"{path} has no column {column!r} (its columns: {shown}); {hint}")
        if header.count(column) > 1:
            raise RosterError(f"{path} has the column {column!r} twice; {hint}")


CANVAS_HINT = (
    "use the file Canvas writes in Grades > Export > Export Entire Gradebook, "
    "whose columns start Student, ID, SIS User ID, SIS Login ID, Section"
)


def _canvas_roster(
    path: Path, header: list[str], rows: list[list[str]], lines: list[int]
) -> Roster:
    """The students of a Canvas gradebook export, found by ID, SIS User ID or login."""
    require_columns(path, header, CANVAS_REQUIRED, CANVAS_HINT)
    roster = Roster(CANVAS, path, header, [], [], "ID")
    for row, line in zip(rows, lines, strict=True):
        cells = dict(zip(header, row, strict=True))
        student = cells["Student"].strip()
        # Not students: the points of each assignment, Canvas's Test Student (Student
        # View, who never hands anything in), the muted/manual-posting marker row and
        # blank lines. Canvas's importer skips the same rows.
        if "Points Possible" in student or student == CANVAS_TEST_STUDENT:
            continue
        if all(CANVAS_MARKER_CELL.match(cell) for cell in row):
            continue
        if not cells["ID"].strip():
            raise RosterError(
                f"{path}, line {line}: {student!r} has no ID; export the gradebook again "
                "rather than editing it"
            )
        roster.rows.append({key: value.strip() for key, value in cells.items()})
        roster.lines.append(line)
    _index(roster, "ID", fold=False)
    _index(roster, "SIS User ID", fold=False)
    _index(roster, "SIS Login ID", fold=True)  # logins are often emails: any case
    return roster


def _moodle_roster(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    lines: list[int],
    id_column: str,
    match_column: str,
) -> Roster:
    """The rows of a Moodle CSV, found by ``match_column`` in any case."""
    hint = "name the column holding the students' identifiers with --id-column"
    require_columns(path, header, dict.fromkeys([id_column, match_column]), hint)
    roster = Roster(MOODLE, path, header, [], [], id_column)
    for row, line in zip(rows, lines, strict=True):
        if any(cell.strip() for cell in row):
            roster.rows.append({key: value.strip() for key, value in zip(header, row, strict=True)})
            roster.lines.append(line)
    check_identifiers(roster, id_column)
    _index(roster, match_column, fold=True)  # emails and usernames: any case
    _index_participants(roster, match_column)
    return roster


def check_identifiers(roster: Roster, column: str) -> None:
    """Every row of a Moodle roster has its own identifier: Moodle aborts an import at
    the first row whose identifier it cannot find."""
    for index, row in enumerate(roster.rows):
        if not row[column]:
            raise RosterError(
                f"{roster.path}, line {roster.lines[index]}: no {column}; every student needs "
                "one, or choose another identifier column with --id-column"
            )
    _unique_values(roster, column, fold=True)


def _unique_values(roster: Roster, column: str, fold: bool) -> dict[str, int]:
    """A column's non-blank values (case-folded if ``fold``) -> their row; the same value
    on two rows is an error, since a student id matching it could be either."""
    seen: dict[str, int] = {}
    for index, row in enumerate(roster.rows):
        value = row.get(column, "")
        key = value.casefold() if fold else value
        if value and key in seen:
            raise RosterError(
                f"{roster.path}: {column} {value!r} is on lines {roster.lines[seen[key]]} and "
                f"{roster.lines[index]}; each student must appear once: remove the duplicate "
                "or export the roster again"
            )
        if value:
            seen[key] = index
    return seen


def _index(roster: Roster, column: str, fold: bool) -> None:
    """Make a column's values find their rows (an optional column may be absent: a TA's
    Canvas export has no SIS User ID)."""
    index = roster.folded if fold else roster.exact
    for key, row in _unique_values(roster, column, fold).items():
        index.setdefault(key, set()).add(row)


def _index_participants(roster: Roster, column: str) -> None:
    """Where a column is a Moodle grading worksheet's Identifier ("Participant 54321" on
    every row, one label), the participant id alone finds the row too."""
    found = [WORKSHEET_IDENTIFIER.fullmatch(row[column]) for row in roster.rows]
    if not found or not all(found) or len({match[1] for match in found if match}) != 1:
        return
    for index, match in enumerate(found):
        if match:
            roster.exact.setdefault(match[2], set()).add(index)
