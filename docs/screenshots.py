"""`make screenshots`: the README's pictures, from the browser journeys' screenshots.

The journeys (tests/test_journey_*.py) save full-size screenshots under
build/test-artifacts/browser/. This picks one per journey, scales it to the
README's width and reduces it to a 256-colour palette, so that the committed
images stay small (tests/test_project.py checks their size).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
IMAGES = ROOT / "docs" / "images"
WIDTH = 900  # pixels: sharp enough to read on GitHub's README column
# README image -> the journey screenshot it is made from (<test>-<step>.png)
CHOSEN = {
    "student-validate.png": (
        "test_a_student_answers_one_exercise_checks_it_and_validates-2-validated.png"
    ),
    "self-learner-widget.png": (
        "test_each_solved_lesson_runs_clean_in_the_browser-05_mini_batch-2-widget-used.png"
    ),
    "self-learner-progress.png": (
        "test_the_start_page_shows_where_the_learner_stands-1-progress-widget.png"
    ),
    "instructor-formgrader.png": (
        "test_the_formgrader_lists_every_lesson_and_shows_the_csv_scores-2-submission.png"
    ),
    "instructor-item-analysis.png": (
        "test_the_item_analysis_opens_in_the_lab_with_the_most_common_misconception_first"
        "-3-item-analysis.png"
    ),
}


def shrink(source: Path, target: Path) -> None:
    image = Image.open(source).convert("RGB")
    height = round(image.height * WIDTH / image.width)
    small = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


def main() -> None:
    missing = [name for name in CHOSEN.values() if not (ARTIFACTS / name).exists()]
    if missing:
        sys.exit(
            "missing screenshots (`make screenshots` runs the journeys first, in one pytest"
            " session): " + ", ".join(missing)
        )
    IMAGES.mkdir(parents=True, exist_ok=True)
    for image, screenshot in CHOSEN.items():
        shrink(ARTIFACTS / screenshot, IMAGES / image)
        print(f"{IMAGES / image}: {(IMAGES / image).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
