"""Hidden checks, one module per lesson, one function per exercise (named alike).

Each function takes a seeded ``numpy.random.Generator`` and returns the cases
(see :mod:`backprop_autograder.cases`): their inputs go into the test cell,
their expected results to the grader only. For checks of properties it
returns a :class:`~backprop_autograder.cases.Judged` instead.
"""
