"""Visible checks for lesson 05, mini-batches: one function per exercise.

Use them as ``check.sgd(sgd)`` after ``from backprop_course.checks import
mini_batch as check``. Their oracles: small batches worked by hand, centred
differences of the mean cost and of each example's own loss, and, for SGD,
stand-in gradients whose updates (with momentum and weight decay) can be
written down exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from backprop_course.checking import CheckFailed, Checks, mistake_line
from backprop_course.checks.networks import NETWORKS, STEP, Network, cost_function, inputs
from backprop_course.grading import exercise_check
from backprop_course.hints import asker

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]

# Two units, a batch of m = 3 columns, four inputs: no two sizes alike, so a
# transposed product or an m taken from the wrong axis cannot give these numbers.
DELTA = np.array([[1.0, 3.0, -1.0], [-2.0, 0.0, 4.0]])
A_PREV = np.array([[1.0, -1.0, 2.0], [0.0, 2.0, 1.0], [2.0, 1.0, 0.0], [-1.0, 3.0, 1.0]])


@exercise_check(
    hints=(
        "W^l is shared by all m examples, so ∂C/∂W^l is the mean over the columns of each "
        "example's BP4, δ^{l,(i)} (a^{l-1,(i)})ᵀ (section 3.1). Delta is (n_l, m) and A_prev "
        "(n_{l-1}, m), the examples along axis 1 of both; the result must be (n_l, n_{l-1}) like "
        "W^l whatever m is: which product of the two sums away the m?",
        "Entry (j, k) is (1/m) Σ_i Δ_{ji} A_{ki}, a sum along row j of Δ^l and row k of A^{l-1}: "
        "that is (1/m) Δ^l (A^{l-1})ᵀ. The mistakes the check names are a missing 1/m (the "
        "sum, m times too large) and a doubled one; m is the number of columns, Delta.shape[1].",
        "Of the products of Delta and A_prev with one of them transposed (.T), only one turns "
        "(n_l, m) and (n_{l-1}, m) into (n_l, n_{l-1}); write it with @, no loop, and divide "
        "by Delta.shape[1] once. On the worked example of section 3.1 it must give "
        "[[2.5, 0.5], [-0.5, 0]], the mean of np.outer(Delta[:, i], A_prev[:, i]) over i.",
    )
)
def batch_weight_gradient(fn: Function) -> None:
    """∂C/∂W^l of the mean cost: the mean over the examples of each one's BP4."""
    checks = Checks("batch_weight_gradient")
    # Σ_i δ^(i) (a^(i))ᵀ, the three outer products added by hand.
    total = np.array([[-4.0, 5.0, 5.0, 7.0], [6.0, 4.0, -4.0, 6.0]])
    checks.expect(
        checks.call(fn, DELTA, A_PREV),
        total / 3,
        what="the gradient for Δ of shape (2, 3) and A_prev of shape (4, 3) "
        "(the mean of the three outer products δ aᵀ)",
        variants={"missing_1_over_m": total, "doubled_1_over_m": total / 9},
    )
    # One example: BP4 itself, the outer product.
    checks.expect(
        checks.call(fn, DELTA[:, [1]], A_PREV[:, [1]]),
        np.array([[-3.0, 6.0, 3.0, 9.0], [0.0, 0.0, 0.0, 0.0]]),
        what="the gradient for a batch of one example (m = 1): BP4, δ aᵀ",
    )
    checks.done()


@exercise_check(
    hints=(
        "Broadcasting copies b^l into all m columns, and the backward pass of a broadcast is a "
        "sum (section 3.2): ∂C/∂b^l is the mean of the examples' BP3, that is of the m columns "
        "of Δ^l. Which axis of Delta (n_l, m) holds the examples, and what shape must the result "
        "have so that b^l − η ∂C/∂b^l keeps b^l's shape (n_l, 1)?",
        "The sum runs across the columns (axis=1), not down the units of one example (axis=0), "
        "and the result must stay a column: an (n_l,) array would broadcast against b^l into an "
        "(n_l, n_l) matrix. Divide by m exactly once; np.mean divides for you, so don't divide "
        "its result again.",
        "np.sum(Delta, axis=1, keepdims=True) is the sum of the columns as an (n_l, 1) column; "
        "np.mean takes the same two keywords. On the worked example of section 3.1 the answer "
        "is [[1.5], [-0.5]], shape (2, 1); compare with my_db in the cell before the exercise.",
    )
)
def batch_bias_gradient(fn: Function) -> None:
    """∂C/∂b^l of the mean cost: the mean of the columns of Δ^l, as an (n_l, 1) column."""
    checks = Checks("batch_bias_gradient")
    Delta = np.array([[1.0, 3.0, 2.0], [-2.0, 0.0, 5.0]])
    checks.expect(
        checks.call(fn, Delta),
        np.array([[2.0], [1.0]]),
        what="the gradient for Δ of shape (2, 3) (the mean of its three columns)",
        variants=[
            ("missing_1_over_m", np.array([[6.0], [3.0]])),
            ("doubled_1_over_m", np.array([[2.0 / 3], [1.0 / 3]])),
            ("bias_wrong_axis", np.array([[-0.5, 1.5, 3.5]])),
            ("bias_wrong_axis", np.array([[-1.0, 3.0, 7.0]])),
            ("bias_wrong_axis", np.array([[-0.5], [1.5], [3.5]])),
        ],
    )
    checks.expect(
        checks.call(fn, Delta[:, [2]]),
        np.array([[2.0], [5.0]]),
        what="the gradient for a batch of one example (m = 1): BP3, δ itself",
    )
    checks.done()


# -- a demonstration, not a graded check: the batch gradient is the mean of the examples'


def _per_example_mean(network: Network, X: np.ndarray, Y: np.ndarray, params: dict, fn: Function):
    """The mean over the columns of each example's own gradient, by centred differences."""
    m = X.shape[1]
    found = {key: np.zeros_like(value) for key, value in params.items()}
    for i in range(m):
        cost = cost_function(fn, X[:, [i]], Y[:, [i]], network)  # C_i, example i alone
        for key, value in params.items():
            for index in np.ndindex(value.shape):
                shifted = {k: v.copy() for k, v in params.items()}
                shifted[key][index] = value[index] + STEP
                up = cost(shifted)
                shifted[key][index] = value[index] - STEP
                found[key][index] += (up - cost(shifted)) / (2 * STEP) / m
    return found


def _compare_with_examples(checks: Checks, fn: Function, m: int) -> float:
    """Every network: each gradient against the mean of the per-example ones; the largest gap."""
    largest = 0.0
    for network in NETWORKS:
        X, Y, params = inputs(network, m)
        result = checks.call(fn, X, Y, params, list(network.activations), network.loss)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Mapping)):
            got = type(result).__name__
            raise CheckFailed(f"backprop_batch should return a pair (grads, cost), got a {got}")
        grads = result[0]
        expected = _per_example_mean(network, X, Y, params, fn)
        where = f"on {network.describe(m)}"
        for l in range(1, len(network.sizes)):
            for key in (f"W{l}", f"b{l}"):  # each layer's weights before its bias
                checks.expect(
                    grads.get(key) if isinstance(grads, Mapping) else None,
                    expected[key],
                    what=f"grads[{key!r}] {where}, against the mean of the {m} examples' own "
                    "gradients",
                    variants={
                        "missing_1_over_m": m * expected[key],
                        "doubled_1_over_m": expected[key] / m,
                    },
                    rtol=1e-5,
                    atol=1e-8,
                )
                gap = np.max(np.abs(np.asarray(grads[key], dtype=float) - expected[key]))
                largest = max(largest, float(gap))
    return largest


def mean_of_examples(backprop_batch: Function, layer: Function | None = None) -> None:
    """Show whether ``backprop_batch`` gives the mean of the per-example gradients.

    A demonstration, worth no points, that never raises: it prints one line,
    ✔ or ✘ with the likely mistake. On three small networks (one to three
    layers, all sizes different) and a batch of m = 4 columns, it compares every
    gradient with the mean over the columns of each example's own gradient,
    by centred differences of that example's loss alone. ``layer``, if given,
    replaces the batch layer ``dense_backward_batch`` while it runs: pass
    lesson 04's one-example ``dense_backward`` to see what it does with a batch.
    """
    checks, m = Checks("backprop_batch"), 4
    stand_ins = {} if layer is None else {"dense_backward_batch": lambda own: layer}
    name = getattr(layer, "__name__", "the given layer")
    with_layer = "" if layer is None else f" with {name} as the batch layer"
    try:
        with checks.isolating(backprop_batch, stand_ins):
            largest = _compare_with_examples(checks, backprop_batch, m)
    except CheckFailed as failure:
        text = str(failure)
        if failure.mistake and mistake_line(failure.mistake) not in text:
            text += "\n" + mistake_line(failure.mistake)
        print(f"✘ backprop_batch{with_layer} is not the mean of the per-example gradients.\n{text}")
        return
    print(
        f"✔ backprop_batch{with_layer} gives the mean of the per-example gradients on "
        f"{len(NETWORKS)} networks with m = {m} (largest difference {largest:.1e})."
    )


@exercise_check(
    hints=(
        "Run the whole set through the network at once: the given forward works on all m "
        "columns (section 2) and returns the output A^L with the caches. The cost is what "
        "LOSSES[loss].cost makes of A^L and Y; the accuracy is the fraction of columns whose "
        "largest output sits in the same row as the 1 of their target column.",
        "LOSSES[loss].cost is already the mean over the columns: don't sum or divide it again. "
        "Its arguments come in the order (network output, targets), and for the softmax "
        "cross-entropy the output A^L holds the logits, handed over as they are (the loss "
        "applies the softmax itself, and softmax keeps the largest in place).",
        "The examples are the columns, so the predicted and the true classes are "
        "np.argmax(A_L, axis=0) and np.argmax(Y, axis=0), m integers each; comparing them "
        "gives m booleans, and their mean is the accuracy. Return both as plain floats.",
    )
)
def evaluate(fn: Function) -> None:
    """(mean cost, accuracy), the prediction being the largest output of each column."""
    checks = Checks("evaluate")
    params = {"W1": np.eye(2), "b1": np.zeros((2, 1))}
    X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])  # the network outputs X itself
    Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # classes 0, 0, 1; predicted 0, 1, 1
    result = checks.call(fn, X, Y, params, ["identity"], "half_squared_error")
    checks.expect(
        tuple(result) if isinstance(result, (tuple, list)) else result,
        (5 / 3, 2 / 3),
        what="(cost, accuracy): half squared errors 0, 1, 4 and 2 of 3 right",
        variants={"missing_1_over_m": (5.0, 2 / 3)},
    )
    # Cross-entropy from the logits, which is not symmetric in its two arguments:
    # columns (1, 0, 0) and (ln 3, 0, 0) with classes 0 and 1 (predicted 0 and 0).
    logits = np.array([[0.0, np.log(3.0)], [0.0, 0.0], [0.0, 0.0]])
    params = {"W1": np.eye(3), "b1": np.zeros((3, 1))}
    result = checks.call(fn, logits, np.eye(3)[:, [0, 1]], params, ["identity"],
                         "softmax_cross_entropy")  # fmt: skip
    checks.expect(
        tuple(result) if isinstance(result, (tuple, list)) else result,
        ((np.log(3.0) + np.log(5.0)) / 2, 1 / 2),
        what="(cost, accuracy) for softmax cross-entropy: −ln(1/3) and −ln(1/5), 1 of 2 right",
        variants={"missing_1_over_m": (np.log(3.0) + np.log(5.0), 1 / 2)},
    )
    checks.done()


# For sgd: a stand-in backprop_batch whose gradient is always G and cost always 1.
G = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
P0 = {"W1": np.array([[0.0, 1.0]]), "b1": np.array([[2.0]])}


def _constant_gradient(own: object) -> Callable[..., tuple[dict, float]]:
    def backprop_batch(X, Y, params, activations, loss):
        return {key: value.copy() for key, value in G.items()}, 1.0

    return backprop_batch


def _constant_run(sizes: list[int], eta: float, momentum: float, decay: Callable) -> dict:
    """The parameters after batches of ``sizes`` columns with the constant gradient G.

    ``decay(key, batch_size, params)`` is what the step adds to G[key]."""
    params, velocity = dict(P0), {key: np.zeros_like(value) for key, value in P0.items()}
    for size in sizes:
        g = {key: G[key] + decay(key, size, params) for key in P0}
        velocity = {key: momentum * velocity[key] - eta * g[key] for key in P0}
        params = {key: params[key] + velocity[key] for key in P0}
    return params


@exercise_check(
    hints=(
        "Follow section 7.4's list one step at a time: new arrays for the parameters and zero "
        "velocities, ONE generator before the epochs, a new permutation of the N columns each "
        "epoch, then for every slice of batch_size columns: backprop_batch on those columns, "
        "the penalty's gradient of section 7.3 added to the weights' gradients, the momentum "
        "update of every parameter. N is the number of columns of X (X.shape[1]), not the "
        "batch size.",
        "The check names these mistakes: a generator made inside the epoch loop (the same "
        "shuffle every epoch); a velocity not kept from one batch to the next; the penalty "
        "gradient (λ/N) W^l given to the biases, or divided by the batch size instead of N; "
        "v ← β v − η g with the wrong sign. The epoch's cost weights each batch's cost by its "
        "number of columns and divides the total by N: the last batch may be smaller.",
        "The batches are order[start:start + batch_size] for start in range(0, N, batch_size), "
        "and the call is backprop_batch(X[:, batch], Y[:, batch], params, activations, loss). "
        'For a key that starts with "W", g = grads[key] + (weight_decay / N) * params[key]; '
        "then velocity[key] = momentum * velocity[key] - eta * g, and the parameter moves by "
        "the velocity, on your own copies (np.copy), never on the caller's arrays.",
    )
)
def sgd(fn: Function) -> None:
    """v <- μ v − η g, p <- p + v, every mini-batch; g with the weight decay (λ/N) W;
    seeded shuffling; a new dict."""
    checks = Checks("sgd")
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    seen: list[int] = []

    def record_epoch(epoch: int, params: dict) -> None:  # messages name it, not "<lambda>"
        seen.append(epoch)

    with checks.isolating(fn, {"backprop_batch": _constant_gradient}):
        trained, history = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error",
            epochs=2, batch_size=4, eta=0.1, momentum=0.5, callback=record_epoch,
        )  # fmt: skip
        # One batch per epoch: after step 1, p = p0 − η g; after step 2, p − (1 + μ) η g.
        expected = {key: P0[key] - 0.1 * G[key] - 1.5 * 0.1 * G[key] for key in P0}
        without_momentum = {key: P0[key] - 0.2 * G[key] for key in P0}
        checks.expect(
            trained,
            expected,
            what="the parameters after 2 epochs of 1 batch each, η = 0.1, momentum 0.5, "
            "with a gradient g that never changes",
            variants={
                "flipped_sign": {key: 2 * P0[key] - expected[key] for key in P0},
                "missing_momentum": without_momentum,
            },
        )
        checks.expect(
            [tuple(record) for record in history],
            [(1, 1.0), (2, 1.0)],
            what="the history [EpochRecord(epoch, mean cost)] (the stand-in's cost is 1)",
        )
        checks.expect(seen, [1, 2], what="the epochs the callback was called with")
        small, _ = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error", epochs=1, batch_size=1, eta=0.1
        )
        checks.expect(
            small,
            {key: P0[key] - 0.4 * G[key] for key in P0},
            what="the parameters after 1 epoch of 4 batches of 1 column, η = 0.1, no momentum",
        )
    _check_weight_decay(checks, fn)
    _check_column_dependent(checks, fn)
    checks.done()


# Weight decay: N = 6 columns in batches of 4 and 2, so that N, the batch size and the
# last batch's size all differ; λ/N = 0.5, and b^1 is not zero, so decaying it shows.
DECAY = {"epochs": 1, "batch_size": 4, "eta": 0.1, "momentum": 0.5, "weight_decay": 3.0}
N_DECAY = 6


def _check_weight_decay(checks: Checks, fn: Function) -> None:
    """The penalty (λ/2N) Σ ‖W^l‖² adds (λ/N) W^l to each step's weight gradient."""
    lam, size, N = DECAY["weight_decay"], DECAY["batch_size"], N_DECAY
    sizes = [size, N - size]
    X, Y = np.ones((2, N)), np.ones((1, N))

    def run(rate: Callable[[int], float], biases: bool = False) -> dict:
        def decay(key: str, batch: int, params: dict) -> np.ndarray:
            decayed = key.startswith("W") or biases
            return rate(batch) * params[key] if decayed else np.zeros_like(params[key])

        return _constant_run(sizes, DECAY["eta"], DECAY["momentum"], decay)

    handed: list = []

    def record_epoch(epoch: int, params: dict) -> None:
        handed.append(epoch)

    with checks.isolating(fn, {"backprop_batch": _constant_gradient}):
        trained, history = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error", callback=record_epoch, **DECAY
        )
    checks.expect(
        trained,
        run(lambda batch: lam / N),
        what=f"the parameters after 1 epoch of batches of {sizes[0]} and {sizes[1]} columns "
        f"(N = {N}), η = 0.1, momentum 0.5, weight_decay λ = {lam:g}, a gradient g that never "
        "changes: each step adds (λ/N) W to the weights' g, nothing to the biases'",
        variants=[
            ("decay_on_biases", run(lambda batch: lam / N, biases=True)),
            ("decay_missing_1_over_n", run(lambda batch: lam)),
            ("decay_doubled_1_over_n", run(lambda batch: lam / N**2)),
            ("decay_over_batch_size", run(lambda batch: lam / batch)),
            ("decay_over_batch_size", run(lambda batch: lam / size)),
        ],
    )
    checks.expect(
        [tuple(record) for record in history],
        [(1, 1.0)],
        what="the history with weight decay: the mean of the batch costs that backprop_batch "
        "reported (1 here), without the penalty",
    )
    checks.expect(handed, [1], what="the epochs the callback was called with")


# For sgd's last part: a stand-in whose gradient and cost depend on the columns it
# is given and on the parameters, so that the shuffling, the batches, each update and
# the weight of a smaller last batch all show. Row 0 of X names each column (1..7).
N_NAMED = 7
X_NAMED = np.vstack([np.arange(1.0, N_NAMED + 1), np.linspace(-1.0, 1.0, N_NAMED)])
Y_NAMED = np.arange(1.0, N_NAMED + 1)[None, :] ** 2 / 10
SETTINGS = {"epochs": 3, "batch_size": 3, "eta": 0.1, "momentum": 0.5, "weight_decay": 0.7,
            "seed": 4}  # fmt: skip


def _column_gradient(X: np.ndarray, Y: np.ndarray, params: dict) -> tuple[dict, float]:
    """The stand-in's (grads, cost): a made-up model, only its dependence matters."""
    grads = {
        "W1": 0.5 * params["W1"] + X.mean(axis=1)[None, :],
        "b1": 0.5 * params["b1"] + Y.mean(),
    }
    return grads, float(Y.mean() + X[1].sum())


class _Recorder:
    """Stand-in backprop_batch: checks its arguments, records each batch, answers."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.params: list[dict] = []

    def __call__(self, X: object, Y: object, params: object, activations: object, loss: object):
        order = "backprop_batch(X[:, batch], Y[:, batch], params, activations, loss)"
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[0] == 2):
            raise CheckFailed(f"sgd called backprop_batch without a batch of X first: {order}")
        columns = [int(c) - 1 for c in X[0]]  # X[0] holds whole numbers
        if not (isinstance(Y, np.ndarray) and np.array_equal(Y, Y_NAMED[:, columns])):
            raise CheckFailed(f"sgd gave backprop_batch a Y that is not X's columns of Y: {order}")
        in_place = activations == ["identity"] and loss == "half_squared_error"
        if not isinstance(params, dict) or not in_place:
            raise CheckFailed(f"sgd called backprop_batch with its arguments out of order: {order}")
        self.batches.append(columns)
        self.params.append({key: np.array(value, copy=True) for key, value in params.items()})
        return _column_gradient(X, Y, params)


def _expected_batches(N: int, epochs: int, batch_size: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)  # one generator for the whole run
    batches = []
    for _ in range(epochs):
        order = rng.permutation(N)
        batches += [order[s : s + batch_size].tolist() for s in range(0, N, batch_size)]
    return batches


def _check_column_dependent(checks: Checks, fn: Function) -> None:
    """Shuffled batches of 3, 3 and 1 over 3 epochs, momentum 0.5, weight decay, a gradient
    that moves."""
    recorder, handed = _Recorder(), []

    def record_epoch(epoch: int, params: dict) -> None:
        handed.append((epoch, {key: np.array(v, copy=True) for key, v in params.items()}))

    with checks.isolating(fn, {"backprop_batch": lambda own: recorder}):
        trained, history = checks.call(
            fn, P0, X_NAMED, Y_NAMED, ["identity"], "half_squared_error",
            callback=record_epoch, **SETTINGS,
        )  # fmt: skip
    epochs, size, seed = SETTINGS["epochs"], SETTINGS["batch_size"], SETTINGS["seed"]
    expected_batches = _expected_batches(N_NAMED, epochs, size, seed)
    same_every_epoch = _expected_batches(N_NAMED, 1, size, seed) * epochs
    checks.expect(
        recorder.batches,
        expected_batches,
        what=f"the columns of each batch (N = {N_NAMED}, batch_size = {size}, seed = {seed})",
        variants=[("same_shuffle", same_every_epoch)],
    )
    rate = SETTINGS["weight_decay"] / N_NAMED
    params, velocity, walked, costs = P0, {k: np.zeros_like(v) for k, v in P0.items()}, [], []
    for columns in expected_batches:
        walked.append(params)
        grads, cost = _column_gradient(X_NAMED[:, columns], Y_NAMED[:, columns], params)
        grads["W1"] = grads["W1"] + rate * params["W1"]
        velocity = {k: SETTINGS["momentum"] * velocity[k] - SETTINGS["eta"] * grads[k]
                    for k in params}  # fmt: skip
        params = {k: params[k] + velocity[k] for k in params}
        costs.append(cost * len(columns))
    checks.expect(recorder.params, walked, what="the parameters each batch's gradient was taken at")
    checks.expect(
        trained, params, what="the parameters after 3 epochs of batches 3, 3, 1 (weight decay 0.7)"
    )
    per_epoch = len(expected_batches) // epochs
    means = [sum(costs[e * per_epoch : (e + 1) * per_epoch]) / N_NAMED for e in range(epochs)]
    checks.expect(
        [tuple(record) for record in history],
        [(e + 1, mean) for e, mean in enumerate(means)],
        what=f"the history: each epoch's cost is the mean over its {N_NAMED} examples, each "
        "batch's mean cost weighted by its size (the last batch holds 1 column)",
    )
    checks.expect(
        [epoch for epoch, _ in handed], [1, 2, 3], what="the epochs the callback was called with"
    )
    checks.expect(
        handed[-1][1] if handed else None, params, what="the parameters handed to the callback"
    )
