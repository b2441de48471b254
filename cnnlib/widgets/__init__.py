"""Interactive explorers: move an input cell or a kernel entry and watch values and gradients change.

Each explorer is one call that returns a displayable ipywidgets widget (a ``VBox``)::

    from cnnlib.widgets import conv_forward_explorer
    ex = conv_forward_explorer()
    ex                      # the live widget (JupyterLab, Colab, VS Code)
    ex.static_figure()      # a plain matplotlib Figure of the current state (GitHub, nbviewer)
    ex.state["Z"]           # the arrays behind every picture

The eleven explorers:

* :func:`conv_forward_explorer`   — notebook 02: the window slides over X and fills Z;
* :func:`conv_backward_explorer`  — notebooks 03 and 05: dW, db and dX from an upstream δ, with routes;
  notebook 08 with stride, padding and dilation sliders (shown when the call sets one of them, or ``hyper=``);
* :func:`pool_backward_explorer`  — notebook 04: max / average pooling routes δ of P back to A;
* :func:`pipeline_explorer`       — notebook 06: seed 002's whole network, every value and gradient;
* :func:`dense_softmax_explorer`  — notebook 01: logits, softmax, cross-entropy and δ = ŷ − y;
* :func:`channels_explorer`       — notebook 07: several channels and filters, dW[f, c] and dX[c] with routes;
* :func:`digits_explorer`         — notebook 09: a trained network, one test digit at a time (ŷ, feature
  maps, dL/dX): ``digits_explorer(model, X_test, y_test, index=0)`` works on a deep copy of ``model``;
* :func:`im2col_explorer`         — notebook 10: which cells of the padded input make up column q of im2col(X);
* :func:`depth_explorer`          — notebook 11: per-layer activation and gradient sizes in a deep conv stack
  (depth, initial gain, activation, batch norm, residual connections).
* :func:`conv_transpose_explorer` — notebook 12: a small input stamps the kernel onto a large output
  (stride, padding, output_padding, dilation), and how many stamps reach each output cell.
* :func:`graph_explorer`          — notebook 13: a small expression's computation graph, its backward pass
  node by node in reverse topological order, and what ``δ = share`` instead of ``δ += share`` loses.

The explorers never change the reader's numbers. Every value is kept exactly as given
or typed: the grid cells and the pipeline's pixel value are text boxes without bounds
or step ("3,5" is read as 3.5; text that is not a number is refused with a message and
the old value kept), and a slider's range grows to hold the value it is given
(``max(default, ceil(1.5·|v|))``). Selecting a pixel or a kernel never changes a value.
A value assigned to a control from code that it cannot hold (``None``, a wrong type, an
index out of range) is refused with a short message in the widget, never an exception.
``conv_forward_explorer(..., dilation=None)`` hides the dilation slider (dilation 1), for
notebook 02, before dilation is taught.

Numbers are written in the book's one format (``cnnlib._format``): an edit box, a panel
and the read-out write an entry alike, with one number of decimals per array; a cell is
as wide as its widest number, or, where the picture has no room for wider cells, the
panel writes its numbers with fewer digits — down to two significant digits of its
largest, then without the leading zero (−0.0180 as −.018) — never in units of 10ⁿ.
Panels that show one quantity (Z1 and A1, δZ1 and δA1, the four dW[f, c]) share one
format, and the read-out quotes the values in full. Each explorer fits
a 1400×1000 JupyterLab window with the side panel open (a 960-pixel output area) at its
own size, so the browser never scales a picture, or its text, down.

Everything is computed by cnnlib's own layer functions; the pictures only show the numbers.

How it stays fast (a slider move costs well under 30 ms): each explorer owns one
Agg-backed matplotlib figure whose static parts (titles, arrows, axes) are drawn
once and cached as a background. A move restores that background, paints the
heat maps, outlines and numbers straight into the pixel buffer (NumPy, with glyphs
rendered once by matplotlib and reused), and sends the PNG bytes to an
``ipywidgets.Image``. No figure is ever rebuilt and none is registered with pyplot.

Only APIs shared by ipywidgets 7.7 (Google Colab) and 8.x are used, with inline
matplotlib; no ipympl. Every control combination either draws or shows a short
message in the widget — never a traceback. The controls sit left of the picture when
both fit the window (the convolution-backward explorer of notebook 08 at its largest
fits 1400×1000), above it otherwise; no text in a picture is smaller than 9 px.
"""

from __future__ import annotations

from ._controls import PATTERNS as PATTERNS  # the preset inputs' names, for tests and readers
from .channels import channels_explorer
from .conv_backward import conv_backward_explorer
from .conv_forward import conv_forward_explorer
from .dense_softmax import dense_softmax_explorer
from .depth import depth_explorer
from .digits import digits_explorer
from .graph import graph_explorer
from .im2col import im2col_explorer
from .pipeline import pipeline_explorer
from .pool_backward import pool_backward_explorer
from .transposed import conv_transpose_explorer

__all__ = [
    "conv_forward_explorer",
    "conv_backward_explorer",
    "pool_backward_explorer",
    "pipeline_explorer",
    "dense_softmax_explorer",
    "channels_explorer",
    "digits_explorer",
    "im2col_explorer",
    "depth_explorer",
    "conv_transpose_explorer",
    "graph_explorer",
]
