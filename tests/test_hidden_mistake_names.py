"""The hidden checks name a known mistake only where it was made.

Each known wrong answer (:mod:`backprop_autograder.misconceptions`) is graded in this
process by its exercise's hidden checks, drawn with two seeds: the likely mistake they
name in the student's feedback (and count in the item analysis) is that answer's own,
never another one's. Where two mistakes give the same answer on a case's inputs, the
case names neither (:func:`backprop_autograder.cases.unambiguous`).
"""

from __future__ import annotations

import pytest

from backprop_autograder import inprocess
from backprop_autograder.assemble import DEFAULT_SEED, hidden_checks
from backprop_autograder.lessons import lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS

# Caught by the hidden checks, but on no case with an answer the mistake alone gives.
NOT_NAMED = {"backprop-a_l_for_a_prev", "sgd-missing_momentum", "truncated_bptt-chunk_off_by_one"}


@pytest.mark.parametrize("seed", [DEFAULT_SEED, 1])
@pytest.mark.parametrize("case", MISCONCEPTIONS, ids=lambda case: case.id)
def test_hidden_checks_name_only_the_mistake_made(case, seed):
    the_lesson = lesson(case.topic)
    namespace = inprocess.student_namespace(the_lesson, case.source)
    checks = hidden_checks(case.exercise, the_lesson.hidden(), seed)
    verdict = inprocess.hidden_verdict(namespace, case.exercise, checks)
    assert verdict.passed < verdict.total  # caught
    expected = set() if case.id in NOT_NAMED else {case.mistake}
    assert set(verdict.mistakes) == expected
