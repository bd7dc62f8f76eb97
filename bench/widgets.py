"""How fast each widget reacts to a control, measured headless on the server side.

A browser sends a slider change to the kernel, the widget recomputes and
redraws, and the new PNG goes back. The part the course controls is the
middle one: the time from setting a control's ``value`` (as the comm message
does) until the observer has returned with the new picture in the
``Image`` widget. Each case cycles one control through a list of values,
``CHANGES`` times, after a few warm-up changes, and reports the median and
the 95th percentile. Target: median <= 50 ms.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CHANGES = 60
WARM_UP = 5
TARGET_MS = 50.0


@dataclass(frozen=True)
class Case:
    """A widget, the control that is moved, and the values it moves through."""

    name: str
    control: str
    build: Callable[[], Any]
    change: Callable[[Any, int], None]  # the i-th change


def cycle(attribute: str, values: list[Any]) -> Callable[[Any, int], None]:
    """Set ``widget.<attribute>.value`` to the values in turn, never twice the same in a row."""

    def change(widget: Any, i: int) -> None:
        getattr(widget, attribute).value = values[i % len(values)]

    return change


def explorer_cases() -> list[Case]:
    from backprop_course.widgets import DescentExplorer

    etas = list(np.geomspace(0.002, 0.07, 25)) + list(np.geomspace(0.07, 0.002, 25))[1:-1]
    return [
        Case(
            "descent_explorer",
            "learning rate η (valley, 60 steps)",
            lambda: DescentExplorer(surface="valley", steps=60),
            cycle("eta", etas),
        ),
        Case(
            "descent_explorer_play",
            "at step (playing the path)",
            lambda: DescentExplorer(surface="valley", steps=60),
            cycle("current", list(range(61))),
        ),
    ]


def batch_noise_cases() -> list[Case]:
    from backprop_course.widgets import BatchNoiseExplorer

    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 361]
    etas = list(np.geomspace(0.01, 100, 25)) + list(np.geomspace(100, 0.01, 25))[1:-1]
    return [
        Case(
            "batch_noise",
            "batch size m (1 ... 361 and back, 5 epochs)",
            lambda: BatchNoiseExplorer(epochs=5),
            cycle("batch_size", sizes + sizes[-2:0:-1]),
        ),
        Case(
            "batch_noise_eta",
            "learning rate η (0.01 ... 100 and back, 5 epochs)",
            lambda: BatchNoiseExplorer(epochs=5),
            cycle("eta", etas),
        ),
    ]


def graph_view_cases() -> list[Case]:
    # The instructor's side may use the reference engine: it stands for a
    # student's finished lesson 02.
    from backprop_course.checks.chain_rule import micrograd_example
    from backprop_course.widgets import GraphView
    from backprop_reference.chain_rule import Value

    def build() -> GraphView:
        return GraphView(micrograd_example(Value)[2])

    jumps = list(np.random.default_rng(1).permutation(81))
    return [
        Case("graph_view", "step (random jumps, micrograd's example)", build, cycle("step", jumps)),
        Case("graph_view_play", "step (playing 0 ... 80)", build, cycle("step", list(range(81)))),
    ]


def trainer_cases() -> list[Case]:
    from backprop_course.widgets import NetworkTrainer
    from backprop_reference.mini_batch import backprop_batch  # a finished lesson 05

    def build() -> NetworkTrainer:
        return NetworkTrainer(backprop_batch, hidden_layers=3, units=8)

    return [
        Case(
            "network_trainer_play",
            "play tick: one epoch of 3×8 tanh on moons, batch 16, and a redraw",
            build,
            cycle("play", list(range(1, 1000))),
        ),
        Case(
            "network_trainer_units",
            "units per layer (rebuilds the network)",
            build,
            cycle("units", [4, 5, 6, 7, 8, 7, 6, 5]),
        ),
        Case(
            "network_trainer_depth",
            "hidden layers (rebuilds the network)",
            build,
            cycle("hidden_layers", [1, 2, 3, 4, 5, 6, 5, 4, 3, 2]),
        ),
    ]


def through_time_cases() -> list[Case]:
    from backprop_course.widgets import ThroughTimeExplorer

    rhos = [float(r) for r in np.geomspace(0.7, 1.4, 25)]
    lengths = list(range(5, 101, 5))
    return [
        Case(
            "through_time_rho",
            "spectral radius ρ (0.7 ... 1.4 and back, tanh, T = 50)",
            lambda: ThroughTimeExplorer(spectral_radius=1.0, length=50),
            cycle("rho", rhos + rhos[-2:0:-1]),
        ),
        Case(
            "through_time_length",
            "steps T (5 ... 100 and back, tanh, ρ = 1)",
            lambda: ThroughTimeExplorer(spectral_radius=1.0, length=50),
            cycle("length", lengths + lengths[-2:0:-1]),
        ),
        Case(
            "through_time_activation",
            "activation (tanh, identity, relu, sigmoid in turn, ρ = 1, T = 50)",
            lambda: ThroughTimeExplorer(spectral_radius=1.0, length=50),
            cycle("activation", ["tanh", "identity", "relu", "sigmoid"]),
        ),
        Case(
            "through_time_clip",
            "clip at (off, 100, 10, 1, 0.1 in turn, ρ = 1.5, T = 50)",
            lambda: ThroughTimeExplorer(spectral_radius=1.5, length=50),
            cycle("clip", [float("inf"), 100.0, 10.0, 1.0, 0.1]),
        ),
    ]


CASES: list[Callable[[], list[Case]]] = [
    explorer_cases,
    batch_noise_cases,
    graph_view_cases,
    trainer_cases,
    through_time_cases,
]


def measure(case: Case, changes: int = CHANGES) -> dict:
    """Median and 95th percentile of the reaction time, in milliseconds."""
    widget = case.build()
    for i in range(WARM_UP):
        case.change(widget, i)
    times = []
    for i in range(WARM_UP, WARM_UP + changes):
        start = time.perf_counter()
        case.change(widget, i)
        times.append(1e3 * (time.perf_counter() - start))
    return {
        "bench": "widget",
        "name": case.name,
        "control": case.control,
        "changes": changes,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "target_median_ms": TARGET_MS,
    }


def run(changes: int = CHANGES) -> list[dict]:
    return [measure(case, changes) for make in CASES for case in make()]
