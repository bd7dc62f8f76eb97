"""The grading kernel's side of a graded test cell: run the student's code, report what it did.

In the assignments that nbgrader grades, each test cell reads::

    _grading.begin("dense_forward")                   # hidden from students
    check.dense_forward(dense_forward)                 # the visible check
    _grading.hidden_results(dense_forward, "...")     # hidden: the hidden cases' inputs

The kernel runs student code, so nothing it computes can be trusted: code in
an earlier cell may have patched numpy, this module or IPython itself. So the
kernel never decides a score. Between ``begin`` and the end of the cell the
visible check only prints its messages (it gives no points, and its expected
values are public anyway). :func:`hidden_results` calls the student's function
on the hidden cases' inputs and sends the results, as data, in one output of
the MIME type :data:`~backprop_course.protocol.RESULTS_MIME`. Outside the
kernel, the grader compares them with expected values the kernel never sees,
names the likely mistakes and writes the score (``backprop_autograder.scoring``).
A cell that sends no results scores 0. What the cell holds and sends is
defined in :mod:`backprop_course.protocol`; the cases run in
:mod:`backprop_course.replay`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from backprop_course import hints as hints_module
from backprop_course import protocol, replay
from backprop_course.checking import CheckFailed

_current: str | None = None
Check = Callable[..., None]


def current() -> str | None:
    """The exercise whose test cell is being graded, or None outside grading."""
    return _current


def begin(exercise: str) -> None:
    """A graded test cell starts: the visible check reports instead of raising."""
    global _current
    _current = exercise


def hidden_results(function: Callable[..., Any], payload: str) -> None:
    """Run the hidden cases in ``payload`` and send their results out of the kernel."""
    global _current
    _current = None
    from IPython.display import display

    display({protocol.RESULTS_MIME: collect_results(function, payload)}, raw=True)


def collect_results(function: Callable[..., Any], payload: str) -> dict[str, Any]:
    """The results bundle: one entry per case, its value or its failure."""
    exercise = getattr(function, "__name__", "?")
    return protocol.results_bundle(exercise, payload, replay.observe_all(function, payload))


def exercise_check(*, hints: Sequence[str]) -> Callable[[Check], Check]:
    """Mark a visible check, with the exercise's hints (two or three, general to specific).

    Outside grading, a failure ends with a line offering the next hint. In a
    graded test cell, the failure is printed, not raised: the hidden checks
    still run.
    """

    def mark(check: Check) -> Check:
        topic = hints_module.topic_of(check.__module__)
        hints_module.register(topic, check.__name__, hints)

        @functools.wraps(check)
        def run(*args: object, **kwargs: object) -> None:
            __tracebackhide__ = True
            graded = current() is not None
            try:
                check(*args, **kwargs)
            except CheckFailed as failure:
                failure.args = (f"{failure}\n{hints_module.offer(topic, check.__name__)}",)
                if not graded:
                    raise
                print(f"✘ {failure}")
            except Exception as error:
                if not graded:
                    raise
                # whatever it was, the hidden checks still run
                print(f"✘ the visible check stopped: {type(error).__name__}: {error}"[:1000])

        return run

    return mark
