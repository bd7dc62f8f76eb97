"""The course's autograder: hidden checks, the assignment build, the grading pipeline.

lessons     which notebook, reference module and hidden-check module make each lesson
assemble    course notebook + reference bodies + hidden checks -> nbgrader source notebook
payload     the encoding of recorded inputs and expected values embedded in test cells
hidden/     the hidden checks, one module per lesson (named like the reference module)
build       `make assignments`: source notebooks, then nbgrader's generate_assignment
"""
