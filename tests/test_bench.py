"""The benchmark harness runs and prints what it promises (speed itself is measured by
``make bench``, never asserted here: the machines are shared and noisy)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_reference.mini_batch import backprop_batch, backprop_loop
from bench import run as bench


def test_quick_run_prints_a_table_and_json_lines(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "speedup" in out and "gemm share" in out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    records = [r for r in lines if r["bench"] == "minibatch_step"]
    assert {r["dtype"] for r in records} == {"float64", "float32"}
    widget_lines = [r for r in lines if r["bench"] == "widget"]
    assert {r["name"] for r in widget_lines} >= {"descent_explorer"}
    for r in widget_lines:
        assert 0 < r["median_ms"] <= r["p95_ms"] and r["changes"] == 5
    (grading,) = [r for r in lines if r["bench"] == "grading"]
    assert grading["notebooks"] == 2 and grading["stock_per_min"] > 0
    assert isinstance(grading["sandbox_startup_overhead_ms"], float)
    assert grading["ratio"] == pytest.approx(
        grading["ours_per_min"] / grading["stock_per_min"], rel=0.02
    )
    (spread,) = [r for r in lines if r["bench"] == "distributed"]
    assert spread["notebooks"] == 2 and spread["workers"] == 2 and spread["dask_per_min"] > 0
    assert spread["ratio_vs_local_pool"] == pytest.approx(
        spread["dask_per_min"] / spread["local_pool_per_min"], rel=0.02
    )
    assert spread["ship_ms_per_notebook"] > 0
    for r in records:
        assert r["bench"] == "minibatch_step"
        assert r["speedup_vs_loop"] > 0 and 0 < r["gemm_bound_fraction"]
        assert isinstance(r["sizes"], list) and r["m"] > 0


def test_timed_variants_do_the_same_maths():
    """The loop and the batch step move the parameters identically."""
    params, X, Y = bench.make_problem([6, 5, 3], 4, np.float64)
    p_batch = {k: v.copy() for k, v in params.items()}
    p_loop = {k: v.copy() for k, v in params.items()}
    bench.step(backprop_batch, p_batch, X, Y)
    bench.step(backprop_loop, p_loop, X, Y)
    for key in params:
        np.testing.assert_allclose(p_batch[key], p_loop[key], rtol=1e-12)
        assert not np.array_equal(p_batch[key], params[key])


def test_flop_count_matches_the_products():
    sizes, m = [7, 5, 3], 4
    # forward W1 X, W2 A1; weight gradients; one input error W2^T Delta2
    expected = 2 * (5 * 7 * 4 + 3 * 5 * 4) * 2 + 2 * (3 * 5 * 4)
    assert bench.gemm_flops(sizes, m) == expected


def test_ratio_is_taken_within_rounds():
    assert bench.median_ratio([2.0, 4.0, 8.0], [1.0, 2.0, 4.0]) == 2.0
