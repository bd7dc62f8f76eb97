"""The student's journey in a real JupyterLab and Chromium, on a released assignment.

A student opens lesson 01 as released by nbgrader, writes one answer into its
stub, runs it and its check and sees the success line, then presses nbgrader's
*Validate* button: the dialog must report what ``nbgrader validate`` reports
on the command line for the same saved notebook. Screenshots of each step go
to ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from browser_lab import (
    NBGRADER_TOOLS,
    LabPage,
    LabServer,
    browser_page,
    find_cell,
    nbgrader_tools_shown,
    open_notebook,
    run_cell,
    running_lab,
)
from playwright.sync_api import expect

from backprop_autograder.assemble import solved
from backprop_autograder.build import build, nbgrader_env
from backprop_autograder.lessons import lesson

pytest_plugins = ("browser_lab",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

LESSON = lesson("01_forward_pass")
NOTEBOOK = f"{LESSON.name}.ipynb"
ANSWERED = "sigmoid"  # the exercise the student answers
VALIDATE_MS = 180_000  # validation runs the whole notebook


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab in a student's folder holding the released lesson 01, as nbgrader made it."""
    work = tmp_path_factory.mktemp("student-journey")
    build([LESSON], work / "nbgrader")
    folder = work / "student"
    folder.mkdir()
    shutil.copy(work / "nbgrader" / "release" / LESSON.name / NOTEBOOK, folder / NOTEBOOK)
    with running_lab(work, root=folder) as server:
        yield server


@pytest.fixture
def student(student_lab, chromium, request) -> Iterator[LabPage]:
    yield from browser_page(student_lab, chromium, request)


def answer_source(name: str) -> str:
    """The exercise cell of ``name`` with its stub answered, as a student would write it."""
    nb = solved(nbformat.read(LESSON.notebook, as_version=4), LESSON.reference())
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)
    return "\n".join(
        line for line in cell.source.splitlines() if not line.strip().startswith("### ")
    )


def failed_cells(text: str) -> list[str]:
    """The first source line of each cell a validation report lists as failed."""
    parts = text.split("The following cell failed:")[1:]
    return [next(line.strip() for line in part.splitlines() if line.strip()) for part in parts]


def validate_on_the_command_line(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", str(path)],
        cwd=path.parent, env=nbgrader_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.stdout + done.stderr


def test_make_labs_jupyterlab_shows_every_nbgrader_tool(student: LabPage):
    """The environment of make lab serves instructors too, and keeps all of nbgrader's tools;
    the learner's JupyterLab (binder/learner-lab.sh) shows only Validate. This is the
    detector's control: it sees each tool where the tool is there."""
    panel = open_notebook(student.page, NOTEBOOK)
    assert nbgrader_tools_shown(student.page, panel) == set(NBGRADER_TOOLS)


def test_a_student_answers_one_exercise_checks_it_and_validates(student: LabPage):
    page = student.page
    panel = open_notebook(page, NOTEBOOK)
    student.snap("0-opened")
    run_cell(panel, "from backprop_course.checks import")  # the lesson's first cell: imports

    # Write the answer into the stub: select the cell's text and put the answer in its place.
    editor = find_cell(panel, f"def {ANSWERED}(").locator(".jp-InputArea-editor")
    editor.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(answer_source(ANSWERED))
    expect(editor).to_contain_text("np.exp")
    run_cell(panel, f"def {ANSWERED}(")
    check = run_cell(panel, f"check.{ANSWERED}({ANSWERED})")
    expect(check.locator(".jp-OutputArea")).to_contain_text(re.compile(rf"✔ {ANSWERED}\b"))
    student.snap("1-answer-checked", check)

    page.get_by_role("button", name="Validate").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=VALIDATE_MS)
    expect(dialog).to_contain_text(re.compile("failed|Success"), timeout=VALIDATE_MS)
    student.snap("2-validated")
    shown = dialog.inner_text()

    # The button saved the notebook first: the command line validates the same file.
    saved = student.server.root / NOTEBOOK
    cells = nbformat.read(saved, as_version=4).cells
    assert any("np.exp" in c.source for c in cells), "Validate should save the answer first"
    command_line = validate_on_the_command_line(saved)
    in_browser, expected = failed_cells(shown), failed_cells(command_line)
    assert expected, f"the other stubs are empty, so validation fails:\n{command_line[-2000:]}"
    assert in_browser == expected, (in_browser, expected)
    assert f"check.{ANSWERED}({ANSWERED})" not in in_browser
    assert in_browser[0] == "check.sigmoid_prime(sigmoid_prime)"
    # Each failure reads as the check's message, without the checks' own code.
    assert "CheckFailed: sigmoid_prime is not written yet" in shown, shown[:2000]
    assert "checks.expect(" not in shown and "Traceback" not in shown, shown[:2000]
    assert not student.errors, student.errors
