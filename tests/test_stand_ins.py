"""Stand-ins reveal nothing: a recorded result is handed out only to the call that produced it.

While a check runs an exercise, the earlier exercises it calls are stand-ins
that answer the reference's calls (``backprop_course.stand_ins``), each call
sealed under its arguments (``backprop_course.sealed``). Here, for every
exercise whose hidden or visible checks use stand-ins:

- the right answer still gets every stand-in's answer, also when it computes
  their arguments in another valid order;
- a copier (tests/harvest.py) that digs in the stand-ins' attributes and
  closures, in everything the garbage collector tracks and in the payload
  on the calling frames, and hands in what it finds instead of computing,
  fails the hidden checks and the visible check; the known exploits score 0;
- a sealed entry opens to its own arguments only.

Fast and in-process: the kernel's half of the hidden checks runs here, with
the grader's answers kept on disk meanwhile (the kernel never holds them).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import inspect
import io
import json
from collections.abc import Iterator
from pathlib import Path

import harvest
import numpy as np
import pytest
from test_checks import run_checks, student_namespace

from backprop_autograder import scoring
from backprop_autograder.assemble import hidden_checks
from backprop_autograder.inprocess import exercises
from backprop_autograder.lessons import LESSONS, Lesson, lesson
from backprop_course import checking, grading, sealed
from backprop_course.checking import CheckFailed
from backprop_course.protocol import encode, pack, unpack
from backprop_course.replay import build_graph
from backprop_course.stand_ins import Recorded, answers, seal_call, stand_in

SEED = 11


def _hidden(name: str, the_lesson: Lesson):
    return hidden_checks(name, the_lesson.hidden(), SEED)


@functools.cache
def hidden_stand_ins() -> list[tuple[Lesson, str]]:
    """Every exercise whose hidden cases replace earlier exercises by stand-ins."""
    return [
        (the_lesson, name)
        for the_lesson in LESSONS
        for name in exercises(the_lesson)
        if any("isolate" in case for case in unpack(_hidden(name, the_lesson).payload))
    ]


@contextlib.contextmanager
def _spying_on_isolating(used: set[str]) -> Iterator[None]:
    original = checking.Checks.isolating

    def spy(function, stand_ins):
        used.add(function.__name__)
        return original(function, stand_ins)

    checking.Checks.isolating = staticmethod(spy)
    try:
        yield
    finally:
        checking.Checks.isolating = staticmethod(original)


@functools.cache
def visible_stand_ins() -> list[tuple[Lesson, str]]:
    """Every exercise whose visible check replaces earlier exercises by stand-ins."""
    found = []
    for the_lesson in LESSONS:
        for name in exercises(the_lesson):
            namespace, used = student_namespace(the_lesson), set()
            with _spying_on_isolating(used), contextlib.redirect_stdout(io.StringIO()):
                getattr(namespace["check"], name)(namespace[name])
            if name in used:
                found.append((the_lesson, name))
    return found


def _ids(pairs: list[tuple[Lesson, str]]) -> list[str]:
    return [f"{the_lesson.number}-{name}" for the_lesson, name in pairs]


HIDDEN = hidden_stand_ins()
VISIBLE = visible_stand_ins()


def hidden_score(namespace: dict, name: str, the_lesson: Lesson, folder: Path) -> tuple[int, int]:
    """(passed, total) of the hidden checks, graded as in the pipeline.

    The grader's answers wait on disk while the kernel's half runs, as in a
    real grading, where they never enter the kernel.
    """
    payload = _payload_only(name, the_lesson, folder / "answers.json")
    with contextlib.redirect_stdout(io.StringIO()):
        bundle = grading.collect_results(namespace[name], payload)
    answers_ = json.loads((folder / "answers.json").read_text())
    verdict = scoring.judge(answers_, json.loads(json.dumps(bundle)), "no results")
    assert verdict.ran
    return verdict.passed, verdict.total


def _payload_only(name: str, the_lesson: Lesson, answers_file: Path) -> str:
    checks = _hidden(name, the_lesson)
    answers_file.write_text(json.dumps(checks.answers))
    return checks.payload


def visible_failure(namespace: dict, name: str) -> CheckFailed | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            getattr(namespace["check"], name)(namespace[name])
    except CheckFailed as failure:
        return failure
    return None


def copier(the_lesson: Lesson, name: str, sources: tuple[str, ...] = harvest.SOURCES) -> dict:
    """A notebook whose ``name`` copies what it can find instead of calling the stand-ins."""
    namespace = student_namespace(the_lesson)
    namespace.update(_harvest=harvest, _right=namespace[name], _sources=sources)
    exec(
        f"def {name}(*args, **kwargs):\n"
        "    return _harvest.copied(_right, _snapshot, globals(), args, kwargs, _sources)\n",
        namespace,
    )
    namespace["_snapshot"] = dict(namespace)
    return namespace


# -- what every exercise with stand-ins must do -----------------------------------------


def test_the_exercises_with_stand_ins_are_the_expected_ones():
    """A guard for the lists below: if it changes, look at the new exercise's stand-ins."""
    assert {name for _, name in HIDDEN} >= {
        "sigmoid_prime", "layer_forward", "forward", "backward", "backprop", "sgd",
    }  # fmt: skip
    assert {name for _, name in VISIBLE} >= {"forward", "layer_forward", "backprop", "backward"}
    lesson_04 = {"backprop", "dense_backward", "gradient_check"}  # their earlier exercises
    assert lesson_04 <= {name for _, name in HIDDEN} & {name for _, name in VISIBLE}


@pytest.mark.parametrize(("the_lesson", "name"), HIDDEN, ids=_ids(HIDDEN))
def test_the_right_answer_gets_every_recorded_answer(the_lesson, name, tmp_path):
    namespace = student_namespace(the_lesson)
    passed, total = hidden_score(namespace, name, the_lesson, tmp_path)
    assert passed == total
    assert visible_failure(namespace, name) is None


@pytest.mark.parametrize(("the_lesson", "name"), HIDDEN, ids=_ids(HIDDEN))
def test_copying_from_the_stand_ins_scores_nothing_in_the_hidden_checks(the_lesson, name, tmp_path):
    passed, total = hidden_score(copier(the_lesson, name), name, the_lesson, tmp_path)
    assert total > 0
    assert passed == 0


@pytest.mark.parametrize(("the_lesson", "name"), VISIBLE, ids=_ids(VISIBLE))
def test_copying_from_the_stand_ins_fails_the_visible_check(the_lesson, name):
    failure = visible_failure(copier(the_lesson, name), name)
    assert failure is not None
    assert "against centred differences of the cost" not in str(failure)  # not a later part


@pytest.mark.parametrize("source", harvest.SOURCES)
def test_the_copier_finds_a_plain_recording_wherever_it_is(source):
    """The copier is no straw man: a recording kept in plain form, as stand-ins once
    kept them, is found through each of the four ways in, and answered from."""
    args, result = [np.arange(3.0), "relu"], (np.ones((2, 1)), {"W1": np.eye(2)})

    class PlainStandIn:  # (a): the recording as an attribute
        def __init__(self) -> None:
            self.calls = [(args, result)]

    # (d): a payload on a calling frame; (c): a pair no stand-in leads to; (b): a closure.
    recording = [[encode(args), encode(result)]]
    payload = pack([{"args": [], "isolate": {"layer_forward": recording}}])  # noqa: F841
    kept_for_gc = [list(args), result]  # noqa: F841
    closure = {"calls": [(args, result)]}
    in_closure = lambda *given: closure  # noqa: E731
    stand_ins = {"frames": [], "gc": [], "standins": [PlainStandIn(), in_closure]}[source]
    found = harvest.Harvest(stand_ins, sources=(source,)).answer(list(args), result, True)
    assert found is not harvest.MISSING
    assert harvest._close(list(found), list(result))


# -- the known exploits ---------------------------------------------------------------------

FORWARD_EXPLOIT = """
def forward(x, params, activations):
    # No forward pass: what the layer_forward stand-in holds, in the order it holds it.
    results = [result for _, result in layer_forward.calls]
    return results[-1][0], [cache for _, cache in results]
"""

BACKPROP_EXPLOIT = """
def backprop(x, y, params, activations, loss):
    # No BP1, no BP2: the recorded results of the layers' backward passes (dW, db),
    # matched to the parameters by shape.
    a_L, _ = forward(x, params, activations)
    grads = {}
    for key, value in params.items():
        part = 1 if key.startswith("W") else 2
        grads[key] = next(r[part] for _, r in dense_backward.calls
                          if np.shape(r[part]) == np.shape(value))
    return grads, LOSSES[loss].cost(a_L, y)
"""


@pytest.mark.parametrize(
    ("topic", "name", "source"),
    [("forward_pass", "forward", FORWARD_EXPLOIT), ("matrix_form", "backprop", BACKPROP_EXPLOIT)],
    ids=["forward", "backprop"],
)
def test_the_known_exploits_score_nothing(topic, name, source, tmp_path):
    the_lesson = lesson(topic)
    namespace = student_namespace(the_lesson, source)
    assert hidden_score(namespace, name, the_lesson, tmp_path)[0] == 0
    assert visible_failure(namespace, name) is not None


# -- right answers that compute the arguments in another order -------------------------


def test_arguments_computed_in_another_order_open_the_same_entry():
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(300):
        W, d = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
        entry = sealed.seal([W.T @ d, "tanh"], b"the answer")
        others = [
            (d.T @ W).T,
            W[::-1].T @ d[::-1],  # the same products, summed the other way round
            sum(np.outer(W[i], d[i]) for i in range(5)),
        ]
        differ += sum(not np.array_equal(other, W.T @ d) for other in others)
        for other in others:
            assert list(sealed.opened([entry], [other, "tanh"])) == [b"the answer"]
    assert differ > 300  # they do round differently


def test_minus_zero_and_tiny_leftovers_count_as_zero():
    entry = sealed.seal([np.array([[0.0, 1.5], [0.0, -2.0]])], b"x")
    assert list(sealed.opened([entry], [np.array([[-0.0, 1.5], [3e-17, -2.0]])])) == [b"x"]


REORDERED = {
    "matrix_form": """
from backprop_reference.forward_pass import ACTIVATIONS


def forward(x, params, activations):
    a, caches = x, []
    for l, activation in enumerate(activations, start=1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        z = (a.T @ W.T).T + b
        caches.append(LayerCache(a, W, z, ACTIVATIONS[activation](z), activation))
        a = caches[-1].a
    return a, caches
""",
}


@pytest.mark.parametrize(
    ("topic", "name"),
    [("matrix_form", "backprop")],
    ids=["backprop"],
)
def test_an_answer_computing_in_another_order_gets_the_stand_ins_answers(topic, name):
    the_lesson = lesson(topic)
    run_checks(student_namespace(the_lesson, REORDERED[topic]), name, the_lesson)


def test_sgd_updating_in_another_order_gets_the_stand_ins_answers():
    from backprop_reference import mini_batch

    source = inspect.getsource(inspect.unwrap(mini_batch.sgd))
    source = source[source.index("def sgd") :]
    lines = (
        "velocity[key] = momentum * velocity[key] - eta * g",
        "params[key] = params[key] + velocity[key]",
    )
    assert all(line in source for line in lines)
    source = source.replace(
        lines[0], "params[key] = params[key] - eta * g + momentum * velocity[key]"
    ).replace(lines[1], "velocity[key] = momentum * velocity[key] - eta * g")
    the_lesson = lesson("mini_batch")
    run_checks(student_namespace(the_lesson, source), "sgd", the_lesson)


# -- a sealed entry opens to its own arguments only --------------------------------------

ARGS = [np.array([[0.25, -1.5], [3.0, 0.125]]), {"W1": np.eye(2), "b1": np.ones((2, 1))}, "relu"]


@pytest.mark.parametrize(
    "wrong",
    [
        [ARGS[0] * (1 + 1e-6), *ARGS[1:]],
        [ARGS[0] + np.array([[0.0, 0.0], [0.0, 1e-5]]), *ARGS[1:]],
        [ARGS[0].T, *ARGS[1:]],
        [ARGS[0].reshape(1, 4), *ARGS[1:]],
        [ARGS[0], {"W1": np.eye(2), "b2": np.ones((2, 1))}, "relu"],
        [ARGS[0], {"W1": np.eye(2)}, "relu"],
        [ARGS[0], ARGS[1], "tanh"],
        [ARGS[0], ARGS[1]],
        [*ARGS, None],
        [],
        [object()],
    ],
)
def test_a_sealed_entry_does_not_open_to_other_arguments(wrong):
    entry = seal_call(ARGS, np.full((2, 2), 7.0))
    assert list(sealed.opened([entry], wrong)) == []
    own = lambda *given: "own"  # noqa: E731
    assert Recorded("f", [entry], own)(*wrong) == "own"
    right = [ARGS[0].copy(), {"b1": np.ones((2, 1)), "W1": np.eye(2)}, "relu"]  # keys in any order
    assert np.array_equal(Recorded("f", [entry], own)(*right), np.full((2, 2), 7.0))


def test_a_stand_in_holds_nothing_but_sealed_entries_and_answers_afresh():
    result = (np.arange(4.0).reshape(2, 2), [np.ones(2)])
    made = answers("f", [(ARGS, result)])(None)
    assert set(vars(made)) == {"name", "__name__", "entries", "own", "graph", "signature"}
    assert [type(entry) for entry in made.entries] == [str]  # base64 of ciphertext
    held = base64.b64decode(made.entries[0])
    for array in (ARGS[0], ARGS[1]["W1"], result[0], result[1][0]):
        assert array.tobytes() not in held and encode(array)["ndarray"].encode() not in held
    first, second = made(*ARGS), made(*ARGS)
    assert first[0] is not second[0] and np.array_equal(first[0], result[0])


def test_the_payload_holds_recordings_only_sealed():
    """No encoded array, or any plain value, of a recording enters a test cell."""

    def arrays(value: object) -> int:
        if isinstance(value, dict):
            return ("ndarray" in value) + sum(arrays(v) for v in value.values())
        if isinstance(value, list):
            return sum(arrays(v) for v in value)
        return 0

    for the_lesson, name in HIDDEN:
        for case in unpack(_hidden(name, the_lesson).payload):
            for recording in case.get("isolate", {}).values():
                assert set(recording) in ({"sealed"}, {"table"}), name
                table = recording.get("table", {"": recording.get("sealed")})
                for entries in table.values():
                    assert all(isinstance(entry, str) for entry in entries), name
                assert arrays(recording) == 0


def test_backward_gets_the_order_only_from_topological_order_of_the_root():
    """Its graph is encoded in no topological order, and the recorded order opens to the
    call topological_order(root) alone."""
    the_lesson = lesson("chain_rule")
    namespace = student_namespace(the_lesson)
    Value = namespace["Value"]
    for case in unpack(_hidden("backward", the_lesson).payload):
        graph = build_graph(case["graph"], Value)
        index = {id(node): i for i, node in enumerate(graph)}
        parents_first = all(index[id(p)] < i for i, n in enumerate(graph) for p in n.parents)
        order_stand_in = stand_in(
            "topological_order", case["isolate"]["topological_order"], None, graph
        )
        order = order_stand_in(graph[-1])
        assert sorted(index[id(node)] for node in order) == list(range(len(graph)))
        position = {id(node): i for i, node in enumerate(order)}
        assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
        with pytest.raises(NameError):  # another node: the student's own (here: none)
            order_stand_in(graph[0])
        if len(graph) > 6:
            assert not parents_first
