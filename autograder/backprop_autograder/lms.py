"""Grades and feedback back into the LMS the class lives in: Canvas or Moodle.

Nothing here talks to an LMS over the network: it writes the files each LMS's own
import pages take, from the files its export pages give.

**Grades.** A roster exported from the LMS (:func:`read_roster`) says who is in the
class and how the LMS names them; :func:`write_canvas` and :func:`write_moodle` write
one column per lesson for any number of lessons at once, one row per roster student
with a grade. A graded student the roster does not have is never dropped silently:
the import file cannot hold them (the LMS would reject them), so they go to a sidecar
CSV next to it, and :class:`ExportProblems` lists them, with the roster students who
have no submission. Both LMSs read a blank cell as "no grade" and remove a grade
already there, so a student without any submission gets no row (the LMS keeps what it
has: an excused, a zero entered by hand), and a blank next to another lesson's grade
is reported.

What was relied on, read in the LMSs' own source:

- Canvas, Grades > Import (``lib/gradebook_importer.rb`` in instructure/canvas-lms):
  the header's first cells contain ``Student`` and ``ID``, optionally followed by
  ``SIS User ID`` and ``SIS Login ID``; the student columns end with ``Section``. A row
  is matched to a student by its ``ID`` (the Canvas user id) first, then by SIS User
  ID, then SIS Login ID, then by name. A column named ``<title> (<digits>)`` updates
  the assignment with that id (``Assignment.title_and_id``); any other column creates
  a new assignment of that name. A row whose first cell contains ``Points Possible``
  sets the assignments' points; rows of nothing but ``Muted``/``Manual Posting`` are
  skipped. A student missing from the file is left alone, but a blank cell where
  Canvas has a grade removes it (the upload page, ``gradebook_uploads``, highlights
  that change as ``updateWillRemoveGrade`` and posts the blank). Canvas's gradebook
  export (Grades > Export > Export Entire Gradebook) writes that ``    Points Possible``
  row itself, and its Test Student (from Student View) as ``Student, Test``.
- Moodle, Grades > Import > CSV file (``grade/import/csv/classes/load_data.php``):
  on its mapping page the instructor maps one column ("Map from") to a user field
  ("Map to": user id, username, ID number or email address) and each other column to
  a grade item, or to a new grade item named after the column's header. A row whose
  identifier matches no Moodle user aborts the whole import, so only roster students
  are written. A blank (or ``-``) cell is read as *no grade* (``update_grade_item``
  sets the final grade to null): it does not skip, it clears a grade already there.

**Feedback** (:func:`pack_feedback`): nbgrader's ``generate_feedback`` writes
``feedback/<student>/<lesson>/<lesson>.html``; each one is packed under the name the
student's notebook had in the LMS download, ``.ipynb`` made ``.html``, so that the
LMS's own upload page finds the student:

- Canvas, "Re-Upload Submissions" (``Assignment#infer_comment_context_from_filename``):
  the file's base name is split at ``_`` and its first two all-digit parts are the
  user id and the attachment id of the submitted file, as the download named it
  (``ContentZipper``: ``<sortable name>[_late]_<user id>_<attachment id>_<file name>``,
  the name lowercased and stripped of anything but word characters). Each uploaded
  file becomes a comment on that submission.
- Moodle, "Upload multiple feedback files in a zip" (``mod/assign/feedback/file/
  importziplib.php``): a path part ``<full name>_<participant id>_assignsubmission_file``
  (Moodle 4.1+; earlier versions add a trailing ``_``, and without "download
  submissions in folders" the file name follows it in the same part) names the
  participant; the rest of the path is the feedback file's name.

**Download names** (:data:`PATTERNS`, for ``--pattern``):

- ``canvas``: ``doejane_12345_67890_01_forward_pass.ipynb``, late
  ``doejane_late_12345_67890_...`` (older Canvas: ``doe-jane-late_12345_...``; any
  case). The student id is the Canvas user id, which is the roster's ``ID`` column.
  Canvas names a file handed in again under an existing name ``01_forward_pass-1.ipynb``
  (``Attachment.make_unique_filename``); nbgrader's ``zip_collect`` names the collected
  notebook ``splitext(file_id)[0]`` plus the file's extension and skips names the
  release does not have, so the preset's ``file_id`` drops the ``-1`` and the
  extension there (``01_forward_pass``), which nbgrader collects as
  ``01_forward_pass.ipynb``. Canvas's download holds only each student's latest
  submission.
- ``moodle``: ``Jane Doe_54321_assignsubmission_file/01_forward_pass.ipynb`` (folders,
  Moodle 4.1+), ``..._assignsubmission_file_/...`` (3.x) or
  ``..._assignsubmission_file_01_forward_pass.ipynb`` (no folders). The student id is
  the *participant id*, the only id in those names: Moodle draws it per assignment
  (``assign_user_mapping``), so the same student has a different one in each lesson,
  and the grade import cannot map on it. To export grades, use that assignment's
  grading worksheet (Assignment > Download grading worksheet) as the roster, matching
  on its ``Identifier`` column ("Participant 54321") and writing its ``Email address``:
  ``read_roster(worksheet, "moodle", "Email address", match_column="Identifier")``,
  one lesson per worksheet.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from backprop_autograder.collecting import DEFAULT_PATTERN

CANVAS = "canvas"
MOODLE = "moodle"
FORMATS = (CANVAS, MOODLE)
DEFAULT_MOODLE_ID = "Email address"

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_REQUIRED = ["Student", "ID"]  # what Canvas's importer itself cannot do without
CANVAS_POINTS_POSSIBLE = "    Points Possible"  # as Canvas's own export writes it
CANVAS_TEST_STUDENT = "Student, Test"
# Canvas's Assignment.title_and_id: a column "<title> (<assignment id>)".
CANVAS_ASSIGNMENT = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)
# Canvas's importer skips rows made of nothing but these (which assignments are muted).
CANVAS_MARKER_CELL = re.compile(r"^\s*(Muted|Manual Posting.*)?\s*$", re.I)
# Moodle's grading worksheet names a participant "Participant 54321" (in the site's
# language: "Participante54321", ...): a label, then the participant id.
WORKSHEET_IDENTIFIER = re.compile(r"(\D+?)\s?(\d+)")

PATTERNS = {
    # [<sortable name>_][late_]<user id>_<attachment id>_<file name>[-<n>].ipynb
    CANVAS: r"^(?:.*/)?(?:[^/]*?_)??(?i:late_)?(?P<student_id>\d+)_\d+_"
    r"(?P<file_id>[^/]+?(?:\.ipynb)?)(?:-\d+\.ipynb)?$",
    # <full name>_<participant id>_assignsubmission_file then "/", "_/" or "_"
    MOODLE: r"^(?:.*/)?[^/_]*_(?P<student_id>\d+)_assignsubmission_file"
    r"(?:_?/(?:[^/]+/)*|_)(?P<file_id>[^/]+)$",
}


class RosterError(ValueError):
    """A roster that cannot be used as it is: what is wrong, and how to fix it."""


@dataclass
class LessonGrades:
    """One lesson's final scores, as the LMS should get them."""

    assignment: str  # nbgrader assignment, e.g. "01_forward_pass"
    points_possible: float  # the assignment's maximum
    finals: dict[str, float]  # nbgrader student id -> final score (after any late penalty)


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


@dataclass
class ExportProblems:
    """What an export could not do as asked, for the instructor to act on."""

    not_in_roster: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> grades
    sidecar: Path | None = None  # where their grades were written instead
    no_submission: dict[str, list[str]] = field(default_factory=dict)  # lesson -> roster rows
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per problem, for the command line to print."""
        out = []
        if self.not_in_roster:
            out.append(
                f"{len(self.not_in_roster)} graded students are not in the roster and are left "
                f"out of the import; their grades are in {self.sidecar}: "
                + ", ".join(sorted(self.not_in_roster))
            )
        for assignment, names in self.no_submission.items():
            if names:
                out.append(
                    f"{assignment}: {len(names)} roster students have no submission (no grade "
                    "written for them): " + "; ".join(names)
                )
        return out + self.notes


# --- reading a roster -------------------------------------------------------------------


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


def _require(path: Path, header: list[str], columns: Iterable[str], hint: str) -> None:
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
    _require(path, header, CANVAS_REQUIRED, CANVAS_HINT)
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
    _require(path, header, dict.fromkeys([id_column, match_column]), hint)
    roster = Roster(MOODLE, path, header, [], [], id_column)
    for row, line in zip(rows, lines, strict=True):
        if any(cell.strip() for cell in row):
            roster.rows.append({key: value.strip() for key, value in zip(header, row, strict=True)})
            roster.lines.append(line)
    _check_identifiers(roster, id_column)
    _index(roster, match_column, fold=True)  # emails and usernames: any case
    _index_participants(roster, match_column)
    return roster


def _check_identifiers(roster: Roster, column: str) -> None:
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


# --- writing the import files -----------------------------------------------------------


def write_canvas(grades: list[LessonGrades], roster: Roster, path: Path) -> ExportProblems:
    """Canvas's gradebook import: the five student columns, one column per lesson.

    A lesson's column reuses the roster's ``<lesson> (<assignment id>)`` header, so
    Canvas updates that assignment; without one, Canvas creates an assignment named
    after the lesson. The ``Points Possible`` row gives each lesson's maximum. Only
    roster students with a grade in at least one lesson have a row, in roster order:
    Canvas reads a blank cell as "remove the grade" (its upload page highlights it,
    ``updateWillRemoveGrade``), so a student without any submission is left out and
    keeps whatever Canvas has (an excused or a zero entered by hand).
    """
    _check_export(grades, roster, CANVAS, path)
    placed, missing = _place(grades, roster)
    problems = ExportProblems(not_in_roster=missing)
    columns = [_canvas_column(roster, lesson.assignment, problems) for lesson in grades]
    table = [
        CANVAS_STUDENT_COLUMNS + columns,
        [CANVAS_POINTS_POSSIBLE, "", "", "", ""] + [_number(x.points_possible) for x in grades],
    ]
    for index in _graded_rows(grades, roster, placed, "Canvas", problems):
        cells = [roster.rows[index].get(c, "") for c in CANVAS_STUDENT_COLUMNS]
        table.append(cells + _cells(grades, placed[index]))
    _write_csv(path, table)
    problems.sidecar = _write_sidecar(path, grades, missing)
    return problems


def write_moodle(
    grades: list[LessonGrades], roster: Roster, path: Path, id_column: str | None = None
) -> ExportProblems:
    """Moodle's "Import grades > CSV file": the identifier column, one column per lesson.

    ``id_column`` (default: the roster's) is the column to map from; each lesson's
    column is named after the lesson, for the grade item it is mapped to (or the new
    grade item it makes). Only roster students with a grade in at least one lesson
    have a row, in roster order: Moodle reads a blank cell as "no grade".
    """
    _check_export(grades, roster, MOODLE, path)
    column = id_column or roster.id_column
    _require(roster.path, roster.header, [column], "choose another --id-column")
    _check_identifiers(roster, column)
    placed, missing = _place(grades, roster)
    problems = ExportProblems(not_in_roster=missing)
    table = [[column] + [lesson.assignment for lesson in grades]]
    for index in _graded_rows(grades, roster, placed, "Moodle", problems):
        table.append([roster.rows[index][column], *_cells(grades, placed[index])])
    _write_csv(path, table)
    problems.sidecar = _write_sidecar(path, grades, missing)
    return problems


def _graded_rows(
    grades: list[LessonGrades],
    roster: Roster,
    placed: dict[int, dict[str, float]],
    lms: str,
    problems: ExportProblems,
) -> list[int]:
    """The roster rows to write (those with a grade), in roster order.

    Both LMSs read a blank cell as "no grade" and remove a grade already there, so the
    problems list each lesson's students without a submission, and say where a blank
    sits next to another lesson's grade.
    """
    rows = [index for index in range(len(roster.rows)) if index in placed]
    for lesson in grades:
        absent = [index for index in range(len(roster.rows))
                  if lesson.assignment not in placed.get(index, {})]  # fmt: skip
        problems.no_submission[lesson.assignment] = [roster.label(i) for i in absent]
        blank = [roster.label(index) for index in absent if index in placed]
        if blank:
            problems.notes.append(
                f"{lesson.assignment}: a blank cell for {'; '.join(blank)} (graded in another "
                f"lesson): {lms}'s import removes any grade they have there; import this "
                "lesson on its own if they have one"
            )
    return rows


def _check_export(grades: list[LessonGrades], roster: Roster, lms: str, path: Path) -> None:
    """The roster is this LMS's, each lesson comes once, and the roster stays as it is."""
    if roster.lms != lms:
        raise ValueError(f"a {roster.lms} roster cannot make a {lms} import; read a {lms} one")
    names = [lesson.assignment for lesson in grades]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give each lesson once, at least one: {names}")
    if path.resolve() == roster.path.resolve():
        raise ValueError(f"{path} is the roster itself: write the import to another file")


def _place(
    grades: list[LessonGrades], roster: Roster
) -> tuple[dict[int, dict[str, float]], dict[str, dict[str, float]]]:
    """Each lesson's scores by roster row, and the graded students no row holds."""
    placed: dict[int, dict[str, float]] = {}
    whose: dict[tuple[int, str], str] = {}  # (row, lesson) -> the nbgrader student put there
    missing: dict[str, dict[str, float]] = {}
    for lesson in grades:
        for student, score in sorted(lesson.finals.items()):
            index = roster.find(student)
            if index is None:
                missing.setdefault(student, {})[lesson.assignment] = score
                continue
            other = whose.setdefault((index, lesson.assignment), student)
            if other != student:  # the same person under two ids: which grade is theirs?
                raise RosterError(
                    f"{lesson.assignment}: nbgrader students {other!r} and {student!r} both "
                    f"match {roster.label(index)}; keep one of their submissions"
                )
            placed.setdefault(index, {})[lesson.assignment] = score
    return placed, missing


def _canvas_column(roster: Roster, assignment: str, problems: ExportProblems) -> str:
    """The roster's header of the lesson's Canvas assignment, else the lesson's name."""
    found = [
        name
        for name in roster.header
        if (match := CANVAS_ASSIGNMENT.match(name)) and match[1] == assignment
    ]
    if len(found) > 1:
        raise RosterError(
            f"{roster.path}: the columns {found} are all assignment {assignment!r}; "
            "rename all but one in Canvas, then export the gradebook again"
        )
    if found:
        return found[0]
    problems.notes.append(
        f"{assignment}: the roster has no column '{assignment} (<id>)', so Canvas will create "
        f"a new assignment named {assignment!r} (name the Canvas assignment {assignment!r} "
        "and export the gradebook again to update it instead)"
    )
    return assignment


def _cells(grades: list[LessonGrades], scores: dict[str, float]) -> list[str]:
    """One cell per lesson: the score, or blank without one (0 is a score)."""
    return [_number(scores[x.assignment]) if x.assignment in scores else "" for x in grades]


def _number(value: float) -> str:
    """A score as a plain decimal (``7.5``, ``10``): never an exponent, which an LMS may not
    read; rounded to 6 decimals, finer than any LMS shows."""
    if not math.isfinite(value):
        raise ValueError(f"a score must be a number, not {value}")
    # + 0.0 turns a negative zero (round(-1e-9, 6)) into 0; "7.500000" -> "7.5", "10." -> "10".
    return f"{round(value, 6) + 0.0:f}".rstrip("0").rstrip(".")


def _write_csv(path: Path, table: list[list[str]]) -> None:
    """UTF-8 without a byte-order mark, comma-separated: what both LMSs read by default."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(table)


def _write_sidecar(
    path: Path, grades: list[LessonGrades], missing: dict[str, dict[str, float]]
) -> Path | None:
    """``<out stem>_not_in_roster.csv``: the graded students the import could not hold.

    An earlier run's sidecar goes when nobody is missing, so that one never misleads.
    """
    sidecar = path.with_name(f"{path.stem}_not_in_roster.csv")
    if not missing:
        sidecar.unlink(missing_ok=True)
        return None
    rows = [[student, *_cells(grades, missing[student])] for student in sorted(missing)]
    _write_csv(sidecar, [["student_id"] + [x.assignment for x in grades], *rows])
    return sidecar


# --- feedback for upload ----------------------------------------------------------------


def pack_feedback(
    course_dir: Path, assignment: str, out: Path, pattern: str = DEFAULT_PATTERN
) -> list[str]:
    """Zip each student's feedback HTML under the name the LMS's upload page matches.

    The name is the student's notebook's name in the LMS download kept in
    ``downloaded/<assignment>/archive/`` (its folder part too), ``.ipynb`` made
    ``.html``; ``pattern`` is the one the download was collected with. A student
    without one there (collected from the exchange, say) gets
    ``<student>_<assignment>.html``. When a student has several notebooks in the
    download, the one nbgrader collected (the same bytes as ``submitted/``) names it;
    failing that, the last in nbgrader's order (sorted names). Returns the problems:
    submitted students without feedback, feedback the LMS will not match, and so on.
    """
    regex = re.compile(pattern)
    if not {"student_id", "file_id"} <= set(regex.groupindex):
        raise ValueError(f"the pattern {pattern} needs the groups student_id and file_id")
    feedback = _feedback_files(course_dir, assignment)
    submitted = _submitted(course_dir, assignment)
    archives = sorted((course_dir / "downloaded" / assignment / "archive").glob("*.zip"))
    problems = []
    if not archives:
        problems.append(
            f"{assignment}: no LMS download in {course_dir / 'downloaded' / assignment / 'archive'}"
            f" (collected from the exchange?): each file is named <student>_{assignment}.html,"
            " which no LMS matches by itself"
        )
    members = _download_members(archives, assignment, regex)
    names = {}
    for student, candidates in sorted(members.items()):
        names[student] = _collected(candidates, submitted.get(student), student, problems)
    for student in sorted(set(members) | set(submitted)):
        if student not in feedback:
            where = "submitted" if student in submitted else f"in the download ({names[student]})"
            problems.append(f"{student}: {where}, but has no feedback; run the feedback step")
    _write_feedback_zip(out, feedback, names, assignment, archives, problems)
    return problems


def _feedback_files(course_dir: Path, assignment: str) -> dict[str, Path]:
    """Student -> the feedback nbgrader's generate_feedback wrote for them."""
    root = course_dir / "feedback"
    files = root.glob(f"*/{assignment}/{assignment}.html") if root.is_dir() else []
    return {path.parent.parent.name: path for path in files}


def _submitted(course_dir: Path, assignment: str) -> dict[str, Path]:
    """Student -> the notebook nbgrader collected for them."""
    files = (course_dir / "submitted").glob(f"*/{assignment}/{assignment}.ipynb")
    return {path.parent.parent.name: path for path in files}


@dataclass
class _Member:
    """A notebook in the LMS download: which archive, and its name there."""

    archive: Path
    name: str

    def order(self) -> str:
        # zip_collect extracts each archive to extracted/<archive stem>/ and sorts the paths.
        return f"{self.archive.stem}/{self.name}"

    def read(self) -> bytes:
        with zipfile.ZipFile(self.archive) as zipped:
            return zipped.read(self.name)


def _download_members(
    archives: list[Path], assignment: str, regex: re.Pattern[str]
) -> dict[str, list[_Member]]:
    """Student -> their notebooks of ``assignment`` in the LMS download, in nbgrader's order.

    A member counts as nbgrader's zip_collect counts it: the pattern matches its name,
    and ``splitext(file_id)[0]`` plus the member's extension is the lesson's notebook.
    """
    found: dict[str, list[_Member]] = {}
    for archive in archives:
        with zipfile.ZipFile(archive) as zipped:
            names = [info.filename for info in zipped.infolist() if not info.is_dir()]
        for name in names:
            match = regex.match(name)
            notebook = os.path.splitext(match["file_id"])[0] if match else ""
            if match and notebook + os.path.splitext(name)[1] == f"{assignment}.ipynb":
                found.setdefault(match["student_id"], []).append(_Member(archive, name))
    return {student: sorted(found[student], key=_Member.order) for student in found}


def _collected(
    candidates: list[_Member], submitted: Path | None, student: str, problems: list[str]
) -> str:
    """The member nbgrader collected, of a student's notebooks in the download."""
    if len(candidates) == 1:
        return candidates[0].name
    content = submitted.read_bytes() if submitted else None
    same = [member for member in candidates if member.read() == content]
    chosen = (same or candidates)[-1]
    how = "the one nbgrader collected" if same else "the last one, as nbgrader orders them"
    problems.append(
        f"{student}: {len(candidates)} notebooks in the download; the feedback is named after "
        f"{chosen.name}, {how}"
    )
    return chosen.name


def _write_feedback_zip(
    out: Path,
    feedback: dict[str, Path],
    names: dict[str, str],
    assignment: str,
    archives: list[Path],
    problems: list[str],
) -> None:
    """The zip to upload: each feedback file under its LMS name, else its own."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
        for student, html in sorted(feedback.items()):
            original = names.get(student)
            if original is None and archives:
                problems.append(
                    f"{student}: not in the LMS download; packed as {student}_{assignment}.html,"
                    " which the LMS will not match: upload it by hand"
                )
            # Only .ipynb members are counted (_download_members), as zip_collect counts them.
            arcname = original.removesuffix(".ipynb") + ".html" if original else None
            zipped.write(html, arcname or f"{student}_{assignment}.html")
