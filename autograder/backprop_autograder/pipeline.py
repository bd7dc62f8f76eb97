"""The grading flow, as a list of small steps: collect, extensions, autograde, feedback, scores,
export.

``backprop-grade grade LESSON`` runs it (:mod:`backprop_autograder.cli`); each
step is one of nbgrader's own, on the course's gradebook.
"""

from __future__ import annotations

import argparse

from nbgrader.apps import NbGraderAPI

from backprop_autograder import late
from backprop_autograder.collecting import collect_exchange, collect_zip, submitted_students
from backprop_autograder.course import course_api, exercises_of, gradebook_url, last_line
from backprop_autograder.executing import autograde, quiet_libraries
from backprop_autograder.reporting import Report, export_csv, read_scores


def grade(args: argparse.Namespace) -> Report:
    """The whole flow: collect (zip or exchange), autograde, feedback, export, summary."""
    with quiet_libraries():
        return _grade(args)


def _grade(args: argparse.Namespace) -> Report:
    course_dir = args.course_dir.resolve()
    report = Report(args.lesson, exercises_of(course_dir, args.lesson))
    api = course_api(course_dir, args.timeout, args.exchange, args.db_url)
    check_cluster_gradebook(api, args)  # before collecting: a wrong gradebook stops early
    collect(api, args, report)
    autograde_all(api, args, report)
    feedback(api, args.lesson, report)
    read_scores(gradebook_url(api.config), args.lesson, report)
    export_csv(report, args.csv or course_dir / f"grades_{args.lesson}.csv")
    return report


def collect(api: NbGraderAPI, args: argparse.Namespace, report: Report) -> None:
    """From an LMS zip (with the submission times from ``--times``), else the exchange."""
    course_dir = args.course_dir.resolve()
    if args.source:
        collect_zip(course_dir, args.lesson, args.source, args.pattern, report)
    else:
        collect_exchange(api, args.lesson, report)
    if getattr(args, "times", None):
        for student in late.write_submission_times(course_dir, args.lesson, args.times):
            report.note(student, f"no submission time in {args.times}: graded as on time")


def check_cluster_gradebook(api: NbGraderAPI, args: argparse.Namespace) -> None:
    """With ``--cluster``: the gradebook must be one the workers reach, holding the lesson."""
    if getattr(args, "cluster", None):
        from backprop_autograder import cluster  # needs dask.distributed

        cluster.check_gradebook(
            gradebook_url(api.config), str(api.config.CourseDirectory.course_id), args.lesson
        )


def autograde_all(api: NbGraderAPI, args: argparse.Namespace, report: Report) -> None:
    """Autograde every submission: on a Dask cluster with ``--cluster``, else on this machine.

    The stored extensions go into the gradebook first, where nbgrader's late penalty
    step finds them (:mod:`backprop_autograder.late`).
    """
    course_dir = args.course_dir.resolve()
    late.apply_extensions(
        gradebook_url(api.config),
        args.lesson,
        late.stored_extensions(course_dir, args.lesson),
        submitted_students(course_dir, args.lesson),
    )
    if getattr(args, "cluster", None):
        from backprop_autograder import cluster  # needs dask.distributed

        cluster.autograde(args.cluster, api.config, course_dir, args.lesson, report)
    else:
        autograde(api, course_dir, args.lesson, report, args.workers)


def feedback(api: NbGraderAPI, assignment: str, report: Report) -> None:
    """nbgrader generate_feedback: each student's graded notebook as HTML, hidden code left out."""
    result = api.generate_feedback(assignment, force=True)
    if not result.get("success"):
        report.note("feedback", last_line(result))
