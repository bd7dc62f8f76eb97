"""The command line: ``python -m backprop_autograder.gradescope build|run``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backprop_autograder import build as builder
from backprop_autograder import course
from backprop_autograder.gradescope.grading import run
from backprop_autograder.gradescope.packing import build_autograder
from backprop_autograder.gradescope.settings import DEFAULT_ROOT, ROOT_VARIABLE


def main(argv: list[str] | None = None) -> None:
    """``build LESSON --out ZIP`` (as ``backprop-grade gradescope``), or ``run`` (on Gradescope)."""
    parser = argparse.ArgumentParser(prog="python -m backprop_autograder.gradescope")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write a lesson's Gradescope autograder zip")
    build_cmd.add_argument("lesson")
    build_cmd.add_argument("--course-dir", type=Path, default=builder.DEFAULT_COURSE_DIR)
    build_cmd.add_argument("--out", type=Path)
    build_cmd.add_argument("--timeout", type=int, default=course.DEFAULT_TIMEOUT)
    run_cmd = commands.add_parser("run", help="grade /autograder/submission (run_autograder)")
    run_cmd.add_argument(
        "--root", type=Path, default=Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT))
    )
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.root.resolve())
        return
    from backprop_autograder.lessons import lesson

    name = lesson(args.lesson).name
    out = args.out or args.course_dir / f"gradescope_{name}.zip"
    try:
        build_autograder(args.course_dir, name, out, args.timeout)
    except builder.BuildError as error:
        sys.exit(f"gradescope: {error}")
    print(f"Gradescope autograder: {out} (upload it as the assignment's autograder zip)")
