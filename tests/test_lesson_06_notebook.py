"""Lesson 06's notebook: its given code is the reference's, and its adder trains for real.

The given cells are executed on their own and compared with
``backprop_reference.through_time`` on random inputs; the solved notebook is
run outside grading and must add unseen 8-bit numbers (>= 99 %, also asserted
in the notebook itself) within seconds.
"""

from __future__ import annotations

import itertools
import re

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from backprop_autograder.assemble import solved
from backprop_autograder.lessons import lesson
from backprop_course.structures import GradientCheck, Loss, StepCache
from backprop_reference import through_time as reference

LESSON = lesson("through_time")
GIVEN_CELLS = ("given", "given_norms")
EXERCISES = {  # notebook order and points
    "rnn_step_forward": 2,
    "rnn_forward": 2,
    "rnn_step_backward": 3,
    "rnn_backward": 3,
    "bptt": 3,
    "truncated_bptt": 2,
    "clip_by_global_norm": 2,
}


def read() -> nbformat.NotebookNode:
    return nbformat.read(LESSON.notebook, as_version=4)


def grade_id(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


@pytest.fixture(scope="module")
def given() -> dict:
    """The names the notebook's given cells define, executed without the rest of the notebook."""
    namespace = {"np": np, "Loss": Loss, "GradientCheck": GradientCheck, "StepCache": StepCache}
    cells = {grade_id(cell): cell for cell in read().cells}
    for name in GIVEN_CELLS:
        exec(compile(cells[name].source, f"<{name}>", "exec"), namespace)
    return namespace


def random_case(rng: np.random.Generator, loss: str) -> tuple:
    T, n_x, n_h, n_y, m = (int(v) for v in rng.integers(1, 7, size=5))
    n_y = max(n_y, 2)
    params = reference.init_rnn(n_x, n_h, n_y, seed=int(rng.integers(1000)),
                                spectral_radius=float(rng.uniform(0.5, 2.0)))  # fmt: skip
    params["b_h"] = rng.normal(size=(n_h, 1))
    params["b_y"] = rng.normal(size=(n_y, 1))
    X = rng.normal(size=(T, n_x, m)) * rng.uniform(0.1, 3.0)
    h0 = np.tanh(rng.normal(size=(n_h, m)))
    if loss == "softmax_cross_entropy":
        Y = np.eye(n_y)[rng.integers(n_y, size=(T, m))].transpose(0, 2, 1)
    else:
        Y = rng.normal(size=(T, n_y, m))
    return X, Y, h0, params


# -- the notebook's layout ---------------------------------------------------------------


def test_exercises_come_in_order_with_their_points_and_checks():
    cells = read().cells
    stubs = [i for i, cell in enumerate(cells) if cell.metadata.get("nbgrader", {}).get("solution")]
    assert [grade_id(cells[i]) for i in stubs] == list(EXERCISES)
    for number, (i, name) in enumerate(zip(stubs, EXERCISES, strict=True), start=1):
        assert f"**Exercise {number} ({EXERCISES[name]} points).**" in cells[i - 1].source
        assert cells[i + 1].source == f"check.{name}({name})"
        assert cells[i + 1].metadata["nbgrader"]["points"] == EXERCISES[name]
        assert "<summary>Hint</summary>" in cells[i + 2].source
    assert sum(EXERCISES.values()) == 17


def test_every_cell_is_locked_except_the_answers_and_the_demonstrations():
    ids = []
    for cell in read().cells:
        assert not cell.get("outputs"), "no outputs in the course notebook"
        meta = cell.metadata.get("nbgrader")
        if cell.cell_type == "markdown":
            assert meta and meta["locked"] and not cell.metadata["editable"]
        if meta:
            ids.append(meta["grade_id"])
    assert len(ids) == len(set(ids)), "grade ids must be unique"


def test_the_widget_cell_is_the_explorer():
    sources = [cell.source for cell in read().cells]
    assert (
        "from backprop_course.widgets import ThroughTimeExplorer\n\n"
        "ThroughTimeExplorer(spectral_radius=1.0, length=50)"
    ) in sources


# -- the given code behaves like the reference's -------------------------------------------


@pytest.mark.parametrize("loss", sorted(reference.LOSSES))
def test_given_losses_are_lesson_01s(given, loss):
    rng = np.random.default_rng(1)
    for _ in range(5):
        a = rng.normal(size=(3, 4)) * 10
        y = (
            np.eye(3)[:, rng.integers(3, size=4)]
            if loss.startswith("softmax")
            else rng.normal(size=(3, 4))
        )
        ours, theirs = given["LOSSES"][loss], reference.LOSSES[loss]
        assert ours.cost(a, y) == pytest.approx(theirs.cost(a, y), rel=1e-12)
        np.testing.assert_allclose(ours.gradient(a, y), theirs.gradient(a, y), rtol=1e-12)


def test_given_gradient_check_and_relative_error_are_lesson_04s(given):
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 1))}

    def cost(p):
        return float(np.sum(np.log(np.cosh(p["W"]))) + np.sum(p["b"] ** 3))

    right = {"W": np.tanh(params["W"]), "b": 3 * params["b"] ** 2}
    wrong = {"W": right["W"] * (1 + 0.1 * (np.arange(12).reshape(3, 4) == 7)), "b": right["b"]}
    before = {key: value.copy() for key, value in params.items()}
    for grads in (right, wrong):
        ours = given["gradient_check"](cost, params, grads)
        theirs = reference.gradient_check(cost, params, grads)
        assert list(ours) == list(theirs)
        for key in grads:
            assert ours[key].worst_index == theirs[key].worst_index
            assert ours[key].relative_error == pytest.approx(theirs[key].relative_error, rel=1e-9)
            assert ours[key].worst_error == pytest.approx(theirs[key].worst_error, rel=1e-9)
    assert all(np.array_equal(params[key], before[key]) for key in params)
    a, b = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    assert given["relative_error"](a, b) == reference.relative_error(a, b)
    assert given["relative_error"](0.0, 0.0) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_given_init_rnn_is_the_references(given, seed):
    rng = np.random.default_rng(seed)
    n_x, n_h, n_y = (int(v) for v in rng.integers(1, 9, size=3))
    radius = float(rng.uniform(0.1, 3.0))
    ours = given["init_rnn"](n_x, n_h, n_y, seed=seed, spectral_radius=radius)
    theirs = reference.init_rnn(n_x, n_h, n_y, seed=seed, spectral_radius=radius)
    assert list(ours) == list(theirs)
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key])
    default = given["init_rnn"](2, 16, 2)
    np.testing.assert_array_equal(default["W_hh"], reference.init_rnn(2, 16, 2)["W_hh"])


@pytest.mark.parametrize("seed", range(6))
def test_given_cost_prediction_and_state_norms_are_the_references(given, seed):
    rng = np.random.default_rng(10 + seed)
    loss = sorted(reference.LOSSES)[seed % 3]
    X, Y, h0, params = random_case(rng, loss)
    assert given["sequence_cost"](X, Y, h0, params, loss) == pytest.approx(
        reference.sequence_cost(X, Y, h0, params, loss), rel=1e-12
    )
    np.testing.assert_array_equal(
        given["predict_sequence"](X, h0, params), reference.predict_sequence(X, h0, params)
    )
    _, caches = reference.rnn_forward(X, h0, params)
    dh_last = rng.normal(size=h0.shape)
    for these in (caches, [tuple(cache) for cache in caches]):  # a plain 5-tuple works too
        np.testing.assert_allclose(
            given["state_gradient_norms"](these, dh_last),
            reference.state_gradient_norms(caches, dh_last),
            rtol=1e-12,
        )


def test_no_answer_is_in_the_notebook():
    """No two consecutive lines of a reference answer appear in the notebook (as I4 reads it),
    given cells included."""
    from backprop_autograder.assemble import reference_body

    text = "\n".join(line.strip() for cell in read().cells for line in cell.source.splitlines())
    for name in EXERCISES:
        body = [
            line.strip()
            for line in reference_body(getattr(reference, name))
            if line.strip() and not line.strip().startswith("#")
        ]
        for a, b in itertools.pairwise(body):
            assert f"{a}\n{b}" not in text, (name, a, b)


# -- the solved notebook trains outside grading --------------------------------------------


@pytest.mark.slow
def test_solved_notebook_adds_unseen_sums_within_seconds(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = solved(read(), reference)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={}).execute()
    printed = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out.get("evalue")
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
    found = re.search(
        r"(\d+) steps in ([0-9.]+) s: ([0-9.]+)% of 1,000 unseen 8-bit sums right, "
        r"([0-9.]+)% of 1,000 20-bit sums right",
        printed,
    )
    assert found, "the training cell should report its steps, time and both accuracies"
    steps, seconds, accuracy_8 = int(found[1]), float(found[2]), float(found[3])
    assert steps == 400 and seconds < 5 and accuracy_8 >= 99
    assert "✔ bptt: all" in printed and "✘" not in printed
