"""`backprop-grade gradescope LESSON`: a Gradescope autograder built from the same source.

Gradescope grades a programming assignment with an *autograder*: a zip whose
root holds ``setup.sh`` and ``run_autograder``. Gradescope unzips it to
``/autograder/source`` and runs ``setup.sh`` once, as root, while it builds the
assignment's Docker image (Ubuntu); it copies ``run_autograder`` to
``/autograder/run_autograder`` and, for each submission, runs it in a fresh
container from that image, in the folder ``/autograder``, with the student's
files in ``/autograder/submission/``. ``run_autograder`` must write
``/autograder/results/results.json``: ``tests``, each with ``score``,
``max_score``, ``name``, ``output`` and ``visibility``, and optionally a
top-level ``score``, ``output``, ``visibility``, ``stdout_visibility``,
``execution_time`` and ``extra_data``. Whatever it prints goes to
``/autograder/results/stdout``, which only instructors see unless
``stdout_visibility`` says otherwise. Relied on:

- Gradescope, "Autograder Specifications",
  https://gradescope-autograders.readthedocs.io/en/latest/specs/ (the zip, the
  ``/autograder`` layout, the working folder, the results format);
- Gradescope, "Technical Details",
  https://gradescope-autograders.readthedocs.io/en/latest/tech/ (Docker, one
  container per submission);
- Gradescope, "Code Autograder Best Practices",
  https://gradescope-autograders.readthedocs.io/en/latest/best_practices/
  (timeouts; write ``results.json`` even when the autograder fails);
- S. Saligrama, "A student's dream: hacking (then fixing) Gradescope's
  autograder", https://saligrama.io/blog/post/gradescope-autograder-security/,
  and the Securescope README, https://github.com/saligrama/securescope (the
  container runs student code as root and restricts nothing by default; run
  it as a deprivileged user instead);
- bubblewrap issue #505, https://github.com/containers/bubblewrap/issues/505
  (Docker's default seccomp profile refuses the ``clone``/``unshare`` calls
  bubblewrap needs, so bwrap usually cannot run inside such a container).

**What the zip holds** (:func:`build_autograder`), only this lesson's material:

- ``setup.sh``, ``run_autograder`` and ``gradescope.json`` (the lesson and the
  cell timeout);
- ``requirements.txt``: the exact versions of the course's runtime packages
  that graded here (nbgrader, numpy, ...), for a Python of its own (3.11 or later);
- ``course_package/backprop_course``: the helper package the notebooks import,
  which ``setup.sh`` installs where the kernel's Python finds it;
- ``python/backprop_autograder``: this autograder, without the hidden checks'
  modules (grading reads their answers, not their code). The reference answers
  (``backprop_reference``) are not in it: grading never needs them (I5);
- ``course/``: a one-lesson nbgrader course directory: the course's
  ``nbgrader_config.py`` (a ``db_url`` line, which may hold a password, is left
  out), the lesson's ``source/``, ``release/`` and ``hidden_answers/``, and a
  ``gradebook.db`` that knows this assignment only (nbgrader's own
  ``generate_assignment`` on the same source, at build time).

**How a submission is graded** (:func:`run`): the one notebook of the
submission (named ``<lesson>.ipynb``, else the only ``.ipynb``) is put at
``submitted/<student>/<lesson>/<lesson>.ipynb`` of a scratch copy of that
course directory, and nbgrader's own ``autograde`` grades it with the
course's ``nbgrader_config.py``: the same steps (ResilientExecute,
ScoreOutsideKernel, the restored cells, ...), the same checks and the same
scores as ``backprop-grade grade``. The scores come from the gradebook; each
test's ``output`` is what the student's feedback shows in that test cell (the
visible check's messages, the ``✘ hidden check: ...`` lines and the points),
never hidden-check code or expected values. A submission without a gradable
notebook scores 0 on every test, with a message saying why. Whatever goes
wrong, ``run_autograder`` still writes a ``results.json``.

**Keeping the answers from student code.** Here every grading kernel runs in
the bubblewrap sandbox (:mod:`backprop_autograder.sandbox`). ``setup.sh``
installs bubblewrap, and ``run_autograder`` uses it whenever a trial run in it
works. In Gradescope's Docker container it usually does not (issue #505), so
the kernel then runs as an unprivileged user of its own
(:class:`UnprivilegedKernelManager`), with the sandbox's limits (memory, CPU
per process and per cell, processes, file size) and with ``/autograder/source``
(the autograder, the hidden answers, the gradebook) and the scratch course
directory readable by root only; its processes are ended when grading ends.
Either way, a trial first checks that the kernel's Python runs that way and
cannot open the hidden answers; if neither works, nothing is graded: every test
scores 0 and says so, and the instructor's log says why. What the fallback
does not give, and the sandbox does: no network (student code can reach the
internet; there is nothing secret to send but the hidden checks' inputs, which
its functions receive anyway, never the expected values), a private ``/tmp``
and a read-only view of the system. Scores are decided outside the kernel in
both cases, so student code cannot forge one. ``BACKPROP_UNSAFE_NO_SANDBOX=1``
in ``run_autograder``'s environment grades with no protection at all (trusted
code only), as ``--unsafe-no-sandbox`` does here.

**Late work** is Gradescope's to handle: the packed gradebook has no due date,
so nbgrader assigns no late penalty.

To try ``run_autograder`` outside Gradescope, lay out ``<dir>/source`` (the
unzipped autograder), ``<dir>/submission`` and ``<dir>/results`` and run it with
``GRADESCOPE_ROOT=<dir>`` and ``BACKPROP_GRADESCOPE_PYTHON`` naming a Python
with the course installed (default ``/autograder/venv/bin/python``, the one
``setup.sh`` makes).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from backprop_autograder import build as builder
from backprop_autograder import course, executing, reporting, sandbox
from backprop_autograder.cell_verdicts import grade_id_of

ROOT_VARIABLE = "GRADESCOPE_ROOT"
PYTHON_VARIABLE = "BACKPROP_GRADESCOPE_PYTHON"
# auto (default): the sandbox if it works here, else the unprivileged user; "sandbox" or
# "user": only that one.
PROTECTION_VARIABLE = "BACKPROP_GRADESCOPE_PROTECTION"
UNSAFE_VARIABLE = "BACKPROP_UNSAFE_NO_SANDBOX"  # as nbgrader_config.py reads it
DEFAULT_ROOT = Path("/autograder")
DEFAULT_PYTHON = "/autograder/venv/bin/python"

SETTINGS_FILE = "gradescope.json"
COURSE_FOLDER = "course"  # the one-lesson nbgrader course directory, in the zip
PYTHON_FOLDER = "python"  # the grader's own packages, on its PYTHONPATH only
KERNEL_PACKAGE_FOLDER = "course_package"  # installed for the kernel by setup.sh
ASSIGNMENT_FOLDERS = ("source", "release", "hidden_answers")
STUDENT = "student"  # the student's id in the scratch course: Gradescope knows who it is
# Not packed: the hidden checks' code (their answers are packed) and mutation testing;
# both import the reference answers.
LEFT_OUT = ("hidden", "mutation", "__pycache__")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # the same zip from the same files

SANDBOX, USER, UNSAFE = "sandbox", "user", "unsafe"


class NotGradable(Exception):
    """The submission holds no notebook this autograder can grade; the message says why."""


@dataclass(frozen=True)
class Settings:
    """What the zip tells ``run_autograder``: the lesson, and how long a cell may run."""

    assignment: str
    timeout: int = course.DEFAULT_TIMEOUT

    @classmethod
    def read(cls, source: Path) -> Settings:
        data = json.loads((source / SETTINGS_FILE).read_text())
        return cls(str(data["assignment"]), int(data.get("timeout", course.DEFAULT_TIMEOUT)))


# -- building the zip -----------------------------------------------------------------------------


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
        f"--CourseDirectory.db_url=sqlite:///{gradebook}",
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


# -- the scripts Gradescope runs ------------------------------------------------------------------

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: bubblewrap,
# a Python of its own (3.11 or later) with the exact packages the course graded with,
# the course's helper package for the kernel, and the autograder locked away from
# student code. Made by backprop_autograder.gradescope; see its docstring.
set -euo pipefail
SOURCE=/autograder/source
VENV=/autograder/venv
export DEBIAN_FRONTEND=noninteractive

apt-get update
apt-get install -y --no-install-recommends bubblewrap util-linux ca-certificates

recent_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null && recent_enough "$candidate"; then
    PYTHON="$candidate"; break
  fi
done
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04's own Python is 3.10; its universe has 3.11
  apt-get install -y --no-install-recommends python3.11 python3.11-venv
  PYTHON=python3.11
fi
VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
apt-get install -y --no-install-recommends "python$VERSION-venv" || true
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-cache-dir --upgrade pip
"$VENV/bin/python" -m pip install --no-cache-dir -r "$SOURCE/requirements.txt"

# The helper package the notebooks import, where the kernel's Python finds it.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -rf "$SITE/backprop_course"
cp -r "$SOURCE/course_package/backprop_course" "$SITE/"
chmod -R a+rX "$VENV"

# The autograder, the hidden answers and the gradebook: root's alone. Student code
# never runs as root (the sandbox, or an unprivileged user of its own).
chown -R root:root "$SOURCE"
chmod -R go-rwx "$SOURCE"

"$VENV/bin/python" -c 'import backprop_course, ipykernel, nbgrader, numpy'
echo "setup.sh: the autograder is ready ($("$VENV/bin/python" --version))"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission: nbgrader grades the notebook in
# $ROOT/submission with the course's checks, and results.json gets the scores.
# Made by backprop_autograder.gradescope; see its docstring.
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PYTHON="${BACKPROP_GRADESCOPE_PYTHON:-/autograder/venv/bin/python}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
cd "$ROOT" || exit 1
PYTHONPATH="$ROOT/source/python" "$PYTHON" -m backprop_autograder.gradescope run --root "$ROOT"
status=$?
if [ ! -s "$RESULTS" ]; then  # the grader could not even start: still a results.json
  cat > "$RESULTS" <<'EOF'
{"score": 0, "stdout_visibility": "hidden", "tests": [],
 "output": "The autograder failed before it could grade this submission: nothing was graded."}
EOF
fi
exit "$status"
"""


# -- running on Gradescope ------------------------------------------------------------------------


def run(root: Path) -> dict[str, Any]:
    """Grade the submission in ``root/submission``; write ``root/results/results.json``
    and return what it holds."""
    started = time.monotonic()
    results_file = root / "results" / "results.json"
    with contextlib.suppress(FileNotFoundError):
        results_file.unlink()  # only this run's results may count
    try:
        settings = Settings.read(root / "source")
        exercises = course.exercises_of(root / "source" / COURSE_FOLDER, settings.assignment)
    except BaseException:  # a broken autograder: nothing can be graded, but say so
        traceback.print_exc()
        results = not_graded({}, "The autograder is broken, so nothing was graded. " + ASK)
    else:
        results = grade_safely(root, settings, exercises)
    results["execution_time"] = round(time.monotonic() - started)
    write_results(results_file, results)
    return results


ASK = "Your instructor can see why in the autograder's log."


def grade_safely(root: Path, settings: Settings, exercises: dict[str, float]) -> dict[str, Any]:
    """:func:`grade`, and results saying nothing was graded, whatever went wrong."""
    try:
        return grade(root, settings, exercises)
    except NotGradable as problem:
        print(f"not graded: {problem}")
        return not_graded(exercises, str(problem))
    except BaseException:  # a crash must still leave results.json
        traceback.print_exc()
        return not_graded(exercises, "The autograder failed while grading this notebook. " + ASK)


def grade(root: Path, settings: Settings, exercises: dict[str, float]) -> dict[str, Any]:
    """Lay out a scratch course, choose the protection, let nbgrader grade, read the results."""
    assignment = settings.assignment
    notebook = find_notebook(root / "submission", assignment)
    problem = executing.check_readable(notebook)
    if problem:
        raise NotGradable(
            f"Your notebook could not be read: {problem}. Nothing was graded: upload the "
            ".ipynb file as Jupyter saved it."
        )
    with scratch_course(root / "source" / COURSE_FOLDER, assignment, notebook) as course_dir:
        protection = choose_protection(course_dir, assignment)
        print(f"grading {notebook.name} with protection: {protection}")
        try:
            notes = autograde(course_dir, settings, protection)
        finally:
            if protection == USER:
                end_processes_of(sandbox.process_uid())
        return graded_results(course_dir, assignment, exercises, notes, protection)


# -- the submission's notebook --------------------------------------------------------------------


def find_notebook(submission: Path, assignment: str) -> Path:
    """The notebook to grade: ``<assignment>.ipynb`` (the shallowest), else the only
    notebook; none, or several and none so named, is :class:`NotGradable`."""
    wanted = f"{assignment}.ipynb"
    candidates = submission.rglob("*.ipynb") if submission.is_dir() else []
    found = sorted(
        (path for path in candidates if path.is_file() and not ignored(path, submission)),
        key=lambda path: (len(path.relative_to(submission).parts), str(path)),
    )
    named = [path for path in found if path.name == wanted]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotGradable(f"Your submission has no notebook (.ipynb) in it. Upload {wanted}.")
    names = ", ".join(str(path.relative_to(submission)) for path in found)
    raise NotGradable(
        f"Your submission has {len(found)} notebooks ({names}) and none is named {wanted}, "
        f"so the autograder cannot tell which to grade. Upload only {wanted}."
    )


def ignored(path: Path, top: Path) -> bool:
    """Jupyter's checkpoints and the folders an archive tool adds (``__MACOSX``, ``.x``)."""
    parts = path.relative_to(top).parts
    return any(part.startswith((".", "__MACOSX")) for part in parts)


# -- the scratch course directory -----------------------------------------------------------------


@contextlib.contextmanager
def scratch_course(packed: Path, assignment: str, notebook: Path) -> Iterator[Path]:
    """A copy of the packed course directory with the notebook handed in, for one grading.

    Readable by root only, but for the way to the kernel's working folder (nbgrader's
    ``autograded/``): an unprivileged kernel may pass through it, and see nothing else.
    """
    course_dir = Path(tempfile.mkdtemp(prefix="gradescope-course-"))
    try:
        for name in ("nbgrader_config.py", "gradebook.db"):
            shutil.copyfile(packed / name, course_dir / name)
        for folder in ASSIGNMENT_FOLDERS:
            shutil.copytree(packed / folder / assignment, course_dir / folder / assignment)
        submitted = course_dir / "submitted" / STUDENT / assignment
        submitted.mkdir(parents=True)
        shutil.copyfile(notebook, submitted / f"{assignment}.ipynb")
        lock_away(course_dir)
        yield course_dir
    finally:
        shutil.rmtree(course_dir, ignore_errors=True)


def lock_away(course_dir: Path) -> None:
    """Everything in the course directory root's alone; the directory itself passable."""
    for path in course_dir.iterdir():
        path.chmod(0o700 if path.is_dir() else 0o600)
    course_dir.chmod(0o711)


def answers_file(course_dir: Path, assignment: str) -> Path:
    return course_dir / "hidden_answers" / assignment / f"{assignment}.json"


def gradebook_url(course_dir: Path) -> str:
    return f"sqlite:///{course_dir / 'gradebook.db'}"


# -- keeping the answers from student code --------------------------------------------------------

# What a trial runs as the kernel would run: the course's helper package imports, and
# the hidden answers (its argument) cannot be opened.
TRIAL = """
import sys
import backprop_course
try:
    open(sys.argv[1]).close()
except OSError:
    print("protected")
else:
    print("exposed")
"""


def choose_protection(course_dir: Path, assignment: str) -> str:
    """:data:`SANDBOX` if bubblewrap works here, else :data:`USER` if an unprivileged
    kernel works (:data:`PROTECTION_VARIABLE` may ask for one of them only), else
    :class:`NotGradable`; :data:`UNSAFE` only when the instructor asked for it."""
    if os.environ.get(UNSAFE_VARIABLE):
        print(f"WARNING: {UNSAFE_VARIABLE} is set: student code runs unprotected, as root")
        return UNSAFE
    wanted = os.environ.get(PROTECTION_VARIABLE, "auto")
    secret = answers_file(course_dir, assignment)
    problems = []
    for name, trial in ((SANDBOX, sandbox_problem), (USER, user_problem)):
        if wanted not in ("auto", name):
            continue
        problem = trial(secret)
        if problem is None:
            return name
        problems.append(f"{name}: {problem}")
        print(f"protection {name} cannot be used here: {problem}")
    print(
        "Nothing was graded: student code could not be kept from the hidden answers. Run as "
        f"root with bubblewrap or setpriv available, or set {UNSAFE_VARIABLE}=1 in "
        "run_autograder to grade without protection (trusted code only)."
    )
    raise NotGradable(
        "Not graded: the autograder could not run your code in isolation here "
        f"({'; '.join(problems) or 'no protection chosen'}). Nothing is wrong with your "
        "notebook; your instructor needs to fix the autograder."
    )


def sandbox_problem(secret: Path) -> str | None:
    """Why the bubblewrap sandbox cannot grade here, or None: a trial run in it."""
    try:
        sandbox.find_bwrap()
        uid = sandbox.process_uid() if os.geteuid() == 0 else None
    except sandbox.SandboxUnavailable as error:
        return str(error).split(". ")[0]
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as sockets:
        command = sandbox.bwrap_command(
            [sys.executable, "-c", TRIAL, str(secret)], Path(cwd), Path(sockets),
            sandbox.Limits(), uid, environment={},
        )  # fmt: skip
        return trial_problem(command, {})


def user_problem(secret: Path) -> str | None:
    """Why an unprivileged kernel cannot grade here, or None: a trial run as that user."""
    if os.geteuid() != 0:
        return "the grader does not run as root, so it cannot run the kernel as another user"
    missing = [tool for tool in ("setpriv", "prlimit") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found (util-linux)"
    uid = sandbox.process_uid()
    with private_home(uid) as home:
        command = unprivileged_command([sys.executable, "-c", TRIAL, str(secret)], uid)
        return trial_problem(command, kernel_environment(home, {}))


def trial_problem(command: list[str], environment: dict[str, str]) -> str | None:
    """None if ``command`` (a :data:`TRIAL`) said "protected", else what went wrong."""
    try:
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"the trial did not run ({type(error).__name__}: {error})"
    said = done.stdout.strip()
    if said == "protected":
        return None
    if said == "exposed":
        return "the kernel could read the hidden answers"
    lines = (done.stderr.strip() or f"exit {done.returncode}").splitlines()
    return f"the kernel's Python did not run that way ({lines[-1][:200]})"


class UnprivilegedKernelManager(sandbox.SandboxedKernelManager):
    """The fallback where bubblewrap cannot run: the kernel as an unprivileged user.

    Run as root, the grader starts the kernel as its sandbox user
    (:func:`sandbox.process_uid`), with no capabilities, no new privileges, the
    sandbox's limits (:func:`unprivileged_command`) and an environment of its own
    (:func:`kernel_environment`), and ends every process of that user with the
    kernel. The CPU watchdog per cell is the sandbox's. What this does not give:
    a private view of the file system (the answers are kept from it by their
    permissions, see :func:`lock_away` and ``setup.sh``) and no network.
    """

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        uid = self._kernel_user()
        if uid is None:
            raise sandbox.SandboxUnavailable("an unprivileged kernel needs the grader to be root")
        for path in [self._sockets, *self._sockets.iterdir()]:
            os.chown(path, uid, uid)
        self._home = Path(tempfile.mkdtemp(prefix="grading-home-"))
        make_home(self._home, uid)
        kw["env"] = kernel_environment(self._home, kw.get("env") or os.environ)
        await super(sandbox.SandboxedKernelManager, self)._async_launch_kernel(
            unprivileged_command(kernel_cmd, uid, self.limits), **kw
        )

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        uid = self._kernel_user()
        if uid is not None:  # whatever the student's code left running goes too
            end_processes_of(uid)
        await super()._async_cleanup_resources(restart)
        if getattr(self, "_home", None) is not None:  # a restarted kernel gets a new one
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    cleanup_resources = _async_cleanup_resources


def unprivileged_command(
    command: list[str], uid: int, limits: sandbox.Limits | None = None
) -> list[str]:
    """``command`` with the sandbox's limits, as ``uid``, without capabilities or groups."""
    limits = limits or sandbox.Limits()
    return [
        "prlimit", f"--as={limits.memory_bytes}", f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_bytes}", f"--nproc={limits.processes}", "--core=0", "--",
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        *command,
    ]  # fmt: skip


def kernel_environment(home: Path, given: Mapping[str, str]) -> dict[str, str]:
    """The unprivileged kernel's environment: nothing of the grader's but
    :data:`sandbox.PASSED_ENVIRONMENT`, the same settings as in the sandbox."""
    environment = {
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "MPLCONFIGDIR": str(home / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONSAFEPATH": "1",  # files handed in never shadow real modules
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    environment.update({name: given[name] for name in sandbox.PASSED_ENVIRONMENT if name in given})
    return environment


def make_home(home: Path, uid: int) -> None:
    """The kernel user's own home, temporary folder and matplotlib folder."""
    for path in (home, home / "tmp", home / "matplotlib"):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, uid, uid)


@contextlib.contextmanager
def private_home(uid: int) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="grading-home-"))
    try:
        make_home(home, uid)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def end_processes_of(uid: int) -> None:
    """Kill every process of ``uid`` (the kernel's user, this grading's alone)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if entry.stat().st_uid == uid:
                os.kill(int(entry.name), signal.SIGKILL)


# -- nbgrader's autograde, and what it found ------------------------------------------------------


def autograde(course_dir: Path, settings: Settings, protection: str) -> list[str]:
    """nbgrader autograde on the one submission, as ``backprop-grade autograde`` runs it;
    what the summary would say about it. nbgrader's log goes to the instructor's log."""
    if protection == UNSAFE:
        os.environ[UNSAFE_VARIABLE] = "1"
    else:  # the course's nbgrader_config.py then puts every kernel in the sandbox
        os.environ.pop(UNSAFE_VARIABLE, None)
    os.environ["PATH"] = builder.nbgrader_env()["PATH"]  # nbgrader runs `alembic` from PATH
    config = course.load_config(course_dir, settings.timeout, db_url=gradebook_url(course_dir))
    if protection == USER:
        config.ResilientExecute.kernel_manager_class = (
            f"{UnprivilegedKernelManager.__module__}.{UnprivilegedKernelManager.__name__}"
        )
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    with executing.quiet_libraries(), executing.restored_environment("NBGRADER_EXECUTION"):
        result = api.autograde(settings.assignment, STUDENT, force=True, create=True)
    print(result.get("log", ""))
    if not result.get("success"):
        return ["nbgrader could not grade it: " + course.last_line(result)]
    return reporting.incidents(course_dir, settings.assignment, STUDENT)


def graded_results(
    course_dir: Path,
    assignment: str,
    exercises: dict[str, float],
    notes: list[str],
    protection: str,
) -> dict[str, Any]:
    """results.json from the gradebook's scores and the graded test cells' outputs."""
    report = reporting.Report(assignment, exercises)
    reporting.read_scores(gradebook_url(course_dir), assignment, report)
    if STUDENT not in report.scores:
        print("\n".join(notes))
        return not_graded(exercises, "The autograder could not grade this notebook. " + ASK)
    graded = course_dir / "autograded" / STUDENT / assignment / f"{assignment}.ipynb"
    shown = test_outputs(reporting.read_notebook(graded)) if graded.exists() else {}
    scores = report.scores[STUDENT]
    tests = [
        test_result(grade_id, scores.get(grade_id, 0.0), points, shown.get(grade_id, ""))
        for grade_id, points in exercises.items()
    ]
    total = sum(scores.get(grade_id, 0.0) for grade_id in exercises)
    summary = [f"{assignment}: {total:g} of {sum(exercises.values()):g} points."]
    if notes:
        summary += ["", "Notes from grading:", *(f"- {note}" for note in notes)]
    print("\n".join(summary))
    return {
        "score": total,
        "output": "\n".join(summary) + "\n",
        "stdout_visibility": "hidden",
        "extra_data": {"assignment": assignment, "protection": protection},
        "tests": tests,
    }


def test_outputs(nb: nbformat.NotebookNode) -> dict[str, str]:
    """Each graded test cell's text, as the student's feedback shows it: what it printed
    (the visible check's messages, the hidden checks' verdict and points) and its error
    in one line. Its score, hidden code and results bundle are not text shown here."""
    shown = {}
    for cell in nb.cells:
        grade_id = grade_id_of(cell)
        if grade_id is None or cell.get("cell_type") != "code":
            continue
        parts = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                parts.append(str(out.get("text", "")))
            elif out.get("output_type") == "error":
                parts.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}\n")
        shown[grade_id] = "".join(parts).strip() + "\n"
    return shown


def test_result(grade_id: str, score: float, points: float, output: str) -> dict[str, Any]:
    """One test of results.json: an exercise, its score and what its test cell said."""
    return {
        "name": grade_id.removeprefix("check_"),
        "score": score,
        "max_score": points,
        "output": output,
        "visibility": "visible",
    }


def not_graded(exercises: dict[str, float], why: str) -> dict[str, Any]:
    """results.json for a submission that could not be graded: every test 0, and why."""
    return {
        "score": 0.0,
        "output": why + "\n",
        "stdout_visibility": "hidden",
        "tests": [
            test_result(grade_id, 0.0, points, why + "\n") for grade_id, points in exercises.items()
        ],
    }


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Written whole or not at all: a half-written results.json would count for nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    partial.replace(path)


# -- the command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """``build LESSON --out ZIP`` (as ``backprop-grade gradescope``), or ``run`` (on Gradescope)."""
    parser = argparse.ArgumentParser(prog="python -m backprop_autograder.gradescope")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write a lesson's Gradescope autograder zip")
    build_cmd.add_argument("lesson")
    build_cmd.add_argument("--course-dir", type=Path, default=builder.DEFAULT_COURSE_DIR)
    build_cmd.add_argument("--out", type=Path)
    build_cmd.add_argument("--timeout", type=int, default=course.DEFAULT_TIMEOUT)
    run_cmd = commands.add_parser("run", help="grade /autograder/submission (run_autograder)")
    run_cmd.add_argument(
        "--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT))
    )
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.root.resolve())
        return
    from backprop_autograder.lessons import lesson

    name = lesson(args.lesson).name
    out = args.out or args.course_dir / f"gradescope_{name}.zip"
    try:
        build_autograder(args.course_dir, name, out, args.timeout)
    except builder.BuildError as error:
        sys.exit(f"gradescope: {error}")
    print(f"Gradescope autograder: {out} (upload it as the assignment's autograder zip)")


if __name__ == "__main__":
    main()
