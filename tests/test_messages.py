"""Check messages name functions by what they compute, never by a memory address.

Every message a student or an instructor reads (the visible checks' failures,
the hidden checks' labels and verdict lines, the kernel's failure entries)
must be free of ``<function <lambda>.<locals>.<lambda> at 0x7f…>``: such text
means nothing to a student and differs in every build. In-process and fast.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest

from backprop_autograder import assemble, scoring
from backprop_autograder.assemble import hidden_checks
from backprop_autograder.lessons import LESSONS, Lesson
from backprop_course import grading
from backprop_course.callables import make_callable
from backprop_course.checking import CheckFailed, describe, describe_call, described
from backprop_course.replay import map_structure

SEEDS = (1, 2, 3)
ADDRESS_LIKE = ("0x", "<lambda>", "<function", "<locals>")


def exercises(lesson: Lesson) -> list[str]:
    """The exercises with a test cell, in notebook order."""
    nb = nbformat.read(lesson.notebook, as_version=4)
    return [assemble.tested_name(cell) for cell in nb.cells if assemble.is_test(cell)]


def _zero(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(value)(0)
    return value


def zeros_like(value: Any) -> Any:
    """The same structure with every number zero: a wrong answer of the right shape."""
    return map_structure(value, _zero)


def wrong_answers(lesson: Lesson, name: str) -> list[Callable[..., Any]]:
    """Two wrong answers to an exercise, named like it: zeros of the right shape, and
    one that raises (so the messages show the call's arguments)."""
    reference = getattr(lesson.reference(), name)

    def zeros(*args: Any, **kwargs: Any) -> Any:
        return zeros_like(reference(*args, **kwargs))

    def raises(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a wrong answer")

    for answer in (zeros, raises):
        answer.__name__ = answer.__qualname__ = name
    return [zeros, raises]


def visible_messages(lesson: Lesson, name: str) -> list[str]:
    check = getattr(importlib.import_module(f"backprop_course.checks.{lesson.topic}"), name)
    found = []
    for answer in wrong_answers(lesson, name):
        try:
            check(answer)
        except CheckFailed as failure:
            found += [str(failure), failure.what]
        except Exception as error:  # a check that trips over a wrong answer: its text too
            found.append(f"{type(error).__name__}: {error}")
    return found


def hidden_messages(lesson: Lesson, name: str, seed: int) -> list[str]:
    """The cases' labels, and what the kernel and the grader say about wrong answers."""
    hidden = hidden_checks(name, lesson.hidden(), seed)
    found = [case["what"] for case in hidden.answers.get("cases", [])]
    for answer in wrong_answers(lesson, name):
        bundle = json.loads(json.dumps(grading.collect_results(answer, hidden.payload)))
        found += [result["failed"] for result in bundle["results"] if "failed" in result]
        found += scoring.judge(hidden.answers, bundle, "no results").lines
    return found


def labels(seed: int) -> dict[str, list[str]]:
    """Every hidden case's label, by lesson and exercise."""
    return {
        f"{lesson.name}.{name}": [
            case["what"]
            for case in hidden_checks(name, lesson.hidden(), seed).answers.get("cases", [])
        ]
        for lesson in LESSONS
        for name in exercises(lesson)
    }


ALL = [(lesson, name) for lesson in LESSONS for name in exercises(lesson)]
IDS = [f"{lesson.number}-{name}" for lesson, name in ALL]


def assert_readable(messages: list[str]) -> None:
    for message in messages:
        assert not any(bad in message for bad in ADDRESS_LIKE), message


@pytest.mark.parametrize(("lesson", "name"), ALL, ids=IDS)
def test_visible_checks_show_no_addresses_for_wrong_answers(lesson, name, capsys):
    messages = visible_messages(lesson, name)
    assert messages, "a wrong answer passed the visible check"
    assert_readable(messages + capsys.readouterr().out.splitlines())


@pytest.mark.parametrize(("lesson", "name"), ALL, ids=IDS)
def test_hidden_labels_and_verdicts_show_no_addresses(lesson, name):
    for seed in SEEDS:
        assert_readable(hidden_messages(lesson, name, seed))


def test_the_same_seed_gives_the_same_labels_in_another_build():
    """Another process, another build: byte-identical labels."""
    here = json.dumps(labels(SEEDS[0]), ensure_ascii=False)
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import test_messages\n"
        "print(json.dumps(test_messages.labels(int(sys.argv[2])), ensure_ascii=False))"
    )
    command = [sys.executable, "-c", code, str(Path(__file__).parent), str(SEEDS[0])]
    there = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    assert there == here
    assert "f(x) = " in here  # the functions passed in are described, not just named


def test_functions_are_described_by_what_they_compute():
    assert describe(make_callable({"callable": "polynomial", "coefficients": [2, 0, -1, 1]})) == (
        "f(x) = 2x³ − x + 1"
    )
    assert describe(make_callable({"callable": "tanh_prime"})) == "f(z) = 1 − tanh(z)²"
    assert describe(make_callable({"callable": "sin"})) == "math.sin"
    assert describe(math.sin) == "math.sin"

    def sigmoid_prime(z: float) -> float:
        return z

    assert describe(sigmoid_prime) == "sigmoid_prime"
    assert describe(lambda x: x) == "a function"
    assert describe(object()) == "an object of type object"
    assert describe(np.float32) == "float32"
    cube = described(lambda x: x**3, "f(x) = x³")
    assert describe_call((cube, np.zeros((2, 1)))) == "(f(x) = x³, array of shape (2, 1))"
    with pytest.raises(TypeError, match=r"^f\(\) takes 1 positional"):
        cube(1, 2)
