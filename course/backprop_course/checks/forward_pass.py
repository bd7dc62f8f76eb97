"""Visible checks for lesson 01, the forward pass: one function per exercise.

Use them as ``check.sigmoid(sigmoid)`` after ``from backprop_course.checks
import forward_pass as check``. Their oracles are published numbers (Mazur's
worked example), values worked by hand, finite differences and invariants.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from backprop_course.checking import Checks, quiet
from backprop_course.grading import exercise_check
from backprop_course.hints import asker
from backprop_course.stand_ins import answers, answers_table
from backprop_course.structures import LayerCache

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]

# Mazur, "A Step by Step Backpropagation Example": the 2-2-2 network and the
# values he publishes for its forward pass.
MAZUR_X = np.array([[0.05], [0.10]])
MAZUR_Y = np.array([[0.01], [0.99]])
MAZUR_W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
MAZUR_B1 = np.array([[0.35], [0.35]])
MAZUR_W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
MAZUR_B2 = np.array([[0.60], [0.60]])
MAZUR_NET_H = np.array([[0.3775], [0.3925]])
MAZUR_OUT_H = np.array([[0.593269992], [0.596884378]])
MAZUR_OUT_O = np.array([[0.75136507], [0.772928465]])
MAZUR_E_TOTAL = 0.298371109
PUBLISHED = {"rtol": 1e-8, "atol": 1e-8}  # his figures carry 9 to 10 digits

RNG_SEED = 2024


def logistic(z: np.ndarray) -> np.ndarray:
    # An identity, not the exercise's formula: 1/(1 + e^-z) = (1 + tanh(z/2)) / 2.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _centred(f: Callable[[np.ndarray], np.ndarray], z: np.ndarray, h: float = 1e-5):
    return (f(z + h) - f(z - h)) / (2 * h)


@exercise_check(
    hints=(
        "σ acts entry by entry: an (n, m) array of pre-activations goes in and an array of the "
        "same shape comes out, each entry 1/(1 + e^{-z}). Ask yourself which entries make e^{-z} "
        "too large for a float64, and what σ should be there (section 3.1).",
        "At z = -1000, e^{-z} overflows to inf and 1/(1 + inf) = 0 is the correct limit: the value "
        "is right and only the RuntimeWarning is noise. What the check rejects is nan, which comes "
        "from inf/inf (e^{z}/(1 + e^{z}) at a large positive z, say), so use that second form only "
        "where z < 0, and compute into a new array rather than changing z.",
        "The plain formula 1 / (1 + np.exp(-z)) already gives 0 and 1 at the far ends; to silence "
        "its harmless warning, evaluate the exponential in a with block that opens the context "
        'np.errstate(over="ignore"). Try your function on np.array([[-1000.0, 0.0, 1000.0]]): '
        "you should see 0, 0.5 and 1.",
    )
)
def sigmoid(fn: Function) -> None:
    """sigma(z) = 1 / (1 + e^{-z}), elementwise, safe for large |z|."""
    checks = Checks("sigmoid")
    checks.expect(checks.call(fn, np.zeros((2, 3))), np.full((2, 3), 0.5), what="sigmoid(0)")
    checks.expect(
        checks.call(fn, MAZUR_NET_H), MAZUR_OUT_H, what="sigmoid(Mazur's net_h)", **PUBLISHED
    )
    z = np.random.default_rng(RNG_SEED).normal(0, 3, (4, 5))
    checks.expect(checks.call(fn, z), logistic(z), what="sigmoid(z) for z of shape (4, 5)")
    extreme = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    checks.expect(
        checks.call(fn, extreme),
        logistic(extreme),
        what="sigmoid at z = -1000, -50, 0, 50, 1000 (must be finite: 0 and 1 at the ends)",
    )
    checks.done()


@exercise_check(
    hints=(
        "The argument is the pre-activation z, not σ(z), and the result has z's shape. Finish the "
        "derivation of section 3.2 on paper first: split e^{-z}/(1 + e^{-z})^2 into two factors, "
        "each a simple function of σ(z).",
        "One factor is 1/(1 + e^{-z}) = σ(z); the other, e^{-z}/(1 + e^{-z}), equals 1 - σ(z). "
        "Writing z (1 - z) is the classic slip: it would be right only if its argument were "
        "already σ(z). In a scratch cell, σ'(0) must come out as 0.25.",
        "Call your sigmoid once, keep its result s, and combine s with 1 - s. That product is also "
        "what stays finite at z = ±1000 (it gives 0 there), whereas e^{-z}/(1 + e^{-z})^2 computed "
        "directly turns into inf/inf = nan at z = -1000.",
    )
)
def sigmoid_prime(fn: Function) -> None:
    """sigma'(z) = sigma(z) (1 - sigma(z)), evaluated at the pre-activation z."""
    checks = Checks("sigmoid_prime")
    z = np.random.default_rng(RNG_SEED).normal(0, 2, (3, 4))
    with quiet():
        numeric = _centred(logistic, z)
    # Your sigmoid_prime may call your sigmoid: a correct one stands in for it
    # here, so a mistake in sigmoid is not counted twice.
    with checks.isolating(fn, {"sigmoid": lambda own: logistic}):
        checks.expect(
            checks.call(fn, z),
            numeric,
            what="σ'(z) against centred differences of σ, z of shape (3, 4)",
            variants={"sigma_prime_of_a": z * (1 - z)},
            rtol=1e-7,
        )
        checks.expect(checks.call(fn, np.zeros((1, 1))), np.full((1, 1), 0.25), what="σ'(0)")
        checks.expect(
            checks.call(fn, np.array([[-1000.0, 1000.0]])),
            np.zeros((1, 2)),
            what="σ'(±1000) (must be finite: the curve is flat there)",
        )
    checks.done()


@exercise_check(
    hints=(
        "The result is a float array of z's shape holding the slope of max(0, z) at every entry: "
        "1.0 where z > 0 and 0.0 everywhere else, the kink z = 0 included (the course's "
        "convention). Which comparison picks exactly the entries that get 1.0?",
        "The strict comparison z > 0 gives a boolean array that is True at just the right places "
        "(False at 0, True at 1e-9); .astype(float) turns it into 0.0 and 1.0. With >= the kink "
        "would get 1, which is not the course's choice.",
    )
)
def relu_prime(fn: Function) -> None:
    """relu'(z) = 1 where z > 0, else 0 (0 at the kink z = 0, by the course's convention)."""
    checks = Checks("relu_prime")
    z = np.array([[-2.0, -0.5, 0.0], [0.5, 3.0, 1e-9]])
    checks.expect(
        checks.call(fn, z),
        np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
        what="relu'(z) (the course takes relu'(0) = 0)",
    )
    checks.done()


@exercise_check(
    hints=(
        "Each column of the (k, m) input is one example, so each column is exponentiated and "
        "divided by its own sum: the result is (k, m) again and every column sums to 1. Which axis "
        "runs down a column, and what becomes of e^{1000} (section 3.5)?",
        "Subtract each column's maximum before exponentiating: it cancels in the ratio, keeps "
        "every exponent at most 0 and makes columns of ±1000 safe. The maximum and the sum are "
        "both taken per column, over axis 0; write z - c into a new array instead of changing z in "
        "place.",
        "With keepdims=True a per-column reduction stays a (1, m) row that broadcasts against the "
        "(k, m) array, for example np.max(z, axis=0, keepdims=True); the sum of the exponentials "
        "needs the same two arguments. Summing over axis=1 or over the whole array normalises the "
        "wrong thing.",
    )
)
def softmax(fn: Function) -> None:
    """softmax of each column (axis 0): positive, sums to 1, safe for large z."""
    checks = Checks("softmax")
    z = np.log(np.array([[1.0, 1.0], [2.0, 1.0], [3.0, 2.0]]))
    expected = np.array([[1 / 6, 1 / 4], [2 / 6, 1 / 4], [3 / 6, 2 / 4]])
    ez = np.exp(z)
    checks.expect(
        checks.call(fn, z),
        expected,
        what="softmax(log [[1, 1], [2, 1], [3, 2]]) (each column is one example)",
        variants=[
            ("softmax_wrong_axis", ez / ez.sum(axis=1, keepdims=True)),
            ("softmax_wrong_axis", ez / ez.sum()),
        ],
    )
    big = np.array([[1000.0, -1000.0], [1000.0, -1000.0]])
    checks.expect(
        checks.call(fn, big),
        np.full((2, 2), 0.5),
        what="softmax of columns [1000, 1000] and [-1000, -1000]",
        variants={"unstable_softmax": np.array([[np.nan, np.nan], [np.nan, np.nan]])},
    )
    z = np.random.default_rng(RNG_SEED).normal(0, 5, (4, 3))
    shifted = checks.call(fn, z + np.array([[7.0, -3.0, 100.0]]))
    checks.expect(
        shifted,
        checks.call(fn, z),
        what="softmax(z + c) with a constant c per column (must equal softmax(z))",
    )
    checks.done()


@exercise_check(
    hints=(
        "z^l = W^l a^{l-1} + b^l for the whole batch at once: W is (n_l, n_{l-1}), a_prev is "
        "(n_{l-1}, m) with one example per column, b is (n_l, 1), and z must come out (n_l, m). "
        "Which product of W and a_prev has matching inner dimensions?",
        "It is a matrix product with W first, W @ a_prev: the elementwise * broadcasts silently "
        "into a wrong answer, and W.T belongs nowhere here. The (n_l, 1) bias then broadcasts "
        "across the m columns by itself, so no loop over the examples is needed.",
        "Return a pair: z, and the cache as the tuple (a_prev, W), the layer's input and then its "
        "weights, with neither b nor z in it. For the check's layer of 3 units on a batch of 3 "
        "examples, print z.shape: it should be (3, 3).",
    )
)
def dense_forward(fn: Function) -> None:
    """z = W a_prev + b, returning (z, cache) with cache = (a_prev, W)."""
    checks = Checks("dense_forward")
    z, cache = _pair(checks, checks.call(fn, MAZUR_W1, MAZUR_B1, MAZUR_X), "dense_forward")
    checks.expect(
        z,
        MAZUR_NET_H,
        what="z for Mazur's hidden layer (net_h1, net_h2)",
        variants={
            "transposed": MAZUR_W1.T @ MAZUR_X + MAZUR_B1,
            "elementwise_for_matmul": MAZUR_W1 * MAZUR_X + MAZUR_B1,
        },
        **PUBLISHED,
    )
    # A layer with 3 units, 2 inputs and a batch of 3 columns, worked by hand.
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    b = np.array([[1.0], [0.0], [-1.0]])
    a_prev = np.array([[1.0, -1.0, 0.0], [2.0, 0.0, 1.0]])
    z, cache = _pair(checks, checks.call(fn, W, b, a_prev), "dense_forward")
    checks.expect(
        z,
        np.array([[6.0, 0.0, 3.0], [11.0, -3.0, 4.0], [16.0, -6.0, 5.0]]),
        what="z for W (3, 2), b (3, 1), a_prev (2, 3)",
    )
    checks.expect(
        cache,
        (a_prev, W),
        what="cache (a_prev, W)",
        variants=[
            ("a_l_for_a_prev", (z, W)),
            ("wrong_dense_cache", (a_prev, W, b)),
            ("wrong_dense_cache", (W, a_prev)),
            ("wrong_dense_cache", (a_prev, W, z)),
        ],
    )
    checks.done()


@exercise_check(
    hints=(
        "C is one number for the whole batch. For each example, a column of a and y (both (n_L, "
        "m)), add up ½ (a_j - y_j)^2 over its n_L output units; then average those m per-example "
        "losses (section 7). Which axis do you sum over, and which do you average over?",
        "Sum over the units (axis 0), then take the mean over the examples: divide by m once and "
        "only by m. Dividing by n_L as well gives the mean squared error, a different loss, and "
        "leaving 1/m out gives the batch's total; with Mazur's single example you must get "
        "E_total = 0.298371109.",
        "Equivalently: ½ times the sum of all the squared differences, divided by m = a.shape[1]. "
        "Wrap the result in float(...) so that a Python float comes back, not a NumPy scalar.",
    )
)
def half_squared_error(fn: Function) -> None:
    """C = mean over the columns of sum_j 1/2 (a_j - y_j)^2."""
    checks = Checks("half_squared_error")
    checks.expect(
        checks.call(fn, MAZUR_OUT_O, MAZUR_Y),
        MAZUR_E_TOTAL,
        what="Mazur's E_total",
        variants={"mean_over_units": MAZUR_E_TOTAL / 2},
        rtol=1e-7,
    )
    a = np.array([[1.0, 0.0, 2.0], [3.0, 1.0, 2.0]])
    y = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    # Per column: 1/2 (1 + 4) = 2.5, 0, 1/2 (4 + 4) = 4; their mean is 6.5 / 3.
    checks.expect(
        checks.call(fn, a, y),
        6.5 / 3,
        what="the cost of a batch of 3 columns",
        variants={"missing_1_over_m": 6.5, "mean_over_units": 6.5 / 6},
    )
    checks.done()


# The widths on which init_params' spread is measured: no two alike, so that fan-in,
# fan-out and their mean give different variances in both layers.
SPREAD_SIZES = [100, 200, 50]


def _variances(scheme: str, n_prev: int, n_l: int) -> tuple[str, float]:
    """The variance a scheme gives W^l's entries, spelled and as a number."""
    return {
        "lecun": (f"1/n_{{l-1}} = 1/{n_prev}", 1.0 / n_prev),
        "glorot": (f"2/(n_{{l-1}} + n_l) = 2/{n_prev + n_l}", 2.0 / (n_prev + n_l)),
        "he": (f"2/n_{{l-1}} = 2/{n_prev}", 2.0 / n_prev),
    }[scheme]


def _spread_mistake(scheme: str, n_prev: int, n_l: int, std: float) -> str | None:
    """The known mistake a measured standard deviation matches, if any."""
    _, variance = _variances(scheme, n_prev, n_l)
    fan_out = {"lecun": 1.0 / n_l, "glorot": variance, "he": 2.0 / n_l}[scheme]
    for key, want in (("variance_for_std", variance), ("fan_out_for_fan_in", np.sqrt(fan_out))):
        if want != np.sqrt(variance) and abs(std - want) < 0.05 * want:
            return key
    return None


@exercise_check(
    hints=(
        "For each layer l = 1, ..., L, with n_l = sizes[l] and n_{l-1} = sizes[l - 1], you need "
        'W^l of shape (n_l, n_{l-1}) and a zero column b^l of shape (n_l, 1), under the keys "W1", '
        '"b1", and so on. Which variance v does the chosen scheme give W^l\'s entries, and which '
        "widths does it divide by (section 5)?",
        "Make one generator from the seed, before the loop, and draw every weight from it. In N(0, "
        "v) the v is a variance, so standard-normal samples are scaled by √v, not by v. LeCun's v "
        "is 1/n_{l-1}, Glorot's 2/(n_{l-1} + n_l), He's 2/n_{l-1}: the fan-in is sizes[l - 1], not "
        "sizes[l].",
        "Useful pieces: np.random.default_rng(seed), called once; rng.standard_normal(shape) "
        "times np.sqrt(v), with shape (n_l, n_{l-1}); np.zeros((n_l, 1)) for a bias, never "
        "np.zeros(n_l), which broadcasts into (n, n). Give every array the requested dtype "
        "(.astype(dtype), or the dtype argument of np.zeros) so that np.float32 works too.",
    )
)
def init_params(fn: Function, sizes: Sequence[int] = (3, 5, 2)) -> None:
    """W^l (n_l, n_{l-1}) random with the scheme's spread, b^l (n_l, 1) zeros, seeded."""
    checks = Checks("init_params")
    sizes = list(sizes)
    params = checks.call(fn, sizes, 0)
    keys = sorted(f"{p}{l}" for l in range(1, len(sizes)) for p in "Wb")
    checks.require(
        isinstance(params, dict) and sorted(params) == keys,
        f"init_params({sizes}) should return a dict with keys {', '.join(keys)}, "
        f"got {sorted(params) if isinstance(params, dict) else type(params).__name__}.",
    )
    for l in range(1, len(sizes)):
        n_l, n_prev = sizes[l], sizes[l - 1]
        W, b = params[f"W{l}"], params[f"b{l}"]
        checks.require(
            np.shape(W) == (n_l, n_prev),
            f"W{l} should have shape (n_{l}, n_{l - 1}) = {(n_l, n_prev)}, has {np.shape(W)}.",
            "transposed" if np.shape(W) == (n_prev, n_l) else None,
        )
        checks.require(
            np.shape(b) == (n_l, 1),
            f"b{l} should be a column of shape (n_{l}, 1) = {(n_l, 1)}, has {np.shape(b)}.",
            "broadcast_n_n" if np.shape(b) == (n_l,) else None,
        )
        checks.require(not np.any(b), f"b{l} should start at zero.")
    again = checks.call(fn, sizes, 0)
    checks.require(
        all(np.array_equal(params[k], again[k]) for k in params),
        "init_params with the same seed should give the same parameters: "
        "make the generator from the seed, np.random.default_rng(seed).",
    )
    other = checks.call(fn, sizes, 1)
    checks.require(
        not np.array_equal(params["W1"], other["W1"]) or params["W1"].size == 1,
        "init_params with seeds 0 and 1 gave the same W1: use the seed.",
    )
    for scheme in ("lecun", "glorot", "he"):
        spread = checks.call(fn, SPREAD_SIZES, 0, scheme)
        for l in (1, 2):
            n_prev, n_l = SPREAD_SIZES[l - 1], SPREAD_SIZES[l]
            W = np.asarray(spread[f"W{l}"], dtype=float)
            spelled, variance = _variances(scheme, n_prev, n_l)
            want, got = np.sqrt(variance), float(np.std(W))
            checks.require(
                abs(got - want) < 0.05 * want and abs(float(np.mean(W))) < 0.05 * want,
                f'init_params({SPREAD_SIZES}, 0, "{scheme}"): W{l} should be drawn from '
                f"N(0, {spelled}), standard deviation {want:.4f}; its entries have mean "
                f"{np.mean(W):.4f} and standard deviation {got:.4f}.",
                _spread_mistake(scheme, n_prev, n_l, got),
            )
    small = checks.call(fn, [2, 3], 0, "glorot", np.float32)
    checks.require(
        small["W1"].dtype == np.float32 and small["b1"].dtype == np.float32,
        f"init_params(..., dtype=np.float32) should give float32 arrays, "
        f"got {small['W1'].dtype} and {small['b1'].dtype}.",
    )
    checks.done()


# Worked examples for the layer checks: Mazur's layers (his published values)
# and a small layer worked by hand.
MAZUR_NET_O = np.array([[1.105905967], [1.224921404]])
HAND_W = np.array([[1.0, -1.0], [2.0, 0.0]])
HAND_B = np.array([[0.0], [-5.0]])
HAND_X = np.array([[1.0, 3.0], [2.0, 1.0]])
HAND_Z = np.array([[-1.0, 2.0], [-3.0, 1.0]])  # W x + b
HAND_RELU = np.array([[0.0, 2.0], [0.0, 1.0]])


def _layer_stand_ins() -> dict[str, Callable[[object], object]]:
    """Correct answers for the calls layer_forward makes on the worked examples."""
    return {
        "dense_forward": answers(
            "dense_forward",
            [
                ([MAZUR_W1, MAZUR_B1, MAZUR_X], (MAZUR_NET_H, (MAZUR_X, MAZUR_W1))),
                ([HAND_W, HAND_B, HAND_X], (HAND_Z, (HAND_X, HAND_W))),
            ],
        ),
        "ACTIVATIONS": answers_table(
            "ACTIVATIONS",
            {
                "sigmoid": [([MAZUR_NET_H], MAZUR_OUT_H)],
                "relu": [([HAND_Z], HAND_RELU)],
                "identity": [([HAND_Z], HAND_Z)],
            },
        ),
    }


@exercise_check(
    hints=(
        "A full layer is two steps: the dense step z = W a_prev + b, then the activation a = σ(z), "
        "with σ looked up by its name in the ACTIVATIONS table. The cache keeps what the backward "
        "passes of both steps need, plus a and the name.",
        "Get z from your dense_forward (its own cache is not needed here), look the activation "
        "function up as ACTIVATIONS[activation] and apply it to z. The cache is LayerCache(a_prev, "
        "W, z, a, activation), in exactly that order: a_prev is the layer's input a^{l-1}, not its "
        "output a^l.",
        "Return the pair (a, cache). Call dense_forward and the ACTIVATIONS table by those names: "
        "while the check runs, correct stand-ins take their places, so a slip in exercise 5 does "
        "not cost this one. On the check's layer of 3 units, cache.a_prev.shape should be the "
        "input's (2, 3), not the output's (3, 3).",
    )
)
def layer_forward(fn: Function) -> None:
    """a = sigma(W a_prev + b), returning (a, LayerCache(a_prev, W, z, a, activation))."""
    checks = Checks("layer_forward")
    with checks.isolating(fn, _layer_stand_ins()):
        result = checks.call(fn, MAZUR_W1, MAZUR_B1, MAZUR_X, "sigmoid")
        a, cache = _pair(checks, result, "layer_forward")
        checks.expect(a, MAZUR_OUT_H, what="a for Mazur's hidden layer", **PUBLISHED)
        expected_cache = LayerCache(MAZUR_X, MAZUR_W1, MAZUR_NET_H, MAZUR_OUT_H, "sigmoid")
        checks.expect(
            cache,
            expected_cache,
            what="cache",
            variants={"a_l_for_a_prev": expected_cache._replace(a_prev=MAZUR_OUT_H)},
            **PUBLISHED,
        )
        for activation, a_expected in (("relu", HAND_RELU), ("identity", HAND_Z)):
            result = checks.call(fn, HAND_W, HAND_B, HAND_X, activation)
            a, _ = _pair(checks, result, "layer_forward")
            checks.expect(a, a_expected, what=f'a with activation "{activation}"')
    _layer_on_a_batch(checks, fn)
    checks.done()


# A one-layer network worked by hand: z = [[1, -2]] x + 0.5.
ONE_W, ONE_B = np.array([[1.0, -2.0]]), np.array([[0.5]])
ONE_Z = np.array([[-2.5, 1.5]])


def _forward_caches() -> tuple[LayerCache, LayerCache, LayerCache]:
    """The caches of Mazur's two layers and of the one-layer network."""
    return (
        LayerCache(MAZUR_X, MAZUR_W1, MAZUR_NET_H, MAZUR_OUT_H, "sigmoid"),
        LayerCache(MAZUR_OUT_H, MAZUR_W2, MAZUR_NET_O, MAZUR_OUT_O, "sigmoid"),
        LayerCache(HAND_X, ONE_W, ONE_Z, ONE_Z, "identity"),
    )


def _forward_stand_ins() -> dict[str, Callable[[object], object]]:
    """Correct answers for the calls forward makes (sealed: made here, kept by no one else)."""
    layer_1, layer_2, one_layer = _forward_caches()
    calls = [
        ([MAZUR_W1, MAZUR_B1, MAZUR_X, "sigmoid"], (MAZUR_OUT_H, layer_1)),
        ([MAZUR_W2, MAZUR_B2, MAZUR_OUT_H, "sigmoid"], (MAZUR_OUT_O, layer_2)),
        ([ONE_W, ONE_B, HAND_X, "identity"], (ONE_Z, one_layer)),
    ]
    return {"layer_forward": answers("layer_forward", calls)}


@exercise_check(
    hints=(
        "Start from a^0 = x and apply the layers one after another: layer l reads a^{l-1}, the "
        "output of layer l - 1, and produces a^l with its own W^l, b^l and activation. L is the "
        "number of activation names. What do you keep from each layer, and in which order?",
        'Loop over l = 1, ..., L and call your layer_forward with params["W<l>"], params["b<l>"], '
        "the layer's input a^{l-1} and the l-th name, activations[l - 1]; its output a^l becomes "
        "the input of the next layer. Append each cache to a list so that caches[l - 1] is layer "
        "l's, and return (a^L, caches).",
        'Build the keys with f-strings such as f"W{l}"; enumerate(activations, start=1) hands you '
        "l and the name together. Keep one variable a for the layer input, starting at x, and "
        "overwrite it with each layer's output; a network of a single layer (L = 1) must work too.",
    )
)
def forward(fn: Function) -> None:
    """The L-layer forward pass: (a_L, caches), one cache per layer."""
    checks = Checks("forward")
    params = {"W1": MAZUR_W1, "b1": MAZUR_B1, "W2": MAZUR_W2, "b2": MAZUR_B2}
    # The expected values are made after each call: while it runs, only the
    # stand-in holds them, sealed.
    with checks.isolating(fn, _forward_stand_ins()):
        result = checks.call(fn, MAZUR_X, params, ["sigmoid", "sigmoid"])
        a_L, caches = _pair(checks, result, "forward")
        checks.expect(
            a_L, MAZUR_OUT_O, what="a^2 = (out_o1, out_o2) of Mazur's network", **PUBLISHED
        )
        layer_1, layer_2, _ = _forward_caches()
        checks.expect(
            caches,
            [layer_1, layer_2],
            what="caches",
            variants={"a_l_for_a_prev": [layer_1._replace(a_prev=MAZUR_OUT_H), layer_2]},
            **PUBLISHED,
        )
        result = checks.call(fn, HAND_X, {"W1": ONE_W, "b1": ONE_B}, ["identity"])
        a_L, caches = _pair(checks, result, "forward")
        checks.expect(a_L, ONE_Z, what="a^1 of a one-layer network (L = 1)")
        checks.expect(caches, [_forward_caches()[2]], what="caches of the one-layer network")
    _batch_by_columns(checks, fn)
    checks.done()


# A batch of m = 3 examples through a 2-3-2 network, relu then identity, worked by hand.
BATCH_X = np.array([[1.0, -1.0, 2.0], [0.0, 2.0, 1.0]])
BATCH_PARAMS = {
    "W1": np.array([[1.0, 2.0], [-1.0, 1.0], [2.0, -3.0]]),
    "b1": np.array([[0.0], [1.0], [-1.0]]),
    "W2": np.array([[1.0, -1.0, 2.0], [0.0, 2.0, -1.0]]),
    "b2": np.array([[1.0], [-2.0]]),
}
BATCH_Z1 = np.array([[1.0, 3.0, 4.0], [0.0, 4.0, 0.0], [1.0, -9.0, 0.0]])  # W1 x + b1
BATCH_A1 = np.array([[1.0, 3.0, 4.0], [0.0, 4.0, 0.0], [1.0, 0.0, 0.0]])  # relu(z1)
BATCH_Z2 = np.array([[4.0, 0.0, 5.0], [-3.0, 6.0, -2.0]])  # W2 a1 + b2 = a2 (identity)
BATCH_ACTIVATIONS = ["relu", "identity"]


def _layer_on_a_batch(checks: Checks, fn: Function) -> None:
    """Layer 1 of the batch network below: not square (3 units, 2 inputs), 3 examples."""
    W, b = BATCH_PARAMS["W1"], BATCH_PARAMS["b1"]
    stand_ins = {
        "dense_forward": answers("dense_forward", [([W, b, BATCH_X], (BATCH_Z1, (BATCH_X, W)))]),
        "ACTIVATIONS": answers_table(
            "ACTIVATIONS",
            {"relu": [([BATCH_Z1], BATCH_A1)], "identity": [([BATCH_Z1], BATCH_Z1)]},
        ),
    }
    with checks.isolating(fn, stand_ins):
        for activation, a_expected in (("relu", BATCH_A1), ("identity", BATCH_Z1)):
            result = checks.call(fn, W, b, BATCH_X, activation)
            _, cache = _pair(checks, result, "layer_forward")
            expected = LayerCache(BATCH_X, W, BATCH_Z1, a_expected, activation)
            checks.expect(
                cache,
                expected,
                what=f'the cache of a layer with W (3, 2) and activation "{activation}" '
                "on a batch of 3 columns",
                variants={"a_l_for_a_prev": expected._replace(a_prev=a_expected)},
            )


def _batch_caches(examples: slice | list[int]) -> list[LayerCache]:
    """The two layers' caches for some columns (examples) of the hand-worked batch."""
    x, z1, a1, z2 = (M[:, examples] for M in (BATCH_X, BATCH_Z1, BATCH_A1, BATCH_Z2))
    W1, W2 = BATCH_PARAMS["W1"], BATCH_PARAMS["W2"]
    return [LayerCache(x, W1, z1, a1, "relu"), LayerCache(a1, W2, z2, z2, "identity")]


def _batch_stand_ins() -> dict[str, Callable[[object], object]]:
    """Correct answers for the layer calls of forward on the batch and on each example alone."""
    calls = []
    for examples in (slice(None), [0], [1], [2]):
        for l, cache in enumerate(_batch_caches(examples), start=1):
            args = [BATCH_PARAMS[f"W{l}"], BATCH_PARAMS[f"b{l}"], cache.a_prev, cache.activation]
            calls.append((args, (cache.a, cache)))
    return {"layer_forward": answers("layer_forward", calls)}


def _batch_by_columns(checks: Checks, fn: Function) -> None:
    """Columns are examples: forward on a batch gives, column by column, what each
    example gives alone."""
    with checks.isolating(fn, _batch_stand_ins()):
        result = checks.call(fn, BATCH_X, BATCH_PARAMS, BATCH_ACTIVATIONS)
        a_L, caches = _pair(checks, result, "forward")
        network = "a 2-3-2 network (relu, then identity)"
        checks.expect(a_L, BATCH_Z2, what=f"a^2 of {network} on a batch of 3 columns")
        checks.expect(caches, _batch_caches(slice(None)), what="caches of that batch")
        for i in range(BATCH_X.shape[1]):
            result = checks.call(fn, BATCH_X[:, [i]], BATCH_PARAMS, BATCH_ACTIVATIONS)
            alone, _ = _pair(checks, result, "forward")
            checks.expect(
                alone,
                BATCH_Z2[:, [i]],
                what=f"a^2 of example {i} alone (column {i} of x), which should be "
                f"column {i} of the batch's a^2",
            )


def _pair(checks: Checks, result: object, name: str) -> tuple:
    checks.require(
        isinstance(result, tuple) and len(result) == 2,
        f"{name} should return a pair (output, cache), got {type(result).__name__}.",
    )
    return result  # type: ignore[return-value]


@exercise_check(
    hints=(
        "Count one layer at a time: W^l has shape (n_l, n_{l-1}) and b^l has shape (n_l, 1), so "
        "how many numbers do they hold together? Then add the layers l = 1, ..., L up, with sizes "
        "= [n_0, ..., n_L].",
        "Layer l holds n_l n_{l-1} weights and n_l biases, n_l (n_{l-1} + 1) in all; loop over l "
        "from 1 to len(sizes) - 1 with sizes[l] and sizes[l - 1]. Leaving the biases out is the "
        "usual slip: Mazur's [2, 2, 2] network holds 12 numbers, not 8.",
    )
)
def parameter_count(fn: Function) -> None:
    """Every weight and every bias, all layers together."""
    checks = Checks("parameter_count")
    # (sizes, the count worked by hand, the count without the biases)
    for sizes, expected, weights_only in (
        # Mazur's 2-2-2 network: 4 + 2 in layer 1, 4 + 2 in layer 2.
        ([2, 2, 2], 12, 8),
        # 784 * 30 + 30 = 23550 and 30 * 10 + 10 = 310.
        ([784, 30, 10], 23860, 23820),
        # Deeper, all widths different: 200704 + 256, 32768 + 128, 8192 + 64, 640 + 10.
        ([784, 256, 128, 64, 10], 242762, 242304),
        # One layer: 5 * 3 + 5.
        ([3, 5], 20, 15),
    ):
        checks.expect(
            checks.call(fn, sizes),
            expected,
            what=f"parameter_count({sizes})",
            variants={"missing_biases": weights_only},
        )
    checks.done()
