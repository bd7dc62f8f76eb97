"""Course notebook + reference answers + hidden checks -> nbgrader source notebook.

The steps, one function each:

1. :func:`solve_cell`: in every exercise cell, each function's stub body
   (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) becomes the body of
   the reference function of the same name, between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION``. nbgrader's ClearSolutions turns it back into the stub.
2. :func:`add_hidden_checks`: every test cell ``check.<name>(<name>)`` gets the
   hidden checks of ``<name>`` between ``### BEGIN HIDDEN TESTS`` and
   ``### END HIDDEN TESTS``: the inputs of cases drawn now, which the grading
   kernel runs the student's function on. Their expected results, computed
   now by the reference, go to the grader only (:class:`HiddenChecks`).
   nbgrader's ClearHiddenTests removes the hidden parts from the release.

Nothing is written twice: prose and stubs live in ``course/``, answers in
``solutions/``, hidden checks in ``autograder/backprop_autograder/hidden/``.

    python -m backprop_autograder.assemble --solved course/01_forward_pass.ipynb out.ipynb
"""

from __future__ import annotations

import argparse
import ast
import copy
import inspect
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np

from backprop_autograder.cases import Judged
from backprop_autograder.lessons import Lesson, lesson
from backprop_course.checking import describe_call
from backprop_course.protocol import decode, pack, payload_digest

STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
DEFAULT_SEED = 2026


class AssemblyError(ValueError):
    """The course, the reference and the hidden checks do not fit together."""


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(nbgrader_meta(cell).get("solution"))


def is_test(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and bool(nbgrader_meta(cell).get("grade"))


# -- step 1: answers into the stubs ------------------------------------------------


def stub_functions(source: str) -> list[ast.FunctionDef]:
    """The functions of a cell whose body, after the docstring, is the stub."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            lines = source.splitlines()[node.body[0].lineno - 1 : node.end_lineno]
            code = [line.strip() for line in lines if line.strip()]
            if tuple(code[-2:]) == STUB:
                found.append(node)
    return found


def reference_body(function: object) -> list[str]:
    """The reference function's body, docstring removed, dedented to column 0."""
    original = inspect.unwrap(function)
    source = textwrap.dedent(inspect.getsource(original))
    node = ast.parse(source).body[0]
    body = node.body
    start = body[0].end_lineno if ast.get_docstring(node) is not None else body[0].lineno - 1
    lines = source.splitlines()[start : node.end_lineno]
    while lines and not lines[0].strip():
        lines.pop(0)
    return textwrap.dedent("\n".join(lines)).splitlines()


def signature_text(node: ast.FunctionDef) -> list[tuple[str, str, str | None]]:
    """(kind, name, default source) per parameter: what must match between stub and reference."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [
        ("positional", a.arg, ast.unparse(d) if d is not None else None)
        for a, d in zip(positional, defaults, strict=True)
    ]
    params += [
        ("keyword", a.arg, ast.unparse(d) if d is not None else None)
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.vararg:
        params.append(("*", args.vararg.arg, None))
    if args.kwarg:
        params.append(("**", args.kwarg.arg, None))
    return params


def reference_function(module: ModuleType, name: str) -> object:
    function = getattr(module, name, None)
    if not callable(function):
        raise AssemblyError(
            f"the exercise {name}() has no reference function {module.__name__}.{name}: "
            f"add it to {module.__file__} (one function per exercise, same signature)"
        )
    return function


def check_signature(stub: ast.FunctionDef, function: object, module: ModuleType) -> None:
    source = textwrap.dedent(inspect.getsource(inspect.unwrap(function)))
    reference = ast.parse(source).body[0]
    assert isinstance(reference, ast.FunctionDef)
    if signature_text(stub) != signature_text(reference):
        raise AssemblyError(
            f"the exercise {stub.name}{_show(stub)} and the reference "
            f"{module.__name__}.{stub.name}{_show(reference)} must have the same signature"
        )


def _show(node: ast.FunctionDef) -> str:
    return "(" + ast.unparse(node.args) + ")"


def solve_cell(source: str, module: ModuleType) -> str:
    """Replace every stub body in ``source`` by its reference body inside solution markers."""
    lines = source.splitlines()
    stubs = stub_functions(source)
    if not stubs:
        raise AssemblyError(
            f"an exercise cell has no function whose body is the stub {STUB!r}:\n{source}"
        )
    # From the bottom up, so earlier line numbers stay valid.
    for stub in sorted(stubs, key=lambda node: node.lineno, reverse=True):
        function = reference_function(module, stub.name)
        check_signature(stub, function, module)
        marker = _stub_line(lines, stub)
        indent = lines[marker][: len(lines[marker]) - len(lines[marker].lstrip())]
        body = [indent + line if line.strip() else "" for line in reference_body(function)]
        lines[marker : marker + 2] = [indent + BEGIN_SOLUTION, *body, indent + END_SOLUTION]
    return "\n".join(lines)


def _stub_line(lines: list[str], stub: ast.FunctionDef) -> int:
    for i in range(stub.lineno, stub.end_lineno):
        if lines[i].strip() == STUB[0] and lines[i + 1].strip() == STUB[1]:
            return i
    raise AssemblyError(f"{stub.name}: the stub lines {STUB!r} must follow each other")


def solved(nb: nbformat.NotebookNode, module: ModuleType) -> nbformat.NotebookNode:
    """A copy of ``nb`` with every exercise answered from ``module``."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if is_exercise(cell):
            cell.source = solve_cell(cell.source, module)
    return nb


# -- step 2: hidden checks into the test cells ----------------------------------------


def tested_name(cell: nbformat.NotebookNode) -> str:
    """The exercise a test cell checks: its grade_id is check_<name>."""
    grade_id = nbgrader_meta(cell).get("grade_id", "")
    if not grade_id.startswith("check_"):
        raise AssemblyError(f"test cell {grade_id!r}: grade ids of tests are check_<function>")
    return grade_id.removeprefix("check_")


@dataclass
class HiddenChecks:
    """An exercise's hidden checks, split by who may see what.

    ``payload``: the cases' inputs, packed into the test cell for the grading
    kernel. ``answers``: what they expect, for the grader alone (see
    :mod:`backprop_autograder.scoring`); it never enters the notebook.
    """

    payload: str
    answers: dict[str, Any]


# What the kernel needs to run a case; everything else stays with the grader.
KERNEL_KEYS = ("args", "kwargs", "isolate", "graph", "observe", "calls", "callback", "fresh")


def hidden_checks(name: str, hidden: ModuleType, seed: int) -> HiddenChecks:
    """Draw ``name``'s hidden cases from the lesson's hidden-check module and split them."""
    make = getattr(hidden, name, None)
    if make is None:
        raise AssemblyError(
            f"no hidden checks for {name}: add a function {name}(rng) to {hidden.__file__}"
        )
    # The same seed always gives the same cases; each exercise draws its own stream.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    made = make(rng)
    cases = made.cases if isinstance(made, Judged) else made
    payload = pack([{k: case[k] for k in KERNEL_KEYS if k in case} for case in cases])
    answers: dict[str, Any] = {
        "exercise": name,
        "digest": payload_digest(payload),
        "count": len(cases),
    }
    if isinstance(made, Judged):
        answers["judge"] = made.judge
    else:
        answers["cases"] = [expected_part(name, case) for case in cases]
    return HiddenChecks(payload, answers)


def expected_part(name: str, case: dict[str, Any]) -> dict[str, Any]:
    """The grader's half of a case: expected value, named wrong variants, tolerances, label."""
    part = {k: case[k] for k in ("expected", "variants", "rtol", "atol") if k in case}
    part["what"] = case.get("what") or name + describe_call(
        tuple(decode(a, trusted=True) for a in case["args"]),
        decode(case.get("kwargs", {"dict": {}}), trusted=True),
    )
    return part


def add_hidden_checks(
    nb: nbformat.NotebookNode, hidden: ModuleType, seed: int
) -> dict[str, dict[str, Any]]:
    """Put every test cell's hidden checks in place; return their answers by grade id.

    A hidden line before the visible check marks the cell as graded (its
    failures are then printed, not raised); the hidden part after it runs the
    hidden cases and sends the results out of the kernel, where the grader
    scores them.
    """
    answers = {}
    for cell in nb.cells:
        if is_test(cell):
            name = tested_name(cell)
            checks = hidden_checks(name, hidden, seed)
            answers[nbgrader_meta(cell)["grade_id"]] = checks.answers
            opening = f'from backprop_course import grading as _grading\n_grading.begin("{name}")'
            closing = f'_grading.hidden_results({name}, "{checks.payload}")'
            cell.source = (
                f"{BEGIN_HIDDEN}\n{opening}\n{END_HIDDEN}\n{cell.source}\n"
                f"{BEGIN_HIDDEN}\n{closing}\n{END_HIDDEN}"
            )
    return answers


def source_notebook(
    the_lesson: Lesson, seed: int = DEFAULT_SEED
) -> tuple[nbformat.NotebookNode, dict[str, dict[str, Any]]]:
    """The nbgrader source notebook of a lesson (answers and hidden checks in place),
    and the hidden checks' expected answers by grade id, for the grader."""
    nb = nbformat.read(the_lesson.notebook, as_version=4)
    nb = solved(nb, the_lesson.reference())
    answers = add_hidden_checks(nb, the_lesson.hidden(), seed)
    return nb, answers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebook", type=Path, help="a course notebook, e.g. course/01_forward_pass.ipynb"
    )
    parser.add_argument("output", type=Path)
    parser.add_argument("--solved", action="store_true", help="answers only, no hidden checks")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    the_lesson = lesson(args.notebook.stem)
    if args.solved:
        nb = solved(nbformat.read(args.notebook, as_version=4), the_lesson.reference())
    else:
        nb, _ = source_notebook(the_lesson, args.seed)
    nbformat.write(nb, args.output)


if __name__ == "__main__":
    main()
