"""Hostile submissions, graded in one batch: each gains nothing, and nothing else changes.

The corpus is tests/adversarial.py: one attack per student, each in an
otherwise solved notebook of lesson 01. The whole class, three honest
students included, is graded once, as an LMS zip, by ``backprop-grade grade``
with two workers. Then, per attack: the attacked test cells score 0 and every
other one its full points, and the pipeline names the incident where it
should. For the class: the honest students' grades are those of a run
without attackers; no file of the course directory (outside what nbgrader
writes per student) or of the repository changed; no submission changed;
nothing connected to the host; no kernel process outlived the grading.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from adversarial import ATTACKS, HONEST, LESSON, NOTEBOOK, VICTIM, Attack, Context

from backprop_autograder import cli, pipeline, reporting, sandbox
from backprop_autograder.build import build

# The first test's setup grades the whole attacking class: more than the default 300 s
# on a busy machine.
pytestmark = [pytest.mark.sandbox, pytest.mark.grading, pytest.mark.slow,
              pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "build" / "test-artifacts" / "adversarial.txt"
TIMEOUT = 5  # seconds a cell may run: the infinite loops cost this each
WORKERS = 2
# What nbgrader itself writes for each student (and the gradebook, compared by its grades).
PER_STUDENT = ("autograded", "feedback", "submitted", "downloaded")
REPOSITORY_FOLDERS = ("course", "solutions", "autograder")


class Listener:
    """A TCP server on every IPv4 address of the host; it records whoever connects."""

    def __init__(self) -> None:
        self.server = socket.create_server(("0.0.0.0", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.peers: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, peer = self.server.accept()
            except OSError:  # the accept timed out: look at the stop flag again
                continue
            self.peers.append(peer)
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


def host_addresses() -> tuple[str, ...]:
    found = {"127.0.0.1"}
    try:
        found |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # a UDP "connection" only picks the outgoing address; nothing is sent
            probe.connect(("192.0.2.1", 9))
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return tuple(sorted(found))


def digests(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Each file's sha256 below ``folder``, except top-level entries in ``skip`` and caches."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0].startswith(skip) or "__pycache__" in relative.parts:
            continue
        if path.is_file():
            found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def protected_files(course_dir: Path) -> dict[str, str]:
    """What no submission may change: the course directory's own files and the repository's."""
    found = {
        f"<course>/{name}": digest
        for name, digest in digests(course_dir, (*PER_STUDENT, "gradebook.db")).items()
    }
    for folder in REPOSITORY_FOLDERS:
        found |= {f"{folder}/{name}": digest for name, digest in digests(ROOT / folder).items()}
    return found


def kernel_processes() -> list[str]:
    """Processes of sandbox users that no grading process holds (run as root, the kernels
    have users of their own). A user that another grading run holds at that moment (make
    test grades in two processes at once) runs that run's kernels: it is left out. Each
    user checked is held meanwhile, so that no run starts kernels under it."""
    if os.geteuid() != 0:
        return []
    left = []
    for uid in sorted({uid for uid, _ in processes_of(sandbox.SANDBOX_UIDS)}):
        try:
            _, fd = sandbox.claim_uid(uids=range(uid, uid + 1))
        except sandbox.SandboxUnavailable:  # a live grading process holds this user
            continue
        try:
            left += [command for _, command in processes_of(range(uid, uid + 1))]
        finally:
            os.close(fd)  # releases the lock
    return left


def processes_of(uids: range) -> list[tuple[int, str]]:
    """(uid, command line) of every process whose user is one of ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                uid = entry.stat().st_uid
                if uid in uids:
                    found.append((uid, (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                                  .decode()))  # fmt: skip
            except OSError:  # gone meanwhile
                continue
    return found


def grade(course_dir: Path, students: dict[str, str], csv_path: Path) -> reporting.Report:
    archive = csv_path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as zipped:
        for student, text in students.items():
            zipped.writestr(f"{student}_{NOTEBOOK}", text)
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "--timeout", str(TIMEOUT), "--workers", str(WORKERS),
         "grade", LESSON.name, "--from", str(archive), "--csv", str(csv_path)]
    )  # fmt: skip
    args.lesson = LESSON.name
    return pipeline.grade(args)


def csv_rows(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()[1:]
    return {line.split(",", 1)[0]: line for line in lines}


@dataclass
class Run:
    course_dir: Path
    points: dict[str, float]  # test cell grade id -> its points, from the source notebook
    submissions: dict[str, str]
    report: reporting.Report
    rows: dict[str, str]
    honest_report: reporting.Report
    honest_rows: dict[str, str]
    before: dict[str, str]
    after: dict[str, str]
    peers: list[tuple]
    left_running: list[str]
    seconds: float

    def notes(self, student: str) -> list[str]:
        return [line for line in self.report.attention if line.startswith(f"{student}: ")]


def source_points(course_dir: Path) -> dict[str, float]:
    source = course_dir / "source" / LESSON.name / NOTEBOOK
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
        for cell in nbformat.read(source, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    sandbox.find_bwrap()  # fail, never skip, without the sandbox
    start = time.monotonic()
    root = tmp_path_factory.mktemp("adversarial")
    course_dir, honest_dir = root / "course", root / "honest"
    build([LESSON], course_dir)
    shutil.copytree(course_dir, honest_dir)
    honest = {student: nbformat.writes(make()) for student, make in HONEST.items()}
    honest_report = grade(honest_dir, honest, root / "honest.csv")
    listener = Listener()
    try:
        context = Context(listener.port, host_addresses(), VICTIM, str(ROOT))
        submissions = {**honest, **{a.name: a.submission(context) for a in ATTACKS}}
        before = protected_files(course_dir)
        report = grade(course_dir, submissions, root / "grades.csv")
        time.sleep(1)  # anything that escaped the kernels has had time to act
        after = protected_files(course_dir)
    finally:
        listener.close()
    return Run(
        course_dir=course_dir,
        points=source_points(course_dir),
        submissions=submissions,
        report=report,
        rows=csv_rows(root / "grades.csv"),
        honest_report=honest_report,
        honest_rows=csv_rows(root / "honest.csv"),
        before=before,
        after=after,
        peers=list(listener.peers),
        left_running=kernel_processes(),
        seconds=time.monotonic() - start,
    )


def expected_scores(run: Run, attack: Attack) -> dict[str, float]:
    return {
        grade_id: 0.0 if grade_id in attack.attacked else worth
        for grade_id, worth in run.points.items()
    }


def outcome_line(run: Run, attack: Attack) -> str:
    notes = "; ".join(line.split(": ", 1)[1] for line in run.notes(attack.name)) or "-"
    if attack.name not in run.report.scores:
        held = not attack.graded and attack.name in "\n".join(run.report.attention)
        return f"{'ok' if held else 'FAIL'}  {attack.name:<18} -> not graded | {notes[:160]}"
    scores = run.report.scores[attack.name]
    held = scores == expected_scores(run, attack)
    attacked = " ".join(
        f"{grade_id.removeprefix('check_')}={scores[grade_id]:g}/{run.points[grade_id]:g}"
        for grade_id in attack.attacked
    )
    total = f"total {sum(scores.values()):g}/{sum(run.points.values()):g}"
    return (
        f"{'ok' if held else 'FAIL'}  {attack.name:<18} -> {attacked or 'nothing attacked'} "
        f"| {total} | {notes[:160]}"
    )


def test_outcomes_one_line_per_attack(run):
    """ok/FAIL, the attack, the scores of what it attacked, the total and its notes."""
    lines = [outcome_line(run, attack) for attack in ATTACKS]
    text = (
        f"{len(ATTACKS)} attacks and {len(HONEST)} honest students, graded together in "
        f"{run.seconds:.0f} s (--timeout {TIMEOUT}, --workers {WORKERS})\n" + "\n".join(lines)
    )
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(text + "\n")
    print("\n" + text)


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.name)
def test_the_attack_gains_nothing(run, attack):
    notes = run.notes(attack.name)
    if attack.note:
        assert any(re.search(attack.note, line) for line in notes), (attack.note, notes)
    if not attack.graded:
        assert attack.name not in run.report.scores
        return
    assert attack.name in run.report.scores, f"not graded: {notes}"
    got, expected = run.report.scores[attack.name], expected_scores(run, attack)
    wrong = {name: (got[name], expected[name]) for name in expected if got[name] != expected[name]}
    assert not wrong, f"(got, expected): {wrong}; notes: {notes}"
    assert run.report.max_scores[attack.name] == sum(run.points.values())


def test_honest_students_grade_exactly_as_in_a_class_without_attackers(run):
    for student in HONEST:
        assert run.rows[student] == run.honest_rows[student]
        assert run.report.scores[student] == run.honest_report.scores[student]
        assert not run.notes(student)
    assert set(run.honest_rows) == set(HONEST)


def test_every_submission_is_graded_or_named_and_nobody_else_appears(run):
    graded = set(HONEST) | {attack.name for attack in ATTACKS if attack.graded}
    assert set(run.report.scores) == graded  # the gradebook: no one added, no one lost
    assert set(run.rows) == graded
    for attack in ATTACKS:
        if not attack.graded:
            assert run.notes(attack.name), attack.name


def test_no_file_of_the_course_or_the_repository_changed(run):
    changed = sorted(
        name for name in run.before.keys() | run.after.keys()
        if run.before.get(name) != run.after.get(name)
    )  # fmt: skip
    assert not changed


def test_submissions_are_as_handed_in_and_scratch_files_stay_in_the_sandbox(run):
    for student in run.report.scores:
        submitted = run.course_dir / "submitted" / student / LESSON.name / NOTEBOOK
        assert submitted.read_text() == run.submissions[student], student
        folder = run.course_dir / "autograded" / student / LESSON.name
        if not folder.exists():  # nbgrader gave up on it: its own test says so
            continue
        assert sorted(p.name for p in folder.iterdir()) == [NOTEBOOK], student
        text = (folder / NOTEBOOK).read_text()
        assert "ESCAPED" not in text, student
        json.loads(text)
        assert len(text) < 5_000_000, (student, len(text))


def test_nothing_connected_to_the_host(run):
    assert run.peers == []


def test_no_kernel_process_outlives_the_grading(run):
    assert run.left_running == []


def test_the_summary_names_every_student_with_an_incident(run):
    summary = reporting.summary(run.report)
    for line in run.report.attention:
        assert f"  - {line}" in summary.splitlines()
    named = {line.split(": ", 1)[0] for line in run.report.attention}
    assert {attack.name for attack in ATTACKS if attack.note} - named == set()
