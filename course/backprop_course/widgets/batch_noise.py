"""The batch-size noise explorer: full batch, mini-batch and single-example SGD side by side.

The problem is small and real, and has exactly two parameters, so its whole
loss surface fits on one contour plot. One sigmoid neuron

    p = σ(w x + b)

tells the handwritten digit 4 from the digit 9 (target y = 1 for a 9) using one
number per image: x, the mean ink in row 5 of the 8x8 image (rows counted
0..7 from the top, standardised to mean 0 and standard deviation 1 over the
361 images). A 4's crossbar runs along that row, while a 9 has only the stem
of its tail there; the classes still overlap, so the minimum is finite. The
loss is the mean binary cross-entropy over all 361 images

    C(w, b) = (1/N) Σ_i [log(1 + e^{z_i}) − y_i z_i],   z_i = w x_i + b,

whose gradient is ∂C/∂w = (1/N) Σ_i (σ(z_i) − y_i) x_i and
∂C/∂b = (1/N) Σ_i (σ(z_i) − y_i). The bowl is convex and elongated (its
curvatures differ by a factor of about 36 at the minimum).

The data are the 8x8 digits that ship with the course
(``backprop_course.datasets.load_digits``: Alpaydin and Kaynak, UCI Machine
Learning Repository, CC BY 4.0; see ``data/DIGITS-LICENSE.md``).

Three runs share the learning rate, the number of epochs, the start and the
shuffles: full-batch gradient descent (m = N, one step per epoch),
mini-batch SGD (the chosen m) and single-example SGD (m = 1). They are drawn
against epochs, passes through the data, because they take very different
numbers of steps per epoch.

The widget draws with matplotlib off screen into an ``ipywidgets.Image``
(see ``_figure.FigureImage``): the contours are drawn once, the loss axes
only when their limits change, and the paths, curves and markers per frame.
A change of a control recomputes all three runs (about 11,000 example
visits at 10 epochs, in plain floats) and costs a few tens of milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from backprop_course.datasets import load_digits
from backprop_course.widgets._base import LessonWidget
from backprop_course.widgets._figure import FigureImage

RUNAWAY = 1e6  # a parameter beyond this means the run has blown up; it stops there


class Problem:
    """One sigmoid neuron on one real feature: a loss of two parameters (w, b).

    Inputs:
    - x: (N,) the feature of each example (standardised)
    - y: (N,) the targets, 0.0 or 1.0
    - description: one line saying what x and y are
    - start: (w, b) where every run starts

    The loss of many parameter points at once is computed over the distinct
    values of x (72 for the digits problem: a row's mean of small integers),
    weighted by how often each occurs: the same mean as a sum over all N
    examples, several times faster.
    """

    def __init__(
        self, x: np.ndarray, y: np.ndarray, description: str, start: tuple[float, float]
    ) -> None:
        self.x, self.y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self.size = self.x.size
        self.description = description
        self.start = start
        self._values, counts = np.unique(self.x, return_counts=True)
        self._weights = counts / self.size
        self._mean_xy, self._mean_y = float(np.mean(self.x * self.y)), float(np.mean(self.y))
        self.minimum = self._newton()
        self.extent = self._extent()

    def losses(self, points: np.ndarray) -> np.ndarray:
        """Full-data loss C at each point. Shapes: points (K, 2) -> (K,)."""
        w, b = points[:, :1], points[:, 1:]
        softplus = np.logaddexp(0.0, w * self._values + b)  # (K, distinct x), never overflows
        return softplus @ self._weights - (w[:, 0] * self._mean_xy + b[:, 0] * self._mean_y)

    def loss(self, point: np.ndarray) -> float:
        """Full-data loss C at one point (w, b)."""
        return float(self.losses(np.reshape(point, (1, 2)))[0])

    def gradient(self, point: np.ndarray, batch: np.ndarray | None = None) -> np.ndarray:
        """(∂C/∂w, ∂C/∂b) of the mean loss over ``batch`` (indices, (m,)), or over all data."""
        x = self.x if batch is None else self.x[batch]
        y = self.y if batch is None else self.y[batch]
        error = _sigmoid(point[0] * x + point[1]) - y  # ∂loss_i/∂z_i, shape (m,)
        return np.array([np.mean(error * x), np.mean(error)])

    def _hessian(self, point: np.ndarray) -> np.ndarray:
        """Second derivatives of C: the mean of σ'(z_i) (x_i, 1)(x_i, 1)^T. Shape (2, 2)."""
        p = _sigmoid(point[0] * self.x + point[1])
        features = np.stack([self.x, np.ones_like(self.x)])  # (2, N)
        return (features * (p * (1 - p))) @ features.T / self.size

    def _newton(self) -> np.ndarray:
        """The minimum of C, by Newton's method (the classes overlap, so it is finite)."""
        point = np.zeros(2)
        for _ in range(50):
            point = point - np.linalg.solve(self._hessian(point), self.gradient(point))
        return point

    def _extent(self) -> tuple[float, float, float, float]:
        """A box around the start and the minimum, with room on every side."""
        corners = np.array([self.start, self.minimum])
        low, high = corners.min(axis=0), corners.max(axis=0)
        room = 0.35 * (high - low).max()
        return (low[0] - room, high[0] + room, low[1] - room, high[1] + room)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) without overflow for any z: e^{-|z|} is always at most 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


DIGITS = (4, 9)  # the two classes: y = 0 for a 4, y = 1 for a 9
ROW = 5  # the feature: the mean ink of this row of the 8x8 image (0 = top)


@lru_cache(maxsize=1)
def digits_problem() -> Problem:
    """The widget's problem: 4 versus 9 from the ink in one row (see the module docstring)."""
    X, labels = load_digits()
    chosen = np.isin(labels, DIGITS)
    ink = X[:, chosen].reshape(8, 8, -1)[ROW].mean(axis=0)  # (N,)
    x = (ink - ink.mean()) / ink.std()
    y = (labels[chosen] == DIGITS[1]).astype(float)
    return Problem(
        x,
        y,
        f"digit {DIGITS[0]} (y = 0) or {DIGITS[1]} (y = 1) from the ink in row {ROW} of "
        f"the image, {x.size} images",
        start=(2.0, 2.0),
    )


@dataclass(frozen=True)
class Run:
    """One descent, recorded after every step.

    - path: (k + 1, 2) the parameters (w, b), from the start to the last step
    - losses: (k + 1,) the full-data loss C at each point of the path
    - epochs_at: (k + 1,) passes through the data made by each point: examples seen / N
    - batch_size: m
    - diverged: True if the parameters blew up, or if over the last epoch the loss was
      above where it started, on average (a single late point of SGD says too little)
    """

    path: np.ndarray
    losses: np.ndarray
    epochs_at: np.ndarray
    batch_size: int
    diverged: bool

    @property
    def steps(self) -> int:
        return len(self.path) - 1

    @property
    def last_epoch_loss(self) -> float:
        """The mean loss over the last epoch's points (the last point alone for a full batch)."""
        return float(self.losses[self.epochs_at > self.epochs_at[-1] - 1].mean())


def run_sgd(
    problem: Problem,
    batch_size: int,
    eta: float,
    epochs: int,
    seed: int,
    start: tuple[float, float] | None = None,
) -> Run:
    """Mini-batch SGD: every epoch, shuffle, cut into batches of m, step on each batch.

    The batch gradient is the mean over the batch, so m = N is full-batch
    gradient descent. A seed fixes the shuffles: runs with the same seed see
    the examples in the same order, whatever their batch size. Within a batch
    the examples are summed in index order, so a full-batch run is exactly
    the same for every seed. The last batch of an epoch is smaller when m
    does not divide N.

    Inputs: problem (N examples); batch_size m in 1..N; eta the learning
    rate; epochs the number of passes; seed for the shuffles; start (w, b),
    the problem's start if None. Returns a Run.
    """
    n = problem.size
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must lie in 1..{n}, got {batch_size}")
    rng = np.random.default_rng(seed)
    w, b = problem.start if start is None else start
    points = [(float(w), float(b))]
    for _ in range(epochs):
        order = _batches_in_index_order(rng.permutation(n), batch_size)
        w, b = _epoch(
            w, b, problem.x[order].tolist(), problem.y[order].tolist(), eta, batch_size, points
        )
    path = np.array(points)
    # a run that blows up is cut where it leaves the box (nan fails the test too)
    inside = np.all(np.abs(path) < RUNAWAY, axis=1)
    blew_up = not inside.all()
    if blew_up:
        path = path[: np.argmin(inside)]
    losses = problem.losses(path)
    run = Run(path, losses, _epochs_at(n, batch_size, epochs)[: len(path)], batch_size, False)
    return replace(run, diverged=blew_up or bool(run.last_epoch_loss > losses[0]))


def _batches_in_index_order(order: np.ndarray, batch_size: int) -> np.ndarray:
    """Sort the indices within each batch (so that a batch's sum does not depend on the shuffle)."""
    batch = np.arange(order.size) // batch_size
    return order[np.lexsort((order, batch))]


def _epoch(
    w: float,
    b: float,
    xs: list[float],
    ys: list[float],
    eta: float,
    m: int,
    points: list[tuple[float, float]],
) -> tuple[float, float]:
    """One pass over the examples in the given order, a step after every m of them.

    Plain floats, not numpy: a batch is often a single example, and a numpy
    call per example would cost more than the arithmetic. Appends each new
    (w, b) to ``points`` and returns the last.
    """
    grad_w = grad_b = 0.0
    count = 0
    for x, y in zip(xs, ys, strict=True):
        z = w * x + b
        e = math.exp(-abs(z))  # at most 1: no overflow
        error = (1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)) - y  # σ(z) − y = ∂loss/∂z
        grad_w += error * x
        grad_b += error
        count += 1
        if count == m:
            w, b = w - eta * grad_w / m, b - eta * grad_b / m
            points.append((w, b))
            grad_w = grad_b = 0.0
            count = 0
    if count:  # the last, smaller batch
        w, b = w - eta * grad_w / count, b - eta * grad_b / count
        points.append((w, b))
    return w, b


def _epochs_at(n: int, batch_size: int, epochs: int) -> np.ndarray:
    """Passes through the data after each step: (examples seen) / n, from 0."""
    seen_in_epoch = np.minimum(np.arange(batch_size, n + batch_size, batch_size), n)
    seen = (np.arange(epochs)[:, None] * n + seen_in_epoch).ravel()
    return np.concatenate([[0], seen]) / n


# a point minus the least-squares parabola through it and its 4 neighbours (Savitzky–Golay 5, 2)
JITTER = np.array([3.0, -12.0, 18.0, -12.0, 3.0]) / 35


def path_spread(run: Run) -> float:
    """How noisy a path is: the mean distance of its points from a smoothed copy of it.

    The smoothed point k is the least-squares parabola through the points
    k − 2 .. k + 2, read at k (a 5-point Savitzky–Golay filter). A parabola
    follows a path that bends or slows down steadily, so what is left is the
    jitter from one step to the next: full-batch descent with a moderate η
    scores about 0, single-example SGD scores a fair part of its step
    length. The unit is that of the parameters (w, b). Paths of fewer than
    5 points score 0.
    """
    if len(run.path) < len(JITTER):
        return 0.0
    # point − parabola fit = (3/35) × the fourth difference, in each coordinate
    residual = np.column_stack([np.convolve(run.path[:, i], JITTER, "valid") for i in (0, 1)])
    return float(np.mean(np.linalg.norm(residual, axis=1)))


@dataclass(frozen=True)
class Style:
    """How one run looks: the same colour, line style and marker on both plots."""

    name: str
    color: str
    linestyle: str
    marker: str
    width: float


# ColorBrewer Dark2 (colour-blind safe), and each run also has its own line and marker
STYLES = (
    Style("full batch", "#1b9e77", "-", "o", 2.0),
    Style("mini-batch", "#7570b3", "--", "s", 1.3),
    Style("SGD", "#d95f02", ":", "^", 1.0),
)

CAPTION = (
    "<b>Try</b>: compare the three runs at the same learning rate; slide the batch size "
    "from 1 to N; raise η step by step; press <i>new shuffle</i> a few times; play the runs "
    "side by side. <b>Notice</b>: per epoch, a smaller batch takes more steps and gets further "
    "(full batch takes one step per epoch); its path is noisier, and with a fixed η it never "
    "settles exactly at the minimum (★) but keeps jittering around it, the loss curve "
    "flickering above the floor; a larger η makes every step, and so the noise, larger, until "
    "the smallest batches do not converge at all. Two batches of the same size with different "
    "shuffles end in different places; full batch never changes."
)


class BatchNoiseExplorer(LessonWidget):
    """The widget: controls on top, then the contour and loss plots, the status and a caption."""

    GRID = 120  # contour resolution per axis
    PLAY_FRAMES = 150  # a play through a whole run takes about this many frames

    def __init__(self, batch_size: int = 16, eta: float = 1.0, epochs: int = 5) -> None:
        self.problem = digits_problem()
        sizes = _batch_sizes(self.problem.size)
        if batch_size not in sizes:
            raise ValueError(f"batch_size must be one of {sizes}, got {batch_size}")
        style = {"description_width": "110px"}
        self.batch_size = widgets.SelectionSlider(
            options=sizes, value=batch_size,
            description="batch size m", style=style,
        )  # fmt: skip
        self.eta = widgets.FloatLogSlider(
            value=eta, base=10, min=-2, max=2, step=0.05, description="learning rate η",
            readout_format=".3g", style=style,
        )  # fmt: skip
        self.epochs = widgets.IntSlider(
            value=epochs, min=1, max=10, description="epochs", style=style
        )
        self.shuffle_button = widgets.Button(
            description="new shuffle", tooltip="draw new random orders of the examples (new seed)"
        )
        self.current = widgets.IntSlider(value=0, min=0, max=1, description="at step")
        self.play = widgets.Play(interval=60, min=0, max=1, description="play")
        widgets.jslink((self.play, "value"), (self.current, "value"))
        self.step_button = widgets.Button(
            description="step", tooltip="one mini-batch step further", layout={"width": "70px"}
        )
        self.reset_button = widgets.Button(
            description="reset", tooltip="back to step 0", layout={"width": "70px"}
        )
        self.status = widgets.HTML()
        self.caption = widgets.HTML(CAPTION)
        self.seed = 0
        self._limits_changed = True
        self._loss_top: float | None = None
        self._build_figure()
        self.update()
        for control in (self.batch_size, self.eta, self.epochs):
            control.observe(lambda _: self._unless_busy(self.update), names="value")
        self.current.observe(lambda _: self._unless_busy(self.redraw), names="value")
        self.shuffle_button.on_click(lambda _: self._new_shuffle())
        self.step_button.on_click(lambda _: self._move(+1))
        self.reset_button.on_click(lambda _: self._move(-self.current.value))

    # -- layout ----------------------------------------------------------------

    @property
    def widget(self) -> widgets.Widget:
        # controls in two columns above the picture, so that the picture gets the full width
        settings = widgets.VBox([self.batch_size, self.eta, self.epochs])
        moves = widgets.VBox(
            [self.shuffle_button, widgets.HBox([self.play, self.step_button, self.reset_button]),
             self.current]
        )  # fmt: skip
        return widgets.VBox(
            [widgets.HBox([settings, moves]), self.image, self.status, self.caption]
        )

    # -- computing ---------------------------------------------------------------

    def update(self) -> None:
        """Recompute the three runs for the current controls, then redraw."""
        m, eta, epochs = self.batch_size.value, self.eta.value, self.epochs.value
        self.runs = [
            run_sgd(self.problem, size, eta, epochs, self.seed)
            for size in (self.problem.size, m, 1)
        ]
        self.spreads = [path_spread(run) for run in self.runs]
        last = self.runs[1].steps
        with self._quietly():
            self.play.max = self.current.max = last
            self.play.step = max(1, last // self.PLAY_FRAMES)
            self.current.value = last
        self._new_curves()
        self.redraw()

    def _new_shuffle(self) -> None:
        self.seed += 1
        self.update()

    def positions(self) -> list[int]:
        """The step each run is at: the mini-batch run at the slider, the others at its epoch."""
        epoch = self.runs[1].epochs_at[self.current.value]
        return [int(np.searchsorted(run.epochs_at, epoch, side="right")) - 1 for run in self.runs]

    def _move(self, by: int) -> None:
        self.current.value = int(np.clip(self.current.value + by, 0, self.current.max))

    # -- status ------------------------------------------------------------------

    def _update_status(self, positions: list[int]) -> None:
        epochs = self.epochs.value
        rows = [
            f"<tr><td style='color:{style.color}'><b>{style.name}</b> (m = {run.batch_size})</td>"
            f"<td>step {k} (epoch {run.epochs_at[k]:.1f} of {epochs})</td>"
            f"<td>loss C = {run.losses[k]:.4f}</td><td>spread of the path: {spread:.3g}</td></tr>"
            for style, run, k, spread in zip(
                STYLES, self.runs, positions, self.spreads, strict=True
            )
        ]
        self.status.value = (
            f"<table style='border-spacing: 14px 1px; margin-left: -14px'>{''.join(rows)}</table>"
            f"{self._divergence_note()}"
            f"<small>data: {self.problem.description}; shuffle {self.seed}; "
            f"the minimum is C = {self.minimum_loss:.4f}; "
            "spread = mean distance of a path's points from a parabola fitted through each "
            "point and its 4 neighbours, in units of (w, b): the step-to-step jitter</small>"
        )

    def _divergence_note(self) -> str:
        notes = [
            f"<b>{style.name} (m = {run.batch_size}) diverges</b>: "
            + (
                f"over its last epoch the loss averages {run.last_epoch_loss:.3g}, above the "
                f"{run.losses[0]:.3g} it started from."
                if run.last_epoch_loss > run.losses[0]
                else f"its parameters ran off beyond {RUNAWAY:.0e}."
            )
            for style, run in zip(STYLES, self.runs, strict=True)
            if run.diverged
        ]
        if not notes:
            return ""
        return "<br>".join(notes) + f" η = {self.eta.value:.3g} is too large for it: lower η.<br>"

    # -- drawing -----------------------------------------------------------------

    def _build_figure(self) -> None:
        figure = Figure(figsize=(8.8, 3.7), dpi=90, layout="constrained")
        self.ax, self.loss_ax = figure.subplots(1, 2, width_ratios=[1.15, 1])
        self._draw_contours()
        self._style_loss_axes()
        self.path_lines, self.markers, self.loss_lines, self.loss_markers = [], [], [], []
        # drawn in reverse, so that the smooth full-batch path stays on top of the noisy ones
        for depth, style in enumerate(STYLES):
            looks = {"color": style.color, "linestyle": style.linestyle, "lw": style.width,
                     "zorder": 4 - depth}  # fmt: skip
            (path,) = self.ax.plot([], [], marker=style.marker, markersize=4, **looks)
            (curve,) = self.loss_ax.plot([], [], **looks)
            spot = {"color": style.color, "markersize": 9, "markeredgecolor": "black", "zorder": 6}
            (marker,) = self.ax.plot([], [], style.marker, **spot)
            (loss_marker,) = self.loss_ax.plot([], [], style.marker, **spot)
            self.path_lines.append(path)
            self.markers.append(marker)
            self.loss_lines.append(curve)
            self.loss_markers.append(loss_marker)
        # fixed labels: a legend that changed would have to be drawn on every frame
        labels = [f"full batch (m = N = {self.problem.size})", "mini-batch (m from the slider)",
                  "SGD (m = 1)", "minimum"]  # fmt: skip
        self.ax.legend([*self.path_lines, self.minimum_star], labels, loc="lower right",
                       fontsize=8, framealpha=0.9)  # fmt: skip
        self.now_line = self.loss_ax.axvline(0.0, color="0.5", lw=0.8)
        # the loss axes are drawn again only when their limits change; the curves every frame
        self.drawing = FigureImage(
            figure,
            moving=[*self.path_lines, *self.markers, *self.loss_lines, *self.loss_markers,
                    self.now_line],
            scaled=[self.loss_ax],
        )  # fmt: skip
        self.figure, self.image = figure, self.drawing.image

    def _draw_contours(self) -> None:
        x_min, x_max, y_min, y_max = self.problem.extent
        ws, bs = np.linspace(x_min, x_max, self.GRID), np.linspace(y_min, y_max, self.GRID)
        grid_w, grid_b = np.meshgrid(ws, bs)
        values = self.problem.losses(np.column_stack([grid_w.ravel(), grid_b.ravel()]))
        self.minimum_loss = self.problem.loss(self.problem.minimum)
        above = values.reshape(grid_w.shape) - self.minimum_loss
        levels = np.geomspace(2e-3, above.max(), 16)  # log-spaced: the floor of the bowl shows
        self.ax.contour(ws, bs, above, levels=levels, cmap="cividis", linewidths=0.8)
        (self.minimum_star,) = self.ax.plot(
            *self.problem.minimum, "*", color="black", markersize=13, zorder=5
        )
        self.ax.set_xlim(x_min, x_max)
        self.ax.set_ylim(y_min, y_max)
        self.ax.set_xlabel("weight w")
        self.ax.set_ylabel("bias b")
        self.ax.set_title(
            f"loss C(w, b): digit {DIGITS[0]} or {DIGITS[1]} from the ink in row {ROW}",
            fontsize=10,
        )

    def _style_loss_axes(self) -> None:
        ax = self.loss_ax
        ax.set_xlabel("epoch (passes through the data)")
        ax.set_ylabel("full-data loss C (log scale)")
        ax.set_yscale("log")
        # short labels, so that the frozen layout still fits them
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.axhline(self.minimum_loss, color="black", lw=0.8, linestyle=(0, (1, 3)))
        ax.annotate("minimum", (0.02, self.minimum_loss), xycoords=("axes fraction", "data"),
                    xytext=(0, 2), textcoords="offset points", fontsize=8)  # fmt: skip
        ax.set_title("full-data loss against epochs", fontsize=10)

    def _new_curves(self) -> None:
        """New loss curves; new limits for the loss axes only if the curves need them."""
        for curve, run in zip(self.loss_lines, self.runs, strict=True):
            curve.set_data(run.epochs_at, run.losses)
        epochs = self.epochs.value
        x_limits = (-0.02 * epochs, 1.02 * epochs)
        bottom, top = self.minimum_loss / 1.15, self._loss_top
        # room above the curves: doubled when they outgrow it, given back when they fall
        # well below it, so that most changes of a control leave the axes as they are
        need = 1.3 * max(run.losses.max() for run in self.runs)
        if top is None or need < top / 2.5:
            top = need
        elif need > top:
            top = 2 * need
        self._loss_top = top
        if self.loss_ax.get_xlim() != x_limits or self.loss_ax.get_ylim() != (bottom, top):
            self.loss_ax.set_xlim(*x_limits)
            self.loss_ax.set_ylim(bottom, top)
            self._limits_changed = True

    def redraw(self) -> None:
        """Move the paths and markers to the current step and show the new picture."""
        positions = self.positions()
        for path, marker, loss_marker, run, k in zip(
            self.path_lines, self.markers, self.loss_markers, self.runs, positions, strict=True
        ):
            path.set_data(run.path[: k + 1, 0], run.path[: k + 1, 1])
            path.set_markevery(max(1, k // 25))  # markers tell the styles apart, not the steps
            marker.set_data([run.path[k, 0]], [run.path[k, 1]])
            loss_marker.set_data([run.epochs_at[k]], [run.losses[k]])
        self.now_line.set_xdata([self.runs[1].epochs_at[self.current.value]] * 2)
        self._update_status(positions)
        if self._limits_changed:
            self._limits_changed = False
            self.drawing.rescale()
        else:
            self.drawing.show()


def _batch_sizes(n: int) -> list[int]:
    """1, 2, 4, ... below n, then n itself."""
    sizes = [1]
    while sizes[-1] * 2 < n:
        sizes.append(sizes[-1] * 2)
    return [*sizes, n]
