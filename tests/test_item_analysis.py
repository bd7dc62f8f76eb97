"""What the class got wrong: the item analysis (``backprop_autograder.item_analysis``).

The demo class of lesson 01 (the session's ``demo_run``) is graded, and its
report written, as ``make demo-grading`` does. Its numbers are checked against
what is known independently of the report: the demo's students, the
misconception each ``mistake-*`` and ``common-*`` student hands in and the
mistakes its hidden checks name when run in this process, and the grades CSV
(shares, means, and the discrimination index by numpy). Then the computations
on small hand-made classes, and the page's safety.
"""

from __future__ import annotations

import base64
import csv
import re
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest

from backprop_autograder import cell_verdicts, demo, inprocess, item_analysis
from backprop_autograder.assemble import DEFAULT_SEED, hidden_checks
from backprop_autograder.cell_verdicts import HiddenChecksRecord
from backprop_autograder.item_analysis import ClassRecords
from backprop_autograder.lessons import lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS, Misconception
from backprop_autograder.scoring import mistake_title

pytestmark = [
    pytest.mark.grading,
    pytest.mark.slow,
    pytest.mark.xdist_group("demo_class"),
]  # they share demo_run

LESSON = lesson("01_forward_pass")
PNG = b"\x89PNG\r\n\x1a\n"
DATA_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


# -- what is known about the demo class, without the report ---------------------------------


def recognised(case: Misconception) -> set[str]:
    """The mistakes the hidden checks name in ``case``'s wrong answer, graded in this process
    (:mod:`backprop_autograder.inprocess`) with the seed the demo's course is built with."""
    namespace = inprocess.student_namespace(LESSON, case.source)
    checks = hidden_checks(case.exercise, LESSON.hidden(), DEFAULT_SEED)
    return set(inprocess.hidden_verdict(namespace, case.exercise, checks).mistakes)


def known_mistakes() -> dict[str, set[str]]:
    """Mistake key -> the demo students whose answers the hidden checks should name it in:
    each mistake-* student hands in one misconception, the common-* students the lesson's
    first (each key of lesson 01 is one student's, so the first is the most common)."""
    cases = [case for case in MISCONCEPTIONS if case.topic == LESSON.topic]
    assert len({case.mistake for case in cases}) == len(cases)
    roster = set(demo.students(LESSON))
    common = {student for student in roster if student.startswith("common-")}
    first = cases[0]
    assert len(common) == 2
    assert all(s.endswith(f"-{first.mistake}-{first.exercise}".replace("_", "-")) for s in common)
    known: dict[str, set[str]] = {}
    for case in cases:
        student = f"mistake-{case.mistake}-{case.exercise}".replace("_", "-")
        assert student in roster
        for key in recognised(case):
            known.setdefault(key, set()).update({student} | (common if case is first else set()))
    # Most of them are named by the hidden checks, each only as itself, the common one too.
    named = [case for case in cases if case.mistake in known]
    assert len(named) >= len(cases) - 2 and first in named
    assert all(recognised(case) <= {case.mistake} for case in cases)
    return known


def sections(path: Path) -> dict[str, list[dict[str, str]]]:
    """The report CSV's rows by section."""
    with path.open(encoding="utf-8") as f:
        found: dict[str, list[dict[str, str]]] = {}
        for row in csv.DictReader(f):
            found.setdefault(row["section"], []).append(row)
    return found


def grades(out: Path) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The exercise columns of the grades CSV, and each student's row."""
    with (out / f"grades_{LESSON.name}.csv").open() as f:
        reader = csv.DictReader(f)
        rows = {row["student_id"]: {k: float(v) for k, v in row.items() if k != "student_id"}
                for row in reader}  # fmt: skip
        columns = reader.fieldnames[1:]
    points = notebook_points()
    return [name for name in columns if name in points], rows


def notebook_points() -> dict[str, float]:
    nb = nbformat.read(LESSON.notebook, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"].removeprefix("check_"): c.metadata["nbgrader"]["points"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def report_files(demo_run) -> tuple[str, dict[str, list[dict[str, str]]]]:
    out, _ = demo_run
    page = (out / f"report_{LESSON.name}.html").read_text(encoding="utf-8")
    return page, sections(out / f"report_{LESSON.name}.csv")


# -- the demo class ------------------------------------------------------------------------------


def test_every_known_mistake_is_counted_once_per_student_the_common_one_first(demo_run):
    _, found = report_files(demo_run)
    known = known_mistakes()
    rows = found["misconception"]
    reported = {row["name"]: row["who"].split("; ") for row in rows}
    assert all(len(set(who)) == len(who) for who in reported.values())  # each student once
    assert {key: set(who) for key, who in reported.items()} == known  # exactly these, no other
    assert {row["name"]: int(row["students"]) for row in rows} == {
        key: len(students) for key, students in known.items()
    }
    common = next(case for case in MISCONCEPTIONS if case.topic == LESSON.topic)
    assert rows[0]["name"] == common.mistake and int(rows[0]["students"]) == 3
    assert all(int(row["students"]) == 1 for row in rows[1:])
    for row in rows:
        assert row["title"] == mistake_title(row["name"])
        exercises = {case.exercise for case in MISCONCEPTIONS
                     if case.topic == LESSON.topic and case.mistake == row["name"]}  # fmt: skip
        assert row["exercises"].split("; ") == sorted(exercises)
    n = len(grades(demo_run[0])[1])
    assert float(rows[0]["share"]) == pytest.approx(3 / n, abs=1e-5)


def test_each_misconception_names_the_heading_that_teaches_its_exercise(demo_run):
    _, found = report_files(demo_run)
    cells = nbformat.read(LESSON.notebook, as_version=4).cells
    for row in found["misconception"]:
        exercise, heading = row["exercises"], row["lesson_sections"]
        where = next(i for i, c in enumerate(cells)
                     if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)  # fmt: skip
        above = [c.source for c in cells[:where] if c.cell_type == "markdown"
                 and re.search(r"^#+ ", c.source, re.M)]  # fmt: skip
        last = [line for line in above[-1].splitlines() if line.startswith("#")][-1]
        assert last.lstrip("#").strip() == heading, (exercise, heading)
    assert found["misconception"][0]["lesson_sections"] == "3.2 The sigmoid's derivative"


def test_exercise_numbers_equal_those_of_the_grades_csv(demo_run):
    out, _ = demo_run
    _, found = report_files(demo_run)
    columns, rows = grades(out)
    points = notebook_points()
    students = sorted(rows)
    table = np.array([[rows[s][name] for name in columns] for s in students])
    reported = {row["name"]: row for row in found["exercise"]}
    assert list(reported) == columns == list(points)
    partial_somewhere = False
    for j, name in enumerate(columns):
        row, x = reported[name], table[:, j]
        rest = table.sum(axis=1) - x
        full, zero = np.mean(x == points[name]), np.mean(x == 0)
        partial_somewhere |= 1 - full - zero > 0
        assert float(row["points"]) == points[name]
        assert int(row["students"]) == len(students)
        assert float(row["mean"]) == pytest.approx(x.mean(), abs=1e-5)
        assert float(row["full"]) == pytest.approx(full, abs=1e-5)
        assert float(row["zero"]) == pytest.approx(zero, abs=1e-5)
        assert float(row["partial"]) == pytest.approx(1 - full - zero, abs=1e-5)
        if x.std() == 0 or rest.std() == 0:
            assert row["discrimination"] == ""
        else:
            r = np.corrcoef(x, rest)[0, 1]
            assert float(row["discrimination"]) == pytest.approx(r, abs=1e-5), name
            assert not np.isclose(r, np.corrcoef(x, table.sum(axis=1))[0, 1])  # rest, not total
    assert partial_somewhere  # some exercise's share is neither all nor nothing


def test_students_who_need_attention_are_the_ones_in_trouble(demo_run):
    _, found = report_files(demo_run)
    flagged = {row["name"]: row["title"] for row in found["attention"]}
    for student in ("blank", "half-finished"):
        assert "under 50% of the points" in flagged[student]
    for student in ("kernel-killer", "segfault"):
        assert "killed the kernel" in flagged[student]
    assert "ran out of time" in flagged["infinite-loop"]
    assert "was edited" in flagged["edited-tests"]
    assert "deleted or relabelled" in flagged["deleted-tests"]
    assert "0 where most others got full marks: dense_forward" in flagged[
        "mistake-transposed-dense-forward"]  # fmt: skip
    assert "perfect" not in flagged and "warnings-only" not in flagged
    totals = [float(row["total"]) for row in found["attention"]]
    assert totals == sorted(totals)  # the lowest totals first


def test_the_page_is_self_contained_and_shows_the_figures_and_the_tables(demo_run):
    page, found = report_files(demo_run)
    assert not re.search(r"<script|javascript:|\bon\w+\s*=", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    figures = DATA_PNG.findall(page)
    assert len(figures) == 1 + len(found["exercise"])  # the totals, then one per exercise
    assert all(base64.b64decode(figure).startswith(PNG) for figure in figures)
    first = re.search(r'<table id="misconceptions">.*?<tbody><tr>(.*?)</tr>', page, re.S)[1]
    common = next(case for case in MISCONCEPTIONS if case.topic == LESSON.topic)
    assert mistake_title(common.mistake).replace("'", "&#x27;") in first
    assert "<td class='num'>3</td>" in first
    for row in found["exercise"]:
        assert f"<td>{row['name']}</td>" in page
    for word in ("Discrimination", "n/a", "Full / partial / zero", "counted once"):
        assert word in page


def test_reading_the_class_again_gives_the_same_report(demo_run):
    out, _ = demo_run
    again = out / "again"
    analysis = item_analysis.write_report(out / "course", LESSON.name, again)
    assert (again / f"report_{LESSON.name}.csv").read_text() == (
        out / f"report_{LESSON.name}.csv").read_text()  # fmt: skip
    assert set(analysis.totals) == set(grades(out)[1])


# -- the computations, on hand-made classes ------------------------------------------------------


def records(scores, mistakes=None, incidents=None, exercises=None, sections=None):
    exercises = exercises or {"a": 1.0, "b": 2.0, "c": 2.0}
    return ClassRecords("lesson", exercises, scores, mistakes or {}, incidents or {},
                        sections or {})  # fmt: skip


def test_discrimination_is_pearsons_r_with_the_rest_and_undefined_without_variance():
    x, rest = [0.0, 1.0, 1.0, 0.5], [1.0, 3.0, 2.0, 2.5]
    assert item_analysis.discrimination(x, rest) == pytest.approx(np.corrcoef(x, rest)[0, 1])
    assert item_analysis.discrimination([1, 1, 1], [0, 1, 2]) is None  # everyone full
    assert item_analysis.discrimination([0, 1, 2], [3, 3, 3]) is None  # the rest the same
    assert item_analysis.discrimination([1], [2]) is None
    assert item_analysis.discrimination([0, 1, 2], [2, 1, 0]) == pytest.approx(-1.0)


def test_exercise_stats_shares_mean_and_the_rest_of_the_total():
    scores = {
        "ann": {"a": 1.0, "b": 2.0, "c": 2.0},
        "bob": {"a": 1.0, "b": 1.0, "c": 0.0},
        "cy": {"a": 1.0, "b": 0.0, "c": 1.33},
        "dee": {"a": 1.0, "b": 0.67, "c": 2.0},
    }
    a, b, c = item_analysis.exercise_stats(records(scores))
    assert a.discrimination is None and (a.full, a.partial, a.zero, a.mean) == (1, 0, 0, 1)
    assert (b.full, b.partial, b.zero) == (0.25, 0.5, 0.25)
    assert b.mean == pytest.approx(3.67 / 4)
    students = sorted(scores)
    x = [scores[s]["b"] for s in students]
    rest = [scores[s]["a"] + scores[s]["c"] for s in students]  # a is constant: r(b, c)
    assert b.discrimination == pytest.approx(np.corrcoef(x, rest)[0, 1])
    assert b.discrimination != pytest.approx(
        np.corrcoef(x, [sum(scores[s].values()) for s in students])[0, 1]
    )
    assert (c.full, c.partial, c.zero) == (0.5, 0.25, 0.25)
    html = item_analysis.render_html(item_analysis.analyse(records(scores)))
    rows = dict(re.findall(r"<tr><td>(\w)</td>(.*?)</tr>", html, re.S))
    assert "n/a" in rows["a"] and "n/a" not in rows["b"] + rows["c"]


def test_a_student_counts_once_per_mistake_and_the_most_common_comes_first():
    exercises = {"a": 1.0, "b": 1.0, "c": 1.0}
    scores = {s: {"a": 0.0, "b": 0.0, "c": 0.0} for s in ("p", "q", "r", "s")}
    mistakes = {
        "p": {"transposed": ("a", "c"), "flipped_sign": ("b",)},  # one student, two exercises
        "q": {"transposed": ("c",)},
        "r": {"missing_1_over_m": ("b",), "flipped_sign": ("b",)},
        "s": {"missing_biases": ("a",)},
    }
    sections = {"a": "1. First", "b": "2. Second", "c": "3. Third"}
    found = item_analysis.misconception_stats(
        records(scores, mistakes, exercises=exercises, sections=sections)
    )
    assert [(m.key, m.count) for m in found] == [
        ("transposed", 2),  # 2 students (p in two exercises counts once), first in a
        ("flipped_sign", 2),  # 2 students, first in b
        ("missing_biases", 1),  # 1 student, in a: before b
        ("missing_1_over_m", 1),
    ]
    transposed = found[0]
    assert transposed.students == ("p", "q") and transposed.exercises == ("a", "c")
    assert transposed.sections == ("1. First", "3. Third")
    assert transposed.title == mistake_title("transposed")


def test_attention_is_a_low_total_a_zero_most_others_got_or_an_incident():
    exercises = {"a": 1.0, "b": 1.0}
    scores = {
        "full": {"a": 1.0, "b": 1.0},
        "half": {"a": 1.0, "b": 0.0},  # exactly half: not low; b: 1 of the 3 others full
        "low": {"a": 0.0, "b": 0.5},  # under half, and 0 on a, which all 3 others got
        "odd": {"a": 1.0, "b": 0.9},
    }
    incidents = {"odd": ["check_b was edited; the original was graded"]}
    found = item_analysis.needs_attention(records(scores, incidents=incidents, exercises=exercises))
    assert [(a.student, a.reasons) for a in found] == [
        ("low", ("total 0.5 of 2, under 50% of the points",
                 "0 where most others got full marks: a")),
        ("odd", ("check_b was edited; the original was graded",)),  # total 1.9
    ]  # fmt: skip


def test_the_section_of_an_exercise_is_the_nearest_heading_above_it():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lesson\n## 1. Intro"),
        nbformat.v4.new_markdown_cell("Some prose, no heading."),
        _graded(nbformat.v4.new_code_cell("def f(): ..."), "f"),
        _graded(nbformat.v4.new_code_cell("check.f(f)"), "check_f"),
        nbformat.v4.new_markdown_cell("## 2. Next\n### 2.1 *The* part ##\ntext"),
        _graded(nbformat.v4.new_code_cell("check.g(g)"), "check_g"),  # no answer cell
    ]
    assert item_analysis.section_headings(nb) == {"f": "1. Intro", "g": "2.1 *The* part"}


def _graded(cell, grade_id):
    cell.metadata["nbgrader"] = {"grade_id": grade_id}
    return cell


def test_the_mistakes_are_read_from_the_recorded_verdicts_not_the_messages():
    nb = nbformat.v4.new_notebook()
    nb.cells = [_graded(nbformat.v4.new_code_cell(""), f"check_{name}") for name in "abc"]
    counts = [{"transposed": 3, "not_a_key": 1}, {"transposed": 1, "flipped_sign": 2}, {}]
    for cell, mistakes in zip(nb.cells, counts, strict=True):
        cell_verdicts.note_hidden_checks(cell, HiddenChecksRecord(True, 0, 3, 0, 1, None,
                                                                  False, mistakes))  # fmt: skip
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="likely mistake: transposed")]
    assert item_analysis.recorded_mistakes(nb) == {
        "transposed": ("a", "b"),
        "flipped_sign": ("b",),
    }


EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_student_controlled_text_is_escaped_on_the_page_and_inert_in_the_csv(tmp_path):
    formula = "=HYPERLINK(1)"
    scores = {EVIL: {"a": 0.0, "b": 0.0, "c": 0.0}, formula: {"a": 1.0, "b": 2.0, "c": 1.0},
              "ok": {"a": 1.0, "b": 2.0, "c": 2.0}}  # fmt: skip
    mistakes = {EVIL: {"transposed": ("a",)}, formula: {"flipped_sign": ("c",)}}
    incidents = {EVIL: [f"the hidden checks of check_a sent no results: {EVIL}"]}
    analysis = item_analysis.analyse(records(scores, mistakes, incidents))
    page = item_analysis.render_html(analysis)
    assert "<script" not in page.lower() and "<img src=x" not in page
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert page.count(escaped) == 3  # among who made a mistake, who needs attention, and why
    assert f"no results: {escaped}" in page
    item_analysis.write_csv(analysis, tmp_path / "report.csv")
    rows = sections(tmp_path / "report.csv")
    assert {row["name"]: row["who"] for row in rows["misconception"]} == {
        "transposed": EVIL,  # kept as it is: a CSV is data, not a page
        "flipped_sign": "'" + formula,  # but never a formula for a spreadsheet
    }
    assert Counter(row["name"] for row in rows["attention"]) == Counter([EVIL])
