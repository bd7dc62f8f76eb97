"""``python -m backprop_autograder.mutation``: see :mod:`.run`."""

import sys

from backprop_autograder.mutation.run import main

sys.exit(main())
