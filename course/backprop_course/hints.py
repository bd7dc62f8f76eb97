"""Hints that come in steps: ``check.hint("sigmoid")`` shows the next one each time.

Each exercise's hints are written next to its visible check, in the lesson's
checks module (``@exercise_check(hints=(...))``), from the most general (what
should the shapes be? which axis holds the examples?) to the most specific. A
learner asks for them one at a time, in the same kernel; the counter lives in
this module, so a restarted kernel starts the ladder again.

After the last hint comes one more step: the reference answer, shown only when
asked for explicitly (``check.hint("sigmoid", reveal=True)``), only where the
reference library :mod:`backprop_reference` is installed (self-learners; a graded
course leaves it out), and never while nbgrader runs the notebook (nbgrader sets
``NBGRADER_EXECUTION`` when it validates or grades).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence

MIN_HINTS = 2
MAX_HINTS = 3

# (lesson topic, exercise) -> the exercise's hints, in the order they are shown.
_hints: dict[tuple[str, str], tuple[str, ...]] = {}
# (lesson topic, exercise) -> how many of its hints this kernel has shown.
_shown: dict[tuple[str, str], int] = {}


def topic_of(module_name: str) -> str:
    """The lesson of a checks module: 'backprop_course.checks.forward_pass' -> 'forward_pass'."""
    return module_name.rsplit(".", 1)[-1]


def register(topic: str, exercise: str, hints: Sequence[str]) -> None:
    """Record an exercise's hints (called by ``exercise_check`` when a checks module loads)."""
    hints = tuple(hints)
    if not MIN_HINTS <= len(hints) <= MAX_HINTS:
        raise ValueError(
            f"{topic}.{exercise} has {len(hints)} hints; give it {MIN_HINTS} to {MAX_HINTS}, "
            "from the most general to the most specific"
        )
    if not all(isinstance(text, str) and text.strip() for text in hints):
        raise ValueError(f"{topic}.{exercise}: every hint must be a non-empty string")
    _hints[(topic, exercise)] = hints


def hints_of(topic: str, exercise: str) -> tuple[str, ...]:
    return _hints[(topic, exercise)]


def exercises(topic: str) -> list[str]:
    """The exercises of a lesson that have hints, in the order their checks are defined."""
    return [exercise for (lesson, exercise) in _hints if lesson == topic]


def offer(topic: str, exercise: str) -> str:
    """The line a failed visible check ends with: a hint is there, and how to ask for it."""
    if (topic, exercise) not in _hints:
        return ""
    left = len(_hints[(topic, exercise)]) - _shown.get((topic, exercise), 0)
    if left <= 0:
        return (
            f'Hints: you have seen all of them (check.hint("{exercise}", step=1) shows the '
            "first again)."
        )
    return f'Stuck? check.hint("{exercise}") gives a hint ({left} left, one at a time).'


def in_grading() -> bool:
    """True while nbgrader validates or grades the notebook (it sets NBGRADER_EXECUTION)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def reference_function(topic: str, exercise: str) -> Callable[..., object] | None:
    """The reference library's answer to an exercise, or None where it is not installed."""
    try:
        module = importlib.import_module(f"backprop_reference.{topic}")
    except ImportError:
        return None
    return getattr(module, exercise, None)


def show(topic: str, exercise: str, *, step: int | None = None, reveal: bool = False) -> None:
    """Print the next hint of ``exercise`` (or hint number ``step``), or its reference answer."""
    if (topic, exercise) not in _hints:
        known = ", ".join(f'"{name}"' for name in exercises(topic))
        raise ValueError(f"lesson {topic} has no exercise {exercise!r}; its exercises are: {known}")
    if reveal:
        print(reveal_text(topic, exercise))
        return
    print(hint_text(topic, exercise, step))


def hint_text(topic: str, exercise: str, step: int | None) -> str:
    hints = _hints[(topic, exercise)]
    key = (topic, exercise)
    if step is None:
        step = _shown.get(key, 0) + 1
        if step > len(hints):
            return (
                f"No hints left for {exercise}: you have seen all {len(hints)} "
                f'(check.hint("{exercise}", step=1) shows the first again).\n'
                + answer_offer(exercise)
            )
    if not 1 <= step <= len(hints):
        raise ValueError(f"{exercise} has hints 1 to {len(hints)}; step={step} is not one of them")
    _shown[key] = max(_shown.get(key, 0), step)
    text = f"Hint {step} of {len(hints)} for {exercise}: {hints[step - 1]}"
    if step < len(hints):
        return text + f'\n(check.hint("{exercise}") again gives the next one.)'
    return text + "\nThat was the last hint.\n" + answer_offer(exercise)


def answer_offer(exercise: str) -> str:
    return (
        "One step is left: the reference answer. Try once more first; when you want it, "
        f'check.hint("{exercise}", reveal=True) shows it.'
    )


def reveal_text(topic: str, exercise: str) -> str:
    if in_grading():
        return "The reference answer is never shown while nbgrader validates or grades."
    function = reference_function(topic, exercise)
    if function is None:
        return (
            "The reference answers are not installed here (a graded course keeps them with "
            "the instructors): the hints are all there is. Your instructor or TA can help "
            "with the rest."
        )
    source = inspect.getsource(function)
    where = f"backprop_reference/{topic}.py"
    return f"The reference answer to {exercise}, from {where}:\n\n{source}"


def asker(module_name: str) -> Callable[..., None]:
    """The ``hint`` function of a lesson's checks module (``hint = asker(__name__)``)."""
    topic = topic_of(module_name)

    def hint(exercise: str, *, step: int | None = None, reveal: bool = False) -> None:
        """Show the next hint for ``exercise``, one more each time you ask.

        ``step=n`` shows hint n again. After the last hint,
        ``reveal=True`` shows the reference answer where it is installed.
        """
        show(topic, exercise, step=step, reveal=reveal)

    hint.__module__ = module_name
    return hint
