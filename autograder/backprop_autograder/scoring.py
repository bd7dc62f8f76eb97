"""Scoring a graded test cell outside the kernel: the trusted half of the hidden checks.

The grading kernel runs student code, and student code can change anything
in its own process (numpy, the check helpers, IPython's handling of later
cells). So the kernel only reports what the student's function returned on
each hidden case (:mod:`backprop_course.grading`); everything that decides a
score happens here, in the grader's own process:

1. :func:`find_bundle` picks the results the cell sent out of its outputs;
2. :func:`read_value` turns each result back into plain data, refusing
   anything but arrays of numbers, numbers, strings, lists and dicts;
3. :func:`judge` compares them with the expected answers, which were written
   at build time next to the gradebook and are never in the kernel's sight,
   and names the likely mistake;
4. :func:`verdict_outputs` writes the messages and the score into the cell,
   where nbgrader's SaveAutoGrades reads it.

A cell that sent no results (it raised, its code was replaced, the kernel
died) scores 0 and says why.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import importlib
import io
import json
import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from nbformat import NotebookNode

from backprop_course.checking import ATOL, MISTAKES, RTOL, CheckFailed, Checks
from backprop_course.grading import RESULTS_MIME
from backprop_course.replay import NUMERIC_KINDS, decode, same_inputs

ANSWERS_FOLDER = "hidden_answers"
DID_NOT_RUN = "✘ the hidden checks did not run"
# Where judges may come from: the answers file names them, and only these are trusted.
JUDGE_MODULES = ("backprop_autograder.", "backprop_course.checks.")
MAX_DEPTH = 32


# -- the answers file, written at build time ----------------------------------------------


def answers_path(folder: Path, assignment: str, notebook: str) -> Path:
    return folder / assignment / f"{notebook}.json"


def write_answers(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, separators=(",", ":"), allow_nan=True))


def read_answers(path: Path) -> dict[str, dict[str, Any]]:
    """grade id -> what its hidden checks expect; empty if the file is missing."""
    if not path.exists():
        return {}
    return json.loads(path.read_text())


# -- step 1: the results a cell sent --------------------------------------------------------


def find_bundle(cell: NotebookNode) -> Any | None:
    """The last results bundle among the cell's outputs (None if it sent none)."""
    found = None
    for out in cell.get("outputs", []):
        if out.get("output_type") in ("display_data", "execute_result"):
            data = out.get("data", {})
            if RESULTS_MIME in data:
                found = data[RESULTS_MIME]
    return found


def why_no_results(cell: NotebookNode) -> str:
    """What stopped a cell before it sent results: its error, or a guess."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:200]}"
    return "the cell sent no results; did code in an earlier cell change how cells run?"


# -- step 2: reading a result strictly ----------------------------------------------------------


class UnreadableResult(ValueError):
    """A result from the kernel that is not plain data of the kinds a function returns."""


def read_value(value: Any, depth: int = 0) -> Any:
    """Plain data from a kernel's encoded result; nothing else is ever built from it."""
    if depth > MAX_DEPTH:
        raise UnreadableResult("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [read_value(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise UnreadableResult(f"a {type(value).__name__}")
    if "ndarray" in value:
        return _read_array(value)
    if "tuple" in value:
        items = [read_value(v, depth + 1) for v in _list(value["tuple"])]
        fields = value.get("fields")
        if fields is None:
            return tuple(items)
        return _named_tuple(fields, items)
    if "dict" in value and isinstance(value["dict"], dict):
        return {str(k): read_value(v, depth + 1) for k, v in value["dict"].items()}
    raise UnreadableResult("an unknown kind of value")


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise UnreadableResult("a malformed tuple")
    return value


def _read_array(value: dict) -> np.ndarray:
    try:
        dtype = np.dtype(str(value["dtype"]))
        shape = tuple(int(n) for n in value["shape"])
        raw = base64.b64decode(str(value["ndarray"]), validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadableResult(f"a malformed array ({error})") from None
    if dtype.kind not in NUMERIC_KINDS or any(n < 0 for n in shape) or len(shape) > MAX_DEPTH:
        raise UnreadableResult(f"an array of {dtype}")
    if math.prod(shape) * dtype.itemsize != len(raw):  # Python ints: no overflow to fool it
        raise UnreadableResult("an array whose data does not fit its shape")
    try:
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except (ValueError, OverflowError) as error:
        raise UnreadableResult(f"a malformed array ({error})") from None


def _named_tuple(fields: Any, items: list) -> tuple:
    if (
        not isinstance(fields, list)
        or len(fields) != len(items)
        or len(fields) > 64
        or not all(isinstance(f, str) and f.isidentifier() and not keyword.iskeyword(f)
                   for f in fields)
        or len(set(fields)) != len(fields)
        or any(f.startswith("_") for f in fields)
    ):  # fmt: skip
        raise UnreadableResult("a malformed named tuple")
    return collections.namedtuple("Record", fields)(*items)


# -- step 3: judging ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The hidden checks of one test cell: how many passed, and the lines that say so."""

    exercise: str
    passed: int = 0
    total: int = 0
    lines: list[str] = field(default_factory=list)
    ran: bool = True

    def add(self, failure: CheckFailed | None) -> None:
        self.total += 1
        if failure is None:
            self.passed += 1
        else:
            self.lines.append(hidden_line(failure))

    def score(self, points: float) -> float:
        if not self.ran or self.total == 0:
            return 0.0
        return round(points * self.passed / self.total, 2)

    def text(self, points: float) -> str:
        if not self.ran:
            return "\n".join(self.lines) + f"\n{self.exercise}: 0 of {points:g} points\n"
        closing = (
            f"{self.exercise}: {self.passed} of {self.total} hidden checks passed, "
            f"{self.score(points):g} of {points:g} points"
        )
        return "\n".join([*counted(self.lines), closing]) + "\n"


def counted(lines: list[str]) -> list[str]:
    """Each distinct line once, in order, with how many cases said it when more than one."""
    counts = collections.Counter(lines)
    return [line if counts[line] == 1 else f"{line} ({counts[line]} cases)" for line in counts]


def hidden_line(failure: CheckFailed) -> str:
    """A failed hidden check told without its expected values."""
    line = f"✘ hidden check: {failure.what or failure}"
    if failure.mistake in MISTAKES:
        line += f" (likely mistake: {mistake_title(failure.mistake)})"
    return line


def mistake_title(key: str) -> str:
    """The short name of a mistake: its description up to the first colon."""
    return MISTAKES[key].split(":", 1)[0]


def judge(entry: dict[str, Any], bundle: Any, no_results: str) -> Verdict:
    """The verdict on one test cell's results against its stored answers."""
    exercise = entry["exercise"]
    verdict = Verdict(exercise)
    problem = bundle_problem(entry, bundle) if bundle is not None else no_results
    if problem:
        verdict.ran = False
        verdict.lines.append(f"{DID_NOT_RUN}: {problem}")
        return verdict
    outcomes = [outcome(result) for result in bundle["results"]]
    if "judge" in entry:
        failures = load_judge(entry["judge"]["function"])(entry["judge"], outcomes)
    else:
        failures = [compare_case(exercise, answer, got) for answer, got in
                    zip(entry["cases"], outcomes, strict=True)]  # fmt: skip
    for failure in failures:
        verdict.add(failure)
    return verdict


def judge_safely(entry: dict[str, Any], cell: NotebookNode) -> Verdict:
    """:func:`judge` on a test cell; whatever the cell sent, a verdict and never a crash.

    A crash here would lose the whole notebook, so an error while judging
    (malformed results that slipped past the reading) costs this cell only.
    """
    try:
        return judge(entry, find_bundle(cell), why_no_results(cell))
    except Exception as error:
        verdict = Verdict(entry["exercise"], ran=False)
        verdict.lines.append(
            f"{DID_NOT_RUN}: its results could not be judged ({type(error).__name__})"
        )
        return verdict


def bundle_problem(entry: dict[str, Any], bundle: Any) -> str | None:
    """Why a bundle cannot be judged, or None."""
    if not isinstance(bundle, dict) or not isinstance(bundle.get("results"), list):
        return "its results could not be read"
    if bundle.get("digest") != entry["digest"]:
        return "its results answer other cases than this assignment's (rebuilt since?)"
    if len(bundle["results"]) != entry["count"]:
        return f"it sent {len(bundle['results'])} results for {entry['count']} cases"
    return None


Outcome = Any  # a result as plain data, or the CheckFailed that stands for a failed call


def outcome(result: Any) -> Outcome:
    """One case's result as plain data, or a CheckFailed saying why there is none."""
    if isinstance(result, dict) and "value" in result:
        try:
            return read_value(result["value"])
        except UnreadableResult as error:
            what = f"the result could not be read: {error}"
            return CheckFailed(what, what=what, mistake="uncheckable_result")
    if isinstance(result, dict) and "failed" in result:
        what = str(result["failed"])[:500]
        mistake = result.get("mistake")
        return CheckFailed(what, what=what, mistake=mistake if mistake in MISTAKES else None)
    return CheckFailed("a malformed result", what="a malformed result")


def compare_case(exercise: str, answer: dict[str, Any], got: Outcome) -> CheckFailed | None:
    """Compare one result with its expected answer, as the visible checks compare."""
    if isinstance(got, CheckFailed):
        return got
    try:
        Checks(exercise).expect(
            got,
            decode(answer["expected"]),
            what=answer["what"],
            variants=[(key, decode(value)) for key, value in answer.get("variants", [])],
            rtol=answer.get("rtol", RTOL),
            atol=answer.get("atol", ATOL),
        )
    except CheckFailed as failure:
        return failure
    except Exception as error:  # a result of a shape no comparison foresaw: wrong, not a crash
        what = f"{answer['what']}: the result could not be compared ({type(error).__name__})"
        return CheckFailed(what, what=what)
    return None


Judge = Callable[[dict[str, Any], list[Outcome]], list[CheckFailed | None]]


def load_judge(name: str) -> Judge:
    """A judge named ``module:function`` in the answers file, from the trusted modules only."""
    module, _, function = name.partition(":")
    if not module.startswith(JUDGE_MODULES):
        raise ValueError(f"judge {name!r} is not one of the grader's own")
    return getattr(importlib.import_module(module), function)


def by_replaying_check(spec: dict[str, Any], outcomes: list[Outcome]) -> list[CheckFailed | None]:
    """Judge by running a visible check again, here, on the student's recorded results.

    For checks of properties rather than values (``init_params``: shapes, zero
    biases, a seed that matters, the right spread). At build time the check
    ran on the reference and its calls were recorded; the kernel made the same
    calls to the student's function. Here the check runs once more, each call
    answered with the student's result for it.
    """
    check = load_judge(spec["check"])
    calls = [decode(args) for args in spec["calls"]]
    answers = list(zip(calls, outcomes, strict=True))

    def student(*args: Any) -> Any:
        if not answers:
            raise CheckFailed("the check made a call the kernel did not")
        recorded_args, got = answers.pop(0)
        if not same_inputs(list(args), recorded_args, 1e-12):
            raise CheckFailed("the check made other calls than the kernel did")
        if isinstance(got, CheckFailed):
            raise got
        return got

    student.__name__ = spec["exercise"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its ✔ line is for students
            getattr(check, "__wrapped__", check)(
                student, **decode(spec.get("kwargs", {"dict": {}}))
            )
    except CheckFailed as failure:
        return [failure]
    return [None]


# -- step 4: the verdict in the cell --------------------------------------------------------------


def verdict_outputs(cell: NotebookNode, verdict: Verdict, points: float) -> list[NotebookNode]:
    """The cell's outputs after scoring: the student's text, the verdict, and the score.

    Errors and stderr are dropped once the hidden checks ran (only the
    verdict decides), as are any values or results the cell showed: nbgrader
    reads the first value of a test cell as its score, and only ours may be it.
    """
    kept = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            kept.append(out)
        elif kind == "error" and not verdict.ran:
            kept.append(out)  # why it did not run; the pipeline's summary reads it too
        elif kind == "display_data" and RESULTS_MIME not in out.get("data", {}):
            kept.append(out)
    score = verdict.score(points)
    kept.append(NotebookNode(output_type="stream", name="stdout", text=verdict.text(points)))
    kept.append(
        NotebookNode(
            output_type="execute_result",
            execution_count=cell.get("execution_count"),
            metadata={},
            data={"text/plain": repr(score)},
        )
    )
    return kept


def missing_answers(exercise: str) -> Verdict:
    verdict = Verdict(exercise, ran=False)
    verdict.lines.append(
        f"{DID_NOT_RUN}: the course directory has no answers for this check; "
        "rebuild the assignment (backprop-grade build)"
    )
    return verdict
