"""Lessons 04 and 05: the wrong answers that once passed now fail everywhere.

Each answer below once passed a visible check (Mazur's all-sigmoid, square
2-2-2 network; a stand-in gradient that never changed) or some seeds of the
hidden checks. Now each fails its visible check and loses hidden points under
every seed 0-99, and costs no other exercise anything. In-process and fast.
"""

from __future__ import annotations

import functools

import pytest

from backprop_autograder.assemble import DEFAULT_SEED, hidden_checks
from backprop_autograder.inprocess import (
    exercises,
    hidden_verdict,
    student_namespace,
    visible_failure,
)
from backprop_autograder.lessons import Lesson, lesson
from backprop_autograder.mutation.catalogue import notebook_source
from backprop_course.checking import MISTAKES

SEEDS = range(100)


def _reference(topic: str, name: str) -> str:
    return notebook_source(getattr(lesson(topic).reference(), name))


def _changed(topic: str, name: str, old: str, new: str) -> str:
    source = _reference(topic, name)
    assert old in source, f"{old!r} is not in the reference {name}"
    return source.replace(old, new)


BP2_SHIFTED = "activations[l - 1])"  # the activation of layer l where layer l-1's belongs
WRONG = [
    ("04", "backprop", _changed("04", "backprop", "activations[l - 2])", BP2_SHIFTED)),
    ("05", "backprop_batch",
     _changed("05", "backprop_batch", "activations[l - 2])", BP2_SHIFTED)),
    ("05", "sgd",  # a new generator every epoch: the same order every epoch
     _changed("05", "sgd", "order = rng.permutation(m)",
              "order = np.random.default_rng(seed).permutation(m)")),
    ("05", "sgd",  # batch costs averaged without weighting the smaller last batch
     _changed("05", "sgd", "total_cost / m", "total_cost / -(-m // batch_size)")
     .replace("total_cost += cost * len(batch)", "total_cost += cost")),
    ("04", "bias_gradient", "def bias_gradient(delta):\n    return delta\n"),
    ("04", "gradient_descent_update",  # a parameter without a gradient handed back itself
     "def gradient_descent_update(params, grads, eta):\n"
     "    return {k: v - eta * grads[k] if k in grads else v for k, v in params.items()}\n"),
]  # fmt: skip
IDS = [f"{topic}-{name}-{i}" for i, (topic, name, _) in enumerate(WRONG)]


@functools.cache
def checks_for(the_lesson: Lesson, name: str, seed: int):
    return hidden_checks(name, the_lesson.hidden(), seed)


@pytest.mark.parametrize(("topic", "name", "source"), WRONG, ids=IDS)
def test_a_once_passing_answer_fails_visibly_and_under_every_seed(topic, name, source):
    the_lesson = lesson(topic)
    namespace = student_namespace(the_lesson, source)
    assert visible_failure(namespace, name) is not None
    for seed in SEEDS:
        verdict = hidden_verdict(namespace, name, checks_for(the_lesson, name, seed))
        assert verdict.passed < verdict.total, f"seed {seed} gives {name} full marks"


@pytest.mark.parametrize(("topic", "name", "source"), WRONG, ids=IDS)
def test_it_costs_no_other_exercise(topic, name, source):
    the_lesson = lesson(topic)
    namespace = student_namespace(the_lesson, source)
    for other in exercises(the_lesson):
        if other != name:
            verdict = hidden_verdict(namespace, other, checks_for(the_lesson, other, DEFAULT_SEED))
            assert verdict.passed == verdict.total, other


def test_the_visible_checks_name_the_mistake():
    same_order, alias = WRONG[2], WRONG[4]
    for topic, name, source in (same_order, alias):
        failure = visible_failure(student_namespace(lesson(topic), source), name)
        key = "same_shuffle" if name == "sgd" else "aliased_result"
        assert MISTAKES[key] in str(failure)


def test_a_wrong_earlier_exercise_costs_backprop_nothing_visible_or_hidden():
    """The network checks answer backprop's calls by differences, not by the student's code."""
    the_lesson = lesson("04")
    wrong = "def hidden_error(W_next, delta_next, z, activation):\n    return W_next.T @ delta_next"
    namespace = student_namespace(the_lesson, wrong)
    assert visible_failure(namespace, "hidden_error") is not None
    assert visible_failure(namespace, "backprop") is None
    verdict = hidden_verdict(namespace, "backprop", checks_for(the_lesson, "backprop", 0))
    assert verdict.passed == verdict.total
