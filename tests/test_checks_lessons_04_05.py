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
from backprop_autograder.misconceptions import MISCONCEPTIONS
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
    ("05", "sgd",  # the penalty's gradient over the batch size: right when one batch is all
     _changed("05", "sgd", "weight_decay / N", "weight_decay / batch_size")),
    ("05", "sgd",  # a new generator every epoch: the same order every epoch
     _changed("05", "sgd", "order = rng.permutation(N)",
              "order = np.random.default_rng(seed).permutation(N)")),
    ("05", "sgd",  # batch costs averaged without weighting the smaller last batch
     _changed("05", "sgd", "total_cost / N", "total_cost / -(-N // batch_size)")
     .replace("total_cost += cost * len(batch)", "total_cost += cost")),
    ("04", "dense_backward",  # db is dz itself: right values, one array (BP3 folded in here)
     "def dense_backward(dz, cache):\n    a_prev, W = cache\n"
     "    return W.T @ dz, dz @ a_prev.T, dz\n"),
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


LESSON_05_MISCONCEPTIONS = [case for case in MISCONCEPTIONS if case.topic == "mini_batch"]
ONE_EXAMPLE_LAYER = """
def dense_backward(dz, cache):
    a_prev, W = cache
    return W.T @ dz, dz @ a_prev.T, np.array(dz, copy=True)
"""


@pytest.mark.parametrize("case", LESSON_05_MISCONCEPTIONS, ids=lambda case: case.id)
def test_lesson_05_misconceptions_are_named_and_lose_points_under_every_seed(case):
    """Lesson 05's known wrong answers (the weight decay's among them): named visibly, short
    of full marks under every seed, and no other exercise loses anything."""
    the_lesson = lesson("05")
    namespace = student_namespace(the_lesson, case.source)
    failure = visible_failure(namespace, case.exercise)
    assert failure is not None and MISTAKES[case.mistake] in str(failure)
    for seed in SEEDS:
        checks = checks_for(the_lesson, case.exercise, seed)
        verdict = hidden_verdict(namespace, case.exercise, checks)
        assert verdict.passed < verdict.total, f"seed {seed} gives {case.id} full marks"
    for other in exercises(the_lesson):
        if other != case.exercise:
            verdict = hidden_verdict(namespace, other, checks_for(the_lesson, other, DEFAULT_SEED))
            assert verdict.passed == verdict.total, other


def test_lesson_05_demonstration_names_a_batch_layer_without_the_mean(capsys):
    """backprop_batch is given code; check.mean_of_examples shows what its layer does, never
    raising: ✔ with the reference, the missing 1/m named with lesson 04's one-example layer
    or with a batch_weight_gradient that sums."""
    the_lesson = lesson("05")
    right = student_namespace(the_lesson)
    right["check"].mean_of_examples(right["backprop_batch"])
    assert capsys.readouterr().out.startswith("✔")
    exec(ONE_EXAMPLE_LAYER, right)  # as notebook 05's given cell has it: plain, any m
    one_example_layer = right["dense_backward"]
    summing = student_namespace(
        the_lesson, "def batch_weight_gradient(Delta, A_prev):\n    return Delta @ A_prev.T\n"
    )
    for namespace, layer in ((right, one_example_layer), (summing, None)):
        namespace["check"].mean_of_examples(namespace["backprop_batch"], layer=layer)
        printed = capsys.readouterr().out
        assert printed.startswith("✘") and MISTAKES["missing_1_over_m"] in printed


def test_a_wrong_earlier_exercise_costs_backprop_nothing_visible_or_hidden():
    """The network checks answer backprop's calls by differences, not by the student's code."""
    the_lesson = lesson("04")
    for name, wrong in (
        ("activation_backward", "def activation_backward(da, z, activation):\n    return da"),
        ("dense_backward", "def dense_backward(dz, cache):\n    a, W = cache\n"
                           "    return W @ a, dz @ a.T, dz.copy()"),
        ("output_error", "def output_error(a_L, y, z_L, activation, loss):\n    return a_L - y"),
    ):  # fmt: skip
        namespace = student_namespace(the_lesson, wrong)
        assert visible_failure(namespace, name) is not None
        assert visible_failure(namespace, "backprop") is None, name
        verdict = hidden_verdict(namespace, "backprop", checks_for(the_lesson, "backprop", 0))
        assert verdict.passed == verdict.total, name


def test_the_gradient_check_needs_a_right_relative_error_only_in_its_own_exercise():
    the_lesson = lesson("04")
    wrong = "def relative_error(a, b, eps=1e-12):\n    return float(np.linalg.norm(a - b))"
    namespace = student_namespace(the_lesson, wrong)
    assert visible_failure(namespace, "relative_error") is not None
    assert visible_failure(namespace, "gradient_check") is None
    for seed in (0, DEFAULT_SEED):
        checks = checks_for(the_lesson, "gradient_check", seed)
        verdict = hidden_verdict(namespace, "gradient_check", checks)
        assert verdict.passed == verdict.total
