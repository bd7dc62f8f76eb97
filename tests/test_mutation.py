"""Mutation testing: the catalogue, the verdicts, and a fixed sample of the full run.

``make mutation`` runs every mutant of every exercise under 100 seeds; here a
fixed sample (every 6th mutant of each exercise, seeds 0-9) must leave no
survivor, and the verdicts themselves are shown able to fail.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from backprop_autograder.cases import call_case, columns
from backprop_autograder.hidden import matrix_form as hidden_matrix_form
from backprop_autograder.inprocess import exercises
from backprop_autograder.lessons import LESSONS, lesson
from backprop_autograder.mutation import run, verdicts
from backprop_autograder.mutation.catalogue import Mutant, diff, mutants, notebook_source
from backprop_autograder.mutation.wide import WIDE
from backprop_reference import matrix_form as ref

pytestmark = pytest.mark.mutation

CATALOGUE = {"sign", "matmul", "transpose", "axis", "keepdims", "index", "drop", "sum_mean",
             "assign", "swap", "sibling", "input", "constant", "compare", "statement"}  # fmt: skip


@pytest.fixture(scope="module")
def everything() -> list[tuple]:
    return run.all_mutants(LESSONS)


def test_every_operator_of_the_catalogue_makes_mutants(everything):
    assert {mutant.operator for _, mutant in everything} == CATALOGUE


def test_every_exercise_has_mutants_and_wide_inputs(everything):
    mutated = {(the_lesson.name, mutant.exercise) for the_lesson, mutant in everything}
    for the_lesson in LESSONS:
        for name in exercises(the_lesson):
            assert (the_lesson.name, name) in mutated
            assert name in WIDE, f"{name} has no wide inputs for the equivalence oracle"


def test_each_mutant_is_valid_python_with_one_change(everything):
    for the_lesson, mutant in everything:
        ast.parse(mutant.source)
        reference = notebook_source(getattr(the_lesson.reference(), mutant.exercise))
        changed = [line for line in diff(reference, mutant.source).splitlines()
                   if line.startswith("+")]  # fmt: skip
        assert 1 <= len(changed) <= 3, mutant.id


def test_siblings_pair_a_function_with_its_derivative():
    table = run.siblings(lesson("01"))
    assert "sigmoid_prime" in table["sigmoid"] and "relu" in table["relu_prime"]
    assert "DERIVATIVES" in table.get("ACTIVATIONS", [])


def _mutant(topic: str, name: str, operator: str, change: str) -> Mutant:
    the_lesson = lesson(topic)
    found = [m for m in mutants(getattr(the_lesson.reference(), name), run.siblings(the_lesson))
             if m.operator == operator and change in m.change]  # fmt: skip
    assert found, f"no {operator} mutant of {name} changing {change!r}"
    return found[0]


def test_an_equivalent_mutant_is_listed_not_counted():
    mutant = _mutant("01", "half_squared_error", "swap", "y - a")
    outcome = verdicts.judge(lesson("01"), mutant, range(2))
    assert outcome.equivalent and not outcome.survived


def test_a_caught_mutant_is_caught_by_every_verdict():
    mutant = _mutant("01", "dense_forward", "matmul", "W * a_prev")
    outcome = verdicts.judge(lesson("01"), mutant, range(3))
    assert not outcome.equivalent
    assert outcome.hidden_caught and outcome.visible_caught and not outcome.others_losing_points
    assert not outcome.survived


def test_a_degenerate_hidden_check_leaves_a_survivor(monkeypatch):
    """The verdict can fail: with only one-unit columns, a transposed aᵀ looks right."""

    def one_unit_only(rng: np.random.Generator) -> list[dict]:
        return [call_case(ref.weight_gradient, columns(rng, 1, 1), columns(rng, 1, 1))]

    monkeypatch.setattr(hidden_matrix_form, "weight_gradient", one_unit_only)
    verdicts.cached_checks.cache_clear()
    try:
        mutant = _mutant("04", "weight_gradient", "transpose", "a_prev.T")
        outcome = verdicts.judge(lesson("04"), mutant, range(3))
    finally:
        verdicts.cached_checks.cache_clear()
    assert outcome.surviving_seeds == [0, 1, 2] and outcome.survived


@pytest.mark.slow
def test_the_sample_leaves_no_survivor(capsys):
    # One process: forking inside pytest (threads may be running) is not safe everywhere.
    code = run.main(["--sample", "--jobs", "1", "--report", "build/mutation/sample.json"])
    out = capsys.readouterr().out
    assert code == 0, out
    totals = out.strip().splitlines()[-1]
    assert '"survivors": 0' in totals, out
