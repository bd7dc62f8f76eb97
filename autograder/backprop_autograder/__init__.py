"""The course's autograder: hidden checks, the assignment build, the grading pipeline.

lessons        which notebook, reference module and hidden-check module make each lesson
assemble       course notebook + reference bodies + hidden checks -> nbgrader source notebook
cases          recording the reference's calls and results as hidden cases
hidden/        the hidden checks, one module per lesson (named like the reference module)
build          `make assignments`: source notebooks, answers, nbgrader's generate_assignment
scoring        the grader's half of the hidden checks: results judged outside the kernel
judges         judges of checks of properties, registered by name
preprocessors  nbgrader steps: resilient execution, restored cell flags, scoring, feedback
cell_verdicts  what grading found in each cell, as notebook metadata the summary reads
sandbox        every grading kernel in bubblewrap, with limits
cli            `backprop-grade`: the instructor's commands
pipeline       the grading flow: collect, autograde, feedback, grades
course         the course directory, its configuration and gradebook URL
collecting     submissions from an LMS zip or the exchange
executing      autograding on this machine, in parallel
cluster        autograding on a Dask cluster
reporting      summary, grades CSV, incidents
"""
