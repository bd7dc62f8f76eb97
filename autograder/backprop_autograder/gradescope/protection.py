"""Keeping the answers from student code: the bubblewrap sandbox if a trial run in it
works, else an unprivileged user of its own (:class:`UnprivilegedKernelManager`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from backprop_autograder import sandbox
from backprop_autograder.gradescope.settings import NotGradable

# auto (default): the sandbox if it works here, else the unprivileged user; "sandbox" or
# "user": only that one.
PROTECTION_VARIABLE = "BACKPROP_GRADESCOPE_PROTECTION"
UNSAFE_VARIABLE = "BACKPROP_UNSAFE_NO_SANDBOX"  # as nbgrader_config.py reads it

SANDBOX, USER, UNSAFE = "sandbox", "user", "unsafe"

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


def answers_file(course_dir: Path, assignment: str) -> Path:
    return course_dir / "hidden_answers" / assignment / f"{assignment}.json"


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
    permissions, see :func:`.grading.lock_away` and ``setup.sh``) and no network.
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
