"""Functions a hidden case passes as an argument, described by data: ``{"callable": name, ...}``.

A payload cannot carry code, so a function argument (the f of a numerical
derivative, the cost of a gradient check) travels as a small spec, and the
grading kernel makes the function from it here. The build makes its own copy
the same way (``backprop_autograder.cases.Encoded``), so both call the same
function. Only a trusted decoder (:func:`backprop_course.protocol.decode` with
``trusted=True``) ever reads a spec.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from backprop_course.checking import described

# Each maker returns the function and what it computes, as messages show it.
_MAKERS: dict[str, Callable[[Mapping[str, Any]], tuple[Callable[..., Any], str]]] = {
    "polynomial": lambda spec: (
        lambda x: float(np.polyval(spec["coefficients"], x)),
        f"f(x) = {_polynomial_text(spec['coefficients'])}",
    ),
    "tanh_prime": lambda spec: (lambda z: 1.0 - np.tanh(z) ** 2, "f(z) = 1 − tanh(z)²"),
    "cube_prime": lambda spec: (lambda z: 3.0 * np.asarray(z) ** 2, "f(z) = 3z²"),
    "cube": lambda spec: (lambda x: np.asarray(x) ** 3, "f(x) = x³ (elementwise)"),
    "tanh_of_linear": lambda spec: (
        lambda x: np.tanh(np.asarray(spec["matrix"]) @ np.ravel(x)),
        f"f(x) = tanh(A x) with A of shape {np.shape(spec['matrix'])}",
    ),
    "squares_of_linear": lambda spec: (  # lesson 04: a cost of a dict of parameters
        _squares_of_linear(spec),
        f"C(params) = ½‖M θ + c‖², θ the entries of {', '.join(spec['keys'])} in a row, "
        f"M of shape {np.shape(spec['matrix'])}",
    ),
}


def make_callable(spec: Mapping[str, Any]) -> Callable[..., Any]:
    """The function an encoded ``{"callable": ...}`` describes (else one of math's).

    It is named ``f`` and carries what it computes ("f(x) = x³"), which messages
    show (:func:`backprop_course.checking.describe`) instead of its address.
    """
    maker = _MAKERS.get(spec["callable"])
    if maker is None:
        return getattr(math, spec["callable"])  # shown as math.<name>
    return described(*maker(spec))


def _squares_of_linear(spec: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], float]:
    """C(params) = ½‖M θ + c‖², θ the entries of params[key] for the spec's keys, in a row."""
    matrix, offset = np.asarray(spec["matrix"], float), np.asarray(spec["offset"], float)

    def cost(params: Mapping[str, Any]) -> float:
        theta = np.concatenate([np.ravel(params[key]) for key in spec["keys"]])
        return float(0.5 * np.sum((matrix @ theta + offset) ** 2))

    return cost


def _polynomial_text(coefficients: list[float]) -> str:
    """'2x³ − x + 1' for [2, 0, -1, 1], highest power first (as np.polyval takes them)."""
    terms = []
    for power, c in zip(range(len(coefficients) - 1, -1, -1), coefficients, strict=True):
        if c == 0:
            continue
        size = "" if abs(c) == 1 and power else f"{abs(c):.10g}"
        variable = {0: "", 1: "x", 2: "x²", 3: "x³"}.get(power, f"x^{power}")
        sign = ("−" if c < 0 else "") if not terms else (" − " if c < 0 else " + ")
        terms.append(f"{sign}{size}{variable}")
    return "".join(terms) or "0"
