"""Hidden checks for lesson 04, the four equations: one function per exercise.

Random networks (depth 1, 2, 3 and 4, every activation, every loss), one example at a
time; the calls that backprop, dense_backward and gradient_check make to earlier
exercises answered by recorded stand-ins. The gradient check runs on quadratic
costs, whose centred differences are exact up to rounding, with planted wrong
entries that every named mistake reports differently.
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import Encoded, call_case, columns, random_params, random_sizes
from backprop_course.stand_ins import seal_call
from backprop_reference import forward_pass as fp
from backprop_reference import matrix_form as ref

Rng = np.random.Generator
HIDDEN = ["sigmoid", "tanh", "relu"]
OUTPUTS = [("sigmoid", "half_squared_error"), ("tanh", "mean_squared_error"),
           ("identity", "softmax_cross_entropy")]  # fmt: skip
BCE = ("sigmoid", "binary_cross_entropy")


def _targets(rng: Rng, loss: str, n: int, m: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    if loss == "binary_cross_entropy":  # labels 0 and 1, now and then a soft one
        return np.where(rng.random((n, m)) < 0.8, rng.integers(0, 2, (n, m)), 0.5)
    return rng.uniform(0.0, 1.0, (n, m))


def _distinct(rng: Rng, count: int, low: int = 2, high: int = 6) -> list[int]:
    """``count`` different sizes: no two dimensions that a mistake could confuse are equal."""
    return [int(n) for n in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


# -- section 2: checking a gradient -------------------------------------------------------


def relative_error(rng: Rng) -> list[dict]:
    a = columns(rng, 3, 2)
    return [
        call_case(ref.relative_error, a, a + 1e-6 * columns(rng, 3, 2)),
        call_case(ref.relative_error, a, -a),
        call_case(ref.relative_error, float(rng.normal()), float(rng.normal())),
    ]


def _quadratic_cost(
    rng: Rng, shapes: dict[str, tuple[int, ...]], unused: dict[str, list[int]] | None = None
) -> Encoded:
    """C(params) = ½‖M θ + c‖² of all the entries θ, but those ``unused`` lists (key ->
    flat positions in that parameter): the cost ignores them, their gradient is exactly 0."""
    keys = list(shapes)
    sizes = [int(np.prod(shape)) for shape in shapes.values()]
    matrix = rng.normal(0.0, 1.0, (int(rng.integers(4, 7)), sum(sizes)))
    for key, positions in (unused or {}).items():
        start = sum(sizes[: keys.index(key)])
        matrix[:, [start + p for p in positions]] = 0.0
    return Encoded(
        callable="squares_of_linear",
        keys=keys,
        matrix=matrix.tolist(),
        offset=rng.normal(0.0, 1.0, matrix.shape[0]).tolist(),
    )


def _exact_gradients(cost: Encoded, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Mᵀ(M θ + c), cut back into the parameters' shapes."""
    matrix, offset = np.array(cost.spec["matrix"]), np.array(cost.spec["offset"])
    keys = cost.spec["keys"]
    theta = np.concatenate([np.ravel(params[key]) for key in keys])
    flat = matrix.T @ (matrix @ theta + offset)
    found, start = {}, 0
    for key in keys:
        size = params[key].size
        found[key] = flat[start : start + size].reshape(params[key].shape)
        start += size
    return found


def _planted(rng: Rng, exact: np.ndarray) -> np.ndarray:
    """The exact gradient with small slips everywhere and one wrong entry.

    The wrong entry is never in row 0 (a flat index differs from the (row, column)
    one in the first number too), never where the gradient is largest or exactly 0,
    and its error is many times the others'.
    """
    grad = exact * (1.0 + 1e-4 * rng.uniform(-1.0, 1.0, exact.shape))
    largest = np.unravel_index(int(np.argmax(np.abs(exact))), exact.shape)
    choices = [i for i in np.ndindex(exact.shape)
               if i != largest and i[0] > 0 and exact[i] != 0]  # fmt: skip
    index = choices[int(rng.integers(len(choices)))]
    scale = float(np.mean(np.abs(exact)))
    grad[index] = exact[index] + float(rng.choice([-1.0, 1.0])) * rng.uniform(0.5, 1.0) * scale
    return grad


def _variants(cost: Encoded, params: dict, grads: dict, h: float) -> list[tuple[str, object]]:
    """The reports the named mistakes give for this call."""
    keys = list(grads)
    numeric = {key: _numeric(cost, params, key, h) for key in keys}
    found: list[tuple[str, object]] = []
    for how in ("flat", "largest_analytic", "largest_numeric", "no_floor"):
        found.append((_MISTAKE[how], _report(grads, numeric, how)))
    worst = _report(grads, numeric, "worst")
    for how in ("largest_analytic", "largest_numeric"):  # and the largest error with it
        report = _report(grads, numeric, how)
        found.append((_MISTAKE[how], {key: r._replace(worst_error=worst[key].worst_error)
                                      for key, r in report.items()}))  # fmt: skip
    for how in ("one_sided", "not_restored"):
        shifted = {}
        work = {key: np.array(value, dtype=float) for key, value in params.items()}
        for key in keys:
            shifted[key] = _numeric(cost, work, key, h, how, in_place=True)
        found.append((_MISTAKE[how], _report(grads, shifted, "worst")))
    return found


_MISTAKE = {
    "flat": "worst_index_flat",
    "largest_analytic": "worst_index_of_largest_gradient",
    "largest_numeric": "worst_index_of_largest_gradient",
    "no_floor": "entry_error_no_floor",
    "one_sided": "one_sided_difference",
    "not_restored": "perturbation_not_restored",
}


def _numeric(
    cost: Encoded, params: dict, key: str, h: float, how: str = "", in_place: bool = False
) -> np.ndarray:
    work = params if in_place else {k: np.array(v, dtype=float) for k, v in params.items()}
    theta, numeric = work[key], np.zeros(np.shape(params[key]))
    for index in np.ndindex(theta.shape):
        original = theta[index]
        theta[index] = original + h
        up = cost(work)
        theta[index] = original if how == "one_sided" else original - h
        down = cost(work)
        if how != "not_restored":
            theta[index] = original
        numeric[index] = (up - down) / (h if how == "one_sided" else 2 * h)
    return numeric


def _report(grads: dict, numeric: dict, how: str) -> dict:
    found = {}
    for key, g in grads.items():
        n = numeric[key]
        size = np.abs(g) + np.abs(n)
        scale = size if how == "no_floor" else np.maximum(size, max(np.mean(size), 1e-12))
        with np.errstate(all="ignore"):
            errors = np.abs(g - n) / scale
        flat = int(np.argmax(errors))
        worst = tuple(int(i) for i in np.unravel_index(flat, g.shape))
        if how.startswith("largest"):
            largest = np.abs(g if how == "largest_analytic" else n)
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(largest)), g.shape))
        index = flat if how == "flat" else worst
        found[key] = ref.GradientCheck(ref.relative_error(g, n), index, float(errors[worst]))
    return found


def _gradient_check_case(cost: Encoded, params: dict, grads: dict, h: float | None) -> dict:
    args = (cost, params, grads) if h is None else (cost, params, grads, h)
    case = call_case(
        ref.gradient_check,
        *args,
        isolate=["relative_error"],
        variants=_variants(cost, params, grads, 1e-6 if h is None else h),
        what=f"the report of gradient_check on {cost.description}"
        + ("" if h is None else f", h = {h:g}"),
    )
    # The stand-in answers relative_error(g, n) as well as relative_error(g, n, 1e-12).
    recorded = case["isolate"]["relative_error"]["sealed"]
    for key, g in grads.items():
        numeric = _numeric(cost, params, key, 1e-6 if h is None else h)
        recorded.append(seal_call([g, numeric], ref.relative_error(g, numeric)))
    return case


def gradient_check(rng: Rng) -> list[dict]:
    """Three parameter sets, all shapes different; a wrong entry planted in every gradient.

    1. W1, b1, W2 (W's never square), h = 1e-3: every named mistake reports differently.
    2. grads for two of four parameters, the default h (1e-6).
    3. a parameter the cost ignores (its gradient exactly 0), and an entry of b the cost
       ignores, where the analytic gradient says 1e-9: the floor decides the worst entry.
    """
    n0, n1, n2 = _distinct(rng, 3, low=3)
    shapes = {"W1": (n1, n0), "b1": (n1, 1), "W2": (n2, n1)}
    cost = _quadratic_cost(rng, shapes)
    params = {key: rng.normal(0.0, 1.0, shape) for key, shape in shapes.items()}
    grads = {key: _planted(rng, g) for key, g in _exact_gradients(cost, params).items()}
    cases = [_gradient_check_case(cost, params, grads, 1e-3)]

    n0, n1, n2 = _distinct(rng, 3, low=3)
    shapes = {"W1": (n1, n0), "b1": (n1, 1), "W2": (n2, n1), "b2": (n2, 1)}
    cost = _quadratic_cost(rng, shapes)
    params = {key: rng.normal(0.0, 1.0, shape) for key, shape in shapes.items()}
    exact = _exact_gradients(cost, params)
    grads = {key: _planted(rng, exact[key]) for key in ("W2", "b1")}
    cases.append(_gradient_check_case(cost, params, grads, None))

    n0, n1 = _distinct(rng, 2, low=4)
    shapes = {"W": (n1, n0), "b": (n1, 1), "frozen": (n0, 1)}
    ignored = int(rng.integers(1, n1))  # an entry of b the cost ignores (not in row 0)
    cost = _quadratic_cost(rng, shapes, unused={"frozen": list(range(n0)), "b": [ignored]})
    params = {key: rng.normal(0.0, 1.0, shape) for key, shape in shapes.items()}
    exact = _exact_gradients(cost, params)
    grads = {"W": _planted(rng, exact["W"]), "b": _planted(rng, exact["b"])}
    grads["b"][ignored, 0] = 1e-9  # about 0 against an exact 0: no alarm
    grads["frozen"] = np.zeros(shapes["frozen"])
    cases.append(_gradient_check_case(cost, params, grads, 1e-2))
    return cases


# -- sections 3 to 5: the equations ----------------------------------------------------------


def _saturated_bce(rng: Rng) -> dict:
    """A sigmoid output with the binary cross-entropy, two examples, saturated units among
    them: σ(z) rounds to exactly 1 for z > 37, where ∇_a C ⊙ σ'(z) gives nan."""
    n = int(rng.integers(3, 6))
    z = columns(rng, n, 2)
    rows = rng.permutation(n)
    z[rows[0], 0] = rng.uniform(40.0, 60.0)  # a = 1 with a wrong label: δ = 1 - y ≠ 0
    z[rows[1], 1] = -rng.uniform(40.0, 60.0)
    z[rows[2], 1] = rng.uniform(40.0, 60.0)
    y = _targets(rng, "binary_cross_entropy", n, 2)
    y[rows[0], 0] = 0.0
    y[rows[1], 1] = 1.0
    a = fp.sigmoid(z)
    with np.errstate(all="ignore"):
        gradient = ref.binary_cross_entropy_gradient(a, y)
        variants = {
            "bce_uncancelled": gradient * fp.sigmoid_prime(z),
            "bce_sigma_prime_kept": (a - y) * fp.sigmoid_prime(z),
            "missing_sigma_prime": gradient,
        }
    return call_case(ref.output_error, a, y, z, *BCE, variants=variants)


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
    cases.append(_saturated_bce(rng))
    return cases


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


def weight_gradient(rng: Rng) -> list[dict]:
    cases = []
    for n_l, n_prev in ((int(rng.integers(2, 5)),) * 2, tuple(_distinct(rng, 2))):
        delta, a_prev = columns(rng, n_l, 1), columns(rng, n_prev, 1)
        variants = {"elementwise_for_matmul": delta * a_prev} if n_l == n_prev else {}
        cases.append(call_case(ref.weight_gradient, delta, a_prev, variants=variants))
    return cases


# -- section 6: the layers' backward passes -----------------------------------------------


def activation_backward(rng: Rng) -> list[dict]:
    """Every activation, m = 1 and m > 1, ReLU's z on both sides of the kink."""
    cases = []
    for activation, m in zip([*HIDDEN, "identity"], rng.permutation([1, 1, 3, 4]), strict=True):
        n = int(rng.integers(2, 6))
        da, z = columns(rng, n, int(m)), columns(rng, n, int(m), scale=2.0)
        if activation == "relu":  # both signs, in every case
            z[0, 0], z[1, 0] = abs(z[0, 0]) + 0.1, -abs(z[1, 0]) - 0.1
        variants = {
            "missing_sigma_prime": da,
            "sigma_prime_of_a": da * fp.DERIVATIVES[activation](fp.ACTIVATIONS[activation](z)),
        }
        if activation == "identity":
            variants = {}
        cases.append(call_case(ref.activation_backward, da, z, activation, variants=variants))
    return cases


def dense_backward(rng: Rng) -> list[dict]:
    """n_l ≠ n_{l-1} twice (nothing transposed fits), once square for the variants's names;
    weight_gradient's calls answered by recorded stand-ins; every array new."""
    cases = []
    for n_l, n_prev in (tuple(_distinct(rng, 2)), tuple(_distinct(rng, 2)), (3, 3)):
        dz, a_prev, W = columns(rng, n_l, 1), columns(rng, n_prev, 1), columns(rng, n_l, n_prev)
        variants = {}
        if n_l == n_prev:
            variants = [
                ("transposed", (W @ dz, dz @ a_prev.T, dz)),
                ("transposed", (W.T @ dz, a_prev @ dz.T, dz)),
            ]
        case = call_case(
            ref.dense_backward, dz, (a_prev, W), isolate=["weight_gradient"], variants=variants
        )
        cases.append({**case, "fresh": True})
    return cases


# -- section 7: backpropagation -----------------------------------------------------------------


def _networks(rng: Rng) -> list[tuple[list[int], list[str], str]]:
    """Four networks that every backprop mistake can be seen in, under every seed.

    One layer (no BP2 at all), then 3, 3 and 4 layers: an index off by one in
    the backward loop needs a third layer to show. In each network all layer
    sizes differ (no W^l is square, so nothing transposed fits), neighbouring
    layers have different activations and no hidden layer has the output's.
    The deep ones take the three (output, loss) pairs once each, and the
    one-layer network has the softmax cross-entropy, the loss that is not
    symmetric in its arguments. (Lesson 05's batches use these networks too.)
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
    """Lesson 04's four networks, and a two-layer one with a sigmoid output and the binary
    cross-entropy; output_error, dense_backward and activation_backward answered by
    recorded stand-ins."""
    cases = []
    networks = _networks(rng)
    networks.append((_distinct(rng, 3), [str(rng.choice(["tanh", "relu"])), BCE[0]], BCE[1]))
    for sizes, activations, loss in networks:
        x, y = columns(rng, sizes[0], 1), _targets(rng, loss, sizes[-1], 1)
        cases.append(
            call_case(
                ref.backprop,
                x,
                y,
                random_params(rng, sizes),
                activations,
                loss,
                isolate=["output_error", "dense_backward", "activation_backward"],
            )
        )
    return cases


# -- section 9: gradient descent -------------------------------------------------------------


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
