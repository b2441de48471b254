"""Annotated heatmaps: ``heatmap``, ``update_heatmap``, ``heatmap_grid``, and the panel
drawing every other figure of ``cnnlib.viz`` is made of (``draw_heatmap``).

A drawn panel's state is a ``Heatmap`` object (see its docstring for where it lives).
"""

from __future__ import annotations

import math
import numbers
import weakref

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from .._format import MINUS, Formatter, format_number
from .._validate import as_array, check_in_range, int_tuple
from ._figure import BookAxes, new_figure, styled
from ._style import DIVERGING_CMAP, GRID, INK, MAX_WIDTH, MUTED, ROUTE_COLORS, SEQUENTIAL_CMAP, text_color

__all__ = [
    "Decimals",
    "Heatmap",
    "cell_grid",
    "cell_inches",
    "draw_heatmap",
    "fontsize_for",
    "heatmap",
    "heatmap_grid",
    "heatmap_of",
    "outline",
    "route_color",
    "shared_norm_limits",
    "tick_positions",
    "update_heatmap",
]

_CELL_MAX = 0.55  # inches per heatmap cell
_CELL_MIN = 0.26
_ANNOTATE_MAX = 16  # arrays larger than this along an axis are drawn without numbers

# --------------------------------------------------------------------------- shared drawing helpers


def fontsize_for(cell_in: float, nchars: int, *, largest: float = 11.0) -> float:
    """Font size (pt) so that ``nchars`` characters fit in a cell ``cell_in`` inches wide."""
    cell_pt = cell_in * 72.0
    return float(min(largest, 0.42 * cell_pt, 1.5 * cell_pt / max(nchars, 1)))


class Decimals:
    """A cell formatter with fixed decimals (shared by all panels drawn on one scale)."""

    def __init__(self, decimals):
        self.decimals = decimals

    def __call__(self, v):
        return format_number(v, self.decimals)


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


def shared_norm_limits(arrays: np.ndarray, diverging) -> tuple[float, float, bool]:
    """``(vmin, vmax, diverging)`` of one colour scale for all of ``arrays`` (panels compared by colour)."""
    norm, is_div = _norm(arrays, diverging, None, None)
    return norm.vmin, norm.vmax, is_div


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


def route_color(k: int) -> str:
    """The ``k``-th colour of ``ROUTE_COLORS``, cycling (windows, routes, product pairs)."""
    return ROUTE_COLORS[k % len(ROUTE_COLORS)]


def cell_inches(ax, h: int, w: int) -> float:
    """The side in inches of one cell of an (h, w) array drawn to fill ``ax``."""
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position()
    return float(min(pos.width * fig_w / max(w, 1), pos.height * fig_h / max(h, 1)))


def tick_positions(n: int) -> np.ndarray:
    """The indices labelled along an axis of ``n`` cells (every one up to 16, else about ten)."""
    step = 1 if n <= 16 else math.ceil(n / 10)
    return np.arange(0, n, step)


def _as_rows(arr: np.ndarray) -> np.ndarray:
    """A 1-D array as one row; leading axes of length 1 ((1, 1, H, W)) squeezed away."""
    if arr.ndim == 1:
        arr = arr[None, :]
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    return arr


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


def outline(ax, r, c, h, w, color, lw, *, inset=0.0, gid="cnnlib-highlight", linestyle="-") -> Rectangle:
    """Outline the ``h`` x ``w`` cells from cell (r, c) of a heatmap (white halo, drawn over the numbers' cells)."""
    rect = Rectangle(
        (c - 0.5 + inset, r - 0.5 + inset),
        w - 2 * inset,
        h - 2 * inset,
        fill=False,
        edgecolor=color,
        linewidth=lw,
        linestyle=linestyle,
        zorder=5,
        gid=gid,
        clip_on=False,
    )
    rect.set_path_effects([patheffects.withStroke(linewidth=lw + 2.2, foreground="white"), patheffects.Normal()])
    ax.add_patch(rect)
    return rect


def cell_grid(ax, h: int, w: int, lw: float):
    """Thin lines between the cells: one LineCollection (cheaper to draw than minor-tick grid lines)."""
    segs = [((x, -0.5), (x, h - 0.5)) for x in np.arange(0.5, w - 0.5)]
    segs += [((-0.5, y), (w - 0.5, y)) for y in np.arange(0.5, h - 0.5)]
    if segs:
        ax.add_collection(LineCollection(segs, colors=GRID, linewidths=lw, zorder=2, gid="cnnlib-grid"), autolim=False)


# --------------------------------------------------------------------------- the state of a drawn panel


class Heatmap:
    """One drawn heatmap panel: its artists and the colour and number choices ``update`` reuses.

    ``heatmap`` returns the ``Axes`` — the notebooks and tests use the result as one
    (``get_title``, ``figure``, ``texts``), and a given ``ax`` comes back as itself — so the
    state cannot be the return value. Instead this module keeps a registry, keyed weakly by
    the Axes, that ``update_heatmap`` and ``heatmap_of`` read. A ``Heatmap`` holds its Axes
    and artists through weak proxies only (the Axes owns them), so the registry never keeps
    a closed figure alive.
    """

    def __init__(self, ax, image, *, shape, fmt, diverging, vmin, vmax, cmap, is_div, cell_in, fontsize):
        self.ax = weakref.proxy(ax)
        self.image = weakref.proxy(image)
        self.shape = shape
        self.fmt = fmt
        self.diverging = diverging
        self.vmin = vmin
        self.vmax = vmax
        self.cmap = cmap
        self.is_div = is_div
        self.cell_in = cell_in
        self.fontsize = fontsize
        self.texts = []  # the cell labels, row-major
        self.marks = []  # the outlines that ``update(highlight=..., rects=...)`` replaces
        self.highlight = []
        self.rects = []

    def mark(self, r, c, h, w, color, lw, **style) -> None:
        """Outline cells like ``outline``; the outline belongs to the highlights ``update`` replaces."""
        self.marks.append(weakref.proxy(outline(self.ax, r, c, h, w, color, lw, **style)))

    def set_marks(self, highlight, rects) -> None:
        """(Re)draw the highlight and rectangle outlines (parsed ``highlight``/``rects`` arguments)."""
        for artist in self.marks:
            artist.remove()
        self.marks = []
        self.highlight, self.rects = list(highlight), list(rects)
        lw = float(np.clip(self.cell_in * 5.0, 1.3, 2.6))
        for r, c, color in highlight:
            self.mark(r, c, 1, 1, color or INK, lw, inset=0.06)
        for k, (r0, c0, h, w, color) in enumerate(rects):
            color = color or route_color(k)
            self.mark(r0, c0, h, w, color, lw, inset=0.03, gid="cnnlib-rect")

    def update(self, data, *, vmin=None, vmax=None, highlight=None, rects=None, title=None, fmt=None) -> None:
        """Redraw with new numbers in place (see ``update_heatmap``)."""
        fn = "update_heatmap"
        arr = _as_rows(as_array(fn, "data", data))
        if arr.shape != self.shape:
            raise ValueError(f"{fn}: data must have the heatmap's shape {self.shape}, got {np.shape(data)}")
        vmin = self.vmin if vmin is None else vmin
        vmax = self.vmax if vmax is None else vmax
        if fmt is not None:
            Formatter(fn, fmt, arr)  # validates
            self.fmt = fmt
        norm, is_div = _norm(arr, self.diverging, vmin, vmax)
        im = self.image
        if is_div != self.is_div and self.cmap is None:  # the data changed sign: switch colour maps
            im.set_cmap(_cmap(fn, None, is_div))
        self.is_div = is_div
        im.norm.vmin, im.norm.vmax = norm.vmin, norm.vmax
        im.set_data(np.ma.masked_invalid(arr))
        if self.texts:
            formatter = Formatter(fn, self.fmt, arr)
            cm = im.cmap
            for t, v in zip(self.texts, arr.reshape(-1).tolist()):
                t.set_text(formatter(v))
                t.set_color(text_color(cm(norm(v))) if math.isfinite(v) else INK)
        if highlight is not None or rects is not None:
            hl = _parse_highlight(fn, highlight, self.shape) if highlight is not None else self.highlight
            rc = _parse_rects(fn, rects) if rects is not None else self.rects
            self.set_marks(hl, rc)
        if title is not None:
            self.ax.set_title(str(title))


_HEATMAPS: weakref.WeakKeyDictionary[Axes, Heatmap] = weakref.WeakKeyDictionary()


def heatmap_of(ax) -> Heatmap | None:
    """The ``Heatmap`` last drawn into ``ax`` by ``cnnlib.viz``, or None."""
    return _HEATMAPS.get(ax) if isinstance(ax, Axes) else None


def draw_heatmap(
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
) -> Heatmap:
    """Draw the 2-D array ``data`` into ``ax`` as one panel; errors name ``fn``. Returns its ``Heatmap``."""
    h, w = data.shape
    cell_in = cell_in or cell_inches(ax, h, w)
    norm, is_div = _norm(data, diverging, vmin, vmax)
    cm = _cmap(fn, cmap, is_div)
    formatter = Formatter(fn, fmt, data)
    hl = _parse_highlight(fn, highlight, data.shape)
    rc = _parse_rects(fn, rects)
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cm, norm=norm, interpolation="nearest", aspect="equal")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    if cell_in >= 0.15 and max(h, w) <= 20:  # cell lines for arrays, none for images
        cell_grid(ax, h, w, 0.6 if cell_in < 0.35 else 0.8)
    tick_fs = float(np.clip(cell_in * 72 * 0.32, 6.0, 9.0))
    if ticks:
        xs, ys = tick_positions(w), tick_positions(h)
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
    labels = [[formatter(v) for v in row] for row in data.tolist()]
    nchars = max((len(s) for row in labels for s in row), default=1)
    panel = Heatmap(
        ax,
        image,
        shape=data.shape,
        fmt=fmt,
        diverging=diverging,
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        is_div=is_div,
        cell_in=cell_in,
        # a grid passes one size for all its panels, so that no panel's numbers look larger than another's
        fontsize=float(fontsize) if fontsize is not None else fontsize_for(cell_in, nchars),
    )
    if annotate and panel.fontsize >= 4.5 and max(h, w) <= _ANNOTATE_MAX:
        for r in range(h):
            for c in range(w):
                v = data[r, c]
                color = text_color(cm(norm(v))) if np.isfinite(v) else INK
                text = ax.text(
                    c,
                    r,
                    labels[r][c],
                    ha="center",
                    va="center",
                    fontsize=panel.fontsize,
                    color=color,
                    zorder=6,
                    gid="cnnlib-value",
                )
                panel.texts.append(weakref.proxy(text))
    panel.set_marks(hl, rc)
    if title is not None:
        ax.set_title(str(title), fontsize=title_size or float(np.clip(cell_in * 72 * 0.36, 8.0, 11.0)), pad=4)
    if colorbar:
        cb = ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.03, shrink=0.9)
        cb.ax.tick_params(labelsize=tick_fs, colors=INK)
        cb.outline.set_edgecolor(MUTED)
    _HEATMAPS[ax] = panel
    return panel


# --------------------------------------------------------------------------- public figures


@styled
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

    The book's picture of every array, from seed 000's input (chapter 00) and the window of
    eq. 2.1 (chapter 02) to the dilated δ of eq. 8.5 (chapter 08).

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
    arr = _as_rows(as_array(fn, "data", data))
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
        fig = new_figure(w * cell + extra_w, h * cell + extra_h)
        ax = fig.add_subplot(axes_class=BookAxes)
    else:
        if not isinstance(ax, Axes):
            raise TypeError(f"{fn}: ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        cell = float(cell_size) if cell_size else None
    draw_heatmap(
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
    is re-created, so this is cheap enough for a slider callback (chapter 10's im2col
    explorer, eq. 10.1). Returns ``ax``.
    """
    panel = heatmap_of(ax)
    if panel is None:
        raise TypeError(f"update_heatmap: ax must be an Axes drawn by cnnlib.viz.heatmap, got {type(ax).__name__}")
    panel.update(data, vmin=vmin, vmax=vmax, highlight=highlight, rects=rects, title=title, fmt=fmt)
    return ax


def _labels(fn, name, labels, n, default):
    if labels is None:
        return default
    if isinstance(labels, str) or len(labels) != n:
        raise ValueError(f"{fn}: {name} must be a list of {n} labels, got {labels!r}")
    return [str(t) for t in labels]


@styled
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

    E.g. chapter 07's kernels ``W[f, c]`` and their gradients (eq. (2)), chapter 02's
    multi-channel convolution (eq. 2.3), chapter 09's kernels during training.
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
    fig = new_figure(units_w * cell + 0.3, units_h * cell + (0.4 if title else 0.1))
    axs = fig.subplots(nr, nc, squeeze=False).reshape(-1)
    vmin = vmax = None
    div = diverging
    if shared_scale:
        vmin, vmax, div = shared_norm_limits(arr, diverging)
    label_fs = float(np.clip(cell * 72 * 0.36, 8, 11))
    # one annotation size for every panel: the one that fits the longest label of the whole grid
    nchars = max(
        max((len(Formatter(fn, fmt, data)(v)) for v in data.ravel().tolist()), default=1) for data, _, _ in panels
    )
    fontsize = fontsize_for(cell, nchars)
    for ax, (data, panel_title, ylabel) in zip(axs, panels):
        draw_heatmap(
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
        if ylabel:
            ax.set_ylabel(ylabel, fontsize=label_fs, rotation=0, ha="right", va="center")
    for ax in axs[len(panels) :]:
        ax.set_axis_off()
    if shared_scale:
        cb = fig.colorbar(axs[0].images[0], ax=list(axs), fraction=0.04, pad=0.02, shrink=0.85)
        cb.ax.tick_params(labelsize=8, colors=INK)
        cb.outline.set_edgecolor(MUTED)
    if title:
        fig.suptitle(str(title), fontsize=11)
    return fig
