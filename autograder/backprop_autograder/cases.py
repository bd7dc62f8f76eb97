"""Making hidden-check cases at build time: call the reference, record, encode.

A case is a dict that :func:`backprop_course.replay.observe_case` understands:
the encoded arguments (:mod:`backprop_course.protocol`), the expected result,
the named wrong variants, and the recorded calls of the dependencies to isolate
(:mod:`backprop_course.stand_ins`), each sealed here, as it is recorded
(:mod:`backprop_course.sealed`).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from backprop_autograder.judges import replayed_check_key
from backprop_course.callables import make_callable
from backprop_course.checking import ATOL, RTOL, describe, difference
from backprop_course.protocol import encode
from backprop_course.stand_ins import seal_call


@dataclass
class Judged:
    """Hidden cases judged by a function instead of compared with expected values.

    For checks of properties, where many answers are right (any valid
    topological order; any random initialisation with the right spread).
    ``cases`` are the inputs the kernel runs; ``judge`` names the grader's judge
    by its key in :data:`backprop_autograder.judges.JUDGES` (``{"name": ...}``) and
    carries what it needs.
    """

    cases: list[dict[str, Any]]
    judge: dict[str, Any]


def replaying_check(
    check: Callable[..., None], reference: Callable[..., Any], **kwargs: Any
) -> Judged:
    """Judge by the visible check itself, run by the grader on the student's results.

    The check runs here on the reference and its calls are recorded; the
    kernel makes the same calls to the student's function, and the grader
    runs the check again, answering each call with the student's result
    (:func:`backprop_autograder.judges.by_replaying_check`). The check must be
    one of :data:`backprop_autograder.judges.REPLAYED_CHECKS`.
    """
    calls: list[list[Any]] = []

    def recording(*args: Any) -> Any:
        calls.append(encode(list(args)))
        return reference(*copy.deepcopy(args))

    recording.__name__ = reference.__name__
    with contextlib.redirect_stdout(io.StringIO()):  # the check's ✔ line
        check(recording, **kwargs)
    return Judged(
        cases=[{"args": args} for args in calls],
        judge={
            "name": "replay_check",
            "check": replayed_check_key(check),
            "kwargs": encode(kwargs),
            "calls": calls,
            "exercise": reference.__name__,
        },
    )


class Recorder:
    """Wraps a reference function and records each call, sealed under its arguments."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.signature = inspect.signature(function)
        self.calls: list[str] = []  # sealed entries, never the plain call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        before = copy.deepcopy(list(bound.args))
        result = self.function(*args, **kwargs)
        self.calls.append(seal_call(before, result))
        return result


@contextlib.contextmanager
def recording(module: ModuleType, names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Record the calls made to ``module``'s functions (or tables of functions) ``names``.

    Yields the recordings, filled in when the block ends: ``{"sealed": [entries]}``
    per function, ``{"table": {key: [entries]}}`` per table (as
    :func:`backprop_course.stand_ins.stand_in` takes them).
    """
    saved = {name: getattr(module, name) for name in names}
    recorders: dict[str, Any] = {}
    for name, original in saved.items():
        if isinstance(original, dict):
            recorders[name] = {key: Recorder(fn) for key, fn in original.items()}
        else:
            recorders[name] = Recorder(original)
        setattr(module, name, recorders[name])
    records: dict[str, Any] = {}
    try:
        yield records
    finally:
        for name, original in saved.items():
            setattr(module, name, original)
        for name, recorder in recorders.items():
            if isinstance(recorder, dict):
                records[name] = {"table": {k: r.calls for k, r in recorder.items() if r.calls}}
            else:
                records[name] = {"sealed": recorder.calls}


def call_case(
    function: Callable[..., Any],
    *args: Any,
    kwargs: dict[str, Any] | None = None,
    isolate: Sequence[str] = (),
    variants: dict[str, Any] | list[tuple[str, Any]] | None = None,
    what: str | None = None,
    **tolerances: float,
) -> dict[str, Any]:
    """Run the reference on ``args`` and record everything a hidden check needs."""
    module = inspect.getmodule(inspect.unwrap(function))
    with recording(module, isolate) as records:
        expected = function(*copy.deepcopy(args), **copy.deepcopy(kwargs or {}))
    case = {"args": [encode(a) for a in args], "expected": encode(expected)}
    if kwargs:
        case["kwargs"] = encode(kwargs)
    if isolate:
        case["isolate"] = records
    if variants:
        pairs = variants.items() if isinstance(variants, dict) else variants
        case["variants"] = [[key, encode(value)] for key, value in pairs]
    if what:
        case["what"] = what
    case.update(tolerances)
    return case


def unambiguous(variants: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The named variants no variant of another name could be taken for.

    On some inputs two mistakes give the same answer (with T = 1, dividing by T is not
    dividing at all; where every logit overflows, both unshifted softmaxes are nan
    throughout): such a case cannot tell them apart, so it names neither.
    """

    def alike(one: Any, other: Any) -> bool:
        return (difference(one, other, "", RTOL, ATOL) is None
                or difference(other, one, "", RTOL, ATOL) is None)  # fmt: skip

    return [
        (key, value)
        for key, value in variants
        if not any(other != key and alike(value, same) for other, same in variants)
    ]


def columns(rng: np.random.Generator, rows: int, m: int, scale: float = 1.0) -> np.ndarray:
    """A random (rows, m) batch: examples as columns."""
    return rng.normal(0.0, scale, (rows, m))


def random_sizes(rng: np.random.Generator, layers: int, low: int = 1, high: int = 6) -> list[int]:
    """Random layer sizes [n_0, ..., n_L]."""
    return [int(n) for n in rng.integers(low, high + 1, size=layers + 1)]


def random_params(rng: np.random.Generator, sizes: Sequence[int]) -> dict[str, np.ndarray]:
    """Random W^l (n_l, n_{l-1}) and b^l (n_l, 1), biases not zero (so they matter)."""
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(0.0, 1.0, (sizes[l], sizes[l - 1]))
        params[f"b{l}"] = rng.normal(0.0, 1.0, (sizes[l], 1))
    return params


class Encoded:
    """A function argument that the reference can call and a case can carry.

    Made from data, ``Encoded(callable="cube_prime")`` or
    ``Encoded(callable="polynomial", coefficients=[1, 0, 2])``, by the same
    :func:`backprop_course.callables.make_callable` the grading kernel uses.
    """

    def __init__(self, **spec: Any) -> None:
        self.spec = spec
        self.function = make_callable(spec)
        self.description = describe(self.function)  # what messages show for it

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)


def graph_spec(order: Sequence[Any]) -> dict[str, Any]:
    """Encode a graph of Values in the given order, the root last.

    Each node becomes [data, parent indices, local derivatives, label, grad].
    The order need not be topological: see :func:`shuffled`.
    """
    index = {id(node): i for i, node in enumerate(order)}
    return {
        "nodes": [
            [
                node.data,
                [index[id(p)] for p in node.parents],
                list(node.local_grads),
                node.label,
                node.grad,
            ]
            for node in order
        ],
        "ops": {str(i): node.op for i, node in enumerate(order) if node.op},
    }


def shuffled(order: Sequence[Any], rng: np.random.Generator) -> list[Any]:
    """The nodes in a random order, the root still last.

    A graph encoded in topological order would hand that order (the answer of
    ``topological_order``) to anyone who reads the case, and the grading kernel
    makes its nodes in the encoded order.
    """
    *rest, root = order
    return [rest[i] for i in rng.permutation(len(rest))] + [root]
