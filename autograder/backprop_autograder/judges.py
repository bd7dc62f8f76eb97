"""Judges of hidden checks that are not compared with expected values, registered by name.

For checks of properties, where many answers are right (any valid topological
order, any random initialisation with the right spread), the build writes no
expected values: the answers file names a judge, by a key of :data:`JUDGES`,
with what it needs, and the grader calls it on the student's results. The
answers file holds names only, never code or import paths: a name the
registries below do not hold is refused (:class:`UnknownName`), and the cell
scores 0 with a line that says so (:func:`backprop_autograder.scoring.judge`).

- ``"replay_check"`` (:func:`by_replaying_check`): the exercise's visible check
  run again, by the grader, on the student's recorded results; the check is a
  key of :data:`REPLAYED_CHECKS`.
- ``"topological_order"`` (:func:`topological_orders`): any valid order passes.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from backprop_course.checking import CheckFailed, quiet
from backprop_course.checks import forward_pass as forward_pass_checks
from backprop_course.protocol import decode

Outcome = Any  # a result as plain data, or the CheckFailed that stands for a failed call
Judge = Callable[[dict[str, Any], list[Outcome]], list[CheckFailed | None]]
Registered = TypeVar("Registered")

JUDGES: dict[str, Judge] = {}
# Visible checks a judge may run again, by the exercise they check.
REPLAYED_CHECKS: dict[str, Callable[..., None]] = {
    "init_params": forward_pass_checks.init_params,
}


class UnknownName(LookupError):
    """The answers file names a judge or a check the grader does not have."""


def lookup(registry: Mapping[str, Registered], name: Any, kind: str) -> Registered:
    """``registry[name]``, or :class:`UnknownName` saying what was asked for."""
    found = registry.get(name) if isinstance(name, str) else None
    if found is None:
        raise UnknownName(
            f"the answers name a {kind} the grader does not have ({str(name)[:60]!r}); "
            "rebuild the assignment (backprop-grade build)"
        )
    return found


def judge(name: str) -> Callable[[Judge], Judge]:
    """Register a judge under ``name``, the key the answers file uses."""

    def register(function: Judge) -> Judge:
        JUDGES[name] = function
        return function

    return register


def replayed_check_key(check: Callable[..., None]) -> str:
    """The key of a visible check in :data:`REPLAYED_CHECKS` (for the build)."""
    for key, registered in REPLAYED_CHECKS.items():
        if registered is check:
            return key
    raise UnknownName(
        f"{getattr(check, '__name__', check)} is not in REPLAYED_CHECKS "
        "(backprop_autograder/judges.py): add it there to judge by it"
    )


# -- the visible check, run again -----------------------------------------------------------------


@judge("replay_check")
def by_replaying_check(spec: dict[str, Any], outcomes: list[Outcome]) -> list[CheckFailed | None]:
    """Judge by running a visible check again, here, on the student's recorded results.

    For checks of properties rather than values (``init_params``: shapes, zero
    biases, a seed that matters, the right spread). At build time the check
    ran on the reference and its calls were recorded; the kernel made the same
    calls to the student's function. Here the check runs once more, each call
    answered with the student's result for it.
    """
    check = lookup(REPLAYED_CHECKS, spec.get("check"), "visible check")
    calls = [decode(args, trusted=True) for args in spec["calls"]]
    answers = list(zip(calls, outcomes, strict=True))

    def student(*args: Any) -> Any:
        if not answers:
            raise CheckFailed("the check made a call the kernel did not")
        recorded_args, got = answers.pop(0)
        if not same_inputs(list(args), recorded_args, 1e-12):
            raise CheckFailed("the check made other calls than the kernel did")
        if isinstance(got, CheckFailed):
            raise got
        return got

    student.__name__ = spec["exercise"]
    kwargs = decode(spec.get("kwargs", {"dict": {}}), trusted=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its ✔ line is for students
            getattr(check, "__wrapped__", check)(student, **kwargs)
    except CheckFailed as failure:
        return [failure]
    return [None]


def same_inputs(a: Any, b: Any, rtol: float) -> bool:
    """Equal up to rounding: a student may compute an input in another valid order."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if np.shape(a) != np.shape(b):
            return False
        with quiet():
            return bool(np.allclose(a, b, rtol=rtol, atol=1e-12, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_inputs(x, y, rtol) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_inputs(a[k], b[k], rtol) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and (abs(a - b) <= rtol * max(abs(a), abs(b)) + 1e-12)
        )
    try:
        return bool(a == b)
    except Exception:
        return False


# -- topological orders (lesson 02) --------------------------------------------------------------


@judge("topological_order")
def topological_orders(spec: dict[str, Any], outcomes: list[Outcome]) -> list[CheckFailed | None]:
    """The grader's judge of hidden topological orders (the kernel sends indices, not Values).

    Any valid order passes: each node once, after its parents, the root last.

    ``outcomes``: per graph, the returned nodes as indices into the graph
    (-1 for a node not in it), or the failure of the call.
    """
    return [
        got if isinstance(got, CheckFailed) else order_problem(graph, got)
        for graph, got in zip(spec["graphs"], outcomes, strict=True)
    ]


def order_problem(graph: dict[str, Any], order: Any) -> CheckFailed | None:
    """What is wrong with ``order`` (indices) as a topological order of an encoded graph."""
    parents = [node[1] for node in graph["nodes"]]
    root = len(parents) - 1
    what = f"topological_order on a random graph of {len(parents)} nodes"
    ancestors, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node not in ancestors:
            ancestors.add(node)
            stack.extend(parents[node])
    if not isinstance(order, list) or not all(isinstance(i, int) for i in order):
        return CheckFailed(what, what=f"{what}: it did not return a list of the graph's nodes")
    if len(order) != len(set(order)):
        return CheckFailed(what, what=f"{what}: a node appears more than once")
    if set(order) != ancestors:
        missing, extra = len(ancestors - set(order)), len(set(order) - ancestors)
        return CheckFailed(
            what, what=f"{what}: {missing} nodes are missing and {extra} do not belong"
        )
    position = {node: i for i, node in enumerate(order)}
    if any(position[p] > position[node] for node in order for p in parents[node]):
        return CheckFailed(what, what=f"{what}: a node comes before one of its parents")
    if order[-1] != root:
        return CheckFailed(what, what=f"{what}: the root should come last")
    return None
