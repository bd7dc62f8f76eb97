"""Interactive widgets for the lessons (ipywidgets 8 and matplotlib).

from backprop_course.widgets import DescentExplorer, BatchNoiseExplorer, GraphView
DescentExplorer()          # gradient descent with momentum on a 2-D loss surface (lesson 04)
BatchNoiseExplorer()       # full batch vs mini-batch vs SGD on a real two-parameter loss (05)
GraphView(root)            # step through the forward and backward pass of a Value graph (02)
NetworkTrainer(backprop_batch)  # train a small network on 2-D data and watch its gradients (05)
ThroughTimeExplorer()      # an RNN's gradient through time: vanishing, exploding, clipping (06)
ProgressView()             # which exercises your saved lessons pass (00_start_here)

While nbgrader grades a notebook, each of them is a one-line placeholder.
"""

from backprop_course.widgets.batch_noise import BatchNoiseExplorer, path_spread, run_sgd
from backprop_course.widgets.descent import SURFACES, DescentExplorer, descend
from backprop_course.widgets.graph_view import GraphView
from backprop_course.widgets.progress_view import ProgressView
from backprop_course.widgets.through_time import ThroughTimeExplorer
from backprop_course.widgets.trainer import NetworkTrainer

__all__ = [
    "SURFACES",
    "BatchNoiseExplorer",
    "DescentExplorer",
    "GraphView",
    "NetworkTrainer",
    "ProgressView",
    "ThroughTimeExplorer",
    "descend",
    "path_spread",
    "run_sgd",
]
