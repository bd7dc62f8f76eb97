"""The assembly of source notebooks: answers in, and nbgrader takes them out again."""

from __future__ import annotations

import nbformat
import pytest
from nbgrader.preprocessors import ClearSolutions

from backprop_autograder import build
from backprop_autograder.assemble import (
    AssemblyError,
    is_exercise,
    reference_body,
    solve_cell,
)
from backprop_autograder.lessons import LESSONS, lesson
from backprop_reference import forward_pass

STUB_BODY = '    """Docs."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'


def clear(source: str) -> str:
    """What nbgrader's ClearSolutions makes of a solution cell."""
    cell = nbformat.v4.new_code_cell(
        source, metadata={"nbgrader": {"solution": True, "grade": False, "grade_id": "x"}}
    )
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"language": "python", "name": "python3"}
    cleared, _ = ClearSolutions().preprocess(nb, {})
    return cleared.cells[0].source


@pytest.mark.parametrize("the_lesson", LESSONS, ids=lambda x: x.name)
def test_nbgrader_turns_every_answer_back_into_the_stub(the_lesson):
    nb = nbformat.read(the_lesson.notebook, as_version=4)
    for cell in filter(is_exercise, nb.cells):
        answered = solve_cell(cell.source, the_lesson.reference())
        assert "### BEGIN SOLUTION" in answered
        assert clear(answered) == cell.source


def test_answer_is_the_reference_body_without_docstring_or_argument_checks():
    body = reference_body(forward_pass.dense_forward)
    assert body == ["z = W @ a_prev + b", "return z, (a_prev, W)"]


def test_a_signature_that_differs_from_the_reference_stops_the_build():
    source = f"def dense_forward(W, b, a):\n{STUB_BODY}"
    with pytest.raises(AssemblyError, match=r"dense_forward\(W, b, a\).*dense_forward\(W"):
        solve_cell(source, forward_pass)


def test_an_exercise_without_a_reference_function_stops_the_build():
    with pytest.raises(AssemblyError, match="no reference function"):
        solve_cell(f"def softplus(z):\n{STUB_BODY}", forward_pass)


def test_an_exercise_cell_without_a_stub_stops_the_build():
    with pytest.raises(AssemblyError, match="no function whose body is the stub"):
        solve_cell("x = 1", forward_pass)


def test_an_unknown_lesson_is_refused_with_the_known_ones(capsys):
    with pytest.raises(ValueError, match="01_forward_pass"):
        lesson("99_nothing")
    with pytest.raises(SystemExit, match="unknown lesson"):
        build.main(["99_nothing"])
