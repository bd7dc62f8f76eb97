"""nbgrader configuration for the course (instructors).

`make assignments` copies this file into the nbgrader course directory it
builds (build/nbgrader by default); nbgrader reads it from there, so the
command line, the formgrader and `backprop-grade` all grade the same way.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from backprop_autograder.cell_verdicts import KEY as VERDICTS_KEY
from backprop_autograder.preprocessors import (
    HideHiddenChecks,
    MarkLockedChanges,
    NoteLockedChanges,
    ResilientExecute,
    RestoreCellFlags,
    RestoreDeletedCells,
    ScoreOutsideKernel,
)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "backprop"
HERE = os.path.dirname(os.path.abspath(__file__))
# The course directory is the folder nbgrader runs in (its default root):
# source/, release/, submitted/, autograded/, feedback/ and gradebook.db.
# hidden_answers/ holds what the hidden checks expect: only the grader reads it.
c.ScoreOutsideKernel.answers_dir = os.path.join(HERE, "hidden_answers")

# The stub students see in every exercise, as in course/.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Student code that runs longer than this in one cell fails that cell.
c.Execute.timeout = 30

# Every grading kernel runs in a bubblewrap sandbox (backprop_autograder/sandbox.py):
# no network, no reference answers, hidden checks, gradebook or other students'
# files in sight, and limits on memory, CPU, processes and file sizes. Only
# `backprop-grade --unsafe-no-sandbox`, which warns, turns it off.
if not os.environ.get("BACKPROP_UNSAFE_NO_SANDBOX"):
    c.ResilientExecute.kernel_manager_class = "backprop_autograder.sandbox.SandboxedKernelManager"

# The notebooks as students received them: what locked cells a student changed is
# noted against them, and test cells a student deleted come back where they have
# them (edited ones are overwritten anyway), so every exercise is graded by its own
# checks. (nbgrader's OverwriteCells.add_missing_cells would take their order
# from the gradebook, which a PostgreSQL gradebook does not keep.)
c.FromRelease.release_dir = os.path.join(HERE, "release")

# Before grading, nbgrader restores the assignment's cells; the nbgrader flags a
# student changed (grade id, grade, solution, points) are first put back, so the
# original comes back instead of the whole notebook being refused. What the
# student changed in locked cells is noted first, as handed in, and marked on
# the restored cells after, for the summary.
c.Autograde.sanitize_preprocessors = [
    NoteLockedChanges,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    RestoreCellFlags,
    RestoreDeletedCells,
    OverwriteCells,
    MarkLockedChanges,
    CheckCellMetadata,
]

# nbgrader's autograde steps, with two changes: a kernel killed by student
# code costs only the cell that killed it, and each test cell is scored
# outside the kernel, from the results it sent, against answers the kernel
# never sees (hidden_answers/ in this folder, written by `make assignments`).
c.Autograde.autograde_preprocessors = [
    ResilientExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    ScoreOutsideKernel,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Late work (backprop_autograder/late.py): a submission later than its lesson's due date
# (`backprop-grade due`), plus the student's extension (`backprop-grade extensions`),
# loses a share of its score by the course's schedule; nbgrader stores the penalty and
# shows it in the feedback. The schedule itself is the course's own setting, below.
c.AssignLatePenalties.plugin_class = "backprop_autograder.late.PenaltySchedule"

# What grading found is kept as data in the graded notebook's metadata (see
# backprop_autograder/cell_verdicts.py): if ClearMetadataPreprocessor is enabled,
# it keeps that and nbgrader's own metadata.
c.ClearMetadataPreprocessor.preserve_cell_metadata_mask = {"nbgrader", VERDICTS_KEY}
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {("language_info", "name"), VERDICTS_KEY}

# Feedback shows each check's messages and points, never the hidden checks' code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenChecks, CSSHTMLHeaderPreprocessor]

# ---- this course's own settings (a rebuild keeps all below) ----
# The gradebook: SQLite in this folder unless set here. For grading on several
# machines (backprop-grade --cluster), a PostgreSQL server every worker reaches:
# c.CourseDirectory.db_url = "postgresql://grader:PASSWORD@db.example.edu/backprop"
#
# The late penalty schedule (these are the defaults): minutes of grace after the due
# date, the share of a notebook's score lost per day or part of a day late after
# that, and the most it can lose. `backprop-grade penalties LESSON` applies a change.
# c.PenaltySchedule.grace_minutes = 15
# c.PenaltySchedule.per_day = 0.10
# c.PenaltySchedule.cap = 0.50
