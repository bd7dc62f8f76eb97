"""Partial credit in the graded version of a test cell.

In the assignments that nbgrader grades, each test cell reads::

    _grading.begin("dense_forward", points=2)      # hidden from students
    check.dense_forward(dense_forward)              # the visible check
    _grading.hidden_part()                         # hidden from students
    _replay(dense_forward, "...")                  #   the hidden cases
    _grading.finish()                              #   the score, as the cell's value

Between ``begin`` and ``finish`` no check raises: the visible check counts as
one sub-check and each hidden case as another, and each records whether it
passed. ``finish`` prints one line per failed sub-check and returns the
points earned, ``points * passed / total``; nbgrader reads a test cell's
numeric value as its partial credit. Lines about hidden cases say what was
called and the likely mistake, never the expected values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from backprop_course.checking import MISTAKES, CheckFailed


@dataclass
class Session:
    """The sub-checks of one test cell while it is graded."""

    exercise: str
    points: float
    hidden: bool = False
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    def record(self, failure: CheckFailed | None) -> None:
        if failure is None:
            self.passed += 1
        else:
            self.failures.append(self.describe(failure))

    def describe(self, failure: CheckFailed) -> str:
        if not self.hidden:
            return f"✘ {failure}"
        line = f"✘ hidden check: {failure.what}"
        if failure.mistake:
            line += f" (likely mistake: {mistake_title(failure.mistake)})"
        return line

    @property
    def total(self) -> int:
        return self.passed + len(self.failures)


_current: Session | None = None


def current() -> Session | None:
    """The session of the test cell being graded, or None outside grading."""
    return _current


def begin(exercise: str, points: float) -> None:
    global _current
    _current = Session(exercise, float(points))


def hidden_part() -> None:
    """What follows are hidden checks: their failures are told without expected values."""
    if _current is not None:
        _current.hidden = True


def finish() -> float:
    """Print the failed sub-checks and return the points earned."""
    global _current
    session, _current = _current, None
    if session is None or session.total == 0:
        return 0.0
    for line in session.failures:
        print(line)
    score = round(session.points * session.passed / session.total, 2)
    print(
        f"{session.exercise}: {session.passed} of {session.total} checks passed, "
        f"{score:g} of {session.points:g} points"
    )
    return score


def mistake_title(key: str) -> str:
    """The short name of a mistake: its description up to the first colon."""
    return MISTAKES[key].split(":", 1)[0]


def exercise_check(check: Callable[..., None]) -> Callable[..., None]:
    """Mark a visible check: while a test cell is graded, its failure is recorded, not raised."""

    @functools.wraps(check)
    def run(*args: object, **kwargs: object) -> None:
        __tracebackhide__ = True
        session = current()
        if session is None:
            check(*args, **kwargs)
            return
        try:
            check(*args, **kwargs)
        except CheckFailed as failure:
            session.record(failure)
        else:
            session.record(None)

    return run
