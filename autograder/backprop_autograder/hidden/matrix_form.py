"""Hidden checks for lesson 04, the four equations: one function per exercise.

Random networks (depth 1-3, every activation, every loss), one example at a
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


def hidden_error(rng: Rng) -> list[dict]:
    cases = []
    for activation in HIDDEN:
        n_next, n_l, m = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        W, delta, z = columns(rng, n_next, n_l), columns(rng, n_next, m), columns(rng, n_l, m)
        variants = {"missing_sigma_prime": W.T @ delta}
        if n_next == n_l:
            variants["transposed"] = (W @ delta) * fp.DERIVATIVES[activation](z)
        cases.append(call_case(ref.hidden_error, W, delta, z, activation, variants=variants))
    return cases


def bias_gradient(rng: Rng) -> list[dict]:
    return [call_case(ref.bias_gradient, columns(rng, int(rng.integers(1, 6)), 1))]


def weight_gradient(rng: Rng) -> list[dict]:
    cases = []
    for n_l, n_prev in ((int(rng.integers(2, 5)),) * 2, (2, 5)):
        delta, a_prev = columns(rng, n_l, 1), columns(rng, n_prev, 1)
        variants = {"elementwise_for_matmul": delta * a_prev} if n_l == n_prev else {}
        cases.append(call_case(ref.weight_gradient, delta, a_prev, variants=variants))
    return cases


def bp4_shapes(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(3):
        sizes = random_sizes(rng, int(rng.integers(2, 5)), low=1, high=900)
        l = int(rng.integers(1, len(sizes)))
        shapes = ref.bp4_shapes(sizes, l)
        wrong = {**shapes, "dC_dW": shapes["dC_dW"][::-1]}
        cases.append(call_case(ref.bp4_shapes, sizes, l, variants={"transposed": wrong}))
    return cases


def _network(rng: Rng, layers: int) -> tuple:
    activation, loss = OUTPUTS[int(rng.integers(0, len(OUTPUTS)))]
    sizes = random_sizes(rng, layers, low=1, high=4)
    sizes[-1] = max(sizes[-1], 2)
    activations = [str(rng.choice(HIDDEN)) for _ in range(layers - 1)] + [activation]
    return sizes, activations, loss


def backprop(rng: Rng) -> list[dict]:
    cases = []
    for layers in (1, 2, 3):
        sizes, activations, loss = _network(rng, layers)
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
    return [
        call_case(ref.gradient_descent_update, params, grads, eta,
                  variants={"flipped_sign": flipped}),
        call_case(ref.gradient_descent_update, params, only_weights, eta),
    ]  # fmt: skip


def relative_error(rng: Rng) -> list[dict]:
    a = columns(rng, 3, 2)
    return [
        call_case(ref.relative_error, a, a + 1e-6 * columns(rng, 3, 2)),
        call_case(ref.relative_error, a, -a),
        call_case(ref.relative_error, float(rng.normal()), float(rng.normal())),
    ]
