"""How an answer is compared with what it should be, and how a failure is told.

Both kinds of checks use this module: the visible checks students run (their
expected values come from worked examples, finite differences and invariants)
and the hidden checks of the graded version (their expected values are
recorded when the assignment is built). Neither needs the reference answers.

A failed comparison raises :class:`CheckFailed` with a message that says what
was expected and what came: shapes, the worst element and its index, and the
name of the likely mistake when the answer matches a known wrong variant.
A passing check prints one short line on stdout and nothing on stderr.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import numpy as np

from backprop_course.isolation import isolated

# Tolerances: generous enough for every correct way of computing a value in
# float64, tight enough that a real mistake never passes.
Variants = Mapping[str, Any] | Iterable[tuple[str, Any]]

RTOL = 1e-6
ATOL = 1e-9

# The mistakes a check can name: a short title and what to look at.
MISTAKES: dict[str, str] = {
    "transposed": "transposed: the result is what a transposed matrix gives (W^T a where "
    "W a belongs), or the right answer turned on its side. Check each product's order "
    "and where a .T belongs.",
    "missing_sigma_prime": "missing σ'(z) factor: the chain rule through an activation "
    "multiplies by its derivative.",
    "missing_activation": "the activation left out: the step's output is the activation of "
    "its pre-activation, tanh(z); z = W_hh h_prev + W_xh x + b_h alone is only the first half.",
    "sigma_prime_of_a": "σ' applied to a instead of z: σ'(z) = σ(z)(1 − σ(z)) takes the "
    "pre-activation z; writing z(1 − z) treats z as if it were already σ(z).",
    "missing_1_over_m": "missing 1/m: the cost of a batch is the MEAN over its m examples "
    "(their sum divided by m), and so are its gradients.",
    "doubled_1_over_m": "1/m applied twice: divide by m once, where the examples are summed.",
    "bias_wrong_axis": "bias summed over the wrong axis: sum over the examples (axis=1, "
    "keepdims=True) to get an (n_l, 1) column.",
    "elementwise_for_matmul": "* where @ belongs: W a is a matrix product (W @ a); * "
    "multiplies element by element and broadcasts.",
    "flipped_sign": "flipped sign: the answer is the negative of the right one. Gradient "
    "descent steps against the gradient: w − η ∂C/∂w.",
    "a_l_for_a_prev": "a^l used where a^{l-1} belongs: a layer's input is the previous "
    "layer's activation, not its own output.",
    "bce_uncancelled": "∇_a C ⊙ σ'(z) left uncancelled: with a sigmoid output and the binary "
    "cross-entropy the product equals a − y on paper, but where the output saturates "
    "(a rounds to 1 or 0) it computes 0/0 or ∞ · 0 and gives nan. Cancel σ' on paper and "
    "write the simplified δ^L.",
    "bce_sigma_prime_kept": "σ'(z) kept with the binary cross-entropy: (a − y) ⊙ σ'(z) is "
    "δ^L of the half squared error. The cross-entropy's ∂C/∂a has a factor a(1 − a) in its "
    "denominator, and σ'(z) = a(1 − a) cancels it.",
    "worst_index_flat": "a flat index: np.argmax returns a position in the flattened array; "
    "np.unravel_index(i, shape) turns it into an index with one entry per axis, such as "
    "(row, column).",
    "worst_index_of_largest_gradient": "the index of the largest gradient, not of the largest "
    "disagreement: the worst entry is where the entry errors |g_i − n_i| / max(|g_i| + |n_i|, "
    "mean) are largest, wherever the gradients themselves are large.",
    "entry_error_no_floor": "no floor under the entry errors: where both gradients are about "
    "0, |g_i − n_i| / (|g_i| + |n_i|) divides rounding by rounding and reports up to 1 for "
    "two gradients that agree. Divide by at least the mean of |g_j| + |n_j| over the array.",
    "perturbation_not_restored": "a perturbation not put back: after the two evaluations for "
    "an entry, restore its original value, or every later difference is taken at a shifted "
    "point (and the caller's parameters may end changed).",
    "broadcast_n_n": "(n,) vs (n, 1): a 1-D array met an (n, 1) column and numpy broadcast "
    "them into an (n, n) matrix. Keep columns 2-D: b.reshape(-1, 1).",
    "wrong_dense_cache": "the cache is not (a_prev, W): dense_forward keeps exactly what "
    "the backward pass of z = W a_prev + b needs, its input a^{l-1} and its weights W^l, "
    "in that order. It needs no b, and z is the activation's business (layer_forward "
    "keeps it).",
    "variance_for_std": "the variance used as the standard deviation: rng.standard_normal "
    "draws N(0, 1), and N(0, v) is that times √v, not times v.",
    "fan_out_for_fan_in": "fan-out where fan-in belongs: W^l's entries are summed over the "
    "n_{l-1} inputs of each unit, so LeCun's and He's variances divide by n_{l-1} "
    "(sizes[l - 1]), not by n_l.",
    "missing_biases": "the biases are missing: besides its n_l × n_{l-1} weights, layer l "
    "has n_l biases, one per unit.",
    "uncheckable_result": "not plain data: the function returned something other than "
    "numbers, numpy arrays of numbers, lists, tuples or dicts of them, so it cannot be "
    "compared. Return the values the exercise asks for.",
    "mutated_input": "input changed in place: the function modified an array it was given. "
    "Compute into a new array (z - c, not z -= c).",
    "aliased_result": "returned an input itself, not a new array: the caller's array and "
    "the result are then one array, and changing one changes the other. Return a copy "
    "(np.array(x, copy=True) or x.copy()) where the exercise promises a new array.",
    "same_shuffle": "the same order every epoch: each epoch should draw a new permutation "
    "from ONE generator made once, before the epochs (np.random.default_rng(seed)); a "
    "generator made anew each epoch repeats the first permutation.",
    "one_sided_difference": "one-sided difference: (f(x + h) − f(x)) / h has an error of "
    "order h; the centred (f(x + h) − f(x − h)) / 2h has order h².",
    "overwritten_gradient": "gradient overwritten instead of accumulated: a node used twice "
    "(like x in x * x) receives a contribution along each path; add them with +=.",
    "backward_not_additive": "backward does not add its gradients to grad: backward(root) "
    "ADDS d root/d v to every v.grad, so gradients already there stay, and a second call "
    "adds the same again, exactly doubling every gradient. Passing node.grad on to the "
    "parents passes on what earlier calls left there too: collect this call's gradients in "
    "a dict of your own (keyed by id(node)) and add them to the grads at the end.",
    "unstable_softmax": "overflow: exp of a large number is inf. Subtract each column's "
    "maximum before exp; it cancels in the ratio.",
    "softmax_wrong_axis": "normalised over the wrong axis: each COLUMN is one example, "
    "so sum over axis=0 (with keepdims=True).",
    "swapped_partials": "local derivatives swapped: d(xy)/dx is y and d(xy)/dy is x, "
    "in the order of the operands.",
    "missing_power_factor": "missing the factor c of the power rule: d/dx x^c = c x^(c − 1).",
    "missing_diagonal": "the diagonal part is missing: the quotient rule gives each ∂s_i/∂z_i "
    "a term that the entries off the diagonal do not have; −s sᵀ alone leaves it out.",
    "probabilities_not_logits": "the gradient with respect to the probabilities, not the "
    "logits: −y/s is ∂C/∂s, one step short of ∂C/∂z. Push it back through softmax (its VJP) "
    "and simplify.",
    "softmax_left_out": "softmax left out: the logits z were used where the probabilities "
    "s = softmax(z) belong.",
    "extra_1_over_m": "divided by m: each column is one example's own gradient. The 1/m of "
    "the batch mean comes later, where the examples' contributions are summed.",
    "divided_by_s": "a division by the probabilities: a probability can underflow to exactly "
    "0 (a class whose logit is hundreds below the largest), and then y/s is inf or 0/0 = nan. "
    "Simplify your derivation until no division by s is left.",
    "swapped_sizes": "n_out and n_in swapped: the sizes come in the order of W's shape "
    "(n_out, n_in), so a 784 → 256 layer is count_multiply_adds(256, 784).",
    "missing_momentum": "the velocity is not carried from step to step: v ← μ v − η g keeps "
    "a fraction μ of the previous step.",
    "decay_on_biases": "weight decay applied to the biases too: the penalty (λ/2N) Σ_l ‖W^l‖² "
    "holds the weights only, so it adds (λ/N) W^l to the weights' gradients and nothing to "
    "the biases'.",
    "decay_missing_1_over_n": "missing 1/N in the penalty's gradient: (λ/2N) ‖W‖² has the "
    "gradient (λ/N) W, N being the size of the training set (the columns of X), not λ W.",
    "decay_doubled_1_over_n": "1/N applied twice in the penalty's gradient: the gradient of "
    "(λ/2N) ‖W‖² is (λ/N) W, not (λ/N²) W.",
    "decay_over_batch_size": "the penalty's gradient divided by the batch size: the penalty "
    "(λ/2N) Σ_l ‖W^l‖² belongs to the cost of the whole training set, so every step adds "
    "(λ/N) W with N the number of training examples, whatever the size of its batch.",
    "mean_over_units": "averaged over the output units too: sum the half squared errors "
    "of a column's units, then average over the columns (examples).",
    # lesson 06, backpropagation through time
    "not_accumulated_over_time": "= where += belongs: W_xh, W_hh and b_h (and the output "
    "layer's W_hy, b_y) are used at every time step, so their gradient is the SUM over the "
    "steps of each use's gradient. Start from zeros and add each step's contribution.",
    "h_for_h_prev": "h_t used where h_{t-1} belongs: W_hh multiplies the state the step "
    "started from, z_t = W_hh h_{t-1} + ..., so ∂C/∂W_hh collects δ_t h_{t-1}ᵀ (cache.h_prev), "
    "not δ_t h_tᵀ.",
    "missing_dh_next": "the gradient from step t + 1 is missing: h_t feeds the output at t "
    "AND the next state h_{t+1}, so ∂C/∂h_t is the sum of both paths, W_hyᵀ dy_t + "
    "(what step t + 1 sends back as its dh_prev).",
    "tanh_prime_of_h": "tanh' applied to h: tanh'(z) = 1 − tanh(z)², and tanh(z) is the "
    "state h itself, so the factor is 1 − h². Writing 1 − tanh(h)² applies tanh twice.",
    "elementwise_clip": "each entry clipped on its own: np.clip(g, −c, c) changes the "
    "direction of the step. Clipping by the global norm scales ALL gradients by one factor, "
    "max_norm / ‖g‖, where ‖g‖ is the norm of all their entries together.",
    "per_array_clip": "each array clipped by its own norm: the global norm is "
    "sqrt(Σ over all arrays of Σ g²), one number for the whole set of gradients, and one "
    "scale factor for all of them, so the step keeps its direction.",
    "clip_without_sqrt": "the squared norm used as the norm: the global norm is ‖g‖ = "
    "sqrt(Σ g²), the square root of the sum of every squared entry of every array.",
    "clip_scales_up": "small gradients scaled up: clipping only ever shrinks. At or below "
    "max_norm the gradients stay as they are (the scale is max_norm / max(‖g‖, max_norm)).",
    "time_batch_swapped": "time and batch axes swapped: a sequence batch is X of shape "
    "(T, n_x, m), time FIRST, and X[t] is step t's batch with the examples as columns. "
    "The batch size m is X.shape[2] (not X.shape[0], which is T), and the states stack "
    "along axis 0: np.stack(states) has shape (T, n_h, m).",
    "state_not_carried": "the state not carried between chunks: truncated BPTT cuts the "
    "GRADIENT at a chunk boundary, not the forward pass. Each chunk starts from the state "
    "the previous chunk ended in (bptt's third result), not from h0.",
    "state_not_carried_forward": "every step started from h0: each step's h_prev is the "
    "state the previous step computed (h_1 from h0, h_2 from h_1, ...).",
    "averaged_over_time": "averaged over time: the cost is the SUM over the T steps of each "
    "step's loss (each the mean over the batch), so neither the cost nor its gradients are "
    "divided by T.",
    "chunk_off_by_one": "chunks off by one: truncated BPTT takes the steps start .. start + k "
    "- 1, that is X[start : start + k] (and Y alike), for start = 0, k, 2k, ...; the chunks "
    "neither overlap nor leave a step out, and only the last may be shorter.",
}


class CheckFailed(AssertionError):
    """A check found a wrong answer; the message says what and where.

    ``what`` names the failed check without any expected value (it may be
    shown for hidden checks); ``mistake`` is the key of the recognised
    mistake in :data:`MISTAKES`, if any.
    """

    def __init__(self, message: str, what: str | None = None, mistake: str | None = None):
        super().__init__(message)
        self.what = what or message.splitlines()[0]
        self.mistake = mistake

    def _render_traceback_(self) -> list[str]:
        """What IPython (and so nbgrader's Validate) shows: the message, not the checks' code.

        The checks' own lines say nothing about the student's mistake and bury
        the message under forty lines. When the student's function raised, its
        traceback stays: it points at the failing line of their code.
        """
        lines = []
        cause, shell = self.__cause__, _ipython()
        if cause is not None and shell is not None:
            lines = shell.InteractiveTB.structured_traceback(
                type(cause), cause, cause.__traceback__
            )
            lines.append("\nThe check then failed:")
        return [*lines, f"\x1b[0;31mCheckFailed\x1b[0m: {self}"]


def _ipython() -> Any:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def mistake_line(key: str) -> str:
    """The 'Likely mistake' line for a key of :data:`MISTAKES`."""
    return f"Likely mistake: {MISTAKES[key]}"


def passed(name: str, count: int) -> None:
    """The one short line printed when every check of ``name`` passed."""
    print(f"✔ {name}: " + ("the check passed." if count == 1 else f"all {count} checks passed."))


# -- calling the student's function ---------------------------------------------


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and stderr: a harmless warning must never cost points
    (nbgrader gives 0 to a test cell that writes to stderr)."""
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


def call(
    function: Callable[..., Any], *args: Any, may_change_inputs: bool = False, **kwargs: Any
) -> Any:
    """Call a student's function; turn an exception or an input change into a message."""
    __tracebackhide__ = True
    name = getattr(function, "__name__", "the function")
    before = None if may_change_inputs else copy.deepcopy((args, kwargs))
    shown = describe_call(args, kwargs)
    changed = ""
    try:
        with quiet():
            result = function(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(
            # Two short lines: they fit nbgrader's Validate dialog without scrolling.
            f"{name} is not written yet.\n"
            "Replace `raise NotImplementedError()` with your code, run its cell, then this check.",
            what=f"{name} is not written yet",
        ) from None
    except CheckFailed:
        raise
    except Exception as err:
        raise CheckFailed(f"{name}{shown} raised {type(err).__name__}: {err}") from err
    finally:  # the arguments are often the checks' own data: later checks need them intact
        if before is not None:
            changed = changed_argument(args, kwargs, *before)
            if changed:
                put_back((args, kwargs), before)
    if changed:
        raise CheckFailed(
            f"{name}{shown} changed {changed} in place.\n" + mistake_line("mutated_input"),
            what=f"{name}{shown} changed {changed} in place",
            mistake="mutated_input",
        )
    return result


def changed_argument(args: tuple, kwargs: dict, old_args: tuple, old_kwargs: dict) -> str:
    """Which argument a call changed ("" if none), e.g. "argument 1['W1']"."""
    for number, (now, then) in enumerate(zip(args, old_args, strict=True), start=1):
        where = first_difference(now, then)
        if where is not None:
            return f"argument {number}{where}"
    for key, then in old_kwargs.items():
        where = first_difference(kwargs[key], then)
        if where is not None:
            return f"argument {key}{where}"
    return ""


def put_back(now: Any, then: Any) -> None:
    """Undo, in place, what a call changed in a nested structure of arrays (as
    :func:`first_difference` sees them; other objects are left as they are)."""
    if isinstance(now, np.ndarray) and isinstance(then, np.ndarray):
        with contextlib.suppress(ValueError, AttributeError):  # a read-only or odd view
            now.shape = then.shape
            np.copyto(now, then, casting="unsafe")
    elif isinstance(now, dict) and isinstance(then, dict):
        for key in [key for key in now if key not in then]:
            del now[key]
        for key, value in then.items():
            _put_back_item(now, key, value)
    elif isinstance(now, list) and isinstance(then, list):
        del now[len(then) :]
        now.extend(then[len(now) :])
        for index, value in enumerate(then):
            _put_back_item(now, index, value)
    elif isinstance(now, tuple) and isinstance(then, tuple):
        for item, value in zip(now, then, strict=True):
            put_back(item, value)


def _put_back_item(container: dict | list, key: Any, value: Any) -> None:
    """One item restored in place (other names may hold it too), else replaced."""
    if isinstance(container, list) or key in container:
        put_back(container[key], value)
        if first_difference(container[key], value) is None:
            return
    container[key] = value


def describe_call(args: tuple, kwargs: Mapping[str, Any] | None = None) -> str:
    """'(array of shape (2, 3), 0.5)': the arguments as shapes, for messages."""
    parts = [describe(a) for a in args]
    parts += [f"{key}={describe(value)}" for key, value in (kwargs or {}).items()]
    return "(" + ", ".join(parts) + ")"


def describe(value: Any) -> str:
    """A value as messages show it: arrays by shape, functions by what they compute.

    Never a default repr: an address (``<function <lambda> at 0x7f…>``) means
    nothing to a student and differs in every build.
    """
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) and len(value) > 4:
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, type):
        return value.__name__
    if callable(value):
        return describe_function(value)
    text = repr(value)
    return f"an object of type {type(value).__name__}" if " at 0x" in text else text


def describe_function(function: Callable[..., Any]) -> str:
    """What a function computes, if it was made with :func:`described` ("f(x) = x³"), else
    its name ("sigmoid_prime", "math.sin"), or "a function" when it has none (a lambda)."""
    description = getattr(function, "description", None)
    if isinstance(description, str):
        return description
    name = getattr(function, "__name__", None)
    if not isinstance(name, str) or not name or name.startswith("<"):  # "<lambda>"
        return "a function"
    return f"math.{name}" if getattr(function, "__module__", None) == "math" else name


FunctionT = TypeVar("FunctionT", bound=Callable[..., Any])


def described(function: FunctionT, description: str, name: str = "f") -> FunctionT:
    """``function`` (a lambda, say), shown in messages as ``description`` ("f(x) = x³").

    Its name becomes ``name`` too, so Python's own errors about it read
    "f() takes 1 positional argument", not "<lambda>() takes...".
    """
    function.__name__ = function.__qualname__ = name
    function.description = description
    return function


def first_difference(now: Any, then: Any, where: str = "") -> str | None:
    """Where a nested structure of arrays changed at all ("" for itself), or None.

    Only arrays, numbers, strings and containers of them are compared; other
    objects (such as graph nodes) are taken as unchanged.
    """
    if isinstance(now, np.ndarray) or isinstance(then, np.ndarray):
        same = np.shape(now) == np.shape(then) and np.array_equal(now, then, equal_nan=True)
        return None if same else where
    if isinstance(now, dict) and isinstance(then, dict):
        for key in then:
            found = first_difference(now.get(key), then[key], f"{where}[{key!r}]")
            if found is not None:
                return found
        return None if now.keys() == then.keys() else where
    if isinstance(now, (list, tuple)) and isinstance(then, (list, tuple)):
        if len(now) != len(then):
            return where
        for i, (x, y) in enumerate(zip(now, then, strict=True)):
            found = first_difference(x, y, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(then, (int, float, str, type(None))):
        return None if now == then else where
    return None


# -- comparing a result with what it should be ------------------------------------


def compare(
    got: Any,
    expected: Any,
    *,
    what: str,
    variants: Variants | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
) -> None:
    """Raise :class:`CheckFailed` unless ``got`` equals ``expected`` within tolerance.

    ``expected`` may be a number, an array, a string, or tuples, lists and
    dicts of them. ``variants`` maps a key of :data:`MISTAKES` to the value a
    student with that mistake would get (a dict, or (key, value) pairs when a
    mistake has several forms); a match is named in the message.
    """
    __tracebackhide__ = True
    problem = difference(got, expected, what, rtol, atol)
    if problem is None:
        return
    diagnosis = diagnose(got, expected, variants or {}, rtol, atol)
    raise CheckFailed(
        problem + (f"\n{mistake_line(diagnosis)}" if diagnosis else ""),
        what=f"{what} is not right",
        mistake=diagnosis,
    )


def diagnose(got: Any, expected: Any, variants: Variants, rtol: float, atol: float) -> str | None:
    """The key of the known mistake ``got`` matches, if any."""
    pairs = list(variants.items() if isinstance(variants, Mapping) else variants)
    candidates = pairs + list(generic_variants(expected).items())
    for key, value in candidates:
        if value is not None and difference(got, value, "", rtol, atol) is None:
            return key
    return shape_mistake(got, expected)


def generic_variants(expected: Any) -> dict[str, Any]:
    """Wrong answers that follow from the right one alone: sign and transpose."""
    if isinstance(expected, np.ndarray) and expected.size and np.any(expected):
        found = {"flipped_sign": -expected}
        if expected.ndim == 2 and expected.shape[0] != expected.shape[1]:
            found["transposed"] = expected.T
        return found
    if isinstance(expected, float) and expected != 0:
        return {"flipped_sign": -expected}
    return {}


def shape_mistake(got: Any, expected: Any) -> str | None:
    """Name a mistake from the shapes alone (only for arrays)."""
    if not isinstance(expected, np.ndarray) or not hasattr(got, "shape"):
        return None
    want, have = expected.shape, np.shape(got)
    if have == want:
        return None
    if len(want) == 2 and have == want[::-1]:
        return "transposed"
    if len(want) == 2 and want[1] == 1 and (have == (want[0],) or have == (want[0], want[0])):
        return "broadcast_n_n"
    if len(want) == 3 and len(have) == 3 and sorted(have) == sorted(want) and have[0] != want[0]:
        return "time_batch_swapped"  # (T, n, m) stacked with time elsewhere than first (lesson 06)
    return None


def difference(got: Any, expected: Any, what: str, rtol: float, atol: float) -> str | None:
    """A message saying how ``got`` differs from ``expected``, or None if it does not."""
    if got is None and expected is not None:
        return f"{what} is None: does the function end with `return ...`?"
    if isinstance(expected, np.ndarray):
        return array_difference(got, expected, what, rtol, atol)
    if isinstance(expected, (tuple, list)):
        return sequence_difference(got, expected, what, rtol, atol)
    if isinstance(expected, dict):
        return dict_difference(got, expected, what, rtol, atol)
    if isinstance(expected, str):
        return None if got == expected else f"{what} should be {expected!r} but is {describe(got)}."
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        return scalar_difference(got, float(expected), what, rtol, atol)
    return None if got == expected else f"{what} should be {expected!r} but is {describe(got)}."


def scalar_difference(got: Any, expected: float, what: str, rtol: float, atol: float):
    if isinstance(got, np.ndarray) and got.size == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float, np.number)):
        return f"{what} should be a number ({expected:.10g}) but is {describe(got)}."
    if np.isclose(float(got), expected, rtol=rtol, atol=atol) or (
        np.isnan(expected) and np.isnan(got)
    ):
        return None
    return f"{what} should be {expected:.10g} but is {float(got):.10g}."


def sequence_difference(got: Any, expected: Any, what: str, rtol: float, atol: float):
    kind = "tuple" if isinstance(expected, tuple) else "list"
    if not isinstance(got, (tuple, list)):
        return f"{what} should be a {kind} of {len(expected)} items but is {describe(got)}."
    if len(got) != len(expected):
        return f"{what} should hold {len(expected)} items but holds {len(got)}."
    names = getattr(expected, "_fields", None)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        part = f"{what}.{names[i]}" if names else f"{what}[{i}]"
        problem = difference(g, e, part, rtol, atol)
        if problem:
            return problem
    return None


def dict_difference(got: Any, expected: dict, what: str, rtol: float, atol: float):
    if not isinstance(got, Mapping):
        return f"{what} should be a dict with keys {sorted(expected)} but is {describe(got)}."
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        return (
            f"{what} should have the keys {sorted(expected)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
        )
    for key, e in expected.items():
        problem = difference(got[key], e, f"{what}[{key!r}]", rtol, atol)
        if problem:
            return problem
    return None


def array_difference(got: Any, expected: np.ndarray, what: str, rtol: float, atol: float):
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"{what} should be an array of shape {expected.shape} but is {describe(got)}."
    if got_array.shape != expected.shape:
        return f"{what} should have shape {expected.shape} but has shape {got_array.shape}."
    bad = ~np.isfinite(got_array) & np.isfinite(expected)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return (
            f"{what} (shape {expected.shape}) holds {got_array[index]} at index {index} "
            f"where {expected[index]:.10g} belongs ({int(bad.sum())} entries are not finite)."
        )
    with np.errstate(all="ignore"):
        excess = np.abs(got_array - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(np.isnan(excess), 0.0, excess)
    if not (excess > 0).any():
        return None
    index = np.unravel_index(int(np.argmax(excess)), expected.shape)
    index = tuple(int(i) for i in index)
    wrong = int((excess > 0).sum())
    return (
        f"{what} (shape {expected.shape}) is wrong in {wrong} of {expected.size} entries. "
        f"Worst at index {index}: expected {expected[index]:.10g}, got {got_array[index]:.10g}."
    )


def namespace_of(function: Callable[..., Any]) -> dict[str, Any]:
    """The globals a function looks its names up in (through any decorator)."""
    return getattr(inspect.unwrap(function), "__globals__", {})


class Checks:
    """Counts the checks of one exercise and prints the one-line verdict.

    ::

        checks = Checks("sigmoid")
        z = checks.call(sigmoid, np.zeros((2, 3)))
        checks.expect(z, np.full((2, 3), 0.5), what="sigmoid(zeros (2, 3))")
        checks.done()
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def call(self, function: Callable[..., Any], *args: Any, **options: Any) -> Any:
        __tracebackhide__ = True
        return call(function, *args, **options)

    @staticmethod
    def isolating(
        function: Callable[..., Any], stand_ins: Mapping[str, Callable[[Any], Any]]
    ) -> contextlib.AbstractContextManager[None]:
        """Replace, in ``function``'s namespace, the earlier exercises it may call."""
        return isolated(namespace_of(function), stand_ins)

    def expect(self, got: Any, expected: Any, *, what: str, **options: Any) -> None:
        __tracebackhide__ = True
        compare(got, expected, what=what, **options)
        self.count += 1

    def require(self, condition: bool, message: str, mistake: str | None = None) -> None:
        __tracebackhide__ = True
        if not condition:
            raise CheckFailed(
                message + (f"\n{mistake_line(mistake)}" if mistake else ""), mistake=mistake
            )
        self.count += 1

    def done(self) -> None:
        passed(self.name, self.count)
