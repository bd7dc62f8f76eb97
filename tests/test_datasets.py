"""The data the course ships or makes, and the reference SGD trained on the digits."""

from __future__ import annotations

import time

import numpy as np
import pytest

from backprop_course import datasets as ds
from backprop_reference import forward_pass as fp
from backprop_reference import mini_batch as mb


def test_digits_shape_range_and_classes():
    X, labels = ds.load_digits()
    assert X.shape == (64, 1797) and X.dtype == np.float64
    assert labels.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.array_equal(np.unique(labels), np.arange(10))
    assert np.bincount(labels).min() >= 170  # about 180 images per class
    # Image 0 is a zero: a ring of ink around an empty centre.
    image = X[:, 0].reshape(8, 8)
    assert labels[0] == 0 and image[3:5, 3:5].max() < 0.2 and image[0].max() > 0.5


def test_digits_file_is_checked(monkeypatch):
    monkeypatch.setattr(ds, "DIGITS_SHA256", "0" * 64)
    with pytest.raises(OSError, match="damaged"):
        ds.load_digits()


def test_one_hot():
    Y = ds.one_hot(np.array([2, 0, 1, 2]), 4)
    assert Y.shape == (4, 4)
    np.testing.assert_array_equal(np.argmax(Y, axis=0), [2, 0, 1, 2])
    np.testing.assert_array_equal(Y.sum(axis=0), 1.0)
    assert ds.one_hot(np.array([0, 3])).shape == (4, 2)
    for bad in (np.array([0.0, 1.0]), np.array([[0, 1]]), np.array([0, 5])):
        with pytest.raises(ValueError):
            ds.one_hot(bad, 4)


def test_split_is_stratified_disjoint_and_seeded():
    X, labels = ds.load_digits()
    X = np.vstack([X, np.arange(labels.size)])  # tag each column with its index
    Xtr, ltr, Xte, lte = ds.train_test_split(X, labels, 0.25, seed=3)
    train_ids, test_ids = Xtr[-1].astype(int), Xte[-1].astype(int)
    assert set(train_ids).isdisjoint(test_ids)
    assert len(train_ids) + len(test_ids) == labels.size
    np.testing.assert_array_equal(labels[train_ids], ltr)
    np.testing.assert_array_equal(labels[test_ids], lte)
    share = np.bincount(lte, minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(share - 0.25) < 0.01)
    again = ds.train_test_split(X, labels, 0.25, seed=3)
    np.testing.assert_array_equal(again[2], Xte)
    with pytest.raises(ValueError):
        ds.train_test_split(X, labels, 1.0)


@pytest.mark.parametrize("name", sorted(ds.TOY_DATASETS))
def test_toy_datasets(name):
    make = ds.TOY_DATASETS[name]
    X, labels = make(m=201, seed=4)
    assert X.shape == (2, 201) and labels.shape == (201,)
    assert set(np.unique(labels)) == {0, 1}
    assert abs(np.mean(labels) - 0.5) < 0.1
    assert np.all(np.abs(X) < 3)
    np.testing.assert_array_equal(make(m=201, seed=4)[0], X)
    assert not np.array_equal(make(m=201, seed=5)[0], X)
    # The problem is learnable but not linearly: a logistic regression on the
    # raw coordinates stays well below what a small network reaches.
    Y = ds.one_hot(labels, 2)
    linear, _ = mb.sgd(
        fp.init_params([2, 2], seed=0),
        X,
        Y,
        ["identity"],
        "softmax_cross_entropy",
        epochs=200,
        batch_size=32,
        eta=0.1,
        momentum=0.9,
    )
    net, _ = mb.sgd(
        fp.init_params([2, 32, 32, 2], seed=0),
        X,
        Y,
        ["tanh", "tanh", "identity"],
        "softmax_cross_entropy",
        epochs=400,
        batch_size=32,
        eta=0.05,
        momentum=0.9,
    )
    lin_acc = mb.evaluate(X, Y, linear, ["identity"], "softmax_cross_entropy")[1]
    net_acc = mb.evaluate(X, Y, net, ["tanh", "tanh", "identity"], "softmax_cross_entropy")[1]
    assert net_acc > 0.9 and net_acc > lin_acc + 0.05, (lin_acc, net_acc)


def three_sets():
    """Lesson 05's split, applied twice: a fifth for testing, then a quarter of the rest."""
    X, labels = ds.load_digits()
    X_rest, l_rest, X_test, l_test = ds.train_test_split(X, labels, test_fraction=0.2, seed=0)
    X_train, l_train, X_val, l_val = ds.train_test_split(X_rest, l_rest, 0.25, seed=1)
    return (X_train, l_train), (X_val, l_val), (X_test, l_test)


def test_the_split_applied_twice_gives_three_disjoint_stratified_sets():
    X, labels = ds.load_digits()
    tagged = np.vstack([X, np.arange(labels.size)])  # tag each column with its index
    X_rest, l_rest, X_test, l_test = ds.train_test_split(tagged, labels, 0.2, seed=0)
    X_train, l_train, X_val, l_val = ds.train_test_split(X_rest, l_rest, 0.25, seed=1)
    ids = [set(part[-1].astype(int)) for part in (X_train, X_val, X_test)]
    assert sum(map(len, ids)) == labels.size and set.union(*ids) == set(range(labels.size))
    assert [len(i) for i in ids] == [1079, 359, 359]  # the sizes lesson 05 quotes
    counts = np.bincount(labels, minlength=10)
    for part, share in ((l_train, 0.6), (l_val, 0.2), (l_test, 0.2)):
        assert np.all(np.abs(np.bincount(part, minlength=10) / counts - share) < 0.01)


def test_reference_sgd_learns_the_digits():
    """Lesson 05's full run: >= 95 % test accuracy, the test set measured once, within 30 s."""
    (X_train, l_train), (X_val, l_val), (X_test, l_test) = three_sets()
    activations, loss = ["relu", "identity"], "softmax_cross_entropy"
    params = fp.init_params([64, 64, 10], seed=0, scheme="he")
    start = time.perf_counter()
    params, history = mb.sgd(
        params,
        X_train,
        ds.one_hot(l_train, 10),
        activations,
        loss,
        epochs=40,
        batch_size=32,
        eta=0.05,
        momentum=0.9,
        weight_decay=0.0,
        seed=0,
    )
    seconds = time.perf_counter() - start
    _, val_accuracy = mb.evaluate(X_val, ds.one_hot(l_val, 10), params, activations, loss)
    cost, accuracy = mb.evaluate(X_test, ds.one_hot(l_test, 10), params, activations, loss)
    assert val_accuracy >= 0.96, val_accuracy
    assert accuracy >= 0.95, accuracy
    assert cost < 0.2, cost
    assert history[-1].cost < history[0].cost / 10
    assert seconds < 30, seconds


def test_a_tiny_batch_is_learnt_perfectly_and_decay_controls_an_overfit():
    """Lesson 05's habits: 20 digits learnt to 100 %; on 50 digits, without weight decay the
    validation cost climbs after its minimum, and lambda = 0.3 keeps it lower, weights smaller."""
    (X_train, l_train), (X_val, l_val), _ = three_sets()
    Y_train, Y_val = ds.one_hot(l_train, 10), ds.one_hot(l_val, 10)
    activations, loss = ["relu", "identity"], "softmax_cross_entropy"
    params = fp.init_params([64, 64, 10], seed=0, scheme="he")
    tiny, _ = mb.sgd(params, X_train[:, :20], Y_train[:, :20], activations, loss, epochs=50,
                     batch_size=20, eta=0.05, momentum=0.9)  # fmt: skip
    assert mb.evaluate(X_train[:, :20], Y_train[:, :20], tiny, activations, loss)[1] == 1.0
    runs = {}
    for lam in (0.0, 0.3):
        costs = []
        trained, _ = mb.sgd(
            params, X_train[:, :50], Y_train[:, :50], activations, loss, epochs=300,
            batch_size=10, eta=0.05, momentum=0.9, weight_decay=lam, seed=0,
            callback=lambda epoch, p, costs=costs: costs.append(
                mb.evaluate(X_val, Y_val, p, activations, loss)[0]),
        )  # fmt: skip
        runs[lam] = (np.array(costs), np.linalg.norm(trained["W1"]))
    plain, decayed = runs[0.0], runs[0.3]
    assert np.argmin(plain[0]) < 30 and plain[0][-1] > plain[0].min() + 0.08  # it climbs
    assert decayed[0][-1] < plain[0].min() < plain[0][-1]  # lower than early stopping would give
    assert decayed[1] < plain[1] / 2  # "less than half as large"


def test_sgd_is_deterministic_and_leaves_params_alone():
    X, labels = ds.make_moons(m=64, seed=0)
    Y = ds.one_hot(labels, 2)
    params = fp.init_params([2, 8, 2], seed=1)
    before = {k: v.copy() for k, v in params.items()}
    seen = []

    def run():
        return mb.sgd(
            params,
            X,
            Y,
            ["tanh", "identity"],
            "softmax_cross_entropy",
            epochs=3,
            batch_size=10,
            eta=0.1,
            momentum=0.5,
            seed=2,
            callback=lambda epoch, p: seen.append(epoch),
        )

    first, hist1 = run()
    second, hist2 = run()
    assert seen == [1, 2, 3, 1, 2, 3]
    assert hist1 == hist2 and [r.epoch for r in hist1] == [1, 2, 3]
    assert all(np.array_equal(first[k], second[k]) for k in first)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    with pytest.raises(ValueError):
        mb.sgd(
            params,
            X,
            Y,
            ["tanh", "identity"],
            "softmax_cross_entropy",
            epochs=1,
            batch_size=0,
            eta=0.1,
        )


def test_momentum_zero_is_plain_gradient_descent():
    X, labels = ds.make_xor(m=16, seed=0)
    Y = ds.one_hot(labels, 2)
    params = fp.init_params([2, 3, 2], seed=0)
    acts, loss = ["sigmoid", "identity"], "softmax_cross_entropy"
    trained, _ = mb.sgd(params, X, Y, acts, loss, epochs=1, batch_size=16, eta=0.3, momentum=0.0)
    grads, _ = mb.backprop_batch(X, Y, params, acts, loss)
    for key in params:  # one full batch = one step, whatever the shuffle
        np.testing.assert_allclose(trained[key], params[key] - 0.3 * grads[key], rtol=1e-12)
