"""Grading one submission on Gradescope (:func:`run`): its notebook, a scratch course,
nbgrader's autograde, and ``results.json``, whatever goes wrong."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from backprop_autograder import build as builder
from backprop_autograder import course, executing, reporting, sandbox
from backprop_autograder.cell_verdicts import grade_id_of
from backprop_autograder.gradescope.protection import (
    UNSAFE,
    UNSAFE_VARIABLE,
    USER,
    UnprivilegedKernelManager,
    choose_protection,
    end_processes_of,
)
from backprop_autograder.gradescope.settings import (
    ASSIGNMENT_FOLDERS,
    COURSE_FOLDER,
    STUDENT,
    NotGradable,
    Settings,
)


def run(root: Path) -> dict[str, Any]:
    """Grade the submission in ``root/submission``; write ``root/results/results.json``
    and return what it holds."""
    started = time.monotonic()
    results_file = root / "results" / "results.json"
    with contextlib.suppress(FileNotFoundError):
        results_file.unlink()  # only this run's results may count
    try:
        settings = Settings.read(root / "source")
        exercises = course.exercises_of(root / "source" / COURSE_FOLDER, settings.assignment)
    except BaseException:  # a broken autograder: nothing can be graded, but say so
        traceback.print_exc()
        results = not_graded({}, "The autograder is broken, so nothing was graded. " + ASK)
    else:
        results = grade_safely(root, settings, exercises)
    results["execution_time"] = round(time.monotonic() - started)
    write_results(results_file, results)
    return results


ASK = "Your instructor can see why in the autograder's log."


def grade_safely(root: Path, settings: Settings, exercises: dict[str, float]) -> dict[str, Any]:
    """:func:`grade`, and results saying nothing was graded, whatever went wrong."""
    try:
        return grade(root, settings, exercises)
    except NotGradable as problem:
        print(f"not graded: {problem}")
        return not_graded(exercises, str(problem))
    except BaseException:  # a crash must still leave results.json
        traceback.print_exc()
        return not_graded(exercises, "The autograder failed while grading this notebook. " + ASK)


def grade(root: Path, settings: Settings, exercises: dict[str, float]) -> dict[str, Any]:
    """Lay out a scratch course, choose the protection, let nbgrader grade, read the results."""
    assignment = settings.assignment
    notebook = find_notebook(root / "submission", assignment)
    problem = executing.check_readable(notebook)
    if problem:
        raise NotGradable(
            f"Your notebook could not be read: {problem}. Nothing was graded: upload the "
            ".ipynb file as Jupyter saved it."
        )
    with scratch_course(root / "source" / COURSE_FOLDER, assignment, notebook) as course_dir:
        protection = choose_protection(course_dir, assignment)
        print(f"grading {notebook.name} with protection: {protection}")
        try:
            notes = autograde(course_dir, settings, protection)
        finally:
            if protection == USER:
                end_processes_of(sandbox.process_uid())
        return graded_results(course_dir, assignment, exercises, notes, protection)


# -- the submission's notebook --------------------------------------------------------------------


def find_notebook(submission: Path, assignment: str) -> Path:
    """The notebook to grade: ``<assignment>.ipynb`` (the shallowest), else the only
    notebook; none, or several and none so named, is :class:`NotGradable`."""
    wanted = f"{assignment}.ipynb"
    candidates = submission.rglob("*.ipynb") if submission.is_dir() else []
    found = sorted(
        (path for path in candidates if path.is_file() and not ignored(path, submission)),
        key=lambda path: (len(path.relative_to(submission).parts), str(path)),
    )
    named = [path for path in found if path.name == wanted]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotGradable(f"Your submission has no notebook (.ipynb) in it. Upload {wanted}.")
    names = ", ".join(str(path.relative_to(submission)) for path in found)
    raise NotGradable(
        f"Your submission has {len(found)} notebooks ({names}) and none is named {wanted}, "
        f"so the autograder cannot tell which to grade. Upload only {wanted}."
    )


def ignored(path: Path, top: Path) -> bool:
    """Jupyter's checkpoints and the folders an archive tool adds (``__MACOSX``, ``.x``)."""
    parts = path.relative_to(top).parts
    return any(part.startswith((".", "__MACOSX")) for part in parts)


# -- the scratch course directory -----------------------------------------------------------------


@contextlib.contextmanager
def scratch_course(packed: Path, assignment: str, notebook: Path) -> Iterator[Path]:
    """A copy of the packed course directory with the notebook handed in, for one grading.

    Readable by root only, but for the way to the kernel's working folder (nbgrader's
    ``autograded/``): an unprivileged kernel may pass through it, and see nothing else.
    """
    course_dir = Path(tempfile.mkdtemp(prefix="gradescope-course-"))
    try:
        for name in ("nbgrader_config.py", "gradebook.db"):
            shutil.copyfile(packed / name, course_dir / name)
        for folder in ASSIGNMENT_FOLDERS:
            shutil.copytree(packed / folder / assignment, course_dir / folder / assignment)
        submitted = course_dir / "submitted" / STUDENT / assignment
        submitted.mkdir(parents=True)
        shutil.copyfile(notebook, submitted / f"{assignment}.ipynb")
        lock_away(course_dir)
        yield course_dir
    finally:
        shutil.rmtree(course_dir, ignore_errors=True)


def lock_away(course_dir: Path) -> None:
    """Everything in the course directory root's alone; the directory itself passable."""
    for path in course_dir.iterdir():
        path.chmod(0o700 if path.is_dir() else 0o600)
    course_dir.chmod(0o711)


# -- nbgrader's autograde, and what it found ------------------------------------------------------


def autograde(course_dir: Path, settings: Settings, protection: str) -> list[str]:
    """nbgrader autograde on the one submission, as ``backprop-grade autograde`` runs it;
    what the summary would say about it. nbgrader's log goes to the instructor's log."""
    if protection == UNSAFE:
        os.environ[UNSAFE_VARIABLE] = "1"
    else:  # the course's nbgrader_config.py then puts every kernel in the sandbox
        os.environ.pop(UNSAFE_VARIABLE, None)
    os.environ["PATH"] = builder.nbgrader_env()["PATH"]  # nbgrader runs `alembic` from PATH
    config = course.load_config(
        course_dir, settings.timeout, db_url=course.default_db_url(course_dir)
    )
    if protection == USER:
        config.ResilientExecute.kernel_manager_class = (
            f"{UnprivilegedKernelManager.__module__}.{UnprivilegedKernelManager.__name__}"
        )
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    with executing.quiet_libraries(), executing.restored_environment("NBGRADER_EXECUTION"):
        result = api.autograde(settings.assignment, STUDENT, force=True, create=True)
    print(result.get("log", ""))
    if not result.get("success"):
        return ["nbgrader could not grade it: " + course.last_line(result)]
    return reporting.incidents(course_dir, settings.assignment, STUDENT)


def graded_results(
    course_dir: Path,
    assignment: str,
    exercises: dict[str, float],
    notes: list[str],
    protection: str,
) -> dict[str, Any]:
    """results.json from the gradebook's scores and the graded test cells' outputs."""
    report = reporting.Report(assignment, exercises)
    reporting.read_scores(course.default_db_url(course_dir), assignment, report)
    if STUDENT not in report.scores:
        print("\n".join(notes))
        return not_graded(exercises, "The autograder could not grade this notebook. " + ASK)
    graded = course_dir / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
    shown = test_outputs(reporting.read_notebook(graded)) if graded.exists() else {}
    scores = report.scores[STUDENT]
    tests = [
        test_result(grade_id, scores.get(grade_id, 0.0), points, shown.get(grade_id, ""))
        for grade_id, points in exercises.items()
    ]
    total = sum(scores.get(grade_id, 0.0) for grade_id in exercises)
    summary = [f"{assignment}: {total:g} of {sum(exercises.values()):g} points."]
    if notes:
        summary += ["", "Notes from grading:", *(f"- {note}" for note in notes)]
    print("\n".join(summary))
    return {
        "score": total,
        "output": "\n".join(summary) + "\n",
        "stdout_visibility": "hidden",
        "extra_data": {"assignment": assignment, "protection": protection},
        "tests": tests,
    }


def test_outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each graded test cell's text, as the student's feedback shows it: what it printed
    (the visible check's messages, the hidden checks' verdict and points) and its error
    in one line. Its score, hidden code and results bundle are not text shown here."""
    shown = {}
    for cell in nb.cells:
        grade_id = grade_id_of(cell)
        if grade_id is None or cell.get("cell_type") != "code":
            continue
        parts = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append(str(out.get("text", "")))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}\n")
        shown[grade_id] = "".join(parts).strip() + "\n"
    return shown


def test_result(grade_id: str, score: float, points: float, output: str) -> dict[str, Any]:
    """One test of results.json: an exercise, its score and what its test cell said."""
    return {
        "name": grade_id.removeprefix("check_"),
        "score": score,
        "max_score": points,
        "output": output,
        "visibility": "visible",
    }


def not_graded(exercises: dict[str, float], why: str) -> dict[str, Any]:
    """results.json for a submission that could not be graded: every test 0, and why."""
    return {
        "score": 0.0,
        "output": why + "\n",
        "stdout_visibility": "hidden",
        "tests": [
            test_result(grade_id, 0.0, points, why + "\n") for grade_id, points in exercises.items()
        ],
    }


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Written whole or not at all: a half-written results.json would count for nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    partial.replace(path)
