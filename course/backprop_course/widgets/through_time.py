"""The through-time explorer: how the gradient grows or vanishes on its way back through time.

A vanilla recurrent network with n_h = 32 units reads a sequence of T inputs

    h_t = act(z_t),   z_t = W_hh h_{t-1} + W_xh x_t + b_h,   t = 1..T,   h_0 = 0,

and a cost reads only its last state: C = u^T h_T, with u a fixed random unit
vector, so ‖∂C/∂h_T‖ = 1. Going back one step is a vector-Jacobian product
(lesson 03): the Jacobian of h_t with respect to h_{t-1} is diag(act'(z_t)) W_hh, so

    ∂C/∂h_{t-1} = W_hh^T diag(act'(z_t)) ∂C/∂h_t,

and ∂C/∂h_t is the product of T − t such transposed Jacobians applied to u.
W_hh is a fixed random orthogonal matrix Q times ρ: every singular value of
W_hh is ρ, so W_hh^T alone multiplies every vector's length by exactly ρ. Each
slope act'(z_t) here is at most 1 (sigmoid's at most 1/4), so the curve can
only stay on or fall below the guide line ρ^(T−t) ‖∂C/∂h_T‖; with the
identity activation it lies exactly on it. Below ρ = 1 the gradient that
reaches the early states vanishes geometrically, above it it can explode
(Bengio, Simard and Frasconi 1994; Pascanu, Mikolov and Bengio 2013).

The right panel shows what the gradient of the recurrent parameters
(W_xh, W_hh, b_h) is made of: one term per step, δ_t x_t^T, δ_t h_{t-1}^T and
δ_t with δ_t = ∂C/∂z_t, whose joint size is ‖δ_t‖ sqrt(‖x_t‖² + ‖h_{t-1}‖² + 1).
Clipping by the global norm (Pascanu, Mikolov and Bengio 2013) multiplies the
whole gradient, every term alike, by c/‖g‖ when its norm ‖g‖ exceeds the
threshold c: the curve moves down as a whole, the direction is kept and only
the size is capped. A vanishing gradient is below any sensible threshold, so
clipping leaves it as it is.

The widget draws with ``_figure.FigureImage``: a control's change recomputes
T steps of a 32-unit network (about a millisecond), moves the curves, and
redraws the axes only when their limits change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from backprop_course.widgets._base import LessonWidget
from backprop_course.widgets._figure import FigureImage

Array = np.ndarray
N_H, N_X = 32, 4  # state and input sizes
MAX_LENGTH = 100  # the longest sequence the slider offers
FACTOR = 10.0  # a ratio beyond 10 (or below 1/10) between h_0 and h_T counts as a change
OFF = math.inf  # "clip at: off" is clipping at an infinite threshold
X_ENDS = (10, 20, 30, 50, 70, MAX_LENGTH)  # the t axis ends at the first of these >= T
CLIP_OPTIONS = [("off", OFF), ("100", 100.0), ("10", 10.0), ("1", 1.0), ("0.1", 0.1)]


@dataclass(frozen=True)
class Activation:
    """An activation and its slope, the slope written with what the forward pass kept."""

    name: str
    forward: Callable[[Array], Array]
    slope: Callable[[Array, Array], Array]  # act'(z) from (z, h = act(z))
    largest_slope: float


ACTIVATIONS = {
    a.name: a
    for a in (
        Activation("tanh", np.tanh, lambda z, h: 1.0 - h**2, 1.0),  # tanh' = 1 − tanh² = 1 − h²
        Activation("identity", lambda z: z, lambda z, h: np.ones_like(z), 1.0),
        Activation("relu", lambda z: np.maximum(z, 0.0), lambda z, h: (z > 0) * 1.0, 1.0),
        # σ(z) = (1 + tanh(z/2)) / 2 never overflows; σ' = σ (1 − σ) = h (1 − h)
        Activation(
            "sigmoid", lambda z: 0.5 + 0.5 * np.tanh(0.5 * z), lambda z, h: h * (1 - h), 0.25
        ),
    )
}


@dataclass(frozen=True)
class Draw:
    """The random parts fixed by one seed.

    - Q: (n_h, n_h) orthogonal, W_hh = ρ Q
    - W_xh: (n_h, n_x), entries of variance 1/n_x
    - inputs: (MAX_LENGTH, n_x), standard normal; a sequence of T steps reads the first T,
      times the input scale
    - u: (n_h,), a unit vector: the cost is C = u^T h_T
    """

    Q: Array
    W_xh: Array
    inputs: Array
    u: Array


@lru_cache(maxsize=8)
def draw(seed: int) -> Draw:
    """The random network, inputs and cost direction of ``seed`` (the same every time)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((N_H, N_H)))
    u = rng.standard_normal(N_H)
    return Draw(
        Q=q * np.sign(np.diag(r)),  # the signs make Q uniformly random among orthogonal matrices
        W_xh=rng.standard_normal((N_H, N_X)) / np.sqrt(N_X),
        inputs=rng.standard_normal((MAX_LENGTH, N_X)),
        u=u / np.linalg.norm(u),
    )


@dataclass(frozen=True)
class Flow:
    """One sequence forward, and the gradient of C = u^T h_T on its way back.

    Rows are time steps (one sequence, m = 1):
    - X: (T, n_x), X[t - 1] = x_t;  states: (T + 1, n_h), states[t] = h_t, h_0 included
    - slopes: (T, n_h), slopes[t - 1] = act'(z_t)
    - dh: (T + 1, n_h), dh[t] = ∂C/∂h_t;  norms: (T + 1,), norms[t] = ‖∂C/∂h_t‖
    - guide: (T + 1,), ρ^(T−t) ‖∂C/∂h_T‖
    - terms: (T,), terms[t - 1] = the size of step t's term of the gradient of (W_xh, W_hh, b_h)
    - grads: {"W_xh", "W_hh", "b_h"}, ∂C/∂ each: the sum of the steps' terms
    - global_norm: sqrt of the sum of the squares of every entry of grads
    """

    rho: float
    X: Array
    states: Array
    slopes: Array
    dh: Array
    norms: Array
    guide: Array
    terms: Array
    grads: dict[str, Array]
    global_norm: float

    @property
    def ratio(self) -> float:
        """‖∂C/∂h_0‖ / ‖∂C/∂h_T‖: what reaches the first state, for a unit at the last."""
        return float(self.norms[0] / self.norms[-1])


def forward(W_hh: Array, W_xh: Array, X: Array, activation: Activation) -> tuple[Array, Array]:
    """The states h_0 .. h_T (h_0 = 0, b_h = 0) and the slopes act'(z_1) .. act'(z_T).

    Shapes: W_hh (n_h, n_h), W_xh (n_h, n_x), X (T, n_x) with X[t - 1] = x_t
    -> (states (T + 1, n_h) with states[t] = h_t, slopes (T, n_h) with slopes[t - 1] = act'(z_t)).
    """
    T, n_h = len(X), len(W_hh)
    states, slopes = np.zeros((T + 1, n_h)), np.empty((T, n_h))
    drive = X @ W_xh.T  # W_xh x_t for every t at once: (T, n_h)
    for t in range(1, T + 1):
        z = W_hh @ states[t - 1] + drive[t - 1]
        states[t] = activation.forward(z)
        slopes[t - 1] = activation.slope(z, states[t])
    return states, slopes


def backward(W_hh: Array, slopes: Array, u: Array) -> tuple[Array, Array]:
    """∂C/∂h_t for t = T .. 0 and δ_t = ∂C/∂z_t, going back one Jacobian at a time.

    ∂C/∂h_T = u; δ_t = act'(z_t) ∂C/∂h_t; ∂C/∂h_{t-1} = W_hh^T δ_t.

    Shapes: W_hh (n_h, n_h), slopes (T, n_h) from :func:`forward`, u (n_h,) -> (dh (T + 1, n_h)
    with dh[t] = ∂C/∂h_t, deltas (T, n_h) with deltas[t - 1] = δ_t).
    """
    T = len(slopes)
    dh, deltas = np.empty((T + 1, len(u))), np.empty_like(slopes)
    dh[T] = u
    for t in range(T, 0, -1):
        deltas[t - 1] = slopes[t - 1] * dh[t]
        dh[t - 1] = W_hh.T @ deltas[t - 1]
    return dh, deltas


def gradient_through_time(
    rho: float, length: int, activation: str, input_scale: float, seed: int = 0
) -> Flow:
    """Run the sequence of ``length`` steps forward, then take the gradient of u^T h_T back."""
    d = draw(seed)
    W_hh, X = rho * d.Q, input_scale * d.inputs[:length]
    states, slopes = forward(W_hh, d.W_xh, X, ACTIVATIONS[activation])
    dh, deltas = backward(W_hh, slopes, d.u)
    norms = np.linalg.norm(dh, axis=1)
    grads = {"W_xh": deltas.T @ X, "W_hh": deltas.T @ states[:-1],
             "b_h": deltas.sum(axis=0)[:, None]}  # fmt: skip
    # step t's term: the outer products δ_t x_t^T, δ_t h_{t-1}^T and δ_t, of joint size
    # ‖δ_t‖ sqrt(‖x_t‖² + ‖h_{t-1}‖² + 1)
    inputs_seen = np.sum(X**2, axis=1) + np.sum(states[:-1] ** 2, axis=1) + 1.0
    return Flow(
        rho=rho, X=X, states=states, slopes=slopes, dh=dh, norms=norms,
        guide=rho ** np.arange(length, -1, -1.0) * norms[-1],
        terms=np.linalg.norm(deltas, axis=1) * np.sqrt(inputs_seen),
        grads=grads,
        global_norm=float(np.sqrt(sum(np.sum(g**2) for g in grads.values()))),
    )  # fmt: skip


def clip_factor(norm: float, threshold: float) -> float:
    """The one number clipping by the global norm multiplies every gradient by: at most 1."""
    return 1.0 if norm <= threshold else threshold / norm


def verdict(ratio: float) -> str:
    """'vanishes', 'explodes' or 'keeps its size': ‖∂C/∂h_0‖/‖∂C/∂h_T‖ beyond a factor 10?"""
    if ratio < 1 / FACTOR:
        return "vanishes"
    return "explodes" if ratio > FACTOR else "keeps its size"


def describe(flow: Flow, activation: str) -> str:
    """What the left panel shows, in words (HTML)."""
    T, ratio = len(flow.X), flow.ratio
    reach = f"‖∂C/∂h_0‖ = {ratio:.2g} ‖∂C/∂h_T‖"
    if ratio > 0:
        reach += f", × {ratio ** (1 / T):.3g} per step back on average"
    else:
        reach += " (smaller than the smallest float)"
    return (
        f"Over T = {T} steps the gradient <b>{verdict(ratio)}</b>: {reach}; "
        f"W_hh alone gives × ρ = {flow.rho:.2f}. "
        f"The slopes {activation}′(z_t) average {flow.slopes.mean():.2g} "
        f"(at most {ACTIVATIONS[activation].largest_slope:g})."
    )


def describe_clipping(flow: Flow, threshold: float) -> str:
    """What the right panel shows, in words (HTML)."""
    norm = flow.global_norm
    if threshold == OFF:
        text = f"Clip at: off. The gradient of (W_xh, W_hh, b_h) has global norm ‖g‖ = {norm:.2g}."
    elif norm > threshold:
        text = (
            f"<b>Clipped at {threshold:g}</b>: the global norm {norm:.2g} becomes {threshold:g}; "
            f"every term is multiplied by the same {clip_factor(norm, threshold):.2g}, so the "
            "step keeps its direction and only its size is capped."
        )
    else:
        text = f"Clip at {threshold:g}: the global norm {norm:.2g} is below it; nothing changes."
    if verdict(flow.ratio) == "vanishes" and flow.terms[-1] > 0:
        share = flow.terms[0] / flow.terms[-1]
        text += (
            f" The first step's term is {share:.2g} of the last one's, clipped or not: "
            "clipping cannot bring back a vanishing gradient."
        )
    return text


CAPTION = (
    "<b>Try</b>: with the identity activation, slide ρ across 1 (the curve lies on the guide "
    "line); switch to tanh and raise the input scale; make the sequence longer; with ρ above 1, "
    "set <i>clip at</i> to 1; try relu and sigmoid at ρ = 1. <b>Notice</b>: each step back "
    "multiplies the gradient by W_hhᵀ diag(act′(z_t)). W_hh alone scales it by ρ, and every "
    "slope is at most 1 (sigmoid's at most 1/4), so the curve never rises above ρ^(T−t): below "
    "1 what reaches the early states vanishes, above 1 it can explode. Saturated tanh units "
    "(large inputs) have small slopes 1 − h_t² and bend the curve down; relu passes only the "
    "units that are on. Clipping moves the right panel's curve down as a whole: the same "
    "direction, a capped size. It does nothing for a vanishing gradient."
)


class ThroughTimeExplorer(LessonWidget):
    """The widget: controls on top, the two panels, the status and a caption."""

    def __init__(
        self,
        spectral_radius: float = 1.0,
        length: int = 50,
        activation: str = "tanh",
        input_scale: float = 0.1,
        seed: int = 0,
    ) -> None:
        _check_arguments(spectral_radius, length, activation, input_scale)
        style = {"description_width": "125px"}  # room for "spectral radius ρ" whole
        self.rho = widgets.FloatSlider(
            value=spectral_radius, min=0.5, max=2.0, step=0.01, description="spectral radius ρ",
            readout_format=".2f", style=style,
        )  # fmt: skip
        self.length = widgets.IntSlider(
            value=length, min=2, max=MAX_LENGTH, description="steps T", style=style
        )
        self.activation = widgets.Dropdown(
            options=list(ACTIVATIONS), value=activation, description="activation", style=style
        )
        self.input_scale = widgets.FloatLogSlider(
            value=input_scale, base=10, min=-2, max=0.5, step=0.05, description="input scale",
            readout_format=".3g", style=style,
        )  # fmt: skip
        self.clip = widgets.Dropdown(options=CLIP_OPTIONS, value=OFF, description="clip at",
                                     style=style)  # fmt: skip
        self.draw_button = widgets.Button(
            description="new draw",
            tooltip="a new random orthogonal W_hh, new inputs and a new cost direction u",
        )
        self.status = widgets.HTML()
        self.caption = widgets.HTML(CAPTION)
        self.seed = seed
        self._decades: dict[Axes, tuple[int, int]] = {}  # each axes' y span, in powers of 10
        self._build_figure()
        self.update()
        for control in (self.rho, self.length, self.activation, self.input_scale, self.clip):
            control.observe(lambda _: self._unless_busy(self.update), names="value")
        self.draw_button.on_click(lambda _: self._new_draw())

    @property
    def widget(self) -> widgets.Widget:
        left = widgets.VBox([self.rho, self.length, self.activation])
        right = widgets.VBox([self.input_scale, self.clip, self.draw_button])
        return widgets.VBox([widgets.HBox([left, right]), self.image, self.status, self.caption])

    # -- computing -----------------------------------------------------------------

    def update(self) -> None:
        """Recompute the gradient's way back for the current controls, then redraw."""
        self.flow = gradient_through_time(
            self.rho.value, self.length.value, self.activation.value, self.input_scale.value,
            self.seed,
        )  # fmt: skip
        threshold = self.clip.value
        self.clipped_terms = self.flow.terms * clip_factor(self.flow.global_norm, threshold)
        self.status.value = (
            f"{describe(self.flow, self.activation.value)}<br>"
            f"{describe_clipping(self.flow, threshold)}<br>"
            f"<small>n_h = {N_H} units, W_hh = ρ Q with Q random orthogonal, cost C = uᵀh_T "
            f"(u a random unit vector), draw {self.seed}</small>"
        )
        self.redraw()

    def _new_draw(self) -> None:
        self.seed += 1
        self.update()

    # -- drawing ---------------------------------------------------------------------

    def _build_figure(self) -> None:
        figure = Figure(figsize=(8.8, 3.9), dpi=90)
        figure.subplots_adjust(left=0.095, right=0.985, bottom=0.27, top=0.92, wspace=0.3)
        self.ax, self.terms_ax = figure.subplots(1, 2)
        looks = {"markersize": 3, "lw": 1.6}
        (self.norm_line,) = self.ax.plot([], [], "o-", color="#d95f02", **looks)
        (self.guide_line,) = self.ax.plot([], [], "--", color="black", lw=1.0)
        (self.terms_line,) = self.terms_ax.plot([], [], "o-", color="#1b9e77", **looks)
        (self.clipped_line,) = self.terms_ax.plot([], [], "s--", color="#7570b3", **looks)
        self.norm_level = self.terms_ax.axhline(1.0, color="0.4", lw=1.0)
        self.threshold_level = self.terms_ax.axhline(1.0, color="#e7298a", lw=1.0, ls=":")
        _frame(figure, self.ax, "gradient reaching h_t (C reads h_T only)",
               "‖∂C/∂h_t‖ (log scale)",
               {"‖∂C/∂h_t‖": self.norm_line,
                "ρ^(T−t) ‖∂C/∂h_T‖ (W_hh alone)": self.guide_line})  # fmt: skip
        _frame(figure, self.terms_ax, "the gradient's terms, and clipping",
               "size of step t's term (log scale)",
               {"step t's term": self.terms_line, "after clipping": self.clipped_line,
                "global norm ‖g‖": self.norm_level,
                "threshold c": self.threshold_level})  # fmt: skip
        self.drawing = FigureImage(
            figure,
            moving=[self.norm_line, self.guide_line, self.terms_line, self.clipped_line,
                    self.norm_level, self.threshold_level],
            scaled=[self.ax, self.terms_ax],
        )  # fmt: skip
        self.figure, self.image = figure, self.drawing.image

    def _move_artists(self) -> None:
        flow, T = self.flow, len(self.flow.X)
        times = np.arange(T + 1)
        self.norm_line.set_data(times, _positive(flow.norms))
        self.guide_line.set_data(times, _positive(flow.guide))
        self.terms_line.set_data(times[1:], _positive(flow.terms))
        self.clipped_line.set_data(times[1:], _positive(self.clipped_terms))
        clipping = self.clip.value != OFF
        self.clipped_line.set_visible(clipping and flow.global_norm > self.clip.value)
        self.threshold_level.set_visible(clipping)
        self.threshold_level.set_ydata([self.clip.value] * 2 if clipping else [1.0] * 2)
        self.norm_level.set_ydata([max(flow.global_norm, 1e-300)] * 2)

    def _fit_axes(self) -> bool:
        """Limits that hold the curves; True if any changed (then the axes are redrawn)."""
        flow, changed = self.flow, False
        span = next(end for end in X_ENDS if end >= len(flow.X))
        right = [flow.terms, self.clipped_terms, [flow.global_norm]]
        if self.clip.value != OFF:
            right.append([self.clip.value])
        for ax, values in ((self.ax, [flow.norms, flow.guide]), (self.terms_ax, right)):
            decades = _decades(self._decades.get(ax), np.concatenate(values))
            if ax.get_xlim() != (-0.02 * span, 1.02 * span) or decades != self._decades.get(ax):
                ax.set_xlim(-0.02 * span, 1.02 * span)
                _show_decades(ax, *decades)
                self._decades[ax] = decades
                changed = True
        return changed

    def redraw(self) -> None:
        """Move the curves and show the new picture, redrawing the axes only if they moved."""
        self._move_artists()
        if self._fit_axes():
            self.drawing.rescale()
        else:
            self.drawing.show()


def _positive(values: Array) -> Array:
    """The values with zeros (an exact 0, or an underflow) left out of a log plot."""
    return np.where(values > 0, values, np.nan)


def _frame(figure: Figure, ax: Axes, title: str, ylabel: str, legend: dict[str, Artist]) -> None:
    """Title, axis labels and legend of ``ax``, placed once and for all.

    The title and legend belong to the figure, so they are drawn once, in the
    base layer; the axis labels sit at fixed places, so redrawing the axes
    (new limits) costs little more than their ticks. The y axis is logarithmic,
    labelled 1e-5, 1e0, ...: short labels, fast to draw.
    """
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"1e{round(math.log10(v))}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_label_coords(0.5, -0.13)
    ax.yaxis.set_label_coords(-0.17, 0.5)
    box = ax.get_position()
    middle = (box.x0 + box.x1) / 2
    figure.text(middle, box.y1 + 0.02, title, ha="center", fontsize=10)
    figure.legend(list(legend.values()), list(legend), loc="upper center", ncol=2, fontsize=8,
                  frameon=False, bbox_to_anchor=(middle, box.y0 - 0.13))  # fmt: skip


SPARE = 4  # decades of room an axis may keep above or below its data before it shrinks


def _decades(current: tuple[int, int] | None, values: Array) -> tuple[int, int]:
    """The y axis's span, 10^low .. 10^high: ``current`` while it still fits, else a new one.

    A span fits while it holds the data with at most ``SPARE`` decades of room
    on either side: nearby settings then only move the curves, without
    redrawing the axes. A new span leaves one decade of room on each side.
    """
    shown = values[np.isfinite(values) & (values > 0)]
    low, high = (math.log10(shown.min()), math.log10(shown.max())) if shown.size else (0, 0)
    if current is not None:
        old_low, old_high = current
        if old_low <= low <= old_low + SPARE and old_high - SPARE <= high <= old_high:
            return current
    return math.floor(low) - 1, math.ceil(high) + 1


def _show_decades(ax: Axes, low: int, high: int) -> None:
    """Set the y limits to 10^low .. 10^high, with ticks at every 1, 2, 5, 10, ... decades."""
    stride = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (high - low) / s <= 6)
    first = -(-low // stride) * stride  # the first multiple of the stride from low up
    ax.set_ylim(10.0**low, 10.0**high)
    ax.set_yticks(10.0 ** np.arange(first, high + 1, stride))


def _check_arguments(rho: float, length: int, activation: str, input_scale: float) -> None:
    """The constructor's values must be ones the controls can show."""
    ranges = {"spectral_radius": (rho, 0.5, 2.0), "length": (length, 2, MAX_LENGTH),
              "input_scale": (input_scale, 0.01, 10**0.5)}  # fmt: skip
    for name, (value, low, high) in ranges.items():
        if not low <= value <= high:
            raise ValueError(f"{name} must lie in {low:g} .. {high:.3g}, got {value!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
