"""The book's visual language, shared by the figures (``cnnlib.viz``) and the explorers (``cnnlib.widgets``).

One colour language, chosen by what a quantity means, never by its numbers:

* a **signed** quantity (a gradient δ, a pre-activation Z or s, a weight, a bias) is drawn
  on the diverging map, centred at 0: blue negative, white 0, red positive;
* a **non-negative** quantity (an input ≥ 0, an activation, a pooled map, a probability)
  is drawn on the sequential map, a light-to-dark grey ramp from 0 (white) to its maximum.

Hue means sign and grey means magnitude, so the same number never gets two colours.
:func:`colour_limits`, :func:`cmap_for` and :func:`rgb` are the rule; figures and
explorers both use them. Also here: ink and outline colours (``ROUTE_COLORS``: ten colours that
stay apart for readers with a colour-vision deficiency, each at least 3:1 against white), the
figure column width, the dpi figures are shown at and the smallest text size, matplotlib
settings, and the rule that picks black or white digits on a coloured cell. Text is never drawn
in an outline colour: it is ``INK`` or ``MUTED`` (at least 4.5:1 against white), or on a cell
black or white, whichever contrasts more with it.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib import colors as mcolors

__all__ = [
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "ROUTE_COLORS",
    "MAX_WIDTH",
    "GRID",
    "INK",
    "CELL_INK",
    "MUTED",
    "RC",
    "DPI",
    "MIN_FONT_PX",
    "MIN_FONT_PT",
    "NAN_COLOR",
    "colour_limits",
    "cmap_for",
    "rgb",
    "relative_luminance",
    "text_color",
]

#: colour map for non-negative quantities (inputs, activations, probabilities): grey, white 0 to dark;
#: it shares no hue with either side of the diverging map
SEQUENTIAL_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "cnnlib_sequential", ["#ffffff", "#d4d4d4", "#a3a3a3", "#707070", "#404040"]
)
#: colour map for signed quantities (gradients, pre-activations, weights): blue negative, white 0, red positive
DIVERGING_CMAP = "RdBu_r"
#: colour of a NaN cell: neither grey (a magnitude) nor red or blue (a sign)
NAN_COLOR = "#efe3a6"
#: outline colours for windows, routes and product pairs, in the order they are used. Chosen to stay
#: apart for readers with a colour-vision deficiency: after simulating protanopia, deuteranopia and
#: tritanopia (Machado et al. 2009, severity 100, as ``colorspacious`` implements it) every pair of
#: them, and each of them against the current-cell outline (``#111111``), is at least 11.7 apart in
#: CAM02-UCS (the closest pair: blue and bluish green under tritanopia; 13.0 under deuteranopia,
#: 12.5 under protanopia, 13.1 with normal vision). Each has at least 3:1 contrast against white, so
#: an outline shows on a white cell (which leaves out Okabe and Ito's orange and sky blue, 2.3:1).
#: The first four are Okabe and Ito's vermillion, blue, bluish green and reddish purple, then a
#: lavender, a brown, Paul Tol's wine and indigo, an olive and a magenta; ten colours, so that every
#: product of a 3x3 kernel has its own. tests/viz/test_palette.py measures all of this.
ROUTE_COLORS = (
    "#d55e00",  # vermillion (Okabe-Ito): the route, the predicted digit, dL/dA's bars
    "#0072b2",  # blue (Okabe-Ito): the true digit, A's bars
    "#009e73",  # bluish green (Okabe-Ito)
    "#cc79a7",  # reddish purple (Okabe-Ito)
    "#a080f8",  # lavender
    "#8c564b",  # brown
    "#882255",  # wine (Tol)
    "#332288",  # indigo (Tol)
    "#584800",  # olive
    "#b03880",  # magenta
)

MAX_WIDTH = 9.5  # inches: a notebook column
GRID = "#b8b8b8"
INK = "#111111"
MUTED = "#555555"
#: dots per inch of a figure as a notebook shows it: matplotlib's ``figure.dpi``, which the
#: inline backend leaves alone (matplotlib_inline >= 0.1.4 sets no rc), and ``render_png``'s default
DPI = 100
#: no text in a figure is smaller than this many pixels at 100 % zoom ...
MIN_FONT_PX = 9
#: ... which is this font size in points at ``DPI`` (9 px = 6.48 pt)
MIN_FONT_PT = MIN_FONT_PX * 72 / DPI
RC = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": MUTED,
    "xtick.color": INK,
    "ytick.color": INK,
    "font.family": "DejaVu Sans",
    "axes.unicode_minus": True,
}


def relative_luminance(rgb) -> np.ndarray:
    """WCAG relative luminance of colours with channels in 0..1, shape (..., 3) -> (...)."""
    c = np.asarray(rgb, dtype=np.float64)[..., :3]
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * lin[..., 0] + 0.7152 * lin[..., 1] + 0.0722 * lin[..., 2]


#: the dark digits on a coloured cell: pure black, so that black or white always reaches 4.5:1
#: (at the switch point, relative luminance 0.179, both have 4.58:1; ``INK`` would have 4.3:1)
CELL_INK = "#000000"


def text_color(rgba) -> str:
    """Black (``CELL_INK``) or white, whichever has the higher WCAG contrast against ``rgba`` (at least 4.58:1)."""
    return "white" if relative_luminance(rgba) < 0.179 else CELL_INK


def colour_limits(values, *, signed: bool, vmin=None, vmax=None) -> tuple[float, float]:
    """The colour limits ``(lo, hi)`` of an array under the book's rule; NaN and ±inf are ignored.

    ``signed=True`` (gradients, pre-activations, weights): symmetric ``(-a, a)`` with ``a``
    the largest ``|value|``, or ``max(|vmin|, |vmax|)`` of the limits given, so white is
    always 0. ``signed=False`` (inputs, activations, probabilities): ``(0, max)``, or
    ``vmin``/``vmax`` where given. An all-zero (or empty) array gives ``(-1, 1)`` / ``(0, 1)``.
    The caller decides ``signed`` from what the array means, never from its entries.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if signed:
        given = [abs(float(t)) for t in (vmin, vmax) if t is not None]
        a = max(given) if given else (float(np.abs(finite).max()) if finite.size else 0.0)
        return (-a, a) if a > 0 else (-1.0, 1.0)
    lo = 0.0 if vmin is None else float(vmin)
    hi = (float(finite.max()) if finite.size else 0.0) if vmax is None else float(vmax)
    if hi <= lo:
        hi = lo + (abs(lo) if lo != 0 else 1.0)
    return lo, hi


def cmap_for(signed: bool) -> mcolors.Colormap:
    """The colour map of a signed quantity (``DIVERGING_CMAP``) or a non-negative one (``SEQUENTIAL_CMAP``).

    NaN entries are drawn in ``NAN_COLOR``.
    """
    cm = matplotlib.colormaps[DIVERGING_CMAP] if signed else SEQUENTIAL_CMAP
    return cm.with_extremes(bad=NAN_COLOR)


def rgb(values, *, signed: bool, vmin=None, vmax=None) -> np.ndarray:
    """Colours of an array as uint8 RGB, shape ``values.shape + (3,)``: the explorers' pixel painter.

    The same colours a figure draws: ``cmap_for(signed)`` over ``colour_limits(values,
    signed=signed, vmin=vmin, vmax=vmax)``; values beyond the limits take the end colours,
    NaN is ``NAN_COLOR``. An explorer passes ``signed=True`` for a gradient, a
    pre-activation or a weight and ``signed=False`` for an input, activation or probability.
    """
    v = np.asarray(values, dtype=np.float64)
    lo, hi = colour_limits(v, signed=signed, vmin=vmin, vmax=vmax)
    t = np.ma.masked_invalid((v - lo) / (hi - lo))
    cmap = _PAINTER_CMAPS.get(bool(signed))
    if cmap is None:  # built once: a colour map builds its lookup table on first use (about 0.4 ms)
        cmap = _PAINTER_CMAPS[bool(signed)] = cmap_for(signed)
    return cmap(np.ma.clip(t, 0.0, 1.0), bytes=True)[..., :3]


#: the painter's own colour maps (``cmap_for`` gives every caller a fresh copy it may change)
_PAINTER_CMAPS: dict[bool, mcolors.Colormap] = {}
