"""Benchmarks of the reference library (``make bench``); see :mod:`bench.run`.

OpenBLAS's idle worker threads busy-wait for about 2^28 cycles after every
matrix product before they sleep. On a small machine that spinning takes CPU
time from the main thread's elementwise work (sigmoid, sums, updates) and
makes a training step about 1.5x slower. The benchmark lets idle workers sleep
at once; set OPENBLAS_THREAD_TIMEOUT yourself (28 is OpenBLAS's default) to
measure another setting. It must be set before numpy loads, hence here.
"""

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
