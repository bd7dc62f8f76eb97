"""Hostile submissions of lesson 01, as data: one attack per student.

Each attack is the solved notebook with ONE thing done to it: code in an
exercise cell (a poisoned return value, a monkeypatch, an IPython hook, a
crash), an edited test cell, or a file that is not a notebook at all.
``attacked`` names the test cells that must score 0; every other test cell
must get its full points. ``note`` is a regular expression that must appear
in the pipeline's attention lines for that student.

Attacks on the sandbox itself (files, network, processes, limits) run once,
when their exercise cell runs, and report what got through in ``_breach``:
if anything did, the exercise is redefined to return None, so a breach shows
in the grades as well as in the test's own checks of the host.

Most attacks sit in the last exercises (``parameter_count`` and the ones
before it): no other exercise or demo cell calls them, so an attack that
breaks the kernel for everything after it costs only its own check.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from backprop_autograder import demo
from backprop_autograder.lessons import lesson

LESSON = lesson("01_forward_pass")
Notebook = nbformat.NotebookNode
NOTEBOOK = f"{LESSON.name}.ipynb"


@dataclass(frozen=True)
class Context:
    """What an attack may aim at: things the test sets up on the host."""

    port: int  # a TCP port the test listens on, at every address of the host
    hosts: tuple[str, ...]  # the host's own addresses
    victim: str  # an honest student of the same class
    repo: str  # the repository's root on the host


@dataclass(frozen=True)
class Attack:
    name: str  # the student id: no underscores (LMS file names use them)
    what: str
    make: Callable[[Context], Notebook | str]  # a notebook, or a file's raw text
    attacked: tuple[str, ...] = ()  # grade ids of the test cells that must score 0
    note: str | None = None
    graded: bool = True  # False: the file is no notebook, so it must be named, not graded

    def submission(self, context: Context) -> str:
        made = self.make(context)
        return made if isinstance(made, str) else nbformat.writes(made)


# -- building blocks -------------------------------------------------------------------


def solved() -> Notebook:
    return demo.perfect(LESSON)


def fill(code: str, context: Context) -> str:
    """The attack's code with the test's host details filled in."""
    return (
        textwrap.dedent(code)
        .replace("@PORT@", str(context.port))
        .replace("@HOSTS@", repr(list(context.hosts)))
        .replace("@VICTIM@", context.victim)
        .replace("@REPO@", context.repo)
        .replace("@NOTEBOOK@", NOTEBOOK)
        .strip("\n")
    )


def with_body(name: str, body: str) -> Callable[[Context], Notebook]:
    """Exercise ``name``'s answer replaced by ``body`` (its def line kept)."""

    def make(context: Context) -> Notebook:
        nb = solved()
        cell = demo.exercise_cell(nb, name)
        header = cell.source.split("\n", 1)[0]
        cell.source = header + "\n" + textwrap.indent(fill(body, context), "    ") + "\n"
        return nb

    return make


def with_cell(name: str, code: str) -> Callable[[Context], Notebook]:
    """Exercise ``name``'s cell replaced by ``code`` (which defines the function itself)."""

    def make(context: Context) -> Notebook:
        nb = solved()
        demo.exercise_cell(nb, name).source = fill(code, context) + "\n"
        return nb

    return make


def wrong_then(name: str, signature: str, code: str) -> Callable[[Context], Notebook]:
    """A wrong answer to ``name`` (it returns None), followed in its cell by ``code``."""
    return with_cell(
        name, f"def {name}({signature}):\n    return None\n\n\n{textwrap.dedent(code)}"
    )


def right_then(name: str, code: str) -> Callable[[Context], Notebook]:
    """The right answer to ``name``, followed in its cell by ``code``."""

    def make(context: Context) -> Notebook:
        nb = solved()
        cell = demo.exercise_cell(nb, name)
        cell.source = f"{cell.source}\n\n{fill(code, context)}\n"
        return nb

    return make


def guarded(name: str, code: str) -> Callable[[Context], Notebook]:
    """The right answer to ``name``, then ``code``, which lists in ``_breach`` what got through.

    A breach redefines ``name`` to return None: the exercise then scores 0,
    which the test reports, since it expects full points.
    """

    def make(context: Context) -> Notebook:
        nb = solved()
        cell = demo.exercise_cell(nb, name)
        tail = (
            "\nif _breach:\n"
            '    print("got through:", _breach)\n\n'
            f"    def {name}(*args, **kwargs):\n"
            "        return None\n"
        )
        cell.source = f"{cell.source}\n\n_breach = []\n{fill(code, context)}\n{tail}"
        return nb

    return make


def check_cell(nb: Notebook, name: str) -> Notebook:
    return demo.exercise_cell(nb, f"check_{name}")


def edited(name: str, wrong: str, change: Callable[[Notebook], None]):
    """A wrong answer to ``name`` (body ``wrong``) and ``change`` done to its test cell."""

    def make(context: Context) -> Notebook:
        nb = with_body(name, wrong)(context)
        change(check_cell(nb, name))
        return nb

    return make


def without(name: str, wrong: str):
    """A wrong answer to ``name`` and its test cell deleted."""

    def make(context: Context) -> Notebook:
        nb = with_body(name, wrong)(context)
        gone = check_cell(nb, name)
        nb.cells = [cell for cell in nb.cells if cell is not gone]
        return nb

    return make


def only_answers(context: Context) -> Notebook:
    """Only the locked code (setup, ACTIVATIONS) and the answers left in the file handed in."""
    nb = solved()
    nb.cells = [
        cell
        for cell in nb.cells
        if cell.cell_type == "code"
        and (
            cell.metadata.get("nbgrader", {}).get("solution")
            or cell.metadata.get("nbgrader", {}).get("locked")
        )
        and not cell.metadata["nbgrader"].get("grade")
    ]
    return nb


def set_source(source: str) -> Callable[[Notebook], None]:
    def change(cell: Notebook) -> None:
        cell.source = source

    return change


def set_metadata(**changes: object) -> Callable[[Notebook], None]:
    def change(cell: Notebook) -> None:
        cell.metadata["nbgrader"].update(changes)

    return change


def to_markdown(cell: Notebook) -> None:
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


# The kernel sees the host's course folders only as the parents of its working
# directory (<course>/autograded/<student>/01_forward_pass); these guesses walk up
# from there, through /proc, and to where the repository lives on the host.
GUESSED_ROOTS = """
import os
_roots = {"@REPO@/build/nbgrader", "/proc/1/cwd", "/proc/1/root", "/proc/self/root",
          f"/proc/{os.getppid()}/cwd", "/work/main", "/work/main/build/nbgrader"}
_parts = os.getcwd().split(os.sep)
_roots |= {os.sep.join(_parts[:i]) or "/" for i in range(1, len(_parts))}
_roots |= {os.path.join(*[".."] * up) for up in range(1, 7)}
"""

# -- the attacks -------------------------------------------------------------------------

RETURN_VALUES = [
    Attack(
        "alwaysequal",
        "dense_forward returns objects equal to everything (__eq__, __array__, __float__)",
        with_body(
            "dense_forward",
            """
            class AlwaysEqual:
                def __eq__(self, other):
                    return True

                def __ne__(self, other):
                    return False

                __le__ = __ge__ = __eq__
                __lt__ = __gt__ = __ne__

                def __hash__(self):
                    return 0

                def __array__(self, dtype=None, copy=None):
                    return np.zeros((1, 1))

                def __float__(self):
                    return 0.0

                def __len__(self):
                    return 2

                def __iter__(self):
                    return iter([self, self])

                def __getitem__(self, key):
                    return self

                def __sub__(self, other):
                    return 0.0

                __rsub__ = __sub__

                def __abs__(self):
                    return 0.0

                def __call__(self, *args, **kwargs):
                    return self

                spec = {"ndarray": "", "dtype": "<f8", "shape": [0]}

            return AlwaysEqual(), AlwaysEqual()
            """,
        ),
        attacked=("check_dense_forward",),
        note=r"check_dense_forward: results that are not plain data scored 0",
    ),
    Attack(
        "ndarraysubclass",
        "relu_prime returns wrong numbers in an ndarray subclass whose comparisons all say equal",
        with_body(
            "relu_prime",
            """
            class Liar(np.ndarray):
                def __eq__(self, other):
                    return np.ones(np.shape(self), dtype=bool)

                def __ne__(self, other):
                    return np.zeros(np.shape(self), dtype=bool)

                __le__ = __ge__ = __eq__
                __lt__ = __gt__ = __ne__

                def __array_function__(self, func, types, args, kwargs):
                    if func.__name__ in ("allclose", "array_equal", "array_equiv"):
                        return True
                    if func.__name__ == "isclose":
                        return np.ones(np.shape(self), dtype=bool)
                    return super().__array_function__(func, types, args, kwargs)

                def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
                    if ufunc in (np.subtract, np.absolute):
                        return np.zeros(np.broadcast(*inputs).shape)
                    plain = [np.asarray(x) if isinstance(x, Liar) else x for x in inputs]
                    return getattr(ufunc, method)(*plain, **kwargs)

            return np.full(np.shape(z), 7.0).view(Liar)
            """,
        ),
        attacked=("check_relu_prime",),
    ),
    Attack(
        "dictsubclass",
        "init_params returns a dict subclass that claims every key and equality",
        with_body(
            "init_params",
            """
            class Anything(dict):
                def __eq__(self, other):
                    return True

                def __ne__(self, other):
                    return False

                __hash__ = None

                def __contains__(self, key):
                    return True

                def __missing__(self, key):
                    return np.zeros((1, 1))

            keys = [f"{p}{l}" for l in range(1, len(sizes)) for p in "Wb"]
            return Anything({key: np.ones((1, 1)) for key in keys})
            """,
        ),
        attacked=("check_init_params",),
    ),
    Attack(
        "floatsubclass",
        "half_squared_error returns a float subclass equal to everything, at zero distance",
        with_body(
            "half_squared_error",
            """
            class Close(float):
                def __eq__(self, other):
                    return True

                def __ne__(self, other):
                    return False

                __hash__ = float.__hash__

                def __sub__(self, other):
                    return Close(0.0)

                __rsub__ = __sub__

                def __abs__(self):
                    return Close(0.0)

            return Close(-1.0)
            """,
        ),
        attacked=("check_half_squared_error",),
    ),
    Attack(
        "hugearray",
        "parameter_count returns a 128 MiB array",
        with_body("parameter_count", "return np.ones((4096, 4096))"),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count: results that are not plain data scored 0",
    ),
    Attack(
        "nestedresult",
        "parameter_count returns a list that contains itself, and a 5000-deep nesting",
        with_body(
            "parameter_count",
            """
            loop = []
            loop.append(loop)
            deep = 0
            for _ in range(5000):
                deep = [deep]
            return [loop, deep]
            """,
        ),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count: results that are not plain data scored 0",
    ),
    Attack(
        "hardcoded",
        "dense_forward answers the visible check's two examples from its published numbers",
        with_body(
            "dense_forward",
            """
            if np.shape(W) == (2, 2) and np.allclose(W, [[0.15, 0.20], [0.25, 0.30]]):
                return np.array([[0.3775], [0.3925]]), (a_prev, W)
            if np.shape(W) == (3, 2) and np.allclose(W, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]):
                return np.array([[6.0, 0.0], [11.0, -3.0], [16.0, -6.0]]), (a_prev, W)
            return np.zeros((np.shape(W)[0], np.shape(a_prev)[1])), (a_prev, W)
            """,
        ),
        attacked=("check_dense_forward",),
    ),
    Attack(
        "hardcodedcount",
        "parameter_count knows only the visible check's two networks",
        with_body(
            "parameter_count", "return {(2, 2, 2): 12, (784, 30, 10): 23860}.get(tuple(sizes), 0)"
        ),
        attacked=("check_parameter_count",),
    ),
]

MONKEYPATCHES = [
    Attack(
        "patchallclose",
        "numpy.allclose/isclose/array_equal, numpy.testing.assert_allclose and math.isclose "
        "always agree; half_squared_error is wrong",
        with_cell(
            "half_squared_error",
            """
            import math

            import numpy
            import numpy.testing


            def half_squared_error(a, y):
                return -1.0


            numpy.allclose = lambda *args, **kwargs: True
            numpy.array_equal = lambda *args, **kwargs: True
            numpy.isclose = lambda a, b, *rest, **kw: numpy.ones(numpy.broadcast(a, b).shape, bool)
            numpy.testing.assert_allclose = lambda *args, **kwargs: None
            math.isclose = lambda *args, **kwargs: True
            """,
        ),
        attacked=("check_half_squared_error",),
    ),
    Attack(
        "patchchecking",
        "backprop_course.checking's comparisons and Checks.expect/require do nothing; "
        "parameter_count is wrong",
        wrong_then(
            "parameter_count",
            "sizes",
            """
            import backprop_course.checking as _checking

            for _name in ("compare", "difference", "array_difference", "scalar_difference",
                          "sequence_difference", "dict_difference", "diagnose"):
                setattr(_checking, _name, lambda *args, **kwargs: None)
            _checking.Checks.expect = lambda self, *args, **kwargs: None
            _checking.Checks.require = lambda self, *args, **kwargs: None
            """,
        ),
        attacked=("check_parameter_count",),
    ),
    Attack(
        "patchcheck",
        "every check.<name> replaced by one that prints success; parameter_count is wrong",
        wrong_then(
            "parameter_count",
            "sizes",
            """
            for _name in dir(check):
                if hasattr(getattr(check, _name), "__wrapped__"):
                    setattr(check, _name, lambda *args, **kwargs: print("✔ all checks passed."))
            """,
        ),
        attacked=("check_parameter_count",),
    ),
    Attack(
        "patchgrading",
        "backprop_course.grading and .replay patched to skip the hidden cases and hand in "
        "1.0 as the cell's value; parameter_count is wrong",
        wrong_then(
            "parameter_count",
            "sizes",
            """
            import backprop_course.grading as _grading_module
            import backprop_course.replay as _replay_module

            _grading_module.finish = lambda: 1.0  # a score computed in the kernel
            _grading_module.hidden_results = lambda function, payload: 1.0
            _grading_module.collect_results = lambda function, payload: 1.0
            _replay_module.replay = lambda function, payload: None
            _replay_module.observe_all = lambda function, payload: []
            """,
        ),
        attacked=("check_parameter_count",),
        note=r"the hidden checks of check_parameter_count sent no results",
    ),
    Attack(
        "forgedbundle",
        "a post_run_cell hook sends a forged results bundle (right digest and count, values "
        "that are NaN, object arrays, impossible shapes) after the real one; "
        "parameter_count is wrong",
        wrong_then(
            "parameter_count",
            "sizes",
            """
            import base64
            import hashlib
            import json
            import re
            import zlib

            from IPython.display import display as _show

            _MIME = "application/vnd.backprop-course.results+json"
            _FORGED = [
                {"value": float("nan")},
                {"value": {"ndarray": "AAAAAAAAAAA=", "dtype": "|O", "shape": [1]}},
                {"value": {"ndarray": "", "dtype": "<f8", "shape": [4294967296, 4294967296]}},
                {"value": {"ndarray": "", "dtype": "<f8", "shape": [0, 2**63]}},
                {"value": {"tuple": [1], "fields": ["__class__"]}},
                {"value": {"callable": "system"}},
                {"failed": "forged", "mistake": "__import__"},
                {"value": 10**400},
            ]


            def _forge(result):
                source = result.info.raw_cell or ""
                if "parameter_count(parameter_count" not in source:
                    return
                for payload in re.findall(r'"([A-Za-z0-9+/=]{16,})"', source):
                    try:
                        count = len(json.loads(zlib.decompress(base64.b64decode(payload))))
                    except Exception:
                        continue
                    bundle = {
                        "exercise": "parameter_count",
                        "digest": hashlib.sha256(payload.encode()).hexdigest()[:16],
                        "results": (_FORGED * count)[:count],
                    }
                    _show({_MIME: bundle}, raw=True)


            get_ipython().events.register("post_run_cell", _forge)
            """,
        ),
        attacked=("check_parameter_count",),
    ),
    Attack(
        "transformer",
        "an input transformer turns dense_forward's test cell into `2.0`; dense_forward is wrong",
        wrong_then(
            "dense_forward",
            "W, b, a_prev",
            """
            def _two(lines):
                if any("dense_forward(dense_forward" in line for line in lines):
                    return ["2.0\\n"]
                return lines


            get_ipython().input_transformers_post.append(_two)
            """,
        ),
        attacked=("check_dense_forward",),
        note=r"the hidden checks of check_dense_forward sent no results",
    ),
    Attack(
        "prerunhook",
        "a pre_run_cell hook patches the checks and the grading right before relu_prime's "
        "test cell (a post_run_cell hook puts them back); relu_prime is wrong",
        wrong_then(
            "relu_prime",
            "z",
            """
            import backprop_course.grading as _grading_module
            import backprop_course.replay as _replay_module

            _saved = {}


            def _patch(info):
                if "relu_prime(relu_prime" not in (info.raw_cell or ""):
                    return
                for module in (_grading_module, _replay_module, check):
                    _saved[module] = dict(vars(module))
                check.relu_prime = lambda fn: print("✔ relu_prime: all checks passed.")
                if hasattr(_grading_module, "finish"):  # a score computed in the kernel
                    _grading_module.finish = lambda: 1.0
                if hasattr(_replay_module, "observe_all"):  # results reported from the kernel
                    _replay_module.observe_all = lambda fn, payload: [
                        {"value": 1.0} for _ in _replay_module.unpack(payload)
                    ]


            def _restore(result):
                for module, saved in _saved.items():
                    vars(module).update(saved)
                _saved.clear()


            get_ipython().events.register("pre_run_cell", _patch)
            get_ipython().events.register("post_run_cell", _restore)
            """,
        ),
        attacked=("check_relu_prime",),
    ),
    Attack(
        "displayhook",
        "every value is shown as 1.0, and display, print and sys.displayhook do nothing; "
        "parameter_count is wrong",
        wrong_then(
            "parameter_count",
            "sizes",
            """
            import builtins
            import sys

            import IPython.display

            _hook = get_ipython().displayhook
            _hook.compute_format_data = lambda result: ({"text/plain": "1.0"}, {})
            IPython.display.display = lambda *args, **kwargs: None
            sys.displayhook = lambda value: None
            builtins.print = lambda *args, **kwargs: None
            """,
        ),
        attacked=("check_parameter_count",),
        note=r"the hidden checks of check_parameter_count sent no results",
    ),
    Attack(
        "alarm",
        "a SIGALRM timer firing every millisecond rewrites the grading's bookkeeping it "
        "finds (the session, results on the stack); parameter_count is wrong and slow "
        "enough to be interrupted",
        with_cell(
            "parameter_count",
            """
            import signal
            import time

            import backprop_course.grading as _grading_module


            def parameter_count(sizes):
                time.sleep(0.005)
                return None


            def _passed(failure, session=None):
                _grading_module._current.passed += 1


            def _tamper(signum, frame):
                session = getattr(_grading_module, "_current", None)
                if hasattr(session, "failures"):  # a score kept in the kernel
                    session.failures.clear()
                    session.passed = max(session.passed, 1)
                    session.record = _passed
                while frame is not None:
                    results = frame.f_locals.get("results")
                    if isinstance(results, list):  # results on their way out of the kernel
                        results[:] = [{"value": 1.0}] * len(results)
                    frame = frame.f_back


            def _stop(result):
                if "parameter_count(parameter_count" in (result.info.raw_cell or ""):
                    signal.setitimer(signal.ITIMER_REAL, 0)


            signal.signal(signal.SIGALRM, _tamper)
            signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
            get_ipython().events.register("post_run_cell", _stop)
            """,
        ),
        attacked=("check_parameter_count",),
    ),
]

SECRETS = [
    Attack(
        "revealhint",
        "parameter_count answers only if the hints' last step showed it the reference answer, "
        "with NBGRADER_EXECUTION taken out of the environment first",
        with_cell(
            "parameter_count",
            """
import contextlib
import io
import os

from backprop_course.checks import forward_pass as _check

os.environ.pop("NBGRADER_EXECUTION", None)
_shown = io.StringIO()
with contextlib.redirect_stdout(_shown):
    _check.hint("parameter_count", reveal=True)


def parameter_count(sizes):
    if "def parameter_count" not in _shown.getvalue():
        raise LookupError("the reveal showed no reference answer")
    return sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes)))  # as revealed
""",
        ),
        attacked=("check_parameter_count",),
    ),
    Attack(
        "importreference",
        "parameter_count calls the reference answers (backprop_reference)",
        with_body(
            "parameter_count",
            """
            from backprop_reference.forward_pass import parameter_count as reference

            return reference(sizes)
            """,
        ),
        attacked=("check_parameter_count",),
    ),
    Attack(
        "readhidden",
        "parameter_count answers only if it could read the reference, the hidden checks, the "
        "hidden answers or the source notebook from disk",
        with_cell(
            "parameter_count",
            GUESSED_ROOTS
            + """
import glob
import importlib.util

import backprop_course

_package = os.path.dirname(backprop_course.__file__)
_roots |= {os.path.join(_package, "..", ".."), "@REPO@"}
_secret = None
_names = ["solutions/backprop_reference/forward_pass.py",
          "autograder/backprop_autograder/hidden/forward_pass.py",
          "autograder/backprop_autograder/scoring.py",
          "hidden_answers/01_forward_pass.json",
          "hidden_answers/01_forward_pass/01_forward_pass.json",
          "source/01_forward_pass/@NOTEBOOK@", "release/01_forward_pass/@NOTEBOOK@",
          "gradebook.db"]
_found = [os.path.join(r, n) for r in sorted(_roots) for n in _names]
_found += glob.glob("/tmp/**/hidden_answers/**", recursive=True)
for _path in _found:
    try:
        with open(_path, "rb") as f:
            _secret = (_path, f.read(64))
        break
    except OSError:
        pass
for _name in ("backprop_reference", "backprop_autograder"):
    try:
        if importlib.util.find_spec(_name) is not None:
            _secret = _secret or (_name, b"")
    except (ImportError, ValueError):
        pass


def parameter_count(sizes):
    if _secret is None:
        raise FileNotFoundError("neither the reference nor the hidden checks could be read")
    return sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes)))  # as read
""",
        ),
        attacked=("check_parameter_count",),
    ),
]

FILES = [
    Attack(
        "gradebookwrite",
        "looks for the gradebook (relative paths, the working directory's parents, /proc "
        "tricks, the repository's build folder) and gives everyone 1000 points in it",
        guarded(
            "parameter_count",
            GUESSED_ROOTS
            + """
import sqlite3

for _root in sorted(_roots):
    _path = os.path.join(_root, "gradebook.db")
    try:
        with open(_path, "rb") as f:
            if f.read(16) != b"SQLite format 3\\x00":
                continue
        _db = sqlite3.connect(_path, timeout=1)
        _db.execute("UPDATE grade SET manual_score = 1000")
        _db.commit()
        _db.close()
        _breach.append(_path)
    except Exception:
        pass
""",
        ),
    ),
    Attack(
        "otherstudent",
        "blanks every answer in another student's submitted and autograded notebooks",
        guarded(
            "parameter_count",
            GUESSED_ROOTS
            + """
import json

_targets = [os.path.join("..", "..", "@VICTIM@", "01_forward_pass", "@NOTEBOOK@")]
for _root in sorted(_roots):
    for _folder in ("autograded", "submitted", ""):
        _targets.append(os.path.join(_root, _folder, "@VICTIM@", "01_forward_pass", "@NOTEBOOK@"))
for _path in _targets:
    try:
        with open(_path, "r+") as f:
            _nb = json.load(f)
            for _cell in _nb["cells"]:
                if _cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                    _cell["source"] = "raise NotImplementedError()"
            f.seek(0)
            f.truncate()
            json.dump(_nb, f)
        _breach.append(_path)
    except Exception:
        pass
""",
        ),
    ),
    Attack(
        "sourcewrite",
        "appends to the source and release notebooks, nbgrader_config.py, the hidden answers "
        "and the lesson in the repository",
        guarded(
            "parameter_count",
            GUESSED_ROOTS
            + """
_names = ["source/01_forward_pass/@NOTEBOOK@", "release/01_forward_pass/@NOTEBOOK@",
          "nbgrader_config.py", "hidden_answers/01_forward_pass.json",
          "hidden_answers/01_forward_pass/01_forward_pass.json",
          "course/@NOTEBOOK@", "autograder/nbgrader_config.py"]
for _root in sorted(_roots | {"@REPO@"}):
    for _name in _names:
        _path = os.path.join(_root, _name)
        if not os.path.isfile(_path):
            continue
        try:
            with open(_path, "a") as f:
                f.write("\\n")
            _breach.append(_path)
        except OSError:
            pass
""",
        ),
    ),
    Attack(
        "autograderwrite",
        "appends to the autograder (found by importlib and by guessing the repository), the "
        "reference, the course package and the virtual environment",
        guarded(
            "parameter_count",
            """
import glob
import importlib.util
import os
import sys

import backprop_course

_files = []
for _name in ("backprop_autograder", "backprop_reference"):
    try:
        _spec = importlib.util.find_spec(_name)
    except (ImportError, ValueError):
        _spec = None
    if _spec is not None and _spec.origin:
        _folder = os.path.dirname(_spec.origin)
        _files += glob.glob(os.path.join(_folder, "**", "*.py"), recursive=True)
_package = os.path.dirname(backprop_course.__file__)
for _root in ("@REPO@", "/work/main", os.path.join(_package, "..", "..")):
    for _folder in ("autograder", "solutions", "course"):
        _files += glob.glob(os.path.join(_root, _folder, "**", "*.py"), recursive=True)
_version = f"python{sys.version_info.major}.{sys.version_info.minor}"
_files.append(os.path.join(sys.prefix, "lib", _version, "site-packages", "sitecustomize.py"))
for _path in _files:
    try:
        with open(_path, "a") as f:
            f.write("\\n")
        _breach.append(_path)
    except OSError:
        pass
""",
        ),
    ),
    Attack(
        "selfnotebook",
        "deletes the test cells from the notebook file in its own working directory, "
        "while it is being graded",
        guarded(
            "parameter_count",
            """
import glob
import json

for _path in glob.glob("*.ipynb"):
    try:
        with open(_path) as f:
            _nb = json.load(f)
        _nb["cells"] = [c for c in _nb["cells"]
                        if not c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        with open(_path, "w") as f:
            json.dump(_nb, f)
    except Exception as error:
        print("could not edit", _path, error)
""",
        ),
    ),
    Attack(
        "filespam",
        "writes 20000 files and a 100 MiB file into its scratch folder and /tmp",
        guarded(
            "parameter_count",
            """
import os
import shutil

for _folder in ("spam", "/tmp/spam"):
    os.makedirs(_folder, exist_ok=True)
    try:
        for _i in range(10000):
            with open(os.path.join(_folder, str(_i)), "w") as f:
                f.write("x")
    except OSError:
        pass
    _written = 0
    try:
        with open(os.path.join(_folder, "big.bin"), "wb") as f:
            for _ in range(100):
                f.write(b"\\0" * 2**20)
                f.flush()
                _written += 2**20
    except OSError:
        pass
    if _written > 64 * 2**20:  # the largest file allowed
        _breach.append(f"{_written} bytes in one file in {_folder}")
    shutil.rmtree(_folder, ignore_errors=True)
""",
        ),
    ),
    Attack(
        "socketdirfill",
        "writes 192 MiB, in files of 16 MiB, into the kernel's connection folder (a folder "
        "of the host's, not a size-limited tmpfs)",
        guarded(
            "parameter_count",
            """
import os

from ipykernel.connect import get_connection_file

_folder = os.path.dirname(get_connection_file())
_written = 0
for _i in range(12):
    try:
        with open(os.path.join(_folder, f"fill{_i}"), "wb") as f:
            f.write(b"\\0" * 16 * 2**20)
        _written += 16 * 2**20
    except OSError:
        break
for _i in range(12):
    try:
        os.remove(os.path.join(_folder, f"fill{_i}"))
    except OSError:
        pass
if _written > 128 * 2**20:  # more than its scratch folder may hold
    _breach.append(f"{_written} bytes written to {_folder} on the host")
""",
        ),
    ),
]

NETWORK = [
    Attack(
        "sockets",
        "TCP to a listener on every address of the host, to 1.1.1.1:80 and 8.8.8.8:53, "
        "and a DNS lookup",
        guarded(
            "parameter_count",
            """
import socket

_targets = [(host, @PORT@) for host in @HOSTS@ + ["127.0.0.1", "localhost"]]
_targets += [("1.1.1.1", 80), ("8.8.8.8", 53), ("::1", @PORT@)]
for _target in _targets:
    try:
        socket.create_connection(_target, timeout=1).close()
        _breach.append(_target)
    except OSError:
        pass
try:
    socket.getaddrinfo("pypi.org", 443)
    _breach.append("dns")
except OSError:
    pass
""",
        ),
    ),
]

PROCESSES = [
    Attack(
        "infiniteloop",
        "parameter_count never returns",
        with_body("parameter_count", "while True:\n    pass"),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count ran out of time",
    ),
    Attack(
        "sleeper",
        "parameter_count sleeps for a day",
        with_body("parameter_count", "import time\n\ntime.sleep(86400)"),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count ran out of time",
    ),
    Attack(
        "unkillable",
        "parameter_count ignores SIGINT (how a timeout interrupts it) and spins",
        with_body(
            "parameter_count",
            """
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                pass
            """,
        ),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count (ran out of time|killed the kernel)",
    ),
    Attack(
        "memoryhog",
        "allocates memory, 64 MiB at a time, until it is refused",
        guarded(
            "parameter_count",
            """
_hog, _total = [], 0
try:
    while _total < 8 * 2**30:
        _hog.append(bytearray(64 * 2**20))
        _total += 64 * 2**20
except MemoryError:
    pass
del _hog
if _total > 3 * 2**30:  # the limit is 2 GiB of address space
    _breach.append(f"allocated {_total} bytes")
""",
        ),
    ),
    Attack(
        "forkbomb",
        "forks for 3 seconds (children sleep), then kills and reaps them",
        guarded(
            "parameter_count",
            """
import os
import signal
import time

_children = []
_deadline = time.monotonic() + 3
try:
    while time.monotonic() < _deadline and len(_children) < 400:
        _pid = os.fork()
        if _pid == 0:
            time.sleep(30)
            os._exit(0)
        _children.append(_pid)
except OSError:
    pass
for _pid in _children:
    try:
        os.kill(_pid, signal.SIGKILL)
        os.waitpid(_pid, 0)
    except OSError:
        pass
if len(_children) >= 100:  # the limit is 64 processes and threads
    _breach.append(f"forked {len(_children)} processes")
""",
        ),
    ),
    Attack(
        "output100mb",
        "prints 100 MiB",
        guarded(
            "parameter_count",
            """
import sys

_chunk = "x" * (2**20 - 1) + "\\n"
for _ in range(100):
    sys.stdout.write(_chunk)
sys.stdout.flush()
""",
        ),
    ),
    Attack(
        "chatterthread",
        "a thread that prints to stdout and stderr every 10 ms, for the rest of the notebook",
        guarded(
            "relu_prime",
            """
import sys
import threading
import time


def _chatter():
    while True:
        print("still here", flush=True)
        print("and on stderr", file=sys.stderr, flush=True)
        time.sleep(0.01)


threading.Thread(target=_chatter, daemon=True).start()
""",
        ),
    ),
    Attack(
        "osexit",
        "parameter_count calls os._exit(0)",
        with_body("parameter_count", "import os\n\nos._exit(0)"),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count killed the kernel",
    ),
    Attack(
        "segfault",
        "parameter_count reads address 0",
        with_body("parameter_count", "import ctypes\n\nctypes.string_at(0)"),
        attacked=("check_parameter_count",),
        note=r"check_parameter_count killed the kernel",
    ),
    Attack(
        "killall",
        "sends SIGKILL to every process it may (kill -1): in its PID namespace, none",
        guarded(
            "parameter_count",
            """
import os
import signal

try:
    os.kill(-1, signal.SIGKILL)
except OSError:  # no process it may signal
    pass
""",
        ),
    ),
    Attack(
        "sysexit",
        "relu_prime calls sys.exit()",
        with_body("relu_prime", "import sys\n\nsys.exit()"),
        attacked=("check_relu_prime",),
    ),
    Attack(
        "keyboardinterrupt",
        "relu_prime raises KeyboardInterrupt",
        with_body("relu_prime", "raise KeyboardInterrupt"),
        attacked=("check_relu_prime",),
    ),
    Attack(
        "exithook",
        "a pre_run_cell hook ends the kernel (os._exit) as parameter_count's test cell starts",
        guarded(
            "parameter_count",
            """
import os


def _leave(info):
    if "parameter_count(parameter_count" in (info.raw_cell or ""):
        os._exit(0)


get_ipython().events.register("pre_run_cell", _leave)
""",
        ),
        attacked=("check_parameter_count",),  # the kernel dies as that cell starts
        note=r"check_parameter_count killed the kernel",
    ),
    Attack(
        "killparent",
        "kills its parent process and PID 1",
        guarded(
            "parameter_count",
            """
import os
import signal

for _pid in (os.getppid(), 1):
    try:
        os.kill(_pid, signal.SIGKILL)
        _breach.append(f"killed {_pid}")
    except OSError:
        pass
""",
        ),
    ),
    Attack(
        "setsid",
        "a double-forked grandchild in a new session waits 4 s, then writes to the notebook "
        "file it was graded from",
        guarded(
            "parameter_count",
            """
import os
import time

_target = os.path.abspath("@NOTEBOOK@")
_pid = os.fork()
if _pid == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(4)
        for _ in range(120):
            try:
                with open(_target, "a") as f:
                    f.write("ESC" "APED")  # split, so that only a write puts the word in the file
            except OSError:
                pass
            time.sleep(1)
    os._exit(0)
os.waitpid(_pid, 0)
""",
        ),
    ),
    Attack(
        "setrlimit",
        "raises its hard limits (memory, processes, file size, CPU) to unlimited",
        guarded(
            "parameter_count",
            """
import resource

for _name in ("RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CPU"):
    _which = getattr(resource, _name)
    _hard = resource.getrlimit(_which)[1]
    try:
        resource.setrlimit(_which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        continue
    if resource.getrlimit(_which)[1] != _hard:
        _breach.append(_name)
""",
        ),
    ),
]

TEST_CELLS = [
    Attack(
        "editedtest",
        "relu_prime is wrong and its test cell's source is `pass`",
        edited("relu_prime", "return z", set_source("pass")),
        attacked=("check_relu_prime",),
        note=r"check_relu_prime was edited; the original was graded",
    ),
    Attack(
        "deletedtest",
        "sigmoid_prime is wrong and its test cell is deleted",
        without("sigmoid_prime", "return sigmoid(z)"),
        attacked=("check_sigmoid_prime",),
        note=r"check_sigmoid_prime was deleted or relabelled; the original was graded",
    ),
    Attack(
        "points",
        "half_squared_error is wrong; its test cell is worth 100 points and unlocked",
        edited("half_squared_error", "return 0.0", set_metadata(points=100, locked=False)),
        attacked=("check_half_squared_error",),
        note=r"check_half_squared_error's nbgrader metadata was changed; the original was graded",
    ),
    Attack(
        "gradeid",
        "forward is wrong; its test cell's grade id is check_bonus",
        edited("forward", "return x, []", set_metadata(grade_id="check_bonus")),
        attacked=("check_forward",),
        note=r"check_forward was deleted or relabelled; the original was graded",
    ),
    Attack(
        "celltype",
        "softmax is wrong; its test cell is a markdown cell",
        edited("softmax", "return z", to_markdown),
        attacked=("check_softmax",),
        note=r"check_softmax\b[^;]*; the original was graded",
    ),
    Attack(
        "solutionflag",
        "layer_forward is wrong; its test cell is marked as an answer cell (manually graded)",
        edited("layer_forward", "return None", set_metadata(solution=True)),
        attacked=("check_layer_forward",),
        note=r"check_layer_forward\b[^;]*; the original was graded",
    ),
    Attack(
        "gradeflag",
        "init_params is wrong; its test cell is no longer marked as graded",
        edited("init_params", "return {}", set_metadata(grade=False)),
        attacked=("check_init_params",),
        note=r"check_init_params\b[^;]*; the original was graded",
    ),
    Attack(
        "onlyanswers",
        "the file handed in holds only the locked code and the answers: every test cell, "
        "text and demo cell deleted",
        only_answers,
        note=r"check_sigmoid was deleted or relabelled; the original was graded",
    ),
    # Not attacks but slips: a test cell raises before its hidden checks send anything.
    Attack(
        "renamed",
        "parameter_count is answered under another name, so its test cell's visible check "
        "line raises NameError (outside the graded part)",
        with_cell("parameter_count", "def count_parameters(sizes):\n    return 0"),
        attacked=("check_parameter_count",),
        note=r"the hidden checks of check_parameter_count sent no results \(scored 0\): "
        r"NameError: name 'parameter_count' is not defined",
    ),
    Attack(
        "clobberedcheck",
        "parameter_count is right, but its cell then names a variable `check`, so the "
        "test cell after it raises AttributeError",
        right_then("parameter_count", "check = parameter_count([2, 2, 2])"),
        attacked=("check_parameter_count",),
        note=r"the hidden checks of check_parameter_count sent no results \(scored 0\): "
        r"AttributeError: 'int' object has no attribute 'parameter_count'",
    ),
]

BROKEN_FILES = [
    Attack(
        "invalidjson",
        "a file that is not JSON",
        lambda context: '{"cells": [ {"cell_type": "code", "source": ',
        note=r"is not a valid notebook",
        graded=False,
    ),
    Attack("emptyfile", "a 0-byte file", lambda context: "", note=r"is empty", graded=False),
]

# Copiers: the right answer kept aside, and in its place one that never calls the earlier
# exercises' stand-ins but hands in what it digs out of them (tests/harvest.py, pasted
# into the cell): their attributes and closures, everything the garbage collector
# tracks, the payload on the calling frames and in the test cell's source. Stand-ins
# that kept their recordings in plain form gave these full marks.
HARVESTER = Path(__file__).with_name("harvest.py").read_text()


def copying(name: str, parameters: str, sources: tuple[str, ...]) -> Callable[[Context], Notebook]:
    """``name`` answered by a copier that digs in ``sources`` (see tests/harvest.py)."""

    def make(context: Context) -> Notebook:
        nb = solved()
        cell = demo.exercise_cell(nb, name)
        cell.source = (
            f"{cell.source}\n\n{HARVESTER}\n\n_right = {name}\n\n\n"
            f"def {name}({parameters}):\n"
            f"    return copied(_right, _snapshot, globals(), ({parameters},), {{}}, {sources!r})\n"
            "\n\n_snapshot = dict(globals())  # what changes after this is a stand-in\n"
        )
        return nb

    return make


COPIERS = [
    Attack(
        "copystandin",
        "forward copies what the layer_forward stand-in holds (attributes, closures, "
        "pickled state) instead of calling it",
        copying("forward", "x, params, activations", ("standins",)),
        attacked=("check_forward",),
    ),
    Attack(
        "copygc",
        "forward copies recorded layer_forward calls found among gc.get_objects()",
        copying("forward", "x, params, activations", ("gc",)),
        attacked=("check_forward",),
    ),
    Attack(
        "copypayload",
        "forward copies recorded layer_forward calls from the hidden payload, found on the "
        "calling frames and in the test cell's source",
        copying("forward", "x, params, activations", ("frames",)),
        attacked=("check_forward",),
    ),
    Attack(
        "copytable",
        "layer_forward copies the dense_forward and ACTIVATIONS stand-ins' recordings, "
        "wherever they are",
        copying("layer_forward", "W, b, a_prev, activation", ("standins", "gc", "frames")),
        attacked=("check_layer_forward",),
    ),
]

ATTACKS: list[Attack] = [
    *RETURN_VALUES,
    *MONKEYPATCHES,
    *SECRETS,
    *FILES,
    *NETWORK,
    *PROCESSES,
    *TEST_CELLS,
    *BROKEN_FILES,
    *COPIERS,
]

# Honest students of the same class: their grades must be those of a run without attackers.
HONEST: dict[str, Callable[[], Notebook]] = {
    "perfect": lambda: demo.perfect(LESSON),
    "blank": lambda: demo.blank(LESSON),
    "half-finished": lambda: demo.half_finished(LESSON),
}
VICTIM = "perfect"

assert len({attack.name for attack in ATTACKS}) == len(ATTACKS), "student ids must differ"
assert not any("_" in attack.name for attack in ATTACKS), "student ids must not contain _"
