"""The Gradescope autograder (``backprop_autograder.gradescope``), run as Gradescope runs it.

Built from the graded demo class's course (the session's ``demo_run``), unzipped
into a fake ``/autograder/source`` once, and run on every hand-in of the class,
two at a time, each in its own ``<tmp>/autograder`` (``GRADESCOPE_ROOT``): every
test's score is nbgrader's for that exercise, the total is their sum, and no
output holds hidden-check code or expected values. Broken hand-ins, empty and
crowded submission folders, the fallback protection (an unprivileged kernel)
and a grader that cannot start still give a results.json.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest

from backprop_autograder import demo, gradescope
from backprop_autograder.assemble import BEGIN_HIDDEN, END_HIDDEN
from backprop_autograder.collecting import DEFAULT_PATTERN
from backprop_autograder.lessons import LESSONS, lesson
from backprop_course import protocol

pytestmark = [
    pytest.mark.grading,
    pytest.mark.slow,
    pytest.mark.xdist_group("demo_class"),  # shares demo_run
    pytest.mark.timeout(900),  # the whole class, two at a time, on a busy machine
]

LESSON = lesson("01_forward_pass")
NOTEBOOK = f"{LESSON.name}.ipynb"
AT_ONCE = 2  # this machine's cores


@pytest.fixture(scope="module")
def autograder(demo_run, tmp_path_factory) -> tuple[Path, Path]:
    """The zip built from the demo's course, and one unpacked ``source`` every run shares."""
    out, _ = demo_run
    folder = tmp_path_factory.mktemp("gradescope")
    archive = gradescope.build_autograder(out / "course", LESSON.name, folder / "ag.zip", 10)
    source = folder / "autograder" / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(source)
    # setup.sh's steps that make sense here (no apt, no pip: this Python has the course);
    # the kernel's helper package is this one, and the source is root's alone.
    if os.geteuid() == 0:
        for path in [source, *source.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o077)
    return archive, source


def run_autograder(
    source: Path, root: Path, files: dict[str, bytes], check: bool = True, **environment: str
) -> dict[str, Any]:
    """``run_autograder`` as Gradescope runs it, in ``root``; its results.json. ``check``:
    it must exit 0."""
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "source").symlink_to(source)
    for name, content in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "BACKPROP_GRADESCOPE_PYTHON": sys.executable}
    env.pop(gradescope.UNSAFE_VARIABLE, None)
    env.update(environment)
    done = subprocess.run(
        ["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True,
        timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (root / "stdout.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0 or not check, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def run_many(
    source: Path,
    folder: Path,
    hand_ins: dict[str, dict[str, bytes]],
    environments: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each hand-in in a root of its own, :data:`AT_ONCE` at a time (with its own
    environment variables, if any): results by name."""
    environments = environments or {}
    with ThreadPoolExecutor(AT_ONCE) as pool:
        jobs = {
            name: pool.submit(
                run_autograder,
                source,
                folder / name / "autograder",
                files,
                **environments.get(name, {}),
            )
            for name, files in hand_ins.items()
        }
        return {name: job.result() for name, job in jobs.items()}


def class_hand_ins(out: Path) -> dict[str, tuple[str, bytes]]:
    """student -> (file name, content) of each of the class's hand-ins of this lesson."""
    pattern = re.compile(DEFAULT_PATTERN)
    hand_ins = {}
    with zipfile.ZipFile(out / f"downloads_{LESSON.name}.zip") as zipped:
        for name in zipped.namelist():
            found = pattern.match(name)
            if found and found["file_id"] == NOTEBOOK:
                hand_ins[found["student_id"]] = (name, zipped.read(name))
    return hand_ins


def nbgrader_grades(out: Path) -> dict[str, dict[str, str]]:
    with (out / f"grades_{LESSON.name}.csv").open() as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def exercises() -> dict[str, float]:
    nb = nbformat.read(LESSON.notebook, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"].removeprefix("check_"): c.metadata["nbgrader"]["points"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def secrets(course_dir: Path) -> list[str]:
    """Texts no output may hold: the hidden checks' lines and their expected values
    (base64 of the arrays, and their numbers as Python and numpy print them)."""
    source = nbformat.read(course_dir / "source" / LESSON.name / NOTEBOOK, as_version=4)
    found = ["BEGIN HIDDEN", "_replay"]
    for cell in source.cells:
        for region in cell.source.split(BEGIN_HIDDEN)[1:]:
            lines = region.split(END_HIDDEN)[0].splitlines()
            found += [line.strip() for line in lines if len(line.strip()) > 20]
    answers = json.loads(
        (course_dir / "hidden_answers" / LESSON.name / f"{LESSON.name}.json").read_text()
    )
    numbers: list[float] = []

    def walk(value: Any, expected: bool) -> None:
        if isinstance(value, dict) and "ndarray" in value:
            if len(value["ndarray"]) > 20:
                found.append(value["ndarray"])
            if expected:
                numbers.extend(float(x) for x in protocol.decode(value, trusted=True).ravel())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, expected or key in ("expected", "variants"))
        elif isinstance(value, list):
            for item in value:
                walk(item, expected)
        elif isinstance(value, float) and expected:
            numbers.append(value)

    walk(answers, False)
    for x in numbers:
        if abs(x) > 1e-3 and x != round(x):
            found += [repr(x), f"{x:.8f}"]
    return found


def outputs(results: dict[str, Any]) -> str:
    return results.get("output", "") + "".join(test["output"] for test in results["tests"])


# -- the whole class ------------------------------------------------------------------------------


def test_every_hand_in_scores_what_nbgrader_gave_it(autograder, demo_run, tmp_path):
    out, _ = demo_run
    _, source = autograder
    hand_ins = class_hand_ins(out)
    grades, worth = nbgrader_grades(out), exercises()
    assert {"perfect", "blank", "malformed-json", "empty-file"} <= set(hand_ins)
    assert set(grades) <= set(hand_ins)
    results = run_many(source, tmp_path, {s: {name: data} for s, (name, data) in hand_ins.items()})

    for student, row in grades.items():
        got = results[student]
        assert [test["name"] for test in got["tests"]] == list(worth), student
        for test in got["tests"]:
            assert f"{test['score']:g}" == row[test["name"]], (student, test["name"])
            assert test["max_score"] == worth[test["name"]]
            assert test["visibility"] == "visible"
        exercise_sum = sum(float(row[name]) for name in worth)
        assert got["score"] == pytest.approx(exercise_sum, abs=1e-9), student
        assert got["extra_data"]["protection"] == gradescope.SANDBOX, student
        assert got["stdout_visibility"] == "hidden"

    for student in set(hand_ins) - set(grades):  # the files nbgrader could not read
        got = results[student]
        assert got["score"] == 0 and all(test["score"] == 0 for test in got["tests"]), student
        assert len(got["tests"]) == len(worth)
        assert "could not be read" in got["output"] and "Nothing was graded" in got["output"]

    never = secrets(out / "course")
    for student, got in results.items():
        text = outputs(got)
        for secret in never:
            assert secret not in text, (student, secret[:60])

    by_test = {test["name"]: test["output"] for test in results["perfect"]["tests"]}
    assert "✘" not in "".join(by_test.values())
    assert re.search(r"sigmoid: \d+ of \d+ hidden checks passed, 1 of 1 points", by_test["sigmoid"])
    mistaken = {
        t["name"]: t["output"] for t in results["mistake-transposed-dense-forward"]["tests"]
    }
    assert "✘ hidden check: dense_forward(array of shape" in mistaken["dense_forward"]
    assert "likely mistake: transposed" in mistaken["dense_forward"]
    killer = results["kernel-killer"]
    assert "killed the kernel" in killer["output"]  # the summary's note, for the student too


# -- the zip --------------------------------------------------------------------------------------


def test_the_zip_holds_this_lesson_and_what_grading_needs_only(autograder, demo_run):
    archive, _ = autograder
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
        config = zipped.read("course/nbgrader_config.py").decode()
        pins = zipped.read("requirements.txt").decode().split()
        settings = json.loads(zipped.read(gradescope.SETTINGS_FILE))
    for script in ("setup.sh", "run_autograder"):  # at the root, executable
        assert modes[script] & stat.S_IXUSR
    others = [x.name for x in LESSONS if x != LESSON]
    assert not [n for n in names if any(other in n for other in others)]
    assert not [n for n in names if "backprop_reference" in n or "/hidden/" in n]
    assert not [n for n in names if n.startswith("python/backprop_course")]  # the kernel's own
    assert {
        f"course/source/{LESSON.name}/{NOTEBOOK}",
        f"course/release/{LESSON.name}/{NOTEBOOK}",
        f"course/hidden_answers/{LESSON.name}/{LESSON.name}.json",
        "course/gradebook.db",
        "python/backprop_autograder/preprocessors.py",
        "course_package/backprop_course/protocol.py",
    } <= set(names)
    assert "ScoreOutsideKernel" in config
    assert not [line for line in config.splitlines() if line.startswith("c.CourseDirectory.db_url")]
    assert settings == {"assignment": LESSON.name, "timeout": 10}
    assert any(pin.startswith("nbgrader==0.9.") for pin in pins)
    assert any(pin.startswith("numpy==") for pin in pins)
    assert not [pin for pin in pins if pin.startswith(("pytest", "backprop", "playwright"))]
    for script in ("setup.sh", "run_autograder"):
        checked = subprocess.run(["bash", "-n"], input=getattr(gradescope, script_name(script)),
                                 text=True, capture_output=True)  # fmt: skip
        assert checked.returncode == 0, checked.stderr
    assert "apt-get install" in gradescope.SETUP_SH and "bubblewrap" in gradescope.SETUP_SH
    for name in (gradescope.ROOT_VARIABLE, gradescope.PYTHON_VARIABLE, gradescope.DEFAULT_PYTHON):
        assert name in gradescope.RUN_AUTOGRADER


def script_name(script: str) -> str:
    return {"setup.sh": "SETUP_SH", "run_autograder": "RUN_AUTOGRADER"}[script]


def test_a_course_db_url_stays_out_of_the_zip():
    text = "c = 1\nc.CourseDirectory.db_url = 'postgresql://grader:secret@db/x'\n"
    packed = gradescope.packed_config(text)
    assert "secret" not in packed and packed.startswith("c = 1\n")


# -- what is handed in ----------------------------------------------------------------------------


def test_which_notebook_is_graded(tmp_path):
    folder = tmp_path / "submission"
    with pytest.raises(gradescope.NotGradable, match="no notebook"):
        gradescope.find_notebook(folder, LESSON.name)  # no folder at all
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    (folder / ".ipynb_checkpoints" / NOTEBOOK).write_text("{}")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "mine.ipynb").write_text("{}")
    with pytest.raises(gradescope.NotGradable, match="no notebook"):
        gradescope.find_notebook(folder, LESSON.name)
    (folder / "mine.ipynb").write_text("{}")
    assert gradescope.find_notebook(folder, LESSON.name) == folder / "mine.ipynb"
    (folder / "other.ipynb").write_text("{}")
    with pytest.raises(gradescope.NotGradable, match=r"2 notebooks .* none is named"):
        gradescope.find_notebook(folder, LESSON.name)
    (folder / "deep").mkdir()
    (folder / "deep" / NOTEBOOK).write_text("{}")
    assert gradescope.find_notebook(folder, LESSON.name) == folder / "deep" / NOTEBOOK
    (folder / NOTEBOOK).write_text("{}")
    assert gradescope.find_notebook(folder, LESSON.name) == folder / NOTEBOOK


def test_empty_and_crowded_submissions_and_the_named_notebook(autograder, tmp_path):
    _, source = autograder
    perfect = nbformat.writes(demo.perfect(LESSON)).encode()
    blank = nbformat.writes(demo.blank(LESSON)).encode()
    results = run_many(source, tmp_path, {
        "empty": {},
        "crowded": {"a.ipynb": blank, "b.ipynb": perfect},
        "named": {"scratch.ipynb": blank, f"hw/{NOTEBOOK}": perfect, "notes.txt": b"hi"},
    })  # fmt: skip
    full = sum(exercises().values())
    for name, says in (("empty", "no notebook"), ("crowded", "none is named")):
        assert results[name]["score"] == 0, name
        assert all(test["score"] == 0 and says in test["output"] for test in results[name]["tests"])
        assert says in results[name]["output"]
    assert results["named"]["score"] == full


# -- keeping the answers from student code --------------------------------------------------------


def probing(source: Path) -> bytes:
    """The perfect notebook whose sigmoid first tries to open the hidden answers and the
    gradebook, wherever grading keeps them, and prints what it found."""
    nb = demo.perfect(LESSON)
    cell = demo.exercise_cell(nb, "sigmoid")
    header, body = demo.split_function(cell.source, "sigmoid")
    places = [
        str(source / "course" / "hidden_answers" / LESSON.name / f"{LESSON.name}.json"),
        str(source / "course" / "gradebook.db"),
    ]
    probe = (
        "    import glob, os\n"
        f"    places = {places!r}\n"
        f"    for course in glob.glob({tempfile.gettempdir()!r} + '/gradescope-course-*'):\n"
        f"        places += [course + '/hidden_answers/{LESSON.name}/{LESSON.name}.json',\n"
        "                   course + '/gradebook.db']\n"
        "    for place in places:\n"
        "        try:\n"
        "            open(place, 'rb').close()\n"
        "            print('LEAKED', place)\n"
        "        except OSError as error:\n"
        "            print('PROTECTED', type(error).__name__, place)\n"
    )
    cell.source = f"{header}{probe}{body}"
    return nbformat.writes(nb).encode()


def test_student_code_cannot_open_the_answers_in_the_sandbox_or_as_the_fallback_user(
    autograder, tmp_path
):
    _, source = autograder
    probe = {NOTEBOOK: probing(source)}
    forced = {gradescope.PROTECTION_VARIABLE: gradescope.USER}
    results = run_many(source, tmp_path, {"sandbox": probe, "user": probe}, {"user": forced})
    sandboxed, user = results["sandbox"], results["user"]
    assert sandboxed["extra_data"]["protection"] == gradescope.SANDBOX
    full = sum(exercises().values())
    for got in (sandboxed, user):
        text = outputs(got)
        assert "LEAKED" not in text
        if got.get("extra_data", {}).get("protection"):
            assert "PROTECTED" in text
            assert got["score"] == full
    if "extra_data" in user:  # this machine can run a kernel as another user
        assert user["extra_data"]["protection"] == gradescope.USER
        # it saw the scratch course directories (/tmp is a shared folder) and could not enter
        assert re.search(r"PROTECTED PermissionError \S*/gradescope-course-", outputs(user))
    else:  # it cannot: nothing graded, and it says so, never unprotected
        assert user["score"] == 0 and "could not run your code in isolation" in user["output"]


def test_a_grader_that_cannot_start_still_leaves_results(autograder, tmp_path):
    _, source = autograder
    results = run_autograder(
        source, tmp_path / "autograder", {NOTEBOOK: b"{}"}, check=False,
        BACKPROP_GRADESCOPE_PYTHON=str(tmp_path / "no-python"),
    )  # fmt: skip
    assert results["score"] == 0 and "nothing was graded" in results["output"]
