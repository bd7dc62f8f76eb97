"""Course notebook + reference answers + hidden checks -> nbgrader source notebook.

The steps, one function each:

1. :func:`solve_cell`: in every exercise cell, each function's stub body
   (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) becomes the body of
   the reference function of the same name, between ``### BEGIN SOLUTION`` and
   ``### END SOLUTION``. nbgrader's ClearSolutions turns it back into the stub.
2. :func:`add_hidden_checks`: every test cell ``check.<name>(<name>)`` gets the
   hidden checks of ``<name>`` between ``### BEGIN HIDDEN TESTS`` and
   ``### END HIDDEN TESTS``: cases recorded from the reference now, replayed
   in the grading kernel without it. nbgrader's ClearHiddenTests removes them.

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
from pathlib import Path
from types import ModuleType

import nbformat
import numpy as np

from backprop_autograder.cases import HiddenCode
from backprop_autograder.lessons import Lesson, lesson
from backprop_course.replay import pack

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


def hidden_code(name: str, hidden: ModuleType, seed: int) -> str:
    """The hidden part of ``name``'s test cell, from the lesson's hidden-check module."""
    make = getattr(hidden, name, None)
    if make is None:
        raise AssemblyError(
            f"no hidden checks for {name}: add a function {name}(rng) to {hidden.__file__}"
        )
    # The same seed always gives the same cases; each exercise draws its own stream.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    cases = make(rng)
    if isinstance(cases, HiddenCode):
        return str(cases)
    return f'from backprop_course.replay import replay as _replay\n_replay({name}, "{pack(cases)}")'


def add_hidden_checks(nb: nbformat.NotebookNode, hidden: ModuleType, seed: int) -> None:
    """Wrap every test cell for partial credit and append its hidden checks.

    A hidden region before the visible check opens a grading session (see
    :mod:`backprop_course.grading`); the one after runs the hidden cases and
    ends with the points earned, the cell's value, which nbgrader takes as
    the cell's partial credit.
    """
    for cell in nb.cells:
        if is_test(cell):
            name = tested_name(cell)
            points = nbgrader_meta(cell)["points"]
            opening = (
                "from backprop_course import grading as _grading\n"
                f'_grading.begin("{name}", points={points})'
            )
            closing = (
                f"_grading.hidden_part()\n{hidden_code(name, hidden, seed)}\n_grading.finish()"
            )
            cell.source = (
                f"{BEGIN_HIDDEN}\n{opening}\n{END_HIDDEN}\n{cell.source}\n"
                f"{BEGIN_HIDDEN}\n{closing}\n{END_HIDDEN}"
            )


def source_notebook(the_lesson: Lesson, seed: int = DEFAULT_SEED) -> nbformat.NotebookNode:
    """The nbgrader source notebook of a lesson: answers and hidden checks in place."""
    nb = nbformat.read(the_lesson.notebook, as_version=4)
    nb = solved(nb, the_lesson.reference())
    add_hidden_checks(nb, the_lesson.hidden(), seed)
    return nb


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
        nb = source_notebook(the_lesson, args.seed)
    nbformat.write(nb, args.output)


if __name__ == "__main__":
    main()
