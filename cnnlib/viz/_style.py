"""The book's visual language, shared by the figures (``cnnlib.viz``) and the explorers (``cnnlib.widgets``).

Colour maps, ink and outline colours, the figure column width and matplotlib settings,
and the rule that picks black or white digits on a coloured cell. One module, so that a
figure and an explorer never disagree about what a colour means.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colors as mcolors

__all__ = [
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "ROUTE_COLORS",
    "MAX_WIDTH",
    "GRID",
    "INK",
    "MUTED",
    "RC",
    "relative_luminance",
    "text_color",
]

#: colour map for values that are never negative (inputs, activations)
SEQUENTIAL_CMAP = mcolors.LinearSegmentedColormap.from_list(
    "cnnlib_sequential", ["#ffffff", "#d9e6f5", "#9ab8d8", "#5b7fa8", "#2e4a6b"]
)
#: colour map for signed values (gradients): blue negative, white 0, red positive
DIVERGING_CMAP = "RdBu_r"
#: outline colours for windows, routes and product pairs (distinct from the heatmap colours)
ROUTE_COLORS = (
    "#e66101",
    "#1b9e77",
    "#7b3294",
    "#e7298a",
    "#b8860b",
    "#66a61e",
    "#17becf",
    "#8c564b",
    "#882255",
    "#999933",
)

MAX_WIDTH = 9.5  # inches: a notebook column
GRID = "#b8b8b8"
INK = "#111111"
MUTED = "#555555"
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


def text_color(rgba) -> str:
    """Black (``INK``) or white, whichever has the higher WCAG contrast against ``rgba``."""
    return "white" if relative_luminance(rgba) < 0.179 else INK
