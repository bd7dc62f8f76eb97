"""The network trainer, headless: train, break the gradient on purpose, and check what theory says.

The reference ``backprop_batch`` stands in for a student's correct answer;
wrapped versions of it stand in for the usual mistakes.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_course.datasets import TOY_DATASETS
from backprop_course.widgets.trainer import (
    HIDDEN_ACTIVATIONS,
    LOSS,
    NUMERICAL,
    TRAIN_SIZE,
    YOURS,
    GradientSource,
    NetworkTrainer,
    init_params,
    make_data,
    mean_cost,
    numerical_deltas,
    numerical_gradient,
)
from backprop_reference.matrix_form import relative_error
from backprop_reference.mini_batch import backprop_batch

pytestmark = pytest.mark.widgets


@pytest.fixture(scope="module")
def trainer() -> NetworkTrainer:
    """One trainer with the reference gradient, reused (building the figure takes a while)."""
    return NetworkTrainer(backprop_batch)


def configure(trainer: NetworkTrainer, **values) -> NetworkTrainer:
    """Set controls by name, then rebuild once with all of them."""
    with trainer._quietly():
        for name, value in values.items():
            getattr(trainer, name).value = value
    trainer.rebuild()
    return trainer


def with_mistake(mistake):
    """The reference backprop_batch with ``mistake(grads, X)`` applied to its gradients."""

    def wrong_backprop(X, Y, params, activations, loss):
        grads, cost = backprop_batch(X, Y, params, activations, loss)
        return mistake(dict(grads), X), cost

    return wrong_backprop


# -- training ---------------------------------------------------------------------------


def test_backprop_training_learns_the_moons(trainer):
    configure(trainer, dataset="moons", noise=0.1, hidden_layers=1, units=8, activation="tanh",
              eta=0.3, batch_size=16)  # fmt: skip
    assert trainer.gradient_source == YOURS
    trainer.train_epochs(30, redraw=False)
    history = trainer.history
    assert history.epoch == list(range(31))
    assert history.train_loss[-1] < 0.6 * history.train_loss[0]
    assert history.test_accuracy[-1] > 0.85


def test_the_numerical_gradient_agrees_with_backprop():
    data = make_data("circles", 0.1)
    X, Y = data.X_train[:, :20], data.Y_train[:, :20]
    for activations in (["tanh", "identity"], ["sigmoid", "relu", "identity"]):
        sizes = [2] + [5] * (len(activations) - 1) + [2]
        params = init_params(sizes, activations, seed=3)
        params["b1"] = np.linspace(-0.5, 0.5, 5).reshape(5, 1)  # nonzero biases are tested too
        expected, cost = backprop_batch(X, Y, params, activations, LOSS)
        numerical = numerical_gradient(X, Y, params, activations)
        for key in params:
            assert relative_error(numerical[key], expected[key]) < 1e-6, key
        assert mean_cost(X, Y, params, activations) == pytest.approx(cost, rel=1e-12)


def test_numerical_deltas_are_the_single_example_bias_gradients():
    data = make_data("xor", 0.05)
    activations = ["sigmoid", "tanh", "identity"]
    params = init_params([2, 4, 3, 2], activations, seed=1)
    X, Y = data.X_train[:, :4], data.Y_train[:, :4]
    deltas = numerical_deltas(X, Y, params, activations)
    for i in range(4):
        grads, _ = backprop_batch(X[:, [i]], Y[:, [i]], params, activations, LOSS)
        for l, delta in enumerate(deltas, start=1):
            assert relative_error(delta[:, [i]], grads[f"b{l}"]) < 1e-6


def test_numerical_fallback_trains_like_backprop():
    settings = {"hidden_layers": 2, "units": 4, "activation": "tanh", "batch_size": 32}
    numerical = NetworkTrainer(None, **settings)
    assert numerical.gradient_source == NUMERICAL
    assert "pass your <code>backprop_batch</code>" in numerical.status.value
    backprop = NetworkTrainer(backprop_batch, **settings)
    numerical.train_epochs(5, redraw=False)
    backprop.train_epochs(5, redraw=False)
    # same seeds, same batches, gradients equal to ~1e-9: the same weights after 5 epochs
    for key, value in backprop.params.items():
        assert relative_error(numerical.params[key], value) < 1e-6, key
    assert numerical.history.train_loss[-1] < numerical.history.train_loss[0]


# -- checking the student's function ------------------------------------------------------


def test_an_unwritten_backprop_falls_back_to_numerical_gradients():
    def backprop_stub(X, Y, params, activations, loss):
        raise NotImplementedError()

    trainer = NetworkTrainer(backprop_stub)
    assert trainer.gradient_source == NUMERICAL
    assert "not written yet" in trainer.status.value
    trainer.step_button.click()
    assert trainer.history.epoch[-1] == 1


@pytest.mark.parametrize(
    ("mistake", "key", "hint"),
    [
        (lambda g, X: {**g, "W1": 2.0 * g["W1"]}, "W1", "2 times the right one"),
        (lambda g, X: {**g, "W1": g["W1"].T}, "W1", "has shape (2, 3)"),
        (lambda g, X: {**g, "W2": g["W2"].T}, "W2", "transpose of the right one"),
        (lambda g, X: {**g, "b1": g["b1"] * X.shape[1]}, "b1", "5 times the right one"),
    ],
    ids=["W1 doubled", "W1 transposed", "square W2 transposed", "b1 summed, not averaged"],
)
def test_a_wrong_backprop_is_named_and_replaced(mistake, key, hint):
    source = GradientSource(with_mistake(mistake))
    assert source.name == NUMERICAL
    assert f'grads["{key}"]' in source.message and hint in source.message
    assert "numerical gradients instead" in source.message


def test_the_status_line_names_the_disagreeing_array():
    trainer = NetworkTrainer(with_mistake(lambda g, X: {**g, "b2": g["b2"] * X.shape[1]}))
    assert trainer.gradient_source == NUMERICAL
    assert 'grads["b2"] disagrees with finite differences' in trainer.status.value


def test_a_backprop_that_fails_during_training_is_replaced():
    def fails_on_big_batches(X, Y, params, activations, loss):
        if X.shape[1] > 5:  # the check uses 5 examples and 1
            raise ValueError("shapes (3,7) and (2,7) not aligned")
        return backprop_batch(X, Y, params, activations, loss)

    trainer = NetworkTrainer(fails_on_big_batches, batch_size=16)
    assert trainer.gradient_source == NUMERICAL  # the initial record already used 200 columns
    assert "raised ValueError during training" in trainer.status.value
    trainer.train_epochs(1)
    assert np.isfinite(trainer.history.train_loss[-1])


# -- what the plots show ----------------------------------------------------------------


def test_deep_sigmoid_nets_have_vanishing_gradients(trainer):
    ratios = {}
    for activation in HIDDEN_ACTIVATIONS:
        configure(trainer, dataset="moons", hidden_layers=6, units=8, activation=activation)
        norms = trainer.history.gradient_norms[0]
        deltas = trainer.history.mean_abs_delta[0]
        assert norms.shape == deltas.shape == (7,)
        ratios[activation] = norms[0] / norms[-1]
        if activation == "sigmoid":
            assert deltas[0] < deltas[-1] / 100  # σ' ≤ 1/4 at each of 6 layers
    assert ratios["sigmoid"] < 0.1
    assert ratios["tanh"] > 10 * ratios["sigmoid"]
    assert ratios["relu"] > 10 * ratios["sigmoid"]


def test_the_picked_series_is_the_gradient_used_by_a_full_batch_step(trainer):
    configure(trainer, dataset="xor", hidden_layers=2, units=3, activation="tanh",
              batch_size=TRAIN_SIZE)  # fmt: skip
    trainer.pick.value = ("W2", 1, 2)
    assert trainer.pick.label.startswith("W2[1, 2]  (layer 2, unit 1 ← unit 2)")
    before = {key: value.copy() for key, value in trainer.params.items()}
    trainer.step_button.click()
    data = trainer.data
    grads, _ = backprop_batch(data.X_train, data.Y_train, before, trainer.activations, LOSS)
    assert trainer.picked_gradient[-1] == pytest.approx(grads["W2"][1, 2], rel=1e-9)
    assert trainer.picked_weight[-1] == trainer.params["W2"][1, 2]
    assert trainer.picked_weight[-1] == pytest.approx(
        before["W2"][1, 2] - trainer.eta.value * grads["W2"][1, 2], rel=1e-12
    )


def test_the_picked_series_is_the_mean_of_the_epochs_steps():
    steps = []

    def recording_backprop(X, Y, params, activations, loss):
        grads, cost = backprop_batch(X, Y, params, activations, loss)
        steps.append((X.shape[1], grads))
        return grads, cost

    trainer = NetworkTrainer(recording_backprop, hidden_layers=1, units=4, batch_size=16)
    trainer.pick.value = ("W1", 3, 1)
    steps.clear()
    trainer.step_button.click()
    training = steps[:13]  # 12 batches of 16 and one of 8; the probe's single columns follow
    assert [m for m, _ in training] == [16] * 12 + [8]
    mean = sum(m / TRAIN_SIZE * grads["W1"][3, 1] for m, grads in training)
    assert trainer.picked_gradient[-1] == pytest.approx(mean, rel=1e-12)
    mean_norm = sum(m / TRAIN_SIZE * np.linalg.norm(grads["W2"]) for m, grads in training)
    assert trainer.history.gradient_norms[-1][1] == pytest.approx(mean_norm, rel=1e-12)


def test_every_weight_can_be_picked(trainer):
    configure(trainer, hidden_layers=3, units=5)
    weights = sum(trainer.params[f"W{l}"].size for l in range(1, 5))
    assert len(trainer.pick.options) == weights == 2 * 5 + 5 * 5 * 2 + 5 * 2
    labels = [label for label, _ in trainer.pick.options]
    assert "W1[4, 1]  (layer 1, unit 4 ← input 1)" in labels
    assert "W4[1, 4]  (layer 4, unit 1 ← unit 4)" in labels
    before = bytes(trainer.image.value)
    trainer.pick.value = ("W3", 2, 0)
    assert bytes(trainer.image.value) != before
    assert len(trainer.picked_gradient) == len(trainer.history.epoch)


# -- the controls ----------------------------------------------------------------------


def test_play_ticks_and_step_train_and_redraw(trainer):
    configure(trainer, dataset="moons", hidden_layers=1, units=4, activation="tanh", batch_size=16)
    before = bytes(trainer.image.value)
    trainer.play.value += 1
    assert trainer.history.epoch[-1] == 1
    after_tick = bytes(trainer.image.value)
    assert after_tick != before and after_tick.startswith(b"\x89PNG")
    trainer.step_button.click()
    assert trainer.history.epoch[-1] == 2
    assert bytes(trainer.image.value) != after_tick
    trainer.play.value = 0  # the play button going back to its start trains nothing
    assert trainer.history.epoch[-1] == 2
    assert "epoch 2" in trainer.status.value


def test_data_and_architecture_rebuild_but_eta_and_batch_size_continue(trainer):
    configure(trainer, dataset="moons", hidden_layers=1, units=4, activation="tanh")
    start = {key: value.copy() for key, value in trainer.params.items()}
    trainer.train_epochs(3, redraw=False)
    trained = {key: value.copy() for key, value in trainer.params.items()}
    trainer.eta.value = 0.05
    trainer.batch_size.value = 4
    assert trainer.history.epoch[-1] == 3
    assert all(np.array_equal(trainer.params[key], trained[key]) for key in trained)
    old_points = trainer.data.X_train
    trainer.dataset.value = "spirals"
    assert trainer.history.epoch == [0]
    assert not np.array_equal(trainer.data.X_train, old_points)
    # the same seed and architecture start from the same weights
    assert all(np.array_equal(trainer.params[key], start[key]) for key in start)
    trainer.units.value = 6
    assert trainer.params["W1"].shape == (6, 2) and trainer.history.epoch == [0]


def test_reset_draws_new_weights(trainer):
    configure(trainer, hidden_layers=1, units=4)
    seed, old = trainer.seed, trainer.params["W1"].copy()
    trainer.train_epochs(2, redraw=False)
    trainer.reset_button.click()
    assert trainer.seed == seed + 1 and trainer.history.epoch == [0]
    assert not np.array_equal(trainer.params["W1"], old)
    assert f"weights seed {seed + 1}" in trainer.status.value


def test_every_dataset_and_activation_draws(trainer):
    for dataset in TOY_DATASETS:
        for activation in HIDDEN_ACTIVATIONS:
            configure(trainer, dataset=dataset, activation=activation, hidden_layers=2, units=4)
            before = bytes(trainer.image.value)
            assert before.startswith(b"\x89PNG")
            trainer.step_button.click()
            assert bytes(trainer.image.value) != before, (dataset, activation)
            assert np.all(np.isfinite(trainer.history.train_loss))


def test_numerical_play_ticks_are_capped():
    trainer = NetworkTrainer(None, hidden_layers=6, units=8, batch_size=1)
    trainer.play.value += 1  # 200 steps of numerical gradients do not fit in one tick
    assert trainer.run.steps_done > 0 and trainer.history.epoch == [0]
    assert "only part of an epoch" in trainer.status.value
    assert f"+ {trainer.run.steps_done} of {TRAIN_SIZE} points" in trainer.status.value


def test_a_diverging_run_stops_and_says_so():
    def explosive_backprop(X, Y, params, activations, loss):
        grads, cost = backprop_batch(X, Y, params, activations, loss)
        if X.shape[1] == 16:  # training steps only: the check and the probes pass
            grads = {key: np.full_like(g, 1e308) for key, g in grads.items()}
        return grads, cost

    trainer = NetworkTrainer(explosive_backprop, batch_size=16)
    trainer.play.value += 1
    assert trainer.run.diverged
    assert "Diverged" in trainer.status.value and "lower it" in trainer.status.value
    epoch = trainer.history.epoch[-1]
    trainer.play.value += 1
    assert trainer.history.epoch[-1] == epoch  # nothing more to train until a rebuild


def test_redrawing_only_the_changed_panels_gives_the_full_picture():
    trainer = NetworkTrainer(backprop_batch, hidden_layers=3, units=6, activation="relu", eta=1.0)
    for _ in range(12):  # the curves leave their limits: panels are redrawn one by one
        trainer.play.value += 1
    trainer.hidden_layers.value = 2  # a new legend and fresh limits
    trainer.play.value += 1
    blitted = bytes(trainer.image.value)
    trainer.drawing.redraw_all()  # everything drawn again from scratch
    assert bytes(trainer.image.value) == blitted


def test_while_nbgrader_grades_no_trainer_is_built(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    calls = []

    def counting_backprop(*args):
        calls.append(args)
        return backprop_batch(*args)

    placeholder = NetworkTrainer(counting_backprop)
    assert not isinstance(placeholder, NetworkTrainer)
    placeholder.train_epochs(5)  # a cell that trains runs without effect
    assert calls == []  # not even the check of the student's function
