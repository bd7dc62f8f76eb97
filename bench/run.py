"""Benchmarks for the reference library: ``make bench`` (or ``python -m bench.run``).

For each case, one training step of a dense network on a mini-batch
(forward, backward, update) is timed three ways in the same process,
interleaved in random order so that machine noise hits all three alike:

* batch: :func:`backprop_reference.mini_batch.backprop_batch`, fully matrix-based;
* loop: :func:`backprop_reference.mini_batch.backprop_loop`, the same maths one
  example at a time (lesson 04's backprop on each column);
* gemm: only the step's matrix products, with the same shapes and dtype.

Reported: ``speedup_vs_loop = loop / batch`` (target >= 10) and
``gemm_bound_fraction = gemm / batch`` (target >= 0.70): the share of the step
spent in the matrix products that no implementation can avoid. Each ratio is
the median over rounds of the ratio measured within one round; times are
medians too. The ratios, not the times, are what to compare across machines.

Then one JSON line per widget gives its reaction time to a control change
(:mod:`bench.widgets`, target median <= 50 ms), and a last JSON line
compares grading throughput: stock ``nbgrader autograde`` against
``backprop-grade autograde`` on the same solved submissions
(:mod:`bench.grading`). The very last line puts two Dask workers against
the local pool of two, both on this machine (:mod:`bench.distributed`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from backprop_reference.forward_pass import init_params
from backprop_reference.mini_batch import backprop_batch, backprop_loop
from bench import distributed, grading, widgets

ACTIVATIONS = ["sigmoid", "identity"]
LOSS = "softmax_cross_entropy"
ETA = 0.1
CALLS_PER_ROUND = 3
TARGETS = {"speedup_vs_loop": 10.0, "gemm_bound_fraction": 0.70}


def make_problem(sizes: list[int], m: int, dtype: type, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = init_params(sizes, seed=seed, dtype=dtype)
    X = rng.random((sizes[0], m)).astype(dtype)
    Y = np.zeros((sizes[-1], m), dtype=dtype)
    Y[rng.integers(0, sizes[-1], m), np.arange(m)] = 1
    return params, X, Y


def step(backprop: Callable, params: dict, X: np.ndarray, Y: np.ndarray) -> None:
    """One SGD step in place, with the given gradient routine."""
    grads, _ = backprop(X, Y, params, ACTIVATIONS, LOSS)
    for key, g in grads.items():
        g *= ETA  # in place: the gradient is not needed after the step
        params[key] -= g


def gemm_only(params: dict, X: np.ndarray, Y: np.ndarray) -> None:
    """The matrix products of one step (forward W A, backward Delta A^T and W^T Delta)."""
    L = len(params) // 2
    A = [X]
    for l in range(1, L + 1):
        A.append(params[f"W{l}"] @ A[-1])
    Delta = A[-1]
    for l in range(L, 0, -1):
        Delta @ A[l - 1].T
        if l > 1:
            Delta = params[f"W{l}"].T @ Delta


def time_interleaved(
    funcs: dict[str, Callable[[], None]],
    repeats: int,
    before_round: Callable[[], None] = lambda: None,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Seconds per call of each function, one sample per round.

    Every round calls each function ``CALLS_PER_ROUND`` times in a row (so the
    cold caches left by the memory-hungry loop are not charged to whichever
    function happens to follow it), in a fresh random order each round.
    ``before_round`` runs untimed before each round.
    """
    rng = np.random.default_rng(seed)
    names = list(funcs)
    for f in funcs.values():  # warm up caches and BLAS threads
        f()
    samples: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        before_round()
        for name in rng.permutation(names):
            f = funcs[name]
            start = time.perf_counter()
            for _ in range(CALLS_PER_ROUND):
                f()
            samples[name].append((time.perf_counter() - start) / CALLS_PER_ROUND)
    return samples


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of the ratio of two functions timed in the same round.

    Taking the ratio within a round, before the median, cancels the slow
    drifts of a shared machine's speed that would bias a ratio of medians.
    """
    return statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))


def run_case(sizes: list[int], m: int, dtype: type, repeats: int) -> dict:
    params, X, Y = make_problem(sizes, m, dtype)
    batch_params = {k: v.copy() for k, v in params.items()}
    loop_params = {k: v.copy() for k, v in params.items()}

    def reset() -> None:
        # Every round starts from the same parameters: steps on random data
        # would otherwise saturate the sigmoids, and the resulting subnormal
        # numbers slow every product down, making the timings drift.
        for trained in (batch_params, loop_params):
            for key, value in params.items():
                np.copyto(trained[key], value)

    seconds = time_interleaved(
        {
            "batch": lambda: step(backprop_batch, batch_params, X, Y),
            "loop": lambda: step(backprop_loop, loop_params, X, Y),
            "gemm": lambda: gemm_only(params, X, Y),
        },
        repeats,
        before_round=reset,
    )
    median = {name: statistics.median(s) for name, s in seconds.items()}
    return {
        "bench": "minibatch_step",
        "dtype": np.dtype(dtype).name,
        "m": m,
        "sizes": sizes,
        "speedup_vs_loop": round(median_ratio(seconds["loop"], seconds["batch"]), 1),
        "gemm_bound_fraction": round(median_ratio(seconds["gemm"], seconds["batch"]), 2),
        "batch_ms": round(1e3 * median["batch"], 3),
        "loop_ms": round(1e3 * median["loop"], 3),
        "gemm_ms": round(1e3 * median["gemm"], 3),
        "gemm_gflops": round(gemm_flops(sizes, m) / median["gemm"] / 1e9, 1),
        "rounds": repeats,
        "openblas_thread_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT"),
    }


def gemm_flops(sizes: list[int], m: int) -> int:
    """Floating-point operations of :func:`gemm_only` (2 per multiply-add)."""
    forward = sum(sizes[l] * sizes[l - 1] * m for l in range(1, len(sizes)))
    weight_grads = forward
    input_errors = sum(sizes[l] * sizes[l - 1] * m for l in range(2, len(sizes)))
    return 2 * (forward + weight_grads + input_errors)


def table(results: list[dict]) -> str:
    head = (
        f"{'dtype':8} {'sizes':16} {'m':>5} {'batch ms':>9} {'loop ms':>9} {'gemm ms':>8} "
        f"{'GFLOP/s':>8} {'speedup':>8} {'gemm share':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        ok = {k: "  " if r[k] >= t else " !" for k, t in TARGETS.items()}
        lines.append(
            f"{r['dtype']:8} {r['sizes']!s:16} {r['m']:>5} {r['batch_ms']:>9.3f} "
            f"{r['loop_ms']:>9.2f} {r['gemm_ms']:>8.3f} {r['gemm_gflops']:>8.1f} "
            f"{r['speedup_vs_loop']:>7.1f}x{ok['speedup_vs_loop']}"
            f"{r['gemm_bound_fraction']:>8.2f}{ok['gemm_bound_fraction']}"
        )
    lines.append(
        f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT')} "
        "(see bench/__init__.py); "
        f"targets: speedup_vs_loop >= {TARGETS['speedup_vs_loop']:g}, "
        f"gemm_bound_fraction >= {TARGETS['gemm_bound_fraction']:g} ('!' marks a miss)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=25, help="timed rounds per case")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the harness")
    args = parser.parse_args(argv)
    if args.quick:
        cases, repeats = [([20, 16, 4], 8)], 2
    else:
        cases, repeats = [([784, 256, 10], m) for m in (64, 128, 256)], args.repeats
    results = [
        run_case(sizes, m, dtype, repeats)
        for dtype in (np.float64, np.float32)
        for sizes, m in cases
    ]
    print(table(results))
    for r in results:
        print(json.dumps(r))
    # Widgets: server-side reaction to a control change (bench/widgets.py).
    for line in widgets.run(changes=5 if args.quick else widgets.CHANGES):
        print(json.dumps(line, ensure_ascii=False))
    # Grading throughput, stock nbgrader against backprop-grade (bench/grading.py).
    print(json.dumps(grading.run(notebooks=2, rounds=1) if args.quick else grading.run()))
    # Distributed grading on one machine, Dask against the local pool (bench/distributed.py).
    print(json.dumps(distributed.run(notebooks=2, rounds=1) if args.quick else distributed.run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
