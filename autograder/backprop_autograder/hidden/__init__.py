"""Hidden checks, one module per lesson, one function per exercise (named alike).

Each function takes a seeded ``numpy.random.Generator`` and returns the cases
to embed (see :mod:`backprop_autograder.cases`), or a :class:`HiddenCode`.
"""
