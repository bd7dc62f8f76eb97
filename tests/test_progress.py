"""The progress table (backprop_course.progress) and the course's front door, 00_start_here.

Three copies of the six lessons are checked: solved (every exercise answered from the
reference) and half-finished (per lesson: every other exercise answered, one answered wrongly,
the rest stubs) in one progress run, and blank (course/ as it is) by the table that
00_start_here shows when it runs there. Each exercise's status must be exactly what its copy
was built to give. Then the runs that go wrong: a cell that never ends, one that ignores the
interrupt, a kernel that dies, a notebook that is not JSON.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from backprop_autograder.assemble import is_exercise, nbgrader_meta, solve_cell, solved
from backprop_autograder.lessons import LESSONS, Lesson
from backprop_course import progress as progress_module
from backprop_course.progress import (
    MARKS,
    RUN_MARKER,
    LessonProgress,
    available_cpus,
    find_exercises,
    format_table,
    progress,
)
from backprop_course.widgets import ProgressView, progress_view

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"
START = COURSE / "00_start_here.ipynb"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")

# Per lesson, the exercise the half-finished copy answers wrongly, and the wrong body.
WRONG = {
    "forward_pass": (  # the biases forgotten
        "parameter_count",
        "return sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes)))",
    ),
    "chain_rule": ("numerical_derivative", "return (f(x + h) - f(x)) / h"),  # one-sided
    "jacobians": ("linear_vjp_input", "return (W.T @ v).T"),  # transposed
    "matrix_form": ("weight_gradient", "return a_prev @ delta.T"),  # transposed
    "mini_batch": ("batch_weight_gradient", "return Delta @ A_prev.T"),  # 1/m missing
    "through_time": (  # each entry clipped on its own
        "clip_by_global_norm",
        "norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))\n"
        "return {key: np.clip(g, -max_norm, max_norm) for key, g in grads.items()}, norm",
    ),
}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def exercise_names(nb: nbformat.NotebookNode) -> list[str]:
    return [nbgrader_meta(cell)["grade_id"] for cell in nb.cells if is_exercise(cell)]


def answer(source: str, body: str) -> str:
    """An exercise cell with its stub lines replaced by ``body`` (at the stub's indent)."""
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == STUB[0])
    assert lines[at + 1].strip() == STUB[1], source
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at : at + 2] = [indent + line for line in body.splitlines()]
    return "\n".join(lines)


def half_finished(lesson: Lesson) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """Lesson ``lesson`` with exercises 1, 3, 5, … answered, its WRONG exercise answered
    wrongly and the others left as stubs; and the status each exercise should get.

    Stubs sit before answered exercises, so the answered ones pass only because their
    checks put stand-ins in place of the earlier exercises, as they should."""
    nb = read(lesson.notebook)
    wrong, body = WRONG[lesson.topic]
    names = exercise_names(nb)
    expected = {}
    for cell in nb.cells:
        if not is_exercise(cell):
            continue
        name = nbgrader_meta(cell)["grade_id"]
        if name == wrong:
            cell.source, expected[name] = answer(cell.source, body), "failed"
        elif names.index(name) % 2 == 0:
            cell.source, expected[name] = solve_cell(cell.source, lesson.reference()), "passed"
        else:
            expected[name] = "not started"
    return nb, expected


def check_cells(nb: nbformat.NotebookNode) -> list[int]:
    return [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and nbgrader_meta(cell).get("grade_id", "").startswith("check_")
    ]


def notebook_bytes(*folders: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for folder in folders for path in folder.glob("*.ipynb")}


def by_lesson(results: list[LessonProgress]) -> dict[str, LessonProgress]:
    return {result.lesson: result for result in results}


def shown_statuses(table: str) -> dict[str, dict[str, str]]:
    """Lesson -> exercise -> status, as a ProgressView's table shows them (its marks' titles)."""
    shown = {}
    for lesson, marks in re.findall(r"<tr><td[^>]*><code>([^<]+)</code>(.*?)</tr>", table):
        titles = [html.unescape(title) for title in re.findall(r'title="([^"]*)"', marks)]
        shown[lesson] = dict(title.split(" — ")[0].split(": ", 1) for title in titles)
    return shown


# -- solved and half-finished: one progress run ---------------------------------------------


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    """The solved and the half-finished copies, their expected statuses, the progress run
    over both (one call, so that both CPUs stay busy), the notebooks' bytes before it, and
    the run's time."""
    root = tmp_path_factory.mktemp("progress")
    folders = {name: root / name for name in ("solved", "half")}
    expected: dict[str, dict[str, dict[str, str]]] = {name: {} for name in folders}
    for folder in folders.values():
        folder.mkdir()
    for lesson in LESSONS:
        blank = read(lesson.notebook)
        nbformat.write(solved(blank, lesson.reference()), folders["solved"] / lesson.notebook.name)
        expected["solved"][lesson.name] = dict.fromkeys(exercise_names(blank), "passed")
        half, expected["half"][lesson.name] = half_finished(lesson)
        nbformat.write(half, folders["half"] / lesson.notebook.name)
    shutil.copy(START, folders["solved"] / START.name)  # the front door is not a lesson
    before = notebook_bytes(*folders.values())
    started = time.monotonic()
    results = progress(list(folders.values()))
    seconds = time.monotonic() - started
    found = {
        name: by_lesson([result for result in results if Path(result.path).parent == folder])
        for name, folder in folders.items()
    }
    return folders, expected, found, before, seconds


@pytest.mark.slow
@pytest.mark.parametrize("which", ["solved", "half"])
def test_every_exercise_gets_the_status_its_copy_was_built_to_give(two_sets, which):
    _, expected, found, _, _ = two_sets
    assert list(found[which]) == [lesson.name for lesson in LESSONS]  # 00_start_here left out
    for lesson in LESSONS:
        result = found[which][lesson.name]
        assert result.problem == ""
        assert result.statuses() == expected[which][lesson.name], lesson.name
        assert list(result.statuses()) == exercise_names(read(lesson.notebook))  # in order


@pytest.mark.slow
def test_a_wrong_answer_shows_the_first_line_of_its_checks_message(two_sets):
    _, _, found, _, _ = two_sets
    for lesson in LESSONS:
        wrong, _ = WRONG[lesson.topic]
        (failed,) = [e for e in found["half"][lesson.name].exercises if e.status == "failed"]
        assert failed.exercise == wrong
        assert failed.note and "\n" not in failed.note
        assert "Likely mistake" not in failed.note and "Stuck?" not in failed.note
    assert not [e for r in found["solved"].values() for e in r.exercises if e.note]


@pytest.mark.slow
def test_the_run_writes_nothing_back_and_runs_the_lessons_side_by_side(two_sets):
    folders, _, found, before, seconds = two_sets
    assert notebook_bytes(*folders.values()) == before
    # One after another, the run would take longer than its notebooks' own times added up
    # (each subprocess also has to start); side by side on two CPUs, it takes less.
    one_by_one = sum(result.seconds for results in found.values() for result in results.values())
    if available_cpus() >= 2:
        assert seconds < one_by_one, f"{seconds:.0f} s, the notebooks' own {one_by_one:.0f} s"


@pytest.mark.slow
def test_the_table_shows_each_lesson_and_the_reasons(two_sets):
    _, _, found, _, _ = two_sets
    table = format_table(list(found["half"].values()))
    for lesson in LESSONS:
        result = found["half"][lesson.name]
        marks = "".join(MARKS[status] for status in result.statuses().values())
        row = rf"^{lesson.name} +{result.passed}/{result.total} +{re.escape(marks)}$"
        assert re.search(row, table, re.M), table
        wrong, _ = WRONG[lesson.topic]
        assert f"✘ {wrong}: " in table
    solved_table = format_table(list(found["solved"].values()))
    passed = sum(result.total for result in found["solved"].values())
    assert solved_table.splitlines()[-1] == f"{passed} of {passed} exercises pass."


# -- runs that go wrong -------------------------------------------------------------------


LOOP_AFTER = 3  # the endless cell comes after the third exercise's check
TIMEOUT = 3  # seconds per cell; every cell of a lesson takes well under half a second
ENDLESS = "while True:\n    pass"
STUBBORN = "import time\n\nwhile True:\n    try:\n        time.sleep(0.1)\n" + (
    "    except KeyboardInterrupt:\n        pass"
)
DIES = "import os\n\nos._exit(3)"


def with_cell_after_check(nb: nbformat.NotebookNode, number: int, source: str):
    """``nb`` with a code cell ``source`` right after its ``number``-th check cell."""
    nb.cells.insert(check_cells(nb)[number - 1] + 1, nbformat.v4.new_code_cell(source))
    return nb


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    """Lesson 01 solved, with an endless cell after its third check; lesson 02 cut short
    (not JSON); lessons 03 and 04 blank, with a cell after the first check that ignores the
    interrupt (03) or kills the kernel (04); lesson 05 blank."""
    folder = tmp_path_factory.mktemp("troubled")
    first, second, third, fourth, fifth = LESSONS[:5]
    nb = with_cell_after_check(solved(read(first.notebook), first.reference()), LOOP_AFTER, ENDLESS)
    nbformat.write(nb, folder / first.notebook.name)
    text = second.notebook.read_bytes()
    (folder / second.notebook.name).write_bytes(text[: len(text) // 2])
    nbformat.write(
        with_cell_after_check(read(third.notebook), 1, STUBBORN), folder / third.notebook.name
    )
    nbformat.write(
        with_cell_after_check(read(fourth.notebook), 1, DIES), folder / fourth.notebook.name
    )
    shutil.copy(fifth.notebook, folder / fifth.notebook.name)
    before = notebook_bytes(folder)
    results = by_lesson(progress([folder], timeout=TIMEOUT))
    return folder, before, results


@pytest.mark.slow
def test_an_endless_cell_leaves_the_checks_after_it_not_run(troubled):
    _, _, results = troubled
    result = results[LESSONS[0].name]
    statuses = list(result.statuses().values())
    assert statuses == ["passed"] * LOOP_AFTER + ["not run"] * (len(statuses) - LOOP_AFTER)
    for exercise in result.exercises[LOOP_AFTER:]:
        assert f"ran longer than {TIMEOUT} s and was stopped" in exercise.note
        assert "`while True:`" in exercise.note


@pytest.mark.slow
def test_a_cell_that_ignores_the_interrupt_is_given_up_on(troubled):
    _, _, results = troubled
    result = results[LESSONS[2].name]
    statuses = list(result.statuses().values())
    assert statuses == ["not started"] + ["not run"] * (len(statuses) - 1)
    assert all(f"ran longer than {TIMEOUT} s" in e.note for e in result.exercises[1:])


@pytest.mark.slow
def test_a_dead_kernel_leaves_the_checks_after_it_not_run(troubled):
    _, _, results = troubled
    result = results[LESSONS[3].name]
    statuses = list(result.statuses().values())
    assert statuses == ["not started"] + ["not run"] * (len(statuses) - 1)
    assert all("stopped the kernel" in e.note for e in result.exercises[1:])


@pytest.mark.slow
def test_a_corrupt_notebook_gets_its_row_and_the_others_are_still_reported(troubled):
    folder, before, results = troubled
    assert list(results) == [lesson.name for lesson in LESSONS[:5]]
    broken = results[LESSONS[1].name]
    assert broken.exercises == []
    assert "is not valid JSON" in broken.problem and "Restore it" in broken.problem
    blank = results[LESSONS[4].name]
    assert set(blank.statuses().values()) == {"not started"} and blank.total > 0
    assert notebook_bytes(folder) == before


def test_the_command_line_prints_a_table_and_a_row_for_each_unreadable_notebook(tmp_path, capsys):
    (tmp_path / "01_forward_pass.ipynb").write_text('{"cells": [')
    (tmp_path / "02_chain_rule.ipynb").write_text('{"cells": [], "nbformat": 4}')
    missing = tmp_path / "elsewhere" / "03_jacobians.ipynb"
    assert progress_module.main([str(tmp_path), str(missing)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("lesson") and rows[-1] == "0 of 0 exercises pass."
    assert re.search(r"^01_forward_pass +- +01_forward_pass.ipynb is not valid JSON", rows[1])
    assert "02_chain_rule.ipynb is not a valid notebook" in rows[2]
    assert f"03_jacobians.ipynb is missing from {missing.parent}" in rows[3]
    assert all("Restore it from the course repository" in row for row in rows[1:4])


def test_a_run_that_dies_gets_a_row_saying_so(tmp_path, monkeypatch):
    nbformat.write(read(LESSONS[0].notebook), tmp_path / LESSONS[0].notebook.name)
    monkeypatch.setattr(sys, "executable", shutil.which("false"))  # a child that only fails
    (result,) = progress([tmp_path])
    assert result.exercises == []
    assert result.problem == "the run of 01_forward_pass.ipynb stopped unexpectedly: exit status 1"


def test_an_empty_folder_says_so(tmp_path):
    (result,) = progress([tmp_path])
    assert result.exercises == [] and "no lesson notebooks" in result.problem


def test_exercises_and_checks_are_found_from_the_nbgrader_metadata():
    for lesson in LESSONS:
        nb = read(lesson.notebook)
        exercises = find_exercises(nb)
        assert [exercise.name for exercise in exercises] == exercise_names(nb)
        for exercise in exercises:
            assert (
                nb.cells[exercise.check_cell].source.strip().startswith(f"check.{exercise.name}(")
            )
            assert exercise.solution_cell < exercise.check_cell


# -- the widget -----------------------------------------------------------------------------


def test_the_view_says_it_is_working_before_it_starts_and_shows_the_table(tmp_path, monkeypatch):
    monkeypatch.delenv(RUN_MARKER, raising=False)
    (tmp_path / "01_forward_pass.ipynb").write_text("not a notebook")
    seen = []
    real = progress_module.progress

    def watched(*args, **kwargs):
        seen.append((view.status.value, view.button.disabled, view.table.value))
        return real(*args, **kwargs)

    monkeypatch.setattr(progress_view, "progress", watched)
    view = ProgressView(tmp_path)
    assert view.table.value == ""  # nothing computed before it is shown
    for _ in range(2):  # shown, then the button
        view.refresh()
    assert len(seen) == 2
    for status, disabled, table in seen:
        assert "Running your saved notebooks" in status and disabled
        assert "<code>01_forward_pass</code>" in table and "running…" in table
    assert not view.button.disabled
    assert view.status.value.startswith("Checked at") and "0 of 0" in view.status.value
    assert "01_forward_pass.ipynb is not valid JSON" in view.table.value
    assert view.table.value.count("<tr>") == 2  # the header and one lesson


def test_the_view_never_starts_a_run_inside_a_run(tmp_path, monkeypatch):
    monkeypatch.setenv(RUN_MARKER, "1")
    monkeypatch.setattr(progress_view, "progress", lambda *a, **k: pytest.fail("ran"))
    view = ProgressView(tmp_path)
    view.refresh()
    assert "not computed" in view.status.value


# -- the front door: 00_start_here ----------------------------------------------------------


def test_start_here_is_committed_clean_and_is_not_a_lesson():
    nb = read(START)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert 1 <= len(code) <= 2
    for cell in nb.cells:
        assert "nbgrader" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert START.stem not in {lesson.name for lesson in LESSONS}
    assert START not in {lesson.notebook for lesson in LESSONS}


def test_start_here_links_every_lesson_and_only_existing_notebooks():
    text = "\n".join(cell.source for cell in read(START).cells)
    links = set(re.findall(r"\]\(([^)#\s]+\.ipynb)\)", text))
    assert {lesson.notebook.name for lesson in LESSONS} <= links
    for link in links:
        assert (COURSE / link).is_file(), link
    for needed in ('check.hint("sigmoid")', "step=1", "reveal=True", "Validate", "make lab"):
        assert needed in text, needed


@pytest.fixture(scope="module")
def blank_set(tmp_path_factory):
    """A copy of course/'s notebooks as they are, and 00_start_here run there from top to
    bottom with nbclient, as a learner's first visit runs it: its ProgressView runs the
    blank lessons. The notebook with its outputs, and the notebooks' bytes before."""
    folder = tmp_path_factory.mktemp("blank")
    for notebook in COURSE.glob("*.ipynb"):
        shutil.copy(notebook, folder / notebook.name)
    before = notebook_bytes(folder)
    nb = read(folder / START.name)
    with pytest.MonkeyPatch.context() as environment:
        environment.delenv("NBGRADER_EXECUTION", raising=False)
        environment.delenv(RUN_MARKER, raising=False)
        client = NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        )
        client.execute()
    return folder, before, nb


def widget_texts(nb: nbformat.NotebookNode) -> list[str]:
    """The values of the notebook's text widgets, as nbclient recorded their state."""
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    values = [model["state"].get("value") for model in state.values()]
    return [value for value in values if isinstance(value, str)]


@pytest.mark.slow
def test_start_here_runs_top_to_bottom_and_shows_one_row_per_lesson(blank_set):
    folder, before, nb = blank_set
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out.get("evalue")
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
    (table,) = [text for text in widget_texts(nb) if "<table" in text]
    assert list(shown_statuses(table)) == [lesson.name for lesson in LESSONS]
    assert any(text.startswith("Checked at") for text in widget_texts(nb))
    assert notebook_bytes(folder) == before


@pytest.mark.slow
def test_every_exercise_of_the_blank_lessons_is_not_started(blank_set):
    _, _, nb = blank_set
    (table,) = [text for text in widget_texts(nb) if "<table" in text]
    shown = shown_statuses(table)
    for lesson in LESSONS:
        names = exercise_names(read(lesson.notebook))
        assert list(shown[lesson.name].items()) == [(name, "not started") for name in names]
