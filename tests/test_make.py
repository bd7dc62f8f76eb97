"""`make lab` on a fresh checkout: it installs, serves course/, and the second run
skips the install."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token"


def fresh_checkout(tmp_path: Path) -> Path:
    """A copy of the tracked files plus the working-tree changes, as a clone would have."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    target = tmp_path / "checkout"
    for name in files:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict | list:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def start_lab(checkout: Path, port: int, log: Path) -> subprocess.Popen:
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token={TOKEN}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["JUPYTER_CONFIG_DIR"] = str(checkout / ".jupyter-test-config")
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            ["make", "lab", f"LAB_ARGS={args}", "PYTHON=python3"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_contents(proc: subprocess.Popen, port: int, log: Path, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"make lab exited with {proc.returncode}:\n{log.read_text()[-6000:]}")
        try:
            return get_json(f"http://127.0.0.1:{port}/api/contents/")["content"]
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_make_lab_installs_serves_course_and_restarts_without_reinstalling(tmp_path):
    checkout = fresh_checkout(tmp_path)
    assert not (checkout / ".venv").exists()
    log = tmp_path / "lab.log"

    port = free_port()
    proc = start_lab(checkout, port, log)
    try:
        contents = wait_for_contents(proc, port, log, timeout=600)
        names = {item["name"] for item in contents}
        # The server's root is course/, not the repository.
        assert "backprop_course" in names, names
        assert "solutions" not in names and "Makefile" not in names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={TOKEN}", timeout=5) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        stop(proc)
    first_log = log.read_text()
    assert "pip install" in first_log

    # Second run: nothing changed, so no install, and the server is up in seconds.
    port = free_port()
    started = time.monotonic()
    proc = start_lab(checkout, port, log)
    try:
        wait_for_contents(proc, port, log, timeout=120)
        seconds = time.monotonic() - started
    finally:
        stop(proc)
    assert "pip install" not in log.read_text(), log.read_text()
    assert seconds < 60, seconds  # generous: typically 2-5 s


def test_stamps_make_the_install_conditional(tmp_path):
    """Without touching pyproject.toml nothing is reinstalled; after, it is (dry runs)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin/python").symlink_to(shutil.which("python3"))
    old = time.time() - 100
    os.utime(tmp_path / "pyproject.toml", (old, old))
    for stamp in (".lab-installed", ".dev-installed"):
        (venv / stamp).touch()

    def dry_run(target: str) -> str:
        return subprocess.run(
            ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout

    assert "pip install" not in dry_run("lab") and "jupyter lab" in dry_run("lab")
    assert "pip install" not in dry_run("test") and "pytest" in dry_run("test")
    (tmp_path / "pyproject.toml").touch()
    assert "pip install" in dry_run("lab")
    assert "pip install" in dry_run("test")


def test_too_old_python_gets_a_clear_message(tmp_path):
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    fake = tmp_path / "python-too-old"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    result = subprocess.run(
        ["make", "lab", f"PYTHON={fake}"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "3.10" in result.stdout + result.stderr
    assert not (tmp_path / ".venv").exists()
