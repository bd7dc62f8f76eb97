"""The environment files must describe one environment.

environment.yml (conda's) and pyproject.toml: the same packages, the same
bounds. binder/environment.yml (Binder's, written by ``make binder-lock``):
every package pinned exactly, inside those bounds, and no local path; the
course itself comes from binder/postBuild.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from environment_yml import (
    BINDER_FILE,
    POST_BUILD,
    ROOT,
    binder_pins,
    conda_spec,
    environment,
    environment_requirements,
)
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


# -- Binder's own, pinned environment ----------------------------------------------------


def test_binder_environment_has_no_local_path():
    """A local path ("-e .", "./", "file:") would make repo2docker copy the repository
    before building the environment: every commit would rebuild it from scratch."""
    _, pip, _ = environment_requirements(BINDER_FILE)
    for line in pip:
        assert not re.match(r"\s*(-e\b|--editable|\.|/|file:)", line) and " @ " not in line, (
            f"binder/environment.yml installs {line!r}, a local path or URL: the course is "
            "installed by binder/postBuild"
        )


def test_binder_pins_every_package_exactly():
    pins = binder_pins()  # fails on any line that is not name==version
    _, _, tooling = environment_requirements(BINDER_FILE)
    for name in ("python", "pip"):
        version = tooling[name].removeprefix("==").removesuffix(".*")
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"binder pins {name}={version}"
    assert set(tooling) == {"python", "pip"}, "conda installs only python and pip; pip the rest"
    assert len(pins) > 50, "the lock should hold every package, dependencies included"


def test_binder_pins_lie_inside_the_root_bounds():
    bounds, _, tooling = environment_requirements()
    pins = binder_pins()
    missing = sorted(set(bounds) - set(pins))
    assert not missing, f"binder/environment.yml lacks {missing}: run make binder-lock"
    for name, spec in bounds.items():
        assert spec.contains(pins[name], prereleases=True), (
            f"binder pins {name}=={pins[name]}, outside environment.yml's {spec}: "
            "run make binder-lock"
        )
    _, _, binder_tooling = environment_requirements(BINDER_FILE)
    python = binder_tooling["python"].removeprefix("==").removesuffix(".*")
    assert SpecifierSet(tooling["python"]).contains(python), (python, tooling["python"])


def test_binder_pins_the_tools_that_build_the_course():
    """postBuild builds the course's wheel without build isolation: its build tools must be
    pinned here, in the versions pyproject.toml's build-system asks for."""
    pins = binder_pins()
    for requirement in map(Requirement, pyproject()["build-system"]["requires"]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"binder/environment.yml does not pin {name}, a build tool"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])


TOOLING = ("python", "pip")


def test_binder_file_is_what_make_binder_lock_writes():
    """No hand edits: the file is exactly what binder/lock.py writes for these pins."""
    from binder.lock import environment_file

    _, pip, tooling = environment_requirements(BINDER_FILE)
    python, pip_version = (tooling[n].removeprefix("==").removesuffix(".*") for n in TOOLING)
    assert BINDER_FILE.read_text() == environment_file(python, pip_version, pip)
    assert environment(BINDER_FILE)["name"] == environment()["name"]


def test_post_build_installs_the_course_without_resolving_anything():
    lines = [line.strip() for line in POST_BUILD.read_text().splitlines()]
    assert lines[0] == "#!/bin/bash" and POST_BUILD.stat().st_mode & 0o111
    assert "set -euo pipefail" in lines
    install = [line for line in lines if "pip install" in line]
    assert install == ["python -m pip install --no-deps --no-build-isolation --no-cache-dir ."]
    assert "bash binder/learner-lab.sh" in lines


def test_the_student_image_recipe_reads_the_pins():
    """autograder/README.md's Dockerfile takes the pip section with sed: it must get all of it."""
    recipe = (ROOT / "autograder" / "README.md").read_text()
    expression = re.search(r"sed -n '([^']+)' /tmp/backprop/environment.yml", recipe).group(1)
    done = subprocess.run(["sed", "-n", expression, str(BINDER_FILE)], capture_output=True,
                          text=True, check=True)  # fmt: skip
    _, pip, _ = environment_requirements(BINDER_FILE)
    assert done.stdout.split() == pip


LEARNER_LAB = ROOT / "binder" / "learner-lab.sh"


def learner_lab_calls(tmp_path, *options: str) -> subprocess.CompletedProcess:
    """Run learner-lab.sh with a ``jupyter`` on PATH that records its arguments."""
    (tmp_path / "jupyter").write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n')
    (tmp_path / "jupyter").chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(LEARNER_LAB), *options], env=env, capture_output=True,
                          text=True)  # fmt: skip


@pytest.mark.parametrize("keep", [False, True])
def test_learner_lab_switches_off_the_instructor_tools_and_keeps_validate(tmp_path, keep):
    done = learner_lab_calls(tmp_path, *(["--keep-assignment-list"] if keep else []))
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    off = {"formgrader", "course-list", "create-assignment"} | (
        set() if keep else {"assignment-list", "menu"}
    )
    plugins = sorted(f"@jupyter/nbgrader:{name}" for name in off)
    level = "--level=sys_prefix"
    assert sorted(calls[0].split()) == sorted(["labextension", "disable", level, *plugins])
    assert sorted(calls[1].split()) == sorted(["labextension", "lock", level, *plugins])
    servers = {"formgrader", "course_list"} | (set() if keep else {"assignment_list"})
    assert sorted(calls[2:]) == sorted(
        f"server extension disable --sys-prefix nbgrader.server_extensions.{name}"
        for name in servers
    )
    assert not any("validate" in call for call in calls)


def test_learner_lab_refuses_an_unknown_option(tmp_path):
    done = learner_lab_calls(tmp_path, "--keep-everything")
    assert done.returncode == 2 and "unknown option --keep-everything" in done.stderr
    assert not (tmp_path / "calls").exists()


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


def test_each_lesson_has_a_binder_link_and_the_start_page_comes_first():
    from backprop_autograder.lessons import LESSONS

    lessons = [f"course/{lesson.name}.ipynb" for lesson in LESSONS]
    paths = [LAB_PATH.search(link).group(1) for link in binder_links()]
    assert set(lessons) <= set(paths), set(lessons) - set(paths)
    assert paths[0] == "course/00_start_here.ipynb", "the first link should open the start page"
