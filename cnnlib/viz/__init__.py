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

Public API: ``heatmap``, ``update_heatmap``, ``heatmap_grid``, ``gradient_flow``,
``seed002_flow``, ``seed003_flow``, ``update_flow``, ``maxpool_routes``, ``conv_dW_route``,
``conv_dX_route``, ``conv_dW_terms``, ``conv_dX_terms``, ``conv_matrix_figure``,
``render_png``, ``format_number``, ``BookFigure``.
"""

from __future__ import annotations

import functools
import io
import math
import numbers
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch, FancyArrowPatch, Patch, Rectangle

from .._format import MINUS, Formatter, auto_decimals, factor, format_number
from .._validate import as_2d, as_array, check_in_range, int_tuple, nonnegative_int, positive_int
from ..conv import conv_output_size
from ..pool import maxpool2d_backward, maxpool2d_forward
from ..routes import RouteSum, conv_dW_terms, conv_dX_terms, dW_route, dX_route
from ._style import (
    DIVERGING_CMAP,
    GRID,
    INK,
    MAX_WIDTH,
    MUTED,
    RC,
    ROUTE_COLORS,
    SEQUENTIAL_CMAP,
    text_color,
)

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

# --------------------------------------------------------------------------- state

_CELL_MAX = 0.55  # inches per heatmap cell
_CELL_MIN = 0.26
_ANNOTATE_MAX = 16  # arrays larger than this along an axis are drawn without numbers


def _display_once(fig: Figure) -> None:
    """Show ``fig`` as a PNG now and release it from pyplot under the inline backend."""
    from IPython.display import display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    display({"image/png": buf.getvalue(), "text/plain": f"<Figure size {fig.get_size_inches()} in>"}, raw=True)
    if "inline" in str(matplotlib.get_backend()).lower():
        # shown now: the inline backend must not show it again at the end of the cell
        # (``plt.close`` leaves a figure pyplot does not manage alone)
        plt.close(fig)


class BookFigure(Figure):
    """A ``Figure`` that a notebook shows exactly once.

    With the inline backend, pyplot shows every new figure at the end of the cell, and
    a figure returned as the cell's last expression would be shown a second time by
    IPython. Displaying a ``BookFigure`` shows it as a PNG and releases it from pyplot,
    so the end-of-cell pass skips it; the ``Figure`` object stays usable.
    """

    def _ipython_display_(self):
        _display_once(self)


class _BookAxes(Axes):
    """The Axes ``heatmap`` creates: displays its figure (once), never ``<Axes: ...>`` text."""

    name = "cnnlib_heatmap"

    def _ipython_display_(self):
        _display_once(self.figure)


def _new_figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    size = (float(min(max(width, 1.0), MAX_WIDTH + 0.5)), float(max(height, 0.8)))
    fig = plt.figure(figsize=size, layout=layout, FigureClass=BookFigure)
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    return fig


def _styled(func):
    """Run a public drawing function under the book's rc settings (restored afterwards).

    If the function fails half-way, the figures it had already created are closed, so a
    bad argument never leaves a stray figure behind.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            with matplotlib.rc_context(RC):
                return func(*args, **kwargs)
        except Exception:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise

    return wrapper


def render_png(fig: Figure, *, dpi: float = 100) -> bytes:
    """The figure as PNG bytes (white background), e.g. for an ``ipywidgets.Image``.

    Does not close or otherwise change the figure.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"render_png: fig must be a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


# --------------------------------------------------------------------------- numbers


def _fontsize_for(cell_in: float, nchars: int, *, largest: float = 11.0) -> float:
    """Font size (pt) so that ``nchars`` characters fit in a cell ``cell_in`` inches wide."""
    cell_pt = cell_in * 72.0
    return float(min(largest, 0.42 * cell_pt, 1.5 * cell_pt / max(nchars, 1)))


# --------------------------------------------------------------------------- validation helpers


# --------------------------------------------------------------------------- heatmap


@dataclass
class _HeatmapState:
    """What ``update_heatmap`` needs to redraw a heatmap in place."""

    fn: str
    image: object
    texts: list = field(default_factory=list)
    fmt: object = None
    diverging: bool | None = None
    vmin: float | None = None
    vmax: float | None = None
    annotate: bool = True
    fontsize: float = 8.0
    shape: tuple = ()
    overlays: list = field(default_factory=list)
    row_offset: int = 0
    col_offset: int = 0
    cmap: object = None
    is_div: bool = False
    cell_in: float = 0.4
    highlight: list = field(default_factory=list)
    rects: list = field(default_factory=list)


def _norm(values: np.ndarray, diverging, vmin, vmax) -> tuple[mcolors.Normalize, bool]:
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if diverging is None:
        diverging = lo < 0
    if diverging:
        given = [abs(float(v)) for v in (vmin, vmax) if v is not None]
        a = max(given) if given else max(abs(lo), abs(hi))
        if a == 0:
            a = 1.0
        return mcolors.Normalize(-a, a), True
    if vmin is None and 0 <= lo <= 0.5 * hi:
        lo = 0.0  # activations and pixel values: 0 is white
    lo = float(vmin) if vmin is not None else lo
    hi = float(vmax) if vmax is not None else hi
    if hi <= lo:
        hi = lo + (abs(lo) if lo != 0 else 1.0)
    return mcolors.Normalize(lo, hi), False


def _cmap(fn: str, cmap, diverging: bool):
    if cmap is None:
        cmap = DIVERGING_CMAP if diverging else SEQUENTIAL_CMAP
    try:
        cm = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    except KeyError:
        raise ValueError(f"{fn}: unknown colour map {cmap!r}") from None
    if not isinstance(cm, mcolors.Colormap):
        raise TypeError(f"{fn}: cmap must be a colour-map name or Colormap, got {type(cmap).__name__}")
    return cm.with_extremes(bad="#d0d0d0")


def _cell_inches(ax, h: int, w: int) -> float:
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position()
    return float(min(pos.width * fig_w / max(w, 1), pos.height * fig_h / max(h, 1)))


def _tick_positions(n: int) -> np.ndarray:
    step = 1 if n <= 16 else math.ceil(n / 10)
    return np.arange(0, n, step)


def _parse_highlight(fn: str, highlight, shape) -> list[tuple[int, int, str | None]]:
    if highlight is None:
        return []
    if isinstance(highlight, np.ndarray) and highlight.dtype == bool:
        if highlight.shape != tuple(shape):
            raise ValueError(
                f"{fn}: a boolean highlight mask must have the data's shape {shape}, got {highlight.shape}"
            )
        return [(int(r), int(c), None) for r, c in zip(*np.nonzero(highlight))]
    items = list(highlight)
    if (
        len(items) in (2, 3)
        and all(isinstance(t, numbers.Integral) for t in items[:2])
        and not isinstance(items[0], (tuple, list))
    ):
        items = [tuple(items)]  # a single cell
    out = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise TypeError(f"{fn}: highlight must be a list of (row, col) or (row, col, color), got item {item!r}")
        r, c = int_tuple(fn, "highlight cell", item[:2], (2,))
        check_in_range(fn, "highlight cell", (r, c), shape, "the data")
        out.append((r, c, item[2] if len(item) == 3 else None))
    return out


def _parse_rects(fn: str, rects) -> list[tuple[float, float, float, float, str | None]]:
    if rects is None:
        return []
    out = []
    for item in rects:
        if not isinstance(item, (tuple, list)) or len(item) not in (4, 5):
            raise TypeError(f"{fn}: rects must be a list of (r0, c0, h, w) or (r0, c0, h, w, color), got {item!r}")
        r0, c0, h, w = (float(t) for t in item[:4])
        if h <= 0 or w <= 0:
            raise ValueError(f"{fn}: a rectangle needs positive height and width, got {item!r}")
        out.append((r0, c0, h, w, item[4] if len(item) == 5 else None))
    return out


def _outline(ax, r, c, h, w, color, lw, *, inset=0.0, gid="cnnlib-highlight", linestyle="-", zorder=5):
    rect = Rectangle(
        (c - 0.5 + inset, r - 0.5 + inset),
        w - 2 * inset,
        h - 2 * inset,
        fill=False,
        edgecolor=color,
        linewidth=lw,
        linestyle=linestyle,
        zorder=zorder,
        gid=gid,
        clip_on=False,
    )
    rect.set_path_effects([patheffects.withStroke(linewidth=lw + 2.2, foreground="white"), patheffects.Normal()])
    ax.add_patch(rect)
    return rect


def _draw_overlays(state: _HeatmapState, ax, highlight, rects, cell_in: float):
    """(Re)draw the highlight and rectangle outlines of a heatmap; other overlays are kept."""
    keep = []
    for artist in state.overlays:
        if artist.get_gid() in ("cnnlib-highlight", "cnnlib-rect"):
            artist.remove()
        else:
            keep.append(artist)
    state.overlays = keep
    state.highlight, state.rects = list(highlight), list(rects)
    lw = float(np.clip(cell_in * 5.0, 1.3, 2.6))
    for r, c, color in highlight:
        state.overlays.append(_outline(ax, r, c, 1, 1, color or INK, lw, inset=0.06))
    for k, (r0, c0, h, w, color) in enumerate(rects):
        color = color or ROUTE_COLORS[k % len(ROUTE_COLORS)]
        state.overlays.append(_outline(ax, r0, c0, h, w, color, lw, inset=0.03, gid="cnnlib-rect"))


def _cell_grid(ax, h: int, w: int, lw: float):
    """Thin lines between the cells: one LineCollection (cheaper to draw than minor-tick grid lines)."""
    segs = [((x, -0.5), (x, h - 0.5)) for x in np.arange(0.5, w - 0.5)]
    segs += [((-0.5, y), (w - 0.5, y)) for y in np.arange(0.5, h - 0.5)]
    if segs:
        ax.add_collection(LineCollection(segs, colors=GRID, linewidths=lw, zorder=2, gid="cnnlib-grid"), autolim=False)


def _draw_heatmap(
    fn: str,
    ax,
    data: np.ndarray,
    *,
    title=None,
    annotate=True,
    fmt=None,
    cmap=None,
    diverging=None,
    vmin=None,
    vmax=None,
    highlight=None,
    rects=None,
    colorbar=False,
    cell_in: float | None = None,
    ticks: bool = True,
    row_offset: int = 0,
    col_offset: int = 0,
    row_ticklabels=None,
    col_ticklabels=None,
    title_size: float | None = None,
    fontsize: float | None = None,
):
    h, w = data.shape
    cell_in = cell_in or _cell_inches(ax, h, w)
    norm, is_div = _norm(data, diverging, vmin, vmax)
    cm = _cmap(fn, cmap, is_div)
    formatter = Formatter(fn, fmt, data)
    hl = _parse_highlight(fn, highlight, data.shape)
    rc = _parse_rects(fn, rects)
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cm, norm=norm, interpolation="nearest", aspect="equal")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    # cell grid
    if cell_in >= 0.15 and max(h, w) <= 20:  # cell lines for arrays, none for images
        _cell_grid(ax, h, w, 0.6 if cell_in < 0.35 else 0.8)
    tick_fs = float(np.clip(cell_in * 72 * 0.32, 6.0, 9.0))
    if ticks:
        xs, ys = _tick_positions(w), _tick_positions(h)
        ax.set_xticks(xs)
        ax.set_yticks(ys)
        xl = col_ticklabels if col_ticklabels is not None else [str(int(x) + col_offset) for x in xs]
        yl = row_ticklabels if row_ticklabels is not None else [str(int(y) + row_offset) for y in ys]
        ax.set_xticklabels([str(t).replace("-", MINUS) for t in xl])
        ax.set_yticklabels([str(t).replace("-", MINUS) for t in yl])
        ax.xaxis.tick_top()
        ax.tick_params(which="major", length=2, pad=1.5, labelsize=tick_fs, colors=INK, labelcolor=INK)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(MUTED)
        spine.set_linewidth(0.8)
    state = _HeatmapState(
        fn=fn,
        image=image,
        fmt=fmt,
        diverging=diverging,
        vmin=vmin,
        vmax=vmax,
        annotate=bool(annotate),
        shape=data.shape,
        row_offset=row_offset,
        col_offset=col_offset,
        cmap=cmap,
        is_div=is_div,
        cell_in=cell_in,
    )
    labels = [[formatter(v) for v in row] for row in data.tolist()]
    nchars = max((len(s) for row in labels for s in row), default=1)
    # a grid passes one size for all its panels, so that no panel's numbers look larger than another's
    state.fontsize = float(fontsize) if fontsize is not None else _fontsize_for(cell_in, nchars)
    if annotate and state.fontsize >= 4.5 and max(h, w) <= _ANNOTATE_MAX:
        for r in range(h):
            for c in range(w):
                v = data[r, c]
                color = text_color(cm(norm(v))) if np.isfinite(v) else INK
                state.texts.append(
                    ax.text(
                        c,
                        r,
                        labels[r][c],
                        ha="center",
                        va="center",
                        fontsize=state.fontsize,
                        color=color,
                        zorder=6,
                        gid="cnnlib-value",
                    )
                )
    _draw_overlays(state, ax, hl, rc, cell_in)
    if title is not None:
        ax.set_title(str(title), fontsize=title_size or float(np.clip(cell_in * 72 * 0.36, 8.0, 11.0)), pad=4)
    if colorbar:
        cb = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.03, shrink=0.9)
        cb.ax.tick_params(labelsize=tick_fs, colors=INK)
        cb.outline.set_edgecolor(MUTED)
    ax._cnnlib_heatmap = state
    return state


@_styled
def heatmap(
    data,
    ax=None,
    *,
    title=None,
    annotate=True,
    fmt=None,
    cmap=None,
    diverging=None,
    vmin=None,
    vmax=None,
    highlight=None,
    rects=None,
    colorbar=False,
    cell_size=None,
):
    """Annotated heatmap of a small 2-D array; returns the ``Axes``.

    Parameters
    ----------
    data : array (H, W); a 1-D array is drawn as one row, (1, 1, H, W) is squeezed.
    ax : draw into this Axes (its figure is left open for the caller); ``None`` makes a
        new figure sized from the array (``cell_size`` inches per cell, automatic by default).
    annotate : print each number in its cell (skipped automatically when the cells are too
        small or the array has more than 16 rows or columns, e.g. a 28x28 digit).
    fmt : ``None`` (automatic: about 3 significant digits, exact zeros as ``0``), a format
        spec such as ``'.2f'``, a ``'{:.2f}'`` string, or a callable.
    diverging : ``None`` = automatic (diverging when any entry is negative), ``True`` for
        gradients (colour scale symmetric about 0), ``False`` for a sequential scale.
    vmin, vmax : colour limits (a diverging scale uses ``max(|vmin|, |vmax|)`` on both sides).
    highlight : cells to outline: a list of ``(r, c)`` or ``(r, c, color)``, or a boolean mask.
    rects : rectangles ``(r0, c0, h, w)`` or ``(r0, c0, h, w, color)`` in cell units (a
        receptive field, a pooling window); colours cycle through ``ROUTE_COLORS``.
    colorbar : add a colour bar.

    ``update_heatmap(ax, new_data)`` redraws the same Axes in place (fast, for widgets).
    """
    fn = "heatmap"
    arr = as_array(fn, "data", data)
    if arr.ndim == 1:
        arr = arr[None, :]
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"{fn}: data must be a 2-D array (H, W), got shape {np.shape(data)}")
    if 0 in arr.shape:
        raise ValueError(f"{fn}: data must not be empty, got shape {arr.shape}")
    h, w = arr.shape
    if cell_size is not None and (not isinstance(cell_size, numbers.Real) or cell_size <= 0):
        raise ValueError(f"{fn}: cell_size must be a positive number of inches, got {cell_size!r}")
    if ax is None:
        if cell_size:
            cell = float(cell_size)
        elif max(h, w) > _ANNOTATE_MAX:  # an image (e.g. a 28x28 digit): no numbers, a compact square
            cell = float(np.clip(min(4.5 / w, 4.5 / h), 0.05, _CELL_MAX))
        else:
            cell = float(np.clip(min(7.0 / w, 5.5 / h), _CELL_MIN, _CELL_MAX))
        extra_w = 0.55 + (0.9 if colorbar else 0.0)
        extra_h = 0.45 + (0.3 if title else 0.0)
        fig = _new_figure(w * cell + extra_w, h * cell + extra_h)
        ax = fig.add_subplot(axes_class=_BookAxes)
    else:
        if not isinstance(ax, matplotlib.axes.Axes):
            raise TypeError(f"{fn}: ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        cell = float(cell_size) if cell_size else None
    _draw_heatmap(
        fn,
        ax,
        arr,
        title=title,
        annotate=annotate,
        fmt=fmt,
        cmap=cmap,
        diverging=diverging,
        vmin=vmin,
        vmax=vmax,
        highlight=highlight,
        rects=rects,
        colorbar=colorbar,
        cell_in=cell,
    )
    return ax


def update_heatmap(ax, data, *, vmin=None, vmax=None, highlight=None, rects=None, title=None, fmt=None):
    """Redraw a heatmap made by ``heatmap`` (or any cnnlib.viz figure panel) with new numbers, in place.

    ``data`` must have the heatmap's shape. Colour limits are recomputed (or taken
    from ``vmin``/``vmax``, else from the original call), cell labels and their
    black/white colour are updated; ``highlight``/``rects`` replace the previous
    overlays when given (pass ``[]`` to clear); ``fmt`` replaces the cell format. Nothing
    is re-created, so this is cheap enough for a slider callback. Returns ``ax``.
    """
    fn = "update_heatmap"
    state = getattr(ax, "_cnnlib_heatmap", None)
    if not isinstance(state, _HeatmapState):
        raise TypeError(f"{fn}: ax must be an Axes drawn by cnnlib.viz.heatmap, got {type(ax).__name__}")
    arr = as_array(fn, "data", data)
    if arr.ndim == 1:
        arr = arr[None, :]
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.shape != state.shape:
        raise ValueError(f"{fn}: data must have the heatmap's shape {state.shape}, got {np.shape(data)}")
    vmin = state.vmin if vmin is None else vmin
    vmax = state.vmax if vmax is None else vmax
    if fmt is not None:
        Formatter(fn, fmt, arr)  # validates
        state.fmt = fmt
    norm, is_div = _norm(arr, state.diverging, vmin, vmax)
    im = state.image
    if is_div != state.is_div and state.cmap is None:  # the data changed sign: switch colour maps
        im.set_cmap(_cmap(fn, None, is_div))
    state.is_div = is_div
    im.norm.vmin, im.norm.vmax = norm.vmin, norm.vmax
    im.set_data(np.ma.masked_invalid(arr))
    if state.texts:
        formatter = Formatter(fn, state.fmt, arr)
        cm = im.cmap
        for t, v in zip(state.texts, arr.reshape(-1).tolist()):
            t.set_text(formatter(v))
            t.set_color(text_color(cm(norm(v))) if math.isfinite(v) else INK)
    if highlight is not None or rects is not None:
        hl = _parse_highlight(fn, highlight, state.shape) if highlight is not None else state.highlight
        rc = _parse_rects(fn, rects) if rects is not None else state.rects
        _draw_overlays(state, ax, hl, rc, state.cell_in)
    if title is not None:
        ax.set_title(str(title))
    return ax


def _shared_norm_limits(arrays: np.ndarray, diverging) -> tuple[float, float, bool]:
    norm, is_div = _norm(arrays, diverging, None, None)
    return norm.vmin, norm.vmax, is_div


@_styled
def heatmap_grid(
    arrays,
    *,
    row_labels=None,
    col_labels=None,
    title=None,
    diverging=None,
    shared_scale=True,
    annotate=True,
    fmt=None,
    cmap=None,
):
    """A grid of annotated heatmaps for (F, C, KH, KW) kernels or (N, C, H, W) feature maps.

    Row r, column c shows ``arrays[r, c]``; a 3-D (C, H, W) array is one row, a 2-D
    array a single panel. A long single row or column (more than 4 panels, e.g. eight
    (8, 1, 3, 3) kernels) wraps into a compact block, each panel titled with its index.
    With ``shared_scale`` (default) every panel uses the same colour limits (symmetric
    about 0 when diverging) and one colour bar is drawn, so colours compare across
    panels. ``row_labels``/``col_labels`` name the rows and columns (default: the index
    ``[r, :]`` / ``[:, c]``). Returns the ``Figure``.
    """
    fn = "heatmap_grid"
    arr = as_array(fn, "arrays", arrays)
    ndim = arr.ndim
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"{fn}: arrays must be 4-D (F, C, KH, KW) / (N, C, H, W), 3-D or 2-D, got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{fn}: arrays must not be empty, got shape {arr.shape}")
    R, C, h, w = arr.shape
    if R * C > 64:
        raise ValueError(f"{fn}: at most 64 panels fit a page, got {R}x{C} = {R * C}")
    if ndim == 4:
        rows = _labels(fn, "row_labels", row_labels, R, [f"[{r}, :]" for r in range(R)])
        cols = _labels(fn, "col_labels", col_labels, C, [f"[:, {c}]" for c in range(C)])
    else:  # a 3-D stack is one row indexed by its first axis; a 2-D array one panel
        rows = _labels(fn, "row_labels", row_labels, R, [""])
        cols = _labels(fn, "col_labels", col_labels, C, [f"[{c}]" for c in range(C)] if ndim == 3 else [""])
    gap_cells = 1.1
    extra_w = 1.6 if shared_scale else 0.0
    # panels: (array, title, row label) in reading order, and the grid that holds them
    n = R * C
    flat = (R == 1 or C == 1) and n > 4
    if flat:  # a long single row or column of panels wraps into a compact block
        if C == 1:
            titles = rows if row_labels is not None else [f"[{k}, 0]" if ndim == 4 else f"[{k}]" for k in range(R)]
        else:
            titles = cols if col_labels is not None or ndim != 4 else [f"[0, {k}]" for k in range(C)]
        max_cols = max(1, int((MAX_WIDTH - 1.2 - extra_w * 0.3) / ((w + gap_cells) * 0.3)))
        nr = math.ceil(n / max_cols)
        nc = math.ceil(n / nr)
        panels = [(arr.reshape(n, h, w)[k], titles[k], "") for k in range(n)]
    else:
        nr, nc = R, C
        panels = [
            (arr[r, c], cols[c] if r == 0 else None, rows[r] if c == 0 else "") for r in range(R) for c in range(C)
        ]
    units_w = nc * w + (nc - 1) * gap_cells + extra_w + 1.2
    units_h = nr * h + (nr - 1) * gap_cells + 1.2
    cell = float(np.clip(min(MAX_WIDTH / units_w, 9.0 / units_h), 0.2, 0.5))
    fig = _new_figure(units_w * cell + 0.3, units_h * cell + (0.4 if title else 0.1))
    axs = fig.subplots(nr, nc, squeeze=False).reshape(-1)
    vmin = vmax = None
    div = diverging
    if shared_scale:
        vmin, vmax, div = _shared_norm_limits(arr, diverging)
    states = []
    label_fs = float(np.clip(cell * 72 * 0.36, 8, 11))
    # one annotation size for every panel: the one that fits the longest label of the whole grid
    nchars = max(
        max((len(Formatter(fn, fmt, data)(v)) for v in data.ravel().tolist()), default=1) for data, _, _ in panels
    )
    fontsize = _fontsize_for(cell, nchars)
    for ax, (data, panel_title, ylabel) in zip(axs, panels):
        states.append(
            _draw_heatmap(
                fn,
                ax,
                data,
                annotate=annotate,
                fmt=fmt,
                cmap=cmap,
                diverging=div,
                vmin=vmin,
                vmax=vmax,
                cell_in=cell,
                title=panel_title or None,
                fontsize=fontsize,
            )
        )
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=label_fs, rotation=0, ha="right", va="center")
    for ax in axs[len(panels) :]:
        ax.set_axis_off()
    if shared_scale:
        cb = fig.colorbar(states[0].image, ax=list(axs), fraction=0.04, pad=0.02, shrink=0.85)
        cb.ax.tick_params(labelsize=8, colors=INK)
        cb.outline.set_edgecolor(MUTED)
    if title:
        fig.suptitle(str(title), fontsize=11)
    return fig


def _labels(fn, name, labels, n, default):
    if labels is None:
        return default
    if isinstance(labels, str) or len(labels) != n:
        raise ValueError(f"{fn}: {name} must be a list of {n} labels, got {labels!r}")
    return [str(t) for t in labels]


# --------------------------------------------------------------------------- gradient flow


def _flow_panels(fn: str, what: str, x) -> list[np.ndarray]:
    """Arrays of one pipeline stage as 2-D panels: scalar (1, 1), vectors as a row, channels stacked."""
    arr = as_array(fn, what, x)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise ValueError(f"{fn}: {what} must hold one example (N = 1), got shape {arr.shape}")
        arr = arr[0]
    if arr.ndim <= 1:
        return [arr.reshape(1, -1)]
    if arr.ndim == 2:
        if arr.shape[0] == 1 or arr.shape[1] == 1:
            return [arr.reshape(1, -1)]  # a vector (the (1, K) batch layout, or a (K, 1) column) as a row
        return [arr]
    if arr.ndim == 3:
        if arr.shape[0] > 8:
            raise ValueError(f"{fn}: {what} has {arr.shape[0]} channels; the strip shows at most 8")
        return [arr[c] for c in range(arr.shape[0])]
    raise ValueError(f"{fn}: {what} must be a scalar, vector, (H, W), (C, H, W) or (1, C, H, W), got shape {arr.shape}")


def _shape_text(x) -> str:
    """The shape without leading 1s (the batch of one, a single channel): ``6×6``, ``2×4×4``, ``4``; "" for scalars."""
    shape = list(np.shape(x))
    while shape and shape[0] == 1:
        shape.pop(0)
    if len(shape) == 2 and 1 in shape:
        shape = [max(shape)]
    return "\u00d7".join(str(s) for s in shape)


def _wrap_op(op: str, width: int = 14) -> str:
    return "\n".join(textwrap.wrap(op, width=width, break_long_words=False, break_on_hyphens=False)) or op


class _Decimals:
    """A cell formatter with fixed decimals (shared by all channels of a flow stage)."""

    def __init__(self, decimals):
        self.decimals = decimals

    def __call__(self, v):
        return format_number(v, self.decimals)


_NEUTRAL = mcolors.ListedColormap(["#ffffff"], name="cnnlib_neutral")
_GRAD_INK = "#b2182b"


def _parse_stages(fn, stages, ops):
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or len(stages) == 0:
        raise TypeError(
            f"{fn}: stages must be a non-empty list of (name, value, grad) tuples, got {type(stages).__name__}"
        )
    if ops is not None and (isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) != len(stages) - 1):
        raise ValueError(f"{fn}: ops must be a list of {len(stages) - 1} operation names (one per arrow), got {ops!r}")
    parsed = []
    for k, st in enumerate(stages):
        if not isinstance(st, (tuple, list)) or len(st) not in (3, 4):
            raise TypeError(
                f"{fn}: stage {k} must be (name, value, grad) or (name, value, grad, grad_name), got {st!r}"
            )
        name = str(st[0])
        vals = _flow_panels(fn, f"stage {name!r} value", st[1])
        grads = _flow_panels(fn, f"stage {name!r} gradient", st[2]) if st[2] is not None else []
        gname = str(st[3]) if len(st) == 4 else f"\u03b4{name}"
        shp = _shape_text(st[1])
        parsed.append((name, vals, grads, gname, f"{name}  {shp}" if shp else name))
    return parsed


def _stage_style(panels: list[np.ndarray], gradient: bool) -> dict:
    """One colour scale for all channels of a stage; single numbers get a plain white cell."""
    allv = np.concatenate([p.reshape(-1) for p in panels])
    fmt = _Decimals(auto_decimals(allv))
    if all(p.size == 1 for p in panels):
        return {"cmap": _NEUTRAL, "diverging": False, "fmt": fmt}
    vmin, vmax, div = _shared_norm_limits(allv, True if gradient else None)
    return {"vmin": vmin, "vmax": vmax, "diverging": div, "fmt": fmt}


@_styled
def gradient_flow(stages, ops, *, title=None, max_width=MAX_WIDTH):
    """A strip of pipeline stages, left to right: values on top, their gradient δ below.

    ``stages`` is a list of ``(name, value, grad)`` or ``(name, value, grad, grad_name)``
    (``grad`` may be ``None``); ``ops`` names the ``len(stages) - 1`` operations, written
    on the arrows between stages (forward arrows in the value row, backward arrows in
    the δ row). Arrays may be scalars, vectors (drawn as a row), (H, W), (C, H, W)
    (channels stacked, one colour scale per stage) or (1, C, H, W). A strip wider than
    ``max_width`` inches wraps onto several lines. ``update_flow(fig, stages)`` redraws
    it in place with new numbers. Returns the ``Figure``.
    """
    fn = "gradient_flow"
    parsed = _parse_stages(fn, stages, ops)
    ops = [str(o) for o in ops]
    n = len(parsed)
    gap = 0.1  # inches between stacked channel panels
    title_h = 0.25
    band_gap = 0.16
    margin_l, margin_r = 0.42, 0.1
    col_cells = [max(max(p.shape[1] for p in v), max((p.shape[1] for p in g), default=0)) for _, v, g, _, _ in parsed]
    arrow_w = [float(np.clip(max(len(t) for t in _wrap_op(o).split("\n")) * 0.064 + 0.2, 0.6, 1.2)) for o in ops]

    def col_width(k, cell):
        _, _, _, gname, label = parsed[k]
        return max(col_cells[k] * cell, max(len(label), len(gname)) * 0.07, 0.35)

    def lines_for(cell):
        """Greedy wrapping; the arrow into stage k travels with stage k (it starts a continued line)."""
        lines, cur, width = [], [], margin_l + margin_r
        for k in range(n):
            add = (arrow_w[k - 1] if k > 0 else 0.0) + col_width(k, cell)
            if cur and width + add > max_width:
                lines.append(cur)
                cur, width = [], margin_l + margin_r
            cur.append(k)
            width += add
        lines.append(cur)
        return lines

    def band_height(k, which, cell):
        panels = parsed[k][1] if which == "v" else parsed[k][2]
        if not panels:
            return 0.0
        return sum(p.shape[0] * cell for p in panels) + gap * (len(panels) - 1)

    top = 0.45 if title else 0.1
    line_gap = 0.32

    def layout(cell):
        lines = lines_for(cell)
        geom = [
            (max(band_height(k, "v", cell) for k in ln), max(band_height(k, "g", cell) for k in ln)) for ln in lines
        ]
        heights = [title_h + hv + band_gap + (title_h + hg if hg > 0 else 0.0) for hv, hg in geom]
        return lines, geom, heights, top + sum(heights) + line_gap * (len(lines) - 1) + 0.1

    # one line when it fits with readable cells; else wrap with comfortable cells, a little
    # smaller when the figure would get very tall (many channels)
    fixed = margin_l + margin_r + sum(arrow_w)
    cell = float(min((max_width - fixed) / max(sum(col_cells), 1), 0.42))
    if cell < 0.3 or len(lines_for(cell)) > 1:
        cell = 0.4
        if layout(cell)[3] > 11.5:
            cell = 0.34
    lines, geom, heights, fig_h = layout(cell)
    widths = [
        margin_l + margin_r + sum(col_width(k, cell) + (arrow_w[k - 1] if k > 0 else 0.0) for k in ln) for ln in lines
    ]
    fig = _new_figure(max(widths), fig_h, layout=None)
    fig_w, fig_h = fig.get_size_inches()

    def add_axes(x, y_top, w, h):
        return fig.add_axes([x / fig_w, 1 - (y_top + h) / fig_h, w / fig_w, h / fig_h])

    def fig_text(x, y, text, **kw):
        return fig.text(x / fig_w, 1 - y / fig_h, text, **kw)

    def arrow(x0, x1, y, color, text=None):
        fig.add_artist(
            FancyArrowPatch(
                (x0 / fig_w, 1 - y / fig_h),
                (x1 / fig_w, 1 - y / fig_h),
                transform=fig.transFigure,
                arrowstyle="-|>",
                mutation_scale=11,
                linewidth=1.3,
                color=color,
                gid="cnnlib-arrow",
            )
        )
        if text:
            fig_text(
                (x0 + x1) / 2,
                y - 0.07,
                text,
                ha="center",
                va="bottom",
                fontsize=8,
                color=color,
                linespacing=1.1,
                gid="cnnlib-op",
            )

    panels_by_stage: dict[int, tuple[list, list]] = {}
    y = top
    for li, ln in enumerate(lines):
        hv, hg = geom[li]
        yv_top = y + title_h
        yv_mid = yv_top + hv / 2
        yg_top = yv_top + hv + band_gap + title_h
        yg_mid = yg_top + hg / 2
        fig_text(0.14, yv_mid, "values", rotation=90, ha="center", va="center", fontsize=8.5, color=MUTED)
        if hg > 0:
            fig_text(
                0.14, yg_mid, "gradients \u03b4", rotation=90, ha="center", va="center", fontsize=8.5, color=_GRAD_INK
            )
        x = margin_l
        for k in ln:
            if k > 0:
                aw = arrow_w[k - 1]
                arrow(x + 0.07, x + aw - 0.07, yv_mid, INK, _wrap_op(ops[k - 1]))
                if parsed[k - 1][2] and parsed[k][2] and hg > 0:
                    arrow(x + aw - 0.07, x + 0.07, yg_mid, _GRAD_INK)
                x += aw
            _, vals, grads, gname, label = parsed[k]
            cw = col_width(k, cell)
            axes_v, axes_g = [], []
            for which, panels, band_top, band_h, text, out in (
                ("v", vals, yv_top, hv, label, axes_v),
                ("g", grads, yg_top, hg, gname, axes_g),
            ):
                if not panels:
                    continue
                style = _stage_style(panels, which == "g")
                yy = band_top + (band_h - band_height(k, which, cell)) / 2
                for ci, p in enumerate(panels):
                    pw = p.shape[1] * cell
                    ax = add_axes(x + (cw - pw) / 2, yy, pw, p.shape[0] * cell)
                    _draw_heatmap(
                        fn, ax, p, ticks=False, cell_in=cell, title=text if ci == 0 else None, title_size=8.5, **style
                    )
                    ax.title.set_color(_GRAD_INK if which == "g" else INK)
                    if len(panels) > 1:
                        ax.set_ylabel(f"[{ci}]", fontsize=7, rotation=0, ha="right", va="center", labelpad=2)
                    out.append(ax)
                    yy += p.shape[0] * cell + gap
            panels_by_stage[k] = (axes_v, axes_g)
            x += cw
        y += heights[li] + line_gap
    if title:
        fig.suptitle(str(title), fontsize=11, y=1 - 0.1 / fig_h, va="top")
    fig._cnnlib_flow = {"stages": [(p[0], len(p[1]), len(p[2])) for p in parsed], "axes": panels_by_stage}
    return fig


def update_flow(fig, stages, grads=None):
    """Redraw a ``gradient_flow`` / ``seed002_flow`` / ``seed003_flow`` figure in place with new numbers.

    ``stages`` is the same list of ``(name, value, grad)`` tuples (same shapes) the figure
    was made from — or, for a figure made by ``seed002_flow``/``seed003_flow``, the same
    ``values`` (and ``grads``) dicts. Each panel keeps its artists (``update_heatmap``),
    so this is cheap enough for a widget callback. Returns ``fig``.
    """
    fn = "update_flow"
    info = getattr(fig, "_cnnlib_flow", None)
    if info is None:
        raise TypeError(f"{fn}: fig must be a figure made by cnnlib.viz.gradient_flow, got {type(fig).__name__}")
    if isinstance(stages, dict):
        builder = info.get("builder")
        if builder is None:
            raise TypeError(f"{fn}: a dict of values only works for figures made by seed002_flow or seed003_flow")
        stages, _ = builder(stages, grads)
    parsed = _parse_stages(fn, stages, None)
    if [(p[0], len(p[1]), len(p[2])) for p in parsed] != info["stages"]:
        raise ValueError(f"{fn}: stages must have the figure's names and channel counts {info['stages']}")
    for k, (_, vals, grads_k, _, _) in enumerate(parsed):
        axes_v, axes_g = info["axes"][k]
        for panels, axes, gradient in ((vals, axes_v, False), (grads_k, axes_g, True)):
            if not panels:
                continue
            style = _stage_style(panels, gradient)
            for p, ax in zip(panels, axes):
                if p.shape != ax._cnnlib_heatmap.shape:
                    raise ValueError(f"{fn}: stage {parsed[k][0]!r} changed shape to {p.shape}")
                update_heatmap(ax, p, vmin=style.get("vmin"), vmax=style.get("vmax"), fmt=style["fmt"])
    return fig


def _lookup(values: dict, grads: dict | None, names) -> object:
    """The gradient of stage ``names[0]`` (or an alias): ``grads[key]``, ``grads["d" + key]``, ``values["d" + key]``."""
    for src, prefix in ((grads, ""), (grads, "d"), (grads, "\u03b4"), (values, "d"), (values, "\u03b4")):
        if src is None:
            continue
        for k in names:
            if prefix + k in src:
                return src[prefix + k]
    return None


def _stages_from_dicts(fn, values, grads, spec):
    """(stages, ops) from a seed spec: rows of (key, aliases, label, grad label, op into this stage, optional)."""
    if not isinstance(values, dict):
        raise TypeError(f"{fn}: values must be a dict of the forward intermediates, got {type(values).__name__}")
    if grads is not None and not isinstance(grads, dict):
        raise TypeError(f"{fn}: grads must be a dict of gradients or None, got {type(grads).__name__}")
    stages, ops, missing = [], [], []
    for key, aliases, label, glabel, op, optional in spec:
        names = (key, *aliases)
        val = next((values[k] for k in names if k in values), None)
        if val is None:
            if not optional:
                missing.append(key)
            continue
        g = _lookup(values, grads, names)
        if stages:
            ops.append(op(values) if callable(op) else op)
        stages.append((label, val, g, glabel))
    if missing:
        raise ValueError(f"{fn}: values is missing {', '.join(missing)} (got keys {sorted(values)})")
    return stages, ops


def _label_text(y) -> str:
    y = np.asarray(y)
    if y.size == 1:
        return format_number(float(y.reshape(-1)[0]), auto_decimals(y.reshape(-1)))
    flat = y.reshape(-1)
    if np.all((flat == 0) | (flat == 1)) and flat.sum() == 1:
        return str(int(np.argmax(flat)))  # one-hot: the class index
    return "[" + " ".join(format_number(v, auto_decimals(flat)) for v in flat) + "]"


def _seed002_spec(values):
    Y = values.get("Y", values.get("y"))
    loss = "BCE" + (f", Y = {_label_text(Y)}" if Y is not None else "")
    return [
        ("X", (), "X", "\u03b4X", None, False),
        ("Z1", (), "Z1", "\u03b4Z1", "conv W1 + B1", False),
        ("A1", (), "A1", "\u03b4A1", "ReLU", False),
        ("P1", (), "P1", "\u03b4P1", "max-pool 2\u00d72", False),
        ("F", (), "F", "\u03b4F", "flatten", False),
        ("Z2", (), "Z2", "\u03b4Z2", "F\u00b7W2 + B2", False),
        ("A2", ("yhat", "\u0177"), "A2 = \u0177", "\u03b4A2", "sigmoid", False),
        ("L", (), "L", "\u03b4L", loss, False),
    ]


def _seed003_spec(values):
    y = values.get("y")
    loss = "cross-entropy" + (f", y = {_label_text(y)}" if y is not None else "")
    return [
        ("X", (), "X", "\u03b4X", None, False),
        ("Z", (), "Z", "\u03b4Z", "conv W, b", False),
        ("A", (), "A", "\u03b4A", "ReLU", False),
        ("P", (), "P", "\u03b4P", "max-pool 2\u00d72", False),
        ("p", (), "p", "\u03b4p", "flatten", False),
        ("s", (), "s", "\u03b4s = \u0177 \u2212 y", "U p + c", False),
        ("yhat", ("\u0177",), "\u0177", "\u03b4\u0177", "softmax", False),
        ("L", (), "L", "\u03b4L", loss, True),
    ]


def _seed002_stages(values, grads, fn="seed002_flow"):
    if not isinstance(values, dict):
        raise TypeError(f"{fn}: values must be a dict of the forward intermediates, got {type(values).__name__}")
    stages, ops = _stages_from_dicts(fn, values, grads, _seed002_spec(values))
    if stages[-1][2] is None:  # dL/dL = 1
        stages[-1] = (*stages[-1][:2], np.ones((1, 1)), stages[-1][3])
    return stages, ops


def _seed003_stages(values, grads, fn="seed003_flow"):
    if not isinstance(values, dict):
        raise TypeError(f"{fn}: values must be a dict of the forward intermediates, got {type(values).__name__}")
    stages, ops = _stages_from_dicts(fn, values, grads, _seed003_spec(values))
    names = [st[0] for st in stages]
    k = names.index("\u0177")
    y = values.get("y")
    if stages[k][2] is None and y is not None:  # cross-entropy's gradient with respect to ŷ: -y / ŷ
        yhat = as_array(fn, "yhat", stages[k][1])
        yy = as_array(fn, "y", y)
        if yy.size != yhat.size:
            raise ValueError(f"{fn}: y must be one-hot with the shape of yhat {yhat.shape}, got {yy.shape}")
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(yy.reshape(yhat.shape) != 0, -yy.reshape(yhat.shape) / yhat, 0.0)
        stages[k] = (*stages[k][:2], g, stages[k][3])
    if names[-1] == "L" and stages[-1][2] is None:
        stages[-1] = (*stages[-1][:2], np.ones((1, 1)), stages[-1][3])
    return stages, ops


def seed002_flow(values, grads=None, *, title="Seed 002: forward values and backward gradients"):
    """Gradient-flow strip for seed 002's network (notebook 06).

    ``values`` holds the forward intermediates ``X, Z1, A1, P1, F, Z2, A2, L`` (any
    shapes ``gradient_flow`` accepts, e.g. NCHW with N = 1) and optionally the label ``Y``
    (written on the loss arrow). Gradients are read from ``grads`` (keys ``'Z1'`` or
    ``'dZ1'``) or, when ``grads`` is None, from ``values['dZ1']`` etc.; ``δL`` defaults to
    1 and a missing gradient leaves a blank. ``update_flow(fig, values, grads)`` redraws
    the figure with new numbers. Returns the ``Figure``.
    """
    stages, ops = _seed002_stages(values, grads)
    fig = gradient_flow(stages, ops, title=title)
    fig._cnnlib_flow["builder"] = lambda v, g: _seed002_stages(v, g, "update_flow")
    return fig


def seed003_flow(values, grads=None, *, title="Seed 003: forward values and backward gradients"):
    """Gradient-flow strip for seed 003's network, X → Z → A → P → p → s → ŷ → L (notebook 07).

    ``values`` holds ``X, Z, A, P, p, s`` and ``yhat`` (or ``'ŷ'``), optionally the one-hot
    label ``y`` and the loss ``L``. Gradients come from ``grads`` (keys ``'Z'`` or ``'dZ'``)
    or from ``values['dZ']`` etc. When ``dyhat`` is not given but ``y`` is, the strip shows
    cross-entropy's ``δŷ = −y/ŷ``; the chapter's shortcut ``δs = ŷ − y`` is the δ under s.
    ``update_flow(fig, values, grads)`` redraws with new numbers. Returns the ``Figure``.
    """
    stages, ops = _seed003_stages(values, grads)
    fig = gradient_flow(stages, ops, title=title)
    fig._cnnlib_flow["builder"] = lambda v, g: _seed003_stages(v, g, "update_flow")
    return fig


# --------------------------------------------------------------------------- max-pool routes


def _pool_windows(A: np.ndarray, size, stride):
    """Each window as (pu, pv, r0, c0, winner, ties), with the winner taken from ``maxpool2d_forward``'s cache.

    ``ties`` lists the other cells of the window equal to its maximum (they get no gradient).
    Returns ``(P, cache, windows)``.
    """
    (KH, KW), (SH, SW) = size, stride
    P, cache = maxpool2d_forward(A[None, None], size=(KH, KW), stride=(SH, SW))
    rows, cols = cache.argmax_rows[0, 0], cache.argmax_cols[0, 0]  # (Ho, Wo) each
    Ho, Wo = P.shape[2:]
    out = []
    for pu in range(Ho):
        for pv in range(Wo):
            r0, c0 = pu * SH, pv * SW
            win = (int(rows[pu, pv]), int(cols[pu, pv]))
            block = A[r0 : r0 + KH, c0 : c0 + KW]
            ties = [(r0 + i, c0 + j) for i, j in zip(*np.nonzero(block == A[win])) if (r0 + i, c0 + j) != win]
            out.append((pu, pv, r0, c0, win, ties))
    return P, cache, out


@_styled
def maxpool_routes(A, dP, *, size=2, stride=None, ax=None, arrows=False):
    """Max-pool backward as routes: each δ of P goes to the winning cell of its window (notebook 04).

    Each winning cell of A (first maximum in row-major order, from ``maxpool2d_forward``)
    gets its own colour. Left: ``A`` with the winners outlined (and, for disjoint
    windows, each window dashed in its winner's colour); a cell that wins several
    overlapping windows carries a "×n" badge, a cell tying with its window's maximum a
    dotted outline. Middle: the upstream gradient ``dP``, each cell outlined in the colour
    of the cell it is sent to. Right: ``dA = maxpool2d_backward(dP)`` with the winners
    outlined (``arrows=True`` also draws an arrow from each δ of P to its cell). Where
    windows share a winner their δs add up; the sums are written out under the figure.

    ``A`` is (H, W) (or (1, 1, H, W)); ``dP`` has the pooled shape. ``ax``: None, or a
    sequence of three Axes (A, δP, δA) of one figure to draw into. Returns the ``Figure``.
    """
    fn = "maxpool_routes"
    A2 = as_2d(fn, "A", A)
    dP2 = as_2d(fn, "dP", dP)
    S_in = size if stride is None else stride
    KH, KW = positive_int(fn, "size", size)
    SH, SW = positive_int(fn, "stride", S_in)
    H, W = A2.shape
    if KH > H or KW > W:
        raise ValueError(f"{fn}: the {KH}x{KW} window does not fit A of shape {A2.shape}")
    P, cache, windows = _pool_windows(A2, (KH, KW), (SH, SW))
    Ho, Wo = P.shape[2:]
    if dP2.shape != (Ho, Wo):
        raise ValueError(
            f"{fn}: dP must have the pooled shape {(Ho, Wo)} (A {A2.shape}, size {(KH, KW)}, stride {(SH, SW)}), "
            f"got {dP2.shape}"
        )
    dA = maxpool2d_backward(dP2[None, None], cache)[0, 0]  # (H, W)

    if ax is None:
        units = W + Wo + W + 2 * 1.6 + 0.8
        cell = float(np.clip(MAX_WIDTH / units, 0.28, 0.5))
        fig = _new_figure(units * cell, max(H, Ho) * cell + 1.35)
        axs = fig.subplots(1, 3, width_ratios=[W, max(Wo, 1.6), W])
    else:
        if isinstance(ax, matplotlib.axes.Axes) or len(ax) != 3:
            raise TypeError(f"{fn}: ax must be None or a sequence of three Axes (A, dP, dA)")
        axs = list(ax)
        fig = axs[0].figure
        cell = None
    overlap = SH < KH or SW < KW
    # one colour per winning cell: every δ of P sent to the same cell shares its colour, so sums are visible
    winners_by_cell: dict[tuple[int, int], list[int]] = {}
    for k, w in enumerate(windows):
        winners_by_cell.setdefault(w[4], []).append(k)
    cell_color = {rc: ROUTE_COLORS[n % len(ROUTE_COLORS)] for n, rc in enumerate(winners_by_cell)}
    colors = [cell_color[w[4]] for w in windows]
    stride_txt = SH if SH == SW else (SH, SW)
    title_a = f"A: {KH}\u00d7{KW} windows, stride {stride_txt}" + (" (overlapping)" if overlap else "")
    stA = _draw_heatmap(fn, axs[0], A2, title=title_a, cell_in=cell)
    cell_in = cell or _cell_inches(axs[0], H, W)
    lw = float(np.clip(cell_in * 5, 1.3, 2.6))
    if not overlap:  # disjoint windows: outline each in its winner's colour
        for k, (_, _, r0, c0, _, _) in enumerate(windows):
            stA.overlays.append(
                _outline(axs[0], r0, c0, KH, KW, colors[k], lw * 0.7, inset=0.03, gid="cnnlib-rect", linestyle="--")
            )
    for k, (*_, ties) in enumerate(windows):
        for t in ties:
            stA.overlays.append(
                _outline(axs[0], t[0], t[1], 1, 1, colors[k], lw * 0.7, inset=0.2, gid="cnnlib-tie", linestyle=":")
            )
    badge_fs = float(np.clip(cell_in * 72 * 0.24, 5.5, 8))
    for rc, ks in winners_by_cell.items():
        stA.overlays.append(_outline(axs[0], *rc, 1, 1, cell_color[rc], lw, inset=0.07, gid="cnnlib-winner"))
        if len(ks) > 1:  # this cell wins several windows
            t = axs[0].text(
                rc[1] + 0.44,
                rc[0] - 0.42,
                f"\u00d7{len(ks)}",
                ha="right",
                va="top",
                fontsize=badge_fs,
                color=cell_color[rc],
                fontweight="bold",
                zorder=8,
                gid="cnnlib-count",
            )
            t.set_path_effects([patheffects.withStroke(linewidth=2, foreground="white")])
            stA.overlays.append(t)
    stP = _draw_heatmap(fn, axs[1], dP2, title="\u03b4P (upstream)", diverging=True, cell_in=cell)
    for k, (pu, pv, *_rest) in enumerate(windows):
        stP.overlays.append(_outline(axs[1], pu, pv, 1, 1, colors[k], lw, inset=0.07, gid="cnnlib-highlight"))
    stA2 = _draw_heatmap(fn, axs[2], dA, title="\u03b4A = routed \u03b4P", diverging=True, cell_in=cell)
    for rc in winners_by_cell:
        stA2.overlays.append(_outline(axs[2], *rc, 1, 1, cell_color[rc], lw, inset=0.07, gid="cnnlib-winner"))
    if arrows:
        for k, (pu, pv, _, _, win, _) in enumerate(windows):
            con = ConnectionPatch(
                xyA=(pv + 0.45, pu),
                coordsA=axs[1].transData,
                xyB=(win[1] - 0.45, win[0]),
                coordsB=axs[2].transData,
                arrowstyle="-|>",
                mutation_scale=9,
                color=colors[k],
                linewidth=1.0,
                alpha=0.8,
                connectionstyle="arc3,rad=0.1",
                gid="cnnlib-route",
                zorder=7,
            )
            fig.add_artist(con)
    notes = []
    flat_dP = dP2.reshape(-1)
    fmtP = Formatter(fn, None, dP2)
    fmtA = Formatter(fn, None, dA)
    for cell_rc, ks in sorted(winners_by_cell.items()):
        if len(ks) > 1:
            names = " + ".join(f"\u03b4P[{windows[k][0]},{windows[k][1]}]" for k in ks)
            nums = " + ".join(factor(fmtP(flat_dP[k])) for k in ks)
            notes.append(f"\u03b4A[{cell_rc[0]},{cell_rc[1]}] = {names} = {nums} = {fmtA(dA[cell_rc])}")
    if any(ties for *_, ties in windows):
        notes.append("dotted: a tie with the window's maximum; the first maximum in row-major order wins")
    covered = np.zeros(A2.shape, bool)
    for _, _, r0, c0, _, _ in windows:
        covered[r0 : r0 + KH, c0 : c0 + KW] = True
    if not covered.all():
        notes.append(f"{int((~covered).sum())} cell(s) of A lie in no window and get \u03b4 = 0")
    if notes:
        fig.supxlabel("\n".join(notes), fontsize=8.5, ha="center")
    fig._cnnlib_routes = [((pu, pv), win, float(flat_dP[k])) for k, (pu, pv, _, _, win, _) in enumerate(windows)]
    return fig


def _pair_colors(n):
    return [ROUTE_COLORS[k % len(ROUTE_COLORS)] for k in range(n)]


@_styled
def conv_dW_route(X, dZ, kernel_shape, index, *, stride=1, padding=0, dilation=1):
    """Where one kernel gradient comes from: ``dW[i, j] = Σ_{u,v} X[u*S + i*D, v*S + j*D] · δZ[u, v]``.

    Left: the input (zero-padded when ``padding > 0``; tick labels keep the original
    indices) with the patch of cells that kernel entry (i, j) touched outlined; middle:
    the upstream gradient δZ; right: dW with the chosen entry outlined. When at most
    10 products are non-zero, each X cell and its δ partner share a colour. The sum is
    written out under the figure (terms with δ = 0 left out) and ends with the value of
    ``conv2d_backward``'s dW entry. Arguments as in ``conv_dW_terms``. Returns the ``Figure``.
    """
    fn = "conv_dW_route"
    rs = dW_route(fn, X, dZ, kernel_shape, index, stride, padding, dilation)
    X3, dZ3, dW, (f, c, i, j), S, P, D, (Ho, Wo) = (
        rs.a,
        rs.b,
        rs.grad,
        rs.index,
        rs.stride,
        rs.padding,
        rs.dilation,
        rs.out_size,
    )
    Xp = np.pad(X3[c], ((P[0], P[0]), (P[1], P[1])))
    Hp, Wp = Xp.shape
    KH, KW = dW.shape[2:]
    units = Wp + Wo + KW + 2 * 1.8 + 0.6
    cell = float(np.clip(MAX_WIDTH / units, 0.26, 0.5))
    n_lines = rs.equation.count("\n") + 1
    fig = _new_figure(units * cell, max(Hp, Ho, KH) * cell + 0.9 + 0.2 * n_lines)
    axs = fig.subplots(1, 3, width_ratios=[Wp, Wo, max(KW, 1.5)])
    ctag = "" if X3.shape[0] == 1 else f"[{c}]"
    ftag = "" if dZ3.shape[0] == 1 else f"[{f}]"
    entry = rs.name[1:]  # "W[1,2]" or "W[f,c,i,j]"
    xtitle = f"X{ctag}: the cells {entry} met" + (f" (padded by {P[0] if P[0] == P[1] else P})" if any(P) else "")
    stX = _draw_heatmap(fn, axs[0], Xp, title=xtitle, cell_in=cell, row_offset=-P[0], col_offset=-P[1])
    stZ = _draw_heatmap(fn, axs[1], dZ3[f], title=f"\u03b4Z{ftag}", diverging=True, cell_in=cell)
    stW = _draw_heatmap(
        fn, axs[2], dW[f, c], title=f"dW{'' if dW.shape[:2] == (1, 1) else f'[{f},{c}]'}", diverging=True, cell_in=cell
    )
    lw = float(np.clip(cell * 5, 1.3, 2.6))
    if any(P):
        stX.overlays.append(
            _outline(axs[0], P[0], P[1], X3.shape[1], X3.shape[2], MUTED, 1.0, gid="cnnlib-pad", linestyle="--")
        )
    # the patch: every cell kernel entry (i, j) touched
    r0, c0 = i * D[0], j * D[1]
    hspan, wspan = (Ho - 1) * S[0] + 1, (Wo - 1) * S[1] + 1
    stX.overlays.append(_outline(axs[0], r0, c0, hspan, wspan, INK, lw, inset=-0.02, gid="cnnlib-rect"))
    # few products: pair each X cell with its δ by colour; many: the patch outline says it all
    if len(rs.terms) <= 10:
        for k, ((xr, xc), _, (u, v), _) in enumerate(rs.terms):
            col = ROUTE_COLORS[k % len(ROUTE_COLORS)]
            stX.overlays.append(_outline(axs[0], xr + P[0], xc + P[1], 1, 1, col, lw, inset=0.1))
            stZ.overlays.append(_outline(axs[1], u, v, 1, 1, col, lw, inset=0.1))
    if S != (1, 1) or D != (1, 1):  # strided/dilated patch: mark the touched cells that are not paired
        paired = {(t[0][0] + P[0], t[0][1] + P[1]) for t in rs.terms} if len(rs.terms) <= 10 else set()
        for u in range(Ho):
            for v in range(Wo):
                if (r0 + u * S[0], c0 + v * S[1]) not in paired:
                    stX.overlays.append(
                        _outline(
                            axs[0],
                            r0 + u * S[0],
                            c0 + v * S[1],
                            1,
                            1,
                            MUTED,
                            lw * 0.5,
                            inset=0.2,
                            linestyle=":",
                            gid="cnnlib-touched",
                        )
                    )
    stW.overlays.append(_outline(axs[2], i, j, 1, 1, INK, lw * 1.2, inset=0.04))
    fig.supxlabel(rs.equation, fontsize=float(np.clip(cell * 72 * 0.3, 8, 9.5)), multialignment="left")
    fig._cnnlib_route = rs
    return fig


@_styled
def conv_dX_route(W, dZ, input_shape, index, *, stride=1, padding=0, dilation=1):
    """Where one input gradient comes from: the full convolution of δZ with the flipped kernel.

    For each filter f a row shows the kernel ``W[f, c]`` rotated by 180° (tick labels keep
    the original indices i, j) and δZ[f] dilated by the stride and zero-padded, with the
    window that lands on ``dX[x, y]`` outlined; matching colours pair each kernel entry with
    the δ it multiplies (``u*S + i*D = x + P``). Right: dX with the entry outlined. The
    sum is written out under the figure and ends with ``conv2d_backward``'s value.
    Arguments as in ``conv_dX_terms``. Returns the ``Figure``.
    """
    fn = "conv_dX_route"
    rs = dX_route(fn, W, dZ, input_shape, index, stride, padding, dilation)
    W4, dZ3, dX, (c, x, y), S, P, D, (Ho, Wo) = (
        rs.a,
        rs.b,
        rs.grad,
        rs.index,
        rs.stride,
        rs.padding,
        rs.dilation,
        rs.out_size,
    )
    F, C, KH, KW = W4.shape
    _, H, Wd = dX.shape
    eh, ew = D[0] * (KH - 1), D[1] * (KW - 1)  # padding of the "full" map
    Gh, Gw = H + 2 * P[0] + eh, Wd + 2 * P[1] + ew
    units = KW + Gw + Wd + 2 * 1.8 + 0.6
    cell = float(np.clip(min(MAX_WIDTH / units, 8.0 / (F * max(Gh, KH) + F)), 0.22, 0.5))
    n_lines = rs.equation.count("\n") + 1
    fig = _new_figure(units * cell, F * max(Gh, KH) * cell + 0.7 * F + 0.3 + 0.2 * n_lines)
    axs = fig.subplots(F, 3, width_ratios=[max(KW, 1.5), Gw, Wd], squeeze=False)
    lw = float(np.clip(cell * 5, 1.3, 2.6))
    by_filter: dict[int, list[int]] = {}
    for k, t in enumerate(rs.terms):
        by_filter.setdefault(t[0][0], []).append(k)
    colors = _pair_colors(len(rs.terms))
    # one colour scale and number format for all filters' kernels, and one for all their δ maps
    w_lo, w_hi, w_div = _shared_norm_limits(W4[:, c], None)
    d_lo, d_hi, _ = _shared_norm_limits(dZ3, True)
    w_fmt, d_fmt = _Decimals(auto_decimals(W4[:, c])), _Decimals(auto_decimals(dZ3))
    for f in range(F):
        Wflip = W4[f, c, ::-1, ::-1]
        tag = "" if (F, C) == (1, 1) else f"[{f},{c}]"
        stW = _draw_heatmap(
            fn,
            axs[f, 0],
            Wflip,
            title=f"W{tag} rotated 180\u00b0",
            cell_in=cell,
            vmin=w_lo,
            vmax=w_hi,
            diverging=w_div,
            fmt=w_fmt,
            row_ticklabels=[str(KH - 1 - t) for t in _tick_positions(KH)],
            col_ticklabels=[str(KW - 1 - t) for t in _tick_positions(KW)],
        )
        G = np.zeros((Gh, Gw), dtype=dZ3.dtype)
        G[eh : eh + (Ho - 1) * S[0] + 1 : S[0], ew : ew + (Wo - 1) * S[1] + 1 : S[1]] = dZ3[f]
        fulltitle = f"\u03b4Z{'' if F == 1 else f'[{f}]'}" + (", dilated by the stride" if S != (1, 1) else "")
        fulltitle += ", zero-padded"
        stG = _draw_heatmap(
            fn,
            axs[f, 1],
            G,
            title=fulltitle,
            diverging=True,
            vmin=d_lo,
            vmax=d_hi,
            fmt=d_fmt,
            cell_in=cell,
            ticks=S == (1, 1),  # with stride 1 the padded map keeps δZ's indices (negative in the padding)
            row_offset=-eh,
            col_offset=-ew,
        )
        # the region holding the real δZ entries
        stG.overlays.append(
            _outline(
                axs[f, 1],
                eh,
                ew,
                (Ho - 1) * S[0] + 1,
                (Wo - 1) * S[1] + 1,
                MUTED,
                1.0,
                gid="cnnlib-pad",
                linestyle="--",
            )
        )
        # the window of the flipped kernel that lands on dX[x, y]
        wr, wc = x + P[0], y + P[1]
        stG.overlays.append(_outline(axs[f, 1], wr, wc, eh + 1, ew + 1, INK, lw, inset=-0.02, gid="cnnlib-rect"))
        for k in by_filter.get(f, []):
            (_, i, j), _, (_, u, v), _ = rs.terms[k]
            stW.overlays.append(_outline(axs[f, 0], KH - 1 - i, KW - 1 - j, 1, 1, colors[k], lw, inset=0.08))
            stG.overlays.append(_outline(axs[f, 1], eh + u * S[0], ew + v * S[1], 1, 1, colors[k], lw, inset=0.08))
        if f == 0:
            stX = _draw_heatmap(
                fn, axs[0, 2], dX[c], title=f"dX{'' if C == 1 else f'[{c}]'}", diverging=True, cell_in=cell
            )
            stX.overlays.append(_outline(axs[0, 2], x, y, 1, 1, INK, lw * 1.2, inset=0.04))
        else:
            axs[f, 2].set_axis_off()
    fig.supxlabel(rs.equation, fontsize=float(np.clip(cell * 72 * 0.3, 8, 9.5)), multialignment="left")
    fig._cnnlib_route = rs
    return fig


# --------------------------------------------------------------------------- convolution as a matrix


@_styled
def conv_matrix_figure(W, input_shape, *, stride=1, padding=0, dilation=1, annotate=None):
    """Seed 001's picture: the tied, mostly-zero weight matrix M with ``vec(Z) = M @ vec(X)``.

    Left: the kernel, each entry in its own colour; right: M (rows: output positions
    Z[u,v]; columns: input cells X[r,c]), each weight coloured by the kernel entry it
    copies and blank where M is structurally zero. A legend names the colours.
    ``annotate`` prints the weights in the cells (default: when the cells are large
    enough). Computed with ``cnnlib.conv2d_as_matrix``. Returns the ``Figure``.
    """
    from ..convmatrix import conv2d_as_matrix

    fn = "conv_matrix_figure"
    W2 = as_array(fn, "W", W, finite=True)
    if W2.ndim == 4 and W2.shape[:2] == (1, 1):
        W2 = W2[0, 0]
    if W2.ndim != 2 or 0 in W2.shape:
        raise ValueError(f"{fn}: W must be one 2-D kernel (KH, KW), got shape {np.shape(W)}")
    hw = int_tuple(fn, "input_shape", input_shape, (2,))
    try:
        M, tie = conv2d_as_matrix(W2, hw, stride=stride, padding=padding, dilation=dilation)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("conv2d_as_matrix:", f"{fn}:", 1)) from None
    KH, KW = W2.shape
    R, Cc = M.shape
    n_entries = KH * KW
    if n_entries <= len(ROUTE_COLORS):
        palette = [mcolors.to_rgb(ROUTE_COLORS[k]) for k in range(n_entries)]
    else:
        cm = matplotlib.colormaps["tab20"]
        palette = [cm(k % 20)[:3] for k in range(n_entries)]
    light = [tuple(0.55 * np.array(p) + 0.45) for p in palette]  # lighter fill so numbers stay legible
    fixed_w = 1.7  # inches: row labels, the gap between the panels, margins
    cell = float(np.clip((MAX_WIDTH - fixed_w) / (KW + Cc), 0.14, 0.45))
    legend_rows = math.ceil((n_entries + 1) / 5)
    tick_fs = float(np.clip(cell * 72 * 0.3, 5.5, 8.5))
    label_h = len(f"X[{hw[0] - 1},{hw[1] - 1}]") * 0.62 * tick_fs / 72  # the rotated column labels
    fig_h = max(R, KH) * cell + label_h + 0.35 + 0.22 * legend_rows + 0.35
    fig = _new_figure((KW + Cc) * cell + fixed_w, fig_h)
    axs = fig.subplots(1, 2, width_ratios=[KW, Cc])
    for ax, data, ids in ((axs[0], W2, np.arange(n_entries).reshape(KH, KW)), (axs[1], M, tie)):
        h, w = data.shape
        rgb = np.ones((h, w, 3))
        for k in range(n_entries):
            rgb[ids == k] = light[k]
        ax.imshow(rgb, interpolation="nearest", aspect="equal")
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        _cell_grid(ax, h, w, 0.6)
        for spine in ax.spines.values():
            spine.set_edgecolor(MUTED)
    fmt = Formatter(fn, None, W2)
    labels = [fmt(v) for v in W2.reshape(-1)]
    fs = _fontsize_for(cell, max(len(s) for s in labels))
    show_numbers = (fs >= 5.5) if annotate is None else bool(annotate)
    for r in range(KH):
        for c in range(KW):
            axs[0].text(
                c,
                r,
                f"{labels[r * KW + c]}",
                ha="center",
                va="center",
                fontsize=max(fs, 7),
                color=text_color(light[r * KW + c]),
                gid="cnnlib-value",
            )
    if show_numbers:
        for r, c in zip(*np.nonzero(tie >= 0)):
            k = tie[r, c]
            axs[1].text(
                c, r, labels[k], ha="center", va="center", fontsize=fs, color=text_color(light[k]), gid="cnnlib-value"
            )
    Wo = conv_output_size(
        hw[1],
        KW,
        positive_int(fn, "stride", stride)[1],
        nonnegative_int(fn, "padding", padding)[1],
        positive_int(fn, "dilation", dilation)[1],
    )
    axs[0].set_xticks(range(KW))
    axs[0].set_yticks(range(KH))
    axs[0].tick_params(labelsize=8)
    axs[0].xaxis.tick_top()
    axs[0].set_title("kernel W", fontsize=10)
    step_r = 1 if R <= 40 else math.ceil(R / 30)
    step_c = 1 if Cc <= 50 else math.ceil(Cc / 40)
    axs[1].set_yticks(range(0, R, step_r))
    axs[1].set_yticklabels([f"Z[{r // Wo},{r % Wo}]" for r in range(0, R, step_r)], fontsize=tick_fs)
    axs[1].set_xticks(range(0, Cc, step_c))
    axs[1].set_xticklabels(
        [f"X[{k // hw[1]},{k % hw[1]}]" for k in range(0, Cc, step_c)], fontsize=tick_fs, rotation=90
    )
    axs[1].xaxis.tick_top()
    axs[1].tick_params(which="major", length=2, pad=1.5, colors=INK)
    nz = int((tie >= 0).sum())
    axs[1].set_title(
        f"M ({R}\u00d7{Cc}): vec(Z) = M \u00b7 vec(X); {nz} of {M.size} entries are weights, "
        f"all copies of {n_entries} kernel entries",
        fontsize=9.5,
    )
    handles = [
        Patch(facecolor=light[k], edgecolor=palette[k], label=f"W[{k // KW},{k % KW}] = {labels[k]}")
        for k in range(n_entries)
    ]
    handles.append(Patch(facecolor="white", edgecolor=GRID, label="0 (no connection)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize=8.5, frameon=False)
    fig._cnnlib_matrix = (M, tie)
    return fig
