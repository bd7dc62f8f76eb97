"""What environment.yml (Binder's and conda's environment) asks for, read as pip would.

Used by tests/test_environment.py, which compares it with pyproject.toml, and by
the self-learner's journey, which builds a fresh environment from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Conda-only entries that are not Python dependencies of the project.
CONDA_TOOLING = {"python", "pip"}


def environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_spec(entry: str) -> tuple[str, str]:
    """'numpy>=2.0,<3' -> ('numpy', '>=2.0,<3'); 'python=3.11' -> ('python', '==3.11.*')."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", entry)
    assert match, f"cannot read the conda entry {entry!r}"
    name, spec = match.groups()
    if re.fullmatch(r"=[^=<>!].*", spec):  # conda's single '=' means "this version prefix"
        spec = f"=={spec[1:]}.*"
    return canonicalize_name(name), spec.replace(" ", "")


def environment_requirements() -> tuple[dict[str, SpecifierSet], list[str], dict[str, str]]:
    conda, pip, tooling = {}, [], {}
    for entry in environment()["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(entry["pip"])
            continue
        name, spec = conda_spec(entry)
        if name in CONDA_TOOLING:
            tooling[name] = spec
        else:
            assert name not in conda, f"{name} is listed twice in environment.yml"
            conda[name] = SpecifierSet(spec)
    for line in pip:
        if not line.startswith("-"):
            req = Requirement(line)
            conda[canonicalize_name(req.name)] = req.specifier
    return conda, pip, tooling
