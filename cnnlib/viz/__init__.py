"""Static figures for the book: annotated heatmaps, gradient-flow strips and route pictures.

Matplotlib only (no widgets); ``cnnlib.widgets`` draws with these functions.
Import it as ``import cnnlib.viz as viz`` — ``import cnnlib`` does not load matplotlib.

Conventions shared by every figure:

* small arrays are drawn cell by cell with the number printed in each cell (black
  or white text, whichever contrasts more with the cell colour);
* gradients (any array with a negative entry, or ``diverging=True``) use a
  diverging colour map whose scale is symmetric about 0, so white means "no
  gradient", red positive and blue negative; activations and inputs (all
  entries >= 0) use a light-to-dark sequential map;
* indices printed on the axes are 0-based, as in the code;
* the figure background is always white, so figures stay legible in a dark
  JupyterLab theme and on GitHub;
* sizes are computed from the array sizes so a figure fits a notebook column
  (at most about 9.5 inches wide).

Figures are created with ``matplotlib.pyplot`` so that a notebook shows them at
the end of the cell — exactly once, also when the call is the cell's last
expression (see ``BookFigure``). Call ``plt.close(fig)`` when you are done with a
figure outside a notebook; ``render_png`` turns a figure into PNG bytes (for widgets).
The functions that redraw in place (``update_heatmap``, ``update_flow``) find a
figure's state in registries of their modules, keyed weakly by the Axes or Figure.

Modules: ``heatmap`` (``heatmap``, ``update_heatmap``, ``heatmap_grid``), ``flow``
(gradient-flow strips), ``routes`` (route pictures), ``matrix`` (convolution as a
matrix); ``_figure`` (figure creation) and ``_style`` (the colour language shared with
``cnnlib.widgets``) are private to the package. The attribute ``cnnlib.viz.heatmap`` is
the function; the module's names import as ``from cnnlib.viz.heatmap import ...``.

Public API: ``heatmap``, ``update_heatmap``, ``heatmap_grid``, ``gradient_flow``,
``seed002_flow``, ``seed003_flow``, ``update_flow``, ``maxpool_routes``, ``conv_dW_route``,
``conv_dX_route``, ``conv_dW_terms``, ``conv_dX_terms``, ``conv_matrix_figure``,
``render_png``, ``format_number``, ``BookFigure``.
"""

from .._format import format_number
from ..routes import RouteSum, conv_dW_terms, conv_dX_terms
from ._figure import BookFigure, render_png
from ._style import DIVERGING_CMAP, ROUTE_COLORS, SEQUENTIAL_CMAP
from ._style import MAX_WIDTH as MAX_WIDTH  # the column width, outside __all__ as before
from .flow import gradient_flow, seed002_flow, seed003_flow, update_flow
from .heatmap import heatmap, heatmap_grid, update_heatmap
from .matrix import conv_matrix_figure
from .routes import conv_dW_route, conv_dX_route, maxpool_routes

__all__ = [
    "heatmap",
    "update_heatmap",
    "heatmap_grid",
    "gradient_flow",
    "seed002_flow",
    "seed003_flow",
    "update_flow",
    "maxpool_routes",
    "conv_dW_route",
    "conv_dX_route",
    "conv_dW_terms",
    "conv_dX_terms",
    "RouteSum",
    "conv_matrix_figure",
    "render_png",
    "BookFigure",
    "format_number",
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "ROUTE_COLORS",
]
