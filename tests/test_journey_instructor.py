"""The instructor's journey: the demo class graded, then looked at in nbgrader's formgrader.

The demo class (a small one: perfect, half-finished and blank hand-ins) is
graded on every lesson by ``backprop_autograder.demo``, as ``make
demo-grading`` does, into a gradebook on a real PostgreSQL server that the
course's ``nbgrader_config.py`` names (no SQLite file anywhere in the course).
JupyterLab then runs in that nbgrader course, and in
Chromium the instructor opens **Nbgrader → Formgrader**, sees every lesson
listed as an assignment, goes to *Manual Grading*, finds each student's score
equal to the CSV's, opens one submission, and finds the same score as the sum
of its test cells' points. Then the instructor writes the item analysis of a
lesson into the course (``backprop_autograder.item_analysis``, what
``backprop-grade report`` runs), opens it from JupyterLab's file browser, and
finds the class's most common misconception at the top of its table.
Screenshots of each step go to ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from browser_lab import (
    PAGE_LOAD_MS,
    LabPage,
    LabServer,
    browser_page,
    running_lab,
)
from playwright.sync_api import FrameLocator, Locator, Page, expect

from backprop_autograder import demo, item_analysis
from backprop_autograder.assemble import is_test
from backprop_autograder.lessons import LESSONS
from backprop_autograder.scoring import mistake_title

pytest_plugins = ("browser_lab",)
# The setup grades the demo class of every lesson before the browser starts.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

OPENED = LESSONS[0].name  # the assignment (and notebook) whose submissions are opened
STUDENT = "half-finished"  # a score strictly between 0 and the maximum
# A submission's page loads MathJax from a CDN (nbconvert's default URL). Where
# the machine has no network, as in CI here, that fails, and only that may.
MATHJAX_FROM_CDN = ("https://cdnjs.cloudflare.com/ajax/libs/mathjax/", "MathJax is not defined")


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory, postgres) -> Path:
    """The demo class graded on every lesson into PostgreSQL: grades_<lesson>.csv and the
    course."""
    out = tmp_path_factory.mktemp("instructor-journey") / "demo"
    demo.run(list(LESSONS), out, timeout=10, small=True,
             db_url=postgres.new_database("instructor_journey"))  # fmt: skip
    assert not list((out / "course").rglob("*.db")), "a SQLite gradebook beside PostgreSQL"
    return out


@pytest.fixture(scope="module")
def formgrader_lab(demo_out: Path) -> Iterator[LabServer]:
    """JupyterLab started in the graded nbgrader course, as the README says."""
    with running_lab(demo_out.parent, root=demo_out / "course") as server:
        yield server


@pytest.fixture
def instructor(formgrader_lab, chromium, request) -> Iterator[LabPage]:
    yield from browser_page(formgrader_lab, chromium, request)


def csv_scores(path: Path) -> dict[str, tuple[float, float]]:
    """student id -> (total, max), from a grades CSV."""
    with path.open() as f:
        return {
            row["student_id"]: (float(row["total"]), float(row["max"])) for row in csv.DictReader(f)
        }


def fraction(text: str) -> tuple[float, float]:
    """ "9.5 / 19" -> (9.5, 19.0): how the formgrader shows a score."""
    match = re.fullmatch(r"\s*([\d.]+)\s*/\s*([\d.]+)\s*", text)
    assert match, f"not a score: {text!r}"
    return float(match[1]), float(match[2])


def graded_cells(notebook: Path) -> list:
    return [cell for cell in nbformat.read(notebook, as_version=4).cells if is_test(cell)]


def open_formgrader(page: Page) -> FrameLocator:
    """Nbgrader → Formgrader in JupyterLab's menu bar; the formgrader's frame."""
    page.goto("/lab?reset", timeout=PAGE_LOAD_MS)
    menu_bar = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel")
    menu_bar.get_by_text("Nbgrader", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Formgrader", exact=True).click()
    return page.frame_locator("#formgrader-iframe iframe")


def table_rows(frame: FrameLocator, count: int) -> Locator:
    """The rows of the formgrader's main table, once it shows ``count`` of them."""
    rows = frame.locator("#main-table tr")
    expect(rows).to_have_count(count, timeout=PAGE_LOAD_MS)
    expect(rows.first).not_to_contain_text("Loading, please wait")
    return rows


def test_the_formgrader_lists_every_lesson_and_shows_the_csv_scores(
    instructor: LabPage, demo_out: Path
):
    page = instructor.page
    frame = open_formgrader(page)
    expect(frame.locator("h1").first).to_be_visible(timeout=PAGE_LOAD_MS)

    # Manage Assignments: one row per lesson, each released with its submissions.
    rows = table_rows(frame, len(LESSONS))
    listed = sorted(row.locator("td.name").inner_text().strip() for row in rows.all())
    assert listed == [lesson.name for lesson in LESSONS], listed
    instructor.snap("0-assignments")

    # Manual Grading → the lesson → its notebook: every student's score is the CSV's.
    grades = csv_scores(demo_out / f"grades_{OPENED}.csv")
    frame.get_by_role("link", name="Manual Grading").click()
    crumbs = frame.locator(".breadcrumb li")  # Manual Grading > lesson > notebook
    expect(crumbs).to_have_count(1)
    table_rows(frame, len(LESSONS)).get_by_role("link", name=OPENED, exact=True).click()
    expect(crumbs).to_have_count(2)
    table_rows(frame, 1).get_by_role("link", name=OPENED, exact=True).click()
    expect(crumbs).to_have_count(3)
    rows = table_rows(frame, len(grades))
    frame.get_by_role("button", name="Show All Names").click()
    shown = {}
    for row in rows.all():
        name = row.locator("td.name a.name-shown").text_content().strip()
        shown[name] = fraction(row.locator("td.score").inner_text())
    assert shown == grades, (shown, grades)
    assert 0 < grades[STUDENT][0] < grades[STUDENT][1], grades[STUDENT]
    instructor.snap("1-submissions")

    # One submission: its test cells' points add up to the same score.
    frame.locator("#main-table").get_by_role("link", name=STUDENT, exact=True).click()
    scores = frame.locator("input.score")
    expect(scores.first).to_have_attribute("placeholder", re.compile(r"\d"), timeout=PAGE_LOAD_MS)
    given = scores.evaluate_all(
        "inputs => inputs.map(i => i.value === '' ? i.placeholder : i.value)"
    )
    assert len(given) == len(graded_cells(LESSONS[0].notebook)), given
    assert sum(map(float, given)) == pytest.approx(grades[STUDENT][0])
    scores.nth([float(x) for x in given].index(0)).scroll_into_view_if_needed()  # a lost point
    instructor.snap("2-submission")
    errors = [e for e in instructor.errors if not any(cdn in e for cdn in MATHJAX_FROM_CDN)]
    assert not errors, errors


def test_the_item_analysis_opens_in_the_lab_with_the_most_common_misconception_first(
    instructor: LabPage, demo_out: Path
):
    """The report is written into the course directory, from the course's gradebook
    (PostgreSQL here), and opened from the file browser in JupyterLab's HTML viewer, which
    runs no script: the page needs none."""
    course = demo_out / "course"
    analysis = item_analysis.write_report(course, OPENED, course)
    common = demo.common_mistake(LESSONS[0])
    made_it = [s for s in csv_scores(demo_out / f"grades_{OPENED}.csv") if s.startswith("common-")]
    assert len(made_it) == 2  # the small class's two common-* students, and no other has it
    assert [(m.key, m.count) for m in analysis.misconceptions] == [(common.mistake, 2)]

    page = instructor.page
    page.goto("/lab?reset", timeout=PAGE_LOAD_MS)
    report = f"report_{OPENED}.html"
    page.locator(".jp-DirListing-item", has_text=report).dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe")
    expect(frame.locator("h1")).to_contain_text(OPENED, timeout=PAGE_LOAD_MS)
    top = frame.locator("#misconceptions tbody tr").first
    expect(top.locator("td").nth(0)).to_have_text("1")
    expect(top.locator("td").nth(1)).to_contain_text(mistake_title(common.mistake))
    expect(top.locator("td").nth(1)).to_contain_text(common.mistake)
    expect(top.locator("td").nth(2)).to_have_text("2")
    expect(top.locator("td").nth(4)).to_have_text(common.exercise)
    expect(top.locator("td").nth(5)).to_have_text(analysis.misconceptions[0].sections[0])
    top.locator("summary").click()  # who made it: the list opens without any script
    for student in made_it:
        expect(top.locator("details")).to_contain_text(student)
    expect(frame.locator("#exercises img")).to_have_count(len(analysis.exercises))
    top.scroll_into_view_if_needed()
    instructor.snap("3-item-analysis")
    errors = [e for e in instructor.errors if not any(cdn in e for cdn in MATHJAX_FROM_CDN)]
    assert not errors, errors
