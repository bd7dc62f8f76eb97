"""Lesson 06's visible checks: right answers pass quietly, wrong ones fail and are named.

In-process and fast. The checks' own oracles (a small recurrent network, its
costs and centred differences, written in ``backprop_course.checks.through_time``)
are compared here with the reference library, which the checks themselves
never import; the stand-ins are shown to compute each answer from the call's
own arguments and to hold nothing a copier could hand in.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io

import harvest
import numpy as np
import pytest

from backprop_autograder.inprocess import student_namespace, visible_failure
from backprop_autograder.lessons import lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS
from backprop_autograder.mutation.catalogue import notebook_source
from backprop_course import checking
from backprop_course.checking import MISTAKES, CheckFailed, compare
from backprop_course.checks import recurrent as rnn
from backprop_course.checks import through_time as check
from backprop_course.structures import StepCache
from backprop_reference import through_time as ref

LESSON = lesson("06")
EXERCISES = ["rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward", "bptt",
             "truncated_bptt", "clip_by_global_norm"]  # fmt: skip
WITH_STAND_INS = ["rnn_forward", "rnn_backward", "bptt", "truncated_bptt"]
LESSON_06 = [case for case in MISCONCEPTIONS if case.topic == "through_time"]


def _changed(name: str, *changes: tuple[str, str]) -> str:
    source = notebook_source(getattr(ref, name))
    for old, new in changes:
        assert source.count(old) == 1, f"{old!r} is not once in the reference {name}"
        source = source.replace(old, new)
    return source


# -- the reference passes, quietly -----------------------------------------------------------


@pytest.mark.parametrize("name", EXERCISES)
def test_the_reference_passes_every_visible_check_quietly(name, capsys):
    namespace = student_namespace(LESSON)
    exec(f"check.{name}({name})", namespace)
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"✔ {name}: ") and len(out.splitlines()) == 1, out


def test_the_check_module_never_imports_the_reference():
    source = inspect.getsource(check)
    assert "backprop_reference" not in source
    assert "solutions" not in source


# -- wrong answers fail, named ----------------------------------------------------------------


@pytest.mark.parametrize("case", LESSON_06, ids=lambda case: case.id)
def test_each_misconception_is_named_and_costs_no_other_visible_check(case):
    namespace = student_namespace(LESSON, case.source)
    failure = visible_failure(namespace, case.exercise)
    assert isinstance(failure, CheckFailed), failure
    assert MISTAKES[case.mistake] in str(failure)
    for other in EXERCISES:
        if other != case.exercise:
            assert visible_failure(namespace, other) is None, other


def test_every_named_mistake_of_the_lesson_has_a_misconception():
    named = {case.mistake for case in LESSON_06}
    assert named >= {
        "not_accumulated_over_time", "h_for_h_prev", "missing_dh_next", "tanh_prime_of_h",
        "elementwise_clip", "per_array_clip", "clip_without_sqrt", "clip_scales_up",
        "missing_1_over_m", "doubled_1_over_m", "time_batch_swapped", "state_not_carried",
        "state_not_carried_forward", "averaged_over_time", "chunk_off_by_one",
    }  # fmt: skip


WRONG = [  # (exercise, source, the mistake named, or None)
    ("rnn_step_forward",  # the recurrent weights transposed
     _changed("rnn_step_forward", ("params['W_hh'] @ h_prev", "params['W_hh'].T @ h_prev")),
     "transposed"),
    ("rnn_step_forward",  # tanh left out: the state is the pre-activation
     _changed("rnn_step_forward", ("h = np.tanh(", "h = (")), "missing_activation"),
    ("rnn_step_forward",  # the cache in another order
     _changed("rnn_step_forward", ("StepCache(x, h_prev, h,", "StepCache(x, h, h_prev,")), None),
    ("rnn_forward",  # h0 kept in H
     _changed("rnn_forward", ("states, caches, h = ([], [], h0)",
                              "states, caches, h = ([h0], [], h0)")), None),
    ("rnn_step_backward",  # tanh' forgotten
     _changed("rnn_step_backward", ("delta = dh * (1.0 - h ** 2)", "delta = dh")),
     "missing_sigma_prime"),
    ("rnn_step_backward",  # dh_prev through W_hh, not its transpose
     _changed("rnn_step_backward", ("W_hh.T @ delta, grads)", "W_hh @ delta, grads)")),
     "transposed"),
    ("rnn_step_backward",  # the bias summed over the units
     _changed("rnn_step_backward", ("delta.sum(axis=1, keepdims=True)",
                                    "delta.sum(axis=0, keepdims=True)")), None),
    ("rnn_step_backward",  # the errors divided by m: dx and dh_prev too
     _changed("rnn_step_backward", ("delta = dh * (1.0 - h ** 2)",
                                    "delta = dh * (1.0 - h ** 2) / m"),
              ("'W_xh': delta @ x.T / m", "'W_xh': delta @ x.T"),
              ("'W_hh': delta @ h_prev.T / m", "'W_hh': delta @ h_prev.T"),
              ("'b_h': delta.sum(axis=1, keepdims=True) / m",
               "'b_h': delta.sum(axis=1, keepdims=True)")), "extra_1_over_m"),
    ("rnn_backward",  # dX stacked with time last
     _changed("rnn_backward", ("return (dX, dh_next, grads)",
                               "return (np.moveaxis(dX, 0, -1), dh_next, grads)")),
     "time_batch_swapped"),
    ("rnn_backward",  # the steps taken forwards
     _changed("rnn_backward", ("reversed(range(len(caches)))", "range(len(caches))")), None),
    ("bptt",  # the loss's arguments swapped (the cross-entropy is not symmetric)
     _changed("bptt", ("LOSSES[loss].cost(y, Y[t])", "LOSSES[loss].cost(Y[t], y)")), None),
    ("bptt",  # the first state returned for the last
     _changed("bptt", ("return (grads, cost, H[-1])", "return (grads, cost, H[0])")), None),
    ("bptt",  # the output layer's bias gradient without keepdims: (n_y,) broadcasts
     _changed("bptt", ("dy.sum(axis=1, keepdims=True) / m", "dy.sum(axis=1) / m")), None),
    ("truncated_bptt",  # the last, shorter chunk left out
     _changed("truncated_bptt", ("range(0, X.shape[0], k)", "range(0, X.shape[0] - k + 1, k)")),
     None),
    ("truncated_bptt",  # the cost of the last chunk only
     _changed("truncated_bptt", ("cost += chunk_cost", "cost = chunk_cost")),
     "not_accumulated_over_time"),
    ("truncated_bptt",  # h0 returned as the last state
     _changed("truncated_bptt", ("return (grads, cost, h)", "return (grads, cost, h0)")), None),
    ("clip_by_global_norm",  # the norm after clipping returned
     _changed("clip_by_global_norm", ("for key, g in grads.items()}, norm)",
                                      "for key, g in grads.items()}, min(norm, max_norm))")),
     None),
    ("clip_by_global_norm",  # the given dict changed and handed back
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))\n"
     "    if norm > max_norm:\n"
     "        for key in grads:\n"
     "            grads[key] = grads[key] * (max_norm / norm)\n"
     "    return grads, norm\n", "mutated_input"),
    ("clip_by_global_norm",  # the same dict handed back when nothing is clipped
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))\n"
     "    if norm <= max_norm:\n"
     "        return grads, norm\n"
     "    return {k: g * (max_norm / norm) for k, g in grads.items()}, norm\n", None),
    ("clip_by_global_norm",  # the mean of the squares, not their sum
     _changed("clip_by_global_norm", ("np.sum(g ** 2)", "np.mean(g ** 2)")), None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "source", "mistake"), WRONG,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(WRONG)])  # fmt: skip
def test_more_wrong_answers_fail_their_visible_check_only(name, source, mistake):
    namespace = student_namespace(LESSON, source)
    failure = visible_failure(namespace, name)
    assert isinstance(failure, CheckFailed), failure
    if mistake is not None:
        assert MISTAKES[mistake] in str(failure)
    for other in EXERCISES:
        if other != name:
            assert visible_failure(namespace, other) is None, other


def test_a_student_who_changes_the_inputs_cannot_change_the_checks():
    """The checks hand out copies of their worked numbers: changing them in place fails
    that student's check, and the next run still has the right numbers."""
    kept = copy.deepcopy((check.CLIP_GRADS, check.HAND_X, check.HAND_H_PREV, check.HAND_PARAMS))
    changing = (
        "def clip_by_global_norm(grads, max_norm):\n"
        "    for g in grads.values():\n"
        "        g *= 0.0\n"
        "    return dict(grads), 0.0\n"
        "def rnn_step_forward(x, h_prev, params):\n"
        "    x += 1.0\n"
        "    h_prev *= 2.0\n"
        "    params['W_hh'] += 1.0\n"
        "    h = np.tanh(params['W_hh'] @ h_prev + params['W_xh'] @ x + params['b_h'])\n"
        "    return h, (x, h_prev, h, params['W_xh'], params['W_hh'])\n"
    )
    namespace = student_namespace(LESSON, changing)
    for name in ("clip_by_global_norm", "rnn_step_forward"):
        failure = visible_failure(namespace, name)
        assert MISTAKES["mutated_input"] in str(failure)
    compare((check.CLIP_GRADS, check.HAND_X, check.HAND_H_PREV, check.HAND_PARAMS), kept,
            what="the check's numbers", rtol=0, atol=0)  # fmt: skip


EQUIVALENT = [
    ("rnn_step_forward",
     "def rnn_step_forward(x, h_prev, params):\n"
     "    z = np.einsum('ij,jm->im', params['W_xh'], x) + params['b_h']\n"
     "    h = np.tanh(z + params['W_hh'].dot(h_prev))\n"
     "    return h, (x, h_prev, h, params['W_xh'], params['W_hh'])\n"),
    ("rnn_step_backward",
     "def rnn_step_backward(dh, cache):\n"
     "    m = dh.shape[1]\n"
     "    delta = dh - dh * cache.h * cache.h\n"
     "    grads = {'b_h': delta.mean(axis=1)[:, None],\n"
     "             'W_hh': sum(np.outer(delta[:, i], cache.h_prev[:, i]) for i in range(m)) / m,\n"
     "             'W_xh': (delta / m) @ cache.x.T}\n"
     "    return cache.W_xh.T @ delta, cache.W_hh.T @ delta, grads\n"),
    ("rnn_backward",
     "def rnn_backward(dH, caches):\n"
     "    dxs, grads, dh = [], None, 0.0\n"
     "    for t in range(len(caches) - 1, -1, -1):\n"
     "        dx, dh, step = rnn_step_backward(dH[t] + dh, caches[t])\n"
     "        dxs.insert(0, dx)\n"
     "        grads = step if grads is None else {k: grads[k] + step[k] for k in step}\n"
     "    return np.array(dxs), dh, grads\n"),
    ("truncated_bptt",
     "def truncated_bptt(X, Y, h0, params, loss, k):\n"
     "    parts, h = [], h0\n"
     "    for chunk_x, chunk_y in zip(np.array_split(X, range(k, len(X), k)),\n"
     "                                np.array_split(Y, range(k, len(Y), k))):\n"
     "        g, c, h = bptt(chunk_x, chunk_y, h, params, loss)\n"
     "        parts.append((g, c))\n"
     "    grads = {key: sum(g[key] for g, _ in parts) for key in params}\n"
     "    return grads, sum(c for _, c in parts), h\n"),
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))\n"
     "    scale = min(1.0, max_norm / norm)\n"
     "    return {k: scale * g for k, g in grads.items()}, norm\n"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "source"), EQUIVALENT, ids=[n for n, _ in EQUIVALENT])
def test_other_right_ways_pass(name, source):
    assert visible_failure(student_namespace(LESSON, source), name) is None


def test_a_stack_on_another_axis_is_named_by_its_shape():
    expected = np.zeros((4, 5, 2))  # (T, n_h, m)
    for got in (np.zeros((5, 2, 4)), np.zeros((5, 4, 2)), np.zeros((2, 5, 4))):
        assert checking.shape_mistake(got, expected) == "time_batch_swapped"
    assert checking.shape_mistake(np.zeros((4, 2, 5)), expected) is None  # time still first
    assert checking.shape_mistake(np.zeros((2, 3)), np.zeros((3, 2))) == "transposed"
    with pytest.raises(CheckFailed, match="time and batch axes swapped"):
        compare(np.zeros((2, 5, 4)), expected, what="H")


# -- the stand-ins: computed from their call's arguments, holding nothing ----------------------


def _random_network(seed: int, T: int, n_x: int, n_h: int, n_y: int, m: int):
    rng = np.random.default_rng(seed)
    params = rnn.random_params(rng, n_x, n_h, n_y)
    X, h0 = rnn.random_sequence(rng, T, n_x, n_h, m)
    return rng, params, X, h0


@pytest.mark.parametrize("caller", WITH_STAND_INS)
def test_the_stand_ins_answer_any_call_from_its_own_arguments(caller):
    """Calls no check makes (new sizes and values) get the reference's answers: nothing is
    looked up, so nothing beyond the call's own answer can come out."""
    made = {name: make(None) for name, make in rnn.stand_ins(caller).items()}
    rng, params, X, h0 = _random_network(99, 3, 2, 5, 4, 7)
    caches = ref.rnn_forward(X, h0, params)[1]
    dH = rng.normal(size=(3, 5, 7))
    Y = rnn.random_targets(rng, "softmax_cross_entropy", 3, 4, 7)
    calls = {
        "rnn_step_forward": (X[1], h0, params),
        "rnn_forward": (X, h0, params),
        "rnn_step_backward": (dH[2], caches[2]),
        "rnn_backward": (dH, caches),
        "bptt": (X, Y, h0, params, "softmax_cross_entropy"),
    }
    for name, stand_in in made.items():
        compare(stand_in(*calls[name]), getattr(ref, name)(*calls[name]), what=name)


@pytest.mark.parametrize("caller", WITH_STAND_INS)
def test_the_stand_ins_hold_no_values(caller):
    stand_ins = [make(None) for make in rnn.stand_ins(caller).values()]
    found = harvest.Harvest(stand_ins, ("standins",))
    assert found.pairs == []
    values = [v for v in found.found if isinstance(v, (np.ndarray, float, list, tuple, dict))]
    assert [v for v in values if not (isinstance(v, dict) and not v)] == []  # ({}: __dict__)


@pytest.mark.parametrize("caller", WITH_STAND_INS)
def test_the_stand_ins_refuse_a_call_in_the_wrong_form(caller):
    made = {name: make(None) for name, make in rnn.stand_ins(caller).items()}
    _, params, X, h0 = _random_network(5, 2, 3, 4, 2, 5)
    wrong = {
        "rnn_step_forward": (h0, X[0], params),
        "rnn_forward": (X, params, h0),
        "rnn_step_backward": (StepCache(X[0], h0, h0, params["W_xh"], params["W_hh"]), h0),
        "rnn_backward": (ref.rnn_forward(X, h0, params)[1], np.zeros((2, 4, 5))),
        "bptt": (X[:0], X[:0], h0, params, "half_squared_error"),
    }
    for name, stand_in in made.items():
        with pytest.raises(CheckFailed, match=f"{caller} called {name}"):
            stand_in(*wrong[name])


def _copier(name: str) -> dict:
    """A notebook whose ``name`` digs in the stand-ins instead of calling them."""
    namespace = student_namespace(LESSON)
    namespace.update(_harvest=harvest, _right=namespace[name], _sources=harvest.SOURCES)
    exec(
        f"def {name}(*args, **kwargs):\n"
        "    return _harvest.copied(_right, _snapshot, globals(), args, kwargs, _sources)\n",
        namespace,
    )
    namespace["_snapshot"] = dict(namespace)
    return namespace


@pytest.mark.parametrize("name", WITH_STAND_INS)
def test_copying_from_the_stand_ins_fails_the_visible_check(name):
    with contextlib.redirect_stdout(io.StringIO()):
        failure = visible_failure(_copier(name), name)
    assert isinstance(failure, CheckFailed)


# -- the checks' own oracles agree with the reference -------------------------------------------


def test_the_step_worked_by_hand():
    params = check.HAND_PARAMS
    z = params["W_hh"] @ check.HAND_H_PREV + params["W_xh"] @ check.HAND_X + params["b_h"]
    np.testing.assert_array_equal(z, check.HAND_Z)
    h, _ = ref.rnn_step_forward(check.HAND_X, check.HAND_H_PREV, params)
    np.testing.assert_allclose(h, np.tanh(check.HAND_Z), rtol=1e-15)


SIZES = [  # (T, n_x, n_h, n_y, m)
    (1, 2, 3, 4, 1), (4, 3, 5, 2, 6), (6, 1, 2, 3, 2), (3, 4, 4, 4, 4), (5, 2, 6, 1, 3),
]  # fmt: skip


@pytest.mark.parametrize("loss", sorted(ref.LOSSES))
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_the_own_network_agrees_with_the_reference(sizes, loss):
    T, _, _, n_y, m = sizes
    seed = sum(sizes) + len(loss)
    rng, params, X, h0 = _random_network(seed, *sizes)
    Y = rnn.random_targets(rng, loss, T, n_y, m)
    y, target = rng.normal(size=(n_y, m)), Y[0]
    assert rnn.LOSSES[loss][0](y, target) == pytest.approx(ref.LOSSES[loss].cost(y, target))
    np.testing.assert_allclose(
        rnn.LOSSES[loss][1](y, target),
        ref.LOSSES[loss].gradient(y, target),
        rtol=1e-12,
        atol=1e-14,
    )
    H, caches = ref.rnn_forward(X, h0, params)
    compare(rnn.step_caches(X, h0, params), caches, what="caches", rtol=1e-13, atol=1e-15)
    compare(np.stack(rnn.all_states(X, h0, params)), H, what="H", rtol=1e-13, atol=1e-15)
    assert rnn.sequence_cost(X, Y, h0, params, loss) == pytest.approx(
        ref.sequence_cost(X, Y, h0, params, loss), rel=1e-13
    )
    dH = rng.normal(size=H.shape)
    compare(
        rnn.step_backward(dH[0], caches[0]),
        ref.rnn_step_backward(dH[0], caches[0]),
        what="step",
        rtol=1e-12,
        atol=1e-14,
    )
    compare(
        rnn.backward(dH, caches)[:3],
        ref.rnn_backward(dH, caches),
        what="backward",
        rtol=1e-12,
        atol=1e-14,
    )
    parts = rnn.bptt_parts(X, Y, h0, params, loss)
    compare(
        (parts["grads"], parts["cost"], parts["h_T"]),
        ref.bptt(X, Y, h0, params, loss),
        what="bptt",
        rtol=1e-12,
        atol=1e-14,
    )
    for k in (1, 2, 3, T, T + 2):
        compare(rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k)),
                ref.truncated_bptt(X, Y, h0, params, loss, k), what=f"truncated k={k}",
                rtol=1e-12, atol=1e-14)  # fmt: skip


@pytest.mark.parametrize("sizes", SIZES[:3], ids=str)
def test_the_centred_differences_agree_with_the_reference(sizes):
    T, _, n_h, n_y, m = sizes
    rng, params, X, h0 = _random_network(7 + T, *sizes)
    Y = rnn.random_targets(rng, "half_squared_error", T, n_y, m)
    grads, _, _ = ref.bptt(X, Y, h0, params, "half_squared_error")
    compare(
        check._gradients(X, Y, h0, params, "half_squared_error"), grads, what="bptt", **check.AGREE
    )
    dH = rng.normal(size=(T, n_h, m))
    dX, dh0, recurrent = ref.rnn_backward(dH, ref.rnn_forward(X, h0, params)[1])
    compare(
        check._backward_expected(params, X, h0, dH), (dX, dh0, recurrent), what="rnn", **check.AGREE
    )
    k = 2
    truncated, _, _ = ref.truncated_bptt(X, Y, h0, params, "half_squared_error", k)
    compare(
        check._truncated_expected(X, Y, h0, params, "half_squared_error", k),
        truncated,
        what="truncated",
        **check.AGREE,
    )


def test_the_step_oracle_agrees_with_the_reference():
    rng = np.random.default_rng(3)
    params, x, h_prev, cache, dh = check._step_case(rng, 3, 4, 5)
    compare(
        check._step_expected(params, x, h_prev, dh),
        ref.rnn_step_backward(dh, cache),
        what="step",
        **check.AGREE,
    )


def test_the_clipping_oracle_agrees_with_the_reference():
    rng = np.random.default_rng(8)
    grads = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=4), "c": rng.normal(size=(2, 1))}
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    for max_norm in (0.5 * norm, norm, 2 * norm):
        clipped, got = ref.clip_by_global_norm(grads, max_norm)
        assert got == pytest.approx(norm)
        scale = max_norm / max(norm, max_norm)
        compare(clipped, {k: g * scale for k, g in grads.items()}, what="clipped")
    clipped, norm = ref.clip_by_global_norm(check.CLIP_GRADS, 5.0)
    assert norm == check.CLIP_NORM
    compare(clipped, {k: g / 2 for k, g in check.CLIP_GRADS.items()}, what="halved", rtol=0)
