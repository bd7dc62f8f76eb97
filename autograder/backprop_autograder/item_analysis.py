"""What the class got wrong: an item analysis of one graded assignment, for the instructor.

``write_report(course_dir, assignment, out_dir)`` reads what grading left in the
course directory and writes two files into ``out_dir``:

- ``report_<assignment>.html``: one self-contained page (figures as inline PNG,
  no JavaScript, nothing fetched) with the class's misconceptions, most common
  first, each exercise's numbers and score distribution, and the students who
  need attention, each number explained where it is shown;
- ``report_<assignment>.csv``: the same numbers, one row each, in sections told
  apart by the first column, ``section``:

  ``exercise``: ``name`` (the exercise), ``students`` (how many were graded),
  ``points``, ``mean``, ``full``, ``partial`` and ``zero`` (shares of the
  students, 0 to 1), ``discrimination`` (empty when it is undefined, "n/a" on the
  page) and ``lesson_sections`` (the heading above the exercise);
  ``misconception``: ``name`` (the key in ``backprop_course.checking.MISTAKES``),
  ``title``, ``students`` (how many made it), ``share``, ``exercises``,
  ``lesson_sections`` and ``who`` (student ids), lists joined by ``"; "``;
  ``attention``: ``name`` (the student), ``total``, ``points`` (the maximum) and
  ``title`` (the reasons, joined by ``"; "``).

  Text that a spreadsheet would read as a formula (starting with ``=``, ``+``,
  ``-``, ``@``) gets a leading ``'``.

Where the numbers come from: each student's points per exercise from nbgrader's
gradebook (:func:`backprop_autograder.reporting.read_scores`), before any late
penalty, since this is about what was understood; the mistakes the hidden checks
named, from the verdicts grading recorded in each autograded notebook
(:mod:`backprop_autograder.cell_verdicts`), never from the prose of its messages;
the grading problems from :func:`backprop_autograder.reporting.notebook_incidents`; the
lesson section teaching an exercise from the headings of the assignment's source
notebook (the same cells as ``course/<assignment>.ipynb``).

The numbers:

- an exercise's score is *full* at its points, *zero* at 0, *partial* between;
  its *mean* is over the graded students;
- its *discrimination index* is the corrected item-total correlation: Pearson's r
  between the exercise's score and the rest of the total (the total less this
  exercise), over the students; undefined when either does not vary;
- a misconception counts each student who made it once, in however many failed
  cases or exercises;
- a student *needs attention* with a total under half the points
  (:data:`LOW_TOTAL`), with 0 on an exercise that more than half of the others
  (:data:`MOST`) got in full, or with a grading incident.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from backprop_autograder import reporting
from backprop_autograder.cell_verdicts import read_verdicts
from backprop_autograder.course import exercises_of, gradebook_url, load_config
from backprop_autograder.scoring import mistake_title
from backprop_course.checking import MISTAKES

LOW_TOTAL = 0.5  # a total under this share of the points needs attention
MOST = 0.5  # 0 on an exercise more than this share of the others got in full needs attention
TEST_PREFIX = "check_"  # a test cell's grade id is the exercise's name after it
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


# -- what grading left ---------------------------------------------------------------------


@dataclass(frozen=True)
class ClassRecords:
    """One graded assignment, as read from the course directory.

    ``exercises``: exercise -> its points, in the notebook's order; ``scores``:
    student -> exercise -> points; ``mistakes``: student -> mistake key -> the
    exercises whose hidden checks named it; ``incidents``: student -> grading
    problems; ``sections``: exercise -> the heading of the lesson section above it.
    """

    assignment: str
    exercises: dict[str, float]
    scores: dict[str, dict[str, float]]
    mistakes: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    incidents: dict[str, list[str]] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)


def read_class(course_dir: Path, assignment: str, db_url: str | None = None) -> ClassRecords:
    """Scores from the gradebook, mistakes and incidents from the autograded notebooks."""
    course_dir = course_dir.resolve()
    report = reporting.Report(assignment, exercises_of(course_dir, assignment))
    url = db_url or gradebook_url(load_config(course_dir))
    reporting.read_scores(url, assignment, report)
    if not report.scores:
        raise SystemExit(f"no graded submissions of {assignment} in the gradebook: grade first")
    mistakes, incidents = {}, {}
    for student in report.scores:
        path = autograded_notebook(course_dir, assignment, student)
        if not path.exists():
            mistakes[student] = {}
            incidents[student] = ["no autograded notebook: its mistakes are not known"]
            continue
        graded = reporting.read_notebook(path)
        mistakes[student] = recorded_mistakes(graded)
        incidents[student] = reporting.notebook_incidents(graded)
    source = course_dir / "source" / assignment / f"{assignment}.ipynb"
    return ClassRecords(
        assignment=assignment,
        exercises=by_exercise(report.exercises),
        scores={student: by_exercise(row) for student, row in report.scores.items()},
        mistakes=mistakes,
        incidents=incidents,
        sections=section_headings(nbformat.read(source, as_version=4)),
    )


def autograded_notebook(course_dir: Path, assignment: str, student: str) -> Path:
    return course_dir / "autograded" / student / assignment / f"{assignment}.ipynb"


def by_exercise(by_grade_id: dict[str, float]) -> dict[str, float]:
    """Test cell grade id -> value, as exercise -> value."""
    return {exercise_name(grade_id): value for grade_id, value in by_grade_id.items()}


def exercise_name(grade_id: str) -> str:
    """``check_softmax`` -> ``softmax``: the exercise a test cell checks."""
    return grade_id.removeprefix(TEST_PREFIX)


def recorded_mistakes(nb: nbformat.NotebookNode) -> dict[str, tuple[str, ...]]:
    """Known mistake -> the exercises whose hidden checks named it, in notebook order."""
    found: dict[str, list[str]] = {}
    for verdict in read_verdicts(nb):
        checks = verdict.hidden_checks
        if checks is None or verdict.grade_id is None:
            continue
        for key in checks.mistakes:
            if key in MISTAKES:
                found.setdefault(key, []).append(exercise_name(verdict.grade_id))
    return {key: tuple(dict.fromkeys(names)) for key, names in found.items()}


def section_headings(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Exercise -> the nearest markdown heading above its answer cell (else its test cell)."""
    headings: dict[str, str] = {}
    current = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            current = last_heading(cell.source) or current
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if isinstance(grade_id, str) and current:
            headings.setdefault(exercise_name(grade_id), current)
    return headings


def last_heading(markdown: str) -> str | None:
    """The text of the last ``#`` heading in a markdown cell, if it has one."""
    found = [match[1] for line in markdown.splitlines() if (match := HEADING.match(line))]
    return found[-1] if found else None


# -- the numbers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseStats:
    """One exercise over the class: shares are of the graded students, 0 to 1."""

    name: str
    points: float
    scores: tuple[float, ...]
    mean: float
    full: float
    partial: float
    zero: float
    discrimination: float | None  # None: undefined (a score or the rest that does not vary)
    section: str = ""


@dataclass(frozen=True)
class MisconceptionStats:
    """One known mistake over the class: who made it, where, and what teaches it."""

    key: str
    title: str
    students: tuple[str, ...]
    exercises: tuple[str, ...]
    sections: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass(frozen=True)
class Attention:
    """A student to look at, and why."""

    student: str
    total: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ItemAnalysis:
    assignment: str
    max_total: float
    totals: dict[str, float]  # student -> the sum of their exercise scores
    exercises: list[ExerciseStats]
    misconceptions: list[MisconceptionStats]
    attention: list[Attention]


def is_full(score: float, points: float) -> bool:
    return score >= points - 1e-9


def is_zero(score: float) -> bool:
    return abs(score) <= 1e-9


def discrimination(item: Sequence[float], rest: Sequence[float]) -> float | None:
    """Pearson's r between an exercise's scores and the rest of the totals; None when it is
    undefined: fewer than two students, or either side the same for everyone."""
    x, y = np.asarray(item, dtype=float), np.asarray(rest, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def exercise_stats(records: ClassRecords) -> list[ExerciseStats]:
    """Mean, full/partial/zero shares and discrimination of every exercise."""
    students = sorted(records.scores)
    found = []
    for name, points in records.exercises.items():
        scores = [records.scores[student][name] for student in students]
        rest = [round(sum(records.scores[student].values()) - records.scores[student][name], 6)
                for student in students]  # fmt: skip
        n = len(scores) or 1
        full = sum(is_full(score, points) for score in scores)
        zero = sum(is_zero(score) for score in scores)
        found.append(
            ExerciseStats(
                name=name,
                points=points,
                scores=tuple(scores),
                mean=sum(scores) / n,
                full=full / n,
                partial=(len(scores) - full - zero) / n,
                zero=zero / n,
                discrimination=discrimination(scores, rest),
                section=records.sections.get(name, ""),
            )
        )
    return found


def misconception_stats(records: ClassRecords) -> list[MisconceptionStats]:
    """Every known mistake some student made, most students first, then in notebook order."""
    students: dict[str, list[str]] = {}
    exercises: dict[str, set[str]] = {}
    for student in sorted(records.mistakes):
        for key, names in records.mistakes[student].items():
            students.setdefault(key, []).append(student)
            exercises.setdefault(key, set()).update(names)
    order = {name: number for number, name in enumerate(records.exercises)}

    def in_notebook(names: set[str]) -> tuple[str, ...]:
        return tuple(sorted(names, key=lambda name: (order.get(name, len(order)), name)))

    found = [
        MisconceptionStats(
            key=key,
            title=mistake_title(key) if key in MISTAKES else key,
            students=tuple(students[key]),
            exercises=in_notebook(exercises[key]),
            sections=tuple(records.sections.get(name, "") for name in in_notebook(exercises[key])),
        )
        for key in students
    ]
    return sorted(
        found,
        key=lambda m: (-m.count, min((order.get(e, len(order)) for e in m.exercises), default=0),
                       m.key),
    )  # fmt: skip


def needs_attention(records: ClassRecords) -> list[Attention]:
    """Students with a low total, a zero where most others got full marks, or a grading
    incident; the lowest totals first."""
    max_total = sum(records.exercises.values())
    full_marks = {
        name: sum(is_full(row[name], points) for row in records.scores.values())
        for name, points in records.exercises.items()
    }
    others = len(records.scores) - 1
    found = []
    for student, row in records.scores.items():
        total = sum(row.values())
        reasons = []
        if total < LOW_TOTAL * max_total:
            reasons.append(f"total {total:g} of {max_total:g}, under {LOW_TOTAL:.0%} of the points")
        # A zero is not full marks: every full mark counted is another student's.
        missed = [
            name
            for name in records.exercises
            if is_zero(row[name]) and others and full_marks[name] > MOST * others
        ]
        if missed:
            reasons.append(f"0 where most others got full marks: {', '.join(missed)}")
        reasons += records.incidents.get(student, [])
        if reasons:
            found.append(Attention(student, total, tuple(reasons)))
    return sorted(found, key=lambda a: (a.total, a.student))


def analyse(records: ClassRecords) -> ItemAnalysis:
    return ItemAnalysis(
        assignment=records.assignment,
        max_total=sum(records.exercises.values()),
        totals={student: sum(row.values()) for student, row in sorted(records.scores.items())},
        exercises=exercise_stats(records),
        misconceptions=misconception_stats(records),
        attention=needs_attention(records),
    )


# -- the files -------------------------------------------------------------------------------


def write_report(
    course_dir: Path, assignment: str, out_dir: Path, db_url: str | None = None
) -> ItemAnalysis:
    """Analyse a graded assignment; write ``report_<assignment>.html`` and ``.csv``."""
    analysis = analyse(read_class(course_dir, assignment, db_url))
    page, numbers = report_paths(assignment, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page.write_text(render_html(analysis), encoding="utf-8")
    write_csv(analysis, numbers)
    return analysis


def report_paths(assignment: str, out_dir: Path) -> tuple[Path, Path]:
    """Where :func:`write_report` writes: the page and the CSV."""
    return out_dir / f"report_{assignment}.html", out_dir / f"report_{assignment}.csv"


CSV_COLUMNS = ["section", "name", "title", "students", "share", "points", "total", "mean",
               "full", "partial", "zero", "discrimination", "exercises", "lesson_sections",
               "who"]  # fmt: skip


def write_csv(analysis: ItemAnalysis, path: Path) -> None:
    """The report's numbers, one row each, in sections (see the module's docstring)."""
    n = len(analysis.totals)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for ex in analysis.exercises:
            writer.writerow({
                "section": "exercise", "name": ex.name, "students": n,
                "points": _number(ex.points), "mean": _number(ex.mean),
                "full": _number(ex.full), "partial": _number(ex.partial),
                "zero": _number(ex.zero), "discrimination": _number(ex.discrimination),
                "lesson_sections": _cell(ex.section),
            })  # fmt: skip
        for m in analysis.misconceptions:
            writer.writerow({
                "section": "misconception", "name": m.key, "title": _cell(m.title),
                "students": m.count, "share": _number(m.count / n if n else 0.0),
                "exercises": "; ".join(m.exercises),
                "lesson_sections": _cell("; ".join(m.sections)),
                "who": _cell("; ".join(m.students)),
            })  # fmt: skip
        for a in analysis.attention:
            writer.writerow({
                "section": "attention", "name": _cell(a.student), "total": _number(a.total),
                "points": _number(analysis.max_total), "title": _cell("; ".join(a.reasons)),
            })  # fmt: skip


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _cell(text: str) -> str:
    """Text a spreadsheet would run as a formula, made plain text."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- the page --------------------------------------------------------------------------------


def e(value: object) -> str:
    """Any text for the page, escaped (student ids and messages are the students')."""
    return html.escape(str(value), quote=True)


def png(figure: Figure) -> str:
    """A figure as an inline ``data:`` image (Agg; no date in the file)."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(
    values: Sequence[float], points: float, label: str, size: tuple[float, float] = (2.8, 1.3)
) -> str:
    """How many students scored what, in ten bins from 0 to ``points``, as a data URL."""
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    top = points if points > 0 else 1.0
    axes.hist(values, bins=np.linspace(0.0, top, 11), color="#4477aa", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_xlabel(label, fontsize=8)
    axes.set_ylabel("students", fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=7)
    return png(figure)


def img(source: str, alt: str) -> str:
    return f'<img src="{source}" alt="{e(alt)}">'


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.35em 0.7em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.who { white-space: nowrap; }
p.explain { color: #444; max-width: 60em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


MISCONCEPTION_COLUMNS = ["#", "mistake", "students", "share", "exercise", "lesson section", "who"]
EXERCISE_COLUMNS = ["exercise", "lesson section", "points", "mean", "full", "partial", "zero",
                    "discrimination", "scores"]  # fmt: skip


def render_html(analysis: ItemAnalysis) -> str:
    """The whole report as one page: no script, figures inline, every text escaped."""
    title = f"What the class got wrong: {analysis.assignment}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        overview_html(analysis),
        misconceptions_html(analysis),
        exercises_html(analysis),
        attention_html(analysis),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def overview_html(analysis: ItemAnalysis) -> str:
    totals = list(analysis.totals.values())
    if not totals:
        return "<p>No student has been graded.</p>"
    return (
        f'<p id="overview">{len(totals)} students graded; mean total '
        f"{np.mean(totals):.2f} of {analysis.max_total:g} points, median {np.median(totals):g}. "
        "Points here are before any late penalty: this page is about what was understood.</p>"
        + img(histogram(totals, analysis.max_total, "total points", (5, 2.2)), "totals")
    )


def misconceptions_html(analysis: ItemAnalysis) -> str:
    n = len(analysis.totals)
    rows = [
        f"<tr><td class='num'>{rank}</td><td>{e(m.title)}<br><code>{e(m.key)}</code></td>"
        f"<td class='num'>{m.count}</td><td class='num'>{m.count / max(n, 1):.0%}</td>"
        f"<td>{'<br>'.join(e(x) for x in m.exercises)}</td>"
        f"<td>{'<br>'.join(e(x) for x in m.sections)}</td>"
        f"<td><details><summary>{m.count} students</summary>"
        f"{', '.join(e(s) for s in m.students)}</details></td></tr>"
        for rank, m in enumerate(analysis.misconceptions, start=1)
    ]
    return (
        "<h2>Misconceptions, most common first</h2>"
        '<p class="explain">Each row is a known mistake that the hidden checks recognised in '
        "a wrong answer (the mistake each student's feedback names). <b>Students</b>: how many "
        "made it, each counted once however many checks or exercises showed it; "
        "<b>share</b>: of the students graded. <b>Lesson section</b>: the heading above the "
        "exercise in the lesson, the place to revisit in class. Wrong answers that match no "
        "known mistake are not here: see the exercises below.</p>"
        + table("misconceptions", MISCONCEPTION_COLUMNS, rows, "No known mistake was found.")
    )


def exercises_html(analysis: ItemAnalysis) -> str:
    rows = [
        f"<tr><td>{e(ex.name)}</td><td>{e(ex.section)}</td><td class='num'>{ex.points:g}</td>"
        f"<td class='num'>{ex.mean:.2f}</td><td class='num'>{ex.full:.0%}</td>"
        f"<td class='num'>{ex.partial:.0%}</td><td class='num'>{ex.zero:.0%}</td>"
        f"<td class='num'>{'n/a' if ex.discrimination is None else f'{ex.discrimination:.2f}'}"
        f"</td><td>{img(histogram(ex.scores, ex.points, 'points'), ex.name)}</td></tr>"
        for ex in analysis.exercises
    ]
    return (
        "<h2>Exercises</h2>"
        '<p class="explain"><b>Mean</b>: the average points over the students graded. '
        "<b>Full / partial / zero</b>: the share of students with all of the exercise's points, "
        "some of them, none. <b>Discrimination</b>: how well the exercise separates students "
        "who did well on the rest of the assignment from those who did not: the correlation "
        "(Pearson's r, −1 to 1) between the exercise's points and the rest of the total (the "
        "total less this exercise). Above 0.3 it separates well; near 0 or below, look at the "
        "exercise: it may be unclear, or test something the others do not. It is "
        "<b>n/a</b> when everyone got the same points on the exercise, or on the rest. With a "
        "small class it is a rough guide only. <b>Scores</b>: how many students scored what, "
        "from 0 to the exercise's points.</p>"
        + table("exercises", EXERCISE_COLUMNS, rows, "No exercises.")
    )


def attention_html(analysis: ItemAnalysis) -> str:
    rows = [
        f"<tr><td class='who'>{e(a.student)}</td>"
        f"<td class='num'>{a.total:g} / {analysis.max_total:g}</td>"
        f"<td><ul>{''.join(f'<li>{e(reason)}</li>' for reason in a.reasons)}</ul></td></tr>"
        for a in analysis.attention
    ]
    return (
        "<h2>Students who need attention</h2>"
        f'<p class="explain">Lowest totals first. A student is listed with a total under '
        f"{LOW_TOTAL:.0%} of the points, with 0 on an exercise that more than {MOST:.0%} of "
        "the others got in full (often something that stopped them, not a misunderstanding), "
        "or with a grading incident: a cell that stopped the kernel or ran out of time, "
        "hidden checks that sent no results, locked cells they changed (the originals were "
        "graded).</p>" + table("attention", ["student", "total", "why"], rows, "Nobody.")
    )


def table(ident: str, header: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p id="{ident}">{e(empty)}</p>'
    head = "".join(f"<th>{e(name)}</th>" for name in header)
    body = "".join(rows)
    return f'<table id="{ident}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
