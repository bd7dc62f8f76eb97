"""Scoring a graded test cell outside the kernel: the trusted half of the hidden checks.

The grading kernel runs student code, and student code can change anything
in its own process (numpy, the check helpers, IPython's handling of later
cells). So the kernel only reports what the student's function returned on
each hidden case (:mod:`backprop_course.grading`); everything that decides a
score happens here, in the grader's own process:

1. :func:`backprop_course.protocol.find_bundle` picks the results the cell
   sent out of its outputs;
2. :func:`outcome` turns each result back into plain data
   (:func:`backprop_course.protocol.read_entry`), refusing anything but arrays
   of numbers, numbers, strings, lists, tuples and dicts;
3. :func:`judge` compares them with the expected answers, which were written
   at build time next to the gradebook and are never in the kernel's sight,
   and names the likely mistake; a check of a property is judged by a judge
   the answers name (:mod:`backprop_autograder.judges`);
4. :func:`verdict_outputs` writes the messages and the score into the cell,
   where nbgrader's SaveAutoGrades reads it, and :func:`verdict_record` what
   happened, as data, for the summary (:mod:`backprop_autograder.cell_verdicts`).

A cell that sent no results (it raised, its code was replaced, the kernel
died) scores 0 and says why.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from backprop_autograder.cell_verdicts import HiddenChecksRecord
from backprop_autograder.judges import JUDGES, Outcome, UnknownName, lookup
from backprop_course import protocol
from backprop_course.checking import ATOL, MISTAKES, RTOL, CheckFailed, Checks

ANSWERS_FOLDER = "hidden_answers"
DID_NOT_RUN = "✘ the hidden checks did not run"


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
    return protocol.find_bundle(cell.get("outputs", []))


def why_no_results(cell: NotebookNode) -> str:
    """What stopped a cell before it sent results: its error, or a guess."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {str(out.get('evalue', ''))[:200]}"
    return "the cell sent no results; did code in an earlier cell change how cells run?"


# -- step 3: judging ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The hidden checks of one test cell: how many passed, and the lines that say so.

    ``reason``: why they did not run at all (no results, or none that could be
    judged), else None. ``unreadable``: some result was not plain data.
    ``mistakes``: how many failed cases named each known mistake (a key of MISTAKES).
    """

    exercise: str
    passed: int = 0
    total: int = 0
    lines: list[str] = field(default_factory=list)
    reason: str | None = None
    unreadable: bool = False
    mistakes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def did_not_run(cls, exercise: str, reason: str) -> Verdict:
        return cls(exercise, lines=[f"{DID_NOT_RUN}: {reason}"], reason=reason)

    @property
    def ran(self) -> bool:
        return self.reason is None

    def add(self, failure: CheckFailed | None) -> None:
        self.total += 1
        if failure is None:
            self.passed += 1
            return
        self.lines.append(hidden_line(failure))
        self.unreadable = self.unreadable or failure.mistake == protocol.NOT_PLAIN_DATA
        if failure.mistake in MISTAKES:
            self.mistakes[failure.mistake] = self.mistakes.get(failure.mistake, 0) + 1

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

    def record(self, points: float) -> HiddenChecksRecord:
        """What the summary needs to know, as data (written into the cell's metadata)."""
        return HiddenChecksRecord(
            ran=self.ran,
            passed=self.passed,
            total=self.total,
            score=self.score(points),
            points=points,
            reason=self.reason,
            unreadable_results=self.unreadable,
            mistakes=dict(self.mistakes),
        )


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
    """The verdict on one test cell's results against its stored answers.

    A judge or check the answers name but the grader does not have
    (:mod:`backprop_autograder.judges`) is refused: the cell scores 0 and says so.
    """
    exercise = entry["exercise"]
    if bundle is None:
        return Verdict.did_not_run(exercise, no_results)
    problem = protocol.bundle_problem(bundle, entry["digest"], entry["count"])
    if problem:
        return Verdict.did_not_run(exercise, problem)
    outcomes = [outcome(result) for result in bundle["results"]]
    try:
        if "judge" in entry:
            spec = entry["judge"]
            failures = lookup(JUDGES, spec.get("name"), "judge")(spec, outcomes)
        else:
            failures = [compare_case(exercise, answer, got) for answer, got in
                        zip(entry["cases"], outcomes, strict=True)]  # fmt: skip
    except UnknownName as unknown:
        return Verdict.did_not_run(exercise, str(unknown))
    verdict = Verdict(exercise)
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
        reason = f"its results could not be judged ({type(error).__name__})"
        return Verdict.did_not_run(entry["exercise"], reason)


def outcome(result: Any) -> Outcome:
    """One case's result as plain data, or a CheckFailed saying why there is none."""
    read = protocol.read_entry(result)
    if read.failed is None:
        return read.value
    mistake = read.mistake if read.mistake in MISTAKES else None
    return CheckFailed(read.failed, what=read.failed, mistake=mistake)


def compare_case(exercise: str, answer: dict[str, Any], got: Outcome) -> CheckFailed | None:
    """Compare one result with its expected answer, as the visible checks compare."""
    if isinstance(got, CheckFailed):
        return got
    try:
        Checks(exercise).expect(
            got,
            protocol.decode(answer["expected"], trusted=True),
            what=answer["what"],
            variants=[
                (key, protocol.decode(value, trusted=True))
                for key, value in answer.get("variants", [])
            ],
            rtol=answer.get("rtol", RTOL),
            atol=answer.get("atol", ATOL),
        )
    except CheckFailed as failure:
        return failure
    except Exception as error:  # a result of a shape no comparison foresaw: wrong, not a crash
        what = f"{answer['what']}: the result could not be compared ({type(error).__name__})"
        return CheckFailed(what, what=what)
    return None


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
            kept.append(out)  # why it did not run, for the student to see
        elif kind == "display_data" and not protocol.carries_bundle(out):
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
    return Verdict.did_not_run(
        exercise,
        "the course directory has no answers for this check; "
        "rebuild the assignment (backprop-grade build)",
    )
