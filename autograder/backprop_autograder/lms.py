"""Grades back into the LMS the class lives in: Canvas or Moodle.

Nothing here talks to an LMS over the network: it writes the files each LMS's own
import pages take, from the files its export pages give. The roster is read in
:mod:`backprop_autograder.lms_roster` (its names are importable from here too); the
feedback is packed for upload in :mod:`backprop_autograder.lms_feedback`.

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
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from backprop_autograder.lms_roster import (
    CANVAS,
    DEFAULT_MOODLE_ID,
    FORMATS,
    MOODLE,
    Roster,
    RosterError,
    check_identifiers,
    read_roster,
    require_columns,
)

__all__ = [
    "CANVAS",
    "DEFAULT_MOODLE_ID",
    "FORMATS",
    "MOODLE",
    "PATTERNS",
    "ExportProblems",
    "LessonGrades",
    "Roster",
    "RosterError",
    "read_roster",
    "write_canvas",
    "write_moodle",
]

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_POSSIBLE = "    Points Possible"  # as Canvas's own export writes it
# Canvas's Assignment.title_and_id: a column "<title> (<assignment id>)".
CANVAS_ASSIGNMENT = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)

PATTERNS = {
    # [<sortable name>_][late_]<user id>_<attachment id>_<file name>[-<n>].ipynb
    CANVAS: r"^(?:.*/)?(?:[^/]*?_)??(?i:late_)?(?P<student_id>\d+)_\d+_"
    r"(?P<file_id>[^/]+?(?:\.ipynb)?)(?:-\d+\.ipynb)?$",
    # <full name>_<participant id>_assignsubmission_file then "/", "_/" or "_"
    MOODLE: r"^(?:.*/)?[^/_]*_(?P<student_id>\d+)_assignsubmission_file"
    r"(?:_?/(?:[^/]+/)*|_)(?P<file_id>[^/]+)$",
}


@dataclass
class LessonGrades:
    """One lesson's final scores, as the LMS should get them."""

    assignment: str  # nbgrader assignment, e.g. "01_forward_pass"
    points_possible: float  # the assignment's maximum
    finals: dict[str, float]  # nbgrader student id -> final score (after any late penalty)


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
    require_columns(roster.path, roster.header, [column], "choose another --id-column")
    check_identifiers(roster, column)
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
