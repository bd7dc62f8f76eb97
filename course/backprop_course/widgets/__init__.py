"""Interactive widgets for the lessons (ipywidgets 8 and matplotlib).

from backprop_course.widgets import DescentExplorer
DescentExplorer()          # gradient descent with momentum on a 2-D loss surface
"""

from backprop_course.widgets.descent import SURFACES, DescentExplorer, descend

__all__ = ["SURFACES", "DescentExplorer", "descend"]
