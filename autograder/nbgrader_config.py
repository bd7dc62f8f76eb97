"""nbgrader configuration for the course (instructors).

`make assignments` copies this file into the nbgrader course directory it
builds (build/nbgrader by default); nbgrader reads it from there.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "backprop"
# The course directory is the folder nbgrader runs in (its default root):
# source/, release/, submitted/, autograded/, feedback/ and gradebook.db.
# The stub students see in every exercise, as in course/.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Student code that runs longer than this in one cell fails that cell.
c.ExecutePreprocessor.timeout = 30
