"""``python -m backprop_autograder.gradescope``, as ``run_autograder`` calls it."""

from backprop_autograder.gradescope.command import main

main()
