"""Real servers for the distributed tests: PostgreSQL, and a Dask scheduler with workers.

* :class:`Postgres`: Debian's PostgreSQL server (``make test`` installs the
  ``postgresql`` package when it is missing), in a temporary folder, started
  with ``initdb`` and ``pg_ctl`` as an unprivileged user (PostgreSQL refuses
  to run as root), listening on 127.0.0.1 on a free port, with one database.
* :class:`DaskCluster`: ``dask scheduler`` and ``dask worker`` processes. Each
  worker runs in a scratch folder of its own, in a mount namespace where the
  coordinator's folder is hidden under an empty tmpfs: it cannot read the
  course directory even if it tried.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found: install the server (Debian/Ubuntu: "
            "apt-get install postgresql); make test does so when run as root"
        )
    return found


def wait_until(ready, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} was not ready after {seconds} s")


class Postgres:
    """A PostgreSQL server of its own in ``folder``; ``url`` names its database."""

    def __init__(self, folder: Path, database: str = "gradebook") -> None:
        self.folder, self.database = folder, database
        self.data, self.sockets = folder / "data", folder / "sockets"
        self.port = free_port()
        self.user = "grader"
        self.url = self.url_of(database)

    def url_of(self, database: str) -> str:
        # psycopg (version 3), named in the URL: SQLAlchemy's default driver differs by version
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """A new, empty database on this server; its URL."""
        self.sql(f"CREATE DATABASE {name}", database="postgres")
        return self.url_of(name)

    def _as_server_user(self, command: list[str]) -> subprocess.CompletedProcess:
        """Run as the unprivileged owner of the data (root runs nothing of the server)."""
        prefix = []
        if os.geteuid() == 0:
            account = _server_account()
            prefix = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                      "--clear-groups", "--"]  # fmt: skip
        return subprocess.run(prefix + command, capture_output=True, text=True, check=True,
                              cwd=self.folder)  # fmt: skip

    def start(self) -> Postgres:
        for folder in (self.folder, self.data, self.sockets):
            folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            account = _server_account()
            for folder in (self.folder, self.data, self.sockets):
                os.chown(folder, account.pw_uid, account.pw_gid)
            _traversable(self.folder)
        self._as_server_user([postgres_bin("initdb"), "-D", str(self.data), "-U", self.user,
                              "--auth=trust", "-E", "UTF8", "--no-sync"])  # fmt: skip
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
                   "-c fsync=off -c max_connections=40")  # fmt: skip
        self._as_server_user([postgres_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                              "-l", str(self.folder / "server.log"), "-w", "start"])  # fmt: skip
        self.new_database(self.database)
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._as_server_user([postgres_bin("pg_ctl"), "-D", str(self.data), "-m",
                                  "immediate", "stop"])  # fmt: skip

    def sql(self, query: str, database: str | None = None) -> list[tuple]:
        """Rows of ``query``, through psycopg (autocommit)."""
        import psycopg

        connection = psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                                     dbname=database or self.database, autocommit=True)  # fmt: skip
        try:
            with connection.cursor() as cursor:
                cursor.execute(query)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


def _server_account() -> pwd.struct_passwd:
    """Debian's ``postgres`` user, else ``nobody``."""
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("no unprivileged account (postgres or nobody) to run PostgreSQL as")


def _traversable(folder: Path) -> None:
    """Let the server's user walk down to ``folder`` (pytest's folders are 0700)."""
    for parent in [folder, *folder.parents]:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)


# The scheduler (which unpickles each task) and the workers import the grading code as
# they start, as autograder/README.md tells instructors to.
PRELOAD = ["--preload", "backprop_autograder.remote"]


class DaskCluster:
    """A real Dask scheduler and ``workers`` worker processes, one thread each.

    ``hidden``: a folder the workers must not see (the coordinator's): each
    worker's mount namespace has an empty tmpfs over it.
    """

    def __init__(self, folder: Path, hidden: Path, workers: int = 2) -> None:
        self.folder, self.hidden, self.count = folder, hidden, workers
        self.scheduler_file = folder / "scheduler.json"
        self.processes: dict[str, subprocess.Popen] = {}
        self.address = ""
        self.dashboard = ""

    def start(self) -> DaskCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        dashboard_port = free_port()
        self._spawn("scheduler", [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--scheduler-file", str(self.scheduler_file),
                                  "--dashboard-address", f"127.0.0.1:{dashboard_port}",
                                  *PRELOAD],
                    self.folder)  # fmt: skip
        wait_until(self.scheduler_file.exists, 60, "the Dask scheduler")
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        self.dashboard = f"http://127.0.0.1:{dashboard_port}"
        for number in range(1, self.count + 1):
            self.start_worker(f"worker-{number}")
        self.wait_for_workers(self.count)
        return self

    def start_worker(self, name: str) -> None:
        scratch = self.folder / name
        scratch.mkdir(exist_ok=True)
        # With a nanny, as `dask worker` starts by default and the README's recipes do.
        worker = [str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1",
                  "--local-directory", str(scratch), "--no-dashboard",
                  *PRELOAD]  # fmt: skip
        self._spawn(name, _hiding(self.hidden, worker), scratch)

    def _spawn(self, name: str, command: list[str], cwd: Path) -> None:
        with (self.folder / f"{name}.log").open("wb") as log:  # the process keeps its copy
            self.processes[name] = subprocess.Popen(
                command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=120)

    def kill(self, name: str) -> None:
        """SIGKILL a worker, as a machine that is lost would go: no goodbye to anyone."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        """Workers first, then the scheduler; whatever does not stop in 10 s is killed."""
        for name in sorted(self.processes, key=lambda name: name == "scheduler"):
            process = self.processes[name]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _hiding(hidden: Path, command: list[str]) -> list[str]:
    """``command`` in a mount namespace of its own, with an empty tmpfs over ``hidden``."""
    namespace = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:  # a user namespace lets an unprivileged user mount
        namespace[1:1] = ["--user", "--map-current-user"]
    script = 'mount -t tmpfs -o size=1m,mode=0755 hidden "$0" && exec "$@"'
    return [*namespace, "sh", "-c", script, str(hidden), *command]
