"""The grader's half of the hidden checks, without a kernel: reading, judging, scoring.

Whatever a test cell sends is untrusted: these tests hand the scorer forged,
malformed and hostile results and check that it never crashes, never builds
anything but plain data from them, and never gives a point it should not.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from backprop_autograder import judges, scoring
from backprop_autograder.assemble import hidden_checks, source_notebook
from backprop_autograder.lessons import LESSONS, lesson
from backprop_course import grading, protocol
from backprop_course.checking import CheckFailed
from backprop_course.protocol import encode, unpack
from backprop_course.replay import encode_result

LESSON = lesson("01_forward_pass")
SEED = 5


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def hidden(name: str = "sigmoid", the_lesson=LESSON) -> scoring.Verdict:
    return hidden_checks(name, the_lesson.hidden(), SEED)


def sent(function, checks) -> dict:
    """What a kernel would send: the bundle, through JSON."""
    return json.loads(json.dumps(grading.collect_results(function, checks.payload)))


def test_right_results_get_every_case_and_wrong_ones_none():
    checks = hidden()
    right = scoring.judge(checks.answers, sent(sigmoid, checks), "")
    assert (right.passed, right.total) == (checks.answers["count"], checks.answers["count"])
    assert right.score(1.0) == 1.0

    def wrong(z):
        return np.tanh(z)

    wrong.__name__ = "sigmoid"
    verdict = scoring.judge(checks.answers, sent(wrong, checks), "")
    assert verdict.passed == 0 and verdict.score(1.0) == 0.0
    assert all(line.startswith("✘ hidden check: sigmoid(") for line in verdict.lines)


def test_the_mistakes_a_verdict_names_are_counted_as_data_and_told_as_before():
    """Each failed case that names a known mistake counts once under its key; the lines a
    student reads are the same prose as ever; a key MISTAKES lacks is never counted."""
    checks = hidden("sigmoid_prime")

    def sigmoid_prime(z):
        return z * (1 - z)  # σ' applied to a: the lesson's known mistake

    verdict = scoring.judge(checks.answers, sent(sigmoid_prime, checks), "")
    failed = verdict.total - verdict.passed
    assert failed == verdict.total > 0
    assert verdict.mistakes == {"sigma_prime_of_a": failed}
    assert verdict.record(1.0).mistakes == {"sigma_prime_of_a": failed}
    title = scoring.mistake_title("sigma_prime_of_a")
    assert all(line.startswith("✘ hidden check: sigmoid_prime(") for line in verdict.lines)
    assert all(line.endswith(f" (likely mistake: {title})") for line in verdict.lines)
    right = scoring.judge(checks.answers, sent(lambda z: sigmoid(z) * (1 - sigmoid(z)), checks), "")
    assert right.mistakes == {} and right.record(1.0).mistakes == {}
    mixed = scoring.Verdict("f")
    for mistake in ("transposed", "not_a_mistake_key", None, "transposed", "flipped_sign"):
        mixed.add(CheckFailed("wrong", mistake=mistake))
    mixed.add(None)
    assert mixed.mistakes == {"transposed": 2, "flipped_sign": 1}
    assert (mixed.passed, mixed.total) == (1, 6)


def test_failure_lines_never_show_expected_values():
    checks = hidden()

    def half_right(z):
        return sigmoid(z) + 0.5

    half_right.__name__ = "sigmoid"
    verdict = scoring.judge(checks.answers, sent(half_right, checks), "")
    text = verdict.text(1.0)
    for case in checks.answers["cases"]:
        for value in np.ravel(protocol.decode(case["expected"], trusted=True)):
            if 0.01 < value < 0.99:  # digits that could not appear by chance
                assert f"{value:.4f}" not in text


@pytest.mark.parametrize(
    "bundle, reason",
    [
        (None, "no results"),
        ({"results": "x"}, "could not be read"),
        ({"digest": "0" * 16, "results": []}, "other cases"),
        ("a string", "could not be read"),
    ],
)
def test_no_or_malformed_bundle_scores_zero_and_says_why(bundle, reason):
    checks = hidden()
    verdict = scoring.judge(checks.answers, bundle, "no results")
    assert not verdict.ran and verdict.score(1.0) == 0.0
    assert reason in verdict.lines[0] and verdict.lines[0].startswith(scoring.DID_NOT_RUN)


def test_too_few_or_too_many_results_score_zero():
    checks = hidden()
    bundle = sent(sigmoid, checks)
    for results in (bundle["results"][:-1], bundle["results"] * 2):
        verdict = scoring.judge(checks.answers, {**bundle, "results": results}, "")
        assert not verdict.ran and "results for" in verdict.lines[0]


def _array(dtype: str, shape: list, raw: bytes) -> dict:
    return {"ndarray": base64.b64encode(raw).decode(), "dtype": dtype, "shape": shape}


@pytest.mark.parametrize(
    "value",
    [
        _array("|O", [1], b"\0" * 8),  # object pointers
        _array("<U1", [1], b"a\0\0\0"),  # strings
        _array("<f8", [3], b"\0" * 8),  # data shorter than the shape
        _array("<f8", [-1], b""),
        _array("V8", [1], b"\0" * 8),
        _array("<f8", [2**32, 2**32], b""),  # its size overflows 64 bits to 0
        _array("<f8", [0, 2**63], b""),
        _array("<f8", [1] * 40, b"\0" * 8),  # more dimensions than numpy has
        {"ndarray": "not base64!", "dtype": "<f8", "shape": [1]},
        {"tuple": [1, 2], "fields": ["a", "__class__"]},
        {"tuple": [1], "fields": ["import os"]},
        {"tuple": [1, 2], "fields": ["a", "a"]},
        {"tuple": "12"},
        {"callable": "system"},  # never made into a function here
        {"dtype": "<f8"},
        {"something": 1},
        json.loads("[" * 40 + "]" * 40),  # nested deeper than any answer
    ],
)
def test_only_plain_data_is_read_from_a_result(value):
    with pytest.raises(protocol.UnreadableValue):
        protocol.decode(value)
    read = protocol.read_entry({"value": value})  # one case's result: a failure, no crash
    assert read.failed.startswith("the result could not be read")
    assert read.mistake == "uncheckable_result"


def test_only_the_builds_payloads_may_describe_functions_and_types():
    """The one decoder reads both directions; only trusted input builds more than data."""
    spec = {"callable": "polynomial", "coefficients": [1.0, 0.0, 2.0]}
    assert protocol.decode(spec, trusted=True)(3.0) == 11.0
    assert protocol.decode({"dtype": "<f4"}, trusted=True) is np.float32
    for value in (spec, {"dtype": "<f4"}, [1, {"tuple": [spec]}]):
        with pytest.raises(protocol.UnreadableValue):
            protocol.decode(value)


def test_plain_data_is_read_back_exactly():
    rng = np.random.default_rng(0)
    value = {
        "W": rng.normal(size=(3, 2)),
        "n": np.arange(4, dtype=np.int32),
        "pair": (1.5, [2, "x", None, True]),
    }
    back = protocol.decode(json.loads(json.dumps(encode(value))))
    assert np.array_equal(back["W"], value["W"]) and back["n"].dtype == np.int32
    assert back["pair"] == (1.5, [2, "x", None, True])
    assert type(back["W"]) is np.ndarray


def _with_spec():
    class Claims:
        def __init__(self):
            self.spec = {"ndarray": "", "dtype": "<f8", "shape": [0]}

        def __call__(self):
            return self

    return Claims()


def _self_containing() -> list:
    loop: list = []
    loop.append(loop)
    return loop


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)


@pytest.mark.parametrize(
    "returned",
    [
        AlwaysEqual(),
        np.array([AlwaysEqual()], dtype=object),
        np.zeros((10_000, 10_000), dtype=np.uint8),  # 100 MB: not sent
        lambda: 1,
        _with_spec(),  # would pass for an encoded argument, never for a result
        _self_containing(),
        _nested(5000),
    ],
    ids=["always-equal", "object-array", "huge-array", "function", "spec", "loop", "deep"],
)
def test_what_cannot_be_checked_fails_in_the_kernel_and_says_so(returned):
    from backprop_course.checking import CheckFailed

    with pytest.raises(CheckFailed, match="returned"):
        encode_result(returned)


def test_an_ndarray_subclass_travels_as_its_plain_data():
    """Its overridden comparisons stay behind in the kernel: the data is judged."""
    checks = hidden()

    def lying(z):
        return np.zeros_like(z).view(Liar)

    lying.__name__ = "sigmoid"
    verdict = scoring.judge(checks.answers, sent(lying, checks), "")
    assert verdict.passed == 0


def _cell(outputs: list[dict], points: float = 2.0) -> NotebookNode:
    cell = new_code_cell("check.sigmoid(sigmoid)")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "check_sigmoid", "points": points}
    cell.outputs = [NotebookNode(out) for out in outputs]
    return cell


def test_the_score_is_the_only_value_left_in_the_cell():
    """nbgrader reads a test cell's first value as its score: a forged one must go."""
    checks = hidden()
    forged = {"output_type": "execute_result", "data": {"text/plain": "2.0"}, "metadata": {}}
    error = {"output_type": "error", "ename": "X", "evalue": "y", "traceback": []}
    stderr = {"output_type": "stream", "name": "stderr", "text": "warning\n"}
    bundle = {
        "output_type": "display_data",
        "data": {protocol.RESULTS_MIME: sent(sigmoid, checks)},
        "metadata": {},
    }
    cell = _cell([forged, error, stderr, bundle])
    verdict = scoring.judge(checks.answers, scoring.find_bundle(cell), "")
    outputs = scoring.verdict_outputs(cell, verdict, 2.0)
    values = [out for out in outputs if out.output_type == "execute_result"]
    assert len(values) == 1 and values[0].data["text/plain"] == "2.0"
    assert outputs[-1] is values[0]
    assert not any(out.output_type == "error" for out in outputs)
    assert not any(protocol.RESULTS_MIME in out.get("data", {}) for out in outputs)

    no_results = _cell([forged])
    verdict = scoring.judge(checks.answers, None, scoring.why_no_results(no_results))
    outputs = scoring.verdict_outputs(no_results, verdict, 2.0)
    assert [out.data["text/plain"] for out in outputs if out.output_type == "execute_result"] == [
        "0.0"
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "no_such_judge"},
        {"name": "os:system"},
        {"name": "backprop_autograder.judges:by_replaying_check"},
        {"function": "backprop_autograder.scoring:by_replaying_check"},  # the old format
        {"name": ["replay_check"]},
        {"name": "replay_check", "check": "os:system"},
    ],
    ids=["unknown", "module-function", "import-path", "old-format", "not-a-name", "check"],
)
def test_a_judge_or_check_the_grader_does_not_have_scores_zero_and_says_so(spec):
    """The answers file names judges and checks by keys of registries in code, never an
    import path: any other name is refused with a clear line, and nothing is imported."""
    checks = hidden("init_params")
    entry = {**checks.answers, "judge": {**checks.answers["judge"], **spec}}
    if "function" in spec:
        del entry["judge"]["name"]
    verdict = scoring.judge(entry, sent(sigmoid, checks), "")
    assert not verdict.ran and verdict.score(2.0) == 0.0
    assert verdict.lines == [f"{scoring.DID_NOT_RUN}: {verdict.reason}"]
    assert "the grader does not have" in verdict.reason
    assert "rebuild the assignment" in verdict.reason
    assert verdict.record(2.0).reason == verdict.reason


def test_the_answers_name_judges_and_checks_by_key_only():
    """No import path ("module:function") in any answers file the build writes."""
    for the_lesson in LESSONS:
        _, answers = source_notebook(the_lesson, SEED)
        for entry in answers.values():
            if "judge" in entry:
                assert entry["judge"]["name"] in judges.JUDGES
                assert entry["judge"].get("check", "init_params") in judges.REPLAYED_CHECKS
                assert not any(":" in str(value) for value in entry["judge"].values()
                               if isinstance(value, str))  # fmt: skip


def test_property_checks_are_judged_by_the_visible_check_run_again():
    from backprop_reference import forward_pass as ref

    checks = hidden("init_params")
    assert "judge" in checks.answers
    right = scoring.judge(checks.answers, sent(ref.init_params, checks), "")
    assert right.passed == right.total == 1

    def no_seed(sizes, seed=0, scheme="lecun", dtype=np.float64):
        return ref.init_params(sizes, np.random.default_rng().integers(1000), scheme, dtype)

    no_seed.__name__ = "init_params"
    wrong = scoring.judge(checks.answers, sent(no_seed, checks), "")
    assert wrong.passed == 0 and "same seed" in wrong.lines[0]


def parents_first(graph: dict) -> list[int]:
    """A valid topological order of an encoded graph: parents before children, root last."""
    parents = [node[1] for node in graph["nodes"]]
    order: list[int] = []

    def place(i: int) -> None:
        if i not in order:
            for parent in parents[i]:
                place(parent)
            order.append(i)

    place(len(parents) - 1)
    return order


def test_any_valid_topological_order_passes_and_a_wrong_one_does_not():
    chain = lesson("02_chain_rule")
    checks = hidden("topological_order", chain)
    graphs = checks.answers["judge"]["graphs"]

    def bundle(orders):
        results = [{"value": encode(order)} for order in orders]
        return {"digest": checks.answers["digest"], "results": results}

    in_order = [parents_first(g) for g in graphs]
    assert scoring.judge(checks.answers, bundle(in_order), "").passed == len(graphs)
    encoded = [list(range(len(g["nodes"]))) for g in graphs]  # shuffled when encoded
    assert scoring.judge(checks.answers, bundle(encoded), "").passed == 0
    reversed_order = [order[::-1] for order in in_order]
    doubled = [order + order[-1:] for order in in_order]
    for orders in (reversed_order, doubled, [[-1, *o] for o in in_order], [[0]] * len(graphs)):
        assert scoring.judge(checks.answers, bundle(orders), "").passed == 0


@pytest.mark.parametrize("the_lesson", LESSONS, ids=[lesson.name for lesson in LESSONS])
def test_the_answers_are_never_in_the_notebook(the_lesson):
    """The source notebook (and so the kernel) carries the hidden inputs only."""
    nb, answers = source_notebook(the_lesson, SEED)
    payloads = {
        f"check_{name}": unpack(payload)
        for cell in nb.cells
        for name, payload in re.findall(
            r'_grading\.hidden_results\((\w+), "([^"]+)"\)', cell.source
        )
    }
    assert set(payloads) == set(answers)
    everything = json.dumps(list(payloads.values()))
    for grade_id, entry in answers.items():
        if "judge" in entry:  # judged cases have no expected values at all
            continue
        for case, inputs in zip(entry["cases"], payloads[grade_id], strict=True):
            found = _arrays(case["expected"]) + [
                a for _, v in case.get("variants", []) for a in _arrays(v)
            ]
            own_inputs = json.dumps(inputs)
            for data in found:
                # an answer may equal its own input (a sum over one example): not a leak
                if len(data) > 24 and data not in own_inputs:
                    assert data not in everything, grade_id


def _arrays(value) -> list[str]:
    if isinstance(value, dict) and "ndarray" in value:
        return [value["ndarray"]]
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    )
    return [a for child in children for a in _arrays(child)]
