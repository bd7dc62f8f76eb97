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

**Where it is**: :mod:`.settings` (what the zip and ``run_autograder`` agree on),
:mod:`.packing` (building the zip), :mod:`.scripts` (``setup.sh`` and
``run_autograder``), :mod:`.grading` (a submission, nbgrader's autograde,
``results.json``), :mod:`.protection` (the sandbox or the unprivileged user, and
their trial runs) and :mod:`.command` (``python -m backprop_autograder.gradescope``,
which ``run_autograder`` runs).
"""

from backprop_autograder.gradescope.command import main
from backprop_autograder.gradescope.grading import find_notebook, run
from backprop_autograder.gradescope.packing import build_autograder, packed_config
from backprop_autograder.gradescope.protection import (
    PROTECTION_VARIABLE,
    SANDBOX,
    UNSAFE,
    UNSAFE_VARIABLE,
    USER,
    UnprivilegedKernelManager,
)
from backprop_autograder.gradescope.scripts import RUN_AUTOGRADER, SETUP_SH
from backprop_autograder.gradescope.settings import (
    DEFAULT_PYTHON,
    DEFAULT_ROOT,
    PYTHON_VARIABLE,
    ROOT_VARIABLE,
    SETTINGS_FILE,
    NotGradable,
    Settings,
)

__all__ = [
    "DEFAULT_PYTHON",
    "DEFAULT_ROOT",
    "PROTECTION_VARIABLE",
    "PYTHON_VARIABLE",
    "ROOT_VARIABLE",
    "RUN_AUTOGRADER",
    "SANDBOX",
    "SETTINGS_FILE",
    "SETUP_SH",
    "UNSAFE",
    "UNSAFE_VARIABLE",
    "USER",
    "NotGradable",
    "Settings",
    "UnprivilegedKernelManager",
    "build_autograder",
    "find_notebook",
    "main",
    "packed_config",
    "run",
]
