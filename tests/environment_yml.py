"""What the environment files ask for, read as pip would.

``environment.yml`` (conda's, with bounds) and ``binder/environment.yml``
(Binder's, every package pinned by ``make binder-lock``). Used by
tests/test_environment.py, which compares them with each other and with
pyproject.toml, and by the self-learner's journey, which builds Binder's
environment from the pinned file and binder/postBuild.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONDA_FILE = ROOT / "environment.yml"
BINDER_FILE = ROOT / "binder" / "environment.yml"
POST_BUILD = ROOT / "binder" / "postBuild"
# Conda-only entries that are not Python dependencies of the project.
CONDA_TOOLING = {"python", "pip"}


def environment(path: Path = CONDA_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def conda_spec(entry: str) -> tuple[str, str]:
    """'numpy>=2.0,<3' -> ('numpy', '>=2.0,<3'); 'python=3.11' -> ('python', '==3.11.*')."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", entry)
    assert match, f"cannot read the conda entry {entry!r}"
    name, spec = match.groups()
    if re.fullmatch(r"=[^=<>!].*", spec):  # conda's single '=' means "this version prefix"
        spec = f"=={spec[1:]}.*"
    return canonicalize_name(name), spec.replace(" ", "")


def environment_requirements(
    path: Path = CONDA_FILE,
) -> tuple[dict[str, SpecifierSet], list[str], dict[str, str]]:
    """Its packages and their specifiers, the pip section's lines, and conda's python and pip."""
    conda, pip, tooling = {}, [], {}
    for entry in environment(path)["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry["pip"])
            continue
        name, spec = conda_spec(entry)
        if name in CONDA_TOOLING:
            tooling[name] = spec
        else:
            assert name not in conda, f"{name} is listed twice in {path.name}"
            conda[name] = SpecifierSet(spec)
    for line in pip:
        if not line.startswith("-"):
            req = Requirement(line)
            conda[canonicalize_name(req.name)] = req.specifier
    return conda, pip, tooling


def binder_pins() -> dict[str, str]:
    """Binder's pip section as {canonical name: exact version}; fails on anything but name==v."""
    _, pip, _ = environment_requirements(BINDER_FILE)
    pins = {}
    for line in pip:
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._\-]*)==([0-9][0-9A-Za-z.+!\-]*)", line)
        assert match, f"binder/environment.yml: {line!r} is not an exact pin name==version"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"binder/environment.yml pins {name} twice"
        pins[name] = match.group(2)
    return pins
