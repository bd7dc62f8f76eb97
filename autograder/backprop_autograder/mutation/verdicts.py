"""The four verdicts on one mutant, each a small step.

1. :func:`is_equivalent`: the mutant against the reference on the wide inputs;
2. :func:`hidden_share`: the share of the hidden points it keeps, seed by seed;
3. :func:`visible_catches`: whether its visible check fails it;
4. :func:`others_losing_points`: the other exercises of its lesson that lose points.

Every call into mutant code runs under a time limit (a mutant may loop
forever, as a student's answer may); running out of time counts as what the
grader makes of it, a failed check.
"""

from __future__ import annotations

import contextlib
import functools
import io
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from backprop_autograder.assemble import DEFAULT_SEED, HiddenChecks, hidden_checks
from backprop_autograder.inprocess import (
    exercises,
    hidden_verdict,
    student_namespace,
    visible_failure,
)
from backprop_autograder.lessons import Lesson
from backprop_autograder.mutation.catalogue import Mutant
from backprop_autograder.mutation.wide import wide_cases
from backprop_course.checking import ATOL, RTOL, CheckFailed, Checks, difference
from backprop_course.replay import observe_case

TIME_LIMIT = 5.0  # seconds for one call of mutant code; the right answers take milliseconds
WIDE_ROUNDS = (101, 102, 103)  # seeds of the wide draws (DRAWS cases each)
ONE_EXERCISE_SEEDS = (DEFAULT_SEED, 0)  # the other exercises' hidden checks, as built by default


class OutOfTime(BaseException):
    """A mutant ran past :data:`TIME_LIMIT` (BaseException: checks catch Exception)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise OutOfTime

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What the checks made of one mutant."""

    mutant: Mutant
    lesson: str
    equivalent: bool = False
    surviving_seeds: list[int] = field(default_factory=list)
    kept: float = 0.0  # the largest share of the hidden points it keeps under any seed
    visible_caught: bool = False
    others_losing_points: list[str] = field(default_factory=list)

    @property
    def hidden_caught(self) -> bool:
        return not self.surviving_seeds

    @property
    def survived(self) -> bool:
        """Counted against the checks: some seed or the visible check let it pass, or it
        cost another exercise points."""
        if self.equivalent:
            return False
        return not (self.hidden_caught and self.visible_caught) or bool(self.others_losing_points)


@functools.cache
def reference_namespace(lesson: Lesson) -> dict[str, Any]:
    return student_namespace(lesson)


@functools.cache
def cached_checks(lesson: Lesson, name: str, seed: int) -> HiddenChecks:
    return hidden_checks(name, lesson.hidden(), seed)


def judge(lesson: Lesson, mutant: Mutant, seeds: Sequence[int]) -> Outcome:
    """All four verdicts on ``mutant`` (the hidden checks under every seed of ``seeds``)."""
    namespace = student_namespace(lesson, mutant.source)
    outcome = Outcome(mutant, lesson.name)
    outcome.equivalent = is_equivalent(lesson, namespace, mutant.exercise)
    if outcome.equivalent:
        return outcome
    shares = {seed: hidden_share(lesson, namespace, mutant.exercise, seed) for seed in seeds}
    outcome.surviving_seeds = [seed for seed, share in shares.items() if share == 1.0]
    outcome.kept = max(shares.values(), default=0.0)
    outcome.visible_caught = visible_catches(namespace, mutant.exercise)
    outcome.others_losing_points = others_losing_points(lesson, namespace, mutant.exercise)
    return outcome


def reference_problems(lesson: Lesson, name: str, seeds: Sequence[int]) -> list[str]:
    """What keeps the reference itself from full marks: a mutant's verdict means nothing then."""
    namespace = student_namespace(lesson)
    problems = [f"{name}: hidden checks, seed {seed}" for seed in seeds
                if not _full_marks(lesson, namespace, name, seed)]  # fmt: skip
    failure = visible_failure(namespace, name)
    if failure is not None:
        problems.append(f"{name}: visible check: {str(failure).splitlines()[0][:200]}")
    return problems


def is_equivalent(lesson: Lesson, namespace: dict[str, Any], name: str) -> bool:
    """Whether the mutant agrees with the reference on every wide case."""
    reference = reference_namespace(lesson)
    for round_seed in WIDE_ROUNDS:
        for case in wide_cases(name, round_seed):
            expected = _observe(reference, name, case)
            if isinstance(expected, BaseException):
                raise RuntimeError(f"the reference {name} fails on a wide case: {expected}")
            got = _observe(namespace, name, case)
            if isinstance(got, BaseException) or _differs(got, expected):
                return False
    return True


def _observe(namespace: dict[str, Any], name: str, case: dict[str, Any]) -> Any:
    """What ``namespace[name]`` does on ``case``: its observed result, or what stopped it."""
    try:
        with time_limit(), contextlib.redirect_stdout(io.StringIO()):
            return observe_case(Checks(name), namespace[name], namespace, case)
    except (CheckFailed, OutOfTime) as stopped:
        return stopped


def _differs(got: Any, expected: Any) -> bool:
    try:
        return difference(got, expected, "", RTOL, ATOL) is not None
    except Exception:  # a result no comparison foresaw
        return True


def hidden_share(lesson: Lesson, namespace: dict[str, Any], name: str, seed: int) -> float:
    """The share of the hidden points the exercise gets from its checks drawn with ``seed``."""
    try:
        with time_limit():
            verdict = hidden_verdict(namespace, name, cached_checks(lesson, name, seed))
    except OutOfTime:
        return 0.0  # the grader's time limit: the cell scores 0
    return verdict.passed / verdict.total if verdict.ran and verdict.total else 0.0


def _full_marks(lesson: Lesson, namespace: dict[str, Any], name: str, seed: int) -> bool:
    return hidden_share(lesson, namespace, name, seed) == 1.0


def visible_catches(namespace: dict[str, Any], name: str) -> bool:
    try:
        with time_limit():
            return visible_failure(namespace, name) is not None
    except OutOfTime:
        return True


def others_losing_points(lesson: Lesson, namespace: dict[str, Any], name: str) -> list[str]:
    """The other exercises of the lesson that lose hidden points with this mutant in place."""
    return [
        other
        for other in exercises(lesson)
        if other != name
        and not all(_full_marks(lesson, namespace, other, seed) for seed in ONE_EXERCISE_SEEDS)
    ]
