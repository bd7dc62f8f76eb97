"""The visible checks and the hidden checks' replay, without nbgrader.

Fast, in-process: the reference answers must pass every check quietly; each
known mistake must fail its own exercise's checks, with the mistake named,
and nobody else's.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from backprop_autograder import scoring
from backprop_autograder.assemble import KERNEL_KEYS, hidden_checks
from backprop_autograder.inprocess import exercises, student_namespace
from backprop_autograder.lessons import LESSONS
from backprop_autograder.misconceptions import MISCONCEPTIONS, Misconception
from backprop_course import grading
from backprop_course.checking import MISTAKES, CheckFailed, compare
from backprop_course.protocol import decode, encode, pack, unpack
from backprop_course.structures import LayerCache

SEED = 11


ALL = [(lesson, name) for lesson in LESSONS for name in exercises(lesson)]
IDS = [f"{lesson.number}-{name}" for lesson, name in ALL]


def run_hidden(namespace: dict, name: str, lesson) -> scoring.Verdict:
    """The hidden checks as graded: results from the student's function, judged apart.

    Raises CheckFailed with the verdict's lines if any hidden check failed.
    """
    hidden = hidden_checks(name, lesson.hidden(), SEED)
    bundle = grading.collect_results(namespace[name], hidden.payload)
    sent = json.loads(json.dumps(bundle))  # as the display message carries it
    verdict = scoring.judge(hidden.answers, sent, "no results")
    if verdict.passed != verdict.total or not verdict.ran:
        raise CheckFailed("\n".join(verdict.lines))
    return verdict


def run_checks(namespace: dict, name: str, lesson) -> None:
    """The test cell: the visible check, then the hidden one."""
    exec(f"check.{name}({name})", namespace)
    run_hidden(namespace, name, lesson)


@pytest.mark.parametrize(("lesson", "name"), ALL, ids=IDS)
def test_reference_answers_pass_quietly(lesson, name, capsys):
    run_checks(student_namespace(lesson), name, lesson)
    out, err = capsys.readouterr()
    assert err == ""
    assert all(line.startswith("✔") for line in out.splitlines()), out
    assert 1 <= len(out.splitlines()) <= 2


@pytest.mark.parametrize(("lesson", "name"), ALL, ids=IDS)
def test_an_unwritten_exercise_says_so(lesson, name):
    stub = f"def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
    namespace = student_namespace(lesson, stub)
    with pytest.raises(CheckFailed, match="not written yet"):
        exec(f"check.{name}({name})", namespace)
    with pytest.raises(CheckFailed, match="not written yet"):
        run_hidden(namespace, name, lesson)


def _lesson(topic):
    return next(lesson for lesson in LESSONS if lesson.topic == topic)


@pytest.mark.parametrize("case", MISCONCEPTIONS, ids=[m.id for m in MISCONCEPTIONS])
def test_a_known_mistake_is_named_by_the_visible_check(case: Misconception):
    lesson = _lesson(case.topic)
    namespace = student_namespace(lesson, case.source)
    with pytest.raises(CheckFailed) as failure:
        exec(f"check.{case.exercise}({case.exercise})", namespace)
    assert MISTAKES[case.mistake] in str(failure.value)


@pytest.mark.parametrize("case", MISCONCEPTIONS, ids=[m.id for m in MISCONCEPTIONS])
def test_a_known_mistake_fails_the_hidden_check_too(case: Misconception):
    lesson = _lesson(case.topic)
    namespace = student_namespace(lesson, case.source)
    with pytest.raises(CheckFailed):
        run_hidden(namespace, case.exercise, lesson)


@pytest.mark.parametrize("case", MISCONCEPTIONS, ids=[m.id for m in MISCONCEPTIONS])
def test_a_known_mistake_costs_no_other_exercise(case: Misconception):
    lesson = _lesson(case.topic)
    namespace = student_namespace(lesson, case.source)
    for name in exercises(lesson):
        if name != case.exercise:
            run_checks(namespace, name, lesson)


def test_harmless_overflow_warnings_cost_nothing(capsys):
    lesson = _lesson("forward_pass")
    naive = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
    run_checks(student_namespace(lesson, naive), "sigmoid", lesson)
    assert capsys.readouterr().err == ""


def test_an_exception_in_student_code_is_reported_with_its_message():
    lesson = _lesson("forward_pass")
    broken = "def relu_prime(z):\n    return (z > 0) + undefined_name\n"
    with pytest.raises(CheckFailed, match="NameError: name 'undefined_name'"):
        exec("check.relu_prime(relu_prime)", student_namespace(lesson, broken))


def test_equivalent_answers_pass():
    lesson = _lesson("forward_pass")
    other_ways = (
        "def sigmoid(z):\n    return 0.5 * (1 + np.tanh(z / 2))\n"
        "def softmax(z):\n"
        "    return np.exp(z - np.log(np.sum(np.exp(z - z.max(0)), 0)) - z.max(0))\n"
        "def relu_prime(z):\n    return np.where(z > 0, 1.0, 0.0)\n"
        "def dense_forward(W, b, a_prev):\n"
        "    return np.einsum('ij,jm->im', W, a_prev) + b, (a_prev, W)\n"
        "def half_squared_error(a, y):\n    return 0.5 * np.sum((a - y) ** 2) / a.shape[1]\n"
    )
    namespace = student_namespace(lesson, other_ways)
    for name in ("sigmoid", "softmax", "relu_prime", "dense_forward", "half_squared_error"):
        run_checks(namespace, name, lesson)


def test_a_micrograd_style_backward_breaks_the_doubling_rule():
    """micrograd's backward passes node.grad on, with what earlier calls left there: right
    once on zero gradients, wrong on a second call, which must exactly double every gradient
    (the rule lesson 02 states before the exercise). Its recursive topological order is right."""
    lesson = _lesson("chain_rule")
    micrograd_style = (
        "def backward(root):\n"
        "    root.grad = 1.0\n"
        "    for node in reversed(topological_order(root)):\n"
        "        for parent, local in zip(node.parents, node.local_grads):\n"
        "            parent.grad += node.grad * local\n"
        "def topological_order(root):\n"
        "    order, seen = [], set()\n"
        "    def visit(node):\n"
        "        if id(node) not in seen:\n"
        "            seen.add(id(node))\n"
        "            for parent in node.parents:\n"
        "                visit(parent)\n"
        "            order.append(node)\n"
        "    visit(root)\n"
        "    return order\n"
    )
    namespace = student_namespace(lesson, micrograd_style)
    run_checks(namespace, "topological_order", lesson)
    with pytest.raises(CheckFailed) as failure:
        exec("check.backward(backward)", namespace)
    assert "should add" in str(failure.value)
    assert MISTAKES["backward_not_additive"] in str(failure.value)
    with pytest.raises(CheckFailed, match="a second call adds the same again"):
        run_hidden(namespace, "backward", lesson)


# -- the comparison and the encoding ------------------------------------------------


def test_failure_names_shapes_worst_element_and_index():
    expected = np.arange(6.0).reshape(2, 3)
    got = expected.copy()
    got[1, 2] = 9.5
    with pytest.raises(CheckFailed) as failure:
        compare(got, expected, what="z")
    message = str(failure.value)
    assert "(2, 3)" in message and "(1, 2)" in message
    assert "expected 5" in message and "got 9.5" in message


def test_shape_mismatch_names_both_shapes_and_broadcasting():
    with pytest.raises(CheckFailed) as failure:
        compare(np.ones((3, 3)), np.ones((3, 1)), what="z")
    message = str(failure.value)
    assert "(3, 1)" in message and "(3, 3)" in message
    assert MISTAKES["broadcast_n_n"] in message


def test_encoding_round_trips_exactly():
    rng = np.random.default_rng(0)
    value = {
        "a": rng.normal(size=(3, 2)),
        "f32": rng.normal(size=(2,)).astype(np.float32),
        "pair": (1.5, [2, "x", None]),
        "cache": LayerCache(rng.normal(size=(2, 1)), np.eye(2), np.zeros((2, 1)), 1.0, "relu"),
        "extreme": np.array([np.inf, -np.inf, 1e-310]),
    }
    back = decode(unpack(pack([encode(value)]))[0])
    compare(back, value, what="decoded", rtol=0, atol=0)
    assert back["f32"].dtype == np.float32
    assert back["cache"]._fields == LayerCache._fields


def test_hidden_payload_holds_inputs_only():
    """What enters the kernel: no reference code, no expected values, and small."""
    for lesson, name in ALL:
        hidden = hidden_checks(name, lesson.hidden(), SEED)
        assert "backprop_reference" not in hidden.payload
        assert len(hidden.payload) < 20_000, f"{name}: {len(hidden.payload)} characters"
        for case in unpack(hidden.payload):
            assert set(case) <= set(KERNEL_KEYS), name  # such as "calls": backward twice
            assert not set(case) & {"expected", "variants", "what"}, name
        assert hidden.answers["count"] == len(unpack(hidden.payload)), name


def test_every_mistake_has_a_clear_message():
    for key, text in MISTAKES.items():
        assert re.match(r"^[^:]+: .{20,}", text), key


# -- a function that changes its inputs ----------------------------------------------------


def doubles_everything_it_is_given(params, layers):
    params["W"] *= 2  # in place: the caller's array
    params["b"] = np.zeros(1)  # replaced
    params["extra"] = 1
    layers[0] += 1
    layers.append(np.ones(2))
    raise_after = params.get("raise_after")
    if raise_after:
        raise ValueError("and then it failed")


@pytest.mark.parametrize("raising", [False, True], ids=["returns", "raises"])
def test_a_function_that_changes_its_inputs_leaves_the_checks_data_as_they_were(raising):
    """The checks pass their own constants to students' functions: a function that changes
    them fails its check, and the next checks still see the constants unchanged."""
    from backprop_course.checking import call

    W, b, first = np.arange(4.0).reshape(2, 2), np.ones(1), np.zeros(3)
    params = {"W": W, "b": b, "raise_after": raising}
    layers = [first]
    with pytest.raises(CheckFailed, match="raised ValueError" if raising else "in place"):
        call(doubles_everything_it_is_given, params, layers)
    assert params["W"] is W and np.array_equal(W, np.arange(4.0).reshape(2, 2))
    assert np.array_equal(params["b"], np.ones(1)) and sorted(params) == ["W", "b", "raise_after"]
    assert len(layers) == 1 and layers[0] is first and np.array_equal(first, np.zeros(3))
