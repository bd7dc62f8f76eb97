"""``make mutation``: every mutant of every exercise through every check, and the report.

    python -m backprop_autograder.mutation            # the whole catalogue, seeds 0-99
    python -m backprop_autograder.mutation --sample   # the fast sample that make test runs
    python -m backprop_autograder.mutation --lesson 04 --exercise backprop --seeds 10

Prints a table per exercise (``kept%``: the largest share of an exercise's hidden
points that one of its mutants keeps under some seed), every survivor with its diff,
the equivalent mutants, and one JSON line::

    {"bench": "mutation", "mutants": N, "equivalent": E, "hidden_caught_every_seed": H,
     "visible_caught": V, "survivors": S}

and writes the full report (every mutant and its verdicts) to
``build/mutation/report.json``. The goal is H = V = N − E and S = 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from backprop_autograder.inprocess import exercises, student_namespace
from backprop_autograder.lessons import LESSONS, Lesson, lesson
from backprop_autograder.mutation import verdicts
from backprop_autograder.mutation.catalogue import Mutant, diff, mutants, notebook_source
from backprop_autograder.mutation.verdicts import Outcome

REPORT = Path("build/mutation/report.json")
SAMPLE_EVERY = 6  # the sample: every 6th mutant of each exercise (the first included)
SAMPLE_SEEDS = 10


def siblings(lesson: Lesson) -> dict[str, list[str]]:
    """Names a student may confuse: f and f_prime, f and batch_f, the two activation tables."""
    namespace = student_namespace(lesson)
    names = [n for n, v in namespace.items() if callable(v) and not n.startswith("_")]
    found: dict[str, list[str]] = {}

    def pair(a: str, b: str) -> None:
        found.setdefault(a, []).append(b)
        found.setdefault(b, []).append(a)

    for name in names:
        for other in (f"{name}_prime", f"batch_{name}"):
            if other in namespace and callable(namespace[other]):
                pair(name, other)
    if "ACTIVATIONS" in namespace and "DERIVATIVES" in namespace:
        pair("ACTIVATIONS", "DERIVATIVES")
    return found


def all_mutants(lessons: Iterable[Lesson], only: str | None = None) -> list[tuple[Lesson, Mutant]]:
    work = []
    for the_lesson in lessons:
        table = siblings(the_lesson)
        reference = the_lesson.reference()
        for name in exercises(the_lesson):
            if only is None or name == only:
                made = mutants(getattr(reference, name), table)
                work += [(the_lesson, mutant) for mutant in made]
    return work


def sample(work: list[tuple[Lesson, Mutant]]) -> list[tuple[Lesson, Mutant]]:
    """A fixed subset: every SAMPLE_EVERY-th mutant of each exercise."""
    picked, seen = [], {}
    for item in work:
        key = (item[0].name, item[1].exercise)
        if seen.get(key, 0) % SAMPLE_EVERY == 0:
            picked.append(item)
        seen[key] = seen.get(key, 0) + 1
    return picked


def _judge(item: tuple[Lesson, Mutant, Sequence[int]]) -> Outcome:
    the_lesson, mutant, seeds = item
    return verdicts.judge(the_lesson, mutant, seeds)


def judge_all(work: list[tuple[Lesson, Mutant]], seeds: Sequence[int], jobs: int) -> list[Outcome]:
    items = [(the_lesson, mutant, tuple(seeds)) for the_lesson, mutant in work]
    if jobs <= 1:
        return [_judge(item) for item in items]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return list(pool.imap(_judge, items, chunksize=4))


# -- the report -----------------------------------------------------------------------


def totals(outcomes: Sequence[Outcome]) -> dict[str, int]:
    counted = [o for o in outcomes if not o.equivalent]
    return {
        "mutants": len(outcomes),
        "equivalent": len(outcomes) - len(counted),
        "hidden_caught_every_seed": sum(o.hidden_caught for o in counted),
        "visible_caught": sum(o.visible_caught for o in counted),
        "one_exercise": sum(not o.others_losing_points for o in counted),
        "survivors": sum(o.survived for o in counted),
        "kept_percent": round(100 * max((o.kept for o in counted), default=0.0)),
    }


def table(outcomes: Sequence[Outcome]) -> list[str]:
    header = ("lesson", "exercise", "mutants", "equiv", "hidden", "visible", "one-ex", "surv",
              "kept%")  # fmt: skip
    rows = [header]
    keys = sorted({(o.lesson, o.mutant.exercise) for o in outcomes})
    for lesson_name, exercise in keys:
        mine = [o for o in outcomes if (o.lesson, o.mutant.exercise) == (lesson_name, exercise)]
        t = totals(mine)
        rows.append((lesson_name[:2], exercise, *map(str, (
            t["mutants"], t["equivalent"], t["hidden_caught_every_seed"], t["visible_caught"],
            t["one_exercise"], t["survivors"], t["kept_percent"]))))  # fmt: skip
    t = totals(outcomes)
    rows.append(("", "all", *map(str, (
        t["mutants"], t["equivalent"], t["hidden_caught_every_seed"], t["visible_caught"],
        t["one_exercise"], t["survivors"], t["kept_percent"]))))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def survivor_text(outcome: Outcome) -> str:
    mutant = outcome.mutant
    reasons = []
    if outcome.surviving_seeds:
        seeds = outcome.surviving_seeds
        shown = ", ".join(map(str, seeds[:8])) + (", ..." if len(seeds) > 8 else "")
        reasons.append(f"full hidden marks under {len(seeds)} seeds ({shown})")
    if not outcome.visible_caught:
        reasons.append("the visible check passes it")
    if outcome.others_losing_points:
        reasons.append("costs points in " + ", ".join(outcome.others_losing_points))
    reference = notebook_source(getattr(lesson(outcome.lesson).reference(), mutant.exercise))
    body = diff(reference, mutant.source)
    return (
        f"SURVIVOR {outcome.lesson[:2]} {mutant.exercise} [{mutant.operator}] {mutant.change}: "
        + "; ".join(reasons)
        + "\n"
        + "\n".join("    " + line for line in body.splitlines())
    )


def write_report(outcomes: Sequence[Outcome], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    for outcome in outcomes:
        entry = asdict(outcome)
        entry["survived"] = outcome.survived
        entries.append(entry)
    path.write_text(json.dumps({"totals": totals(outcomes), "mutants": entries}, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append", help="a lesson (01, forward_pass, ...)")
    parser.add_argument("--exercise", help="one exercise only")
    parser.add_argument("--seeds", type=int, default=100, help="hidden-check seeds 0..N-1")
    parser.add_argument("--sample", action="store_true", help="the fast fixed sample")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    lessons = [lesson(name) for name in args.lesson] if args.lesson else LESSONS
    started = time.perf_counter()
    work = all_mutants(lessons, args.exercise)
    seeds = range(SAMPLE_SEEDS if args.sample else args.seeds)
    if args.sample:
        work = sample(work)
    problems = [
        problem
        for the_lesson, name in sorted({(item[0], item[1].exercise) for item in work})
        for problem in verdicts.reference_problems(the_lesson, name, seeds)
    ]
    if problems:  # then no mutant's verdict means anything
        print("The reference answers themselves fail their checks:", *problems, sep="\n  ")
        return 2
    outcomes = judge_all(work, seeds, args.jobs)
    print("\n".join(table(outcomes)))
    for outcome in outcomes:
        if outcome.survived:
            print(survivor_text(outcome))
    equivalent = [o for o in outcomes if o.equivalent]
    print(f"equivalent (agree with the reference on every wide input): {len(equivalent)}")
    for outcome in equivalent:
        print(f"  {outcome.lesson[:2]} {outcome.mutant.exercise} [{outcome.mutant.operator}] "
              f"{outcome.mutant.change}")  # fmt: skip
    write_report(outcomes, args.report)
    t = totals(outcomes)
    print(f"{len(work)} mutants, seeds 0-{len(seeds) - 1}, {time.perf_counter() - started:.0f} s;"
          f" the full report: {args.report}")  # fmt: skip
    keys = ("mutants", "equivalent", "hidden_caught_every_seed", "visible_caught", "survivors")
    line = {"bench": "mutation", **{key: t[key] for key in keys}}
    print(json.dumps(line))
    return 0 if t["survivors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
