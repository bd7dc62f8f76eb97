"""Grades and feedback for Canvas and Moodle (:mod:`backprop_autograder.lms`, `lms_roster`,
`lms_feedback`), no grading run.

The files written are read back by small readers written here from each LMS's own
importer (Canvas's ``lib/gradebook_importer.rb``, Moodle's ``gradeimport_csv``
``load_data.php``, Canvas's ``infer_comment_context_from_filename`` and Moodle's
``assignfeedback_file_zip_importer``), independently of the code under test. The
download-name presets are run through nbgrader's own ``FileNameCollectorPlugin``.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from pathlib import Path

import pytest
from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

from backprop_autograder import lms, lms_feedback
from backprop_autograder.collecting import DEFAULT_PATTERN
from backprop_autograder.lms import LessonGrades, RosterError

BOM = "\ufeff"
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")  # what every LMS reads: no exponent, no comma
F01, F02 = "01_forward_pass", "02_chain_rule"


def write_csv(path: Path, rows: list[list[str]], bom: bool = False, delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        out.write(BOM if bom else "")
        csv.writer(out, delimiter=delimiter).writerows(rows)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as text:
        return list(csv.reader(text))


# --- a Canvas gradebook export, and what Canvas's importer reads --------------------------

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                 f"{F01} (4501)", f"{F01}_v2 (4502)", "Quiz 1 (4600)",
                 "Assignments Current Score", "Current Score", "Final Grade"]  # fmt: skip
CANVAS_EXPORT = [
    CANVAS_HEADER,
    ["    Points Possible", "", "", "", "", "10", "10", "5",
     "(read only)", "(read only)", "(read only)"],
    ["", "", "", "", "", "Manual Posting", "", "", "", "", ""],
    # Roster order is neither by name nor by ID, so that a sorted output shows.
    ["Zed, Ann", "301", "S-301", "ann@uni.edu", "Section A", "", "", "4", "", "", ""],
    ["Doe, Jane", "102", "S-102", "JDoe@uni.edu", "Section A", "3", "", "5", "", "", ""],
    ["Roe, Rick", "203", "", "rroe", "Section B", "", "", "", "", "", ""],
    ["Poe, Edgar", "404", "S-404", "epoe", "Section B", "2", "", "", "", "", ""],
    ["Student, Test", "999", "", "", "Section A", "", "", "", "", "", ""],
]  # fmt: skip


def canvas_roster(tmp_path: Path, rows: list[list[str]] = CANVAS_EXPORT, **kw) -> Path:
    return write_csv(tmp_path / "gradebook_export.csv", rows, **kw)


def canvas_import(path: Path) -> tuple[dict[str, float], list[list[str]]]:
    """What Canvas's gradebook importer takes from a file: each assignment column's points,
    and the student rows (first cell, ID, SIS cells, section, then one cell per column).

    Its rules: the header's first cells contain Student, ID, SIS User ID, SIS Login ID
    and Section; a row whose first cell contains "Points Possible" gives the points; a
    student is found by ID; a grade cell is blank (no change) or a number.
    """
    header, *body = read_csv(path)
    assert "Student" in header[0] and "ID" in header[1]
    assert re.fullmatch(r"SIS\s+User\s+ID", header[2])
    assert re.fullmatch(r"SIS\s+Login\s+ID", header[3])
    assert "Section" in header[4]
    assert all(len(row) == len(header) for row in body)
    points = [row for row in body if "Points Possible" in row[0]]
    assert len(points) == 1 and body[0] is points[0], "one Points Possible row, first"
    assert all(PLAIN_NUMBER.fullmatch(cell) for cell in points[0][5:])
    students = [row for row in body if row is not points[0]]
    ids = [row[1] for row in students]
    assert all(ids) and len(set(ids)) == len(ids), "every row names one Canvas user"
    for row in students:
        assert all(cell == "" or PLAIN_NUMBER.fullmatch(cell) for cell in row[5:]), row
    return dict(zip(header[5:], map(float, points[0][5:]), strict=True)), students


def scores_by_id(students: list[list[str]], columns: list[str]) -> dict[str, dict[str, float]]:
    return {
        row[1]: {name: float(cell) for name, cell in zip(columns, row[5:], strict=True) if cell}
        for row in students
    }


LESSON_01 = LessonGrades(F01, 10, {"301": 7.5, "jdoe@UNI.edu": 9.0, "ghost": 3.25})
LESSON_02 = LessonGrades(F02, 12, {"S-301": 11.0, "102": 0.0, "rroe": 6.5, "ghost": 1.0})


def test_canvas_round_trip_of_two_lessons(tmp_path):
    """ID, SIS User ID and the login in another case all find their student; the
    existing assignment's header is reused, the new lesson gets its own name; zero is
    a grade, not a blank. A student without any grade gets no row: Canvas would read
    blanks as "remove the grade"."""
    roster = lms.read_roster(canvas_roster(tmp_path), "canvas")
    out = tmp_path / "canvas_import.csv"
    problems = lms.write_canvas([LESSON_01, LESSON_02], roster, out)

    points, students = canvas_import(out)
    assert list(points) == [f"{F01} (4501)", F02]
    assert points == {f"{F01} (4501)": 10.0, F02: 12.0}
    assert [row[:5] for row in students] == [row[:5] for row in CANVAS_EXPORT[3:6]]
    assert "404" not in [row[1] for row in students]
    assert scores_by_id(students, list(points)) == {
        "301": {f"{F01} (4501)": 7.5, F02: 11.0},
        "102": {f"{F01} (4501)": 9.0, F02: 0.0},
        "203": {F02: 6.5},
    }
    assert "ghost" not in out.read_text()
    assert problems.no_submission == {
        F01: ["Roe, Rick (ID 203)", "Poe, Edgar (ID 404)"],
        F02: ["Poe, Edgar (ID 404)"],
    }
    assert any(F02 in note and "new assignment" in note for note in problems.notes)
    blank_notes = [note for note in problems.notes if "removes" in note]
    assert len(blank_notes) == 1
    assert blank_notes[0].startswith(F01) and "Roe, Rick" in blank_notes[0]
    assert "Poe" not in blank_notes[0]


def test_a_graded_student_not_in_the_roster_goes_to_a_sidecar(tmp_path):
    roster = lms.read_roster(canvas_roster(tmp_path), "canvas")
    out = tmp_path / "canvas_import.csv"
    problems = lms.write_canvas([LESSON_01, LESSON_02], roster, out)

    assert problems.not_in_roster == {"ghost": {F01: 3.25, F02: 1.0}}
    assert problems.sidecar == tmp_path / "canvas_import_not_in_roster.csv"
    assert read_csv(problems.sidecar) == [["student_id", F01, F02], ["ghost", "3.25", "1"]]
    lines = problems.lines()
    assert any("ghost" in line and str(problems.sidecar) in line for line in lines)
    absent = "Roe, Rick (ID 203); Poe, Edgar (ID 404)"
    assert any(line.startswith(F01) and absent in line for line in lines)
    assert not any(line.startswith(F02) and "Roe" in line for line in lines)

    # Everyone found next time: the old sidecar must not linger and mislead.
    lms.write_canvas([LessonGrades(F01, 10, {"301": 1.0})], roster, out)
    assert not problems.sidecar.exists()


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
def test_canvas_roster_keeps_only_students(tmp_path, bom):
    """The Points Possible row, the muted/manual-posting row and the Test Student are not
    students; a byte-order mark does not hide the Student column."""
    roster = lms.read_roster(canvas_roster(tmp_path, bom=bom), "canvas")
    assert [row["ID"] for row in roster.rows] == ["301", "102", "203", "404"]
    assert roster.lines == [4, 5, 6, 7]
    assert roster.find("999") is None


def test_a_lesson_matches_only_its_own_canvas_column(tmp_path):
    rows = [row[:] for row in CANVAS_EXPORT]
    rows[0][6] = f"{F01} (4777)"  # two Canvas assignments of the same name
    roster = lms.read_roster(canvas_roster(tmp_path, rows), "canvas")
    with pytest.raises(RosterError, match=r"4501.*4777"):
        lms.write_canvas([LESSON_01], roster, tmp_path / "out.csv")


def test_a_student_id_on_two_rows_is_an_error_not_a_guess(tmp_path):
    rows = [row[:] for row in CANVAS_EXPORT]
    rows[5][2] = "301"  # Rick's SIS User ID is Ann's Canvas ID
    roster = lms.read_roster(canvas_roster(tmp_path, rows), "canvas")
    with pytest.raises(RosterError, match=r"'301' matches several rows.*Zed, Ann.*Roe, Rick"):
        lms.write_canvas([LESSON_01], roster, tmp_path / "out.csv")


def test_one_student_under_two_ids_in_one_lesson_is_an_error(tmp_path):
    roster = lms.read_roster(canvas_roster(tmp_path), "canvas")
    twice = LessonGrades(F01, 10, {"102": 4.0, "jdoe@uni.edu": 9.0})
    with pytest.raises(RosterError, match=r"'102' and 'jdoe@uni.edu' both match Doe, Jane"):
        lms.write_canvas([twice], roster, tmp_path / "out.csv")


@pytest.mark.parametrize(
    ("column", "row", "value"),
    [("ID", 5, "301"), ("SIS User ID", 4, "S-301"), ("SIS Login ID", 4, "ANN@uni.edu")],
)
def test_duplicate_canvas_identifiers_are_refused(tmp_path, column, row, value):
    rows = [row_[:] for row_ in CANVAS_EXPORT]
    rows[row][CANVAS_HEADER.index(column)] = value
    with pytest.raises(RosterError, match=rf"{column} '{value}' is on lines 4 and {row + 1}"):
        lms.read_roster(canvas_roster(tmp_path, rows), "canvas")


def test_canvas_roster_without_an_id_column_says_what_to_export(tmp_path):
    rows = [[cell for i, cell in enumerate(row) if i != 1] for row in CANVAS_EXPORT]
    with pytest.raises(RosterError, match=r"no column 'ID'.*Export Entire Gradebook"):
        lms.read_roster(canvas_roster(tmp_path, rows), "canvas")


def test_a_ta_export_without_sis_user_id_still_works(tmp_path):
    rows = [[cell for i, cell in enumerate(row) if i != 2] for row in CANVAS_EXPORT]
    roster = lms.read_roster(canvas_roster(tmp_path, rows), "canvas")
    out = tmp_path / "out.csv"
    lms.write_canvas([LESSON_01], roster, out)
    _, students = canvas_import(out)
    assert [row[:4] for row in students] == [
        ["Zed, Ann", "301", "", "ann@uni.edu"],
        ["Doe, Jane", "102", "", "JDoe@uni.edu"],
    ]
    assert scores_by_id(students, [F01]) == {"301": {F01: 7.5}, "102": {F01: 9.0}}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "is empty"), (BOM.encode(), "is empty"),
     ("Student,ID\nM\xfcller,1\n".encode("latin-1"), "not UTF-8")],
    ids=["missing", "empty", "only-bom", "latin-1"],
)  # fmt: skip
def test_unreadable_rosters_say_why(tmp_path, content, message):
    path = tmp_path / "roster.csv"
    if content is not None:
        path.write_bytes(content)
    for fmt in lms.FORMATS:
        with pytest.raises(RosterError, match=message):
            lms.read_roster(path, fmt)
    assert issubclass(RosterError, ValueError)


def test_the_import_never_overwrites_the_roster(tmp_path):
    path = canvas_roster(tmp_path)
    roster = lms.read_roster(path, "canvas")
    with pytest.raises(ValueError, match="roster itself"):
        lms.write_canvas([LESSON_01], roster, path)
    assert read_csv(path) == CANVAS_EXPORT


# --- a Moodle grade export, and what Moodle's CSV import reads ----------------------------

MOODLE_EXPORT = [
    ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
     f"Assignment: {F01} (Real)", "Course total (Real)", "Last downloaded from this course"],
    ["Ann", "Zed", "", "Uni", "CS", "Ann.Zed@uni.edu", "-", "0.00", "1718000000"],
    ["Jane", "Doe", "s102", "Uni", "CS", "jdoe@uni.edu", "-", "0.00", "1718000000"],
    ["Rick", "Roe", "s203", "Uni", "CS", "rroe@uni.edu", "-", "0.00", "1718000000"],
]  # fmt: skip


def moodle_import(path: Path, map_from: str, users: list[str]) -> dict[str, dict[str, str]]:
    """What Moodle's "Import grades > CSV file" takes, the identifier mapped from
    ``map_from``: identifier -> grade item column -> cell. Each identifier must be a
    Moodle user's (``users``, exactly: Moodle looks it up in its database, and one it
    cannot find aborts the whole import); a cell is a number or blank ("no grade")."""
    header, *body = read_csv(path)
    key = header.index(map_from)
    found = {}
    for row in body:
        assert len(row) == len(header)
        assert row[key] in users and row[key] not in found
        cells = {name: cell for i, (name, cell) in enumerate(zip(header, row, strict=True))
                 if i != key}  # fmt: skip
        assert all(cell == "" or PLAIN_NUMBER.fullmatch(cell) for cell in cells.values())
        found[row[key]] = cells
    return found


def test_moodle_round_trip_of_two_lessons(tmp_path):
    """Emails match in any case, the file keeps the roster's spelling; students without
    any grade get no row at all (Moodle reads a blank as "no grade")."""
    roster = lms.read_roster(write_csv(tmp_path / "grades.csv", MOODLE_EXPORT), "moodle")
    out = tmp_path / "moodle_import.csv"
    lessons = [
        LessonGrades(F01, 10, {"ann.zed@UNI.edu": 8.0, "jdoe@uni.edu": 5.5, "x@uni.edu": 2.0}),
        LessonGrades(F02, 12, {"JDOE@uni.edu": 12.0}),
    ]
    problems = lms.write_moodle(lessons, roster, out)

    emails = [row[5] for row in MOODLE_EXPORT[1:]]
    assert read_csv(out)[0] == ["Email address", F01, F02]
    assert moodle_import(out, "Email address", emails) == {
        "Ann.Zed@uni.edu": {F01: "8", F02: ""},
        "jdoe@uni.edu": {F01: "5.5", F02: "12"},
    }
    assert problems.not_in_roster == {"x@uni.edu": {F01: 2.0}}
    assert read_csv(problems.sidecar) == [["student_id", F01, F02], ["x@uni.edu", "2", ""]]
    assert problems.no_submission == {
        F01: ["Rick Roe (rroe@uni.edu)"],
        F02: ["Ann Zed (Ann.Zed@uni.edu)", "Rick Roe (rroe@uni.edu)"],
    }
    blank_notes = [note for note in problems.notes if "removes" in note]
    assert len(blank_notes) == 1 and blank_notes[0].startswith(F02) and "Ann Zed" in blank_notes[0]


def test_moodle_identifier_column_is_the_instructors_choice(tmp_path):
    rows = [row[:] for row in MOODLE_EXPORT]
    rows[1][2] = "s301"
    roster = lms.read_roster(write_csv(tmp_path / "g.csv", rows, delimiter=";"), "moodle",
                             id_column="ID number")  # fmt: skip
    out = tmp_path / "moodle_import.csv"
    lms.write_moodle([LessonGrades(F01, 10, {"S102": 4.0, "s203": 6.0})], roster, out)
    assert moodle_import(out, "ID number", ["s301", "s102", "s203"]) == {
        "s102": {F01: "4"},
        "s203": {F01: "6"},
    }


def test_moodle_grading_worksheet_maps_participant_ids_to_emails(tmp_path):
    """The Moodle download names students by participant id: the assignment's grading
    worksheet ("Participant 54321") says whose it is."""
    worksheet = [
        ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade"],
        ["Participant 54321", "Jane Doe", "jdoe@uni.edu", "Submitted", "", "10.00"],
        ["Participant 6789", "Ann Zed", "Ann.Zed@uni.edu", "Submitted", "", "10.00"],
        ["Participant 1234", "Rick Roe", "rroe@uni.edu", "No submission", "", "10.00"],
    ]
    path = write_csv(tmp_path / "worksheet.csv", worksheet, bom=True)
    roster = lms.read_roster(path, "moodle", "Email address", match_column="Identifier")
    out = tmp_path / "moodle_import.csv"
    problems = lms.write_moodle([LessonGrades(F01, 10, {"54321": 9.0, "6789": 4.0})], roster, out)
    assert moodle_import(out, "Email address", [row[2] for row in worksheet[1:]]) == {
        "jdoe@uni.edu": {F01: "9"},
        "Ann.Zed@uni.edu": {F01: "4"},
    }
    assert problems.no_submission == {F01: ["Rick Roe (rroe@uni.edu)"]}
    # Matched on emails instead, participant ids find nobody.
    by_email = lms.read_roster(path, "moodle")
    assert by_email.find("54321") is None and by_email.find("JDOE@uni.edu") == 0


def test_moodle_roster_errors_name_the_column_and_the_lines(tmp_path):
    path = write_csv(tmp_path / "g.csv", MOODLE_EXPORT)
    with pytest.raises(RosterError, match=r"no column 'Email'.*--id-column"):
        lms.read_roster(path, "moodle", id_column="Email")
    with pytest.raises(RosterError, match="line 2: no ID number"):
        lms.read_roster(path, "moodle", id_column="ID number")
    rows = [*MOODLE_EXPORT, ["Jane", "Again", "s999", "", "", "JDOE@UNI.EDU", "", "", ""]]
    with pytest.raises(RosterError, match=r"Email address 'JDOE@UNI.EDU' is on lines 3 and 5"):
        lms.read_roster(write_csv(tmp_path / "dup.csv", rows), "moodle")


def test_a_roster_of_one_lms_cannot_make_the_other_lms_file(tmp_path):
    roster = lms.read_roster(canvas_roster(tmp_path), "canvas")
    with pytest.raises(ValueError, match="canvas roster cannot make a moodle import"):
        lms.write_moodle([LESSON_01], roster, tmp_path / "out.csv")


@pytest.mark.parametrize(
    ("score", "text"),
    [(7.5, "7.5"), (10.0, "10"), (0.0, "0"), (-0.0, "0"), (1 / 3, "0.333333"),
     (1234567.0, "1234567"), (1e-7, "0"), (-1e-9, "0"), (2.000001, "2.000001")],
)  # fmt: skip
def test_scores_are_plain_decimals(score, text):
    assert lms._number(score) == text


# --- download names: the presets, through nbgrader's own collector -------------------------


def collected(preset: str, name: str) -> tuple[str, str] | None:
    """(student id, notebook nbgrader writes) for a file zip_collect extracted: nbgrader
    matches the pattern against the extracted file's full path and names the notebook
    ``splitext(file_id)[0]`` plus the file's own extension."""
    path = f"/course/downloaded/{F01}/extracted/submissions/{name}"
    info = FileNameCollectorPlugin(named_regexp=lms.PATTERNS[preset]).collect(path)
    if info is None:
        return None
    return info["student_id"], os.path.splitext(info["file_id"])[0] + os.path.splitext(name)[1]


@pytest.mark.parametrize(
    ("preset", "name", "student"),
    [
        ("canvas", "doejane_12345_67890_01_forward_pass.ipynb", "12345"),
        ("canvas", "doejane_LATE_12345_67890_01_forward_pass.ipynb", "12345"),
        ("canvas", "doejane_late_12345_67890_01_forward_pass.ipynb", "12345"),
        ("canvas", "doe-jane-late_12345_67890_01_forward_pass.ipynb", "12345"),  # older Canvas
        ("canvas", "doejane_12345_67890_01_forward_pass-1.ipynb", "12345"),  # handed in again
        ("canvas", "doejane_late_12345_67890_01_forward_pass-12.ipynb", "12345"),
        ("canvas", "obrien_pat_12345_67890_01_forward_pass.ipynb", "12345"),
        ("canvas", "12345_67890_01_forward_pass.ipynb", "12345"),  # anonymous grading
        ("moodle", "Jane Doe_54321_assignsubmission_file/01_forward_pass.ipynb", "54321"),
        ("moodle", "Jane Doe_54321_assignsubmission_file_/01_forward_pass.ipynb", "54321"),
        ("moodle", "Jane Doe_54321_assignsubmission_file_01_forward_pass.ipynb", "54321"),
        ("moodle", "Participant_54321_assignsubmission_file/01_forward_pass.ipynb", "54321"),
        ("moodle", "José Núñez-Gil_7_assignsubmission_file/work/01_forward_pass.ipynb", "7"),
    ],
)
def test_presets_give_nbgrader_the_student_and_the_released_notebook(preset, name, student):
    assert collected(preset, name) == (student, f"{F01}.ipynb")


@pytest.mark.parametrize(
    ("preset", "name"),
    [
        ("canvas", "doejane_12345_67890_notes.txt"),
        ("canvas", "doejane_12345_67890_text.html"),
        ("moodle", "Jane Doe_54321_assignsubmission_onlinetext/onlinetext.html"),
        ("moodle", "Jane Doe_54321_assignsubmission_onlinetext_/01_forward_pass.ipynb"),
    ],
)
def test_presets_collect_nothing_but_notebooks_handed_in_as_files(preset, name):
    assert collected(preset, name) is None


# --- feedback packed for upload ------------------------------------------------------------


def course_dir(
    tmp_path: Path,
    members: dict[str, bytes] | None,
    feedback: list[str],
    submitted: dict[str, bytes],
    assignment: str = F01,
) -> Path:
    """The course directory after collect_zip, autograde and generate_feedback."""
    root = tmp_path / "course"
    if members is not None:
        archive = root / "downloaded" / assignment / "archive"
        archive.mkdir(parents=True)
        with zipfile.ZipFile(archive / "submissions.zip", "w") as zipped:
            for name, content in members.items():  # zip order as given
                zipped.writestr(name, content)
    for student in feedback:
        html = root / "feedback" / student / assignment / f"{assignment}.html"
        html.parent.mkdir(parents=True)
        html.write_text(f"<html>feedback for {student}</html>")
    for student, content in submitted.items():
        notebook = root / "submitted" / student / assignment / f"{assignment}.ipynb"
        notebook.parent.mkdir(parents=True)
        notebook.write_bytes(content)
    return root


def packed(out: Path) -> dict[str, str]:
    with zipfile.ZipFile(out) as zipped:
        return {name: zipped.read(name).decode() for name in zipped.namelist()}


def canvas_reupload_target(name: str) -> tuple[str, str]:
    """Canvas's Re-Upload Submissions: the base name split at "_", its first two all-digit
    parts are the user id and the submitted file's attachment id."""
    digits = [part for part in os.path.basename(name).split("_") if re.fullmatch(r"\d+", part)]
    return digits[0], digits[1]


def moodle_feedback_target(name: str) -> tuple[int, str]:
    """Moodle's "Upload multiple feedback files in a zip": the first path part that splits
    (at "_", at most 5 pieces) into name, numeric participant id, "assignsubmission",
    "file" names the participant; what follows is the feedback file's name."""
    parts = name.split("/")
    while parts:
        info = parts.pop(0).split("_", 4)
        if len(info) >= 4 and info[1].isdigit() and info[2:4] == ["assignsubmission", "file"]:
            return int(info[1]), "/".join([*info[4:], *parts])
    raise AssertionError(f"Moodle matches no participant in {name}")


def test_canvas_feedback_is_named_for_re_upload(tmp_path):
    members = {
        "doejane_12345_67890_01_forward_pass.ipynb": b"jane",
        "roerick_late_23456_78901_01_forward_pass-1.ipynb": b"rick",
        "doejane_12345_67999_02_chain_rule.ipynb": b"another lesson",
        "zedann_34567_89012_01_forward_pass.ipynb": b"ann",
    }
    root = course_dir(tmp_path, members, ["12345", "23456", "45678"],
                      {"12345": b"jane", "23456": b"rick", "34567": b"ann"})  # fmt: skip
    out = tmp_path / "feedback_canvas.zip"
    problems = lms_feedback.pack_feedback(root, F01, out, lms.PATTERNS["canvas"])

    files = packed(out)
    assert files == {
        "doejane_12345_67890_01_forward_pass.html": "<html>feedback for 12345</html>",
        "roerick_late_23456_78901_01_forward_pass-1.html": "<html>feedback for 23456</html>",
        "45678_01_forward_pass.html": "<html>feedback for 45678</html>",
    }
    assert canvas_reupload_target("doejane_12345_67890_01_forward_pass.html") == (
        "12345", "67890")  # fmt: skip
    assert canvas_reupload_target("roerick_late_23456_78901_01_forward_pass-1.html") == (
        "23456", "78901")  # fmt: skip
    assert len(problems) == 2
    assert any(p.startswith("34567: submitted") and "no feedback" in p for p in problems)
    assert any(p.startswith("45678: not in the LMS download") for p in problems)


def test_moodle_feedback_keeps_the_participant_folder(tmp_path):
    members = {
        "Jane Doe_54321_assignsubmission_file/01_forward_pass.ipynb": b"jane",
        "Ann Zed_6789_assignsubmission_file_/01_forward_pass.ipynb": b"ann",
        "Rick Roe_111_assignsubmission_file_01_forward_pass.ipynb": b"rick",
        "Jane Doe_54321_assignsubmission_onlinetext/onlinetext.html": b"text",
    }
    root = course_dir(tmp_path, members, ["54321", "6789", "111"],
                      {"54321": b"jane", "6789": b"ann", "111": b"rick"})  # fmt: skip
    out = tmp_path / "feedback_moodle.zip"
    assert lms_feedback.pack_feedback(root, F01, out, lms.PATTERNS["moodle"]) == []

    files = packed(out)
    assert sorted(files) == sorted(
        name.replace(".ipynb", ".html") for name in members if name.endswith(".ipynb")
    )
    for name, content in files.items():
        participant, filename = moodle_feedback_target(name)
        assert content == f"<html>feedback for {participant}</html>"
        assert filename.removeprefix("/") == "01_forward_pass.html"


def test_default_pattern_and_a_student_with_several_notebooks(tmp_path):
    """nbgrader orders the download's files by name; the file whose bytes nbgrader
    collected names the feedback, whatever its place."""
    members = {
        "jdoe_2002_01_forward_pass.ipynb": b"second",  # zip order is not name order
        "jdoe_1001_01_forward_pass.ipynb": b"first",
        "amy_3003_01_forward_pass.ipynb": b"amy",
    }
    root = course_dir(tmp_path, members, ["jdoe", "amy"], {"jdoe": b"first", "amy": b"amy"})
    out = tmp_path / "feedback.zip"
    problems = lms_feedback.pack_feedback(root, F01, out)
    assert sorted(packed(out)) == [
        "amy_3003_01_forward_pass.html",
        "jdoe_1001_01_forward_pass.html",
    ]
    assert problems == [
        "jdoe: 2 notebooks in the download; the feedback is named after "
        "jdoe_1001_01_forward_pass.ipynb, the one nbgrader collected"
    ]

    # Without the collected copy: the last in nbgrader's (name) order, not in zip order.
    (root / "submitted" / "jdoe" / F01 / f"{F01}.ipynb").unlink()
    problems = lms_feedback.pack_feedback(root, F01, out, DEFAULT_PATTERN)
    assert "jdoe_2002_01_forward_pass.html" in packed(out)
    assert any("jdoe_2002_01_forward_pass.ipynb, the last one" in p for p in problems)


def test_feedback_without_an_lms_download(tmp_path):
    root = course_dir(tmp_path, None, ["amy", "bob"], {"amy": b"a", "bob": b"b", "cyd": b"c"})
    out = tmp_path / "feedback.zip"
    problems = lms_feedback.pack_feedback(root, F01, out)
    assert packed(out) == {
        "amy_01_forward_pass.html": "<html>feedback for amy</html>",
        "bob_01_forward_pass.html": "<html>feedback for bob</html>",
    }
    assert len(problems) == 2
    assert "no LMS download" in problems[0]
    assert problems[1].startswith("cyd: submitted, but has no feedback")


def test_pack_feedback_needs_both_groups():
    with pytest.raises(ValueError, match="student_id and file_id"):
        lms_feedback.pack_feedback(Path("."), F01, Path("x.zip"), r"(?P<student_id>.+)\.ipynb")
