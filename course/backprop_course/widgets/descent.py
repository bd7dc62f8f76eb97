"""The descent explorer: gradient descent with momentum on a 2-D loss surface.

Pick a surface, a learning rate (log scale), a momentum, a number of steps
and a start point; the contour plot shows the path, the gradient arrow at
the current point, and the loss against the step. Play walks along the
path; a path that runs away is stopped and said to diverge.

Plots are drawn with matplotlib off screen and shown as a PNG in an
``ipywidgets.Image`` (see ``_figure.FigureImage``): the contours are drawn
once per surface and only the moving artists are redrawn, so nothing
flickers and a frame costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from backprop_course.widgets._base import LessonWidget
from backprop_course.widgets._figure import FigureImage

Point = np.ndarray  # shape (2,)
RUNAWAY = 1e6  # a coordinate beyond this means the descent diverged


@dataclass(frozen=True)
class Surface:
    """A loss of two parameters, its gradient, and where to look at it."""

    name: str
    loss: Callable[[Point], float]
    gradient: Callable[[Point], Point]
    extent: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    start: tuple[float, float]
    caption: str


def quadratic(name: str, a: float, b: float, caption: str) -> Surface:
    """C(x, y) = (a x² + b y²) / 2: its Hessian has eigenvalues a and b."""
    return Surface(
        name,
        lambda p: 0.5 * (a * p[0] ** 2 + b * p[1] ** 2),
        lambda p: np.array([a * p[0], b * p[1]]),
        (-3.0, 3.0, -3.0, 3.0),
        (-2.5, 2.0),
        caption,
    )


def rosenbrock() -> Surface:
    """(1 − x)² + 100 (y − x²)²: a curved valley with its minimum at (1, 1)."""
    return Surface(
        "Rosenbrock",
        lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
        lambda p: np.array(
            [-2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2), 200 * (p[1] - p[0] ** 2)]
        ),
        (-2.0, 2.0, -1.0, 3.0),
        (-1.5, 2.0),
        "A curved valley: the steep walls force a small learning rate, then progress "
        "along the floor is slow. Try momentum.",
    )


def neuron_loss() -> Surface:
    """The mean cross-entropy of one sigmoid neuron, as a function of its two weights.

    The data: 40 points of two overlapping classes (fixed seed). The gradient is
    taken by centred differences, as lesson 02 checks gradients.
    """
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(1.0, 1.0, (20, 2)), rng.normal(-1.0, 1.0, (20, 2))])
    y = np.repeat([1.0, 0.0], 20)

    def loss(p: Point) -> float:
        z = X @ p
        # log(1 + e^z) - y z, written to stay finite for large |z|
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    return Surface(
        "a neuron's loss (w1, w2)",
        loss,
        lambda p: centred_gradient(loss, p),
        (-4.0, 6.0, -4.0, 6.0),
        (-3.0, -3.0),
        "The real loss of one sigmoid neuron on 40 points, as a function of its two "
        "weights: smooth and convex, flat far from the data.",
    )


def tiny_network_loss() -> Surface:
    """The mean squared error of a 1-2-1 tanh network, as a function of its two input weights.

    The network computes y_hat = tanh(w1 x) + tanh(w2 x) (output weights fixed
    at 1). Its targets come from the same network with (w1, w2) = (2, -0.5), on
    50 inputs spread over [-2, 2]. Swapping the two hidden units changes
    nothing, so the loss has two equal minima, (2, -0.5) and (-0.5, 2), with a
    saddle between them on the diagonal w1 = w2: the smallest network already
    has a landscape that is not a bowl. Gradient by centred differences.
    """
    x = np.linspace(-2.0, 2.0, 50)
    y = np.tanh(2.0 * x) + np.tanh(-0.5 * x)

    def loss(p: Point) -> float:
        return float(np.mean((np.tanh(p[0] * x) + np.tanh(p[1] * x) - y) ** 2))

    return Surface(
        "tiny network (w1, w2)",
        loss,
        lambda p: centred_gradient(loss, p),
        (-3.0, 3.0, -3.0, 3.0),
        (1.0, 1.2),
        "The real loss of a network with two tanh hidden units, as a function of their two "
        "input weights. Swapping the units changes nothing, so there are two equal minima "
        "with a saddle between them on the diagonal. Start near the diagonal and watch "
        "which minimum the path picks.",
    )


def centred_gradient(loss: Callable[[Point], float], p: Point, h: float = 1e-6) -> Point:
    """(C(p + h e_i) - C(p - h e_i)) / 2h for i = 1, 2: lesson 02's check, as a gradient."""
    return np.array([(loss(p + step) - loss(p - step)) / (2 * h) for step in np.eye(2) * h])


SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        quadratic("bowl", 1.0, 1.0, "A round bowl: every learning rate below 2 converges."),
        quadratic(
            "valley",
            1.0,
            25.0,
            "An elongated valley, curvatures 1 and 25: above η = 2/25 = 0.08 the steep "
            "direction overshoots and diverges; below it, progress along the floor is slow.",
        ),
        quadratic(
            "saddle",
            1.0,
            -1.0,
            "A saddle: downhill in y forever. Start exactly on the x axis and descent "
            "stops at the saddle point; start a hair off it and it escapes.",
        ),
        rosenbrock(),
        neuron_loss(),
        tiny_network_loss(),
    )
}


@dataclass(frozen=True)
class Descent:
    """A path of gradient descent: points (k + 1, 2), losses (k + 1,), and how it ended."""

    path: np.ndarray
    losses: np.ndarray
    diverged: bool


def descend(
    surface: Surface, start: tuple[float, float], eta: float, momentum: float, steps: int
) -> Descent:
    """Heavy-ball descent: v <- momentum v - eta grad C(p), p <- p + v; stops if it runs away."""
    p = np.array(start, dtype=float)
    velocity = np.zeros(2)
    path, losses = [p.copy()], [surface.loss(p)]
    diverged = False
    with np.errstate(all="ignore"):
        for _ in range(steps):
            velocity = momentum * velocity - eta * surface.gradient(p)
            p = p + velocity
            loss = surface.loss(p)
            if not (np.all(np.isfinite(p)) and np.isfinite(loss)) or np.abs(p).max() > RUNAWAY:
                diverged = True
                break
            path.append(p.copy())
            losses.append(loss)
    return Descent(np.array(path), np.array(losses), diverged)


class DescentExplorer(LessonWidget):
    """The widget: controls on the left, the contour and loss plots on the right."""

    GRID = 160  # contour resolution per axis

    def __init__(
        self, surface: str = "valley", eta: float = 0.02, momentum: float = 0.0, steps: int = 60
    ) -> None:
        style = {"description_width": "110px"}
        self.surface = widgets.Dropdown(
            options=list(SURFACES), value=surface, description="surface", style=style
        )
        self.eta = widgets.FloatLogSlider(
            value=eta, base=10, min=-4, max=0.5, step=0.05, description="learning rate η",
            readout_format=".4f", style=style,
        )  # fmt: skip
        self.momentum = widgets.FloatSlider(
            value=momentum, min=0.0, max=0.99, step=0.01, description="momentum μ", style=style
        )
        self.steps = widgets.IntSlider(
            value=steps, min=1, max=400, description="steps", style=style
        )
        self.x0 = widgets.FloatSlider(description="start x", style=style, step=0.05)
        self.y0 = widgets.FloatSlider(description="start y", style=style, step=0.05)
        self.current = widgets.IntSlider(value=steps, min=0, max=steps, description="at step")
        self.play = widgets.Play(interval=60, min=0, max=steps, description="play")
        widgets.jslink((self.play, "value"), (self.current, "value"))
        self.step_button = widgets.Button(
            description="step", tooltip="one step further", layout=widgets.Layout(width="auto")
        )
        self.reset_button = widgets.Button(
            description="reset", tooltip="back to step 0", layout=widgets.Layout(width="auto")
        )
        self.status = widgets.HTML()
        self.caption = widgets.HTML()
        self._build_figure()
        self._new_surface()
        for control in (self.eta, self.momentum, self.steps, self.x0, self.y0):
            control.observe(lambda _: self._unless_busy(self.update), names="value")
        self.surface.observe(lambda _: self._new_surface(), names="value")
        self.current.observe(lambda _: self._unless_busy(self.redraw), names="value")
        self.step_button.on_click(lambda _: self._move(+1))
        self.reset_button.on_click(lambda _: self._move(-self.current.value))

    # -- layout ----------------------------------------------------------------

    @property
    def widget(self) -> widgets.Widget:
        controls = widgets.VBox(
            [self.surface, self.eta, self.momentum, self.steps, self.x0, self.y0,
             widgets.HBox([self.play, self.step_button, self.reset_button]), self.current,
             self.status],
            layout=widgets.Layout(flex="0 0 auto", width="320px"),
        )  # fmt: skip
        # Side by side on a wide screen; on a narrow one the picture wraps below
        # the controls instead of squeezing them.
        self.image.layout = widgets.Layout(
            flex="1 1 480px", min_width="480px", max_width="100%", height="auto"
        )
        row = widgets.HBox([controls, self.image], layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([row, self.caption])

    # -- computing -----------------------------------------------------------------

    def _new_surface(self) -> None:
        surface = SURFACES[self.surface.value]
        x_min, x_max, y_min, y_max = surface.extent
        with self._quietly():
            # widen first, so that neither value is clipped by the old range
            self.x0.min, self.x0.max = min(x_min, self.x0.min), max(x_max, self.x0.max)
            self.y0.min, self.y0.max = min(y_min, self.y0.min), max(y_max, self.y0.max)
            self.x0.value, self.y0.value = surface.start
            self.x0.min, self.x0.max = x_min, x_max
            self.y0.min, self.y0.max = y_min, y_max
        self.caption.value = f"<i>{surface.caption}</i>"
        self._draw_contours(surface)
        self.update()

    def update(self) -> None:
        """Recompute the path for the current controls, then redraw."""
        surface = SURFACES[self.surface.value]
        start = (self.x0.value, self.y0.value)
        self.descent = descend(
            surface, start, self.eta.value, self.momentum.value, self.steps.value
        )
        last = len(self.descent.path) - 1
        self._path_changed = self._fit_loss_axes()
        with self._quietly():
            self.play.max = self.current.max = last
            self.current.value = last
        if self.descent.diverged:
            self.status.value = (
                f"<b>Diverged</b> after {last} steps: η = {self.eta.value:.4g} is too large "
                "for this surface's steepest direction. Lower it."
            )
        else:
            final = self.descent.losses[-1]
            self.status.value = (
                f"after {last} steps: loss {final:.4g} at {_show(self.descent.path[-1])}"
            )
        self.redraw()

    def _move(self, by: int) -> None:
        self.current.value = int(np.clip(self.current.value + by, 0, self.current.max))

    # -- drawing ---------------------------------------------------------------------

    def _build_figure(self) -> None:
        figure = Figure(figsize=(8.4, 3.6), dpi=90, layout="constrained")
        self.ax, self.loss_ax = figure.subplots(1, 2, width_ratios=[1.2, 1])
        (self.path_line,) = self.ax.plot([], [], "-o", color="#d95f02", markersize=2.5, lw=1.2)
        (self.marker,) = self.ax.plot([], [], "o", color="black", markersize=6)
        self.arrow = self.ax.annotate(
            "", xy=(0, 0), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "#1b9e77"}
        )
        (self.loss_line,) = self.loss_ax.plot([], [], color="#d95f02")
        (self.loss_marker,) = self.loss_ax.plot([], [], "o", color="black", markersize=5)
        self.loss_ax.set_xlabel("step k")
        self.loss_ax.set_ylabel("loss C (log scale)")
        self.loss_ax.set_yscale("log")
        # short labels on the decades only: the layout is fixed after the first draw
        self.loss_ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0), numticks=8))
        self.loss_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        self.loss_ax.yaxis.set_minor_formatter(NullFormatter())
        self.loss_ax.set_title("loss against step")
        self.drawing = FigureImage(
            figure,
            moving=[self.path_line, self.marker, self.arrow, self.loss_line, self.loss_marker],
            scaled=[self.loss_ax],
        )
        self.figure, self.image = figure, self.drawing.image

    def _draw_contours(self, surface: Surface) -> None:
        x_min, x_max, y_min, y_max = surface.extent
        xs, ys = np.linspace(x_min, x_max, self.GRID), np.linspace(y_min, y_max, self.GRID)
        values = np.array([[surface.loss(np.array([x, y])) for x in xs] for y in ys])
        for old in list(self.ax.collections):
            old.remove()
        shifted = values - values.min() + 1e-3  # positive, for log-spaced levels
        levels = np.geomspace(shifted.min() + 1e-3, shifted.max(), 18)
        self.ax.contour(xs, ys, shifted, levels=levels, cmap="cividis", linewidths=0.8)
        self.ax.set_xlim(x_min, x_max)
        self.ax.set_ylim(y_min, y_max)
        self.ax.set_xlabel("parameter 1 (x or w1)")
        self.ax.set_ylabel("parameter 2 (y or w2)")
        self.ax.set_title(f"{surface.name}: path and −∇C")
        self._contours_changed = True

    def _plotted_losses(self) -> np.ndarray:
        losses = self.descent.losses
        return losses - min(losses.min(), 0.0) + 1e-12  # keep the log scale defined

    def _fit_loss_axes(self) -> bool:
        """Limits that hold the whole path; True if they had to change.

        The step axis runs to the ``steps`` slider, so a path that diverges
        early keeps it. The loss axis keeps its limits while they hold the new
        path with at most two spare decades on either side: nearby learning
        rates then only move the curve (a blit), without redrawing the ticks.
        """
        x_limits = (-0.5, max(self.steps.value, 1) + 0.5)
        plotted = self._plotted_losses()
        low, high = plotted.min(), plotted.max()
        old_low, old_high = self.loss_ax.get_ylim()
        fits = old_low <= low and high <= old_high
        snug = old_low >= low / 100 and old_high <= high * 100
        if self.loss_ax.get_xlim() == x_limits and fits and snug:
            return False
        self.loss_ax.set_xlim(*x_limits)
        self.loss_ax.set_ylim(low / 2, high * 2 if high > low else low * 4)
        return True

    def redraw(self) -> None:
        """Move the artists to the current step and show the new picture."""
        path, k = self.descent.path, self.current.value
        surface = SURFACES[self.surface.value]
        self.path_line.set_data(path[: k + 1, 0], path[: k + 1, 1])
        self.marker.set_data([path[k, 0]], [path[k, 1]])
        g = surface.gradient(path[k])
        x_min, x_max, _, _ = surface.extent
        scale = 0.15 * (x_max - x_min) / max(np.linalg.norm(g), 1e-12)
        self.arrow.xy = tuple(path[k] - scale * g)  # points downhill, as the step goes
        self.arrow.set_position(tuple(path[k]))
        plotted = self._plotted_losses()
        self.loss_line.set_data(np.arange(len(plotted)), plotted)
        self.loss_marker.set_data([k], [plotted[k]])
        if self._contours_changed:
            self._contours_changed = False
            self.drawing.redraw_all()
        elif self._path_changed:
            self.drawing.rescale()
        else:
            self.drawing.show()
        self._path_changed = False


def _show(p: np.ndarray) -> str:
    return f"({p[0]:.3g}, {p[1]:.3g})"
