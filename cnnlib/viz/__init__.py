"""Static figures for the book: annotated heatmaps, gradient-flow strips and route pictures.

Matplotlib only (no widgets); ``cnnlib.widgets`` draws with these functions.
Import it as ``import cnnlib.viz as viz`` — ``import cnnlib`` does not load matplotlib.

Conventions shared by every figure:

* small arrays are drawn cell by cell with the number printed in each cell (black
  or white text, whichever contrasts more with the cell colour), in the book's one
  number format (``cnnlib._format``: one number of decimals per array, ``0.06`` with its
  leading zero, a true minus sign, exact zero as ``0``);
* colour follows what a quantity means, never its numbers: signed quantities
  (gradients δ, pre-activations Z and s, weights, biases) use the diverging map
  ``RdBu_r``, symmetric about 0 (blue −, white 0, red +); non-negative ones (inputs
  ≥ 0, activations, pooled maps, probabilities) use a light-to-dark grey map from 0.
  Hue means sign, grey means magnitude. ``heatmap``/``heatmap_grid`` take the meaning
  from ``diverging`` (default: non-negative; a negative entry raises), the flows and
  routes from the panel (an input X or A follows ``signed_input``, by default its data).
  The rule lives in ``_style`` (``colour_limits``, ``cmap_for``, ``rgb``), shared with
  the explorers;
* every figure ends with a colour key naming the scales it uses (``add_colour_key``),
  also a figure composed of ``heatmap(ax=...)`` panels: each panel rewrites its figure's key;
* no text is smaller than 9 px at the dpi a notebook shows figures at (100): numbers that
  do not fit their cells are left out and tick labels thinned out, never shrunk;
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

Public API: ``heatmap``, ``update_heatmap``, ``heatmap_grid``, ``add_colour_key``, ``gradient_flow``,
``seed002_flow``, ``seed003_flow``, ``update_flow``, ``maxpool_routes``, ``conv_dW_route``,
``conv_dX_route``, ``conv_dW_terms``, ``conv_dX_terms``, ``conv_matrix_figure``,
``render_png``, ``format_number``, ``BookFigure``, ``subplots``, ``figure``, ``describe``, ``alt_text``.

Every figure the book shows has a text description for readers who cannot see it: each
function above writes a summary, every heat-map panel adds a sentence with its numbers
(``_alt``), and a notebook that composes a figure gives it one with
``viz.subplots(..., alt="...")`` / ``viz.figure(alt=...)`` or ``viz.describe(fig, "...")``.
A notebook shows a figure at twice its pixel size (``DISPLAY_SCALE``), crisp at 200 % zoom,
with the description as its alt text and plain text.
"""

from .._format import format_number
from ..routes import RouteSum, conv_dW_terms, conv_dX_terms
from ._alt import alt_text, describe
from ._figure import BookFigure, figure, render_png, subplots
from ._style import DIVERGING_CMAP, ROUTE_COLORS, SEQUENTIAL_CMAP
from ._style import MAX_WIDTH as MAX_WIDTH  # the column width, outside __all__ as before
from .flow import gradient_flow, seed002_flow, seed003_flow, update_flow
from .heatmap import add_colour_key, heatmap, heatmap_grid, update_heatmap
from .matrix import conv_matrix_figure
from .routes import conv_dW_route, conv_dX_route, maxpool_routes

__all__ = [
    "heatmap",
    "update_heatmap",
    "heatmap_grid",
    "add_colour_key",
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
    "subplots",
    "figure",
    "describe",
    "alt_text",
    "format_number",
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "ROUTE_COLORS",
]
