"""``backprop-grade export``: the gradebook's scores as the grades CSV, or into an LMS.

One lesson or ``all`` (every lesson built in the course directory). Each lesson's
scores are read from nbgrader's gradebook (:func:`reporting.read_scores`), late
penalties taken off; :mod:`backprop_autograder.lms` writes them in the form the
LMS's import page takes, matched to its students through a roster exported from it.
"""

from __future__ import annotations

from pathlib import Path

from backprop_autograder import lms
from backprop_autograder.course import exercises_of
from backprop_autograder.lessons import LESSONS, lesson
from backprop_autograder.reporting import Report, export_csv, read_scores

FORMATS = ("csv", *lms.FORMATS)


def chosen_lessons(course_dir: Path, name: str) -> list[str]:
    """One lesson by name, or with ``all`` every lesson the course directory has built."""
    if name != "all":
        return [lesson(name).name]
    built = [x.name for x in LESSONS if (course_dir / "source" / x.name).is_dir()]
    if not built:
        raise SystemExit(f"{course_dir} has no built lessons: run `backprop-grade build` first")
    return built


def lesson_reports(db_url: str, course_dir: Path, names: list[str]) -> list[Report]:
    """Each lesson's scores and penalties, from the gradebook."""
    reports = []
    for name in names:
        report = Report(name, exercises_of(course_dir, name))
        read_scores(db_url, name, report)
        reports.append(report)
    return reports


def lesson_grades(report: Report) -> lms.LessonGrades:
    """What the LMS gets for a lesson: each student's final score, out of the lesson's points."""
    finals = {student: report.final(student) for student in report.scores}
    return lms.LessonGrades(report.assignment, sum(report.exercises.values()), finals)


def export(
    db_url: str,
    course_dir: Path,
    lesson_name: str,
    fmt: str,
    out: Path | None,
    roster: lms.Roster | None = None,
) -> list[str]:
    """Write the export; returns what the instructor should read (where it went, problems)."""
    reports = lesson_reports(db_url, course_dir, chosen_lessons(course_dir, lesson_name))
    if fmt == "csv":
        return csv_files(reports, course_dir, out)
    assert roster is not None, "an LMS export needs its roster"
    path = out or course_dir / f"{fmt}_{lesson_name}.csv"
    grades = [lesson_grades(report) for report in reports]
    if fmt == lms.CANVAS:
        problems = lms.write_canvas(grades, roster, path)
    else:
        problems = lms.write_moodle(grades, roster, path)
    counts = ", ".join(f"{g.assignment}: {len(g.finals)} graded" for g in grades)
    return [f"{fmt} import file: {path} ({counts})", *problems.lines()]


def csv_files(reports: list[Report], course_dir: Path, out: Path | None) -> list[str]:
    """The grades CSV of each lesson: at ``out`` for one lesson, else grades_<lesson>.csv
    (in ``out`` when it names a folder, for several)."""
    lines = []
    for report in reports:
        if out is not None and len(reports) == 1:
            path = out
        else:
            path = (out or course_dir) / f"grades_{report.assignment}.csv"
        export_csv(report, path)
        lines.append(f"{report.assignment}: {len(report.scores)} students graded, in {path}")
    return lines
