"""Running the hidden cases in the grading kernel: the kernel's half of the hidden checks.

When an assignment is built, each hidden check draws random inputs and
computes the expected results with the reference answers. The inputs go,
packed (:mod:`backprop_course.protocol`), into the hidden part of the
exercise's test cell; the expected results stay with the grader
(``backprop_autograder.scoring``). In the grading kernel, :func:`observe_all`
unpacks the inputs, calls the student's function on each case and encodes
what it returned (plain data only), for the grader to compare. Neither the
reference nor the expected values are ever in the kernel.

While a case runs, the earlier exercises the function calls are replaced by
stand-ins that answer the reference's recorded calls and nothing else
(:mod:`backprop_course.stand_ins`, :mod:`backprop_course.isolation`), so a
mistake costs the points of its own exercise only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from backprop_course import protocol
from backprop_course.checking import CheckFailed, Checks, mistake_line, namespace_of
from backprop_course.engine import Value, make_value_class
from backprop_course.isolation import isolated
from backprop_course.stand_ins import recorded_stand_ins

# -- graphs of Values (lesson 02) -----------------------------------------------


def build_graph(spec: Mapping[str, Any], value_class: type[Value]) -> list[Value]:
    """The nodes of an encoded graph, in the encoded order (the root is last).

    Each node is [data, parent indices, local derivatives, label, grad]. The
    order need not be topological (hidden cases shuffle it, so that it gives
    no topological order away): every node is made first, in the encoded order,
    and linked to its parents after.
    """
    nodes = [value_class(data, (), (), "", label) for data, _, _, label, _ in spec["nodes"]]
    for i, (node, (_, parents, local_grads, _, grad)) in enumerate(
        zip(nodes, spec["nodes"], strict=True)
    ):
        if len(parents) != len(local_grads):
            raise ValueError("need one local derivative per parent")
        node.parents = tuple(nodes[p] for p in parents)
        node.local_grads = tuple(float(g) for g in local_grads)
        node.op = spec.get("ops", {}).get(str(i), "")
        node.grad = grad
    return nodes


def _value_class(namespace: MutableMapping[str, Any]) -> type[Value]:
    found = namespace.get("Value")
    if isinstance(found, type) and issubclass(found, Value):
        return found
    return make_value_class(namespace)


# -- running the cases -------------------------------------------------------------


def observe_all(function: Callable[..., Any], payload: str) -> list[dict[str, Any]]:
    """What the student's function did on each case: one entry of a results bundle per case,
    its value or its failure (see :mod:`backprop_course.protocol`).

    Runs in the grading kernel. Nothing is compared here: the expected values
    are not in the kernel (see :mod:`backprop_course.grading`).
    """
    namespace = namespace_of(function)
    checks = Checks(getattr(function, "__name__", "the function"))
    results = []
    for case in protocol.unpack(payload):
        try:
            observed = observe_case(checks, function, namespace, case)
            results.append(protocol.value_entry(encode_result(observed)))
        except CheckFailed as failure:
            results.append(protocol.failure_entry(failure.what or str(failure), failure.mistake))
    return results


def observe_case(
    checks: Checks, function: Callable[..., Any], namespace: MutableMapping[str, Any], case: dict
) -> Any:
    """Call ``function`` on one case's inputs (dependencies isolated); what the case observes."""
    __tracebackhide__ = True
    graph = build_graph(case["graph"], _value_class(namespace)) if "graph" in case else []
    args = [protocol.decode_argument(a, graph) for a in case["args"]]
    kwargs = protocol.decode(case.get("kwargs", {"dict": {}}), trusted=True)
    callback_calls: list[Any] = []
    if "callback" in case:  # a callback argument that records what it is called with
        kwargs[case["callback"]] = lambda *given: callback_calls.append(_fresh(list(given)))
    with isolated(namespace, recorded_stand_ins(case.get("isolate", {}), graph)):
        # "calls": n calls on the same inputs (calling backward twice doubles the gradients)
        for _ in range(case.get("calls", 1)):
            result = checks.call(function, *args, may_change_inputs=bool(graph), **kwargs)
    if case.get("fresh"):  # the exercise promises a new array, never an input itself
        refuse_aliases(function, result, args)
    observe = case.get("observe", "return")
    if observe == "grads":
        return [node.grad for node in graph]
    if observe == "data":
        return [node.data for node in graph]
    if observe == "order":
        return positions_in_graph(function, result, graph)
    if "callback" in case:
        return {"return": result, "callback": callback_calls}
    return result


def refuse_aliases(function: Callable[..., Any], result: Any, args: list[Any]) -> None:
    """Fail when an array of ``result`` shares memory with an array among ``args``."""
    inputs = list(_arrays(args))
    if any(np.shares_memory(out, given) for out in _arrays(result) for given in inputs):
        name = getattr(function, "__name__", "the function")
        what = f"{name} returned an array it was given (an alias), not a new array"
        raise CheckFailed(f"{what}.\n{mistake_line('aliased_result')}", what, "aliased_result")


def _arrays(value: Any) -> Iterator[np.ndarray]:
    """Every numpy array inside nested lists, tuples and dicts."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _arrays(item)


def positions_in_graph(function: Callable[..., Any], order: Any, graph: list[Value]) -> list[int]:
    """A returned list of nodes as their indices in the case's graph (-1: not one of them)."""
    if not isinstance(order, list) or not all(isinstance(node, Value) for node in order):
        kind = protocol.kind_of(order)
        what = f"{function.__name__} returned {kind}, not a list of the graph's Values"
        raise CheckFailed(what, what=what)
    index = {id(node): i for i, node in enumerate(graph)}
    return [index.get(id(node), -1) for node in order]


def encode_result(value: Any) -> Any:
    """Encode what a student's function returned; anything else is the student's failure.

    Only plain data leaves the kernel: arrays of numbers (never objects), numbers,
    strings, lists, tuples and dicts. A subclass travels as its plain data, so
    whatever it overrides plays no part in the comparison outside.
    """
    try:
        size = protocol.plain_data_bytes(value)
        if size > protocol.MAX_RESULT_BYTES:
            what = f"returned {size} bytes of arrays, far more than the answer holds"
            raise CheckFailed(what, what=what, mistake=protocol.NOT_PLAIN_DATA)
        encoded = protocol.encode(value)
        json.dumps(encoded)  # what a result the display message cannot carry would break
        return encoded
    except (TypeError, ValueError, RecursionError) as error:
        what = f"returned {protocol.kind_of(value)}, which cannot be checked ({error})"
        what = what[: protocol.MAX_TEXT]
        raise CheckFailed(what, what=what, mistake=protocol.NOT_PLAIN_DATA) from None


def map_structure(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """``value`` rebuilt with ``leaf`` applied to all that is not a tuple, list or dict
    (a named tuple keeps its type)."""
    if isinstance(value, tuple):
        items = [map_structure(v, leaf) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [map_structure(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: map_structure(v, leaf) for k, v in value.items()}
    return leaf(value)


def _fresh(result: Any) -> Any:
    """A copy, so a student changing a returned array cannot change the recording."""
    return map_structure(result, lambda v: v.copy() if isinstance(v, np.ndarray) else v)
