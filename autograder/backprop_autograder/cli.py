"""`backprop-grade`: the instructor's commands, each a step of real nbgrader.

    backprop-grade build [LESSON ...]           generate_assignment: source and release
    backprop-grade release LESSON               release_assignment (nbgrader exchange)
    backprop-grade collect LESSON [--from ZIP]  collect, or zip_collect from an LMS zip
    backprop-grade autograde LESSON             autograde one student at a time, with progress
    backprop-grade feedback LESSON              generate_feedback (no hidden code inside)
    backprop-grade release-feedback LESSON      release_feedback: students fetch it (exchange)
    backprop-grade export LESSON|all [--format csv|canvas|moodle --roster FILE]
                                                grades CSV, or an LMS's import file
    backprop-grade feedback-zip LESSON          feedback named for the LMS's upload page
    backprop-grade gradescope LESSON            a Gradescope autograder zip, same checks
    backprop-grade report LESSON                what the class got wrong (item analysis, HTML)
    backprop-grade grade LESSON --from ZIP      collect, autograde, feedback, export, summary
    backprop-grade due LESSON TIME|none         the due date (a time with its UTC offset)
    backprop-grade extensions LESSON FILE.csv   per-student extensions (replaces the last file)
    backprop-grade penalties LESSON             late penalties worked out again, feedback anew

The course directory is build/nbgrader unless ``--course-dir`` says otherwise.
The gradebook is the one its nbgrader_config.py names (``c.CourseDirectory.db_url``),
else SQLite in the course directory; ``--db-url`` overrides both. ``--cluster
tcp://HOST:8786`` autogrades on a Dask cluster instead of this machine's cores
(:mod:`backprop_autograder.cluster`); it needs a gradebook every worker can reach.
In an LMS zip, each notebook is named ``<student_id>_<anything>_<lesson>.ipynb``
or ``<student_id>_<lesson>.ipynb`` (``--pattern`` takes another regular
expression with the groups ``student_id`` and ``file_id``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI

from backprop_autograder import build as builder
from backprop_autograder import (
    exporting,
    gradescope,
    item_analysis,
    late,
    lms,
    lms_feedback,
    pipeline,
    sandbox,
)
from backprop_autograder.collecting import DEFAULT_PATTERN
from backprop_autograder.course import (
    DEFAULT_TIMEOUT,
    course_api,
    exercises_of,
    gradebook_url,
    last_line,
)
from backprop_autograder.executing import quiet_libraries
from backprop_autograder.lessons import LESSONS, lesson
from backprop_autograder.reporting import Report, read_scores, summary


def choose_isolation(unsafe: bool) -> None:
    """Sandboxed grading, unless asked for in so many words; never silently without."""
    if unsafe:
        os.environ["BACKPROP_UNSAFE_NO_SANDBOX"] = "1"
        sys.stderr.write(
            "WARNING: --unsafe-no-sandbox: student code runs with your permissions. It can "
            "read the hidden checks, change the gradebook and other students' files, and use "
            "the network. Use it only for submissions you trust.\n"
        )
        return
    os.environ.pop("BACKPROP_UNSAFE_NO_SANDBOX", None)
    try:
        sandbox.find_bwrap()
    except sandbox.SandboxUnavailable as error:
        raise SystemExit(f"error: {error}") from None


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="backprop-grade", description="Grade the course's assignments with nbgrader."
    )
    main_parser.add_argument("--course-dir", type=Path, default=builder.DEFAULT_COURSE_DIR)
    main_parser.add_argument("--exchange", type=Path, help="the nbgrader exchange folder")
    main_parser.add_argument(
        "--db-url",
        help="the gradebook's database URL, e.g. postgresql://grader@db/backprop "
        "(default: the course's nbgrader_config.py, else SQLite in the course directory)",
    )
    main_parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                             help="seconds a cell may run (default 30)")  # fmt: skip
    main_parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="submissions graded at once on this machine (default: one per core)",
    )
    main_parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="autograde on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:8786)",
    )
    main_parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code with your own permissions, without bubblewrap (trusted code only)",
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the assignments")
    build_cmd.add_argument("lessons", nargs="*")
    build_cmd.add_argument("--seed", type=int, default=builder.DEFAULT_SEED)
    for name in ("release", "autograde", "feedback", "release-feedback"):
        commands.add_parser(name).add_argument("lesson")
    collect_cmd = commands.add_parser("collect")
    collect_cmd.add_argument("lesson")
    add_collect_options(collect_cmd)
    add_export_command(commands)
    report_cmd = commands.add_parser(
        "report", help="what the class got wrong: an HTML item analysis and its CSV"
    )
    report_cmd.add_argument("lesson")
    report_cmd.add_argument(
        "--out", type=Path, help="the folder for report_LESSON.html and .csv (default: the course)"
    )
    gradescope_cmd = commands.add_parser(
        "gradescope", help="a Gradescope autograder zip grading LESSON with the same checks"
    )
    gradescope_cmd.add_argument("lesson")
    gradescope_cmd.add_argument("--out", type=Path,
                                help="the zip (default: gradescope_LESSON.zip)")  # fmt: skip
    feedback_zip = commands.add_parser(
        "feedback-zip", help="each student's feedback, named for the LMS's upload page"
    )
    feedback_zip.add_argument("lesson")
    feedback_zip.add_argument("--out", type=Path, help="the zip (default: feedback_LESSON.zip)")
    feedback_zip.add_argument("--pattern", type=pattern, default=DEFAULT_PATTERN,
                              help="the --pattern the download was collected with")  # fmt: skip
    grade_cmd = commands.add_parser("grade", help="collect, autograde, feedback, export")
    grade_cmd.add_argument("lesson")
    add_collect_options(grade_cmd)
    grade_cmd.add_argument("--csv", type=Path)
    add_late_work_commands(commands)
    return main_parser


def pattern(text: str) -> str:
    """A regular expression for LMS download names, or the name of a preset (canvas, moodle)."""
    return lms.PATTERNS.get(text, text)


def add_collect_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--from", dest="source", type=Path, help="an LMS zip download")
    command.add_argument(
        "--pattern",
        type=pattern,
        default=DEFAULT_PATTERN,
        help="how the download names files: canvas, moodle, or a regular expression with the "
        "groups student_id and file_id (and timestamp, optionally)",
    )
    command.add_argument(
        "--times",
        type=Path,
        help="a CSV of submission times (student_id, submitted_at with its UTC offset) for an "
        "LMS zip, which carries none; without it, LMS submissions count as on time",
    )


def add_export_command(commands: argparse._SubParsersAction) -> None:
    export_cmd = commands.add_parser(
        "export", help="grades from the gradebook: the grades CSV, or an LMS's import file"
    )
    export_cmd.add_argument("lesson", help="a lesson, or all (every lesson built)")
    export_cmd.add_argument("--format", choices=exporting.FORMATS, default="csv")
    export_cmd.add_argument(
        "--out", "--csv", dest="out", type=Path,
        help="the file to write (default: in the course directory)",
    )  # fmt: skip
    export_cmd.add_argument(
        "--roster", type=Path, help="the class list exported from the LMS (canvas and moodle)"
    )
    export_cmd.add_argument(
        "--id-column", default=lms.DEFAULT_MOODLE_ID,
        help="moodle: the roster's column the import file identifies students by",
    )  # fmt: skip
    export_cmd.add_argument(
        "--match-column",
        help="moodle: the roster's column holding nbgrader's student ids (default: --id-column;"
        " a grading worksheet's Identifier for downloads collected with --pattern moodle)",
    )


def add_late_work_commands(commands: argparse._SubParsersAction) -> None:
    due_cmd = commands.add_parser("due", help="set or remove (none) a lesson's due date")
    due_cmd.add_argument("lesson")
    due_cmd.add_argument("time", help="e.g. 2026-12-10T23:59+01:00, or none")
    extensions_cmd = commands.add_parser(
        "extensions", help="per-student extensions from a CSV (student_id, then days, hours, "
        "minutes or until); replaces the extensions given before"
    )  # fmt: skip
    extensions_cmd.add_argument("lesson")
    extensions_cmd.add_argument("file", type=Path)
    commands.add_parser("penalties", help="work the late penalties out again").add_argument(
        "lesson"
    )


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "build":
        chosen = [lesson(name) for name in args.lessons] or LESSONS
        builder.build(chosen, args.course_dir.resolve(), args.seed, db_url=args.db_url)
        return
    course_dir = args.course_dir.resolve()
    if args.command == "export":
        with quiet_libraries():
            print("\n".join(export(args, course_dir)))
        return
    args.lesson = lesson(args.lesson).name
    if args.command in ("grade", "autograde"):
        choose_isolation(args.unsafe_no_sandbox)
    if args.command == "grade":
        print(summary(pipeline.grade(args)))
        return
    with quiet_libraries():
        run_step(args, course_dir)


def run_step(args: argparse.Namespace, course_dir: Path) -> None:
    """One instructor step on its own."""
    api = course_api(course_dir, args.timeout, args.exchange, args.db_url)
    report = Report(args.lesson, exercises_of(course_dir, args.lesson))
    if args.command == "release":
        result = api.release_assignment(args.lesson)
        if not result.get("success"):
            raise SystemExit(f"release failed: {last_line(result)}")
    elif args.command == "collect":
        pipeline.collect(api, args, report)
    elif args.command in ("due", "extensions", "penalties"):
        late_work(api, args, course_dir, report)
    elif args.command == "autograde":
        pipeline.check_cluster_gradebook(api, args)
        pipeline.autograde_all(api, args, report)
        read_scores(gradebook_url(api.config), args.lesson, report)
    elif args.command == "feedback":
        pipeline.feedback(api, args.lesson, report)
    elif args.command == "release-feedback":
        result = api.release_feedback(args.lesson)
        if not result.get("success"):
            raise SystemExit(f"release_feedback failed: {last_line(result)}")
    elif args.command == "report":
        item_analysis.write_report(
            course_dir, args.lesson, args.out or course_dir, gradebook_url(api.config)
        )
        html, table = item_analysis.report_paths(args.lesson, args.out or course_dir)
        print(f"item analysis of {args.lesson}: {html} (the numbers: {table})")
    elif args.command == "gradescope":
        out = args.out or course_dir / f"gradescope_{args.lesson}.zip"
        try:
            gradescope.build_autograder(course_dir, args.lesson, out, args.timeout)
        except builder.BuildError as error:
            raise SystemExit(f"error: {error}") from None
        print(f"Gradescope autograder for {args.lesson}: {out}")
    elif args.command == "feedback-zip":
        out = args.out or course_dir / f"feedback_{args.lesson}.zip"
        problems = lms_feedback.pack_feedback(course_dir, args.lesson, out, args.pattern)
        print("\n".join([f"feedback for the LMS: {out}", *problems]))
    if args.command in ("autograde", "collect"):
        print(summary(report))


def export(args: argparse.Namespace, course_dir: Path) -> list[str]:
    """The export command: the grades CSV, or a Canvas or Moodle import file from a roster."""
    api = course_api(course_dir, args.timeout, args.exchange, args.db_url)
    roster = None
    if args.format != "csv":
        if args.roster is None:
            raise SystemExit(
                f"error: --format {args.format} needs --roster: the class list exported from "
                f"{args.format.capitalize()}, to match its students to nbgrader's"
            )
        try:
            roster = lms.read_roster(args.roster, args.format, args.id_column, args.match_column)
        except lms.RosterError as error:
            raise SystemExit(f"error: {error}") from None
    try:
        return exporting.export(
            gradebook_url(api.config), course_dir, args.lesson, args.format, args.out, roster
        )
    except (ValueError, lms.RosterError) as error:
        raise SystemExit(f"error: {error}") from None


def late_work(api: NbGraderAPI, args: argparse.Namespace, course_dir: Path, report: Report) -> None:
    """Change the due date or the extensions, then work every penalty out again and write
    the feedback anew: a stored penalty never outlives the dates it came from."""
    db_url = gradebook_url(api.config)
    try:
        if args.command == "due":
            when = None if args.time.lower() == "none" else args.time
            duedate = late.set_due_date(db_url, args.lesson, when)
            print(f"{args.lesson} is due {duedate or 'never'} (UTC)")
        elif args.command == "extensions":
            extensions = late.read_extensions(args.file, late.due_date(db_url, args.lesson))
            late.store_extensions(course_dir, args.lesson, extensions)
            late.apply_extensions(db_url, args.lesson, extensions, students=[])
            print(f"{len(extensions)} extensions for {args.lesson}")
    except late.LateWorkError as error:
        raise SystemExit(f"error: {error}") from None
    found = late.reapply_penalties(db_url, api.config, args.lesson)
    plugin = late.penalty_plugin(api.config)
    if isinstance(plugin, late.PenaltySchedule):
        print(f"penalty schedule: {plugin.describe()}")
    print("\n".join(late.describe_lateness(found)) or "no late submissions")
    if found:
        pipeline.feedback(api, args.lesson, report)


if __name__ == "__main__":
    main()
