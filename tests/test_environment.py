"""environment.yml (Binder, conda) and pyproject.toml must describe the same environment."""

from __future__ import annotations

import re
import sys

from environment_yml import ROOT, conda_spec, environment_requirements
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def runtime_requirements() -> dict[str, SpecifierSet]:
    reqs = [Requirement(r) for r in pyproject()["project"]["dependencies"]]
    return {canonicalize_name(r.name): r.specifier for r in reqs}


def test_same_dependencies_and_bounds():
    ours, _, _ = environment_requirements()
    theirs = runtime_requirements()
    assert set(ours) == set(theirs), (
        f"only in environment.yml: {sorted(set(ours) - set(theirs))}; "
        f"only in pyproject.toml: {sorted(set(theirs) - set(ours))}"
    )
    for name in ours:
        assert ours[name] == theirs[name], (
            f"{name}: environment.yml says {ours[name]}, pyproject.toml says {theirs[name]}"
        )


def test_python_is_pinned_and_allowed():
    _, _, tooling = environment_requirements()
    assert "python" in tooling, "environment.yml must pin python (repo2docker reads it)"
    pinned = Version(tooling["python"].removeprefix("==").removesuffix(".*"))
    assert pinned.release[:2] in {(3, 11), (3, 12)}
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires.contains(f"{pinned}.0")
    assert "pip" in tooling


def test_project_is_installed_through_pip_section():
    _, pip, _ = environment_requirements()
    assert "-e ." in pip


def test_must_have_pins():
    reqs = runtime_requirements()
    assert not reqs["nbgrader"].contains("0.9.5") and reqs["nbgrader"].contains("0.9.6")
    assert reqs["jupyterlab"].contains("4.6.6") and not reqs["jupyterlab"].contains("5.0")
    assert reqs["numpy"].contains("2.1") and not reqs["numpy"].contains("1.26")
    assert reqs["ipywidgets"].contains("8.1.5") and not reqs["ipywidgets"].contains("7.8")


def test_the_check_reads_conda_syntax():
    assert conda_spec("python=3.11") == ("python", "==3.11.*")
    assert conda_spec("numpy >=2.0,<3") == ("numpy", ">=2.0,<3")
    assert conda_spec("Jupyter_Lab==4.6.6") == ("jupyter-lab", "==4.6.6")


def test_installed_versions_satisfy_the_bounds():
    from importlib.metadata import version

    for name, spec in runtime_requirements().items():
        assert spec.contains(version(name)), f"{name} {version(name)} is outside {spec}"


# -- Binder's launch links in the README ------------------------------------------------

BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/[^\s`)]*")
LAB_PATH = re.compile(r"\?urlpath=lab/tree/([^\s`)&]+)$")


def binder_links() -> list[str]:
    return BINDER_LINK.findall((ROOT / "README.md").read_text())


def test_every_binder_link_opens_jupyterlab_on_a_path_that_exists():
    links = binder_links()
    assert links, "the README should give Binder launch links"
    for link in links:
        found = LAB_PATH.search(link)
        assert found, f"{link}: Binder opens JupyterLab only with ?urlpath=lab/tree/<path>"
        assert (ROOT / found.group(1)).exists(), f"{link}: no {found.group(1)} in the repository"


def test_each_lesson_has_a_binder_link_and_the_first_comes_first():
    lessons = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("course/[0-9][0-9]_*.ipynb"))
    paths = [LAB_PATH.search(link).group(1) for link in binder_links()]
    from backprop_autograder.lessons import LESSONS

    assert len(lessons) == len(LESSONS) == 6
    assert set(lessons) <= set(paths), set(lessons) - set(paths)
    assert paths[0] == lessons[0], "the first link should open the first lesson directly"
