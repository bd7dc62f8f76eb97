"""The self-learner's journey: a fresh environment from environment.yml, every lesson run.

Binder builds its image from environment.yml. Here the same list is installed
with pip into a new virtual environment (conda's entries as pip requirements,
then the pip section, ``-e .``, from the repository's root, as repo2docker
does), and JupyterLab is started from it: nothing of the test's own .venv is
used by the server or its kernels. In Chromium, each lesson's solved version
(every exercise answered) runs with Run → Run All Cells; no cell may fail or
write to stderr, and the browser may report no error. In each lesson that
shows a widget, one of its controls is used and the widget must answer.
Screenshots go to ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import re
import shlex
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
    open_notebook,
    picture_of,
    run_all_cells,
    running_lab,
    wait_for_new_picture,
    wait_until_settled,
    widget_image,
    widget_text,
)
from environment_yml import ROOT, environment_requirements
from packaging.specifiers import SpecifierSet
from playwright.sync_api import Locator

from backprop_autograder.lessons import LESSONS

pytest_plugins = ("browser_lab",)
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

INSTALL_S = 900  # pip, with a warm cache a minute or two; a cold one downloads ~150 MB
RUN_ALL_MS = 300_000


# -- the environment -----------------------------------------------------------------


def pip_arguments() -> list[str]:
    """environment.yml's packages as pip arguments: conda's entries, then the pip section."""
    conda, pip_section, _ = environment_requirements()
    from_conda = [f"{name}{spec}" for name, spec in conda.items()]
    return from_conda + [word for line in pip_section for word in shlex.split(line)]


def pinned_python() -> str:
    """An interpreter of the version environment.yml pins (this one, or pythonX.Y on PATH)."""
    _, _, tooling = environment_requirements()
    pin = SpecifierSet(tooling["python"])
    if pin.contains(".".join(map(str, sys.version_info[:3]))):
        return sys.executable
    minor = tooling["python"].removeprefix("==").removesuffix(".*")
    found = shutil.which(f"python{minor}")
    if found:
        return found
    warnings.warn(
        f"environment.yml pins python {minor}, which is not on PATH; the environment is "
        f"built with {sys.version.split()[0]} instead",
        stacklevel=1,
    )
    return sys.executable


def build_environment(target: Path) -> Path:
    """A new virtual environment with environment.yml's packages; its ``bin`` folder."""
    subprocess.run([pinned_python(), "-m", "venv", str(target)], check=True, timeout=120)
    python = target / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--disable-pip-version-check",
               "--progress-bar", "off", *pip_arguments()]  # fmt: skip
    # From the repository's root, as repo2docker runs the pip section ("-e .").
    done = subprocess.run(
        install, cwd=ROOT, env=outside_env(target / "bin"), capture_output=True, text=True,
        timeout=INSTALL_S,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"pip could not install environment.yml's packages:\n{done.stderr[-4000:]}")
    return target / "bin"


def outside_env(bin_dir: Path) -> dict[str, str]:
    """This process's environment, with ``bin_dir`` first and the test's .venv forgotten."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["PATH"] = os.pathsep.join([str(bin_dir), *env.get("PATH", "").split(os.pathsep)])
    return env


@pytest.fixture(scope="module")
def fresh_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab run from the fresh environment, serving a copy of course/ (and solved/)."""
    work = tmp_path_factory.mktemp("self-learner")
    bin_dir = build_environment(work / "env")
    with running_lab(work, python=str(bin_dir / "python"), env=outside_env(bin_dir)) as server:
        yield server


@pytest.fixture
def learner(fresh_lab, chromium, request) -> Iterator[LabPage]:
    yield from browser_page(fresh_lab, chromium, request)


def test_the_server_and_its_kernels_run_from_the_fresh_environment(fresh_lab: LabServer):
    env_bin = Path(fresh_lab.python).parent
    spec = fresh_lab.api("GET", "/api/kernelspecs")
    argv = spec["kernelspecs"][spec["default"]]["spec"]["argv"]
    # A bare "python" is looked up on the server's PATH, where the environment's bin comes first.
    kernel_python = shutil.which(argv[0], path=str(env_bin)) if "/" not in argv[0] else argv[0]
    assert kernel_python and Path(kernel_python).parent == env_bin, argv


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
