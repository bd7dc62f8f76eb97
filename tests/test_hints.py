"""Hints that come in steps: check.hint("sigmoid"), and the reference answer after them.

Every exercise of every lesson has two or three hints, written next to its
visible check. They come one at a time; after the last, the reference answer is
one explicit step away (``reveal=True``), only where backprop_reference is
installed, and never while nbgrader validates or grades (NBGRADER_EXECUTION).
A failed check ends with one line offering the next hint.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from backprop_autograder.lessons import LESSONS
from backprop_course import hints
from backprop_course.checking import CheckFailed
from backprop_course.checks import forward_pass as check


@pytest.fixture(autouse=True)
def fresh_ladders(monkeypatch):
    """Each test starts as a new kernel does: no hint shown yet."""
    monkeypatch.setattr(hints, "_shown", {})
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def checks_module(lesson):
    return importlib.import_module(f"backprop_course.checks.{lesson.topic}")


def exercises_of(lesson) -> list[str]:
    nb = nbformat.read(lesson.notebook, as_version=4)
    return [
        cell.metadata["nbgrader"]["grade_id"]
        for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")
    ]


def asked(capsys, exercise: str, **options) -> str:
    check.hint(exercise, **options)
    return capsys.readouterr().out


# -- every exercise has its hints ---------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_every_exercise_has_two_or_three_hints(lesson):
    module = checks_module(lesson)
    assert callable(module.hint), f"{module.__name__} should offer hint()"
    assert sorted(hints.exercises(lesson.topic)) == sorted(exercises_of(lesson))
    for exercise in exercises_of(lesson):
        ladder = hints.hints_of(lesson.topic, exercise)
        assert 2 <= len(ladder) <= 3, (exercise, len(ladder))
        assert len(set(ladder)) == len(ladder), f"{exercise}: two hints say the same"
        for text in ladder:
            assert len(text) >= 40, f"{exercise}: a hint should say something: {text!r}"


def code_lines(function) -> list[str]:
    """The reference's lines of code (no def, docstring or comment), whitespace removed."""
    source = inspect.getsource(function)
    docstring = inspect.getdoc(function) or ""
    lines = []
    for line in source.splitlines()[1:]:
        text = line.split("#", 1)[0].strip()
        if text and text.strip("\"'") not in docstring and not text.startswith(("'", '"')):
            lines.append(re.sub(r"\s+", "", text))
    return lines


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_no_hints_add_up_to_the_reference_answer(lesson):
    """The last hint may give the key line; the whole answer is the reveal's job. Of the
    reference's lines of code, the hints together hold less than half (none of a one- or
    two-line answer)."""
    reference = lesson.reference()
    for exercise in exercises_of(lesson):
        ladder = [re.sub(r"\s+", "", text) for text in hints.hints_of(lesson.topic, exercise)]
        lines = [line for line in code_lines(getattr(reference, exercise)) if len(line) >= 10]
        held = [line for line in lines if any(line in text for text in ladder)]
        assert len(held) <= max(0, (len(lines) - 1) // 2), (exercise, held, len(lines))


# -- the ladder -----------------------------------------------------------------------------


def test_the_ladder_shows_one_more_hint_each_time(capsys):
    ladder = hints.hints_of("forward_pass", "sigmoid")
    for step, text in enumerate(ladder, start=1):
        shown = asked(capsys, "sigmoid")
        assert shown.startswith(f"Hint {step} of {len(ladder)} for sigmoid: {text}")
        for later in ladder[step:]:
            assert later not in shown
    assert "That was the last hint" in shown
    assert 'check.hint("sigmoid", reveal=True)' in shown
    after = asked(capsys, "sigmoid")
    assert after.startswith(f"No hints left for sigmoid: you have seen all {len(ladder)}")
    assert 'check.hint("sigmoid", reveal=True)' in after
    again = asked(capsys, "sigmoid", step=1)
    assert again.startswith(f"Hint 1 of {len(ladder)} for sigmoid: {ladder[0]}")


def test_ladders_are_kept_per_exercise(capsys):
    asked(capsys, "sigmoid")
    assert asked(capsys, "softmax").startswith("Hint 1 of")
    assert asked(capsys, "sigmoid").startswith("Hint 2 of")


def test_a_wrong_name_or_step_says_what_there_is():
    with pytest.raises(ValueError, match=r'no exercise .sigmod.*"sigmoid", "sigmoid_prime"'):
        check.hint("sigmod")
    with pytest.raises(ValueError, match=r"sigmoid has hints 1 to \d; step=9"):
        check.hint("sigmoid", step=9)


def test_the_ladder_never_shows_the_answer_unasked(capsys):
    source = inspect.getsource(LESSONS[0].reference().sigmoid)
    shown = "".join(asked(capsys, "sigmoid") for _ in range(5))
    assert source not in shown and "def sigmoid" not in shown


# -- the reference answer ----------------------------------------------------------------------


def test_the_reveal_shows_the_reference_answer_when_asked(capsys):
    shown = asked(capsys, "sigmoid", reveal=True)
    source = inspect.getsource(LESSONS[0].reference().sigmoid)
    assert "from backprop_reference/forward_pass.py" in shown
    assert source in shown


@pytest.mark.parametrize("mode", ["validate", "autograde"])
def test_the_reveal_is_inert_while_nbgrader_runs_the_notebook(capsys, monkeypatch, mode):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    shown = asked(capsys, "sigmoid", reveal=True)
    assert shown.strip() == (
        "The reference answer is never shown while nbgrader validates or grades."
    )


def test_the_reveal_is_unavailable_without_the_reference_library(capsys, monkeypatch):
    for name in [n for n in sys.modules if n.startswith("backprop_reference")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "backprop_reference", None)  # import fails, as if absent
    shown = asked(capsys, "sigmoid", reveal=True)
    assert "not installed here" in shown and "def sigmoid" not in shown


# -- a failed check offers the next hint ------------------------------------------------------


def test_a_failed_check_ends_with_the_offer_of_a_hint(capsys):
    def sigmoid(z):
        return np.exp(z) / (1 + np.exp(z))  # overflows: nan for large z

    with pytest.raises(CheckFailed) as failed:
        check.sigmoid(sigmoid)
    count = len(hints.hints_of("forward_pass", "sigmoid"))
    assert str(failed.value).splitlines()[-1] == (
        f'Stuck? check.hint("sigmoid") gives a hint ({count} left, one at a time).'
    )
    for _ in range(count):
        asked(capsys, "sigmoid")
    with pytest.raises(CheckFailed) as failed:
        check.sigmoid(sigmoid)
    assert "you have seen all of them" in str(failed.value).splitlines()[-1]


def test_a_passing_check_offers_nothing(capsys):
    check.sigmoid(lambda z: 0.5 * (1 + np.tanh(0.5 * z)))
    out = capsys.readouterr().out
    assert out.startswith("✔ sigmoid") and "hint" not in out


def test_in_a_kernel_the_failure_the_ladder_and_the_graded_reveal(tmp_path):
    """The same, in a real kernel: what a learner sees in the notebook."""
    cells = [
        "from backprop_course.checks import forward_pass as check",
        "def sigmoid(z):\n    raise NotImplementedError()",
        "check.sigmoid(sigmoid)",
        'check.hint("sigmoid")',
        "import os\nos.environ['NBGRADER_EXECUTION'] = 'autograde'\n"
        'check.hint("sigmoid", reveal=True)',
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    where = {"metadata": {"path": str(tmp_path)}}
    NotebookClient(nb, timeout=120, allow_errors=True, resources=where).execute()
    failure = nb.cells[2].outputs[0]
    assert failure.output_type == "error" and failure.ename == "CheckFailed"
    assert failure.evalue.splitlines()[-1].startswith('Stuck? check.hint("sigmoid") gives a hint')
    assert nb.cells[3].outputs[0].text.startswith("Hint 1 of")
    assert "never shown while nbgrader" in nb.cells[4].outputs[0].text
