"""Mutation testing of the checks: which wrong answer would still pass?

For every exercise, the reference body is changed in one small way at a time
(:mod:`.catalogue`: the mistakes students make in this material), and each
changed answer, a *mutant*, goes through the same checks a student's answer
meets (:mod:`.harness`, in-process, without nbgrader):

* **equivalent**: it agrees with the reference, within the checks' tolerance,
  on many random inputs drawn wider than the checks draw (:mod:`.wide`);
  such mutants are listed, not counted;
* **hidden, every seed**: the hidden checks score it below full under every
  seed of a range, as the grader would score it;
* **visible**: the visible check fails it;
* **one mistake, one exercise**: no other exercise of its lesson loses points.

``make mutation`` (``python -m backprop_autograder.mutation``) runs it all and
prints a table and one JSON line (:mod:`.run`).
"""
