"""`make assignments`: build the nbgrader course directory, one assignment per lesson.

The steps:

1. make the course directory and put the course's ``nbgrader_config.py`` in it;
2. assemble each lesson's source notebook (answers and hidden checks in place)
   into ``source/<lesson>/<lesson>.ipynb``, and the hidden checks' expected
   results into ``hidden_answers/<lesson>/<lesson>.json``, where only the
   grader reads them;
3. run nbgrader's own ``generate_assignment`` on it, which writes the student
   version to ``release/<lesson>/`` and records the assignment in the gradebook.

    python -m backprop_autograder.build                      # every lesson, into build/nbgrader
    python -m backprop_autograder.build 01_forward_pass --course-dir /srv/nbgrader/backprop --seed 7

The seed decides the hidden checks' random cases: change it each term and the
hidden values change with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from backprop_autograder import scoring
from backprop_autograder.assemble import DEFAULT_SEED, source_notebook
from backprop_autograder.lessons import LESSONS, ROOT, Lesson, lesson

CONFIG = ROOT / "autograder" / "nbgrader_config.py"
DEFAULT_COURSE_DIR = ROOT / "build" / "nbgrader"


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and why."""


# Everything after this line of the course's nbgrader_config.py is the instructor's
# (a PostgreSQL db_url, say): a rebuild renews the rest and keeps it.
OWN_SETTINGS = "# ---- this course's own settings (a rebuild keeps all below) ----"


def prepare_course_dir(course_dir: Path) -> None:
    """The course directory with the course's nbgrader_config.py, the instructor's
    own settings (below :data:`OWN_SETTINGS`) kept from the one already there."""
    course_dir.mkdir(parents=True, exist_ok=True)
    target = course_dir / "nbgrader_config.py"
    shipped = CONFIG.read_text()
    if target.exists() and target.read_text() != shipped:
        old = target.read_text()
        if OWN_SETTINGS not in old and "db_url" in old:  # its gradebook must not change
            raise BuildError(
                f"{target} names its own gradebook but has no line\n{OWN_SETTINGS}\n"
                "Put that line above your own settings (see autograder/nbgrader_config.py) "
                "and build again: a rebuild keeps what is below it."
            )
        if OWN_SETTINGS not in old:  # an older build's copy, or edited by hand: kept aside
            shutil.copyfile(target, target.with_suffix(".py.orig"))
            print(f"note: {target} is renewed; the old one is kept as nbgrader_config.py.orig")
        else:
            shipped = shipped.split(OWN_SETTINGS)[0] + OWN_SETTINGS + old.split(OWN_SETTINGS, 1)[1]
    target.write_text(shipped)


def write_source(the_lesson: Lesson, course_dir: Path, seed: int) -> Path:
    folder = course_dir / "source" / the_lesson.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{the_lesson.name}.ipynb"
    nb, answers = source_notebook(the_lesson, seed)
    nbformat.write(nb, path)
    # Next to the gradebook, outside source/: nbgrader releases everything in source/.
    folder = course_dir / scoring.ANSWERS_FOLDER
    scoring.write_answers(scoring.answers_path(folder, the_lesson.name, the_lesson.name), answers)
    return path


def nbgrader_env(**extra: str) -> dict[str, str]:
    """The environment for nbgrader: this Python's scripts first on PATH (nbgrader
    runs `alembic` from PATH to set up its gradebook)."""
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", ""), **extra}


def nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory; fail loudly with its output."""
    command = [sys.executable, "-m", "nbgrader", *args]
    done = subprocess.run(
        command, cwd=course_dir, env=nbgrader_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BuildError(
            f"`nbgrader {' '.join(args)}` failed in {course_dir} (exit {done.returncode}):\n"
            + done.stdout[-3000:]
            + done.stderr[-3000:]
        )
    return done


def generate_assignment(the_lesson: Lesson, course_dir: Path, db_url: str | None = None) -> Path:
    """nbgrader generate_assignment: the release notebook, and the assignment in the gradebook
    (the one nbgrader_config.py names, or ``db_url``)."""
    gradebook = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    nbgrader(course_dir, "generate_assignment", the_lesson.name, "--force", *gradebook)
    release = course_dir / "release" / the_lesson.name / f"{the_lesson.name}.ipynb"
    if not release.exists():
        raise BuildError(f"nbgrader reported success but wrote no {release}")
    return release


def total_points(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells)


def build(
    lessons: Sequence[Lesson] = LESSONS,
    course_dir: Path = DEFAULT_COURSE_DIR,
    seed: int = DEFAULT_SEED,
    db_url: str | None = None,
) -> list[Path]:
    """Build the given lessons' assignments; return the release notebooks' paths."""
    prepare_course_dir(course_dir)
    releases = []
    for the_lesson in lessons:
        write_source(the_lesson, course_dir, seed)
        releases.append(generate_assignment(the_lesson, course_dir, db_url))
    return releases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson names (default: all)")
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    try:
        chosen = [lesson(name) for name in args.lessons] or LESSONS
        releases = build(chosen, args.course_dir.resolve(), args.seed)
    except (BuildError, ValueError) as err:
        sys.exit(f"make assignments: {err}")
    for path in releases:
        print(f"{path.relative_to(args.course_dir.resolve())}: {total_points(path):g} points")
    print(f"nbgrader course directory: {args.course_dir}")


if __name__ == "__main__":
    main()
