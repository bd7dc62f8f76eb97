"""`backprop-grade export`, `feedback-zip` and `report` on the graded demo class (lesson 01).

The formats themselves are checked in test_lms.py; here the commands read nbgrader's
gradebook of a class graded for real and must give each student the grades CSV's
total, report who is missing on either side, and pack every student's feedback.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest

from backprop_autograder import cli
from backprop_autograder.lessons import lesson

pytestmark = [pytest.mark.grading, pytest.mark.xdist_group("demo_class")]  # share demo_run

LESSON = lesson("01_forward_pass")


def grades_csv(out: Path) -> dict[str, dict[str, str]]:
    with (out / f"grades_{LESSON.name}.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def export(out: Path, *options: str, capsys) -> str:
    cli.main(["--course-dir", str(out / "course"), "export", *options])
    return capsys.readouterr().out


def canvas_roster(path: Path, students: list[str]) -> Path:
    """A Canvas gradebook export: the class (login = nbgrader id), its points row, a stranger."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz (7)"])
        writer.writerow(["    Points Possible", "", "", "", "", "10"])
        for number, student in enumerate(students, start=500):
            writer.writerow([f"Student {number}", str(number), f"S{number}", student, "A", ""])
        writer.writerow(["Never Submitted", "999", "S999", "nobody", "A", ""])
    return path


def test_canvas_export_gives_every_roster_student_the_csv_total(demo_run, tmp_path, capsys):
    out, _ = demo_run
    graded = grades_csv(out)
    left_out = sorted(graded)[0]
    on_roster = sorted(set(graded) - {left_out})
    roster = canvas_roster(tmp_path / "roster.csv", on_roster)
    target = tmp_path / "canvas.csv"
    said = export(out, LESSON.name, "--format", "canvas", "--roster", str(roster),
                  "--out", str(target), capsys=capsys)  # fmt: skip
    with target.open() as f:
        rows = list(csv.reader(f))
    header, points, students = rows[0], rows[1], rows[2:]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    column = header.index(LESSON.name)
    assert float(points[column]) == float(graded[left_out]["max"])
    by_login = {row[3]: row[column] for row in students}
    assert by_login == {s: f"{float(graded[s]['total']):g}" for s in on_roster}
    # the graded student the roster lacks, and the roster student with no submission, are said
    assert left_out in said and "Never Submitted" in said
    sidecar = tmp_path / "canvas_not_in_roster.csv"
    assert left_out in sidecar.read_text()


def test_moodle_export_of_all_lessons_matches_on_email(demo_run, tmp_path, capsys):
    out, _ = demo_run
    graded = grades_csv(out)
    roster = tmp_path / "moodle.csv"
    with roster.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["First name", "Last name", "Email address"])
        writer.writerows([s, "X", s.upper() + "@uni.example"] for s in graded)
    target = tmp_path / "moodle_import.csv"
    export(out, "all", "--format", "moodle", "--roster", str(roster),
           "--match-column", "First name", "--out", str(target), capsys=capsys)  # fmt: skip
    with target.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Email address", LESSON.name]  # the demo course has one lesson
    assert {r["Email address"]: float(r[LESSON.name]) for r in rows} == {
        s.upper() + "@uni.example": float(row["total"]) for s, row in graded.items()
    }


def test_an_lms_export_without_roster_says_what_to_add(demo_run, capsys):
    out, _ = demo_run
    with pytest.raises(SystemExit, match="needs --roster"):
        export(out, LESSON.name, "--format", "canvas", capsys=capsys)


def test_csv_export_is_the_grading_runs_csv(demo_run, tmp_path, capsys):
    out, _ = demo_run
    export(out, LESSON.name, "--csv", str(tmp_path / "g.csv"), capsys=capsys)
    assert (tmp_path / "g.csv").read_text() == (out / f"grades_{LESSON.name}.csv").read_text()


def test_feedback_zip_names_each_students_feedback_after_their_download(demo_run, tmp_path, capsys):
    out, _ = demo_run
    target = tmp_path / "feedback.zip"
    cli.main(["--course-dir", str(out / "course"), "feedback-zip", LESSON.name,
              "--out", str(target)])  # fmt: skip
    with zipfile.ZipFile(out / f"downloads_{LESSON.name}.zip") as download:
        hand_ins = {name for name in download.namelist() if name.endswith(f"_{LESSON.name}.ipynb")}
    with zipfile.ZipFile(target) as packed:
        names = set(packed.namelist())
        page = packed.read(sorted(names)[0]).decode()
    feedback_folder = out / "course" / "feedback"
    graded = {p.name for p in feedback_folder.iterdir()}
    expected = {n.removesuffix(".ipynb") + ".html" for n in hand_ins if n.split("_")[0] in graded}
    assert names == expected
    assert "<html" in page.lower()


def test_report_command_writes_the_item_analysis_page_and_csv(demo_run, tmp_path, capsys):
    out, _ = demo_run
    cli.main(["--course-dir", str(out / "course"), "report", LESSON.name, "--out", str(tmp_path)])
    said = capsys.readouterr().out
    page, table = tmp_path / f"report_{LESSON.name}.html", tmp_path / f"report_{LESSON.name}.csv"
    assert str(page) in said and page.exists() and table.exists()
    assert "<script" not in page.read_text().lower()
    with table.open() as f:
        sections = {row["section"] for row in csv.DictReader(f)}
    assert {"exercise", "misconception"} <= sections
