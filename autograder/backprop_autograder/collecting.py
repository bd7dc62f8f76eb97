"""Collecting submissions into the course directory: from an LMS zip or nbgrader's exchange.

Both end the same way, with ``submitted/<student>/<lesson>/<lesson>.ipynb``
(and nbgrader's ``timestamp.txt``) for each student, where autograding reads them.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from backprop_autograder import build as builder
from backprop_autograder.course import last_line
from backprop_autograder.reporting import Report

# <student>_<anything>_<lesson>.ipynb or <student>_<lesson>.ipynb
DEFAULT_PATTERN = r"^(?:.*/)?(?P<student_id>[^_/]+)_(?:.*_)?(?P<file_id>\d\d_[a-z_]+\.ipynb)$"


def collect_zip(course_dir: Path, assignment: str, archive: Path, pattern: str, report: Report):
    """nbgrader zip_collect from an LMS download; names that fit no student are reported."""
    if not zipfile.is_zipfile(archive):
        raise SystemExit(f"{archive} is not a zip file")
    regex = re.compile(pattern)
    with zipfile.ZipFile(archive) as zipped:
        for name in zipped.namelist():
            if name.endswith("/"):
                continue
            found = regex.match(name)
            if not found:
                report.note(name, f"file name does not match the pattern {pattern}")
            elif collected_name(found["file_id"], name) != f"{assignment}.ipynb":
                report.note(found["student_id"], f"{name}: not a notebook of {assignment}")
    folder = course_dir / "downloaded" / assignment
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "archive").mkdir(parents=True)
    shutil.copy(archive, folder / "archive" / archive.name)
    builder.nbgrader(
        course_dir,
        "zip_collect",
        assignment,
        "--force",
        f"--FileNameCollectorPlugin.named_regexp={pattern}",
    )


def collected_name(file_id: str, member: str) -> str:
    """The name nbgrader's zip_collect gives a file: its file_id's stem, the file's extension
    (so Canvas's resubmitted ``01_forward_pass-1.ipynb`` is collected as the lesson's)."""
    return Path(file_id).stem + Path(member).suffix


def collect_exchange(api: NbGraderAPI, assignment: str, report: Report) -> None:
    """nbgrader collect: the latest submission of every student from the exchange."""
    result = api.collect(assignment)
    if not result.get("success"):
        report.note("collect", last_line(result))


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    """The students with a submission of ``assignment`` in the course directory, sorted."""
    root = course_dir / "submitted"
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())
