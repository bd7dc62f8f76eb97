"""Grading survives mangled submissions: hypothesis mutates a solved lesson-01 notebook.

Each example is a small class: three to five mutants of the solved notebook
(cells removed, duplicated, moved; a cell's source replaced by random text or
by another cell's; nbgrader metadata scrambled; the JSON cut short; random
bytes) and two honest students. The class is graded with the pipeline in a
fresh copy of one built course directory. Whatever the mutants are, grading
returns, the honest students get exactly their scores, each mutant is graded
or named in the report, and no mutant scores more than the points there are.
"""

from __future__ import annotations

import itertools
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from backprop_autograder import cli, demo, pipeline, reporting
from backprop_autograder.build import build
from backprop_autograder.lessons import lesson

pytestmark = [pytest.mark.grading, pytest.mark.slow, pytest.mark.sandbox]

LESSON = lesson("01_forward_pass")
NOTEBOOK = f"{LESSON.name}.ipynb"
PERFECT = nbformat.writes(demo.perfect(LESSON))
HALF = nbformat.writes(demo.half_finished(LESSON))
NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "solution", "schema_version", "task")
EXAMPLES = itertools.count()


@dataclass
class Course:
    pristine: Path  # built once; every example grades in a copy of it
    root: Path
    points: dict[str, float]
    half_scores: dict[str, float]


def grade(course_dir: Path, students: dict[str, str | bytes], csv_path: Path) -> reporting.Report:
    archive = csv_path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as zipped:
        for student, content in students.items():
            zipped.writestr(f"{student}_{NOTEBOOK}", content)
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "--timeout", "10", "--workers", "2",
         "grade", LESSON.name, "--from", str(archive), "--csv", str(csv_path)]
    )  # fmt: skip
    args.lesson = LESSON.name
    return pipeline.grade(args)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """A built course, and what the honest students score in a class of their own."""
    root = tmp_path_factory.mktemp("fuzz")
    pristine = root / "pristine"
    build([LESSON], pristine)
    reference = root / "reference"
    shutil.copytree(pristine, reference)
    report = grade(reference, {"perfect": PERFECT, "half": HALF}, root / "reference.csv")
    assert report.scores["perfect"] == report.exercises, "a solved notebook gets every point"
    return Course(pristine, root, dict(report.exercises), report.scores["half"])


# -- mutations -------------------------------------------------------------------------------

metadata_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)


@st.composite
def scrambled_metadata(draw, cell: dict, grade_ids: list[str]) -> str:
    """Change ``cell``'s metadata in place; say how."""
    nbgrader = cell.setdefault("metadata", {}).setdefault("nbgrader", {})
    how = draw(
        st.sampled_from(
            ["drop nbgrader", "drop a key", "grade_id", "points", "cell_type", "random keys"]
        )
    )
    if how == "drop nbgrader":
        cell["metadata"].pop("nbgrader")
    elif how == "drop a key":
        nbgrader.pop(draw(st.sampled_from(NBGRADER_KEYS)), None)
    elif how == "grade_id":
        nbgrader["grade_id"] = draw(st.one_of(st.sampled_from(grade_ids), st.text(max_size=20)))
    elif how == "points":
        nbgrader["points"] = draw(metadata_values)
    elif how == "cell_type":
        cell["cell_type"] = draw(st.sampled_from(["code", "markdown", "raw"]))
    else:
        target = draw(st.sampled_from([cell["metadata"], nbgrader]))
        target.update(draw(st.dictionaries(st.text(max_size=10), metadata_values, max_size=3)))
    return f"metadata: {how}"


@st.composite
def scrambled_notebook(draw, nb: dict) -> str:
    """Change the notebook's own metadata or format version in place; say how."""
    how = draw(st.sampled_from(["kernelspec", "language", "format", "random keys"]))
    if how == "kernelspec":
        nb["metadata"]["kernelspec"] = {"name": draw(st.text(max_size=10)), "display_name": "x"}
    elif how == "language":
        nb["metadata"].pop("language_info", None)
        nb["metadata"].pop("kernelspec", None)
    elif how == "format":
        nb["nbformat_minor"] = draw(st.integers(-1, 10))
    else:
        nb["metadata"].update(draw(st.dictionaries(st.text(max_size=10), metadata_values)))
    return f"notebook: {how}"


@st.composite
def mutant(draw) -> str | bytes:
    """The solved notebook after one to four mutations, perhaps then cut short or replaced."""
    nb = json.loads(PERFECT)
    cells = nb["cells"]
    grade_ids = [c["metadata"].get("nbgrader", {}).get("grade_id", "") for c in cells]
    done = []
    for _ in range(draw(st.integers(1, 4))):
        if not cells:
            break
        index = draw(st.integers(0, len(cells) - 1))
        kinds = ["remove", "duplicate", "move", "text", "other", "metadata", "notebook"]
        how = draw(st.sampled_from(kinds))
        if how == "remove":
            del cells[index]
        elif how == "duplicate":
            cells.insert(index + 1, json.loads(json.dumps(cells[index])))
        elif how == "move":
            cells.insert(draw(st.integers(0, len(cells) - 1)), cells.pop(index))
        elif how == "text":
            cells[index]["source"] = draw(st.text(max_size=200))
        elif how == "other":
            cells[index]["source"] = cells[draw(st.integers(0, len(cells) - 1))]["source"]
        elif how == "notebook":
            how = draw(scrambled_notebook(nb))
        else:
            how = draw(scrambled_metadata(cells[index], grade_ids))
        done.append(f"{how} at cell {index}")
    text = json.dumps(nb, indent=1)
    ending = draw(st.sampled_from(["whole", "whole", "whole", "cut", "bytes"]))
    note(f"mutations: {done}; file: {ending}")
    if ending == "cut":
        return text[: draw(st.integers(0, len(text) - 1))]
    if ending == "bytes":
        return draw(st.binary(max_size=2000))
    return text


# -- the property ------------------------------------------------------------------------------


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(mutants=st.lists(mutant(), min_size=3, max_size=5))
def test_mangled_submissions_never_break_grading_or_gain_points(course, mutants):
    example = next(EXAMPLES)
    course_dir = course.root / f"example{example}"
    shutil.copytree(course.pristine, course_dir)
    honest = {f"perfect{example}": PERFECT, f"half{example}": HALF}
    names = [f"mutant{example}x{i}" for i in range(len(mutants))]
    report = grade(
        course_dir, {**honest, **dict(zip(names, mutants, strict=True))}, course_dir / "g.csv"
    )
    full = sum(course.points.values())

    assert report.scores[f"perfect{example}"] == course.points
    assert report.scores[f"half{example}"] == course.half_scores
    named = {line.split(": ", 1)[0] for line in report.attention}
    assert not named & set(honest), report.attention
    for student in honest:
        assert (course_dir / "feedback" / student / LESSON.name / f"{LESSON.name}.html").exists()
    for name in names:
        assert name in report.scores or name in named, (name, report.attention)
        if name in report.scores:
            scores = report.scores[name]
            for grade_id, worth in course.points.items():
                assert 0 <= scores[grade_id] <= worth, (name, grade_id, scores[grade_id])
            assert report.max_scores[name] == full, (name, report.max_scores[name])
    shutil.rmtree(course_dir)  # only a failing example's folder is kept, to look into
