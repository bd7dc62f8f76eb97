"""The self-learner's journey: Binder's environment built as repo2docker would, every lesson run.

Binder builds its image from ``binder/``: the pinned list in
binder/environment.yml, then binder/postBuild, run from the repository's root.
Here the same happens with pip in a new virtual environment (conda's python and
pip are the interpreter's own): the pip section, then postBuild in a copy of the
repository's files, as repo2docker copies them; and the environment must then
hold exactly the pinned packages and the course. JupyterLab is started from it:
nothing of the test's own .venv is used by the server or its kernels.

In Chromium: the learner's JupyterLab shows nbgrader's Validate button and none
of the instructors' tools; each lesson's solved version (every exercise
answered) runs with Run → Run All Cells, with no cell failing or writing to
stderr and no error in the browser; in each lesson that shows a widget, one of
its controls is used and the widget must answer. Screenshots go to
``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_lab import (
    LabPage,
    LabServer,
    browser_page,
    click_button,
    find_cell,
    move_slider_with_keys,
    nbgrader_tools_shown,
    open_notebook,
    picture_of,
    run_all_cells,
    running_lab,
    wait_for_new_picture,
    wait_until_settled,
    widget_image,
    widget_text,
)
from environment_yml import BINDER_FILE, ROOT, binder_pins, environment_requirements
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from playwright.sync_api import Locator, expect

from backprop_autograder.lessons import LESSONS

pytest_plugins = ("browser_lab",)
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

INSTALL_S = 900  # pip, with a warm cache a minute or two; a cold one downloads ~150 MB
RUN_ALL_MS = 300_000
VALIDATE_MS = 120_000
# What a learner's JupyterLab shows of nbgrader (binder/learner-lab.sh switches off the rest).
LEARNER_TOOLS = {"Validate"}


# -- the environment -----------------------------------------------------------------


def pinned_python() -> str:
    """An interpreter of the version binder/environment.yml pins (this one, or pythonX.Y)."""
    _, _, tooling = environment_requirements(BINDER_FILE)
    version = tooling["python"].removeprefix("==").removesuffix(".*")
    if SpecifierSet(f"=={version}").contains(".".join(map(str, sys.version_info[:3]))):
        return sys.executable
    minor = ".".join(version.split(".")[:2])
    found = shutil.which(f"python{minor}")
    if found:
        return found
    warnings.warn(
        f"binder/environment.yml pins python {version}; no python{minor} is on PATH, so the "
        f"environment is built with {sys.version.split()[0]} instead",
        stacklevel=1,
    )
    return sys.executable


def copy_repository(target: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored), as repo2docker copies them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run_step(command: list[str], cwd: Path, bin_dir: Path, what: str) -> None:
    done = subprocess.run(
        command, cwd=cwd, env=outside_env(bin_dir), capture_output=True, text=True,
        timeout=INSTALL_S,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"{what} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def build_environment(target: Path, repository: Path) -> Path:
    """A new virtual environment built from ``repository``'s binder/; its ``bin`` folder."""
    subprocess.run([pinned_python(), "-m", "venv", str(target)], check=True, timeout=120)
    bin_dir = target / "bin"
    _, pins, _ = environment_requirements(BINDER_FILE)
    pip = [str(bin_dir / "python"), "-m", "pip", "--disable-pip-version-check"]
    run_step([*pip, "install", "--progress-bar", "off", *pins], repository, bin_dir,
             "pip install of binder/environment.yml's pinned list")  # fmt: skip
    # repo2docker runs postBuild from the repository's root, the environment first on PATH.
    run_step(["bash", "binder/postBuild"], repository, bin_dir, "binder/postBuild")
    return bin_dir


def installed_packages(bin_dir: Path) -> dict[str, str]:
    frozen = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze",
         "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return {canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in frozen}


def outside_env(bin_dir: Path) -> dict[str, str]:
    """This process's environment, with ``bin_dir`` first and the test's .venv forgotten."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(bin_dir), *env.get("PATH", "").split(os.pathsep)])
    return env


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Binder's environment, built from a copy of the repository; its ``bin`` folder."""
    work = tmp_path_factory.mktemp("binder")
    return build_environment(work / "env", copy_repository(work / "repo"))


@pytest.fixture(scope="module")
def fresh_lab(binder_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab run from Binder's environment, serving a copy of course/ (and solved/)."""
    work = tmp_path_factory.mktemp("self-learner")
    python, env = str(binder_env / "python"), outside_env(binder_env)
    with running_lab(work, python=python, env=env) as server:
        yield server


@pytest.fixture
def learner(fresh_lab, chromium, request) -> Iterator[LabPage]:
    yield from browser_page(fresh_lab, chromium, request)


def test_binder_environment_holds_exactly_the_pins_and_the_course(binder_env: Path):
    installed = installed_packages(binder_env)
    course = installed.pop("backprop-course")
    assert course, "postBuild did not install the course"
    installed.pop("pip")  # conda's, pinned in the conda section
    pins = binder_pins()
    assert installed == pins, (
        f"not pinned: {sorted(set(installed) - set(pins))}; pinned but not installed: "
        f"{sorted(set(pins) - set(installed))}; other versions: "
        f"{sorted(n for n in set(pins) & set(installed) if pins[n] != installed[n])}"
    )


def test_the_server_and_its_kernels_run_from_the_fresh_environment(fresh_lab: LabServer):
    env_bin = Path(fresh_lab.python).parent
    spec = fresh_lab.api("GET", "/api/kernelspecs")
    argv = spec["kernelspecs"][spec["default"]]["spec"]["argv"]
    # A bare "python" is looked up on the server's PATH, where the environment's bin comes first.
    kernel_python = shutil.which(argv[0], path=str(env_bin)) if "/" not in argv[0] else argv[0]
    assert kernel_python and Path(kernel_python).parent == env_bin, argv


def test_a_learner_sees_validate_and_none_of_the_instructors_tools(learner: LabPage):
    panel = open_notebook(learner.page, "01_forward_pass.ipynb")
    shown = nbgrader_tools_shown(learner.page, panel)
    learner.snap("0-learner-tools")
    assert shown == LEARNER_TOOLS, f"nbgrader shows {sorted(shown)} to a learner"
    # The server extensions behind the hidden tools are off too; Validate's stays and works.
    for path in ("/formgrader", "/formgraders", "/courses", "/assignments"):
        assert learner.server.status_of("GET", path) == 404, path
    learner.page.get_by_role("button", name="Validate").click()
    dialog = learner.page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Validation Results", timeout=VALIDATE_MS)
    expect(dialog).to_contain_text("sigmoid is not written yet", timeout=VALIDATE_MS)
    assert not learner.errors, "the browser reported errors:\n" + "\n".join(learner.errors)


# -- the start page ----------------------------------------------------------------------


def learner_folder(target: Path) -> dict[str, str]:
    """A learner's course folder mid-way: lessons 01 and 02 done, 03 half done (every other
    exercise), the rest untouched; the start page beside them. Lesson -> the row it shows."""
    import nbformat

    from backprop_autograder.assemble import is_exercise, solve_cell, solved

    target.mkdir()
    shutil.copy(ROOT / "course" / "00_start_here.ipynb", target)
    rows = {}
    for number, lesson in enumerate(LESSONS):
        nb = nbformat.read(lesson.notebook, as_version=4)
        exercises = [cell for cell in nb.cells if is_exercise(cell)]
        if number < 2:
            nb, done = solved(nb, lesson.reference()), len(exercises)
        elif number == 2:
            for cell in exercises[::2]:
                cell.source = solve_cell(cell.source, lesson.reference())
            done = len(exercises[::2])
        else:
            done = 0
        nbformat.write(nb, target / lesson.notebook.name)
        rows[lesson.name] = f"{done}/{len(exercises)}"
    return rows


def test_the_start_page_shows_where_the_learner_stands(learner: LabPage):
    """The page Binder opens first: run as a learner runs it, its table is the folder's."""
    rows = learner_folder(learner.server.root / "my-course")
    panel = open_notebook(learner.page, "my-course/00_start_here.ipynb")
    run_all_cells(panel, RUN_ALL_MS)
    cell = find_cell(panel, "ProgressView()")
    expect(cell.locator(".jp-OutputArea")).to_contain_text("Checked at", timeout=RUN_ALL_MS)
    cell.scroll_into_view_if_needed()
    learner.snap("1-progress", cell.locator(".jp-OutputArea"))
    table = cell.locator(".jp-OutputArea table tbody tr")
    shown = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
        for row in table.all()
    }
    assert shown == rows
    passed = sum(int(row.split("/")[0]) for row in rows.values())
    total = sum(int(row.split("/")[1]) for row in rows.values())
    expect(cell).to_contain_text(f"{passed} of {total} exercises pass")
    problems = problems_in_outputs(panel)
    assert not problems, "\n".join(problems)
    assert not learner.errors, "the browser reported errors:\n" + "\n".join(learner.errors)


# -- the lessons ------------------------------------------------------------------------


@dataclass(frozen=True)
class Interaction:
    """One use of a lesson's widget: the cell that shows it, and a control to use."""

    cell_text: str
    act: Callable[[Locator], None]
    text_shows: str | None = None  # then the widget's texts contain this


ETA = "learning rate η"
INTERACTIONS = {
    "02_chain_rule": Interaction("GraphView(g)", lambda c: click_button(c, "step ▶")),
    "04_matrix_form": Interaction(
        'DescentExplorer(surface="valley", eta=0.02',
        lambda c: move_slider_with_keys(c, ETA, "ArrowRight", 3),
    ),
    "05_mini_batch": Interaction(
        "NetworkTrainer(backprop_batch)", lambda c: click_button(c, "step"), "epoch 1"
    ),
    "06_backprop_through_time": Interaction(
        "ThroughTimeExplorer(spectral_radius=1.0",
        lambda c: move_slider_with_keys(c, "spectral radius ρ", "End"),  # ρ = 2, tanh
        "gradient explodes",
    ),
}


def problems_in_outputs(panel: Locator) -> list[str]:
    """Error and stderr outputs, and code cells that did not run, as readable lines."""
    found = []
    for cell in panel.locator(".jp-CodeCell").all():
        source = cell.locator(".jp-InputArea-editor").inner_text().strip().splitlines()
        where = source[0][:60] if source else "(empty cell)"
        prompt = cell.locator(".jp-InputArea-prompt").inner_text()
        if source and not re.search(r"\[\d+\]", prompt):
            found.append(f"did not run: {where}")
        bad = cell.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
            ' .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
        )
        for output in bad.all():
            kind = output.get_attribute("data-mime-type").rsplit(".", 1)[-1]
            found.append(f"{kind} in {where}: {output.inner_text()[:500]}")
    return found


def use_widget(learner: LabPage, panel: Locator, interaction: Interaction) -> None:
    cell = find_cell(panel, interaction.cell_text)
    image = widget_image(cell)
    cell.scroll_into_view_if_needed()
    wait_until_settled(cell)
    before, text_before = picture_of(image), widget_text(cell)
    interaction.act(cell)
    wait_for_new_picture(image, before)
    wait_until_settled(cell)
    after = picture_of(image)
    learner.snap("2-widget-used", cell.locator(".jp-OutputArea"))
    assert after.digest != before.digest, "the widget drew the same picture"
    if interaction.text_shows:
        assert interaction.text_shows in widget_text(cell), (text_before, widget_text(cell))


@pytest.mark.parametrize("lesson", [lesson.name for lesson in LESSONS])
def test_each_solved_lesson_runs_clean_in_the_browser(learner: LabPage, lesson: str):
    panel = open_notebook(learner.page, f"solved/{lesson}.ipynb")
    learner.snap("0-opened")
    run_all_cells(panel, RUN_ALL_MS)
    learner.snap("1-ran-all")
    problems = problems_in_outputs(panel)
    assert not problems, "\n".join(problems)

    shows_widgets = panel.locator(".jp-OutputArea .jupyter-widgets").count() > 0
    assert shows_widgets == (lesson in INTERACTIONS), (
        f"{lesson} {'shows' if shows_widgets else 'does not show'} a widget: "
        "INTERACTIONS must name one widget per lesson that has any"
    )
    if lesson in INTERACTIONS:
        use_widget(learner, panel, INTERACTIONS[lesson])
    assert not learner.errors, "the browser reported errors:\n" + "\n".join(learner.errors)
