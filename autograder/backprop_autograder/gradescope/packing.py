"""Building the zip (:func:`build_autograder`): this lesson's material and what grading
needs, nothing more."""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import nbformat

from backprop_autograder import build as builder
from backprop_autograder import course
from backprop_autograder.gradescope.scripts import RUN_AUTOGRADER, SETUP_SH
from backprop_autograder.gradescope.settings import (
    ASSIGNMENT_FOLDERS,
    COURSE_FOLDER,
    KERNEL_PACKAGE_FOLDER,
    PYTHON_FOLDER,
    SETTINGS_FILE,
    Settings,
)

# Not packed: the hidden checks' code (their answers are packed) and mutation testing;
# both import the reference answers.
LEFT_OUT = ("hidden", "mutation", "__pycache__")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # the same zip from the same files


def build_autograder(
    course_dir: Path, assignment: str, out: Path, timeout: int = course.DEFAULT_TIMEOUT
) -> Path:
    """Write the Gradescope autograder of ``assignment`` to ``out`` (a zip) and return it.

    ``course_dir`` is the nbgrader course directory ``backprop-grade build`` made;
    ``timeout`` is how long one cell may run, in seconds, as ``--timeout`` is here.
    """
    course_dir = course_dir.resolve()
    check_built(course_dir, assignment)
    config = packed_config((course_dir / "nbgrader_config.py").read_text())
    with tempfile.TemporaryDirectory(prefix="gradescope-build-") as scratch:
        gradebook = lesson_gradebook(course_dir, assignment, config, Path(scratch))
        files = dict(lesson_files(course_dir, assignment))
        files[f"{COURSE_FOLDER}/nbgrader_config.py"] = config.encode()
        files[f"{COURSE_FOLDER}/gradebook.db"] = gradebook.read_bytes()
        files.update(package_files("backprop_autograder", PYTHON_FOLDER))
        files.update(package_files("backprop_course", KERNEL_PACKAGE_FOLDER))
        files["requirements.txt"] = "".join(f"{pin}\n" for pin in runtime_pins()).encode()
        settings = Settings(assignment, timeout)
        files[SETTINGS_FILE] = (json.dumps(asdict(settings), indent=1) + "\n").encode()
        files["setup.sh"] = SETUP_SH.encode()
        files["run_autograder"] = RUN_AUTOGRADER.encode()
        write_zip(out, files, executable={"setup.sh", "run_autograder"})
    return out


def check_built(course_dir: Path, assignment: str) -> None:
    """The course directory has the lesson built, or a BuildError saying what is missing."""
    needed = [
        course_dir / "nbgrader_config.py",
        course_dir / "source" / assignment / f"{assignment}.ipynb",
        course_dir / "release" / assignment / f"{assignment}.ipynb",
        course_dir / "hidden_answers" / assignment / f"{assignment}.json",
    ]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        raise builder.BuildError(
            f"{course_dir} has no built {assignment} (missing: {', '.join(missing)}): "
            f"run `backprop-grade --course-dir {course_dir} build {assignment}` first"
        )


def packed_config(text: str) -> str:
    """The course's nbgrader_config.py without its gradebook's URL, which may hold a
    password and names a database Gradescope cannot reach (it grades into its own)."""
    lines = []
    for line in text.splitlines():
        if line.strip().replace(" ", "").startswith("c.CourseDirectory.db_url="):
            line = (
                "# (the gradebook's URL is left out: Gradescope grades into a gradebook of its own)"
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


def lesson_gradebook(course_dir: Path, assignment: str, config: str, scratch: Path) -> Path:
    """A gradebook that knows this assignment only: nbgrader's generate_assignment on the
    course's source, in a scratch course directory. Its release must be the course's."""
    (scratch / "nbgrader_config.py").write_text(config)
    shutil.copytree(course_dir / "source" / assignment, scratch / "source" / assignment)
    gradebook = scratch / "gradebook.db"
    builder.nbgrader(
        scratch, "generate_assignment", assignment, "--force",
        f"--CourseDirectory.db_url={course.default_db_url(scratch)}",
    )  # fmt: skip
    name = Path(assignment) / f"{assignment}.ipynb"
    if cells_of(scratch / "release" / name) != cells_of(course_dir / "release" / name):
        raise builder.BuildError(
            f"{course_dir / 'release' / name} is not what its source makes now: "
            f"build {assignment} again before packing it for Gradescope"
        )
    return gradebook


def cells_of(path: Path) -> list[tuple[str, str]]:
    """A notebook's cells as (type, source): what a release is, outputs aside."""
    return [(cell.cell_type, cell.source) for cell in nbformat.read(path, as_version=4).cells]


def lesson_files(course_dir: Path, assignment: str) -> Iterator[tuple[str, bytes]]:
    """The lesson's source, release and hidden answers, at their places in ``course/``."""
    for folder in ASSIGNMENT_FOLDERS:
        top = course_dir / folder / assignment
        for path in sorted(top.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                yield (
                    f"{COURSE_FOLDER}/{path.relative_to(course_dir).as_posix()}",
                    path.read_bytes(),
                )


def package_files(name: str, folder: str) -> dict[str, bytes]:
    """An installed package's files (as imported here) under ``folder/<name>/``, without
    caches, the hidden checks' modules and mutation testing (:data:`LEFT_OUT`)."""
    top = Path(importlib.import_module(name).__file__).resolve().parent
    files = {}
    for path in sorted(top.rglob("*")):
        relative = path.relative_to(top)
        if path.is_file() and not set(relative.parts) & set(LEFT_OUT) and path.suffix != ".pyc":
            files[f"{folder}/{name}/{relative.as_posix()}"] = path.read_bytes()
    return files


def runtime_pins(
    project: str = "backprop-course", extra_roots: tuple[str, ...] = ("ipykernel",)
) -> list[str]:
    """``name==version`` of every package the course needs at run time (its dependencies,
    theirs, and so on, without extras), as installed here: Gradescope grades with the same."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(project, frozenset())]
    todo += [(root, frozenset()) for root in extra_roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:  # a dependency of another platform or Python
            continue
        if canonicalize_name(name) != canonicalize_name(project):
            pins[canonicalize_name(name)] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            markers = [{"extra": extra} for extra in ("", *extras)]
            if requirement.marker is None or any(requirement.marker.evaluate(m) for m in markers):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def write_zip(out: Path, files: Mapping[str, bytes], executable: set[str]) -> None:
    """The files, sorted, with fixed times; ``executable`` ones with mode 755."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, files[name])
