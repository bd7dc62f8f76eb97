"""nbgrader configuration for the course (instructors).

nbgrader reads this file when it runs from this folder. The assignment build
and the grading command add their own settings on top of these.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "backprop"
# Source notebooks are assembled into autograder/source/<assignment>/.
c.CourseDirectory.root = "."
# The stub students see in every exercise, as in course/.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Student code that runs longer than this in one cell fails that cell.
c.ExecutePreprocessor.timeout = 30
