"""Feedback back into the LMS the class lives in: Canvas or Moodle.

Nothing here talks to an LMS over the network: :func:`pack_feedback` writes the zip
each LMS's own upload page takes, named from the LMS's download of the submissions
(collected with a pattern of :data:`backprop_autograder.lms.PATTERNS`).

nbgrader's ``generate_feedback`` writes ``feedback/<student>/<lesson>/<lesson>.html``;
each one is packed under the name the student's notebook had in the LMS download,
``.ipynb`` made ``.html``, so that the LMS's own upload page finds the student:

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

"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from backprop_autograder.collecting import DEFAULT_PATTERN


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
