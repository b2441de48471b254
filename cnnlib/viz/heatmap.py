"""Annotated heatmaps: ``heatmap``, ``update_heatmap``, ``heatmap_grid``, the panel drawing
every other figure of ``cnnlib.viz`` is made of (``draw_heatmap``), and the colour key under
a figure (``add_colour_key``).

A panel's colours follow what its array means (``_style.colour_limits``): signed on the
diverging map centred at 0, non-negative on the grey map from 0. A drawn panel's state is
a ``Heatmap`` object (see its docstring for where it lives).
"""

from __future__ import annotations

import math
import numbers
import textwrap
import weakref

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Rectangle

from .._format import MINUS, Formatter, format_number, readout_number
from .._validate import as_array, check_in_range, int_tuple
from ._alt import describe
from ._figure import BookAxes, new_figure, styled
from ._style import (
    GRID,
    INK,
    MAX_WIDTH,
    MIN_FONT_PT,
    MUTED,
    NAN_COLOR,
    ROUTE_COLORS,
    cmap_for,
    colour_limits,
    text_color,
)

__all__ = [
    "KEY_PT",
    "TICK_MIN_PT",
    "Decimals",
    "Heatmap",
    "add_colour_key",
    "cell_grid",
    "check_nonnegative",
    "cell_inches",
    "draw_heatmap",
    "fontsize_for",
    "heatmap",
    "heatmap_grid",
    "heatmap_of",
    "outline",
    "key_height",
    "route_color",
    "tick_fontsize",
    "tick_positions",
    "update_heatmap",
]

_CELL_MAX = 0.55  # inches per heatmap cell
_CELL_MIN = 0.26
_ANNOTATE_MAX = 16  # arrays larger than this along an axis are drawn without numbers
KEY_PT = 7.0  # the colour key's font size: 9.7 px at the book's dpi
_KEY_TEXT = {True: "red + / blue \u2212 (signed, white = 0)", False: "grey = magnitude of a non-negative value"}
_DIVERGING_HINT = "pass diverging=True for a signed quantity (a gradient, pre-activation or weight)"

# --------------------------------------------------------------------------- shared drawing helpers


def fontsize_for(cell_in: float, nchars: int, *, largest: float = 11.0) -> float:
    """Font size (pt) so that ``nchars`` characters fit in a cell ``cell_in`` inches wide.

    May be below ``MIN_FONT_PT``: then the numbers do not fit and are left out, never shrunk.
    """
    cell_pt = cell_in * 72.0
    return float(min(largest, 0.42 * cell_pt, 1.5 * cell_pt / max(nchars, 1)))


#: the smallest tick label (pt): 9.7 px at the book's dpi, a little above ``MIN_FONT_PT`` so that
#: indices under small cells stay easy to read; ``tick_positions`` thins them out where they do not fit
TICK_MIN_PT = 7.0


def tick_fontsize(cell_in: float) -> float:
    """Tick-label size (pt) for cells ``cell_in`` inches wide: 0.32 of a cell, from ``TICK_MIN_PT`` to 9."""
    return float(np.clip(cell_in * 72 * 0.32, TICK_MIN_PT, 9.0))


def check_nonnegative(fn: str, what: str, values: np.ndarray, hint: str = _DIVERGING_HINT) -> None:
    """Raise unless ``values`` (a non-negative quantity, drawn on the sequential scale) has no negative entry."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() < 0:
        raise ValueError(
            f"{fn}: {what} has negative entries (min {readout_number(finite.min())}), but a non-negative "
            f"quantity is drawn on the sequential scale; {hint}"
        )


def _key_text(kinds, width_in: float, fontsize: float) -> str:
    """The colour key for the scales ``kinds`` (True: signed, False: non-negative), wrapped to ``width_in``."""
    if not kinds:
        return ""
    text = "colours: " + "; ".join(_KEY_TEXT[k] for k in (True, False) if k in kinds)
    chars = max(16, int(width_in * 72 / (0.6 * fontsize)))  # DejaVu Sans: about 0.55 em a character
    return "\n".join(textwrap.wrap(text, chars, break_on_hyphens=False))


def key_height(kinds, width_in: float) -> float:
    """Inches the colour key of ``kinds`` takes under a figure ``width_in`` wide (0 without a colour scale)."""
    text = _key_text(kinds, width_in, KEY_PT)
    return (text.count("\n") + 1) * KEY_PT * 1.3 / 72 + 0.06 if text else 0.0


class Decimals:
    """A cell formatter with fixed decimals (shared by all panels drawn on one scale)."""

    def __init__(self, decimals):
        self.decimals = decimals

    def __call__(self, v):
        return format_number(v, self.decimals)


def _cmap(fn: str, cmap, signed: bool):
    if cmap is None:
        return cmap_for(signed)
    try:
        cm = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    except KeyError:
        raise ValueError(f"{fn}: unknown colour map {cmap!r}") from None
    if not isinstance(cm, mcolors.Colormap):
        raise TypeError(f"{fn}: cmap must be a colour-map name or Colormap, got {type(cmap).__name__}")
    return cm.with_extremes(bad=NAN_COLOR)


def route_color(k: int) -> str:
    """The ``k``-th colour of ``ROUTE_COLORS``, cycling (windows, routes, product pairs)."""
    return ROUTE_COLORS[k % len(ROUTE_COLORS)]


def cell_inches(ax, h: int, w: int) -> float:
    """The side in inches of one cell of an (h, w) array drawn to fill ``ax``."""
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position()
    return float(min(pos.width * fig_w / max(w, 1), pos.height * fig_h / max(h, 1)))


def tick_positions(n: int, cell_in: float | None = None, nchars: int | None = None) -> np.ndarray:
    """The indices labelled along an axis of ``n`` cells: every one up to 16, else about ten.

    With ``cell_in``, only every k-th when labels of ``nchars`` characters (default: those
    of ``n - 1``) at ``tick_fontsize(cell_in)`` would not fit side by side.
    """
    step = 1 if n <= 16 else math.ceil(n / 10)
    if cell_in:
        label_pt = tick_fontsize(cell_in) * (0.62 * (nchars or len(str(n - 1))) + 0.5)  # a label and a gap
        step = max(step, math.ceil(label_pt / (cell_in * 72)))
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

    def __init__(self, ax, image, *, shape, fmt, signed, vmin, vmax, cmap, cell_in, fontsize):
        self.ax = weakref.proxy(ax)
        self.image = weakref.proxy(image)
        self.shape = shape
        self.fmt = fmt
        self.signed = signed  # the quantity's meaning: diverging scale when True, grey from 0 when False
        self.vmin = vmin
        self.vmax = vmax
        self.cmap = cmap  # a caller's colour map, or None for the book's
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
        if not self.signed:
            check_nonnegative(fn, "data", arr, "draw a signed quantity with diverging=True")
        vmin = self.vmin if vmin is None else vmin
        vmax = self.vmax if vmax is None else vmax
        if fmt is not None:
            Formatter(fn, fmt, arr)  # validates
            self.fmt = fmt
        im = self.image
        im.norm.vmin, im.norm.vmax = colour_limits(arr, signed=self.signed, vmin=vmin, vmax=vmax)
        im.set_data(np.ma.masked_invalid(arr))
        if self.texts:
            formatter = Formatter(fn, self.fmt, arr)
            cm, norm = im.cmap, im.norm
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
    signed: bool = False,
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
    """Draw the 2-D array ``data`` into ``ax`` as one panel; errors name ``fn``. Returns its ``Heatmap``.

    ``signed`` says what ``data`` means: a signed quantity (diverging scale centred at 0) or
    a non-negative one (grey from 0; the caller has checked the sign with ``check_nonnegative``).
    Row and column tick labels, when given, name every index; the labels drawn are those
    ``tick_positions`` picks, so that none is smaller than ``MIN_FONT_PT``. Numbers that do not
    fit their cells at ``MIN_FONT_PT`` are left out.
    """
    h, w = data.shape
    cell_in = cell_in or cell_inches(ax, h, w)
    norm = mcolors.Normalize(*colour_limits(data, signed=signed, vmin=vmin, vmax=vmax))
    cm = _cmap(fn, cmap, signed)
    formatter = Formatter(fn, fmt, data)
    hl = _parse_highlight(fn, highlight, data.shape)
    rc = _parse_rects(fn, rects)
    image = ax.imshow(np.ma.masked_invalid(data), cmap=cm, norm=norm, interpolation="nearest", aspect="equal")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    if cell_in >= 0.15 and max(h, w) <= 20:  # cell lines for arrays, none for images
        cell_grid(ax, h, w, 0.6 if cell_in < 0.35 else 0.8)
    tick_fs = tick_fontsize(cell_in)
    if ticks:
        xl = col_ticklabels if col_ticklabels is not None else [str(x + col_offset) for x in range(w)]
        yl = row_ticklabels if row_ticklabels is not None else [str(y + row_offset) for y in range(h)]
        xs = tick_positions(w, cell_in, max(len(str(t)) for t in xl))
        ys = tick_positions(h, cell_in, 1)  # rows: labels are stacked, their height must fit a cell
        # style first, so the ticks are created styled (restyling made ticks is the slow part of a grid)
        ax.xaxis.tick_top()
        ax.tick_params(which="major", length=2, pad=1.5, labelsize=tick_fs, colors=INK, labelcolor=INK)
        ax.set_xticks(xs, [str(xl[x]).replace("-", MINUS) for x in xs])
        ax.set_yticks(ys, [str(yl[y]).replace("-", MINUS) for y in ys])
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
        signed=signed,
        vmin=vmin,
        vmax=vmax,
        cmap=cmap,
        cell_in=cell_in,
        # a grid passes one size for all its panels, so that no panel's numbers look larger than another's
        fontsize=float(fontsize) if fontsize is not None else fontsize_for(cell_in, nchars),
    )
    if annotate and panel.fontsize >= MIN_FONT_PT and max(h, w) <= _ANNOTATE_MAX:
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


#: the notes and font size each figure's key was last written with, so that a panel drawn later
#: (``heatmap(ax=...)``) rewrites the key with the same notes
_KEYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def add_colour_key(fig, notes: str = "", *, fontsize: float = KEY_PT):
    """Write under ``fig`` which colour scales its heatmap panels use, after ``notes`` (if any).

    One line (wrapped to the figure's width) per figure, e.g. "colours: red + / blue −
    (signed, white = 0); grey = magnitude of a non-negative value", naming only the scales
    drawn; panels with a caller's ``cmap`` are not described. ``notes`` (an equation, the
    sums of a route) come first, the key last, as the figure's ``supxlabel``. Every figure
    ``cnnlib.viz`` makes ends with one, and ``heatmap(ax=...)`` rewrites the key of the figure
    it draws into, so a figure composed of heatmap panels names its scales without a call.
    Returns the ``supxlabel`` Text, or None when there is nothing to write.
    """
    _KEYS[fig] = (notes, fontsize)
    kinds = {p.signed for p in map(heatmap_of, fig.axes) if p is not None and p.cmap is None}
    text = "\n".join(t for t in (notes, _key_text(kinds, fig.get_size_inches()[0], fontsize)) if t)
    if not text:
        return None
    return fig.supxlabel(text, fontsize=fontsize, color=MUTED if not notes else INK, multialignment="left")


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
    diverging : what the array means, never decided from its entries. ``True`` for a signed
        quantity (a gradient δ, a pre-activation Z, a weight or bias): the diverging map,
        symmetric about 0 (blue −, white 0, red +). ``None`` or ``False`` (default) for a
        non-negative one (an input ≥ 0, an activation, a pooled map, a probability): the grey
        map from 0; a negative entry then raises ``ValueError``.
    cmap : a colour-map name or ``Colormap`` instead of the book's map for that meaning.
    vmin, vmax : colour limits (a diverging scale uses ``max(|vmin|, |vmax|)`` on both sides;
        a sequential one runs from 0 unless ``vmin`` is given).
    highlight : cells to outline: a list of ``(r, c)`` or ``(r, c, color)``, or a boolean mask.
    rects : rectangles ``(r0, c0, h, w)`` or ``(r0, c0, h, w, color)`` in cell units (a
        receptive field, a pooling window); colours cycle through ``ROUTE_COLORS``.
    colorbar : add a colour bar.

    The figure ends with a one-line colour key (``add_colour_key``), also when the panel
    is drawn into a given ``ax``: each call rewrites the key of that figure, so a figure
    composed of several ``heatmap`` panels names every scale it uses. Cell numbers and tick labels are never
    smaller than 9 px: numbers that do not fit are left out, tick labels thinned out.
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
    signed = bool(diverging)
    if not signed:
        check_nonnegative(fn, "data", arr)
    new = ax is None
    if new:
        if cell_size:
            cell = float(cell_size)
        elif max(h, w) > _ANNOTATE_MAX:  # an image (e.g. a 28x28 digit): no numbers, a compact square
            cell = float(np.clip(min(4.5 / w, 4.5 / h), 0.05, _CELL_MAX))
        else:
            cell = float(np.clip(min(7.0 / w, 5.5 / h), _CELL_MIN, _CELL_MAX))
        extra_w = 0.55 + (0.9 if colorbar else 0.0)
        extra_h = 0.45 + (0.3 if title else 0.0) + (0.0 if cmap else key_height({signed}, w * cell + extra_w))
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
        signed=signed,
        vmin=vmin,
        vmax=vmax,
        highlight=highlight,
        rects=rects,
        colorbar=colorbar,
        cell_in=cell,
    )
    # a new figure gets its key; a composed one has it rewritten to name every scale drawn so far
    notes, fontsize = _KEYS.get(ax.figure, ("", KEY_PT))
    add_colour_key(ax.figure, notes, fontsize=fontsize)
    return ax


def update_heatmap(ax, data, *, vmin=None, vmax=None, highlight=None, rects=None, title=None, fmt=None):
    """Redraw a heatmap made by ``heatmap`` (or any cnnlib.viz figure panel) with new numbers, in place.

    ``data`` must have the heatmap's shape and meaning: a heatmap drawn for a non-negative
    quantity raises on a negative entry. Colour limits are recomputed (or taken
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
    ``diverging`` says what the arrays mean, as in ``heatmap``: ``True`` for signed
    quantities (kernels, gradients, pre-activations), ``None``/``False`` for non-negative ones
    (inputs, activations; a negative entry raises ``ValueError``).
    With ``shared_scale`` (default) every panel uses the same colour limits (symmetric
    about 0 when diverging) and one colour bar is drawn, so colours compare across
    panels. ``row_labels``/``col_labels`` name the rows and columns (default: the index
    ``[r, :]`` / ``[:, c]``). Every panel's numbers have one size, at least 9 px, or are
    left out when they do not fit; a colour key ends the figure. Returns the ``Figure``.
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
    signed = bool(diverging)
    if not signed:
        check_nonnegative(fn, "arrays", arr)
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
        names = list(titles)
    else:
        nr, nc = R, C
        panels = [
            (arr[r, c], cols[c] if r == 0 else None, rows[r] if c == 0 else "") for r in range(R) for c in range(C)
        ]
        names = [" ".join(str(t) for t in (rows[r], cols[c]) if str(t).strip()) for r in range(R) for c in range(C)]
    units_w = nc * w + (nc - 1) * gap_cells + extra_w + 1.2
    units_h = nr * h + (nr - 1) * gap_cells + 1.2
    cell = float(np.clip(min(MAX_WIDTH / units_w, 9.0 / units_h), 0.2, 0.5))
    fig_w = units_w * cell + 0.3
    key_h = 0.0 if cmap else key_height({signed}, fig_w)
    fig = new_figure(fig_w, units_h * cell + (0.4 if title else 0.1) + key_h)
    axs = fig.subplots(nr, nc, squeeze=False).reshape(-1)
    vmin = vmax = None
    if shared_scale:
        vmin, vmax = colour_limits(arr, signed=signed)
    label_fs = float(np.clip(cell * 72 * 0.36, 8, 11))
    # one annotation size for every panel: the one that fits the longest label of the whole grid
    nchars = max(
        max((len(Formatter(fn, fmt, data)(v)) for v in data.ravel().tolist()), default=1) for data, _, _ in panels
    )
    fontsize = fontsize_for(cell, nchars)
    for ax, (data, panel_title, ylabel), name in zip(axs, panels, names):
        if name.strip():
            describe(ax, name)
        draw_heatmap(
            fn,
            ax,
            data,
            annotate=annotate,
            fmt=fmt,
            cmap=cmap,
            signed=signed,
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
    what = "signed values, blue negative, red positive" if signed else "non-negative values, grey from 0"
    describe(fig, f"{str(title) + ': ' if title else ''}{len(panels)} heat maps of {h}×{w} arrays ({what}).")
    add_colour_key(fig)
    return fig
