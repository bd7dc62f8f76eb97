"""The project's promises: layout, packaging, documentation that matches the code."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest

import backprop_course
import backprop_reference
from backprop_course import datasets

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_MODULES = [getattr(backprop_reference, name) for name in backprop_reference.__all__]


def public_functions(module):
    return {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }


def test_top_level_layout():
    for path in [
        "course",
        "solutions",
        "autograder",
        "environment.yml",
        "README.md",
        "pyproject.toml",
        "Makefile",
        "tests",
        ".ci/run",
        "LICENSE",
        "LICENSE-CONTENT.md",
        "course/backprop_course/data/DIGITS-LICENSE.md",
    ]:
        assert (ROOT / path).exists(), path
    assert os.access(ROOT / ".ci/run", os.X_OK)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_packages_live_where_the_layout_says():
    assert Path(backprop_course.__file__).resolve().is_relative_to(ROOT / "course")
    assert Path(backprop_reference.__file__).resolve().is_relative_to(ROOT / "solutions")


def test_every_package_folder_is_installed():
    """pyproject.toml names its packages one by one: a new subpackage left out of the list
    works in the editable install the tests use, and is missing from a real `pip install .`
    (Binder's postBuild, a student image)."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for top, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((top, *parts)))
    assert found == listed


def test_one_reference_module_per_lesson():
    names = {m.__name__.rsplit(".", 1)[1] for m in REFERENCE_MODULES}
    from backprop_autograder.lessons import LESSONS

    assert {lesson.topic for lesson in LESSONS} <= names
    for name in names:
        assert (ROOT / "solutions/backprop_reference" / f"{name}.py").exists()


def test_helper_package_holds_no_reference_code():
    """Nothing in course/ imports the reference library, but for one guarded place: the
    hints' last step, which shows a reference answer on a learner's explicit request,
    where the library is installed (tests/test_hints.py checks the guards)."""
    from backprop_course import hints

    allowed = ROOT / "course" / "backprop_course" / "hints.py"
    for path in (ROOT / "course").rglob("*.py"):
        text = path.read_text()
        if path == allowed:
            assert not re.search(r"^\s*(import|from)\s+backprop_reference", text, re.M)
            assert text.count("import_module(") == 1
            assert "import_module(f\"backprop_reference." in inspect.getsource(
                hints.reference_function
            )
            continue
        assert "backprop_reference" not in text, path


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```\w*\n(.*?)```", readme, re.S).group(1)
    assert first_block.lstrip().startswith("make lab")
    assert "make test" in first_block
    assert "Ctrl+C" in readme  # how to stop JupyterLab


@pytest.mark.parametrize("module", [*REFERENCE_MODULES, datasets], ids=lambda m: m.__name__)
def test_readme_lists_every_public_function(module):
    readme = (ROOT / "README.md").read_text()
    missing = [
        name
        for name, obj in public_functions(module).items()
        if inspect.isfunction(obj)
        and f"`{name}`" not in readme
        and not re.search(rf"`[^`]*\b{name}\b[^`]*`", readme)
    ]
    assert not missing, f"README does not mention {missing} from {module.__name__}"


ARRAY_HINTS = ("Array", "Params", "Mapping", "ndarray")


@pytest.mark.parametrize("module", [*REFERENCE_MODULES, datasets], ids=lambda m: m.__name__)
def test_public_functions_are_documented_and_typed(module):
    for name, obj in public_functions(module).items():
        assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"
        if not inspect.isfunction(obj):
            continue
        signature = inspect.signature(obj)
        untyped = [p for p in signature.parameters.values() if p.annotation is p.empty]
        assert not untyped, f"{name}: parameters without type hints: {untyped}"
        assert signature.return_annotation is not signature.empty, f"{name}: no return type"
        annotations = " ".join(str(p.annotation) for p in signature.parameters.values())
        annotations += str(signature.return_annotation)
        if any(hint in annotations for hint in ARRAY_HINTS):
            assert "shape" in inspect.getdoc(obj).lower(), f"{name}: docstring gives no shapes"


README_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
MAX_README_IMAGE_BYTES = 200_000


def test_readme_images_exist_are_described_and_small():
    images = README_IMAGE.findall((ROOT / "README.md").read_text())
    assert len(images) >= 2, "the README shows the journeys' screenshots"
    for alt, path in images:
        file = ROOT / path
        assert file.is_file(), f"README shows {path}, which does not exist"
        assert len(alt.split()) >= 5, f"{path}: its alt text should say what it shows"
        assert file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        size = file.stat().st_size
        assert size <= MAX_README_IMAGE_BYTES, f"{path} is {size} bytes: run make screenshots"


def test_makefile_help_lists_the_commands():
    out = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for command in ("lab", "test", "bench"):
        assert re.search(rf"make {command}\b", out), out


def test_no_notebook_is_committed_with_outputs():
    import json

    tracked = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    for name in tracked:
        notebook = json.loads((ROOT / name).read_text())
        for cell in notebook["cells"]:
            assert not cell.get("outputs") and not cell.get("execution_count"), name


def test_no_sqlite_gradebook_url_outside_the_default():
    """The gradebook is the one nbgrader_config.py (or --db-url) names: a SQLite URL
    written anywhere but course.default_db_url would bypass a PostgreSQL gradebook."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.ipynb", "*.cfg", "*.toml", "*.yml", "Makefile"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    found = []
    for name in tracked:
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            if re.search(r"sqlite(\+\w+)?:/", line):
                found.append(f"{name}:{number}: {line.strip()}")
    default = "autograder/backprop_autograder/course.py"
    assert [hit for hit in found if not hit.startswith(default + ":")] == [], found
    assert len(found) == 1, f"the default gradebook URL is written once, in {default}: {found}"
