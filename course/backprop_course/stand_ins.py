"""Stand-ins that answer the reference's recorded calls, and reveal nothing else.

While a check runs an exercise, each earlier exercise it calls may be replaced
(:mod:`backprop_course.isolation`) by a :class:`Recorded` stand-in: it answers
the calls the reference made with the results the reference got. A call the
recording does not cover goes to the student's own function.

Each recorded call is sealed when it is recorded (:func:`seal_call`,
:mod:`backprop_course.sealed`): its result opens only to a call with the same
arguments, which are not kept at all. So a stand-in hands out nothing that the
call itself would not, through its attributes, its closures, or the encoded
test cell.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from backprop_course import sealed
from backprop_course.engine import Value
from backprop_course.protocol import decode_argument, encode


def seal_call(args: list[Any], result: Any, nodes: Sequence[Value] = ()) -> str:
    """One recorded call's result, sealed under its arguments (:mod:`backprop_course.sealed`).

    A result that is a graph's node, or a list of nodes, travels as indices in
    ``nodes``, the graph the stand-in will hold.
    """
    if isinstance(result, list) and result and all(isinstance(v, Value) for v in result):
        index = {id(node): i for i, node in enumerate(nodes)}
        plain = {"nodes": [index[id(node)] for node in result]}
    else:
        plain = encode(result)
    return sealed.seal(args, json.dumps(plain, separators=(",", ":")).encode())


def answers(
    name: str, calls: list[tuple[list, Any]], nodes: Sequence[Value] = ()
) -> Callable[[Any], Recorded]:
    """A stand-in maker: answer these (arguments, result) calls, pass the rest on.

    The calls are sealed here, once: the maker keeps no plain argument or
    result. ``nodes``: the graph whose Values the calls return (see
    :func:`seal_call`), kept in an order that tells nothing.
    """
    entries = [seal_call(list(args), result, nodes) for args, result in calls]
    return lambda own: Recorded(name, entries, own, graph=nodes)


def answers_table(
    name: str, calls: Mapping[str, list[tuple[list, Any]]]
) -> Callable[[Any], dict[str, Recorded]]:
    """The same for a table of functions such as ACTIVATIONS, entry by entry."""
    table = {key: [seal_call(list(a), r) for a, r in entry] for key, entry in calls.items()}
    return lambda own: stand_in(name, {"table": table}, own, graph=[])


def recorded_stand_ins(recordings: Mapping[str, Any], graph: list[Value]) -> dict[str, Any]:
    """Stand-in makers for a case's encoded recordings (its ``"isolate"``)."""
    return {
        name: functools.partial(stand_in, name, recording, graph=graph)
        for name, recording in recordings.items()
    }


def stand_in(name: str, recording: Mapping[str, Any], own: Any, graph: list[Value]) -> Any:
    """What replaces dependency ``name`` while a case runs.

    ``recording``: ``{"sealed": [entries]}`` for a function, ``{"table": {key:
    [entries]}}`` for a table of functions (see :func:`seal_call`).
    """
    if "table" in recording:
        own_table = own if isinstance(own, Mapping) else {}
        return {
            key: Recorded(f"{name}[{key!r}]", entries, own_table.get(key), graph=graph)
            for key, entries in recording["table"].items()
        }
    return Recorded(name, recording["sealed"], own, graph=graph)


def _own(name: str, own: Any) -> Callable[..., Any]:
    if not callable(own):
        raise NameError(f"{name} is not defined: run the cell that defines it")
    return own


class Recorded:
    """A dependency that answers each sealed call, and only it, with its recorded result.

    It holds sealed entries only. A call whose arguments round like a recorded
    call's (equal to about 1e-7: far looser than computing them in another
    order needs; strings, shapes and keys exactly) opens that entry and gets
    its result, decoded afresh; nothing decrypted is kept. Other calls go to
    the student's own function.
    """

    def __init__(
        self, name: str, entries: list[str], own: Any, graph: Sequence[Value] = ()
    ) -> None:
        self.name, self.entries, self.own, self.graph = name, entries, own, graph
        self.__name__ = name
        try:
            self.signature = inspect.signature(own) if callable(own) else None
        except (TypeError, ValueError):
            self.signature = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        positional = self._positional(args, kwargs)
        if positional is not None:
            for plaintext in sealed.opened(self.entries, positional):
                return decode_argument(json.loads(plaintext), list(self.graph))  # new each call
        return _own(self.name, self.own)(*args, **kwargs)

    def _positional(self, args: tuple, kwargs: dict) -> list | None:
        if not kwargs:
            return list(args)
        if self.signature is None:
            return None
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None
        bound.apply_defaults()
        return list(bound.args)
