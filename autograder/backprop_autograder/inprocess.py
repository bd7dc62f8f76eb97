"""Grading one exercise in this process, the way nbgrader's pipeline grades it, but fast.

A notebook's namespace is built from the reference answers (each function
rebound so that it looks its names up in that namespace, as a notebook's
functions do); a student's code, or a mutant, is executed into it. Then the
exercise's visible check runs as its test cell runs it, and its hidden
checks run as the grading kernel runs them: the student's function on the
hidden inputs, its results sent as JSON and judged by
:mod:`backprop_autograder.scoring`, which never sees the kernel's objects.

Used by the tests of the checks and by mutation testing
(:mod:`backprop_autograder.mutation`).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import math
import types
from typing import Any

import numpy as np

from backprop_autograder import scoring
from backprop_autograder.assemble import HiddenChecks, hidden_checks
from backprop_autograder.lessons import Lesson
from backprop_course import grading
from backprop_course.checking import CheckFailed
from backprop_course.engine import make_value_class
from backprop_course.structures import LayerCache

NOT_EXERCISES = ("random_graph",)  # public helpers of hidden-check modules


def exercises(lesson: Lesson) -> list[str]:
    """The exercise names of a lesson: the public functions of its hidden-check module."""
    hidden = lesson.hidden()
    return sorted(
        name
        for name, obj in vars(hidden).items()
        if callable(obj)
        and getattr(obj, "__module__", "") == hidden.__name__
        and not name.startswith("_")
        and name not in NOT_EXERCISES
    )


def student_namespace(lesson: Lesson, overrides: str = "") -> dict[str, Any]:
    """A notebook's namespace: the reference's answers, then the student's own code."""
    reference = lesson.reference()
    namespace = dict(vars(reference))
    namespace.update(
        np=np,
        math=math,
        LayerCache=LayerCache,
        check=importlib.import_module(f"backprop_course.checks.{lesson.topic}"),
    )
    # The lesson's own functions, plain as a notebook defines them (no argument
    # checks around them) and looking their names up in this namespace.
    for name, obj in list(namespace.items()):
        plain = inspect.unwrap(obj) if callable(obj) else None
        if getattr(plain, "__module__", "") == reference.__name__ and hasattr(plain, "__code__"):
            namespace[name] = rebind(plain, namespace)
    if lesson.topic == "chain_rule":
        namespace["Value"] = make_value_class(namespace)
    if lesson.topic in ("matrix_form", "mini_batch"):  # their notebooks' given code has it
        namespace.setdefault("ACTIVATIONS", importlib.import_module(
            "backprop_reference.forward_pass").ACTIVATIONS)  # fmt: skip
    if lesson.topic == "forward_pass":
        namespace["ACTIVATIONS"] = {
            "sigmoid": lambda z: namespace["sigmoid"](z),
            "tanh": np.tanh,
            "relu": lambda z: namespace["relu"](z),
            "identity": lambda z: z,
        }
    exec(overrides, namespace)
    return namespace


def rebind(function: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """The same code, looking its global names up in ``namespace``."""
    rebound = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    return rebound


def hidden_verdict(namespace: dict[str, Any], name: str, checks: HiddenChecks) -> scoring.Verdict:
    """The hidden checks as graded: results from the student's function, judged apart."""
    with contextlib.redirect_stdout(io.StringIO()):
        bundle = grading.collect_results(namespace[name], checks.payload)
    sent = json.loads(json.dumps(bundle))  # as the display message carries it
    return scoring.judge(checks.answers, sent, "no results")


def hidden_passes(namespace: dict[str, Any], name: str, lesson: Lesson, seed: int) -> bool:
    """Whether the exercise gets full marks from its hidden checks drawn with ``seed``."""
    verdict = hidden_verdict(namespace, name, hidden_checks(name, lesson.hidden(), seed))
    return verdict.ran and verdict.passed == verdict.total


def visible_failure(namespace: dict[str, Any], name: str) -> BaseException | None:
    """Run the exercise's visible check as its test cell does; what it raised, if anything."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(f"check.{name}({name})", namespace)
    except CheckFailed as failure:
        return failure
    except Exception as error:  # the check itself stopped: the student sees an error too
        return error
    return None
