"""The batch-size noise explorer, headless: the runs follow the theory of SGD, the widget reacts."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_course.widgets.batch_noise import (
    BatchNoiseExplorer,
    Run,
    digits_problem,
    path_spread,
    run_sgd,
)

pytestmark = pytest.mark.widgets

SEEDS = range(5)


@pytest.fixture(scope="module")
def problem():
    return digits_problem()


def as_run(path: np.ndarray) -> Run:
    steps = len(path) - 1
    return Run(path, np.zeros(steps + 1), np.arange(steps + 1.0), 1, False)


# -- the problem -----------------------------------------------------------------------


def test_the_problem_is_two_real_digit_classes_with_a_standardised_feature(problem):
    assert 200 <= problem.size <= 500
    assert set(np.unique(problem.y)) == {0.0, 1.0}
    assert abs(problem.x.mean()) < 1e-12 and abs(problem.x.std() - 1) < 1e-12


def test_the_loss_is_the_mean_cross_entropy_of_the_sigmoid_neuron(problem):
    w, b = 0.8, -0.4
    p = 1 / (1 + np.exp(-(w * problem.x + b)))
    expected = -np.mean(problem.y * np.log(p) + (1 - problem.y) * np.log(1 - p))
    assert problem.loss(np.array([w, b])) == pytest.approx(expected, rel=1e-12)


def test_the_analytic_gradient_equals_centred_differences(problem):
    rng = np.random.default_rng(3)
    h = 1e-6
    for point in [*rng.uniform(-8, 4, (5, 2)), np.array([40.0, -30.0])]:
        steps = np.eye(2) * h
        numeric = [(problem.loss(point + d) - problem.loss(point - d)) / (2 * h) for d in steps]
        analytic = problem.gradient(point)
        error = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
        assert error.max() < 1e-6, (point, analytic, numeric)


def test_a_batch_gradient_is_the_mean_of_the_example_gradients(problem):
    batch = np.array([3, 17, 200, 5])
    point = np.array([-1.5, 0.7])
    singles = [problem.gradient(point, np.array([i])) for i in batch]
    np.testing.assert_allclose(problem.gradient(point, batch), np.mean(singles, axis=0), rtol=1e-12)


def test_the_marked_minimum_is_where_the_gradient_vanishes(problem):
    assert np.abs(problem.gradient(problem.minimum)).max() < 1e-10
    for direction in np.eye(2):
        for sign in (1, -1):
            nearby = problem.minimum + sign * 0.05 * direction
            assert problem.loss(nearby) > problem.loss(problem.minimum)


# -- the runs ------------------------------------------------------------------------------


def test_full_batch_descent_with_a_safe_step_decreases_the_loss_every_step(problem):
    # For standardised x, C's Hessian is at most (1/4) E[(x, 1)(x, 1)^T] = I / 4,
    # so any η below 2 / (1/4) = 8 makes every full-batch step go downhill.
    for eta in (0.1, 1.0, 7.0):
        run = run_sgd(problem, problem.size, eta, 10, seed=0)
        assert np.all(np.diff(run.losses) < 0), eta
        assert not run.diverged


def test_a_mini_batch_of_all_examples_is_gradient_descent_for_every_shuffle(problem):
    runs = [run_sgd(problem, problem.size, 1.0, 6, seed) for seed in SEEDS]
    for run in runs[1:]:
        assert np.array_equal(run.path, runs[0].path)
    point, expected = np.array(problem.start), [np.array(problem.start)]
    for _ in range(6):
        point = point - 1.0 * problem.gradient(point)
        expected.append(point)
    np.testing.assert_allclose(runs[0].path, expected, rtol=1e-12, atol=1e-14)


def test_sgd_steps_follow_the_example_gradients_in_the_shuffled_order(problem):
    """The fast scalar loop does what the numpy gradient says, batch by batch."""
    eta, m = 0.5, 5
    run = run_sgd(problem, m, eta, 1, seed=4)
    order = np.random.default_rng(4).permutation(problem.size)
    point = np.array(problem.start)
    for k, begin in enumerate(range(0, problem.size, m)):
        point = point - eta * problem.gradient(point, np.sort(order[begin : begin + m]))
        np.testing.assert_allclose(run.path[k + 1], point, rtol=1e-10, atol=1e-12)


def test_epochs_at_counts_passes_through_the_data(problem):
    n = problem.size
    sgd = run_sgd(problem, 1, 0.1, 2, seed=0)
    assert sgd.steps == 2 * n
    assert sgd.epochs_at[n] == 1.0 and sgd.epochs_at[-1] == 2.0
    np.testing.assert_allclose(sgd.epochs_at, np.arange(2 * n + 1) / n)
    m = 16  # does not divide n: the last batch of each epoch is smaller
    mini = run_sgd(problem, m, 0.1, 3, seed=0)
    per_epoch = -(-n // m)
    assert mini.steps == 3 * per_epoch
    assert mini.epochs_at[per_epoch] == 1.0
    assert mini.epochs_at[per_epoch - 1] == pytest.approx((per_epoch - 1) * m / n)
    full = run_sgd(problem, n, 0.1, 3, seed=0)
    np.testing.assert_array_equal(full.epochs_at, [0.0, 1.0, 2.0, 3.0])


def test_single_examples_make_a_clearly_noisier_path_than_the_full_batch(problem):
    for seed in SEEDS:
        full = run_sgd(problem, problem.size, 0.3, 5, seed)
        sgd = run_sgd(problem, 1, 0.3, 5, seed)
        assert path_spread(sgd) > 100 * path_spread(full), seed
        assert path_spread(full) < 1e-4


def test_the_spread_ignores_smooth_paths_and_measures_jitter():
    t = np.linspace(0, 1, 40)[:, None]
    bending = np.hstack([t, 3 * t**2 - t])  # a parabola walked at changing speed
    assert path_spread(as_run(bending)) < 1e-12
    jitter = np.random.default_rng(0).normal(0.0, 0.01, bending.shape)
    noisy = path_spread(as_run(bending + jitter))
    # residual = (3/35) × the fourth difference: for white noise of std s in each of two
    # coordinates its std is s √(2 · 414) / 35 ≈ 0.82 s, its mean length about 0.73 s
    assert 0.005 < noisy < 0.01
    assert path_spread(as_run(bending[:4])) == 0.0


def test_per_epoch_smaller_batches_get_further_at_a_small_step(problem):
    for seed in SEEDS:
        losses = [run_sgd(problem, m, 0.1, 1, seed).losses[-1] for m in (1, 16, problem.size)]
        assert losses[0] < losses[1] < losses[2], seed


def test_at_the_minimum_only_the_full_batch_stays_and_the_jitter_grows_with_eta(problem):
    start = tuple(problem.minimum)
    floor = problem.loss(problem.minimum)
    full = run_sgd(problem, problem.size, 1.0, 3, 0, start=start)
    assert np.abs(full.losses - floor).max() < 1e-12

    def excess(eta: float) -> float:
        runs = [run_sgd(problem, 1, eta, 3, seed, start=start) for seed in SEEDS]
        return float(np.mean([run.losses.mean() for run in runs])) - floor

    small, large = excess(0.1), excess(1.0)
    assert 1e-5 < small < large / 3  # stationary excess loss of SGD grows about like η


def test_a_huge_learning_rate_makes_single_example_sgd_diverge(problem):
    run = run_sgd(problem, 1, 100.0, 2, seed=0)
    assert run.diverged is True and run.last_epoch_loss > run.losses[0]
    assert not run_sgd(problem, 1, 0.1, 2, seed=0).diverged


def test_a_batch_size_outside_one_to_n_is_refused(problem):
    with pytest.raises(ValueError, match="batch_size"):
        run_sgd(problem, 0, 0.1, 1, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        run_sgd(problem, problem.size + 1, 0.1, 1, seed=0)


# -- the widget -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def explorer():
    return BatchNoiseExplorer(batch_size=16, eta=1.0, epochs=5)


@pytest.fixture(autouse=True)
def defaults(request):
    """Put a shared explorer back to its defaults before each test that uses it."""
    if "explorer" in request.fixturenames:
        widget = request.getfixturevalue("explorer")
        widget.batch_size.value, widget.eta.value, widget.epochs.value = 16, 1.0, 5


def test_the_three_runs_share_eta_epochs_and_shuffle(explorer, problem):
    full, mini, sgd = explorer.runs
    assert [r.batch_size for r in explorer.runs] == [problem.size, 16, 1]
    assert full.epochs_at[-1] == mini.epochs_at[-1] == sgd.epochs_at[-1] == 5.0
    np.testing.assert_array_equal(sgd.path, run_sgd(problem, 1, 1.0, 5, explorer.seed).path)


def test_a_batch_size_the_slider_does_not_offer_is_refused():
    with pytest.raises(ValueError, match="one of"):
        BatchNoiseExplorer(batch_size=10)


def test_the_batch_size_slider_offers_powers_of_two_and_n(explorer, problem):
    options = list(explorer.batch_size.options)
    assert options[:4] == [1, 2, 4, 8] and options[-1] == problem.size
    assert explorer.batch_size.description == "batch size m"
    assert explorer.eta.description == "learning rate η"


def test_changing_the_batch_size_recomputes_and_redraws(explorer):
    before = bytes(explorer.image.value)
    explorer.batch_size.value = 4
    assert explorer.runs[1].batch_size == 4
    assert bytes(explorer.image.value) != before
    assert "(m = 4)" in explorer.status.value


def test_a_mini_batch_of_n_in_the_widget_equals_its_full_batch_run(explorer, problem):
    explorer.batch_size.value = problem.size
    assert np.array_equal(explorer.runs[1].path, explorer.runs[0].path)


def test_step_and_reset_move_all_three_runs_by_epoch(explorer, problem):
    explorer.reset_button.click()
    assert explorer.current.value == 0 and explorer.positions() == [0, 0, 0]
    assert "step 0 (epoch 0.0 of 5)" in explorer.status.value
    before = bytes(explorer.image.value)
    explorer.step_button.click()
    # one mini-batch step of 16 examples = 16 single-example steps = no full-batch step yet
    assert explorer.current.value == 1 and explorer.positions() == [0, 1, 16]
    assert "step 16 (epoch 0.0 of 5)" in explorer.status.value
    assert bytes(explorer.image.value) != before
    per_epoch = -(-problem.size // 16)
    explorer.current.value = per_epoch
    assert explorer.positions() == [1, per_epoch, problem.size]
    assert f"step {per_epoch} (epoch 1.0 of 5)" in explorer.status.value


def test_a_diverging_learning_rate_is_reported(explorer):
    assert "diverges" not in explorer.status.value
    explorer.eta.value = 100.0
    assert explorer.runs[2].diverged
    assert "SGD (m = 1) diverges" in explorer.status.value and "lower η" in explorer.status.value
    explorer.eta.value = 1.0
    assert "diverges" not in explorer.status.value


def test_new_shuffle_changes_the_noisy_runs_but_not_the_full_batch(explorer):
    full, _, sgd = explorer.runs
    seed = explorer.seed
    explorer.shuffle_button.click()
    assert explorer.seed == seed + 1
    assert np.array_equal(explorer.runs[0].path, full.path)
    assert not np.array_equal(explorer.runs[2].path, sgd.path)
    assert f"shuffle {seed + 1}" in explorer.status.value


def test_the_status_shows_each_runs_spread(explorer):
    for spread in explorer.spreads:
        assert f"spread of the path: {spread:.3g}" in explorer.status.value
    assert explorer.spreads[2] > explorer.spreads[0]


def test_labels_caption_and_controls_are_there(explorer):
    assert explorer.ax.get_xlabel() == "weight w" and explorer.ax.get_ylabel() == "bias b"
    assert explorer.loss_ax.get_xlabel() == "epoch (passes through the data)"
    assert explorer.loss_ax.get_ylabel().startswith("full-data loss C")
    assert "Try" in explorer.caption.value and "Notice" in explorer.caption.value
    for button in (explorer.shuffle_button, explorer.step_button, explorer.reset_button):
        assert button.tooltip
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_slider_changes_only_blit_so_they_stay_fast(explorer):
    """Moving η through its usual range must not redraw the contours, and the loss
    axes only rarely: that is what keeps a change within the 50 ms budget."""
    counts = {"redraw_all": 0, "rescale": 0}
    drawing = explorer.drawing
    originals = {name: getattr(drawing, name) for name in counts}

    def counted(name):
        def call():
            counts[name] += 1
            originals[name]()

        return call

    for name in counts:
        setattr(drawing, name, counted(name))
    try:
        for eta in np.geomspace(0.01, 3.0, 25):
            explorer.eta.value = float(eta)
        for m in explorer.batch_size.options:
            explorer.batch_size.value = m
    finally:
        for name in counts:
            delattr(drawing, name)
    assert counts["redraw_all"] == 0
    assert counts["rescale"] <= 3
