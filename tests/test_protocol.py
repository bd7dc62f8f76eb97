"""The kernel⇄grader protocol: one home, no import circle, verdicts as data.

- ``backprop_course.protocol`` is the one definition of what a test cell holds
  and sends, importable in the sandbox (numpy and the standard library only);
- no module of ``backprop_course`` imports, even inside a function, a module
  that imports it back;
- what grading finds in a cell is written as structured metadata
  (``backprop_autograder.cell_verdicts``), which nbgrader's own steps keep.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.preprocessors import CheckCellMetadata
from traitlets.config.loader import PyFileConfigLoader

import backprop_course
from backprop_autograder import cell_verdicts, scoring
from backprop_autograder.cell_verdicts import KEY, HiddenChecksRecord, LockedChange
from backprop_autograder.preprocessors import ResilientExecute, locked_changes
from backprop_course import protocol

PACKAGE = Path(backprop_course.__file__).parent
ROOT = Path(__file__).resolve().parents[1]


# -- the import graph -----------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom, here: str, modules: set[str]) -> set[str]:
    """The package's modules an import statement names (``from a import b``: a.b if that
    is a module, else a)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: from the package ``here`` is in
            package = here.split(".")[: -node.level] if node.level else []
            base = ".".join([*package, *([base] if base else [])])
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                 for alias in node.names]  # fmt: skip
    return {name for name in names if name in modules and name != here}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its code (inside functions
    too: an import that runs later still closes a circle)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text())
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= imported(node, name, set(paths))
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == "open":
                return [*path[path.index(other) :], other]
            if other not in state:
                found = visit(other)
                if found:
                    return found
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_circles_through_function_level_imports():
    source = "def f():\n    from backprop_course import b\n"
    tree = ast.parse(source)
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    modules = {"backprop_course", "backprop_course.a", "backprop_course.b"}
    assert imported(node, "backprop_course.a", modules) == {"backprop_course.b"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_of_the_course_package_imports_itself_round_a_circle():
    graph = import_graph()
    assert "backprop_course.protocol" in graph and "backprop_course.checking" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_protocol_imports_numpy_and_the_standard_library_only():
    """The kernel imports it inside the sandbox, the grader in its own process: at import
    time it needs nothing of the course (the trusted decoder's functions come later)."""
    tree = ast.parse((PACKAGE / "protocol.py").read_text())
    at_import = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {alias.name for node in at_import if isinstance(node, ast.Import)
             for alias in node.names}  # fmt: skip
    names |= {node.module for node in at_import if isinstance(node, ast.ImportFrom)}
    roots = {name.split(".")[0] for name in names}
    assert roots - {"numpy", "__future__"} <= set(sys.stdlib_module_names), roots
    assert "numpy" in roots


def test_checking_does_not_reach_the_replay_machinery():
    graph = import_graph()
    reached, todo = set(), ["backprop_course.checking"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += graph.get(module, ())
    assert not reached & {"backprop_course.replay", "backprop_course.stand_ins",
                          "backprop_course.protocol", "backprop_course.grading"}  # fmt: skip


# -- the protocol's round trips -------------------------------------------------------------------


def test_a_bundle_the_kernel_makes_is_found_and_read_by_the_grader():
    payload = protocol.pack([{"args": [protocol.encode(np.eye(2))]}] * 2)
    results = [
        protocol.value_entry(protocol.encode((np.arange(3.0), {"k": [1, "x"]}))),
        protocol.failure_entry("f is not written yet" * 100, "not_a_mistake_key"),
    ]
    bundle = protocol.results_bundle("f", payload, results)
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "✔\n"},
        {"output_type": "display_data", "data": {protocol.RESULTS_MIME: bundle}, "metadata": {}},
    ]
    found = protocol.find_bundle(outputs)
    assert protocol.bundle_problem(found, protocol.payload_digest(payload), 2) is None
    assert protocol.bundle_problem(found, "0" * 16, 2) is not None
    assert protocol.bundle_problem(found, protocol.payload_digest(payload), 3) is not None
    value, failure = (protocol.read_entry(entry) for entry in found["results"])
    assert value.failed is None and np.array_equal(value.value[0], np.arange(3.0))
    assert value.value[1] == {"k": [1, "x"]}
    assert len(failure.failed) == protocol.MAX_TEXT and failure.mistake == "not_a_mistake_key"
    assert scoring.outcome(found["results"][1]).mistake is None  # only known mistakes count
    assert protocol.read_entry({"failed": ["not", "text"]}).failed == "a malformed result"


# -- verdicts as cell metadata --------------------------------------------------------------------


def _test_cell(grade_id: str, source: str = "check.f(f)", **meta) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "points": 2, "grade_id": grade_id, "schema_version": 3,
                                 **meta}  # fmt: skip
    return cell


def _locked_markdown(grade_id: str, source: str) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                 "grade_id": grade_id, "schema_version": 3}  # fmt: skip
    return cell


def test_locked_changes_name_each_kind_in_the_assignments_order():
    released = [
        _locked_markdown("intro", "# Lesson"),
        _test_cell("check_a"),
        _test_cell("check_b"),
        _test_cell("check_c"),
        _test_cell("check_d"),
        _test_cell("check_e"),
    ]
    retyped = new_markdown_cell("check.b(b)", metadata=released[2].metadata)
    submitted = [
        new_code_cell("def a(): pass"),
        _test_cell("check_e", points=100),
        _test_cell("check_d"),
        retyped,
        _test_cell("check_c", source="pass"),
        _test_cell("check_bonus"),  # check_a relabelled
    ]
    submitted[0].metadata["nbgrader"] = ["not", "a", "dict"]
    assert locked_changes(submitted, released) == [
        LockedChange("intro", "deleted"),
        LockedChange("check_a", "deleted"),
        LockedChange("check_b", "retyped", "markdown"),
        LockedChange("check_c", "edited"),
        LockedChange("check_e", "metadata_changed"),
    ]


def test_verdicts_are_read_back_from_cells_and_from_the_notebook():
    nb = new_notebook(cells=[_test_cell("check_a"), new_code_cell("loop()"), _test_cell("check_b")])
    nb.cells[1].metadata[KEY] = {"stopped": "forged"}  # brought by the submission
    nb.metadata[KEY] = {"locked_changes": [{"grade_id": "check_b", "change": "deleted"}]}
    cell_verdicts.clear(nb)
    assert cell_verdicts.read_verdicts(nb) == [] and not cell_verdicts.locked_cells_compared(nb)
    cell_verdicts.note_locked_changes(
        nb, [LockedChange("intro", "deleted"), LockedChange("check_b", "retyped", "markdown")]
    )
    cell_verdicts.mark_locked_changes(nb)
    cell_verdicts.note_stopped(nb.cells[1], "timed_out")
    record = HiddenChecksRecord(False, 0, 0, 0.0, 2.0, "NameError: f", unreadable_results=True)
    cell_verdicts.note_hidden_checks(nb.cells[0], record)
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # as written to disk, and validated
    verdicts = cell_verdicts.read_verdicts(nb)
    assert [(v.name, v.stopped, v.locked_change) for v in verdicts] == [
        ("check_a", None, None),
        ("cell 1", "timed_out", None),
        ("check_b", None, "retyped"),
        ("intro", None, "deleted"),
    ]
    assert verdicts[0].hidden_checks == record and verdicts[2].submitted_cell_type == "markdown"
    assert verdicts[3].index is None and cell_verdicts.locked_cells_compared(nb)
    cell_verdicts.note_stopped(nb.cells[1], None)
    assert KEY not in nb.cells[1].metadata
    with pytest.raises(ValueError):
        cell_verdicts.note_stopped(nb.cells[1], "bored")


def test_the_named_mistakes_are_read_back_and_older_records_read_as_none():
    nb = new_notebook(cells=[_test_cell("check_a"), _test_cell("check_b"), _test_cell("check_c")])
    record = HiddenChecksRecord(True, 1, 4, 0.5, 2.0, mistakes={"transposed": 2, "flipped_sign": 1})
    cell_verdicts.note_hidden_checks(nb.cells[0], record)
    older = {"ran": True, "passed": 3, "total": 3, "score": 2.0, "points": 2.0}  # no "mistakes"
    nb.cells[1].metadata[KEY] = {"hidden_checks": older}
    junk = {"transposed": "2", "flipped_sign": 0, "missing_1_over_m": True, "": 1, "ok": 3}
    nb.cells[2].metadata[KEY] = {"hidden_checks": {**older, "mistakes": junk}}
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # as written to disk, and validated
    a, b, c = (verdict.hidden_checks for verdict in cell_verdicts.read_verdicts(nb))
    assert a == record and a.mistakes == {"transposed": 2, "flipped_sign": 1}
    assert b.mistakes == {} and (b.passed, b.total) == (3, 3)
    assert c.mistakes == {"ok": 3}  # only a name with a positive count
    nb.cells[2].metadata[KEY]["hidden_checks"]["mistakes"] = ["transposed"]
    assert cell_verdicts.read_verdicts(nb)[2].hidden_checks.mistakes == {}


def test_nbgraders_own_steps_keep_the_verdicts():
    """The course's configuration keeps them through ClearMetadataPreprocessor (when it is
    enabled), and nbgrader's CheckCellMetadata accepts them."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    nb = new_notebook(cells=[_test_cell("check_a")])
    cell_verdicts.note_stopped(nb.cells[0], "killed_kernel")
    cell_verdicts.note_locked_changes(nb, [LockedChange("intro", "deleted")])
    nb.cells[0].metadata["scrolled"] = True
    clear = ClearMetadataPreprocessor(config=config, enabled=True)
    nb, _ = clear.preprocess(nb, {})
    assert set(nb.cells[0].metadata) == {"nbgrader", KEY}
    assert cell_verdicts.read_verdicts(nb)[0].stopped == "killed_kernel"
    assert cell_verdicts.recorded_locked_changes(nb) == [LockedChange("intro", "deleted")]
    CheckCellMetadata().preprocess(nb, {})


def test_a_cell_that_runs_out_of_time_says_so_in_its_metadata(tmp_path):
    nb = new_notebook(cells=[new_code_cell("import time\ntime.sleep(60)"), new_code_cell("1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells[1].metadata[KEY] = {"stopped": "timed_out"}  # left by an earlier run
    executor = ResilientExecute(timeout=2)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert [verdict.stopped for verdict in cell_verdicts.read_verdicts(nb)] == ["timed_out"]
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "1"
