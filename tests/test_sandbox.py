"""The grading kernel's sandbox, probed from inside a real sandboxed kernel.

Each test runs a small notebook with :class:`SandboxedKernelManager`, the
kernel manager nbgrader uses for autograding (see autograder/nbgrader_config.py),
and reads what the student's code could see and do.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from backprop_autograder import sandbox
from backprop_autograder.sandbox import SandboxedKernelManager

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def bubblewrap_is_here():
    """Fail, never skip, without bwrap: the sandbox is not optional."""
    try:
        sandbox.find_bwrap()
    except sandbox.SandboxUnavailable as error:
        pytest.fail(f"{error} (`make test` installs it when run as root)")


def run_in_sandbox(scratch: Path, *cells: str, timeout: int = 60) -> list[str]:
    """Run ``cells`` in a sandboxed kernel whose working directory is ``scratch``.

    Returns each cell's text: its stream output, or ``ename: evalue`` of its error.
    """
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=True,
        kernel_manager_class=SandboxedKernelManager,
        resources={"metadata": {"path": str(scratch)}},
    )
    client.execute(stderr=subprocess.DEVNULL)  # the kernel's start-up notice
    texts = []
    for cell in nb.cells:
        parts = []
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
        texts.append("".join(parts).strip())
    return texts


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "autograded" / "student" / "01_forward_pass"
    folder.mkdir(parents=True)
    (folder / "01_forward_pass.ipynb").write_text("{}")
    return folder


def digest(folder: Path) -> str:
    """A hash of every file's path and bytes below ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_the_kernel_sees_no_answers_no_autograder_and_no_other_files(scratch):
    neighbour = scratch.parent.parent / "other-student" / "secret.txt"
    neighbour.parent.mkdir()
    neighbour.write_text("another student's work")
    (scratch.parents[2] / "gradebook.db").write_text("grades")
    seen = run_in_sandbox(
        scratch,
        "import os\nprint(sorted(os.listdir('.')))",
        f"print(os.path.exists({str(ROOT / 'solutions')!r}), "
        f"os.path.exists({str(ROOT / 'autograder')!r}))",
        f"print(os.path.exists({str(neighbour)!r}), "
        f"os.path.exists({str(scratch.parents[2] / 'gradebook.db')!r}))",
        "import backprop_reference",
        "import backprop_autograder.hidden",
        "import backprop_course, numpy\nprint('course package ok')",
    )
    assert seen[0] == "['01_forward_pass.ipynb']"
    assert seen[1] == "False False"
    assert seen[2] == "False False"
    assert seen[3].startswith("ModuleNotFoundError")
    assert seen[4].startswith("ModuleNotFoundError")
    assert seen[5] == "course package ok"


def test_no_connection_leaves_the_sandbox_not_even_to_the_hosts_loopback(scratch):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    seen = run_in_sandbox(
        scratch,
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
        "socket.create_connection(('93.184.215.14', 80), timeout=3)",
        "socket.getaddrinfo('pypi.org', 443)",
    )
    server.close()
    assert not accepted, "the sandboxed kernel reached a server on the host"
    assert seen[0].startswith("ConnectionRefusedError")  # its own, empty loopback
    assert seen[1].startswith("OSError") and "unreachable" in seen[1]
    assert seen[2].startswith("gaierror")


def test_writes_stay_in_the_scratch_and_the_rest_is_read_only(scratch):
    before = digest(ROOT / "course")
    seen = run_in_sandbox(
        scratch,
        "open('notes.txt', 'w').write('mine')\nprint(open('notes.txt').read())",
        f"open({str(ROOT / 'course' / 'evil.txt')!r}, 'w')",
        "open('/etc/evil', 'w')",
        "open('01_forward_pass.ipynb', 'w').write('changed')\nprint('scratch copy changed')",
    )
    assert seen[0] == "mine"
    assert seen[1].startswith(("OSError", "PermissionError"))
    assert seen[2].startswith(("OSError", "PermissionError"))
    assert seen[3] == "scratch copy changed"
    assert not (scratch / "notes.txt").exists()  # new files live in the sandbox's tmpfs
    assert digest(ROOT / "course") == before


def test_its_own_processes_and_user_only(scratch):
    seen = run_in_sandbox(
        scratch,
        "import os\nprint(os.getpid() < 10, os.getuid() != 0)",
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]) < 10)",
        "import socket\nprint(socket.gethostname())",
    )
    assert seen[0] == "True True" if os.geteuid() == 0 else seen[0].startswith("True")
    assert seen[1] == "True"
    assert seen[2] == "sandbox"


def test_memory_processes_and_file_sizes_are_limited(scratch):
    seen = run_in_sandbox(
        scratch,
        "import numpy as np\nx = np.ones(3 * 2**30 // 8)",  # 3 GiB, the limit is 2
        "import os\nchildren = 0\n"
        "try:\n"
        "    for _ in range(500):\n"
        "        if os.fork() == 0:\n"
        "            import time; time.sleep(30); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as error:\n"
        "    print('stopped after', children, type(error).__name__)",
        "open('/tmp/big', 'wb').write(b'0' * (100 * 2**20))",  # 100 MiB, the limit is 64
        "print('still alive')",
    )
    assert seen[0].startswith("MemoryError")
    stopped = seen[1].split()
    assert stopped[:2] == ["stopped", "after"] and int(stopped[2]) < 100, seen[1]
    assert seen[2].startswith("OSError") and "too large" in seen[2].lower()
    assert seen[3] == "still alive"


def test_grading_without_the_sandbox_takes_a_flag_and_warns(tmp_path):
    command = [sys.executable, "-m", "backprop_autograder.cli", "--course-dir",
               str(tmp_path), "--unsafe-no-sandbox", "autograde", "01_forward_pass"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert "WARNING: --unsafe-no-sandbox" in result.stderr


def test_without_bubblewrap_grading_stops_and_says_how_to_get_it(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no /usr/bin: no bwrap
    command = [sys.executable, "-m", "backprop_autograder.cli", "--course-dir",
               str(tmp_path), "autograde", "01_forward_pass"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode != 0
    assert "apt-get install bubblewrap" in result.stderr + result.stdout
    assert "--unsafe-no-sandbox" in result.stderr + result.stdout


def test_a_flood_of_output_is_cut_as_it_arrives(tmp_path):
    from backprop_autograder.preprocessors import ResilientExecute

    nb = new_notebook(
        cells=[
            new_code_cell("for _ in range(10_000):\n    print('x' * 10_000)"),  # 100 MB
            new_code_cell("print('the next cell runs')"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    executor = ResilientExecute(
        timeout=120, kernel_manager_class=SandboxedKernelManager, max_output_bytes=100_000
    )
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    kept = "".join(out.get("text", "") for out in nb.cells[0].outputs)
    assert 100_000 <= len(kept) < 100_200
    assert kept.rstrip().endswith("[output cut: this cell printed more than 100000 bytes]")
    assert nb.cells[1].outputs[0]["text"] == "the next cell runs\n"


def test_tmp_is_mounted_before_anything_that_lives_inside_it(tmp_path):
    """A checkout or a course directory under /tmp must not be hidden by the new /tmp."""
    command = sandbox.bwrap_command(["true"], tmp_path, tmp_path, sandbox.Limits(), None)
    tmpfs_at = next(
        i for i, arg in enumerate(command) if arg == "--tmpfs" and command[i + 1] == "/tmp"
    )
    for i, arg in enumerate(command):
        if arg in ("--bind", "--ro-bind") and command[i + 2].startswith("/tmp/"):
            assert i > tmpfs_at, command[i : i + 3]


def test_without_root_the_process_allowance_adds_the_graders_own_processes(tmp_path):
    limits = sandbox.Limits(processes=64)
    as_root = sandbox.bwrap_command(["true"], tmp_path, tmp_path, limits, uid=60000)
    as_user = sandbox.bwrap_command(["true"], tmp_path, tmp_path, limits, uid=None)
    assert "--nproc=64" in as_root
    mine = sandbox.processes_of_mine()
    assert mine >= threading.active_count()  # this test's own threads at least
    (nproc,) = [arg for arg in as_user if arg.startswith("--nproc=")]
    assert int(nproc.removeprefix("--nproc=")) >= 64 + mine - 5  # a few may come and go


def test_each_cell_has_its_own_cpu_time_and_ignoring_the_signal_does_not_help(tmp_path):
    """Three cells: a light one, one burning more CPU than a cell may (and ignoring
    SIGXCPU), then a light one again, which still gets its full budget."""
    from backprop_autograder.preprocessors import KERNEL_DIED, ResilientExecute

    spin = (
        "import signal, time\n"
        "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "start = time.process_time()\n"
        "while time.process_time() - start < 30:\n"
        "    pass"
    )
    light = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.5:\n    pass\nprint('ok')"  # noqa: E501
    nb = new_notebook(cells=[new_code_cell(light), new_code_cell(spin), new_code_cell(light)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    executor = ResilientExecute(timeout=60, kernel_manager_class=SandboxedKernelManager)
    executor.config.SandboxedKernelManager.cell_cpu_seconds = 2
    started = time.monotonic()
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    elapsed = time.monotonic() - started
    assert nb.cells[0].outputs[0]["text"] == "ok\n"
    assert nb.cells[1].outputs[0]["ename"] == KERNEL_DIED
    assert "CPU time" in nb.cells[1].outputs[0]["evalue"]
    assert nb.cells[1].metadata["backprop_grading"] == {"stopped": "out_of_cpu"}  # for the summary
    assert "backprop_grading" not in nb.cells[0].metadata | nb.cells[2].metadata
    assert nb.cells[2].outputs[0]["text"] == "ok\n"
    assert elapsed < 25, f"the spinning cell ran {elapsed:.0f} s: the CPU limit did not stop it"


def test_once_up_the_kernel_cannot_write_into_its_socket_folder_on_the_host(tmp_path):
    """The folder holding the kernel's sockets is on the host's disk: sealed once the
    kernel has made them, so student code cannot fill the disk through it."""
    from backprop_autograder.preprocessors import ResilientExecute

    probe = (
        "import os, ipykernel.connect\n"
        "folder = os.path.dirname(ipykernel.connect.get_connection_file())\n"
        "for name in ('filler', 'kernel.json'):\n"
        "    try:\n"
        "        open(os.path.join(folder, name), 'ab').write(b'0' * 1000)\n"
        "        print('wrote', name)\n"
        "    except OSError as error:\n"
        "        print(type(error).__name__, name)\n"
    )
    nb = new_notebook(cells=[new_code_cell(probe)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    executor = ResilientExecute(timeout=60, kernel_manager_class=SandboxedKernelManager)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    lines = nb.cells[0].outputs[0]["text"].splitlines()
    assert len(lines) == 2, lines
    if os.geteuid() == 0:  # only root can lock the kernel's own user out (CI grades as root)
        assert lines == ["PermissionError filler", "PermissionError kernel.json"]


def test_an_installed_copy_of_the_answers_is_hidden_under_an_empty_folder(monkeypatch, tmp_path):
    """`pip install .` (not -e) would put the reference into the mounted site-packages."""
    import importlib.machinery

    inside = Path(sys.prefix) / "lib" / "site-packages-example" / "backprop_reference"
    spec = importlib.machinery.ModuleSpec("backprop_reference", None, is_package=True)
    spec.submodule_search_locations = [str(inside)]
    real = sandbox.importlib.util.find_spec
    monkeypatch.setattr(
        sandbox.importlib.util,
        "find_spec",
        lambda name: spec if name == "backprop_reference" else real(name),
    )
    command = sandbox.bwrap_command(["python"], tmp_path, tmp_path, sandbox.Limits(), None)
    at = command.index(str(inside.resolve()))
    assert command[at - 1] == "--tmpfs"
    assert at > command.index("--ro-bind")  # mounted over the read-only Python, not under
    # the editable install of this checkout lives outside the mounted Python: nothing to hide
    assert str(ROOT / "solutions") not in " ".join(command)


# -- files handed in next to the notebook ---------------------------------------------------


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "unsafe-no-sandbox"])
def test_files_beside_the_notebook_do_not_shadow_the_real_modules(tmp_path, sandboxed):
    """The kernel's working folder is not on sys.path, sandboxed or not."""
    from jupyter_client.manager import AsyncKernelManager

    from backprop_autograder.preprocessors import ResilientExecute

    (tmp_path / "numpy.py").write_text("raise ImportError('the numpy.py handed in')\n")
    (tmp_path / "backprop_course").mkdir()
    (tmp_path / "backprop_course" / "__init__.py").write_text("raise ImportError('mine')\n")
    probe = (
        "import os, sys, numpy, backprop_course\n"
        "print(numpy.__file__ != os.path.abspath('numpy.py'), numpy.ones(2).sum())\n"
        "print('' in sys.path, os.getcwd() in sys.path)"
    )
    nb = new_notebook(cells=[new_code_cell(probe)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    manager = SandboxedKernelManager if sandboxed else AsyncKernelManager
    executor = ResilientExecute(timeout=60, kernel_manager_class=manager)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    assert [out.get("text") for out in nb.cells[0].outputs] == ["True 2.0\nFalse False\n"]


# -- the kernels' users ---------------------------------------------------------------------


def _hold_a_uid(uids, everyone_claimed) -> None:
    """A grading worker: claim this process's uid, report it, hold it until all have one."""
    uids.put(sandbox.process_uid())
    everyone_claimed.wait(timeout=60)


def test_workers_of_two_runs_at_once_get_their_own_uids(tmp_path, monkeypatch):
    """Two runs of two workers each (forked, as backprop-grade's are), all four at once."""
    import multiprocessing

    monkeypatch.setattr(sandbox, "uid_lock_folder", lambda: tmp_path / "locks")
    fork = multiprocessing.get_context("fork")
    uids, everyone_claimed = fork.Queue(), fork.Barrier(4)
    workers = [fork.Process(target=_hold_a_uid, args=(uids, everyone_claimed)) for _ in range(4)]
    for worker in workers:
        worker.start()
    claimed = [uids.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len(set(claimed)) == 4, claimed
    assert set(claimed) <= set(sandbox.SANDBOX_UIDS)


def test_a_forked_worker_does_not_inherit_its_parents_uid(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setattr(sandbox, "uid_lock_folder", lambda: tmp_path / "locks")
    monkeypatch.setattr(sandbox, "_claimed", {})  # this test process claims one of its own
    parent = sandbox.process_uid()
    try:
        fork = multiprocessing.get_context("fork")
        uids = fork.Queue()
        child = fork.Process(target=_hold_a_uid, args=(uids, fork.Barrier(1)))
        child.start()
        assert uids.get(timeout=60) != parent
        child.join(timeout=60)
        assert sandbox.process_uid() == parent  # and the parent still holds its own
    finally:
        os.close(sandbox._claimed["fd"])


def test_a_killed_holder_frees_its_uid(tmp_path):
    holding = (
        "import sys, time; from pathlib import Path; from backprop_autograder import sandbox\n"
        "print(sandbox.claim_uid(Path(sys.argv[1]))[0], flush=True); time.sleep(120)"
    )
    command = [sys.executable, "-c", holding, str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as holder:
        try:
            held = int(holder.stdout.readline())
            mine, fd = sandbox.claim_uid(tmp_path)
            assert mine != held
        finally:
            holder.kill()
    freed, fd2 = sandbox.claim_uid(tmp_path)
    assert freed == held
    os.close(fd)
    os.close(fd2)


def test_uid_locks_refuse_a_folder_others_can_write(tmp_path):
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(sandbox.SandboxUnavailable, match="remove it"):
        sandbox.claim_uid(folder)
