"""The network trainer: train a small classifier on 2-D data and watch backprop at work.

Pick a data set, a depth, a width and an activation; press play. Every tick
of the play button trains one epoch of mini-batch SGD in the kernel and
redraws four pictures: the network's probability of class 1 over the plane
(its decision boundary), the train and test losses, the size of every
layer's weight gradient ‖∂C/∂W^l‖ with the mean error |δ^l| per layer, and
the gradient of one weight you pick.

Where the gradients come from. The widget does not contain the backward
pass: that is your work. Pass your ``backprop_batch(X, Y, params,
activations, loss) -> (grads, cost)`` from lesson 05 (the given loop over the
layers, running on your batch gradients) and the trainer first
compares it with centred finite differences on small random networks; if it
agrees, it trains with it. Otherwise (or without one) it falls back to
numerical gradients, which are correct but cost two forward passes per
parameter, and says why.

Shapes follow the course: columns are examples, X (2, m), Y (2, m) one-hot,
W^l (n_l, n_{l-1}), b^l (n_l, 1), δ^l = ∂C/∂z^l, the cost C is the mean
over the batch.
"""

from __future__ import annotations

import html
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullLocator,
    ScalarFormatter,
)

from backprop_course.checking import array_difference
from backprop_course.datasets import TOY_DATASETS, one_hot
from backprop_course.widgets._base import LessonWidget
from backprop_course.widgets._figure import FigureImage, widen

Array = np.ndarray
Params = dict[str, Array]
GradientFunction = Callable[
    [Array, Array, Mapping[str, Array], Sequence[str], str], tuple[Mapping[str, Array], float]
]

LOSS = "softmax_cross_entropy"  # read from the identity output layer's 2 logits
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
MAX_HIDDEN_LAYERS = 6
MAX_UNITS = 8
TRAIN_SIZE = TEST_SIZE = 200
TRAIN_SEED, TEST_SEED = 0, 1  # the test set is drawn separately, with its own seed
PROBE_SIZE = 8  # training points whose errors δ^l are measured one by one
STEP = 1e-5  # h of the centred differences
# A student's gradient agrees with finite differences when every entry is within
# these tolerances (the centred differences here are good to about 1e-9).
RTOL, ATOL = 1e-5, 1e-8
EPOCHS_AT_START = (-0.5, 10.0)  # x limits of the epoch axes before they grow
NUMERICAL_TICK_BUDGET = 0.03  # seconds of numerical-gradient training per play tick

BATCH_SIZES = [(str(size), size) for size in (1, 2, 4, 8, 16, 32, 64, 128)] + [("all", TRAIN_SIZE)]

YOURS, NUMERICAL = "your backprop_batch", "numerical"


# -- a forward pass of our own (lesson 01's, given openly from lesson 02 on) ----------


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^{-z}) written with tanh, so it never overflows. Any shape -> same shape."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": lambda z: z,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def forward_from(
    Z: Array, layer: int, params: Mapping[str, Array], activations: Sequence[str]
) -> Array:
    """Continue the forward pass from layer ``layer``'s pre-activation to the output A^L.

    Shapes: Z (..., n_layer, m) -> (..., n_L, m). Leading axes are a stack of
    independent copies of the network's state (``W @ A`` broadcasts over them).
    """
    A = ACTIVATIONS[activations[layer - 1]](Z)
    for l in range(layer + 1, len(activations) + 1):
        A = ACTIVATIONS[activations[l - 1]](params[f"W{l}"] @ A + params[f"b{l}"])
    return A


def forward(X: Array, params: Mapping[str, Array], activations: Sequence[str]) -> Array:
    """The network's output A^L. Shapes: X (n_0, m) -> (n_L, m)."""
    return forward_from(params["W1"] @ X + params["b1"], 1, params, activations)


def example_losses(A_L: Array, Y: Array) -> Array:
    """Softmax cross-entropy of each column, from the logits A_L; stable for any |A_L|.

    Shapes: A_L (..., k, m), Y (k, m) one-hot -> (..., m).
    """
    shifted = A_L - A_L.max(axis=-2, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-2, keepdims=True))
    return -(Y * log_softmax).sum(axis=-2)


def mean_cost(X: Array, Y: Array, params: Mapping[str, Array], activations: Sequence[str]) -> float:
    """The cost C: the mean softmax cross-entropy over the m columns. Returns a float."""
    return float(example_losses(forward(X, params, activations), Y).mean())


# -- numerical gradients: centred differences, one parameter at a time --------------


def _pre_activations(
    X: Array, params: Mapping[str, Array], activations: Sequence[str]
) -> tuple[list[Array], list[Array]]:
    """Layer inputs [A^0, ..., A^{L-1}] and pre-activations [Z^1, ..., Z^L]."""
    inputs, pre = [X], []
    for l in range(1, len(activations) + 1):
        pre.append(params[f"W{l}"] @ inputs[-1] + params[f"b{l}"])
        inputs.append(ACTIVATIONS[activations[l - 1]](pre[-1]))
    return inputs[:-1], pre


def _bumped_losses(
    Z: Array, rows: Array, moves: Array, layer: int, Y: Array, params, activations, h: float
) -> tuple[Array, Array]:
    """Per-example losses with row ``rows[p]`` of Z moved by +h·moves[p] and by −h·moves[p].

    Shapes: Z (n, m), rows (P,), moves (P, m) -> two arrays (P, m). All 2P
    copies of the network's upper layers run in one stacked forward pass.
    """
    count = rows.size
    stack = np.broadcast_to(Z, (2 * count, *Z.shape)).copy()
    which = np.arange(2 * count)
    stack[which, np.concatenate([rows, rows])] += np.concatenate([h * moves, -h * moves])
    losses = example_losses(forward_from(stack, layer, params, activations), Y)
    return losses[:count], losses[count:]


def numerical_gradient(
    X: Array, Y: Array, params: Mapping[str, Array], activations: Sequence[str], h: float = STEP
) -> Params:
    """∂C/∂p for every parameter p by centred differences of the mean cost C.

    Shapes: X (n_0, m), Y (n_L, m) -> grads like params: W^l (n_l, n_{l-1}), b^l (n_l, 1).

    Each parameter is moved by ±h on its own, (C(p + h) − C(p − h)) / 2h. The
    moves are applied to the pre-activations, which is exact and cheaper:
    moving W^l[j, k] by h moves row j of Z^l by h·A^{l-1}[k], moving b^l[j]
    moves it by h, and nothing below layer l changes. All the parameters of a
    layer are moved at once, as a stack of copies of the layers above.
    """
    m = X.shape[1]
    inputs, pre = _pre_activations(X, params, activations)
    grads: Params = {}
    for l in range(1, len(activations) + 1):
        n, n_prev = params[f"W{l}"].shape
        rows = np.concatenate([np.repeat(np.arange(n), n_prev), np.arange(n)])
        moves = np.concatenate([np.tile(inputs[l - 1], (n, 1)), np.ones((n, m))])
        up, down = _bumped_losses(pre[l - 1], rows, moves, l, Y, params, activations, h)
        slope = (up.mean(axis=1) - down.mean(axis=1)) / (2 * h)
        grads[f"W{l}"] = slope[: n * n_prev].reshape(n, n_prev)
        grads[f"b{l}"] = slope[n * n_prev :].reshape(n, 1)
    return grads


def numerical_deltas(
    X: Array, Y: Array, params: Mapping[str, Array], activations: Sequence[str], h: float = STEP
) -> list[Array]:
    """Every example's error δ^l = ∂C_i/∂z^l by centred differences, for l = 1..L.

    Shapes: X (n_0, m), Y (n_L, m) -> list of L arrays (n_l, m), column i
    example i's. Examples never mix, so one move of a whole row of Z^l gives
    the derivative of every example's own loss at once.
    """
    m = X.shape[1]
    _, pre = _pre_activations(X, params, activations)
    deltas = []
    for l, Z in enumerate(pre, start=1):
        rows = np.arange(Z.shape[0])
        up, down = _bumped_losses(Z, rows, np.ones((rows.size, m)), l, Y, params, activations, h)
        deltas.append((up - down) / (2 * h))
    return deltas


# -- checking a student's backprop_batch ------------------------------------------------

# Small random networks to check against: a mix of activations, a batch and a single column.
CHECK_CASES = (
    ([2, 3, 3, 2], ["tanh", "sigmoid", "identity"], 5),
    ([2, 3, 3, 2], ["relu", "tanh", "identity"], 1),
)


def _check_case(sizes: Sequence[int], activations: Sequence[str], m: int, rng):
    """A random network with nonzero biases, inputs and one-hot targets."""
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(0.0, 1.0, (sizes[l], sizes[l - 1]))
        params[f"b{l}"] = rng.normal(0.0, 0.5, (sizes[l], 1))
    X = rng.normal(0.0, 1.0, (sizes[0], m))
    Y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1])
    return params, X, Y


def _difference(got: Array, expected: Array, what: str = "it") -> str | None:
    """How ``got`` differs from ``expected`` entry by entry (the checks' own comparison)."""
    return array_difference(got, expected, what, rtol=RTOL, atol=ATOL)


def _what_is_wrong(key: str, got: Array, expected: Array) -> str | None:
    """A sentence about grads[key] if it disagrees with ``expected``, else None."""
    if got.shape != expected.shape:
        return (
            f'grads["{key}"] has shape {got.shape}, but {key} has shape {expected.shape}: '
            "each gradient must have its parameter's shape"
        )
    difference = _difference(got, expected)
    if difference is None:
        return None
    message = f'grads["{key}"] disagrees with finite differences: {difference}'
    scale = float(np.sum(got * expected) / max(np.sum(expected * expected), 1e-300))
    if got.shape[0] == got.shape[-1] and _difference(got, expected.T) is None:
        message += " It is the transpose of the right one"
    elif scale != 0 and _difference(got, scale * expected) is None:
        message += f" It is {scale:.3g} times the right one"
    return message.rstrip(".")  # the caller ends the sentence


def check_backprop(backprop: GradientFunction) -> str | None:
    """Compare ``backprop`` with centred differences on small random networks.

    Returns None when it agrees everywhere (every entry within RTOL and ATOL for every
    parameter array and the cost), otherwise one plain sentence saying what
    went wrong: not written yet, an exception, a missing key, a wrong shape,
    or which array disagrees and by how much.
    """
    rng = np.random.default_rng(2024)
    for sizes, activations, m in CHECK_CASES:
        params, X, Y = _check_case(sizes, activations, m, rng)
        given = {key: value.copy() for key, value in params.items()}
        examples = f"{m} example" + ("s" if m > 1 else "")
        where = f"on a {sizes} network ({', '.join(activations)}) with {examples}"
        try:
            with _silenced():
                result = backprop(X.copy(), Y.copy(), given, list(activations), LOSS)
        except NotImplementedError:
            return (
                "your backprop_batch is not written yet (it, or a function it calls, raised "
                "NotImplementedError)"
            )
        except Exception as error:
            return f"your backprop_batch raised {type(error).__name__} {where}: {error}"
        try:
            problem = _returned_wrong(result, params, X, Y, activations)
        except (TypeError, ValueError) as error:  # arrays that numpy cannot read as numbers
            problem = f"its result could not be read as numbers ({error})"
        if problem is None and any(not np.array_equal(given[k], params[k]) for k in params):
            problem = "it changed the params it was given (compute new arrays instead)"
        if problem is not None:
            return f"your backprop_batch {where}: {problem}"
    return None


def _returned_wrong(result, params, X, Y, activations) -> str | None:
    """What is wrong with a returned (grads, cost), or None."""
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Mapping)):
        return f"it must return a pair (grads, cost) with grads a dict, got {type(result).__name__}"
    grads, cost = result
    missing = [key for key in params if key not in grads]
    if missing:
        return f"grads has no {', '.join(missing)} (it needs every key of params)"
    expected = numerical_gradient(X, Y, params, activations)
    for key in params:
        problem = _what_is_wrong(key, np.asarray(grads[key], dtype=float), expected[key])
        if problem:
            return problem
    right_cost = mean_cost(X, Y, params, activations)
    if np.ndim(cost) != 0 or not np.isclose(float(cost), right_cost, rtol=RTOL, atol=ATOL):
        return f"it returned the cost {cost!r}, but the mean cost is {right_cost:.6g}"
    return None


@contextmanager
def _silenced() -> Iterator[None]:
    """No overflow warnings from a diverging run (the status line says it diverged)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


class GradientSource:
    """Gradients of the mean cost: the student's backprop_batch once checked, else numerical.

    ``name`` is ``"your backprop_batch"`` or ``"numerical"``; ``message`` says why.
    """

    def __init__(self, backprop: GradientFunction | None) -> None:
        self.backprop: GradientFunction | None = None
        if backprop is None:
            self._use_numerical(
                "pass your <code>backprop_batch</code> to train with backprop, much faster: "
                "<code>NetworkTrainer(backprop_batch)</code>"
            )
            return
        problem = check_backprop(backprop)
        if problem is None:
            self.backprop, self.name = backprop, YOURS
            self.message = (
                "gradients from <b>your backprop_batch</b>: it agrees with finite differences"
            )
        else:
            problem = html.escape(problem, quote=False)  # the status line is HTML
            self._use_numerical(f"{problem}. Training with numerical gradients instead")

    def _use_numerical(self, why: str) -> None:
        self.backprop, self.name = None, NUMERICAL
        self.message = f"gradients: <b>numerical</b> (centred differences); {why}"

    def gradient(self, X: Array, Y: Array, params: Params, activations: Sequence[str]) -> Params:
        """∂C/∂p of the batch's mean cost. Shapes: X (2, m), Y (2, m) -> like params."""
        if self.backprop is not None:
            try:
                with _silenced():
                    grads, _ = self.backprop(X, Y, params, list(activations), LOSS)
                return {key: np.asarray(grads[key], dtype=float) for key in params}
            except Exception as error:
                self._use_numerical(
                    f"your backprop_batch raised {type(error).__name__} during training "
                    f"({html.escape(str(error), quote=False)}), so the trainer switched to "
                    "numerical gradients"
                )
        with _silenced():
            return numerical_gradient(X, Y, params, activations)

    def deltas(self, X: Array, Y: Array, params: Params, activations: Sequence[str]):
        """δ^l of every example, l = 1..L: a list of (n_l, m) arrays.

        With a single column, ∂C/∂b^l = δ^l (BP3), so the gradient source run
        on each column alone gives that column's errors.
        """
        if self.backprop is None:
            with _silenced():
                return numerical_deltas(X, Y, params, activations)
        columns = [
            self.gradient(X[:, [i]], Y[:, [i]], params, activations) for i in range(X.shape[1])
        ]
        return [
            np.hstack([grads[f"b{l}"] for grads in columns]) for l in range(1, len(activations) + 1)
        ]


# -- one training run ------------------------------------------------------------------


class ToyData(NamedTuple):
    """A train set and a test set. X (2, m), labels (m,), Y (2, m) one-hot."""

    X_train: Array
    labels_train: Array
    Y_train: Array
    X_test: Array
    labels_test: Array
    Y_test: Array


def make_data(name: str, noise: float) -> ToyData:
    """200 training and 200 test points of a toy problem, drawn with different seeds."""
    X_train, labels_train = TOY_DATASETS[name](TRAIN_SIZE, noise, TRAIN_SEED)
    X_test, labels_test = TOY_DATASETS[name](TEST_SIZE, noise, TEST_SEED)
    return ToyData(
        X_train,
        labels_train,
        one_hot(labels_train, 2),
        X_test,
        labels_test,
        one_hot(labels_test, 2),
    )


def init_params(sizes: Sequence[int], activations: Sequence[str], seed: int) -> Params:
    """Random weights, zero biases. W^l (n_l, n_{l-1}) ~ N(0, g / n_{l-1}).

    g = 2 before ReLU units (He), 1 otherwise (LeCun): the usual choice for
    each activation, so that what the plots show is the activation's doing.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        gain = 2.0 if activations[l - 1] == "relu" else 1.0
        params[f"W{l}"] = rng.normal(0.0, np.sqrt(gain / sizes[l - 1]), (sizes[l], sizes[l - 1]))
        params[f"b{l}"] = np.zeros((sizes[l], 1))
    return params


@dataclass
class History:
    """What a run recorded, one entry per epoch; entry 0 is the initial weights.

    epoch            0, 1, ..., E
    train_loss       mean cross-entropy of the whole training set at the epoch's end
    test_loss        the same on the test set
    train_accuracy, test_accuracy   fraction of points classified right
    gradient_norms   (L,) arrays: ‖∂C/∂W^l‖ (Frobenius) averaged over the epoch's
                     mini-batch steps; at epoch 0, the whole training set's gradient
    mean_abs_delta   (L,) arrays: mean |δ^l| over the units and the probe points
    gradients        dicts like params: ∂C/∂p averaged over the epoch's steps (each
                     step weighted by its batch's share of the epoch); at epoch 0,
                     the whole training set's gradient at the initial weights
    params           dicts: the parameters at the epoch's end
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    gradient_norms: list[Array] = field(default_factory=list)
    mean_abs_delta: list[Array] = field(default_factory=list)
    gradients: list[Params] = field(default_factory=list)
    params: list[Params] = field(default_factory=list)


class Run:
    """Mini-batch SGD on a fixed network and data set, recording a :class:`History`."""

    def __init__(
        self, data: ToyData, sizes: Sequence[int], activations: Sequence[str], seed: int,
        source: GradientSource,
    ) -> None:  # fmt: skip
        self.data, self.sizes, self.activations = data, list(sizes), list(activations)
        self.source = source
        self.params = init_params(sizes, activations, seed)
        self.history = History()
        self.diverged = False
        self._rng = np.random.default_rng(seed)
        self._order: Array | None = None  # this epoch's shuffled columns
        self._position = 0  # how many of them the epoch has used
        self._sum_grads: Params = {}  # the epoch's gradients so far, weighted by batch share
        self._sum_norms = np.zeros(len(self.sizes) - 1)  # and their norms, per layer
        initial = source.gradient(data.X_train, data.Y_train, self.params, self.activations)
        self._record(initial, self._norms(initial))

    @property
    def epoch(self) -> int:
        return self.history.epoch[-1]

    @property
    def steps_done(self) -> int:
        """Columns of the current epoch already trained on (0 between epochs)."""
        return self._position

    def _norms(self, grads: Params) -> Array:
        return np.array([np.linalg.norm(grads[f"W{l}"]) for l in range(1, len(self.sizes))])

    def step(self, batch_size: int, eta: float) -> bool:
        """One mini-batch step of plain SGD, p <- p − η ∂C/∂p; True if it ended an epoch."""
        m = self.data.X_train.shape[1]
        if self._order is None:
            self._order = self._rng.permutation(m)
            self._position = 0
            self._sum_grads = {key: np.zeros_like(value) for key, value in self.params.items()}
            self._sum_norms = np.zeros(len(self.sizes) - 1)
        batch = self._order[self._position : self._position + batch_size]
        X, Y = self.data.X_train[:, batch], self.data.Y_train[:, batch]
        grads = self.source.gradient(X, Y, self.params, self.activations)
        share = batch.size / m
        with _silenced():
            for key, g in grads.items():
                self._sum_grads[key] += share * g
                self.params[key] = self.params[key] - eta * g
            self._sum_norms += share * self._norms(grads)
        self._position += batch.size
        if not all(np.all(np.isfinite(p)) for p in self.params.values()):
            self.diverged = True
        if self._position < m and not self.diverged:
            return False
        self._order = None
        self._position = 0
        self._record(self._sum_grads, self._sum_norms)
        return True

    def train_epochs(self, epochs: int, batch_size: int, eta: float) -> None:
        """Finish ``epochs`` epochs (the first one may already be under way)."""
        for _ in range(epochs):
            while not self.diverged and not self.step(batch_size, eta):
                pass

    def _record(self, grads: Params, norms: Array) -> None:
        data, history = self.data, self.history
        with _silenced():
            for X, Y, labels, loss, accuracy in (
                (data.X_train, data.Y_train, data.labels_train,
                 history.train_loss, history.train_accuracy),
                (data.X_test, data.Y_test, data.labels_test,
                 history.test_loss, history.test_accuracy),
            ):  # fmt: skip
                A_L = forward(X, self.params, self.activations)
                loss.append(float(example_losses(A_L, Y).mean()))
                accuracy.append(float(np.mean(np.argmax(A_L, axis=0) == labels)))
            probe = slice(0, PROBE_SIZE)
            if self.diverged:  # nothing to measure, and a student's code may choke on inf
                deltas = [np.full(n, np.nan) for n in self.sizes[1:]]
            else:
                deltas = self.source.deltas(
                    data.X_train[:, probe], data.Y_train[:, probe], self.params, self.activations
                )
        history.epoch.append(len(history.epoch))
        history.gradient_norms.append(np.asarray(norms, dtype=float).copy())
        history.mean_abs_delta.append(np.array([np.mean(np.abs(d)) for d in deltas]))
        history.gradients.append({key: g.copy() for key, g in grads.items()})
        history.params.append({key: p.copy() for key, p in self.params.items()})


# -- the widget ----------------------------------------------------------------------------

OKABE_ITO = {"blue": "#0072B2", "vermillion": "#D55E00", "green": "#009E73", "pink": "#CC79A7"}
CLASS_STYLE = (  # (marker, colour): orange circles for class 0, purple squares for class 1
    ("o", "#e66101"),
    ("s", "#5e3c99"),
)
LAYER_COLOURS = [colormaps["viridis"](t) for t in np.linspace(0.0, 0.9, MAX_HIDDEN_LAYERS + 1)]

CAPTION = """
<p><b>What you see.</b> Top left: the network's probability of class 1 at every point of the
plane (white is 50 %, the decision boundary), with the training points (filled) and the test
points (hollow). Top right: the cross-entropy of both sets after each epoch. Bottom left: the
size of each layer's weight gradient ‖∂C/∂W<sup>l</sup>‖, averaged over the epoch's steps, on a
log scale. Bottom middle: the mean error |δ<sup>l</sup>| = |∂C/∂z<sup>l</sup>| of each layer on 8
training points, now and at epoch 0. Bottom right: the gradient ∂C/∂w of the weight you pick,
and the weight itself.</p>
<p><b>Try this.</b></p>
<ol>
<li>Moons, 1 hidden layer of 4 tanh units, press play: within about 100 epochs the boundary
bends around the moons and the test accuracy reaches 100 %.</li>
<li>Spirals: 4 units cannot wrap around them, the loss stays near log 2 ≈ 0.69. Give the network
4 hidden layers of 8 ReLU units and η = 0.1: about 90 % after 200 epochs.</li>
<li>Make it 6 hidden layers of <b>sigmoid</b> units and compare layer 1's gradient norm with the
last layer's: several powers of ten apart. Each step back multiplies δ by
(W<sup>l+1</sup>)<sup>T</sup> and by σ'(z) ≤ 1/4, so the error fades on its way to the input:
<b>vanishing gradients</b>. The early layers hardly learn and the loss stays at 0.69. Switch to
tanh or ReLU and the lines come together.</li>
<li>Raise η step by step: up to about 3 training gets faster; towards 10 the loss jumps up instead
of down, because the steps overshoot the valley they should descend.</li>
<li>Batch size 1 against all: 200 small noisy steps per epoch against one exact step. Per epoch,
small batches get much further; the full batch draws the smoothest curves.</li>
<li>Noise 0.4 and 4 layers of 8 units: after a hundred or so epochs the training loss keeps
falling while the test loss levels off, the beginning of overfitting.</li>
</ol>
<p><b>Notice</b> that a picked weight's ∂C/∂w shrinks as training settles, and that in a deep
sigmoid net a weight of layer 1 barely moves.</p>
"""


class NetworkTrainer(LessonWidget):
    """The widget: controls on top, the four plots below, the caption under them.

    ``backprop``: your ``backprop_batch(X, Y, params, activations, loss) -> (grads, cost)``
    from lesson 05, or None for numerical gradients.
    """

    GRID = 60  # decision-boundary resolution per axis
    EXTENT = (-2.0, 2.0, -2.0, 2.0)  # x_min, x_max, y_min, y_max of the picture

    def __init__(
        self,
        backprop: GradientFunction | None = None,
        *,
        dataset: str = "moons",
        noise: float = 0.1,
        hidden_layers: int = 1,
        units: int = 4,
        activation: str = "tanh",
        eta: float = 10**-0.5,  # ≈ 0.32, on the slider's grid of 10^(0.05 k)
        batch_size: int = 16,
        seed: int = 0,
    ) -> None:
        self._source = GradientSource(backprop)
        self.seed = seed
        self._make_controls(dataset, noise, hidden_layers, units, activation, eta, batch_size)
        self.status = widgets.HTML()
        self.caption = widgets.HTML(CAPTION)
        self._fresh: set[Axes] = set()  # axes whose y limits fit the next data afresh
        self._stale: set[str] = set()  # panels to redraw whole at the next frame
        self._build_figure()
        self._fresh.update(self.drawing.scaled)
        self._new_data()
        self._connect()

    # -- controls and layout ---------------------------------------------------------

    def _make_controls(self, dataset, noise, hidden_layers, units, activation, eta, batch_size):
        style = {"description_width": "105px"}
        self.dataset = widgets.Dropdown(
            options=list(TOY_DATASETS), value=dataset, description="data set", style=style
        )
        self.noise = widgets.FloatSlider(
            value=noise, min=0.0, max=0.5, step=0.01, description="noise", style=style
        )
        self.hidden_layers = widgets.IntSlider(
            value=hidden_layers, min=0, max=MAX_HIDDEN_LAYERS, description="hidden layers",
            style=style,
        )  # fmt: skip
        self.units = widgets.IntSlider(
            value=units, min=1, max=MAX_UNITS, description="units per layer", style=style
        )
        self.activation = widgets.Dropdown(
            options=list(HIDDEN_ACTIVATIONS), value=activation, description="activation",
            style=style,
        )  # fmt: skip
        self.eta = widgets.FloatLogSlider(
            value=eta, base=10, min=-3, max=1, step=0.05, description="learning rate η",
            readout_format=".3g", style=style,
        )  # fmt: skip
        self.batch_size = widgets.SelectionSlider(
            options=BATCH_SIZES, value=batch_size, description="batch size", style=style
        )
        self.pick = widgets.Dropdown(description="pick a weight", style=style)
        self.play = widgets.Play(
            value=0, min=0, max=10**7, step=1, interval=150, description="train",
            show_repeat=False, tooltip="train: each tick trains one epoch and redraws",
        )  # fmt: skip
        self.step_button = widgets.Button(description="step", tooltip="train one epoch")
        self.reset_button = widgets.Button(
            description="reset", tooltip="new random weights (next seed), back to epoch 0"
        )
        for control in (self.dataset, self.noise, self.hidden_layers, self.units,
                        self.activation, self.eta, self.batch_size):  # fmt: skip
            control.layout.width = "290px"
        self.pick.layout.width = "480px"  # its labels are long
        for button in (self.step_button, self.reset_button):
            button.layout.width = "70px"

    def _connect(self) -> None:
        for control in (self.dataset, self.noise):
            control.observe(lambda _: self._unless_busy(self._new_data), names="value")
        for control in (self.hidden_layers, self.units, self.activation):
            control.observe(lambda _: self._unless_busy(self.rebuild), names="value")
        for control in (self.eta, self.batch_size):
            control.observe(lambda _: self._unless_busy(self._show_status), names="value")
        self.pick.observe(lambda _: self._unless_busy(self._picked), names="value")
        self.play.observe(self._tick, names="value")
        self.step_button.on_click(lambda _: self._step())
        self.reset_button.on_click(lambda _: self._reset())

    @property
    def widget(self) -> widgets.Widget:
        # three columns of 290 px and the picture (792 px) fit a laptop's notebook
        buttons = widgets.HBox([self.play, self.step_button, self.reset_button])
        columns = widgets.HBox(
            [
                widgets.VBox([self.dataset, self.noise, self.activation]),
                widgets.VBox([self.hidden_layers, self.units, self.batch_size]),
                widgets.VBox([self.eta, buttons]),
            ]
        )
        return widgets.VBox([columns, self.pick, self.status, self.image, self.caption])

    # -- public API ------------------------------------------------------------------------

    @property
    def gradient_source(self) -> str:
        """``"your backprop_batch"`` or ``"numerical"``."""
        return self._source.name

    @property
    def history(self) -> History:
        return self.run.history

    @property
    def activations(self) -> list[str]:
        return self.run.activations

    @property
    def params(self) -> Params:
        return self.run.params

    @property
    def picked_gradient(self) -> Array:
        """∂C/∂w of the picked weight per epoch (epoch-averaged, see :class:`History`)."""
        key, j, k = self.pick.value
        return np.array([grads[key][j, k] for grads in self.history.gradients])

    @property
    def picked_weight(self) -> Array:
        """The picked weight's value at the end of every epoch."""
        key, j, k = self.pick.value
        return np.array([params[key][j, k] for params in self.history.params])

    def train_epochs(self, epochs: int, redraw: bool = True) -> None:
        """Train ``epochs`` whole epochs with the current η and batch size, then redraw."""
        self.run.train_epochs(epochs, self.batch_size.value, self.eta.value)
        if redraw:
            self.redraw()

    def rebuild(self) -> None:
        """A new network for the current controls (same seed), back to epoch 0."""
        sizes = [2] + [self.units.value] * self.hidden_layers.value + [2]
        activations = [self.activation.value] * self.hidden_layers.value + ["identity"]
        self.run = Run(self.data, sizes, activations, self.seed, self._source)
        self._fill_pick()
        self._new_structure()
        self.redraw()

    # -- reacting to the controls -------------------------------------------------------------

    def _new_data(self) -> None:
        self.data = make_data(self.dataset.value, self.noise.value)
        for (train, test), label in zip(self.point_lines, (0, 1), strict=True):
            train.set_data(*self.data.X_train[:, self.data.labels_train == label])
            test.set_data(*self.data.X_test[:, self.data.labels_test == label])
        self.rebuild()

    def _reset(self) -> None:
        self.seed += 1
        self.rebuild()

    def _step(self) -> None:
        self.train_epochs(1)

    def _tick(self, change: dict) -> None:
        """One play tick: an epoch with backprop; ~30 ms of steps with numerical gradients."""
        if self._busy or change["new"] <= change["old"]:
            return  # the play button going back to its start is not a tick
        if self._source.backprop is not None:
            self.train_epochs(1)
            return
        deadline = time.perf_counter() + NUMERICAL_TICK_BUDGET
        while not self.run.diverged:
            ended = self.run.step(self.batch_size.value, self.eta.value)
            if ended or time.perf_counter() > deadline:
                break
        self.redraw()

    def _fill_pick(self) -> None:
        """One option per weight, labelled with its layer and units; keep the pick if it exists."""
        options = []
        for l in range(1, len(self.run.sizes)):
            source = "input" if l == 1 else "unit"
            n, n_prev = self.run.params[f"W{l}"].shape
            for j in range(n):
                for k in range(n_prev):
                    label = f"W{l}[{j}, {k}]  (layer {l}, unit {j} ← {source} {k})"
                    options.append((label, (f"W{l}", j, k)))
        old = self.pick.value
        with self._quietly():
            self.pick.options = options
            values = [value for _, value in options]
            self.pick.value = old if old in values else values[0]

    def _picked(self) -> None:
        self._set_weight_title()
        self.redraw()

    def _show_status(self) -> None:
        run, history = self.run, self.history
        line = (
            f"<b>epoch {run.epoch}</b>"
            + (f" (+ {run.steps_done} of {TRAIN_SIZE} points)" if run.steps_done else "")
            + f" · train loss {history.train_loss[-1]:.3f}, "
            f"accuracy {history.train_accuracy[-1]:.0%} · test loss {history.test_loss[-1]:.3f}, "
            f"accuracy {history.test_accuracy[-1]:.0%} · η = {self.eta.value:.3g}, "
            f"batch size {self.batch_size.label} · weights seed {self.seed}"
        )
        notes = [self._source.message]
        if self._source.backprop is None:
            notes.append(
                "with numerical gradients a play tick trains for about 30 ms, which may be "
                "only part of an epoch"
            )
        if run.diverged:
            notes.insert(
                0,
                f"<b>Diverged</b> at epoch {run.epoch}: the weights overflowed. "
                "η is too large; lower it and press reset",
            )
            self.play.playing = False
        notes = [note[0].upper() + note[1:] for note in notes]
        self.status.value = line + "<br>" + ". ".join(notes) + "."

    # -- drawing -------------------------------------------------------------------------------

    def _build_figure(self) -> None:
        figure = Figure(figsize=(11.0, 5.4), dpi=72, layout="constrained")
        grid = figure.add_gridspec(2, 3, width_ratios=[1.45, 1, 1])
        self.boundary_ax = figure.add_subplot(grid[:, 0])
        self.loss_ax = figure.add_subplot(grid[0, 1])
        self.weight_ax = figure.add_subplot(grid[0, 2])
        self.norm_ax = figure.add_subplot(grid[1, 1])
        self.delta_ax = figure.add_subplot(grid[1, 2])
        self.twin_ax = self.weight_ax.twinx()
        moving = [*self._draw_boundary_panel(figure), *self._draw_loss_panel()]
        moving += [*self._draw_norm_panel(), *self._draw_delta_panel(), *self._draw_weight_panel()]
        self.panels = {
            "loss": (self.loss_ax,),
            "norm": (self.norm_ax,),
            "delta": (self.delta_ax,),
            "weight": (self.weight_ax, self.twin_ax),
        }
        self.drawing = PanelImage(
            figure, moving=moving, panels=self.panels.values(), changing=[self.weight_ax.title]
        )
        self.figure, self.image = figure, self.drawing.image

    def _draw_boundary_panel(self, figure: Figure) -> list:
        ax = self.boundary_ax
        self.probability = ax.imshow(
            np.full((self.GRID, self.GRID), 0.5), extent=self.EXTENT, origin="lower",
            cmap="PuOr", vmin=0.0, vmax=1.0, alpha=0.6, interpolation="bilinear", aspect="equal",
        )  # fmt: skip
        # an inset colour bar: a stolen one upsets the constrained layout of the grid
        figure.colorbar(self.probability, cax=ax.inset_axes((1.04, 0.0, 0.04, 1.0)),
                        label="P(class 1)")  # fmt: skip
        self.point_lines = []
        for label, (marker, colour) in enumerate(CLASS_STYLE):
            (train,) = ax.plot([], [], marker, color=colour, mec="black", mew=0.4, ms=4.5,
                               label=f"class {label}, train")  # fmt: skip
            (test,) = ax.plot([], [], marker, mfc="none", mec=colour, mew=1.1, ms=5,
                              label=f"class {label}, test")  # fmt: skip
            self.point_lines.append((train, test))
        ax.set(xlim=self.EXTENT[:2], ylim=self.EXTENT[2:], xlabel="input x₁", ylabel="input x₂")
        ax.set_title("decision boundary, epoch 0", y=1.0)
        # below the axes: inside, the picture (drawn every frame) would cover it
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize="small",
                  frameon=False, handletextpad=0.2, columnspacing=1.0)  # fmt: skip
        points = [line for pair in self.point_lines for line in pair]
        return [self.probability, *points, ax.title]

    def _draw_loss_panel(self) -> list:
        ax = self.loss_ax
        # a marker on the latest epoch: a curve of one point shows too
        latest = {"marker": "o", "markevery": [-1], "ms": 4}
        (self.train_loss_line,) = ax.plot([], [], color=OKABE_ITO["blue"], label="train", **latest)
        (self.test_loss_line,) = ax.plot(
            [], [], "--", color=OKABE_ITO["vermillion"], label="test", **latest
        )
        ax.set(xlabel="epoch", ylabel="loss C (log scale)")
        ax.set_title("cross-entropy loss", y=1.0)  # a fixed y skips re-placing it per draw
        _log_axis(ax, short_labels=True)
        _epoch_axis(ax)
        ax.legend(loc="upper right", fontsize="small")
        ax.grid(alpha=0.3)
        return [self.train_loss_line, self.test_loss_line]

    def _draw_norm_panel(self) -> list:
        ax = self.norm_ax
        self.norm_lines = [
            ax.plot([], [], color=colour, lw=1.6, label=f"layer {l}")[0]
            for l, colour in enumerate(LAYER_COLOURS, start=1)
        ]
        ax.set(xlabel="epoch", ylabel="‖∂C/∂Wˡ‖ (log scale)")
        ax.set_title("weight-gradient size per layer", y=1.0)
        _log_axis(ax)
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
        self._norm_legend(len(self.norm_lines))
        return self.norm_lines

    def _norm_legend(self, layers: int) -> None:
        # Outside the axes, on the right: the lines are drawn over the axes every frame.
        self.norm_ax.legend(
            handles=self.norm_lines[:layers], loc="upper left", bbox_to_anchor=(1.0, 1.0),
            fontsize="x-small", frameon=False, handlelength=1.2,
        )  # fmt: skip
        self._layers_in_legend = layers

    def _draw_delta_panel(self) -> list:
        ax = self.delta_ax
        (self.delta_start_line,) = ax.plot([], [], "s--", color="0.55", ms=4, label="epoch 0")
        (self.delta_line,) = ax.plot([], [], "o-", color="black", ms=5, label="now")
        ax.set(xlabel="layer l", ylabel="mean |δˡ| (log scale)")
        ax.set_title(f"errors δ on {PROBE_SIZE} training points", y=1.0)
        # every possible layer has its place, so a new depth does not move the axis
        ax.set_xlim(0.5, MAX_HIDDEN_LAYERS + 1.5)
        ax.set_xticks(range(1, MAX_HIDDEN_LAYERS + 2))
        _log_axis(ax)
        ax.legend(loc="lower right", fontsize="x-small")
        ax.grid(alpha=0.3)
        return [self.delta_start_line, self.delta_line]

    def _draw_weight_panel(self) -> list:
        ax, twin = self.weight_ax, self.twin_ax
        ax.axhline(0.0, color="0.6", lw=0.8)
        latest = {"marker": "o", "markevery": [-1], "ms": 4}
        (self.weight_gradient_line,) = ax.plot([], [], color=OKABE_ITO["green"], lw=1.6, **latest)
        (self.weight_value_line,) = twin.plot(
            [], [], ":", color=OKABE_ITO["pink"], lw=1.8, **latest
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel("∂C/∂w (solid)", color=OKABE_ITO["green"])
        twin.set_ylabel("weight w (dotted)", color=OKABE_ITO["pink"])
        for axis in (ax, twin):
            # short tick labels and a common ×10^k above the axis: the frozen layout
            # keeps its room whatever the size of the numbers
            formatter = ScalarFormatter(useMathText=False)  # plain text draws faster
            formatter.set_powerlimits((0, 0))
            axis.yaxis.set_major_formatter(formatter)
            axis.yaxis.set_major_locator(MaxNLocator(5))
        _epoch_axis(ax)
        ax.set_title("picked weight W1[0, 0]", y=1.0, pad=14)  # room for the ×10^k
        return [self.weight_gradient_line, self.weight_value_line]

    # -- redrawing -------------------------------------------------------------------------------

    def _new_structure(self) -> None:
        """After a rebuild: the legend for the new depth, the epoch axis back to its start."""
        layers = len(self.run.sizes) - 1
        for l, line in enumerate(self.norm_lines, start=1):
            line.set_visible(l <= layers)
        if layers != self._layers_in_legend:
            self._norm_legend(layers)
            self._stale.add("norm")
        if self.loss_ax.get_xlim() != EPOCHS_AT_START:
            for panel in ("loss", "norm", "weight"):
                self._start_afresh(panel)
        self._set_weight_title()

    def _start_afresh(self, panel: str) -> None:
        """Epochs from 0 to 10 again, and y limits fitted to the next data."""
        self._stale.add(panel)
        self._fresh.update(self.panels[panel])
        self.panels[panel][0].set_xlim(EPOCHS_AT_START)

    def _set_weight_title(self) -> None:
        key, j, k = self.pick.value
        title = f"picked weight {key}[{j}, {k}]"
        if self.weight_ax.get_title() != title:
            self.weight_ax.set_title(title, y=1.0, pad=14)
            self._stale.add("weight")
            self._fresh.update(self.panels["weight"])

    def _probability_grid(self) -> Array:
        x_min, x_max, y_min, y_max = self.EXTENT
        xs, ys = np.linspace(x_min, x_max, self.GRID), np.linspace(y_min, y_max, self.GRID)
        grid = np.stack([np.tile(xs, self.GRID), np.repeat(ys, self.GRID)])  # (2, GRID²)
        with _silenced():
            logits = forward(grid, self.run.params, self.run.activations)
            # P(class 1) = softmax's second entry = σ(z_1 − z_0), without overflow
            return sigmoid(logits[1] - logits[0]).reshape(self.GRID, self.GRID)

    def redraw(self) -> None:
        """Move every artist to the latest epoch; redraw the panels whose axes changed."""
        history, layers = self.history, len(self.run.sizes) - 1
        epochs = np.array(history.epoch, dtype=float)
        self.probability.set_data(self._probability_grid())
        self.boundary_ax.set_title(f"decision boundary, epoch {self.run.epoch}", y=1.0)
        losses = np.concatenate([history.train_loss, history.test_loss])
        self.train_loss_line.set_data(epochs, history.train_loss)
        self.test_loss_line.set_data(epochs, history.test_loss)
        norms = np.array(history.gradient_norms)  # (epochs, L)
        for l in range(layers):
            self.norm_lines[l].set_data(epochs, norms[:, l])
        deltas = np.concatenate([history.mean_abs_delta[0], history.mean_abs_delta[-1]])
        self.delta_start_line.set_data(np.arange(1, layers + 1), history.mean_abs_delta[0])
        self.delta_line.set_data(np.arange(1, layers + 1), history.mean_abs_delta[-1])
        gradient, weight = self.picked_gradient, self.picked_weight
        self.weight_gradient_line.set_data(epochs, gradient)
        self.weight_value_line.set_data(epochs, weight)
        self._fit_epochs(epochs[-1])
        for ax, values, log in (
            (self.loss_ax, losses, True),
            (self.norm_ax, norms, True),
            (self.delta_ax, deltas, True),
            (self.weight_ax, gradient, False),
            (self.twin_ax, weight, False),
        ):
            if self._fit(ax, values, log):
                self._stale.add(next(k for k, axes in self.panels.items() if ax in axes))
        stale, self._stale = self._stale, set()
        if stale:
            self.drawing.rescale_panels([self.panels[name] for name in stale])
        else:
            self.drawing.show()
        self._show_status()

    def _fit_epochs(self, last: float) -> None:
        low, high = self.loss_ax.get_xlim()
        wider = widen(low, high, 0.0, last)
        if wider is not None:
            for panel in ("loss", "norm", "weight"):
                self.panels[panel][0].set_xlim(wider)
                self._stale.add(panel)

    def _fit(self, ax: Axes, values: Array, log: bool) -> bool:
        """Grow ax's y limits to hold ``values`` (log: in decades); True if they changed."""
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values) & (values > 0) if log else np.isfinite(values)
        values = values[keep]
        if values.size == 0:
            return False
        lo, hi = values.min(), values.max()
        if log:
            lo, hi = np.log10(lo), np.log10(hi)
        if ax in self._fresh:
            self._fresh.discard(ax)
            if log:  # whole decades, so that the axis always shows a labelled tick
                wider = (np.floor(lo), max(np.ceil(hi), np.floor(lo) + 1))
            else:
                span = hi - lo if hi > lo else max(abs(hi), 1e-8)
                wider = (lo - 0.1 * span, hi + 0.1 * span)
        else:
            low, high = ax.get_ylim()
            if log:
                low, high = np.log10(low), np.log10(high)
            wider = _grow(low, high, lo, hi)
            if wider is None:
                return False
        ax.set_ylim(*(10.0 ** np.array(wider) if log else wider))
        return True


class PanelImage(FigureImage):
    """A :class:`FigureImage` that redraws only the scaled panels that changed.

    Redrawing an axes costs 10 to 20 ms here (text is slow to draw), so
    redrawing all four scaled panels whenever one of them grows would break
    the 50 ms budget. ``panels``: groups of scaled axes that share pixels (an
    axes and its twin). Each panel owns a rectangle of the figure, reaching
    halfway to its neighbours, found once the layout is frozen; a panel is
    redrawn by restoring its rectangle from the base layer and drawing it.

    The titles and axis labels of the scaled axes never change (except those
    listed in ``changing``), yet they are half the cost of drawing an axes:
    once the layout is frozen they move to the base layer, as figure texts
    in the same places.
    """

    def __init__(self, figure: Figure, moving: Sequence, panels, changing=()) -> None:
        self.panels = [tuple(panel) for panel in panels]
        super().__init__(figure, moving, [ax for panel in self.panels for ax in panel])
        self._changing = list(changing)
        self._rectangles: dict[tuple[Axes, ...], tuple[int, int, int, int]] | None = None

    def redraw_all(self) -> None:
        super().redraw_all()  # the first call freezes the layout
        if self._rectangles is None:
            self._rectangles = self._find_rectangles()
            for ax in self.scaled:
                _pin_axis_labels(ax)
                self._move_labels_to_base(ax)
            super().redraw_all()  # the base layer again, with the labels in it

    def rescale_panels(self, panels: Sequence[tuple[Axes, ...]]) -> None:
        """Draw ``panels`` again on the layers below, then show."""
        if self._with_scaled is None or self._rectangles is None:  # nothing drawn yet
            self.redraw_all()
            return
        self.canvas.restore_region(self._with_scaled)
        for panel in panels:
            self.canvas.restore_region(self._base, bbox=self._rectangles[panel], xy=(0, 0))
            for ax in panel:
                self.figure.draw_artist(ax)
        self._with_scaled = self.canvas.copy_from_bbox(self.figure.bbox)
        self.show()

    def _move_labels_to_base(self, ax: Axes) -> None:
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            if not text.get_text() or any(text is other for other in self._changing):
                continue
            copy = Text(*text.get_position(), text.get_text())
            copy.update_from(text)  # font, colour, alignment, rotation and transform
            copy.set_rotation_mode(text.get_rotation_mode())
            self.figure.add_artist(copy)
            text.set_visible(False)

    def _find_rectangles(self) -> dict[tuple[Axes, ...], tuple[int, int, int, int]]:
        """Each panel's rectangle in buffer pixels (x0, y0, x1, y1), y from the top."""
        renderer = self.canvas.get_renderer()
        boxes = {panel: _union_box(panel, renderer) for panel in self.panels}
        others = [_union_box((ax,), renderer) for ax in self.figure.axes if ax not in self.scaled]
        width, height = self.figure.bbox.width, self.figure.bbox.height
        rectangles = {}
        for panel, box in boxes.items():
            neighbours = [b for p, b in boxes.items() if p != panel] + others
            x0, y0, x1, y1 = _halfway(box, neighbours, width, height)
            rectangles[panel] = (int(x0), int(height - y1), int(x1), int(height - y0))
        return rectangles


def _pin_axis_labels(ax: Axes) -> None:
    """Keep the axis labels where they are now.

    Matplotlib moves an axis label away from its tick labels when they grow
    wider; after the layout is frozen that would push it out of its panel's
    rectangle (and costs time at every draw).
    """
    to_axes = ax.transAxes.inverted()
    for axis in (ax.xaxis, ax.yaxis):
        label = axis.label
        if label.get_text():
            anchor = label.get_transform().transform(label.get_position())
            axis.set_label_coords(*to_axes.transform(anchor))


def _union_box(axes: Sequence[Axes], renderer) -> tuple[float, float, float, float]:
    boxes = [ax.get_tightbbox(renderer) for ax in axes]
    return (
        min(b.x0 for b in boxes), min(b.y0 for b in boxes),
        max(b.x1 for b in boxes), max(b.y1 for b in boxes),
    )  # fmt: skip


def _halfway(box, neighbours, width: float, height: float) -> tuple[float, ...]:
    """Grow ``box`` halfway towards the nearest neighbour on each side (or to the edge)."""
    x0, y0, x1, y1 = box

    def beside(other, axis: int) -> bool:  # do the boxes overlap along the other axis?
        lo, hi = (1, 3) if axis == 0 else (0, 2)
        return other[lo] < box[hi] and other[hi] > box[lo]

    left = [(o[2] + x0) / 2 for o in neighbours if o[2] <= x0 and beside(o, 0)]
    right = [(x1 + o[0]) / 2 for o in neighbours if o[0] >= x1 and beside(o, 0)]
    below = [(o[3] + y0) / 2 for o in neighbours if o[3] <= y0 and beside(o, 1)]
    above = [(y1 + o[1]) / 2 for o in neighbours if o[1] >= y1 and beside(o, 1)]
    return (
        max(left, default=0.0),
        max(below, default=0.0),
        min(right, default=width),
        min(above, default=height),
    )


def _grow(low: float, high: float, lo: float, hi: float) -> tuple[float, float] | None:
    """New limits when the data leaves [low, high] on either side, or None if it fits.

    Like ``widen``, but only the side that was crossed moves, by half the new
    span: a falling loss on a log axis should not also gain empty decades on top.
    """
    if lo >= low and hi <= high:
        return None
    span = max(high, hi) - min(low, lo)
    return (lo - span / 2 if lo < low else low, hi + span / 2 if hi > high else high)


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position: int = 0) -> str:
    """10⁻³ for 0.001, in plain text: mathtext labels take much longer to draw."""
    if value <= 0:
        return ""
    exponent = np.log10(value)
    if abs(exponent - round(exponent)) > 1e-6:
        return f"{value:.2g}"
    return "10" + str(round(exponent)).translate(SUPERSCRIPTS)


def _log_axis(ax: Axes, short_labels: bool = False) -> None:
    ax.set_yscale("log")
    if short_labels:
        # ticks at 1, 2, 5 × 10^k, labels at most 4 characters wide (the layout is
        # fixed after the first draw); over more than two decades, decades only
        def label(value: float, _position: int) -> str:
            low, high = ax.get_ylim()
            decade = abs(np.log10(value) - round(np.log10(value))) < 1e-6
            if high / low > 100 and not decade:
                return ""
            if 0.01 <= value < 1000:
                return f"{value:.3g}"
            return _power_of_ten(value) if decade else ""

        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=12))
        ax.yaxis.set_major_formatter(FuncFormatter(label))
    else:
        ax.yaxis.set_major_locator(LogLocator(numticks=6))
        ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
    ax.yaxis.set_minor_locator(NullLocator())  # minor ticks cost time at every redraw
    ax.set_ylim(1e-3, 1.0)


def _epoch_axis(ax: Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))  # each label costs ~0.5 ms
    ax.set_xlim(EPOCHS_AT_START)
