"""Lessons 01 to 03: the checks leave no wrong answer a share of points by accident.

The wrong answers below are mutants that once survived (``make mutation``):
each passed the hidden checks under some seeds, or the visible check, because
a case happened to be square, to have one row, one layer or one example, or
held no value on the wrong side of a threshold. Now every hidden case is
drawn non-degenerate by construction, so each such answer fails its visible
check and loses every hidden case under every seed.
In-process and fast.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from backprop_autograder.assemble import hidden_checks
from backprop_autograder.inprocess import (
    exercises,
    hidden_verdict,
    student_namespace,
    visible_failure,
)
from backprop_autograder.lessons import Lesson, lesson
from backprop_autograder.scoring import Verdict
from backprop_course.checking import MISTAKES

SEEDS = range(20)
ALL_SEEDS = range(100)
LESSONS = [lesson("01"), lesson("02"), lesson("03")]

INIT_PARAMS_1_MINUS_L = """
def init_params(sizes, seed=0, scheme="lecun", dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        n_l, n_prev = int(sizes[l]), int(sizes[1 - l])
        variance = {"lecun": 1 / n_prev, "glorot": 2 / (n_prev + n_l), "he": 2 / n_prev}[scheme]
        W = rng.standard_normal((n_l, n_prev)) * np.sqrt(variance)
        params[f"W{l}"] = W.astype(dtype)
        params[f"b{l}"] = np.zeros((n_l, 1), dtype=dtype)
    return params
"""

BACKWARD_ASSIGNS = """
def backward(root):
    order = topological_order(root)
    fresh = {id(node): 0.0 for node in order}
    fresh[id(root)] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads):
            fresh[id(parent)] += fresh[id(node)] * local
    for node in order:
        node.grad = fresh[id(node)]
"""

MICROGRAD_BACKWARD = """
def backward(root):
    root.grad += 1.0
    for node in reversed(topological_order(root)):
        for parent, local in zip(node.parents, node.local_grads):
            parent.grad += local * node.grad
"""

# (lesson, exercise, a wrong answer, whether it loses every hidden case)
ONCE_SURVIVORS = [
    ("01", "half_squared_error",
     "def half_squared_error(a, y):\n"
     "    return float(np.mean(0.5 * np.sum((a - y) ** 2, axis=1)))\n", True),
    ("01", "half_squared_error",
     "def half_squared_error(a, y):\n"
     "    return float(np.mean(0.5 * np.mean((a - y) ** 2, axis=0)))\n", True),
    ("01", "parameter_count",
     "def parameter_count(sizes):\n"
     "    return sum(sizes[l] * (sizes[1] + 1) for l in range(1, len(sizes)))\n", True),
    ("01", "parameter_count",
     "def parameter_count(sizes):\n"
     "    return sum(sizes[l] * (sizes[1 - l] + 1) for l in range(1, len(sizes)))\n", True),
    ("01", "dense_forward",  # CS231n's cache: (x, w, b)
     "def dense_forward(W, b, a_prev):\n    return W @ a_prev + b, (a_prev, W, b)\n", True),
    ("01", "init_params", INIT_PARAMS_1_MINUS_L, True),
    ("01", "sigmoid_prime",
     "def sigmoid_prime(z):\n    s = sigmoid(z)\n    return (s * (1.0 - s)).T\n", True),
    ("01", "softmax",  # not shifted: right until exp overflows
     "def softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e, axis=0, keepdims=True)\n", True),
    ("01", "relu_prime", "def relu_prime(z):\n    return (z >= 0).astype(float)\n", True),
    ("01", "relu_prime", "def relu_prime(z):\n    return (z > 1).astype(float)\n", True),
    ("02", "backward", BACKWARD_ASSIGNS, True),
    ("02", "backward", MICROGRAD_BACKWARD, True),
    ("02", "tanh_rule",
     "def tanh_rule(x):\n    t = math.tanh(x)\n    return t, (1.0 + t * t,)\n", True),
    ("02", "pow_rule", "def pow_rule(x, c):\n    return x**c, (c * x,)\n", True),
    ("03", "linear_jacobian_weights",
     "def linear_jacobian_weights(W, a):\n"
     "    return np.kron(np.eye(W.shape[1]), a.T)\n", True),
    ("03", "linear_jacobian_weights",
     "def linear_jacobian_weights(W, a):\n"
     "    return np.kron(a.T, np.eye(W.shape[0]))\n", True),
    ("03", "linear_vjp_input", "def linear_vjp_input(v, W):\n    return W.T * v\n", True),
    ("03", "linear_vjp_input", "def linear_vjp_input(v, W):\n    return (W.T @ v).T\n", True),
    ("03", "linear_vjp_weights", "def linear_vjp_weights(v, a):\n    return v * a.T\n", True),
    ("03", "numerical_jacobian",  # built row by row: the transposed Jacobian
     "def numerical_jacobian(f, x, h=1e-6):\n"
     "    x = np.array(x, dtype=np.float64)\n"
     "    rows = []\n"
     "    for j in range(x.size):\n"
     "        step = np.zeros(x.size)\n"
     "        step[j] = h\n"
     "        step = step.reshape(x.shape)\n"
     "        rows.append((np.ravel(f(x + step)) - np.ravel(f(x - step))) / (2 * h))\n"
     "    return np.array(rows)\n", True),
    ("03", "count_multiply_adds",
     "def count_multiply_adds(n_out, n_in, m=1):\n"
     "    return MultiplyAdds(m * n_out * n_out * n_in, n_out * n_in)\n", True),
    ("03", "count_multiply_adds",  # read as count_multiply_adds(n_in, n_out)
     "def count_multiply_adds(n_out, n_in, m=1):\n"
     "    return MultiplyAdds(m * n_in * n_in * n_out, m * n_out * n_in)\n", True),
    ("03", "softmax_cross_entropy_gradient",  # the targets summed over the wrong axis
     "def softmax_cross_entropy_gradient(z, y):\n"
     "    return softmax(z) * y.sum(axis=1, keepdims=True) - y\n", True),
    ("03", "softmax_cross_entropy_gradient",  # normalised along the rows
     "def softmax_cross_entropy_gradient(z, y):\n    return softmax(z.T).T - y\n", True),
]  # fmt: skip

# Right on paper, wrong in floating point: each loses the case of large logits only, named.
CROSS_ENTROPY_NUMERICS = [
    ("def softmax_cross_entropy_gradient(z, y):\n"
     "    e = np.exp(z)\n"
     "    return e / e.sum(axis=0, keepdims=True) - y\n", "unstable_softmax"),
    ("def softmax_cross_entropy_gradient(z, y):\n"
     "    e = np.exp(z - z.max())\n"
     "    return e / e.sum(axis=0, keepdims=True) - y\n", "unstable_softmax"),
    ("def softmax_cross_entropy_gradient(z, y):\n"
     "    return softmax_vjp(-y / softmax(z), z)\n", "divided_by_s"),
]  # fmt: skip

ONE_SIDED = [
    ("02", "numerical_derivative",
     "def numerical_derivative(f, x, h=1e-6):\n    return (f(x + h) - f(x)) / h\n"),
    ("03", "numerical_jacobian",
     "def numerical_jacobian(f, x, h=1e-6):\n"
     "    x = np.array(x, dtype=np.float64)\n"
     "    f_x = np.ravel(f(x))\n"
     "    columns = []\n"
     "    for j in range(x.size):\n"
     "        step = np.zeros(x.size)\n"
     "        step[j] = h\n"
     "        columns.append((np.ravel(f(x + step.reshape(x.shape))) - f_x) / h)\n"
     "    return np.stack(columns, axis=1)\n"),
]  # fmt: skip


@functools.cache
def cached_checks(the_lesson: Lesson, name: str, seed: int):
    return hidden_checks(name, the_lesson.hidden(), seed)


def verdict(namespace: dict, the_lesson: Lesson, name: str, seed: int) -> Verdict:
    return hidden_verdict(namespace, name, cached_checks(the_lesson, name, seed))


@pytest.mark.parametrize(
    ("number", "name", "source", "loses_every_case"),
    ONCE_SURVIVORS,
    ids=[f"{number}-{name}-{i}" for i, (number, name, _, _) in enumerate(ONCE_SURVIVORS)],
)
def test_a_once_surviving_mistake_fails_everywhere(number, name, source, loses_every_case):
    the_lesson = lesson(number)
    namespace = student_namespace(the_lesson, source)
    assert visible_failure(namespace, name) is not None, "the visible check passes it"
    for seed in SEEDS:
        found = verdict(namespace, the_lesson, name, seed)
        assert found.ran and found.passed < found.total, f"full hidden marks under seed {seed}"
        if loses_every_case:
            assert found.passed == 0, f"seed {seed}: {found.passed} hidden cases passed"


@pytest.mark.parametrize(("number", "name", "source"), ONE_SIDED, ids=["02", "03"])
def test_every_case_tells_a_one_sided_difference_from_a_centred_one(number, name, source):
    the_lesson = lesson(number)
    namespace = student_namespace(the_lesson, source)
    failure = visible_failure(namespace, name)
    assert failure is not None and MISTAKES["one_sided_difference"] in str(failure)
    for seed in ALL_SEEDS:
        found = verdict(namespace, the_lesson, name, seed)
        assert found.passed == 0, f"seed {seed}: {found.passed} cases passed"
        assert all("one-sided difference" in line for line in found.lines), found.lines


@pytest.mark.parametrize(
    ("source", "mistake"), CROSS_ENTROPY_NUMERICS, ids=["exp", "batch_max", "minus_y_over_s"]
)
def test_a_cross_entropy_gradient_that_fails_in_floating_point_is_told_so(source, mistake):
    the_lesson = lesson("03")
    namespace = student_namespace(the_lesson, source)
    failure = visible_failure(namespace, "softmax_cross_entropy_gradient")
    assert failure is not None and MISTAKES[mistake] in str(failure)
    title = MISTAKES[mistake].split(":")[0]
    for seed in ALL_SEEDS:
        found = verdict(namespace, the_lesson, "softmax_cross_entropy_gradient", seed)
        assert found.passed == found.total - 1, f"seed {seed}: {found.lines}"
        assert len(found.lines) == 1 and title in found.lines[0], found.lines


@pytest.mark.parametrize("source", [BACKWARD_ASSIGNS, MICROGRAD_BACKWARD], ids=["=", "micrograd"])
def test_a_backward_that_does_not_add_is_told_so(source):
    the_lesson = lesson("02")
    namespace = student_namespace(the_lesson, source)
    message = str(visible_failure(namespace, "backward"))
    assert MISTAKES["backward_not_additive"] in message
    assert "should add 6 and 1 to them" in message
    for seed in SEEDS:
        lines = verdict(namespace, the_lesson, "backward", seed).lines
        assert len(lines) == 3 and all("does not add its gradients" in line for line in lines)
    for other in exercises(the_lesson):  # one mistake costs one exercise
        if other != "backward":
            assert visible_failure(namespace, other) is None, other
            found = verdict(namespace, the_lesson, other, 0)
            assert found.passed == found.total, other


def test_forward_is_checked_on_each_example_of_a_batch_alone():
    """The lesson promises it: a batch gives, column by column, what each example gives alone."""
    spying = (
        "SEEN = []\n"
        "def forward(x, params, activations):\n"
        "    SEEN.append(np.array(x))\n"
        "    a, caches = x, []\n"
        "    for l, activation in enumerate(activations, start=1):\n"
        "        a, cache = layer_forward(params[f'W{l}'], params[f'b{l}'], a, activation)\n"
        "        caches.append(cache)\n"
        "    return a, caches\n"
    )
    namespace = student_namespace(lesson("01"), spying)
    assert visible_failure(namespace, "forward") is None
    seen = namespace["SEEN"]

    def each_alone(batch: np.ndarray) -> bool:
        columns = [batch[:, [i]] for i in range(batch.shape[1])]
        return all(any(np.array_equal(c, x) for x in seen) for c in columns)

    assert any(x.shape[1] > 1 and each_alone(x) for x in seen)


@pytest.mark.parametrize("the_lesson", LESSONS, ids=[x.name for x in LESSONS])
def test_the_reference_passes_every_check_under_every_seed(the_lesson):
    namespace = student_namespace(the_lesson)
    for name in exercises(the_lesson):
        assert visible_failure(namespace, name) is None, name
        for seed in ALL_SEEDS:
            found = verdict(namespace, the_lesson, name, seed)
            assert found.ran and found.passed == found.total, (name, seed, found.lines)
