"""Every grading kernel in a bubblewrap sandbox, with limits.

nbgrader starts one kernel per submission and runs the student's code in it
with the grader's permissions. Here the kernel starts inside ``bwrap``
(Debian's ``bubblewrap``) instead:

* **files**: a new, empty root. Only the system (``/usr``, ``/etc``), the
  Python installation and its virtual environment, and the course's helper
  package are mounted, read-only. The reference answers, the autograder and
  its hidden checks, the gradebook, and every other submission are not there
  at all. The kernel's working directory is a small private tmpfs holding the
  submission's files (its scratch copy), and ``/tmp`` is another one.
* **network**: its own network namespace, with no connection anywhere, not
  even to services on the host's 127.0.0.1. The grader talks to the kernel
  over Unix sockets (ZeroMQ's ``ipc`` transport) in a private folder.
* **processes**: its own PID namespace; when the grader stops the kernel,
  everything the student started goes with it.
* **limits** (:class:`Limits`): address space, CPU seconds, processes, the
  size of any file, the size of the scratch and ``/tmp``. Run as root, the
  grader drops the kernel to an unprivileged user of its own, so that the
  process limit (which counts every process of a user) counts only that
  kernel's processes.
* **users**: each grading process (a worker of ``backprop-grade``, or nbgrader
  run alone) claims one user id of :data:`SANDBOX_UIDS` that no other process
  on the machine holds, by an exclusive ``flock`` on that id's file in a
  machine-wide lock folder (:func:`uid_lock_folder`), held until the process
  ends. So two grading runs at once never share a user, and a process that is
  killed frees its id: the operating system drops its locks with its files.
* **files beside the notebook**: the working directory is never on the
  kernel's ``sys.path`` (``PYTHONSAFEPATH``), so a handed-in ``numpy.py`` or
  ``backprop_course/`` cannot stand in for the real modules.

Each cell is limited twice: in wall-clock time by nbgrader's own
``Execute.timeout``, and in CPU time, summed over all the kernel's processes,
by :meth:`SandboxedKernelManager.budget_next_cell` (a cell that burns several
cores, or leaves children burning, reaches it before the clock does). Output
size is capped as it arrives by ``preprocessors.ResilientExecute``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib.util
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, Unicode

FIRST_UID = 60000
SANDBOX_UIDS = range(FIRST_UID, FIRST_UID + 512)  # run as root, the kernels' users
GIB = 1024**3
MIB = 1024**2
INSTALL_HINT = (
    "Grading runs every kernel in a bubblewrap sandbox. Install it (Debian/Ubuntu: "
    "apt-get install bubblewrap; Fedora: dnf install bubblewrap; Arch: pacman -S bubblewrap), "
    "or grade without isolation with --unsafe-no-sandbox (never for untrusted submissions)."
)


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create the namespaces it needs here."""


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use. The defaults suit the course's lessons."""

    memory_bytes: int = 2 * GIB  # address space of each process
    cpu_seconds: int = 600  # CPU time of each process, over the whole notebook
    cell_cpu_seconds: int = 30  # CPU time of all its processes together, per cell
    processes: int = 64  # processes and threads of the kernel's user
    file_bytes: int = 64 * MIB  # the largest file it may write
    scratch_bytes: int = 128 * MIB  # its working directory (a tmpfs)
    tmp_bytes: int = 128 * MIB  # its /tmp (a tmpfs)


def find_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(f"bwrap was not found on PATH. {INSTALL_HINT}")
    return path


# -- the kernel's user: one per grading process on the whole machine -------------------


def uid_lock_folder() -> Path:
    """The machine-wide folder of the per-uid lock files (/run/lock, else /tmp): every
    grading run on the machine must look in the same one, whatever its TMPDIR."""
    base = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")
    return base / "backprop-grading-uids"


def claim_uid(folder: Path | None = None, uids: range = SANDBOX_UIDS) -> tuple[int, int]:
    """The first of ``uids`` that no process holds, and the open lock file that holds it.

    Holding is an exclusive ``flock`` on ``<folder>/<uid>``: it lasts as long as the
    descriptor stays open, and the kernel drops it when the holder exits or is killed.
    """
    folder = folder or uid_lock_folder()
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = os.lstat(folder)  # root opens files in it: it must be a folder only we can change
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailable(f"{folder} is not a folder of this user's alone: remove it")
    for uid in uids:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(folder / str(uid), flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another grading process holds it
            os.close(fd)
            continue
        return uid, fd
    raise SandboxUnavailable(f"all {len(uids)} sandbox users of {folder} are in use")


_claimed: dict[str, int] = {}  # this process's claim: "uid" and its lock's "fd"
_claiming = threading.Lock()


def process_uid() -> int:
    """This process's sandbox user: claimed on first use, held until the process ends."""
    with _claiming:
        if not _claimed:
            _claimed["uid"], _claimed["fd"] = claim_uid()
        return _claimed["uid"]


def _forget_claim_in_child() -> None:
    """A forked child (a grading worker) claims a uid of its own: its copy of the
    parent's lock descriptor is closed (the parent still holds the lock)."""
    global _claiming
    _claiming = threading.Lock()
    if "fd" in _claimed:
        os.close(_claimed["fd"])
    _claimed.clear()


os.register_at_fork(after_in_child=_forget_claim_in_child)


def _readonly_system() -> list[str]:
    """The system folders, read-only; merged-/usr symlinks such as /lib -> usr/lib kept."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def _readonly(folder: Path) -> list[str]:
    """Bind ``folder`` read-only at the same path, its parents made traversable.

    bwrap creates the missing parents of a mount point with the umask's
    permissions (0700 under a strict umask), which the kernel's user could not
    enter; so they are made first, 0755.
    """
    parents = [p for p in reversed(folder.parents) if p != Path("/")]
    made = [arg for p in parents for arg in ("--perms", "0755", "--dir", str(p))]
    return [*made, "--ro-bind", str(folder), str(folder)]


def _readonly_python() -> list[str]:
    """The interpreter's installation and the virtual environment, read-only."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).absolute()}
    return [arg for folder in sorted(folders) for arg in _readonly(folder)]


# The kernel's environment: nothing of the grader's but these (no tokens, no paths).
PASSED_ENVIRONMENT = ("NBGRADER_EXECUTION", "LANG", "LC_ALL", "PYTHONHASHSEED", "TZ")


MATPLOTLIB_DIR = "/tmp/matplotlib"

# Installed into site-packages (``pip install .`` rather than ``-e``), these would
# come in with the virtual environment; they are hidden under empty folders.
SECRET_PACKAGES = ("backprop_reference", "backprop_autograder")


def _hidden_secret_packages() -> list[str]:
    """An empty tmpfs over each secret package that lies inside the mounted Python."""
    mounted = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    args = []
    for name in SECRET_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            folder = Path(location).resolve()
            if any(folder.is_relative_to(root) for root in mounted):
                args += ["--tmpfs", str(folder)]
    return args


@functools.cache
def _font_list() -> Path | None:
    """matplotlib's list of the system's fonts, as the grader built it (None: no matplotlib)."""
    try:
        import matplotlib
        from matplotlib import font_manager  # builds the list on first import
    except ImportError:
        return None
    version = font_manager.FontManager.__version__
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{version}.json"
    return path if path.is_file() else None


def _matplotlib_cache() -> list[str]:
    """A writable matplotlib folder in /tmp holding the grader's font list, read-only.

    Without it each kernel would search the system's fonts again on its first
    plot, about 0.3 s per notebook.
    """
    args = ["--perms", "0777", "--dir", MATPLOTLIB_DIR]
    font_list = _font_list()
    if font_list is not None:
        args += ["--ro-bind", str(font_list), f"{MATPLOTLIB_DIR}/{font_list.name}"]
    return args


def _readonly_course_package() -> list[str]:
    """The helper package the notebooks import (``backprop_course``), read-only."""
    import backprop_course

    return _readonly(Path(backprop_course.__file__).resolve().parent)


def _scratch(cwd: Path, limits: Limits) -> list[str]:
    """A private tmpfs at ``cwd`` holding the submission's files: writes stay inside."""
    args = ["--perms", "0777", "--size", str(limits.scratch_bytes), "--tmpfs", str(cwd)]
    for entry in sorted(cwd.iterdir()):
        args += ["--bind", str(entry), str(entry)]
    return args


def processes_of_mine() -> int:
    """How many processes and threads this user runs now (what RLIMIT_NPROC counts)."""
    me, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == me:
                    count += len(os.listdir(entry / "task"))
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return count


def bwrap_command(
    command: list[str],
    cwd: Path,
    sockets: Path,
    limits: Limits,
    uid: int | None,
    environment: dict[str, str] | None = None,
) -> list[str]:
    """``command`` wrapped: prlimit's limits, then bwrap, then (as root) a drop to ``uid``."""
    # The process limit counts every process of the kernel's user. As root the
    # kernel gets a user of its own; otherwise it shares the grader's, so the
    # grader's own processes are added to its allowance.
    processes = limits.processes if uid is not None else limits.processes + processes_of_mine()
    rlimits = [
        "prlimit",
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={processes}",
        "--core=0",
        "--",
    ]
    sandbox = [
        find_bwrap(),
        # network, PID, IPC, host name, cgroup; a user namespace only when not root
        # (as root the kernel drops to a real unprivileged user instead, below)
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",  # no terminal to inject keystrokes into
        "--hostname", "sandbox",
        # /tmp first: the binds below may lie inside it (a checkout in /tmp)
        "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
        *_matplotlib_cache(),
        "--proc", "/proc",
        "--dev", "/dev",
        *_readonly_system(),
        *_readonly_python(),
        *_hidden_secret_packages(),
        *_readonly_course_package(),
        *_scratch(cwd, limits),
        "--bind", str(sockets), str(sockets),
        "--chdir", str(cwd),
        "--clearenv",
        "--setenv", "PATH", f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "MPLCONFIGDIR", MATPLOTLIB_DIR,
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        # the working folder (the files handed in) is not on sys.path: a numpy.py there
        # does not shadow numpy (see preprocessors.SAFE_PATH_ENVIRONMENT)
        "--setenv", "PYTHONSAFEPATH", "1",
        "--setenv", "OPENBLAS_NUM_THREADS", "1",  # one worker, one core
        "--setenv", "OMP_NUM_THREADS", "1",
    ]  # fmt: skip
    environment = os.environ if environment is None else environment
    for name in PASSED_ENVIRONMENT:
        if name in environment:
            sandbox += ["--setenv", name, environment[name]]
    if uid is not None:  # root: become a user of our own inside, with no capabilities
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]  # fmt: skip
        return rlimits + sandbox + ["--", *drop, *command]
    return rlimits + sandbox + ["--", *command]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WATCH_INTERVAL = 0.25  # seconds between two looks at a running cell's CPU time


def descendants(root: int) -> list[int]:
    """``root``'s child processes, their children and so on."""
    found, stack = [], [root]
    while stack:
        for child in children_of(stack.pop()):
            found.append(child)
            stack.append(child)
    return found


def children_of(pid: int) -> list[int]:
    """A process's children: from each of its threads' ``children`` file (cheap), or,
    where the kernel does not provide those files, by scanning all of /proc."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        files = [task / "children" for task in tasks.iterdir()]
    except OSError:
        return []
    if files and not files[0].exists():
        return [int(e.name) for e in Path("/proc").iterdir() if _parent(e.name) == str(pid)]
    children = []
    for file in files:
        try:
            children += [int(n) for n in file.read_text().split()]
        except OSError:
            continue  # the thread ended meanwhile
    return children


def _parent(name: str) -> str | None:
    stat = _stat_fields(int(name)) if name.isdigit() else None
    return stat[1] if stat else None


def tree_cpu_seconds(root: int) -> float:
    """CPU time used so far by ``root`` and its descendants, ended children included."""
    total = 0
    for pid in [root, *descendants(root)]:
        stat = _stat_fields(pid)
        if stat is not None and len(stat) > 14:
            # utime, stime, and the same of children already waited for
            total += sum(int(ticks) for ticks in stat[11:15])
    return total / CLOCK_TICKS


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, ...] (fields 3 onwards)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts its kernel inside :func:`bwrap_command`.

    Configurable from nbgrader_config.py as ``c.SandboxedKernelManager.<name>``.
    """

    sandbox_uid = Integer(
        None,
        allow_none=True,
        help="Run as root, the kernel runs as this user id. Default: the one this process "
        "claimed from SANDBOX_UIDS, which no other grading process on the machine holds.",
    ).tag(config=True)
    memory_bytes = Integer(Limits.memory_bytes, help="Address space per process.").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU seconds per process.").tag(config=True)
    cell_cpu_seconds = Integer(
        Limits.cell_cpu_seconds, help="CPU seconds per cell, all processes (0: no limit)."
    ).tag(config=True)
    processes = Integer(Limits.processes, help="Processes and threads.").tag(config=True)
    file_bytes = Integer(Limits.file_bytes, help="Largest file it may write.").tag(config=True)
    socket_root = Unicode("", help="Where the private socket folders go (default: temp).").tag(
        config=True
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._watched: int | None = None  # the kernel process the CPU watchdog follows
        self._cell_start_cpu: float | None = None
        self.stopped_for_cpu = False
        # Unix sockets cross the network namespace; TCP on 127.0.0.1 would not.
        folder = tempfile.mkdtemp(prefix="grading-kernel-", dir=self.socket_root or None)
        self._sockets = Path(folder)
        self.transport = "ipc"
        self.ip = str(self._sockets / "kernel")
        self.connection_file = str(self._sockets / "kernel.json")

    @property
    def kernel_spec(self) -> Any:
        """The kernel's spec, interrupted by a message: a signal would stop at bwrap."""
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    @property
    def limits(self) -> Limits:
        return Limits(
            memory_bytes=self.memory_bytes,
            cpu_seconds=self.cpu_seconds,
            processes=self.processes,
            file_bytes=self.file_bytes,
        )

    def _kernel_user(self) -> int | None:
        if os.geteuid() != 0:
            return None
        return self.sandbox_uid if self.sandbox_uid is not None else process_uid()

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        cwd = Path(kw.get("cwd") or os.getcwd()).resolve()
        uid = self._kernel_user()
        if uid is not None:  # its sockets and its scratch files belong to that user
            for path in [self._sockets, *self._sockets.iterdir(), *cwd.iterdir()]:
                os.chown(path, uid, uid)
        wrapped = bwrap_command(kernel_cmd, cwd, self._sockets, self.limits, uid, kw.get("env"))
        await super()._async_launch_kernel(wrapped, **kw)

    def seal_sockets(self) -> None:
        """Once the kernel has made its sockets: no more files in their (host) folder.

        The folder is on the host's disk, shared with the sandbox so the grader
        can reach the kernel; left writable, student code could fill the disk.
        Only as root can the kernel's user be locked out of it.
        """
        if self._kernel_user() is None:
            return
        for path in [self._sockets, *self._sockets.iterdir()]:
            if not path.is_socket():
                os.chown(path, 0, 0)
        os.chmod(self._sockets, 0o755)
        os.chmod(self.connection_file, 0o644)

    def budget_next_cell(self) -> None:
        """Before a cell runs: from now on the kernel may use ``cell_cpu_seconds`` of CPU.

        Counted over all its processes (children and threads too) by a watchdog
        in the grader, which stops the whole sandbox when the cell goes over.
        Nothing inside can raise or dodge it, and it needs no privilege.
        """
        process = getattr(self.provisioner, "process", None)
        if not self.cell_cpu_seconds or process is None:
            return
        self._cell_start_cpu = tree_cpu_seconds(process.pid)
        if self._watched != process.pid:
            self._watched = process.pid
            threading.Thread(target=self._watch, args=(process.pid,), daemon=True).start()

    def _watch(self, root: int) -> None:
        while self._watched == root and _stat_fields(root) not in (None, ["Z"]):
            time.sleep(WATCH_INTERVAL)
            start = self._cell_start_cpu
            if start is not None and tree_cpu_seconds(root) - start > self.cell_cpu_seconds:
                self.stopped_for_cpu = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(root, signal.SIGKILL)  # bwrap: its namespace and all in it go too
                return

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            shutil.rmtree(self._sockets, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources
