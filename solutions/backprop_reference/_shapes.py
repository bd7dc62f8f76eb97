"""Shape checks that fail with a message a student can act on.

Every public function of the reference library validates its arrays here, so a
wrong shape raises ``ValueError`` naming the array, the shape it must have and
the shape it has, instead of broadcasting silently into a wrong answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., object])

# A dimension in an expected shape: a fixed size, or None for "any size".
Dim = int | None


def _show(shape: Sequence[Dim]) -> str:
    parts = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _hint(name: str, actual: tuple[int, ...], expected: Sequence[Dim]) -> str:
    """Suggest the usual fix for the usual mistakes."""
    if len(actual) == 1 and len(expected) == 2 and expected[1] in (1, None):
        return f" A 1-D array is not a column: use {name}.reshape(-1, 1)."
    if (
        len(actual) == 2
        and len(expected) == 2
        and None not in expected
        and actual == (expected[1], expected[0])
        and actual != tuple(expected)
    ):
        return f" It looks transposed: did you mean {name}.T?"
    return ""


def check_shape(name: str, array: np.ndarray, expected: Sequence[Dim], meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``array.shape`` matches ``expected``.

    ``expected`` may hold ``None`` for a free dimension. ``meaning`` spells the
    shape in the notation card's symbols, e.g. ``"(n_l, n_{l-1})"``.
    """
    # A plain loop: this runs on every call of every public function, so it
    # must cost next to nothing when the shape is right.
    actual = array.shape if isinstance(array, np.ndarray) else np.shape(array)
    if len(actual) == len(expected):
        for a, e in zip(actual, expected):  # noqa: B905 (lengths checked above)
            if e is not None and a != e:
                break
        else:
            return
    spelled = f" {meaning}" if meaning else ""
    raise ValueError(
        f"{name} must have shape {_show(expected)}{spelled} but has shape {_show(actual)}."
        + _hint(name, actual, expected)
    )


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, but {name_a} has shape "
            f"{_show(np.shape(a))} and {name_b} has shape {_show(np.shape(b))}."
            + _hint(name_a, np.shape(a), np.shape(b))
        )


def check_column_batch(name: str, array: np.ndarray, rows: int | None = None) -> None:
    """Raise unless ``array`` is 2-D with examples as columns: (rows, m)."""
    check_shape(name, array, (rows, None), "(n, m): one column per example")


def as_float_array(name: str, value: object) -> np.ndarray:
    """Return ``value`` as a floating-point array (float64 unless already floating)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value  # the common case, without numpy's slower dtype checks
    array = np.asarray(value)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}.")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


def checked_by(check: Callable[..., None]) -> Callable[[F], F]:
    """Run ``check`` on a function's arguments before the function itself.

    The exercises' answers are the bodies of the reference functions, copied
    verbatim into the solved notebooks. Keeping argument checks in a separate
    ``check`` (called with the same arguments) leaves each body the plain
    answer a student would write, while library users still get a clear
    ``ValueError`` for a wrong shape.
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def checked(*args: object, **kwargs: object) -> object:
            check(*args, **kwargs)
            return function(*args, **kwargs)

        checked.check = check  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate
