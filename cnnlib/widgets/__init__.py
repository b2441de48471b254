"""Interactive explorers: move an input cell or a kernel entry and watch values and gradients change.

Each explorer is one call that returns a displayable ipywidgets widget (a ``VBox``)::

    from cnnlib.widgets import conv_forward_explorer
    ex = conv_forward_explorer()
    ex                      # the live widget (JupyterLab, Colab, VS Code)
    ex.static_figure()      # a plain matplotlib Figure of the current state (GitHub, nbviewer)
    ex.state["Z"]           # the arrays behind every picture

The six explorers:

* :func:`conv_forward_explorer`   — notebook 02: the window slides over X and fills Z;
* :func:`conv_backward_explorer`  — notebook 03: dW, db and dX from an upstream δ, with routes;
* :func:`pool_backward_explorer`  — notebook 04: max / average pooling routes δ of P back to A;
* :func:`pipeline_explorer`       — notebook 06: seed 002's whole network, every value and gradient;
* :func:`dense_softmax_explorer`  — notebook 01: logits, softmax, cross-entropy and δ = ŷ − y;
* :func:`channels_explorer`       — notebook 07: several channels and filters, dW[f, c] and dX[c] with routes.

Everything is computed by cnnlib's own layer functions; the pictures only show the numbers.

How it stays fast (a slider move costs well under 30 ms): each explorer owns one
Agg-backed matplotlib figure whose static parts (titles, arrows, axes) are drawn
once and cached as a background. A move restores that background, paints the
heat maps, outlines and numbers straight into the pixel buffer (NumPy, with glyphs
rendered once by matplotlib and reused), and sends the PNG bytes to an
``ipywidgets.Image``. No figure is ever rebuilt and none is registered with pyplot.

Only APIs shared by ipywidgets 7.7 (Google Colab) and 8.x are used, with inline
matplotlib; no ipympl. Every control combination either draws or shows a short
message in the widget — never a traceback.
"""

from __future__ import annotations

import html
import math
import re
import struct
import textwrap
import zlib

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, Rectangle

from .. import viz as _viz
from .._format import cell_label, factor, readout_number
from ..routes import dW_route, dX_route
from ..seeds import seed002_network
from ..viz._style import relative_luminance

try:  # the widgets are optional at import time so that the static parts can be documented anywhere
    import ipywidgets as widgets
except ImportError:  # pragma: no cover - exercised only without ipywidgets
    widgets = None

__all__ = [
    "conv_forward_explorer",
    "conv_backward_explorer",
    "pool_backward_explorer",
    "pipeline_explorer",
    "dense_softmax_explorer",
    "channels_explorer",
]

DPI = 100

# Colour conventions: those of cnnlib.viz. Gradients use a diverging map centred on 0
# (blue negative, white 0, red positive); values that are never negative (inputs,
# activations) a light-to-dark sequential map; a value array that has a negative
# entry switches to the diverging map, as viz.heatmap does.
CMAPS = {"grad": _viz.DIVERGING_CMAP, "value": _viz.SEQUENTIAL_CMAP}

_GAP = np.array([205, 205, 205], np.uint8)  # lines between cells
_PAD_RGB = np.array([236, 236, 236], np.uint8)  # zero-padding cells
_INK = "#222222"
_GREY = "#8a8a8a"
_HI = "#111111"  # the current cell / window
_ROUTE = _viz.ROUTE_COLORS[0]  # cells on a route
_ERR = "#b3261e"


_RGB_CACHE: dict = {}


def _rgb8(color) -> np.ndarray:
    """Colour -> uint16 RGB triple 0..255 (cached: called for every label)."""
    if isinstance(color, np.ndarray):
        return color.astype(np.uint16)
    c = _RGB_CACHE.get(color)
    if c is None:
        c = _RGB_CACHE[color] = np.array([round(255 * v) for v in to_rgb(color)], np.uint16)
    return c


_CMAP_CACHE: dict = {}


def _cmap(name):
    key = name if isinstance(name, str) else id(name)
    c = _CMAP_CACHE.get(key)
    if c is None:
        c = _CMAP_CACHE[key] = colormaps[name] if isinstance(name, str) else name
    return c


# --------------------------------------------------------------------------- numbers


# --------------------------------------------------------------------------- glyphs


class _Font:
    """Glyph masks for one font size, rendered once by matplotlib and composed per string.

    Drawing dozens of matplotlib ``Text`` artists costs about a millisecond each;
    composing cached glyph masks with NumPy costs microseconds. Kerning is ignored,
    which is invisible for the digits and short labels used here.
    """

    _instances: dict = {}

    @classmethod
    def get(cls, size: float, bold: bool = False) -> _Font:
        key = (float(size), bool(bold))
        if key not in cls._instances:
            cls._instances[key] = cls(size, bold)
        return cls._instances[key]

    def __init__(self, size: float, bold: bool):
        self.size = size
        self.bold = bold
        self.prop = FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else "normal")
        self._measure = RendererAgg(4, 4, DPI)
        _, h, d = self._measure.get_text_width_height_descent("Hgÿ|", self.prop, ismath=False)
        self.ascent = int(math.ceil(h - d)) + 2
        self.descent = int(math.ceil(d)) + 1
        self.height = self.ascent + self.descent
        self._chars: dict = {}
        self._strings: dict = {}
        zero = self.char("0")
        rows = np.nonzero(zero.max(axis=1))[0]
        # vertical centre of the digits, measured from the top of a mask
        self.mid = (rows.min() + rows.max() + 1) / 2 if rows.size else self.ascent / 2

    def _width(self, s: str) -> float:
        return self._measure.get_text_width_height_descent(s, self.prop, ismath=False)[0]

    def char(self, ch: str) -> np.ndarray:
        m = self._chars.get(ch)
        if m is None:
            adv = max(1, int(round(self._width("H" + ch + "H") - self._width("HH"))))
            w_h = int(round(self._width("H")))
            pad = 4
            r = RendererAgg(2 * pad + w_h + adv + 4, 3 * self.height, DPI)
            gc = r.new_gc()
            gc.set_foreground((0, 0, 0))
            # "H" shares the line with the glyph so that its ink bottom marks the baseline
            r.draw_text(gc, pad, 2 * self.height, "H" + ch, self.prop, 0, ismath=False)
            gc.restore()
            a = np.asarray(r.buffer_rgba())[..., 3]
            ink_rows = np.nonzero(a[:, pad : pad + w_h].max(axis=1))[0]
            base = int(ink_rows.max()) + 1 if ink_rows.size else 2 * self.height
            x0 = pad + w_h
            m = np.zeros((self.height, adv), np.uint8)
            top = base - self.ascent
            src = a[max(top, 0) : base + self.descent, x0 : x0 + adv]
            m[max(0, -top) : max(0, -top) + src.shape[0], : src.shape[1]] = src
            self._chars[ch] = m
        return m

    def mask(self, s: str) -> np.ndarray:
        m = self._strings.get(s)
        if m is None:
            m = np.hstack([self.char(ch) for ch in s]) if s else np.zeros((self.height, 1), np.uint8)
            if len(self._strings) > 20000:
                self._strings.clear()
            self._strings[s] = m
        return m

    def width(self, s: str) -> int:
        return self.mask(s).shape[1]

    def alpha(self, s: str):
        """(a, 255 - a) as (h, w, 1) uint16 arrays, ready for blending (cached)."""
        key = ("alpha", s)
        pair = self._strings.get(key)
        if pair is None:
            a = self.mask(s)[..., None].astype(np.uint16)
            pair = self._strings[key] = (a, 255 - a)
        return pair


# --------------------------------------------------------------------------- frames


def _colorize(data: np.ndarray, kind: str) -> np.ndarray:
    """RGB (h, w, 3) uint8 colours of a 2-D array under cnnlib.viz's colour conventions.

    ``kind="grad"``: diverging, symmetric about 0. ``kind="value"``: sequential from
    min(0, data) to max(data), or diverging when an entry is negative.
    """
    data = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(data)
    vals = data[finite]
    diverging = kind == "grad" or (vals.size > 0 and float(vals.min()) < 0)
    if diverging:
        m = float(np.abs(vals).max()) if vals.size else 0.0
        if m == 0:
            m = 1.0
        t = 0.5 + 0.5 * data / m
        cmap = _cmap(CMAPS["grad"])
    else:
        lo = min(0.0, float(vals.min())) if vals.size else 0.0
        hi = float(vals.max()) if vals.size else 1.0
        if hi - lo <= 0:
            hi = lo + 1.0
        t = (data - lo) / (hi - lo)
        cmap = _cmap(CMAPS["value"])
    t = np.where(finite, np.clip(t, 0.0, 1.0), 0.5)
    return cmap(t, bytes=True)[..., :3]


def _ink_for(rgb: np.ndarray) -> np.ndarray:
    """White digits where they contrast better than black (the rule of ``viz._style.text_color``): (h, w) bool."""
    return relative_luminance(rgb / 255.0) < 0.179


class _Frame:
    """Everything one picture shows, in figure pixels (origin top-left).

    Both renderers read it: the live one paints into a cached Agg buffer, the
    static one builds ordinary matplotlib artists at the same places.
    """

    def __init__(self):
        self.fills = []  # (x, y, w, h, rgb)
        self.heats = []  # dicts, see heat()
        self.boxes = []  # (x, y, w, h, color, lw)
        self.texts = []  # (s, x, y, size, color, bold, ha)
        self.arrows = []  # (x0, y0, x1, y1, color)
        self.arrays: dict = {}  # name -> the array shown in a heat map

    def fill(self, x, y, w, h, color):
        self.fills.append((int(x), int(y), int(w), int(h), _rgb8(color)))

    def box(self, x, y, w, h, color=_HI, lw=2):
        self.boxes.append((int(x), int(y), int(w), int(h), _rgb8(color), int(lw)))

    def text(self, s, x, y, size=7.5, color=_INK, bold=False, ha="center"):
        """``(x, y)``: the anchor; ``y`` is the vertical centre of the digits."""
        self.texts.append((str(s), int(round(x)), int(round(y)), size, color, bold, ha))

    def all_texts(self):
        """Every text of the picture, the numbers inside heat-map cells included, in figure pixels."""
        out = list(self.texts)
        for hm in self.heats:
            out += [(s, hm["x"] + x, hm["y"] + y, hm["font"], c, False, "center") for s, x, y, c in hm["cells"]]
        return out

    def arrow(self, x0, y0, x1, y1, color=_ROUTE):
        self.arrows.append((float(x0), float(y0), float(x1), float(y1), color))

    def heat(
        self,
        panel,
        name,
        data,
        kind="value",
        *,
        grey=None,
        dim=None,
        labels=None,
        index=True,
        row_labels=None,
        col_labels=None,
    ):
        """Add a heat map of ``data`` (2-D) centred in ``panel``.

        ``grey`` marks zero-padding cells, ``dim`` fades cells outside the current
        story; ``row_labels`` / ``col_labels`` replace the 0-based indices drawn
        beside the grid. Returns the cell geometry (``_Cells``).
        """
        data = np.asarray(data, dtype=np.float64)
        h, w = data.shape
        cs = panel.cs
        x0 = panel.x + ((panel.cols - w) * cs // 2 if panel.center else 0)
        y0 = panel.y
        rgb = _colorize(data, kind).astype(np.float32)
        if grey is not None:
            rgb[grey] = _PAD_RGB
        if dim is not None:
            rgb[dim] = 0.22 * rgb[dim] + 0.78 * 255
        rgb = rgb.astype(np.uint8)
        white = _ink_for(rgb)
        if labels is None:
            labels = [[cell_label(v) for v in row] for row in data]
        cells = []  # (label, x, y, colour) relative to the block's top-left corner
        for r in range(h):
            for c in range(w):
                s = labels[r][c]
                if not s:
                    continue
                if grey is not None and grey[r, c]:
                    color = _GREY
                elif dim is not None and dim[r, c]:
                    color = "#9a9a9a"
                else:
                    color = "#ffffff" if white[r, c] else _INK
                cells.append((s, c * cs + cs // 2, r * cs + cs // 2, color))
        self.heats.append({"x": x0, "y": y0, "cs": cs, "rgb": rgb, "font": panel.font, "cells": tuple(cells)})
        self.arrays[name] = data.copy()
        if index:
            rl = ([str(r) for r in range(h)] if panel.row_index else []) if row_labels is None else row_labels
            cl = [str(c) for c in range(w)] if col_labels is None else col_labels
            for r, s in enumerate(rl):
                if s:
                    self.text(s, x0 - 5, y0 + r * cs + cs / 2, 6.5, _GREY, ha="right")
            for c, s in enumerate(cl):
                if s:
                    self.text(s, x0 + c * cs + cs / 2, y0 - 8, 6.5, _GREY)
        return _Cells(x0, y0, cs, h, w)


class _Cells:
    """Pixel geometry of a drawn heat map."""

    def __init__(self, x0, y0, cs, h, w):
        self.x0, self.y0, self.cs, self.h, self.w = x0, y0, cs, h, w

    def rect(self, r, c, nr=1, nc=1):
        """(x, y, w, h) of the block of cells starting at (r, c); the outline sits on the cell border."""
        cs = self.cs
        return (self.x0 + c * cs - 1, self.y0 + r * cs - 1, nc * cs + 1, nr * cs + 1)

    def center(self, r, c):
        return (self.x0 + c * self.cs + self.cs / 2, self.y0 + r * self.cs + self.cs / 2)


class _Panel:
    """A slot in the picture: a title and room for up to ``rows`` x ``cols`` cells."""

    def __init__(self, title, rows, cols, cs=32, font=7.5, center=False):
        self.title, self.rows, self.cols, self.cs, self.font = title, rows, cols, cs, font
        self.center = center  # centre narrower arrays horizontally (else left-aligned); always top-aligned
        self.row_index = True  # print row indices left of the grid
        self.x = self.y = 0

    @property
    def width(self):
        return self.cols * self.cs

    @property
    def height(self):
        return self.rows * self.cs

    def place(self, x, y):
        self.x, self.y = int(x), int(y)
        return self

    def subtitle(self, frame, s, color=_GREY):
        """Dynamic text after the static title (shape, a scalar...)."""
        tw = _Font.get(9, True).width(self.title)
        frame.text(s, self.x + tw + 6, self.y - 26, 7.5, color, ha="left")

    def note(self, frame, s, color=_GREY):
        """A short message in the middle of an empty panel."""
        for k, line in enumerate(s.split("\n")):
            frame.text(line, self.x + self.width / 2, self.y + self.height / 2 - 8 + 13 * k, 7.5, color)


# --------------------------------------------------------------------------- renderers


class _Live:
    """One Agg figure per explorer; static decorations cached, dynamic content painted in NumPy."""

    def __init__(self, width, height, decorate):
        self.width, self.height = int(width), int(height)
        self.decorate = decorate
        self.fig = Figure(figsize=(self.width / DPI, self.height / DPI), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = _full_axes(self.fig, self.width, self.height)
        decorate(self.fig, self.ax)
        self._arrows = []
        self._bg = None
        self._blocks: dict = {}

    def _arrow_pool(self, n):
        while len(self._arrows) < n:
            a = FancyArrowPatch(
                (0, 0),
                (1, 1),
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.8,
                color=_ROUTE,
                shrinkA=0,
                shrinkB=0,
                animated=True,
                zorder=5,
            )
            self.ax.add_patch(a)
            self._arrows.append(a)
        return self._arrows[:n]

    def render(self, frame: _Frame) -> bytes:
        canvas = self.canvas
        if self._bg is None:
            canvas.draw()
            self._bg = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._bg)
        renderer = canvas.get_renderer()
        buf = np.asarray(renderer.buffer_rgba())
        H, W = buf.shape[:2]
        for x, y, w, h, rgb in frame.fills:
            buf[max(y, 0) : y + h, max(x, 0) : x + w, :3] = rgb
        for hm in frame.heats:
            _paste_heat(buf, hm, self._block(hm))
        for x, y, w, h, rgb, lw in frame.boxes:
            _paste_box(buf, x, y, w, h, rgb, lw)
        if frame.arrows:
            for a, (x0, y0, x1, y1, color) in zip(self._arrow_pool(len(frame.arrows)), frame.arrows):
                a.set_positions((x0, y0), (x1, y1))
                a.set_color(color)
                self.ax.draw_artist(a)
            buf = np.asarray(renderer.buffer_rgba())
        for s, x, y, size, color, bold, ha in frame.texts:
            _paste_text(buf, _Font.get(size, bold), s, x, y, _rgb8(color), ha)
        return _png(buf)

    def _block(self, hm):
        """The heat map's cells with their numbers as an RGB block, cached by content.

        A move usually changes a few arrays only (or none: a window position), so
        most blocks come from the cache and their labels are not composed again.
        """
        key = (hm["rgb"].tobytes(), hm["rgb"].shape, hm["cs"], hm["font"], hm["cells"])
        block = self._blocks.pop(key, None)
        if block is None:
            cs, rgb = hm["cs"], hm["rgb"]
            block = _cells_image(rgb, cs)
            font = _Font.get(hm["font"], False)
            for s, x, y, color in hm["cells"]:
                _paste_text(block, font, s, x, y, _rgb8(color), "center")
            if len(self._blocks) >= 128:
                self._blocks.pop(next(iter(self._blocks)))
        self._blocks[key] = block  # most recently used last
        return block


def _full_axes(fig, width, height):
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    return ax


def _cells_image(rgb, cs):
    """(h, w, 3) cell colours -> (h*cs, w*cs, 3) image with one-pixel grid lines."""
    img = np.repeat(np.repeat(rgb, cs, axis=0), cs, axis=1)
    img[cs - 1 :: cs, :] = _GAP
    img[:, cs - 1 :: cs] = _GAP
    return img


def _paste_heat(buf, hm, block):
    x0, y0 = hm["x"], hm["y"]
    bh, bw = block.shape[:2]
    # a one-pixel frame all around (the grid lines give the right and bottom edges)
    buf[y0 - 1 : y0 + bh, x0 - 1, :3] = _GAP
    buf[y0 - 1, x0 - 1 : x0 + bw, :3] = _GAP
    buf[y0 : y0 + bh, x0 : x0 + bw, :3] = block


def _paste_box(buf, x, y, w, h, rgb, lw):
    H, W = buf.shape[:2]
    x0, y0 = max(x - lw // 2, 0), max(y - lw // 2, 0)
    x1, y1 = min(x + w + (lw + 1) // 2, W), min(y + h + (lw + 1) // 2, H)
    if x1 <= x0 or y1 <= y0:
        return
    buf[y0 : y0 + lw, x0:x1, :3] = rgb
    buf[max(y1 - lw, y0) : y1, x0:x1, :3] = rgb
    buf[y0:y1, x0 : x0 + lw, :3] = rgb
    buf[y0:y1, max(x1 - lw, x0) : x1, :3] = rgb


def _text_origin(font, s, x, y, ha):
    w = font.width(s)
    if ha == "center":
        left = x - w // 2
    elif ha == "right":
        left = x - w
    else:
        left = x
    top = int(round(y - font.mid))
    return left, top


def _paste_text(buf, font, s, x, y, rgb, ha):
    a, inv = font.alpha(s)
    left, top = _text_origin(font, s, x, y, ha)
    H, W = buf.shape[:2]
    h, w = a.shape[:2]
    sx0, sy0 = max(0, -left), max(0, -top)
    dx0, dy0 = max(0, left), max(0, top)
    dx1, dy1 = min(W, left + w), min(H, top + h)
    if dx1 <= dx0 or dy1 <= dy0:
        return
    if sx0 or sy0 or dx1 - dx0 < w or dy1 - dy0 < h:
        a = a[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
        inv = inv[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    region = buf[dy0:dy1, dx0:dx1, :3]
    region[...] = (region * inv + rgb * a + 127) // 255


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _png(rgba: np.ndarray) -> bytes:
    """Encode the RGB part of an (h, w, 4) uint8 buffer as PNG.

    A minimal encoder (filter "none" on every row, zlib level 1): the pictures are
    mostly flat colour, so this is about as small as Pillow's adaptive filtering and
    more than twice as fast, which matters at 30 ms per slider move.
    """
    h, w = rgba.shape[:2]
    raw = np.empty((h, 1 + 3 * w), np.uint8)  # (h, 1 + 3w): filter byte, then RGB
    raw[:, 0] = 0
    rgb = raw[:, 1:].reshape(h, w, 3)  # a view
    for k in range(3):  # one channel at a time: much faster than one strided (h, w, 3) copy
        rgb[..., k] = rgba[..., k]
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw, 1))
        + _png_chunk(b"IEND", b"")
    )


_SUBSCRIPTS = str.maketrans("ijk0123456789", "ᵢⱼₖ₀₁₂₃₄₅₆₇₈₉")


def _plain(markup: str) -> str:
    """The text of a read-out's HTML (tags dropped, entities decoded, <sub> as Unicode subscripts)."""
    markup = re.sub(r"<sub>(.*?)</sub>", lambda m: m.group(1).translate(_SUBSCRIPTS), markup)
    text = html.unescape(re.sub(r"<[^>]+>", "", markup)).replace("\xa0", " ")
    return re.sub(r"\s+", " ", text).strip()


_FOOTER_SIZE = 8.0
_FOOTER_LINE = 15  # pixels between footer lines


def _footer_lines(text: str, width: int) -> list[str]:
    """``text`` wrapped to the picture's width (measured with the footer's own font)."""
    if not text:
        return []
    font = _Font.get(_FOOTER_SIZE, False)
    avg = max(font.width("0123456789 abcdefghij·()[]") / 27, 1.0)
    lines = textwrap.wrap(text, max(int((width - 24) / avg), 20), break_long_words=False, break_on_hyphens=False)
    while lines and max(font.width(line) for line in lines) > width - 20:  # rare: wide glyphs
        lines = textwrap.wrap(
            text, max(len(max(lines, key=len)) - 4, 10), break_long_words=False, break_on_hyphens=False
        )
    return lines


def _static_figure(width, height, decorate, frame: _Frame, footer: str = ""):
    """A plain matplotlib Figure showing ``frame`` (for GitHub / nbviewer readers).

    ``footer``: the read-out the live widget writes under its picture (a route's sum,
    a formula), wrapped and drawn under the picture so that a static render carries it too.
    """
    import matplotlib.pyplot as plt  # so that IPython's inline display hook is installed

    lines = _footer_lines(footer, width)
    total = height + (len(lines) * _FOOTER_LINE + 12 if lines else 0)
    fig = plt.figure(figsize=(width / DPI, total / DPI), dpi=DPI, facecolor="white")
    plt.close(fig)  # not managed by pyplot: displayed once, when returned, and never leaked
    ax = _full_axes(fig, width, total)
    decorate(fig, ax)
    for x, y, w, h, rgb in frame.fills:
        ax.add_patch(Rectangle((x, y), w, h, facecolor=rgb / 255, edgecolor="none", zorder=1))
    for hm in frame.heats:
        rgb, cs, x0, y0 = hm["rgb"], hm["cs"], hm["x"], hm["y"]
        h, w = rgb.shape[:2]
        img = _cells_image(rgb, cs)
        ax.imshow(img, extent=(x0, x0 + w * cs, y0 + h * cs, y0), interpolation="nearest", zorder=2)
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), w * cs, h * cs, fill=False, ec=_GAP / 255, lw=0.8, zorder=2))
    for x, y, w, h, rgb, lw in frame.boxes:
        ax.add_patch(Rectangle((x, y), w, h, fill=False, ec=rgb / 255, lw=lw * 72 / DPI, zorder=3))
    for x0, y0, x1, y1, color in frame.arrows:
        ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                (x1, y1),
                arrowstyle="-|>",
                mutation_scale=12,
                lw=1.8,
                color=color,
                shrinkA=0,
                shrinkB=0,
                zorder=5,
            )
        )
    for s, x, y, size, color, bold, ha in frame.all_texts():
        font = _Font.get(size, bold)
        left, top = _text_origin(font, s, x, y, ha)
        ax.text(left, top + font.ascent, s, fontproperties=font.prop, color=color, ha="left", va="baseline", zorder=6)
    ffont = _Font.get(_FOOTER_SIZE, False)
    for k, line in enumerate(lines):
        y = height + 6 + k * _FOOTER_LINE + ffont.ascent
        ax.text(12, y, line, fontproperties=ffont.prop, color=_INK, ha="left", va="baseline", zorder=6)
    ax.set_xlim(0, width)
    ax.set_ylim(total, 0)
    return fig


def _decorate_titles(panels):
    def decorate(fig, ax):
        for p in panels:
            ax.text(
                p.x,
                p.y - 26 + _Font.get(9, True).ascent - _Font.get(9, True).mid,
                p.title,
                fontproperties=_Font.get(9, True).prop,
                color=_INK,
                ha="left",
                va="baseline",
            )

    return decorate


def _op_arrow(ax, x0, x1, y, label, color="#555555", back=False):
    """A static arrow between two panels with the operation's name on it."""
    a, b = (x1, x0) if back else (x0, x1)
    ax.add_patch(
        FancyArrowPatch((a, y), (b, y), arrowstyle="-|>", mutation_scale=11, lw=1.2, color=color, shrinkA=0, shrinkB=0)
    )
    if label:
        f = _Font.get(7, False)
        ax.text((x0 + x1) / 2, y - 5, label, fontproperties=f.prop, color=color, ha="center", va="bottom")


# --------------------------------------------------------------------------- widget plumbing


def _require_widgets(fn):
    if widgets is None:  # pragma: no cover
        raise ImportError(f"{fn}: needs ipywidgets (pip install ipywidgets)")


def _grid_layout(cols, width):
    """GridBox layout with room for the text boxes' own margins (no clipping in JupyterLab or Colab)."""
    return widgets.Layout(
        grid_template_columns=f"repeat({max(cols, 1)}, {width + 6}px)",
        grid_gap="2px 0px",
        width=f"{max(cols, 1) * (width + 6) + 4}px",
        flex="0 0 auto",
    )


def _grid_editor(values, on_change, *, lo=-9.0, hi=9.0, step=0.5, width=58, prefix="X"):
    """An editable grid of BoundedFloatText boxes (one per array entry)."""
    values = np.asarray(values, dtype=np.float64)
    h, w = values.shape
    cells = {}
    boxes = []
    for r in range(h):
        for c in range(w):
            t = widgets.BoundedFloatText(
                value=float(np.clip(values[r, c], lo, hi)),
                min=lo,
                max=hi,
                step=step,
                layout=widgets.Layout(width=f"{width}px"),
            )
            t.observe(on_change, names="value")
            cells[f"{prefix}[{r},{c}]"] = t
            boxes.append(t)
    grid = widgets.GridBox(boxes, layout=_grid_layout(w, width))
    return grid, cells


class _ResizableGrid:
    """An editable grid whose shape follows the hyper-parameters (an upstream δ).

    Values live in a backing table, so shrinking and growing the grid keeps what the
    reader typed; new cells start from deterministic, never-all-ones values.
    """

    def __init__(self, table, shape, on_change, *, prefix, lo=-9.0, hi=9.0, step=0.25, width=54):
        self.table = np.array(table, dtype=np.float64)
        self.prefix, self.lo, self.hi, self.step, self.width = prefix, lo, hi, step, width
        self._on_change = on_change
        self._pool: dict = {}
        self._quiet = False
        self.shape = (0, 0)
        self.box = widgets.GridBox([], layout=widgets.Layout(grid_gap="2px 2px", width="auto"))
        self.resize(shape)

    def _cell(self, r, c):
        t = self._pool.get((r, c))
        if t is None:
            t = widgets.BoundedFloatText(
                value=float(np.clip(self.table[r, c], self.lo, self.hi)),
                min=self.lo,
                max=self.hi,
                step=self.step,
                layout=widgets.Layout(width=f"{self.width}px"),
            )

            def changed(change, r=r, c=c):
                self.table[r, c] = change["new"]
                if not self._quiet:
                    self._on_change(change)

            t.observe(changed, names="value")
            self._pool[(r, c)] = t
        return t

    def resize(self, shape):
        shape = (max(int(shape[0]), 0), max(int(shape[1]), 0))
        if shape == self.shape:
            return
        self.shape = shape
        h, w = shape
        self.box.children = [self._cell(r, c) for r in range(h) for c in range(w)]
        lay = _grid_layout(w, self.width)
        self.box.layout.grid_template_columns = lay.grid_template_columns
        self.box.layout.width = lay.width

    @property
    def cells(self):
        h, w = self.shape
        return {f"{self.prefix}[{r},{c}]": self._pool[(r, c)] for r in range(h) for c in range(w)}

    @property
    def array(self):
        h, w = self.shape
        return self.table[:h, :w].copy()


def _read_grid(cells, shape, prefix):
    out = np.zeros(shape)
    for r in range(shape[0]):
        for c in range(shape[1]):
            out[r, c] = cells[f"{prefix}[{r},{c}]"].value
    return out


def _label(text, width=None):
    lay = widgets.Layout(width=width) if width else widgets.Layout()
    return widgets.HTML(value=f"<b>{text}</b>", layout=lay)


def _int_slider(description, value, lo, hi, width="260px"):
    return widgets.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=1,
        description=description,
        continuous_update=True,
        style={"description_width": "90px"},
        layout=widgets.Layout(width=width),
    )


def _float_slider(description, value, lo, hi, step=0.1, width="260px"):
    return widgets.FloatSlider(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        style={"description_width": "90px"},
        layout=widgets.Layout(width=width),
    )


def _as_2d(fn, name, a, *, max_side, min_side=1):
    a = np.asarray(a, dtype=np.float64)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"{fn}: {name} must be a 2-D array (H, W), got shape {np.shape(a)}")
    if not (min_side <= a.shape[0] <= max_side and min_side <= a.shape[1] <= max_side):
        raise ValueError(
            f"{fn}: {name} must have between {min_side} and {max_side} rows and columns, got shape {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{fn}: {name} must be finite")
    return a.copy()


def _check_int(fn, name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"{fn}: {name} must be an int in [{lo}, {hi}], got {v!r}")
    return int(v)


_BaseBox = widgets.VBox if widgets is not None else object


class Explorer(_BaseBox):
    """Common machinery: controls -> compute with cnnlib -> frame -> PNG in an Image widget.

    Attributes every explorer exposes:

    * ``state``: dict of the current inputs and every computed array (NumPy);
    * ``controls``: dict name -> ipywidgets control (set ``.value`` to drive it);
    * ``error``: the message shown for an invalid combination, or ``None``;
    * ``image``: the ``ipywidgets.Image`` holding the current PNG;
    * ``frame_arrays``: name -> the exact array behind each heat map.

    ``static_figure()`` (alias ``figure()``) returns a plain matplotlib Figure of the
    current state.
    """

    _fn = "explorer"

    def _setup(self, title, help_text, control_box, width, height, panels, decorate=None):
        self._width, self._height = int(width), int(height)
        base = _decorate_titles(panels)
        if decorate is None:
            self._decorate = base
        else:

            def both(fig, ax):
                base(fig, ax)
                decorate(fig, ax)

            self._decorate = both
        self._live = _Live(self._width, self._height, self._decorate)
        # natural size (never stretched by the flex box), shrinking on a narrow screen
        self.image = widgets.Image(
            value=b"",
            format="png",
            layout=widgets.Layout(width=f"{self._width}px", max_width="100%", height="auto", object_fit="contain"),
        )
        self.message = widgets.HTML(value="")
        self.readout = widgets.HTML(value="")
        self._readout = ""
        header = widgets.HTML(value=f"<b>{html.escape(title)}</b> &nbsp; <span style='color:#666'>{help_text}</span>")
        self.state: dict = {}
        self.error = None
        self.last_exception = None
        self.frame = _Frame()
        self.updates = 0
        if not hasattr(self, "controls"):  # subclasses set it, or compute it as a property
            self.controls = {}
        self._busy = False
        control_box.layout.flex_flow = "row wrap"
        for child in getattr(control_box, "children", ()):
            if isinstance(child, widgets.Box):
                child.layout.flex = "0 0 auto"
        super().__init__(children=[header, control_box, self.message, self.image, self.readout])
        self.add_class("cnnlib-explorer")
        self.add_class("cnnlib-" + self._fn.replace("_", "-"))

    # each explorer implements _compute(frame) -> None (fills self.state and frame)
    def _compute(self, frame):  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_change(self, change=None):
        if self._busy:
            return
        self.update()

    def update(self):
        """Recompute everything from the controls and push a new image."""
        self._busy = True
        try:
            frame = _Frame()
            self.error = None
            self.last_exception = None
            self._readout = ""
            try:
                self._compute(frame)
            except ValueError as exc:  # cnnlib's own validation: show its message
                self._fail(frame, str(exc))
            self.frame = frame
            self.image.value = self._live.render(frame)
            style = f"white-space:normal;line-height:1.5;max-width:{max(self._width, 640)}px"
            self.readout.value = f"<div style='{style}'>{self._readout}</div>" if self._readout else ""
            if self.error:
                self.message.value = f"<div style='color:{_ERR};font-weight:bold'>⚠ {html.escape(self.error)}</div>"
            else:
                self.message.value = ""
        except Exception as exc:  # never a traceback in the reader's notebook
            self.last_exception = exc
            self.error = f"{type(exc).__name__}: {exc}"
            self.message.value = (
                f"<div style='color:{_ERR};font-weight:bold'>⚠ something went wrong: {html.escape(self.error)}</div>"
            )
        finally:
            self.updates += 1
            self._busy = False

    def _fit_height(self, height):
        """Give the picture ``height`` pixels (the arrays grew or shrank with padding, stride...).

        Only a change of shape rebuilds the cached figure; ordinary moves reuse it.
        """
        self._fit_size(self._width, height)

    def _fit_size(self, width, height, *, moved=False):
        """Give the picture ``width`` x ``height`` pixels; ``moved``: a panel (and its static title) moved.

        Rebuilds the cached figure only when something changed; ordinary moves reuse it.
        """
        width, height = int(width), int(height)
        if moved or (width, height) != (self._width, self._height):
            if width != self._width:
                self.image.layout.width = f"{width}px"
            self._width, self._height = width, height
            self._live = _Live(width, height, self._decorate)

    def _fail(self, frame, msg):
        self.error = msg
        self.state["error"] = msg

    def __repr__(self):
        # the text a static render (GitHub, nbviewer) shows in place of the live widget
        return (
            f"{self._fn}(): an interactive explorer — run the notebook in JupyterLab or Colab to move its "
            "controls; .static_figure() draws its current state"
        )

    @property
    def frame_arrays(self):
        return self.frame.arrays

    @property
    def readout_text(self) -> str:
        """The read-out under the live picture (a route's sum, a formula) as plain text."""
        return _plain(self._readout)

    def static_figure(self):
        """The current state as a plain matplotlib Figure (not registered with pyplot).

        The read-out the live widget writes under its picture (the sum a route adds
        up, the formula of the chosen entry) is written under the figure as well.
        """
        return _static_figure(self._width, self._height, self._decorate, self.frame, self.readout_text)

    figure = static_figure

    def _repr_png_fallback(self):  # pragma: no cover - convenience for debugging
        return self.image.value


# --------------------------------------------------------------------------- patterns


def _pattern(name: str, h: int, w: int) -> np.ndarray:
    """Small input images used as presets (values 0..1 or small integers)."""
    X = np.zeros((h, w))
    rr, cc = np.mgrid[0:h, 0:w]
    if name == "vertical edge":
        X[:, w // 2 :] = 1.0
    elif name == "horizontal edge":
        X[h // 2 :, :] = 1.0
    elif name == "diagonal stroke":
        X[np.abs(rr - cc) <= 0] = 1.0
        X[np.abs(rr - cc) == 1] = 0.5
    elif name == "cross":
        X[h // 2 - (h % 2 == 0) : h // 2 + 1, :] = 1.0
        X[:, w // 2 - (w % 2 == 0) : w // 2 + 1] = 1.0
    elif name == "checkerboard":
        X = ((rr + cc) % 2).astype(float)
    elif name == "single pixel":
        X[h // 2, w // 2] = 1.0
    elif name == "ramp":
        X = np.round(cc / max(w - 1, 1), 2)
    elif name == "random integers":
        X = np.random.default_rng(2).integers(0, 4, size=(h, w)).astype(float)
    elif name == "zeros":
        pass
    else:
        raise ValueError(f"unknown pattern {name!r}")
    return X


PATTERNS = [
    "diagonal stroke",
    "vertical edge",
    "horizontal edge",
    "cross",
    "checkerboard",
    "single pixel",
    "ramp",
    "random integers",
    "zeros",
]


def _upstream_table(seed: int, n: int = 12) -> np.ndarray:
    """Deterministic, never-all-ones upstream gradients (multiples of 0.25 in [-1, 1])."""
    vals = np.random.default_rng(seed).integers(-4, 5, size=(n, n)) / 4.0
    vals[vals == 0] = 0.5
    return vals


# --------------------------------------------------------------------------- convolution forward


def _span_message(KH, KW, D, H, W, P):
    sh, sw = D * (KH - 1) + 1, D * (KW - 1) + 1
    if sh <= H + 2 * P and sw <= W + 2 * P:
        return None
    kern = f"kernel {KH}×{KW}" + (f" with dilation {D} spans {sh}×{sw}" if D > 1 else "")
    return f"{kern}: larger than the padded input {H + 2 * P}×{W + 2 * P} — increase padding" + (
        " or reduce dilation" if D > 1 else ""
    )


def _products(terms, limit=12):
    """'a·b + c·d + …' for the read-outs (terms: list of (a, b))."""
    parts = [f"{_paren(a)}·{_paren(b)}" for a, b in terms[:limit]]
    if len(terms) > limit:
        parts.append(f"… ({len(terms) - limit} more)")
    return " + ".join(parts) if parts else "0"


def _paren(v):
    return factor(readout_number(v, 3))


class _ConvExplorerBase(Explorer):
    """What the convolution explorers share: the X and W arguments, S/P/D and their sliders, the padded X."""

    max_pad, max_stride, max_dil = 2, 3, 3

    def _conv_args(self, X, W, stride, padding, dilation):
        """Check X (up to 8×8; default from the class), W (up to 5×5) and S, P, D; keep the shapes."""
        fn = self._fn
        _require_widgets(fn)
        X = _pattern(*self._X_default) if X is None else _as_2d(fn, "X", X, max_side=8)
        W = np.array(self._W_default) if W is None else _as_2d(fn, "W", W, max_side=5)
        self.H, self.Wd = X.shape
        self.KH, self.KW = W.shape
        stride = _check_int(fn, "stride", stride, 1, self.max_stride)
        padding = _check_int(fn, "padding", padding, 0, self.max_pad)
        dilation = _check_int(fn, "dilation", dilation, 1, self.max_dil)
        return X, W, stride, padding, dilation

    def _hyper_sliders(self, stride, padding, dilation):
        self._stride = _int_slider("stride S", stride, 1, self.max_stride)
        self._padding = _int_slider("padding P", padding, 0, self.max_pad)
        self._dilation = _int_slider("dilation D", dilation, 1, self.max_dil)
        return self._stride, self._padding, self._dilation

    def _hyper_controls(self):
        return {"stride": self._stride, "padding": self._padding, "dilation": self._dilation}

    def _place_x_w(self, cs, gap, top=52):
        """The X panel (room for the largest padding) and the W panel to its right."""
        capx = (self.H + 2 * self.max_pad, self.Wd + 2 * self.max_pad)
        self._px = _Panel("X", *capx, cs=cs).place(34, top)
        self._pw = _Panel("W", self.KH, self.KW, cs=cs).place(self._px.x + self._px.width + gap, top)
        return capx

    def _read_conv(self):
        X = _read_grid(self._cells, (self.H, self.Wd), "X")
        W = _read_grid(self._cells, (self.KH, self.KW), "W")
        return X, W, self._stride.value, self._padding.value, self._dilation.value

    def _padded_x(self, frame, X, P):
        """X̃ = X zero-padded by P, its padding mask and labels (0-based, blank on the padding); subtitles X."""
        H, Wd = X.shape
        Xp = np.pad(X, P)
        grey = np.ones(Xp.shape, bool)
        grey[P : P + H, P : P + Wd] = False
        xlabels = {
            "row_labels": [""] * P + [str(r) for r in range(H)] + [""] * P,
            "col_labels": [""] * P + [str(c) for c in range(Wd)] + [""] * P,
        }
        self._px.subtitle(frame, f"{H}×{Wd}" + (f", padded to {H + 2 * P}×{Wd + 2 * P}" if P else ""))
        return Xp, grey, xlabels


class ConvForwardExplorer(_ConvExplorerBase):
    """See :func:`conv_forward_explorer`."""

    _fn = "conv_forward_explorer"
    _X_default = ("diagonal stroke", 6, 6)  # a pattern name and its shape
    _W_default = [[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]

    def __init__(self, X=None, W=None, b=0.0, *, stride=1, padding=0, dilation=1):
        fn = self._fn
        X, W, stride, padding, dilation = self._conv_args(X, W, stride, padding, dilation)
        if not np.isscalar(b) and np.size(b) != 1:
            raise ValueError(f"{fn}: b must be a number (one filter), got shape {np.shape(b)}")
        b = float(np.asarray(b).reshape(-1)[0]) if not np.isscalar(b) else float(b)

        on = self._on_change
        self._xgrid, xcells = _grid_editor(X, on, prefix="X", width=54)
        self._wgrid, wcells = _grid_editor(W, on, prefix="W", width=54)
        self._pattern = widgets.Dropdown(
            options=["(edit the cells)"] + PATTERNS,
            value="(edit the cells)",
            description="pattern",
            style={"description_width": "50px"},
            layout=widgets.Layout(width="240px"),
        )
        self._pattern.observe(self._apply_pattern, names="value")
        self._b = _float_slider("bias b", b, -5.0, 5.0, 0.5, width="240px")
        hyper = self._hyper_sliders(stride, padding, dilation)
        self._pos = _int_slider("window #", 0, 0, 0)
        for w in (self._b, *hyper, self._pos):
            w.observe(on, names="value")
        self._cells = {**xcells, **wcells}
        self.controls = {
            "pattern": self._pattern,
            **self._cells,
            "b": self._b,
            **self._hyper_controls(),
            "position": self._pos,
        }
        box = widgets.HBox(
            [
                widgets.VBox([_label("input X"), self._xgrid, self._pattern]),
                widgets.VBox([_label("kernel W"), self._wgrid, self._b]),
                widgets.VBox(
                    [
                        _label("hyper-parameters"),
                        *hyper,
                        _label("output position (u, v)"),
                        self._pos,
                    ]
                ),
            ],
            layout=widgets.Layout(grid_gap="0px", justify_content="flex-start"),
        )
        box.children[0].layout.margin = "0 18px 0 0"
        box.children[1].layout.margin = "0 18px 0 0"

        cs, top = 32, 52
        capx = self._place_x_w(cs, 56, top)
        capz = (max(1, capx[0] - self.KH + 1), max(1, capx[1] - self.KW + 1))
        self._pz = _Panel("Z = X ⋆ W + b", *capz, cs=cs).place(self._pw.x + self._pw.width + 70, top)
        width = self._pz.x + max(self._pz.width, 150) + 16
        height = top + max(self._px.height, self._pz.height) + 14
        panels = (self._px, self._pw, self._pz)

        def decorate(fig, ax):
            f = _Font.get(26, False)
            ax.text(
                self._px.x + self._px.width + 28,
                top + self.KH * cs / 2 + 2,
                "⋆",
                fontproperties=f.prop,
                ha="center",
                va="center",
                color="#555555",
            )
            _op_arrow(ax, self._pw.x + self._pw.width + 12, self._pz.x - 16, top + self.KH * cs / 2, "")

        self._setup(
            "Convolution forward",
            "edit X and W, move the window; Z[u, v] = b + Σ W[i, j]·X̃[uS + iD, vS + jD]",
            box,
            width,
            height,
            panels,
            decorate,
        )
        self.update()

    def _apply_pattern(self, change):
        name = change["new"]
        if name not in PATTERNS:
            return
        X = _pattern(name, self.H, self.Wd)
        self._busy = True
        try:
            for r in range(self.H):
                for c in range(self.Wd):
                    self._cells[f"X[{r},{c}]"].value = float(X[r, c])
            self._pattern.value = "(edit the cells)"
        finally:
            self._busy = False
        self.update()

    def _compute(self, frame):
        from ..conv import conv2d_forward, conv_output_size

        X, W, S, P, D = self._read_conv()
        b = float(self._b.value)
        H, Wd, KH, KW = self.H, self.Wd, self.KH, self.KW
        self.state = {"X": X, "W": W, "b": b, "stride": S, "padding": P, "dilation": D, "error": None}
        self._pw.subtitle(frame, f"{KH}×{KW},  b = {readout_number(b, 3)}")
        Xp, grey, xlabels = self._padded_x(frame, X, P)
        frame.heat(self._pw, "W", W)
        msg = _span_message(KH, KW, D, H, Wd, P)
        ok = msg is None
        Ho = conv_output_size(H, KH, S, P, D) if ok else 0
        self._fit_height(self._px.y + max(H + 2 * P, KH + 1, Ho, 4) * self._px.cs + 14)
        if msg is not None:
            frame.heat(self._px, "X", Xp, "value", grey=grey, **xlabels)
            self._pos.max = 0
            self._pos.disabled = True
            self._pz.note(frame, "no output", _ERR)
            self._readout = ""
            self._fail(frame, msg)
            return
        Z4, _ = conv2d_forward(X[None, None], W[None, None], np.array([b]), stride=S, padding=P, dilation=D)
        Z = Z4[0, 0]  # (Ho, Wo)
        Ho, Wo = Z.shape
        assert (Ho, Wo) == (conv_output_size(H, KH, S, P, D), conv_output_size(Wd, KW, S, P, D))
        self._pos.disabled = False
        self._pos.max = Ho * Wo - 1
        k = self._pos.value
        u, v = divmod(k, Wo)
        rows = [u * S + i * D for i in range(KH)]
        cols = [v * S + j * D for j in range(KW)]
        xcells = frame.heat(self._px, "X", Xp, "value", grey=grey, **xlabels)
        zcells = frame.heat(self._pz, "Z", Z)
        for r in rows:
            for c in cols:
                frame.box(*xcells.rect(r, c), color=_ROUTE, lw=3)
        if D > 1:
            frame.box(*xcells.rect(rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1), _HI, 1)
        frame.box(*zcells.rect(u, v), color=_HI, lw=3)
        self._pz.subtitle(frame, f"{Ho}×{Wo},  window ({u}, {v})")
        terms = [(W[i, j], Xp[rows[i], cols[j]]) for i in range(KH) for j in range(KW)]
        self.state.update(Xpad=Xp, Z=Z, position=(u, v), window_rows=rows, window_cols=cols)
        self._readout = (
            f"Z[{u}, {v}] = b + Σ<sub>i,j</sub> W[i, j]·X̃[{u}·{S} + i·{D}, {v}·{S} + j·{D}]"
            f" = {_paren(b)} + {_products(terms, 9)} = <b>{readout_number(Z[u, v], 4)}</b>"
            f" &nbsp; <span style='color:#666'>(X̃: X zero-padded by P = {P})</span>"
        )


def conv_forward_explorer(X=None, W=None, b=0.0, *, stride=1, padding=0, dilation=1):
    """Convolution forward, interactively (notebook 02; notebook 08 for S, P, D).

    Edit the cells of X (H, W up to 8×8) and of the kernel W (up to 5×5), the bias
    b, stride, padding and dilation; the window slider moves the receptive field
    (outlined on the zero-padded X̃) and highlights the output cell it fills:
    ``Z[u, v] = b + Σ_{i,j} W[i, j] · X̃[u·S + i·D, v·S + j·D]``.

    Returns a displayable widget; ``.state`` holds X, W, b, Xpad, Z, the position,
    ``.static_figure()`` the current picture as a matplotlib Figure.
    """
    return ConvForwardExplorer(X, W, b, stride=stride, padding=padding, dilation=dilation)


# --------------------------------------------------------------------------- convolution backward


class ConvBackwardExplorer(_ConvExplorerBase):
    """See :func:`conv_backward_explorer`."""

    _fn = "conv_backward_explorer"
    _X_default = ("random integers", 5, 5)
    _W_default = [[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [-1.0, 0.0, 1.0]]

    def __init__(self, X=None, W=None, dZ=None, *, stride=1, padding=0, dilation=1):
        from ..conv import conv_output_size

        fn = self._fn
        X, W, stride, padding, dilation = self._conv_args(X, W, stride, padding, dilation)
        cap = (self.H + 2 * self.max_pad - self.KH + 1, self.Wd + 2 * self.max_pad - self.KW + 1)
        table = _upstream_table(3, max(cap[0], cap[1], 1))
        if dZ is not None:
            dZ = _as_2d(fn, "dZ", dZ, max_side=12)
            Ho = conv_output_size(self.H, self.KH, stride, padding, dilation)
            Wo = conv_output_size(self.Wd, self.KW, stride, padding, dilation)
            if dZ.shape != (Ho, Wo):
                raise ValueError(
                    f"{fn}: dZ must have the shape of Z, ({Ho}, {Wo}) for X {X.shape}, W {W.shape}, "
                    f"stride {stride}, padding {padding}, dilation {dilation}; got {dZ.shape}"
                )
            table[:Ho, :Wo] = dZ

        on = self._on_change
        self._xgrid, xcells = _grid_editor(X, on, prefix="X", width=66)
        self._wgrid, wcells = _grid_editor(W, on, prefix="W", width=66)
        self._dz = _ResizableGrid(table, (0, 0), on, prefix="dZ", width=66)
        self._cells = {**xcells, **wcells}
        hyper = self._hyper_sliders(stride, padding, dilation)
        self._target = widgets.ToggleButtons(
            options=["dW", "dX"],
            value="dW",
            description="explain",
            style={"description_width": "90px", "button_width": "60px"},
        )
        self._row = _int_slider("row", 0, 0, self.KH - 1)
        self._col = _int_slider("column", 0, 0, self.KW - 1)
        for w in (*hyper, self._target, self._row, self._col):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox([_label("input X"), self._xgrid], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([_label("kernel W"), self._wgrid], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([_label("upstream δZ = ∂L/∂Z"), self._dz.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox(
                    [
                        _label("hyper-parameters"),
                        *hyper,
                        _label("which entry comes from where?"),
                        self._target,
                        self._row,
                        self._col,
                    ]
                ),
            ]
        )
        self._box = box

        cs, top, gap = 34, 52, 46
        self._place_x_w(cs, gap, top)
        self._pdz = _Panel("δZ", *cap, cs=cs).place(self._pw.x + max(self._pw.width, 90) + gap, top)
        row2 = top + max(self._px.height, self._pdz.height, self._pw.height) + 58
        self._pdx = _Panel("dX = ∂L/∂X", self.H, self.Wd, cs=cs).place(34 + (self._px.width - self.Wd * cs) // 2, row2)
        self._pdw = _Panel("dW = ∂L/∂W", self.KH, self.KW, cs=cs).place(self._pw.x, row2)
        self._pdb = _Panel("db = Σ δZ", 1, 1, cs=cs + 10).place(self._pw.x, row2 + self._pdw.height + 46)
        # δZ spread out by the stride (S − 1 zeros between entries), right under δZ (notebook 08)
        self._pdd = _Panel("dilated δZ", *cap, cs=cs).place(self._pdz.x, row2)
        width = max(self._pdz.x + self._pdz.width, self._pdb.x + 170) + 16
        height = row2 + max(self._pdx.height, self._pdw.height + 46 + self._pdb.height) + 14
        panels = (self._px, self._pw, self._pdz, self._pdx, self._pdw, self._pdb, self._pdd)
        self._setup(
            "Convolution backward",
            "edit X, W and the upstream δZ; pick a dW or dX entry to see the products that sum to it",
            box,
            width,
            height,
            panels,
        )
        self.update()

    def _place_row2(self, rows1, P, rows_dilated=2):
        """Put the gradient row just under the tallest input panel (dX under X's unpadded cells); size the picture."""
        row2 = self._px.y + rows1 * self._px.cs + 58
        self._pdx.place(self._px.x + P * self._px.cs, row2)
        self._pdw.place(self._pdw.x, row2)
        self._pdb.place(self._pdb.x, row2 + self._pdw.height + 46)
        self._pdd.place(self._pdd.x, row2)
        bottom = max(self._pdx.height, self._pdw.height + 46 + self._pdb.height, rows_dilated * self._pdd.cs)
        self._fit_height(row2 + bottom + 14)

    @property
    def controls(self):
        return {
            **self._cells,
            **self._dz.cells,
            **self._hyper_controls(),
            "explain": self._target,
            "row": self._row,
            "column": self._col,
        }

    def _compute(self, frame):
        from ..conv import conv2d_backward, conv2d_forward, conv_output_size

        X, W, S, P, D = self._read_conv()
        H, Wd, KH, KW = self.H, self.Wd, self.KH, self.KW
        target = self._target.value
        # the entry sliders follow the explained array's shape
        rmax, cmax = (KH - 1, KW - 1) if target == "dW" else (H - 1, Wd - 1)
        self._row.max, self._col.max = rmax, cmax
        i, j = self._row.value, self._col.value
        self.state = {
            "X": X,
            "W": W,
            "stride": S,
            "padding": P,
            "dilation": D,
            "target": target,
            "index": (i, j),
            "error": None,
        }
        Xp, grey, xlabels = self._padded_x(frame, X, P)
        msg = _span_message(KH, KW, D, H, Wd, P)
        if msg is not None:
            self._place_row2(max(H + 2 * P, KH), P)
            self._dz.resize((0, 0))
            frame.heat(self._px, "X", Xp, grey=grey, **xlabels)
            frame.heat(self._pw, "W", W)
            for p in (self._pdz, self._pdx, self._pdw, self._pdb):
                p.note(frame, "—", _ERR)
            frame.text("—", self._pdd.x + 2 * self._pdd.cs, self._pdd.y + self._pdd.cs, 7.5, _ERR)
            self._readout = ""
            self._fail(frame, msg)
            return
        Ho, Wo = conv_output_size(H, KH, S, P, D), conv_output_size(Wd, KW, S, P, D)
        Hd, Wdd = (Ho - 1) * S + 1, (Wo - 1) * S + 1  # δZ spread out by the stride
        self._place_row2(max(H + 2 * P, KH, Ho), P, Hd if S > 1 else 2)
        self._dz.resize((Ho, Wo))
        dZ = self._dz.array
        Z4, cache = conv2d_forward(X[None, None], W[None, None], np.zeros(1), stride=S, padding=P, dilation=D)
        dX4, dW4, db = conv2d_backward(dZ[None, None], cache)
        dX, dW = dX4[0, 0], dW4[0, 0]
        # notebook 08: S − 1 zeros between neighbouring entries of δZ; with them, dW is X̃ correlated
        # with the dilated δZ at stride 1 and dX a full correlation of it with the flipped kernel
        dZd = np.zeros((Hd, Wdd))  # (Hd, Wd)
        dZd[::S, ::S] = dZ
        self.state.update(Xpad=Xp, Z=Z4[0, 0], dZ=dZ, dX=dX, dW=dW, db=float(db[0]), dZ_dilated=dZd)
        if S > 1:
            inserted = np.ones(dZd.shape, bool)
            inserted[::S, ::S] = False
            ddc = frame.heat(self._pdd, "dZ_dilated", dZd, "grad", grey=inserted)
            zeros = "1 zero" if S == 2 else f"{S - 1} zeros"
            self._pdd.subtitle(frame, f"{Hd}×{Wdd}: {zeros} between entries")
        else:
            ddc = None
            self._pdd.subtitle(frame, "stride 1")
            for k, line in enumerate(("no zeros to insert:", "δZ is used as it is")):
                frame.text(line, self._pdd.x, self._pdd.y + 8 + 14 * k, 7.5, _GREY, ha="left")
        if target == "dW":
            rs = dW_route(self._fn, X, dZ, (KH, KW), (i, j), S, P, D, dW=dW)
            touched = [(r + P, c + P) for (r, c), _ in rs.products]  # the cells of X̃ that W[i, j] met
            xdim = np.ones(Xp.shape, bool)
            for cell in touched:
                xdim[cell] = False
            xc = frame.heat(self._px, "X", Xp, grey=grey, dim=xdim & ~grey, **xlabels)
            wc = frame.heat(self._pw, "W", W)
            dzc = frame.heat(self._pdz, "dZ", dZ, "grad")
            for cell in touched:
                frame.box(*xc.rect(*cell), _ROUTE, 3)
            frame.box(*wc.rect(i, j), _HI, 3)
            dxc = frame.heat(self._pdx, "dX", dX, "grad")
            dwc = frame.heat(self._pdw, "dW", dW, "grad")
            frame.box(*dwc.rect(i, j), _HI, 3)
            del dxc
        else:
            rs = dX_route(self._fn, W, dZ, (H, Wd), (i, j), S, P, D, dX=dX)
            pairs = [((a, b), (du, dv)) for (_, a, b), (_, du, dv) in rs.products]  # W[a, b] meets δZ[du, dv]
            wdim = np.ones(W.shape, bool)
            zdim = np.ones(dZ.shape, bool)
            for (a, b), (du, dv) in pairs:
                wdim[a, b] = False
                zdim[du, dv] = False
            xc = frame.heat(self._px, "X", Xp, grey=grey, **xlabels)
            wc = frame.heat(self._pw, "W", W, dim=wdim)
            dzc = frame.heat(self._pdz, "dZ", dZ, "grad", dim=zdim)
            for (a, b), (du, dv) in pairs:
                frame.box(*wc.rect(a, b), _ROUTE, 3)
                frame.box(*dzc.rect(du, dv), _ROUTE, 3)
                if ddc is not None:
                    frame.box(*ddc.rect(du * S, dv * S), _ROUTE, 3)
            frame.box(*xc.rect(i + P, j + P), _HI, 3)
            dxc = frame.heat(self._pdx, "dX", dX, "grad")
            frame.heat(self._pdw, "dW", dW, "grad")
            frame.box(*dxc.rect(i, j), _HI, 3)
            self._pdx.subtitle(frame, f"entry ({i}, {j}): {len(pairs)} product(s)")
            self.state["pairs"] = pairs
        frame.heat(self._pdb, "db", np.array([[float(db[0])]]), "grad", index=False)
        self._pdz.subtitle(frame, f"{Ho}×{Wo}")
        self.state["route"] = rs
        eq = html.escape(" ".join(line.strip() for line in rs.equation.splitlines()))
        self._readout = f"<span style='font-family:monospace'>{eq}</span>"


def conv_backward_explorer(X=None, W=None, dZ=None, *, stride=1, padding=0, dilation=1):
    """Convolution backward, interactively (notebook 03; seed 003 equations (1)-(3)).

    Edit X, the kernel W and the upstream gradient δZ = ∂L/∂Z (its grid follows the
    output shape as stride, padding and dilation change); the picture shows
    ``dW``, ``db = Σ δZ`` and ``dX`` from ``cnnlib.conv2d_backward``. Pick "dW" or
    "dX" and an entry: the cells whose products sum to it are outlined (the others
    fade), and the sum is written out under the picture (``cnnlib.viz.conv_dW_terms`` /
    ``conv_dX_terms``).

    ``.state`` holds X, W, dZ, dX, dW, db and the chosen route.
    """
    return ConvBackwardExplorer(X, W, dZ, stride=stride, padding=padding, dilation=dilation)


# --------------------------------------------------------------------------- pooling backward


def _pool_message(K, S, P, H, W):
    if 2 * P > K:
        return (
            f"padding {P} is more than half the {K}×{K} window (a window would be mostly padding) — "
            f"reduce padding or enlarge the window"
        )
    if K > H + 2 * P or K > W + 2 * P:
        return f"the {K}×{K} window is larger than the padded input {H + 2 * P}×{W + 2 * P} — shrink the window"
    return None


class PoolBackwardExplorer(Explorer):
    """See :func:`pool_backward_explorer`."""

    _fn = "pool_backward_explorer"

    def __init__(self, A=None, dP=None, *, mode="max", size=2, stride=2, padding=0):
        from ..pool import pool_output_size

        fn = self._fn
        _require_widgets(fn)
        if A is None:  # a tie in the first window: the first maximum in row-major order wins
            A = np.array([[1.0, 3.0, 2.0, 0.0], [3.0, 0.0, 1.0, 4.0], [0.5, 2.0, 2.5, 1.0], [1.0, 2.0, 0.0, 0.5]])
        A = _as_2d(fn, "A", A, max_side=8)
        if mode not in ("max", "average"):
            raise ValueError(f"{fn}: mode must be 'max' or 'average', got {mode!r}")
        self.H, self.Wd = A.shape
        self.max_size, self.max_stride, self.max_pad = 4, 4, 2
        size = _check_int(fn, "size", size, 1, self.max_size)
        stride = _check_int(fn, "stride", stride, 1, self.max_stride)
        padding = _check_int(fn, "padding", padding, 0, self.max_pad)
        cap = (self.H + 2 * self.max_pad, self.Wd + 2 * self.max_pad)
        table = _upstream_table(4, max(cap))
        if dP is not None:
            dP = _as_2d(fn, "dP", dP, max_side=12)
            Ho, Wo = pool_output_size(self.H, size, stride, padding), pool_output_size(self.Wd, size, stride, padding)
            if dP.shape != (Ho, Wo):
                raise ValueError(
                    f"{fn}: dP must have the shape of P, ({Ho}, {Wo}) for A {A.shape}, size {size}, "
                    f"stride {stride}, padding {padding}; got {dP.shape}"
                )
            table[:Ho, :Wo] = dP
        on = self._on_change
        self._agrid, self._cells = _grid_editor(A, on, prefix="A", width=54)
        self._dp = _ResizableGrid(table, (0, 0), on, prefix="dP")
        self._mode = widgets.ToggleButtons(
            options=["max", "average"],
            value=mode,
            description="mode",
            style={"description_width": "90px", "button_width": "80px"},
        )
        self._size = _int_slider("window K", size, 1, self.max_size)
        self._stride = _int_slider("stride S", stride, 1, self.max_stride)
        self._padding = _int_slider("padding P", padding, 0, self.max_pad)
        self._win = _int_slider("window #", 0, 0, 0)
        for w in (self._mode, self._size, self._stride, self._padding, self._win):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox([_label("input A"), self._agrid], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([_label("upstream δP = ∂L/∂P"), self._dp.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox(
                    [
                        _label("pooling window"),
                        self._mode,
                        self._size,
                        self._stride,
                        self._padding,
                        _label("follow one window"),
                        self._win,
                    ]
                ),
            ]
        )
        cs = 32
        top = 52
        gap = 50
        capp = (max(1, cap[0]), max(1, cap[1]))  # size 1, stride 1 keeps the padded size
        self._pa = _Panel("A", *cap, cs=cs).place(34, top)
        self._pp = _Panel("P", *capp, cs=cs).place(self._pa.x + self._pa.width + gap, top)
        row2 = top + max(self._pa.height, self._pp.height) + 58
        self._pdp = _Panel("δP", *capp, cs=cs).place(self._pp.x, row2)
        self._pda = _Panel("δA = ∂L/∂A", self.H, self.Wd, cs=cs).place(
            self._pa.x + (self._pa.width - self.Wd * cs) // 2, row2
        )
        width = self._pp.x + self._pp.width + 20
        height = row2 + max(self._pdp.height, self._pda.height) + 14
        self._placed_x = self._pp.x
        self._setup(
            "Pooling backward",
            "edit A and δP; switch max / average; overlapping windows (S < K) add their gradients",
            box,
            width,
            height,
            (self._pa, self._pp, self._pdp, self._pda),
        )
        self.update()

    def _place(self, rows1, rows_dp, cols_a, cols_p, a_text, p_text):
        """Lay the picture out for the current shapes: P and δP just right of the padded A (no empty band
        between them), δA and δP just under A and P; size the picture to fit (titles and subtitles included)."""
        cs, gap = self._pa.cs, 50
        small, bold = _Font.get(7.5, False), _Font.get(9, True)
        left = max(
            cols_a * cs,
            bold.width(self._pa.title) + 6 + small.width(a_text),
            bold.width(self._pda.title) + self._padding.value * cs,
        )
        xp = self._pa.x + left + gap
        row2 = self._pa.y + rows1 * cs + 58
        self._pp.place(xp, self._pa.y)
        self._pdp.place(xp, row2)
        self._pda.place(self._pa.x + self._padding.value * cs, row2)
        right = max(cols_p * cs, bold.width(self._pp.title) + 6 + small.width(p_text), bold.width(self._pdp.title))
        moved = xp != self._placed_x
        self._placed_x = xp
        self._fit_size(xp + right + 20, row2 + max(rows_dp, self.H) * cs + 14, moved=moved)

    @property
    def controls(self):
        return {
            **self._cells,
            **self._dp.cells,
            "mode": self._mode,
            "size": self._size,
            "stride": self._stride,
            "padding": self._padding,
            "window": self._win,
        }

    def _compute(self, frame):
        from ..pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward

        A = _read_grid(self._cells, (self.H, self.Wd), "A")
        mode, K, S, P = self._mode.value, self._size.value, self._stride.value, self._padding.value
        H, Wd = self.H, self.Wd
        self.state = {"A": A, "mode": mode, "size": K, "stride": S, "padding": P, "error": None}
        Ap = np.pad(A, P)
        grey = np.ones(Ap.shape, bool)
        grey[P : P + H, P : P + Wd] = False
        pad_label = "−∞" if mode == "max" else "0"
        labels = [
            [pad_label if grey[r, c] else cell_label(Ap[r, c]) for c in range(Ap.shape[1])] for r in range(Ap.shape[0])
        ]
        rl = [""] * P + [str(r) for r in range(H)] + [""] * P
        cl = [""] * P + [str(c) for c in range(Wd)] + [""] * P
        a_text = f"{H}×{Wd}" + (f", padded with {pad_label}" if P else "")
        self._pa.subtitle(frame, a_text)
        msg = _pool_message(K, S, P, H, Wd)
        if msg is not None:
            self._place(H + 2 * P, 1, Wd + 2 * P, 3, a_text, "")
            self._dp.resize((0, 0))
            self._win.max = 0
            self._win.disabled = True
            frame.heat(self._pa, "A", Ap, grey=grey, labels=labels, row_labels=rl, col_labels=cl)
            for p in (self._pp, self._pdp, self._pda):
                p.note(frame, "—", _ERR)
            self._readout = ""
            self._fail(frame, msg)
            return
        A4 = A[None, None]
        if mode == "max":
            P4, cache = maxpool2d_forward(A4, size=K, stride=S, padding=P)
        else:
            P4, cache = avgpool2d_forward(A4, size=K, stride=S, padding=P)
        Pm = P4[0, 0]
        Ho, Wo = Pm.shape
        p_text = f"{Ho}×{Wo}:  {K}×{K} windows, stride {S}"
        self._place(max(H + 2 * P, Ho), Ho, Wd + 2 * P, Wo, a_text, p_text)
        self._dp.resize((Ho, Wo))
        dP = self._dp.array
        if mode == "max":
            dA = maxpool2d_backward(dP[None, None], cache)[0, 0]
            winners = np.stack([cache.argmax_rows[0, 0], cache.argmax_cols[0, 0]], axis=-1)  # (Ho, Wo, 2)
        else:
            dA = avgpool2d_backward(dP[None, None], cache)[0, 0]
            winners = None
        self._win.disabled = False
        self._win.max = Ho * Wo - 1
        k = self._win.value
        u, v = divmod(k, Wo)
        r0, c0 = u * S, v * S  # window corner in padded coordinates
        self.state.update(P=Pm, dP=dP, dA=dA, window=(u, v), winners=winners)
        ac = frame.heat(self._pa, "A", Ap, grey=grey, labels=labels, row_labels=rl, col_labels=cl)
        pc = frame.heat(self._pp, "P", Pm)
        dpc = frame.heat(self._pdp, "dP", dP, "grad")
        dac = frame.heat(self._pda, "dA", dA, "grad")
        frame.box(*ac.rect(r0, c0, K, K), _HI, 2)
        frame.box(*pc.rect(u, v), _HI, 3)
        frame.box(*dpc.rect(u, v), _ROUTE, 3)
        self._pp.subtitle(frame, p_text)
        cells = [(r0 + i - P, c0 + j - P) for i in range(K) for j in range(K)]
        real = [(r, c) for r, c in cells if 0 <= r < H and 0 <= c < Wd]
        start = dpc.center(u, v)
        if mode == "max":
            wr, wc = (int(t) for t in winners[u, v])
            frame.box(*ac.rect(wr + P, wc + P), _ROUTE, 3)
            frame.box(*dac.rect(wr, wc), _ROUTE, 3)
            end = dac.center(wr, wc)
            # from δP's cell (clear of its row index) to δA's edge, not over δA's numbers
            frame.arrow(start[0] - dpc.cs / 2 - 14, start[1], dac.x0 + dac.w * dac.cs + 3, end[1])
            wins = [(a, b) for a in range(Ho) for b in range(Wo) if tuple(winners[a, b]) == (wr, wc)]
            ties = [(r, c) for r, c in real if A[r, c] == A[wr, wc] and (r, c) != (wr, wc)]
            txt = (
                f"window ({u}, {v}) covers A rows {r0 - P}…{r0 - P + K - 1}, columns {c0 - P}…{c0 - P + K - 1}; "
                f"its maximum A[{wr}, {wc}] = {readout_number(A[wr, wc])} is the winner"
                + (f" (tied with {', '.join(map(str, ties))}: the first in row-major order wins)" if ties else "")
                + f", so δA[{wr}, {wc}] receives δP[{u}, {v}] = {readout_number(dP[u, v])}"
            )
            if len(wins) > 1:
                txt += (
                    f"; A[{wr}, {wc}] wins {len(wins)} overlapping windows, so δA[{wr}, {wc}] = "
                    + " + ".join(_paren(dP[a, b]) for a, b in wins)
                    + f" = {readout_number(dA[wr, wc])}"
                )
            self.state["route"] = [(wr, wc)]
        else:
            share = dP[u, v] / (K * K)
            for r, c in real:
                frame.box(*dac.rect(r, c), _ROUTE, 3)
            if real:
                end = dac.center(*real[0])
                # from δP's cell to δA's edge (not over δA's numbers)
                frame.arrow(start[0] - dpc.cs / 2 - 14, start[1], dac.x0 + dac.w * dac.cs + 3, end[1])
            txt = (
                f"average: each of the {K * K} cells of window ({u}, {v}) gets δP[{u}, {v}] / {K * K} = "
                f"{readout_number(dP[u, v])} / {K * K} = {readout_number(share)}"
                + (f" ({K * K - len(real)} of them are padding and are cropped away)" if len(real) < K * K else "")
            )
            self.state["route"] = real
        unused = [r for r in range(H) if not any(0 <= u2 * S + i - P == r for u2 in range(Ho) for i in range(K))]
        if unused:
            txt += f". Rows {unused} are in no window: their gradient is 0"
        self._readout = html.escape(txt)


def pool_backward_explorer(A=None, dP=None, *, mode="max", size=2, stride=2, padding=0):
    """Pooling backward, interactively (notebook 04; seed 003 §3.3).

    Edit A (up to 8×8) and the upstream gradient δP; switch max / average pooling;
    change the window size K, stride S (S < K: overlapping windows) and padding.
    The picture shows P, δP and the routed gradient δA from cnnlib's
    ``maxpool2d_backward`` / ``avgpool2d_backward``. Follow one window: its winner
    (max: the first maximum in row-major order) or its K² cells (average) are outlined,
    with an arrow from its δP.

    ``.state`` holds A, P, dP, dA and the winners (max pooling).
    """
    return PoolBackwardExplorer(A, dP, mode=mode, size=size, stride=stride, padding=padding)


# --------------------------------------------------------------------------- seed 002 pipeline


class PipelineExplorer(Explorer):
    """See :func:`pipeline_explorer`."""

    _fn = "pipeline_explorer"

    def __init__(self, X=None, W1=None, B1=-0.5, W2=None, B2=0.1, y=1):
        fn = self._fn
        _require_widgets(fn)
        X = _pattern("diagonal stroke", 6, 6) if X is None else _as_2d(fn, "X", X, max_side=6, min_side=6)
        W1 = (
            np.array([[1.0, 0.0, -0.5], [0.0, 1.0, 0.0], [-0.5, 0.0, 1.0]])
            if W1 is None
            else _as_2d(fn, "W1", W1, max_side=3, min_side=3)
        )
        W2 = np.array([0.5, -0.25, -0.5, 1.0]) if W2 is None else np.asarray(W2, dtype=np.float64).reshape(-1)
        if W2.shape != (4,) or not np.all(np.isfinite(W2)):
            raise ValueError(f"{fn}: W2 must hold 4 finite weights (one per entry of F), got shape {np.shape(W2)}")
        if y not in (0, 1):
            raise ValueError(f"{fn}: y must be 0 or 1, got {y!r}")
        self.W2, self.B2 = W2.copy(), float(B2)
        self._X = X.copy()
        on = self._on_change
        self._pattern = widgets.Dropdown(
            options=["(keep)"] + PATTERNS,
            value="(keep)",
            description="X pattern",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="280px"),
        )
        self._pattern.observe(self._apply_pattern, names="value")
        self._prow = _int_slider("pixel row", 2, 0, 5)
        self._pcol = _int_slider("pixel column", 2, 0, 5)
        self._pval = _float_slider("pixel value", float(X[2, 2]), -1.0, 2.0, 0.1)
        self._prow.observe(self._select_pixel, names="value")
        self._pcol.observe(self._select_pixel, names="value")
        self._pval.observe(self._set_pixel, names="value")
        self._wgrid, self._cells = _grid_editor(W1, on, prefix="W1", width=58, step=0.25, lo=-3.0, hi=3.0)
        self._b1 = _float_slider("bias B1", float(B1), -2.0, 2.0, 0.1)
        self._y = widgets.ToggleButtons(
            options=[0, 1],
            value=int(y),
            description="label y",
            style={"description_width": "90px", "button_width": "48px"},
        )
        self._b1.observe(on, names="value")
        self._y.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox(
                    [_label("input X (6×6)"), self._pattern, self._prow, self._pcol, self._pval],
                    layout=widgets.Layout(margin="0 16px 0 0"),
                ),
                widgets.VBox(
                    [_label("kernel W1 (3×3)"), self._wgrid, self._b1], layout=widgets.Layout(margin="0 16px 0 0")
                ),
                widgets.VBox(
                    [
                        _label("target"),
                        self._y,
                        widgets.HTML(
                            value=f"<span style='color:#666'>W2 = {np.array2string(W2, separator=', ')}, "
                            f"B2 = {readout_number(self.B2)} (fixed)</span>"
                        ),
                    ]
                ),
            ]
        )
        cs, top, gap = 31, 52, 40
        P = {}
        P["X"] = _Panel("X", 6, 6, cs=cs).place(30, top)
        P["W1"] = _Panel("W1", 3, 3, cs=cs).place(P["X"].x + P["X"].width + 22, top)
        P["Z1"] = _Panel("Z1", 4, 4, cs=cs).place(P["W1"].x + P["W1"].width + gap, top)
        P["A1"] = _Panel("A1", 4, 4, cs=cs).place(P["Z1"].x + P["Z1"].width + gap, top)
        P["P1"] = _Panel("P1", 2, 2, cs=cs).place(P["A1"].x + P["A1"].width + gap, top)
        P["F"] = _Panel("F", 4, 1, cs=cs).place(P["P1"].x + P["P1"].width + gap, top)
        P["W2"] = _Panel("W2", 4, 1, cs=cs).place(P["F"].x + P["F"].width + 20, top)
        hx = P["W2"].x + P["W2"].width + 44
        row2 = top + 6 * cs + 58
        for name, label in (
            ("X", "dX"),
            ("W1", "dW1"),
            ("Z1", "δZ1"),
            ("A1", "δA1"),
            ("P1", "δP1"),
            ("F", "δF"),
            ("W2", "dW2"),
        ):
            q = P[name]
            P["d" + name] = _Panel(label, q.rows, q.cols, cs=cs).place(q.x, row2)
        for name, q in P.items():
            q.row_index = name in ("X", "dX")
        self._P = P
        self._head = (hx, top)
        width = hx + 112
        height = row2 + 6 * cs + 12

        def decorate(fig, ax):
            mid1, mid2 = top + 2 * cs, row2 + 2 * cs
            f = _Font.get(7)
            for a, b, op in (
                ("W1", "Z1", "conv"),
                ("Z1", "A1", "ReLU"),
                ("A1", "P1", "max"),
                ("P1", "F", "flatten"),
                ("W2", None, "σ"),
            ):
                x0 = P[a].x + P[a].width + 6
                x1 = (P[b].x - 6) if b else hx - 8
                _op_arrow(ax, x0, x1, mid1, "")
                _op_arrow(ax, x0, x1, mid2, "", back=True)
                for yy in (mid1, mid2):
                    ax.text(
                        (x0 + x1) / 2, yy + 12, op, fontproperties=f.prop, color="#555555", ha="center", va="center"
                    )
            ax.text(
                P["W1"].x + P["W1"].width / 2,
                top + 3 * cs + 14,
                "+ B1",
                fontproperties=f.prop,
                color="#555555",
                ha="center",
                va="center",
            )
            ax.text(
                P["F"].x + P["F"].width + 10,
                top + 2 * cs,
                "·",
                fontproperties=_Font.get(12, True).prop,
                ha="center",
                va="center",
                color="#555555",
            )
            ax.text(
                12, top + 3 * cs, "forward", fontproperties=f.prop, rotation=90, color=_GREY, ha="center", va="center"
            )
            ax.text(
                12, row2 + 3 * cs, "backward", fontproperties=f.prop, rotation=90, color=_GREY, ha="center", va="center"
            )

        self._setup(
            "Seed 002's network, end to end",
            "X → conv(W1) + B1 → ReLU → max-pool 2×2 → flatten → ·W2 + B2 → σ → BCE; "
            "every value on top, its gradient below",
            box,
            width,
            height,
            list(P.values()),
            decorate,
        )
        self.update()

    @property
    def controls(self):
        return {
            "pattern": self._pattern,
            "pixel row": self._prow,
            "pixel column": self._pcol,
            "pixel value": self._pval,
            **self._cells,
            "B1": self._b1,
            "y": self._y,
        }

    def _apply_pattern(self, change):
        if change["new"] not in PATTERNS:
            return
        self._X = _pattern(change["new"], 6, 6)
        self._busy = True
        try:
            self._pval.value = float(np.clip(self._X[self._prow.value, self._pcol.value], -1, 2))
            self._pattern.value = "(keep)"
        finally:
            self._busy = False
        self.update()

    def _select_pixel(self, change):
        if self._busy:
            return
        self._busy = True
        try:
            self._pval.value = float(np.clip(self._X[self._prow.value, self._pcol.value], -1, 2))
        finally:
            self._busy = False
        self.update()

    def _set_pixel(self, change):
        if self._busy:
            return
        self._X[self._prow.value, self._pcol.value] = float(change["new"])
        self.update()

    def _compute(self, frame):
        X = self._X.copy()
        W1 = _read_grid(self._cells, (3, 3), "W1")
        B1, y = float(self._b1.value), int(self._y.value)
        self.state = seed002_network(X, W1, B1, self.W2.copy(), self.B2, y)
        self.state.update(yhat=self.state["A2"], error=None)
        st, P = self.state, self._P
        r, c = self._prow.value, self._pcol.value
        xc = frame.heat(P["X"], "X", X)
        frame.box(*xc.rect(r, c), _HI, 3)
        frame.heat(P["W1"], "W1", W1)
        relu_off = st["Z1"] <= 0
        frame.heat(P["Z1"], "Z1", st["Z1"])
        ac = frame.heat(P["A1"], "A1", st["A1"])
        for wr, wc in st["winners"]:
            frame.box(*ac.rect(wr, wc), _ROUTE, 2)
        frame.heat(P["P1"], "P1", st["P1"])
        frame.heat(P["F"], "F", st["F"][:, None])
        frame.heat(P["W2"], "W2", st["W2"][:, None])
        dxc = frame.heat(P["dX"], "dX", st["dX"], "grad")
        frame.box(*dxc.rect(r, c), _HI, 3)
        frame.heat(P["dW1"], "dW1", st["dW1"], "grad")
        frame.heat(P["dZ1"], "dZ1", st["dZ1"], "grad", dim=relu_off)
        dac = frame.heat(P["dA1"], "dA1", st["dA1"], "grad")
        for wr, wc in st["winners"]:
            frame.box(*dac.rect(wr, wc), _ROUTE, 2)
        frame.heat(P["dP1"], "dP1", st["dP1"], "grad")
        frame.heat(P["dF"], "dF", st["dF"][:, None], "grad")
        frame.heat(P["dW2"], "dW2", st["dW2"][:, None], "grad")
        P["W1"].subtitle(frame, f"B1 = {readout_number(B1, 3)}")
        P["dW1"].subtitle(frame, f"dB1 = {readout_number(st['dB1'], 3)}")
        P["dZ1"].subtitle(frame, "0 where Z1 ≤ 0")
        hx, top = self._head
        row2 = P["dX"].y
        heads = (
            (top, [("Z2 = F·W2 + B2", st["Z2"]), ("ŷ = A2 = σ(Z2)", st["A2"]), ("L = BCE(ŷ, y)", st["L"])]),
            (row2, [("δZ2 = ŷ − y", st["dZ2"]), ("dB2 = δZ2", st["dB2"]), ("dB1 = Σ δZ1", st["dB1"])]),
        )
        for y0, lines in heads:
            for k, (name, val) in enumerate(lines):
                frame.text(name, hx, y0 + 6 + 34 * k, 7.5, _GREY, ha="left")
                frame.text("= " + readout_number(val), hx + 8, y0 + 21 + 34 * k, 8, _INK, bold=True, ha="left")
        frame.text(f"label y = {y}", hx, top + 6 + 34 * 3, 7.5, _ROUTE, bold=True, ha="left")
        self._readout = (
            f"pixel X[{r}, {c}] = {readout_number(X[r, c])}: ∂L/∂X[{r}, {c}] = <b>{readout_number(st['dX'][r, c])}</b>"
            f" &nbsp;·&nbsp; ŷ = {readout_number(st['A2'])}, L = {readout_number(st['L'])}, δZ2 = ŷ − y = "
            f"{readout_number(st['dZ2'])} &nbsp;·&nbsp; orange: the max-pool winners (the only cells of A1 "
            f"that receive gradient); faded δZ1: ReLU off (Z1 ≤ 0)"
        )


def pipeline_explorer(X=None, W1=None, B1=-0.5, W2=None, B2=0.1, y=1):
    """Seed 002's network, every value and gradient, interactively (notebook 06).

    ``X (6×6) → conv W1 (3×3) + B1 → Z1 (4×4) → ReLU → A1 → max-pool 2×2 → P1 (2×2)
    → flatten → F (4) → Z2 = F·W2 + B2 → A2 = ŷ = σ(Z2) → L = BCE(ŷ, y)``.

    Choose an X pattern or a pixel and its value, edit W1 and B1, flip the label;
    the top row shows the forward values, the bottom row every gradient (dX, dW1,
    δZ1, δA1, δP1, δF, dW2 and the scalars), all from cnnlib's layer functions.
    ``.state`` uses seed 002's names (X, W1, B1, Z1, A1, P1, F, W2, B2, Z2, A2, L and
    their d-prefixed gradients), so ``cnnlib.viz.seed002_flow(ex.state)`` draws it too.
    """
    return PipelineExplorer(X, W1, B1, W2, B2, y)


# --------------------------------------------------------------------------- dense + softmax (chapter 01)


class _Bars:
    """A bar chart slot with a fixed value range (so its axis is drawn once)."""

    def __init__(self, title, n, lo, hi, *, bar=30, gap=14, height=150, labels=None):
        self.title, self.n, self.lo, self.hi = title, n, float(lo), float(hi)
        self.bar, self.gap, self.h = bar, gap, height
        self.labels = labels or [str(k) for k in range(n)]
        self.x = self.y = 0
        self.row_index = False
        self.cs = bar
        self.rows = 1

    @property
    def width(self):
        return self.n * self.bar + (self.n + 1) * self.gap

    @property
    def height(self):
        return self.h

    def place(self, x, y):
        self.x, self.y = int(x), int(y)
        return self

    def ypix(self, v):
        v = min(max(float(v), self.lo), self.hi)
        return self.y + (self.hi - v) / (self.hi - self.lo) * self.h

    def xbar(self, k):
        return self.x + self.gap + k * (self.bar + self.gap)

    def decorate(self, ax):
        f = _Font.get(6.5)
        y0 = self.ypix(0.0)
        ax.plot([self.x, self.x + self.width], [y0, y0], color="#777777", lw=0.8)
        ax.plot([self.x, self.x], [self.y, self.y + self.h], color="#bbbbbb", lw=0.8)
        for v in sorted({self.lo, 0.0, self.hi}):
            yy = self.ypix(v)
            ax.plot([self.x - 3, self.x], [yy, yy], color="#bbbbbb", lw=0.8)
            ax.text(self.x - 5, yy, cell_label(v), fontproperties=f.prop, color=_GREY, ha="right", va="center")
        for k, lab in enumerate(self.labels):
            ax.text(
                self.xbar(k) + self.bar / 2,
                self.y + self.h + 22,
                lab,
                fontproperties=f.prop,
                color=_GREY,
                ha="center",
                va="center",
            )

    def draw(self, frame, values, colors, outline=None):
        """Bars for ``values``; values outside the range are clipped and marked with an arrow head."""
        y0 = self.ypix(0.0)
        for k, (v, col) in enumerate(zip(values, colors)):
            x = self.xbar(k)
            y1 = self.ypix(v)
            top, bot = min(y0, y1), max(y0, y1)
            frame.fill(x, top, self.bar, max(bot - top, 1), col)
            clipped = v > self.hi or v < self.lo
            label = cell_label(v) + (" ›" if clipped else "")
            ty = top - 8 if v >= 0 else bot + 8
            ty = min(max(ty, self.y - 8), self.y + self.h + 9)
            frame.text(label, x + self.bar / 2, ty, 7, _INK, bold=clipped)
            if outline is not None and k == outline:
                frame.box(x - 1, min(top, y0) - 1, self.bar + 1, max(bot - top, 1) + 1, _HI, 2)


class DenseSoftmaxExplorer(Explorer):
    """See :func:`dense_softmax_explorer`."""

    _fn = "dense_softmax_explorer"

    def __init__(self, p=None, U=None, c=None, y=0, *, logits=None, mode="logits"):
        fn = self._fn
        _require_widgets(fn)
        p = np.array([1.0, 0.5, -1.0]) if p is None else np.asarray(p, dtype=np.float64).reshape(-1)
        U = (
            np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.5, 1.0]])
            if U is None
            else _as_2d(fn, "U", U, max_side=4)
        )
        M, K = U.shape
        c = np.zeros(M) if c is None else np.asarray(c, dtype=np.float64).reshape(-1)
        s0 = (
            np.array([2.0, 1.0, 0.1][:M] + [0.0] * max(0, M - 3))
            if logits is None
            else np.asarray(logits, dtype=np.float64).reshape(-1)
        )
        if p.shape != (K,) or c.shape != (M,) or s0.shape != (M,):
            raise ValueError(
                f"{fn}: need p ({K},), U ({M}, {K}), c ({M},) and logits ({M},); got p {p.shape}, "
                f"U {U.shape}, c {c.shape}, logits {s0.shape}"
            )
        if M < 2:
            raise ValueError(f"{fn}: softmax needs at least 2 classes, U has {M} row(s)")
        if y not in range(M):
            raise ValueError(f"{fn}: y must be a class index in 0..{M - 1}, got {y!r}")
        if mode not in ("logits", "layer"):
            raise ValueError(f"{fn}: mode must be 'logits' or 'layer', got {mode!r}")
        self.M, self.K, self.c = M, K, c.copy()
        on = self._on_change
        self._mode = widgets.ToggleButtons(
            options=["logits", "layer"],
            value=mode,
            description="move",
            style={"description_width": "60px", "button_width": "70px"},
        )
        self._s = [
            _float_slider(f"s[{i}]", float(np.clip(s0[i], -6, 6)), -6.0, 6.0, 0.1, width="250px") for i in range(M)
        ]
        self._p = [
            _float_slider(f"p[{k}]", float(np.clip(p[k], -3, 3)), -3.0, 3.0, 0.1, width="250px") for k in range(K)
        ]
        self._ugrid, self._cells = _grid_editor(U, on, prefix="U", width=58, step=0.25, lo=-5.0, hi=5.0)
        self._y = widgets.ToggleButtons(
            options=list(range(M)),
            value=int(y),
            description="label y",
            style={"description_width": "60px", "button_width": "40px"},
        )
        for w in (self._mode, self._y, *self._s, *self._p):
            w.observe(on, names="value")
        self._logit_box = widgets.VBox([_label("logits s"), *self._s])
        self._layer_box = widgets.HBox(
            [
                widgets.VBox([_label("input p"), *self._p], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([_label("weights U (M×K)"), self._ugrid]),
            ]
        )
        box = widgets.VBox([widgets.HBox([self._mode, self._y]), widgets.HBox([self._logit_box, self._layer_box])])

        cs, top = 34, 52
        self._pp = _Panel("p", K, 1, cs=cs).place(30, top)
        self._pu = _Panel("U", M, K, cs=cs).place(self._pp.x + cs + 70, top)
        bx = self._pu.x + K * cs + 56
        self._bs = _Bars("s = U p + c", M, -6, 6).place(bx, top)
        self._by = _Bars("ŷ = softmax(s)", M, 0, 1).place(self._bs.x + self._bs.width + 50, top)
        self._bd = _Bars("δ = ŷ − y", M, -1, 1).place(self._by.x + self._by.width + 50, top)
        row2 = top + max(150 + 30, M * cs, K * cs) + 62
        self._pdp = _Panel("dp = Uᵀδ", K, 1, cs=cs).place(self._pp.x, row2)
        self._pdu = _Panel("dU = δ pᵀ", M, K, cs=cs).place(self._pu.x, row2)
        self._loss_xy = (self._bs.x, row2)
        width = self._bd.x + self._bd.width + 16
        height = row2 + max(M, K) * cs + 16
        bars = (self._bs, self._by, self._bd)

        def decorate(fig, ax):
            for b in bars:
                b.decorate(ax)

        self._setup(
            "Dense layer, softmax and cross-entropy",
            "move the logits (or p and U) and the label; δ = ∂L/∂s = ŷ − y",
            box,
            width,
            height,
            (self._pp, self._pu, *bars, self._pdp, self._pdu),
            decorate,
        )
        self.update()

    @property
    def controls(self):
        out = {"mode": self._mode, "y": self._y}
        out.update({f"s[{i}]": w for i, w in enumerate(self._s)})
        out.update({f"p[{k}]": w for k, w in enumerate(self._p)})
        out.update(self._cells)
        return out

    def _compute(self, frame):
        from ..dense import dense_backward, dense_forward
        from ..losses import softmax, softmax_cross_entropy

        M, K = self.M, self.K
        mode, y = self._mode.value, int(self._y.value)
        self._logit_box.layout.display = "" if mode == "logits" else "none"
        self._layer_box.layout.display = "" if mode == "layer" else "none"
        p = np.array([w.value for w in self._p])
        U = _read_grid(self._cells, (M, K), "U")
        self.state = {"mode": mode, "y": y, "error": None}
        if mode == "layer":
            s2, cache = dense_forward(p[None, :], U, self.c)  # (1, M)
            self.state.update(p=p, U=U, c=self.c.copy())
        else:
            s2 = np.array([[w.value for w in self._s]])  # (1, M)
        L, ds = softmax_cross_entropy(s2, np.array([y]))  # ds = ŷ - onehot(y) (N = 1)
        yhat = softmax(s2)[0]  # (M,)
        s, delta = s2[0], ds[0]
        onehot = np.eye(M)[y]
        self.state.update(s=s, yhat=yhat, L=float(L), delta=delta, onehot=onehot)
        frame.arrays.update(s=s.copy(), yhat=yhat.copy(), delta=delta.copy())
        self._bs.draw(frame, s, ["#8c8c8c"] * M)
        self._by.draw(frame, yhat, [_viz.SEQUENTIAL_CMAP(0.55)[:3]] * M, outline=y)
        cm = _cmap(CMAPS["grad"])
        self._bd.draw(frame, delta, [cm(0.5 + 0.45 * float(np.sign(d)))[:3] for d in delta])
        for b, sub in ((self._bs, ""), (self._by, f"(outlined: class y = {y})"), (self._bd, "")):
            if sub:
                frame.text(sub, b.x + b.width / 2, b.y + b.h + 36, 6.5, _GREY)
        lx, ly = self._loss_xy
        frame.text(
            f"L = −log ŷ[{y}] = −log {readout_number(yhat[y])} = {readout_number(L)}",
            lx,
            ly + 4,
            9,
            _INK,
            bold=True,
            ha="left",
        )
        yhat_text = ", ".join(readout_number(v, 3) for v in yhat)
        frame.text(
            f"δ = ŷ − y = [{yhat_text}] − [{', '.join(str(int(v)) for v in onehot)}]",
            lx,
            ly + 26,
            7.5,
            _INK,
            ha="left",
        )
        total = float(delta.sum())
        frame.text(
            f"the δ entries sum to {readout_number(0.0 if abs(total) < 1e-12 else total)}: "
            "raising one logit's probability lowers the others'",
            lx,
            ly + 44,
            7.5,
            _GREY,
            ha="left",
        )
        if mode == "layer":
            dp, dU, dc = dense_backward(ds, cache)
            self.state.update(dp=dp[0], dU=dU, dc=dc)
            frame.heat(self._pp, "p", p[:, None])
            frame.heat(self._pu, "U", U)
            frame.heat(self._pdp, "dp", dp[0][:, None], "grad")
            frame.heat(self._pdu, "dU", dU, "grad")
            self._readout = (
                f"s = U p + c = [{', '.join(readout_number(v) for v in s)}]; dU = δ pᵀ, dc = δ, "
                f"dp = Uᵀ δ = [{', '.join(readout_number(v) for v in dp[0])}]"
            )
        else:
            for q in (self._pp, self._pu, self._pdp, self._pdu):
                q.note(frame, "switch to\n'layer'" if q.width > 40 else "", _GREY)
            self._readout = (
                f"softmax: ŷ[i] = e^s[i] / Σ e^s[j] = [{', '.join(readout_number(v) for v in yhat)}]; "
                f"L = {readout_number(L)}; δ = ŷ − y = [{', '.join(readout_number(v) for v in delta)}]"
            )


def dense_softmax_explorer(p=None, U=None, c=None, y=0, *, logits=None, mode="logits"):
    """Dense layer + softmax + cross-entropy, interactively (notebook 01; seed 003 §2.4, §3.1).

    Mode "logits": move the scores s directly. Mode "layer": move the input p and the
    weights U (s = U p + c, ``cnnlib.dense_forward``). Pick the label y. Bars show s,
    ŷ = softmax(s) and δ = ∂L/∂s = ŷ − y (``cnnlib.softmax_cross_entropy``); in layer
    mode the heat maps show dU = δ pᵀ and dp = Uᵀ δ (``cnnlib.dense_backward``).
    ``.state`` holds s, yhat, L, delta (and p, U, dp, dU in layer mode).
    """
    return DenseSoftmaxExplorer(p, U, c, y, logits=logits, mode=mode)


# --------------------------------------------------------------------------- channels and filters (chapter 07)


_DZ_CHOICES = ["given δZ", "random draw 1", "random draw 2", "all ones", "one entry of filter 0"]


class ChannelsExplorer(Explorer):
    """See :func:`channels_explorer`."""

    _fn = "channels_explorer"

    def __init__(self, X=None, W=None, dZ=None):
        fn = self._fn
        _require_widgets(fn)
        if X is None:
            X = np.stack([_pattern("diagonal stroke", 6, 6), _pattern("vertical edge", 6, 6)])
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 4 and X.shape[0] == 1:
            X = X[0]
        if X.ndim != 3 or not (1 <= X.shape[0] <= 2) or not (2 <= X.shape[1] <= 6 and 2 <= X.shape[2] <= 6):
            raise ValueError(f"{fn}: X must be (C, H, W) with 1 or 2 channels and sides 2 to 6, got shape {X.shape}")
        C, H, Wd = X.shape
        if W is None:
            W = np.zeros((2, C, 3, 3))
            W[0, :, 1, :] = 1.0  # filter 0: a horizontal bar in every channel
            W[1, :, :, 1] = 1.0  # filter 1: a vertical bar
            W[1, :, 0, 0] = -1.0
            W[0, :, 2, 2] = -0.5
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 4 or W.shape[1] != C or not (1 <= W.shape[0] <= 2) or W.shape[2] != W.shape[3]:
            raise ValueError(
                f"{fn}: W must be (F, C, K, K) with 1 or 2 filters and C = {C} channels (those of X), "
                f"got shape {W.shape}"
            )
        F, _, K, _ = W.shape
        if not (1 <= K <= min(H, Wd, 3)):
            raise ValueError(f"{fn}: the kernel size K must be 1 to 3 and fit X ({H}×{Wd}), got {K}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(W))):
            raise ValueError(f"{fn}: X and W must be finite")
        Ho, Wo = H - K + 1, Wd - K + 1
        if dZ is not None:
            dZ = np.asarray(dZ, dtype=np.float64)
            if dZ.ndim == 4 and dZ.shape[0] == 1:
                dZ = dZ[0]
            if dZ.shape != (F, Ho, Wo) or not np.all(np.isfinite(dZ)):
                raise ValueError(f"{fn}: dZ must be finite with the shape of Z, {(F, Ho, Wo)}, got {np.shape(dZ)}")
        self.C, self.F, self.K, self.H, self.Wd, self.Ho, self.Wo = C, F, K, H, Wd, Ho, Wo
        self._X, self._W = X.copy(), W.copy()
        draws = [_upstream_table(s, max(Ho, Wo))[:Ho, :Wo] for s in (11, 12, 13, 14)]
        one = np.zeros((F, Ho, Wo))
        one[0, Ho // 2, Wo // 2] = 1.0
        self._dZ_options = {
            "given δZ": dZ.copy() if dZ is not None else np.stack(draws[:F]),
            "random draw 1": np.stack(draws[:F]),
            "random draw 2": np.stack(draws[2 : 2 + F]),
            "all ones": np.ones((F, Ho, Wo)),
            "one entry of filter 0": one,
        }

        on = self._on_change
        self._patterns = []
        for c in range(C):
            d = widgets.Dropdown(
                options=["(keep)"] + PATTERNS,
                value="(keep)",
                description=f"X[{c}] pattern",
                style={"description_width": "90px"},
                layout=widgets.Layout(width="270px"),
            )
            d.observe(lambda change, c=c: self._apply_pattern(c, change), names="value")
            self._patterns.append(d)
        pairs = [(f, c) for f in range(F) for c in range(C)]
        self._kernel = widgets.Dropdown(
            options=[(f"W[{f}, {c}]: filter {f}, channel {c}", (f, c)) for f, c in pairs],
            value=(0, 0),
            description="edit kernel",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="300px"),
        )
        self._kernel.observe(self._select_kernel, names="value")
        self._wgrid, self._wcells = _grid_editor(W[0, 0], self._edit_kernel, prefix="W", lo=-3.0, hi=3.0, step=0.25)
        self._dz = widgets.Dropdown(
            options=_DZ_CHOICES,
            value="given δZ",
            description="upstream δZ",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="270px"),
        )
        self._target = widgets.ToggleButtons(
            options=["dW", "dX"],
            value="dW",
            description="explain",
            style={"description_width": "90px", "button_width": "60px"},
        )
        self._f = _int_slider("filter f", 0, 0, F - 1)
        self._c = _int_slider("channel c", 0, 0, C - 1)
        self._row = _int_slider("row", 0, 0, K - 1)
        self._col = _int_slider("column", 0, 0, K - 1)
        for w in (self._dz, self._target, self._f, self._c, self._row, self._col):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox(
                    [_label(f"input X ({C}×{H}×{Wd})"), *self._patterns, self._dz],
                    layout=widgets.Layout(margin="0 14px 0 0"),
                ),
                widgets.VBox(
                    [_label(f"kernels W ({F}×{C}×{K}×{K})"), self._kernel, self._wgrid],
                    layout=widgets.Layout(margin="0 14px 0 0"),
                ),
                widgets.VBox(
                    [_label("which entry comes from where?"), self._target, self._f, self._c, self._row, self._col]
                ),
            ]
        )

        cs, top, gap, kgap_x, kgap_y = 31, 52, 36, 20, 36
        x = 30
        self._px = []
        for c in range(C):
            self._px.append(_Panel(f"X[{c}]  channel {c}", H, Wd, cs=cs).place(x, top))
            x += Wd * cs + 20
        xk = x + gap - 20
        self._pw = {}
        for f in range(F):
            for c in range(C):
                self._pw[f, c] = _Panel(f"W[{f},{c}]", K, K, cs=cs).place(
                    xk + c * (K * cs + kgap_x), top + f * (K * cs + kgap_y)
                )
        kw = C * K * cs + (C - 1) * kgap_x
        xz = xk + max(kw, 60) + gap
        self._pdz = []
        for f in range(F):
            self._pdz.append(_Panel(f"δZ[{f}]  filter {f}", Ho, Wo, cs=cs).place(xz + f * (Wo * cs + 24), top))
        rows1 = max(H * cs, F * K * cs + (F - 1) * kgap_y, Ho * cs)
        row2 = top + rows1 + 60
        self._pdx = [_Panel(f"dX[{c}]", H, Wd, cs=cs).place(p.x, row2) for c, p in enumerate(self._px)]
        self._pdw = {
            (f, c): _Panel(f"dW[{f},{c}]", K, K, cs=cs).place(p.x, row2 + (p.y - top)) for (f, c), p in self._pw.items()
        }
        self._pdb = _Panel("db = Σ δZ[f]", 1, F, cs=cs + 8).place(xz, row2)
        width = max(self._pdz[-1].x + Wo * cs, self._pdb.x + 130) + 20
        height = row2 + rows1 + 14
        panels = [*self._px, *self._pw.values(), *self._pdz, *self._pdx, *self._pdw.values(), self._pdb]

        def decorate(fig, ax):
            f7 = _Font.get(7)
            for y0, text in ((top + rows1 / 2, "inputs"), (row2 + rows1 / 2, "gradients")):
                ax.text(12, y0, text, fontproperties=f7.prop, rotation=90, color=_GREY, ha="center", va="center")

        self._setup(
            "Channels and filters, backward",
            "C input channels, F filters: dW[f, c] = X[c] ⋆ δZ[f] and dX[c] = Σ_f δZ[f] * W[f, c]; "
            "pick an entry to see the products that sum to it",
            box,
            width,
            height,
            panels,
            decorate,
        )
        self.update()

    # -- controls that edit the backing arrays

    @property
    def controls(self):
        return {
            **{f"pattern {c}": d for c, d in enumerate(self._patterns)},
            "kernel": self._kernel,
            **self._wcells,
            "dZ": self._dz,
            "explain": self._target,
            "filter": self._f,
            "channel": self._c,
            "row": self._row,
            "column": self._col,
        }

    def _apply_pattern(self, c, change):
        if change["new"] not in PATTERNS:
            return
        self._X[c] = _pattern(change["new"], self.H, self.Wd)
        self._busy = True
        try:
            self._patterns[c].value = "(keep)"
        finally:
            self._busy = False
        self.update()

    def _select_kernel(self, change):
        f, c = change["new"]
        self._busy = True
        try:
            for r in range(self.K):
                for q in range(self.K):
                    self._wcells[f"W[{r},{q}]"].value = float(np.clip(self._W[f, c, r, q], -3.0, 3.0))
        finally:
            self._busy = False
        self.update()

    def _edit_kernel(self, change):
        if self._busy:
            return
        f, c = self._kernel.value
        self._W[f, c] = _read_grid(self._wcells, (self.K, self.K), "W")
        self.update()

    # -- the picture

    def _compute(self, frame):
        from ..conv import conv2d_backward, conv2d_forward

        X, W = self._X.copy(), self._W.copy()
        C, F, K, H, Wd, Ho, Wo = self.C, self.F, self.K, self.H, self.Wd, self.Ho, self.Wo
        dZ = self._dZ_options[self._dz.value].copy()
        target = self._target.value
        if target == "dW":
            self._row.max, self._col.max = K - 1, K - 1
        else:
            self._row.max, self._col.max = H - 1, Wd - 1
        self._f.disabled = target == "dX"  # dX[c] sums over every filter
        f, c, i, j = self._f.value, self._c.value, self._row.value, self._col.value
        Z4, cache = conv2d_forward(X[None], W, np.zeros(F))
        dX4, dW, db = conv2d_backward(dZ[None], cache)
        dX = dX4[0]
        self.state = {"X": X, "W": W, "dZ": dZ, "Z": Z4[0], "dX": dX, "dW": dW, "db": db, "target": target}
        xdim = [np.ones((H, Wd), bool) for _ in range(C)]
        wdim = {k: np.ones((K, K), bool) for k in self._pw}
        zdim = [np.ones((Ho, Wo), bool) for _ in range(F)]
        routes_x, routes_w, routes_z = [], [], []  # (channel, r, q), ((f, c), r, q), (f, u, v)
        if target == "dW":
            self.state["index"] = (f, c, i, j)
            rs = _viz.conv_dW_terms(X, dZ, W.shape, (f, c, i, j))
            wdim[f, c][i, j] = False
            for u in range(Ho):
                for v in range(Wo):
                    xdim[c][u + i, v + j] = False
                    zdim[f][u, v] = False
                    if dZ[f, u, v] != 0:
                        routes_x.append((c, u + i, v + j))
                        routes_z.append((f, u, v))
        else:
            self.state["index"] = (c, i, j)
            rs = _viz.conv_dX_terms(W, dZ, X.shape, (c, i, j))
            xdim[c][i, j] = False
            for g in range(F):
                for a in range(K):
                    for e in range(K):
                        u, v = i - a, j - e
                        if 0 <= u < Ho and 0 <= v < Wo:
                            wdim[g, c][a, e] = False
                            zdim[g][u, v] = False
                            routes_w.append(((g, c), a, e))
                            routes_z.append((g, u, v))
        self.state["route"] = rs
        xc = [frame.heat(self._px[k], f"X[{k}]", X[k], dim=xdim[k]) for k in range(C)]
        wc = {key: frame.heat(p, f"W[{key[0]},{key[1]}]", W[key], dim=wdim[key]) for key, p in self._pw.items()}
        zc = [frame.heat(self._pdz[g], f"dZ[{g}]", dZ[g], "grad", dim=zdim[g]) for g in range(F)]
        dxc = [frame.heat(self._pdx[k], f"dX[{k}]", dX[k], "grad") for k in range(C)]
        dwc = {key: frame.heat(p, f"dW[{key[0]},{key[1]}]", dW[key], "grad") for key, p in self._pdw.items()}
        frame.heat(self._pdb, "db", db[None, :], "grad", row_labels=[""])
        for k, r, q in routes_x:
            frame.box(*xc[k].rect(r, q), _ROUTE, 3)
        for key, r, q in routes_w:
            frame.box(*wc[key].rect(r, q), _ROUTE, 3)
        for g, u, v in routes_z:
            if dZ[g, u, v] != 0:
                frame.box(*zc[g].rect(u, v), _ROUTE, 3)
        if target == "dW":
            frame.box(*wc[f, c].rect(i, j), _HI, 3)
            frame.box(*dwc[f, c].rect(i, j), _HI, 3)
        else:
            frame.box(*xc[c].rect(i, j), _HI, 3)
            frame.box(*dxc[c].rect(i, j), _HI, 3)
            self._pdx[c].subtitle(frame, f"entry ({i}, {j}): {len(rs.terms)} product(s)")
        eq = html.escape(" ".join(line.strip() for line in rs.equation.splitlines()))
        what = (
            f"dW[{f},{c}] only meets input channel {c} and filter {f}'s δ"
            if target == "dW"
            else f"dX[{c}] collects from every filter: Σ over f = 0..{F - 1}"
        )
        self._readout = f"<span style='font-family:monospace'>{eq}</span> &nbsp;·&nbsp; {html.escape(what)}"


def channels_explorer(X=None, W=None, dZ=None):
    """Convolution backward with several channels and filters, interactively (notebook 07; seed 003 eqs. (1)-(3)).

    ``X`` (C, H, W) with C = 1 or 2 channels and sides up to 6, kernels ``W`` (F, C, K, K)
    with F = 1 or 2 filters and K up to 3, and an upstream gradient ``dZ`` = δZ (F, H-K+1,
    W-K+1) (stride 1, no padding). The top row shows every input channel, the F×C grid of
    kernels and each filter's δZ; the bottom row dX per channel, the grid of dW[f, c] =
    X[c] ⋆ δZ[f] and db, all from ``cnnlib.conv2d_backward``. Choose a pattern for a
    channel, pick a kernel W[f, c] to edit, switch the upstream δZ (the given one, random
    draws, all ones, a single entry), then pick "dW" (filter, channel, row, column) or
    "dX" (channel, row, column): the cells whose products add up to that entry are
    outlined, the others fade, and the sum is written out under the picture
    (``cnnlib.viz.conv_dW_terms`` / ``conv_dX_terms``).

    ``.state`` holds X, W, dZ, Z, dX, dW, db, the explained index and its route.
    """
    return ChannelsExplorer(X, W, dZ)
