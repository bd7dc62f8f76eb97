"""Hidden checks for lesson 04, the four equations: one function per exercise.

Random networks (depth 1, 3 and 4, every activation, every loss), one example at a
time; backprop's calls of BP1-BP4 answered by recorded stand-ins.
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import call_case, columns, random_params, random_sizes
from backprop_reference import forward_pass as fp
from backprop_reference import matrix_form as ref

Rng = np.random.Generator
HIDDEN = ["sigmoid", "tanh", "relu"]
OUTPUTS = [("sigmoid", "half_squared_error"), ("tanh", "mean_squared_error"),
           ("identity", "softmax_cross_entropy")]  # fmt: skip


def _targets(rng: Rng, loss: str, n: int, m: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    return rng.uniform(0.0, 1.0, (n, m))


def output_error(rng: Rng) -> list[dict]:
    cases = []
    for activation, loss in OUTPUTS:
        n, m = int(rng.integers(2, 5)), int(rng.choice([1, 3]))
        z = columns(rng, n, m)
        a, y = fp.ACTIVATIONS[activation](z), _targets(rng, loss, n, m)
        gradient = fp.LOSSES[loss].gradient(a, y)
        variants = {"sigma_prime_of_a": gradient * fp.DERIVATIVES[activation](a)}
        if activation != "identity":
            variants["missing_sigma_prime"] = gradient
        cases.append(call_case(ref.output_error, a, y, z, activation, loss, variants=variants))
    return cases


def _distinct(rng: Rng, count: int, low: int = 2, high: int = 6) -> list[int]:
    """``count`` different sizes: no two dimensions that a mistake could confuse are equal."""
    return [int(n) for n in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def hidden_error(rng: Rng) -> list[dict]:
    """Every activation; W^{l+1} never square; m = 1 and m > 1; one square case for the variants."""
    cases = []
    shapes = [(*_distinct(rng, 2), 1), (*_distinct(rng, 2), int(rng.integers(2, 5))), (3, 3, 2)]
    for activation, (n_next, n_l, m) in zip(HIDDEN, shapes, strict=True):
        W, delta, z = columns(rng, n_next, n_l), columns(rng, n_next, m), columns(rng, n_l, m)
        variants = {"missing_sigma_prime": W.T @ delta}
        if n_next == n_l:
            variants["transposed"] = (W @ delta) * fp.DERIVATIVES[activation](z)
        cases.append(call_case(ref.hidden_error, W, delta, z, activation, variants=variants))
    return cases


def bias_gradient(rng: Rng) -> list[dict]:
    """A new (n_l, 1) column (never delta itself), for n_l >= 2 and n_l = 1."""
    return [
        {**call_case(ref.bias_gradient, columns(rng, n, 1)), "fresh": True}
        for n in (int(rng.integers(2, 6)), 1)
    ]


def weight_gradient(rng: Rng) -> list[dict]:
    cases = []
    for n_l, n_prev in ((int(rng.integers(2, 5)),) * 2, tuple(_distinct(rng, 2))):
        delta, a_prev = columns(rng, n_l, 1), columns(rng, n_prev, 1)
        variants = {"elementwise_for_matmul": delta * a_prev} if n_l == n_prev else {}
        cases.append(call_case(ref.weight_gradient, delta, a_prev, variants=variants))
    return cases


def bp4_shapes(rng: Rng) -> list[dict]:
    """Layer sizes all different, and l the first, the last and a middle layer."""
    cases = []
    layers = int(rng.integers(3, 6))
    sizes = [int(n) for n in rng.choice(np.arange(1, 900), size=layers + 1, replace=False)]
    for l in (1, layers, int(rng.integers(2, layers))):
        shapes = ref.bp4_shapes(sizes, l)
        wrong = {**shapes, "dC_dW": shapes["dC_dW"][::-1]}
        cases.append(call_case(ref.bp4_shapes, sizes, l, variants={"transposed": wrong}))
    return cases


def _networks(rng: Rng) -> list[tuple[list[int], list[str], str]]:
    """Four networks that every backprop mistake can be seen in, under every seed.

    One layer (no BP2 at all), then 3, 3 and 4 layers: an index off by one in
    the backward loop needs a third layer to show. In each network all layer
    sizes differ (no W^l is square, so nothing transposed fits), neighbouring
    layers have different activations and no hidden layer has the output's.
    The deep ones take the three (output, loss) pairs once each, and the
    one-layer network has the softmax cross-entropy, the loss that is not
    symmetric in its arguments.
    """
    outputs = [OUTPUTS[i] for i in rng.permutation(len(OUTPUTS))]
    found = [(_distinct(rng, 2), ["identity"], "softmax_cross_entropy")]
    for layers, (activation, loss) in zip((3, 3, 4), outputs, strict=True):
        others = [h for h in HIDDEN if h != activation]  # no hidden layer has the output's σ
        first, second = (str(h) for h in rng.permutation(others)[:2])
        hidden = [first, second, first][: layers - 1]  # neighbours always differ
        found.append((_distinct(rng, layers + 1), [*hidden, activation], loss))
    return found


def backprop(rng: Rng) -> list[dict]:
    cases = []
    for sizes, activations, loss in _networks(rng):
        x, y = columns(rng, sizes[0], 1), _targets(rng, loss, sizes[-1], 1)
        cases.append(
            call_case(
                ref.backprop,
                x,
                y,
                random_params(rng, sizes),
                activations,
                loss,
                isolate=["output_error", "hidden_error", "weight_gradient", "bias_gradient"],
            )
        )
    return cases


def gradient_descent_update(rng: Rng) -> list[dict]:
    params = random_params(rng, random_sizes(rng, 2))
    grads = {key: rng.normal(size=value.shape) for key, value in params.items()}
    eta = float(rng.uniform(0.01, 1.0))
    flipped = {key: params[key] + eta * grads[key] for key in params}
    only_weights = {key: g for key, g in grads.items() if key.startswith("W")}
    return [  # new arrays, never the given ones, even for a parameter without a gradient
        {**call_case(ref.gradient_descent_update, params, grads, eta,
                     variants={"flipped_sign": flipped}), "fresh": True},
        {**call_case(ref.gradient_descent_update, params, only_weights, eta), "fresh": True},
    ]  # fmt: skip


def relative_error(rng: Rng) -> list[dict]:
    a = columns(rng, 3, 2)
    return [
        call_case(ref.relative_error, a, a + 1e-6 * columns(rng, 3, 2)),
        call_case(ref.relative_error, a, -a),
        call_case(ref.relative_error, float(rng.normal()), float(rng.normal())),
    ]
