"""The explorers' picture: what it shows (:class:`Frame`) and the fast painter that turns it into PNG bytes.

Each explorer owns one Agg-backed matplotlib figure (:class:`Live`) whose static parts
(titles, arrows, axes) are drawn once and cached as a background. A move restores that
background, paints the heat maps, outlines and numbers straight into the pixel buffer
(NumPy, with glyphs rendered once by matplotlib and reused, :class:`Font`) and encodes
the buffer as PNG (:func:`png`).
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch

from .._format import MINUS, auto_decimals, cell_labels, format_number
from ..viz import _style
from ..viz._style import CELL_INK, INK, ROUTE_COLORS, relative_luminance

DPI = 100

GAP = np.array([205, 205, 205], np.uint8)  # lines between cells
_PAD_RGB = np.array([236, 236, 236], np.uint8)  # zero-padding cells
GREY = "#666666"  # secondary text: 5.7:1 against the white picture, 4.8:1 on a padding cell
HI = "#111111"  # the current cell / window
ROUTE = ROUTE_COLORS[0]  # cells on a route
ERR = "#b3261e"
#: the numbers of faded cells (outside the current story): lighter than INK, yet at least 4.5:1 on
#: the faded cell colours, which are never darker than 78 % white
DIM_INK = "#505050"  # error text: 6.5:1 against white


_RGB_CACHE: dict = {}


def rgb8(color) -> np.ndarray:
    """Colour -> uint16 RGB triple 0..255 (cached: called for every label)."""
    if isinstance(color, np.ndarray):
        return color.astype(np.uint16)
    c = _RGB_CACHE.get(color)
    if c is None:
        c = _RGB_CACHE[color] = np.array([round(255 * v) for v in to_rgb(color)], np.uint16)
    return c


# --------------------------------------------------------------------------- glyphs


class Font:
    """Glyph masks for one font size, rendered once by matplotlib and composed per string.

    Drawing dozens of matplotlib ``Text`` artists costs about a millisecond each;
    composing cached glyph masks with NumPy costs microseconds. Kerning is ignored,
    which is invisible for the digits and short labels used here.
    """

    _instances: dict = {}

    @classmethod
    def get(cls, size: float, bold: bool = False) -> Font:
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


def text_origin(font, s, x, y, ha):
    """Top-left pixel of ``s`` anchored at ``(x, y)`` (``y``: the vertical centre of the digits)."""
    w = font.width(s)
    if ha == "center":
        left = x - w // 2
    elif ha == "right":
        left = x - w
    else:
        left = x
    top = int(round(y - font.mid))
    return left, top


CELL_MARGIN = 4  # pixels a cell keeps free around its number (2 on each side)
INDEX_SIZE = 7  # points: the row and column indices beside a grid (9.7 px, above 9 px with room to spare)


def cell_size(arrays, least=28, most=64, size=7.5, margin=CELL_MARGIN):
    """The cell side (pixels) at which every number of ``arrays`` fits its cell at ``size`` points,
    with ``margin`` pixels free (neighbours' numbers at least that far apart).

    Each array is labelled as its panel labels it (:func:`cnnlib._format.cell_labels`,
    one number of decimals per array): a label never runs into its neighbour.
    """
    font = Font.get(size, False)
    widest = 0
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        if a.size:
            widest = max(widest, max(font.width(s) for s in np.ravel(np.array(cell_labels(a), dtype=object))))
    return int(min(max(least, widest + margin), most))


def _drop_leading_zero(s):
    """``0.054`` -> ``.054``, ``−0.79`` -> ``−.79``; other labels unchanged."""
    if s.startswith("0."):
        return s[1:]
    if s.startswith(MINUS + "0."):
        return MINUS + s[2:]
    return s


def fitted_labels(arrays, sizes, size=7.5):
    """(labels, fmt): the labels of each of ``arrays``, in one number format shared by all of them, that fit
    cells of ``sizes`` pixels (one cell side per array).

    The book's labels (:func:`cnnlib._format.cell_labels` of all the arrays together) when they fit;
    else the same numbers with fewer decimals, down to two significant digits of the largest entry
    (−0.794 as −0.79); else also without the leading zero (−0.0180 as −.018). Never a unit or a
    scale factor: a label is the value itself, rounded. ``fmt`` is ``(decimals, leading_zero)``.
    Linked arrays (Z1 and A1; δZ1 and δA1; the four dW[f, c]) are passed together, so that one
    value is written the same way in every panel that shows it.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    sizes = [sizes] * len(arrays) if np.ndim(sizes) == 0 else list(sizes)
    font = Font.get(size, False)
    flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    d0 = auto_decimals(flat)
    finite = np.abs(flat[np.isfinite(flat) & (flat != 0)])

    def labels_with(d, lead):
        out = []
        for a in arrays:
            labs = [format_number(v, d) for v in a.ravel().tolist()]
            if not lead:
                labs = [_drop_leading_zero(t) for t in labs]
            out.append(np.array(labs, dtype=object).reshape(a.shape).tolist())
        return out

    def fits(labels):
        return all(
            font.width(t) <= cs - CELL_MARGIN
            for labs, cs in zip(labels, sizes)
            for t in np.ravel(np.array(labs, dtype=object))
        )

    if d0 is None or not finite.size:
        return [cell_labels(a) for a in arrays], (d0, True)
    two = min(d0, max(0, 1 - int(math.floor(math.log10(float(finite.max()))))))  # two significant digits
    tries = [(d, True) for d in range(d0, two - 1, -1)] + [(d, False) for d in range(d0, two - 1, -1)]
    tries += [(d, False) for d in range(two - 1, -1, -1)]
    for d, lead in tries:
        labels = labels_with(d, lead)
        if fits(labels):
            return labels, (d, lead)
    return labels, (d, lead)


# --------------------------------------------------------------------------- frames


def _colorize(data: np.ndarray, *, signed: bool, vmin=None, vmax=None) -> np.ndarray:
    """RGB (h, w, 3) uint8 colours of a 2-D array: the one place where the explorers turn numbers into colours.

    The panel states what its numbers mean, and the colours are those of the figures
    (``cnnlib.viz._style.rgb``): ``signed`` (weights, pre-activations, scores, gradients) is
    diverging and centred at 0, not signed (inputs, activations, probabilities) is the grey
    sequential scale from 0. As in the figures, the one exception is an input the reader
    edits below 0: it is then drawn on the signed scale rather than clipped to white.
    """
    data = np.asarray(data, dtype=np.float64)
    negative = bool(np.any(data[np.isfinite(data)] < 0))
    return _style.rgb(data, signed=signed or negative, vmin=vmin, vmax=vmax)


def _ink_for(rgb: np.ndarray) -> np.ndarray:
    """White digits where they contrast better than black (the rule of ``viz._style.text_color``): (h, w) bool."""
    return relative_luminance(rgb / 255.0) < 0.179


class Frame:
    """Everything one picture shows, in figure pixels (origin top-left).

    Both renderers read it: the live one paints into a cached Agg buffer, the
    static one builds ordinary matplotlib artists at the same places.
    """

    def __init__(self):
        self.fills = []  # (x, y, w, h, rgb)
        self.heats = []  # dicts, see heat()
        self.boxes = []  # (x, y, w, h, color, lw)
        self.dotted = []  # (x, y, w, h, color, lw): outlines drawn dotted
        self.texts = []  # (s, x, y, size, color, bold, ha)
        self.arrows = []  # (x0, y0, x1, y1, color)
        self.arrays: dict = {}  # name -> the array shown in a heat map

    def fill(self, x, y, w, h, color):
        self.fills.append((int(x), int(y), int(w), int(h), rgb8(color)))

    def box(self, x, y, w, h, color=HI, lw=2, dotted=False):
        """An outline; ``dotted``: drawn in dots (a cell that takes part but receives nothing, e.g. a tied maximum)."""
        (self.dotted if dotted else self.boxes).append((int(x), int(y), int(w), int(h), rgb8(color), int(lw)))

    def text(self, s, x, y, size=7.5, color=INK, bold=False, ha="center"):
        """``(x, y)``: the anchor; ``y`` is the vertical centre of the digits."""
        self.texts.append((str(s), int(round(x)), int(round(y)), size, color, bold, ha))

    def all_texts(self):
        """Every text of the picture, the numbers inside heat-map cells included, in figure pixels."""
        out = list(self.texts)
        for hm in self.heats:
            out += [(s, hm["x"] + x, hm["y"] + y, hm["font"], c, False, "center") for s, x, y, c in hm["cells"]]
        return out

    def arrow(self, x0, y0, x1, y1, color=ROUTE):
        self.arrows.append((float(x0), float(y0), float(x1), float(y1), color))

    def heat(
        self,
        panel,
        name,
        data,
        *,
        signed,
        vmin=None,
        vmax=None,
        grey=None,
        dim=None,
        labels=None,
        index=True,
        row_labels=None,
        col_labels=None,
        fill=None,
    ):
        """Add a heat map of ``data`` (2-D) centred in ``panel``.

        ``signed``, ``vmin``, ``vmax``: what the numbers mean and their colour limits
        (:func:`_colorize`). ``fill``: one neutral colour for every cell instead, for cells that
        hold names rather than magnitudes (the cell numbers of the im2col explorer). ``grey`` marks
        zero-padding cells, ``dim`` fades cells outside the current story; ``row_labels`` /
        ``col_labels`` replace the 0-based indices drawn beside the grid. Returns the cell
        geometry (:class:`Cells`).
        """
        data = np.asarray(data, dtype=np.float64)
        h, w = data.shape
        cs = panel.cs
        x0 = panel.x + ((panel.cols - w) * cs // 2 if panel.center else 0)
        y0 = panel.y
        if fill is None:
            rgb = _colorize(data, signed=signed, vmin=vmin, vmax=vmax).astype(np.float32)
        else:
            rgb = np.broadcast_to(rgb8(fill).astype(np.float32), (h, w, 3)).copy()
        if grey is not None:
            rgb[grey] = _PAD_RGB
        if dim is not None:
            rgb[dim] = 0.22 * rgb[dim] + 0.78 * 255
        rgb = rgb.astype(np.uint8)
        white = _ink_for(rgb)
        if labels is None:
            labels = cell_labels(data)
        cells = []  # (label, x, y, colour) relative to the block's top-left corner
        for r in range(h):
            for c in range(w):
                s = labels[r][c]
                if not s:
                    continue
                if grey is not None and grey[r, c]:
                    color = GREY
                elif dim is not None and dim[r, c]:
                    color = DIM_INK
                else:
                    color = "#ffffff" if white[r, c] else CELL_INK
                cells.append((s, c * cs + cs // 2, r * cs + cs // 2, color))
        self.heats.append(
            {
                "name": name,
                "x": x0,
                "y": y0,
                "cs": cs,
                "rgb": rgb,
                "font": panel.font,
                "cells": tuple(cells),
                "data": data,
            }
        )
        self.arrays[name] = data.copy()
        if index:
            rl = ([str(r) for r in range(h)] if panel.row_index else []) if row_labels is None else row_labels
            cl = [str(c) for c in range(w)] if col_labels is None else col_labels
            for r, s in enumerate(rl):
                if s:
                    self.text(s, x0 - 5, y0 + r * cs + cs / 2, INDEX_SIZE, GREY, ha="right")
            for c, s in enumerate(cl):
                if s:
                    self.text(s, x0 + c * cs + cs / 2, y0 - 8, INDEX_SIZE, GREY)
        return Cells(x0, y0, cs, h, w)


class Cells:
    """Pixel geometry of a drawn heat map."""

    def __init__(self, x0, y0, cs, h, w):
        self.x0, self.y0, self.cs, self.h, self.w = x0, y0, cs, h, w

    def rect(self, r, c, nr=1, nc=1):
        """(x, y, w, h) of the block of cells starting at (r, c); the outline sits on the cell border."""
        cs = self.cs
        return (self.x0 + c * cs - 1, self.y0 + r * cs - 1, nc * cs + 1, nr * cs + 1)

    def center(self, r, c):
        return (self.x0 + c * self.cs + self.cs / 2, self.y0 + r * self.cs + self.cs / 2)


class Panel:
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

    def subtitle(self, frame, s, color=GREY):
        """Dynamic text after the static title (shape, a scalar...)."""
        tw = Font.get(9, True).width(self.title)
        frame.text(s, self.x + tw + 6, self.y - 26, 7.5, color, ha="left")

    def note(self, frame, s, color=GREY):
        """A short message in the middle of an empty panel."""
        for k, line in enumerate(s.split("\n")):
            frame.text(line, self.x + self.width / 2, self.y + self.height / 2 - 8 + 13 * k, 7.5, color)


# --------------------------------------------------------------------------- the live painter


def route_arrow(start, end, color=ROUTE, **kwargs):
    """The arrow that follows a gradient along its route (the live and the static picture draw the same one)."""
    return FancyArrowPatch(
        start, end, arrowstyle="-|>", mutation_scale=12, lw=1.8, color=color, shrinkA=0, shrinkB=0, zorder=5, **kwargs
    )


def full_axes(fig, width, height):
    """Axes over the whole figure, in pixels with the origin top-left."""
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    return ax


def cells_image(rgb, cs):
    """(h, w, 3) cell colours -> (h*cs, w*cs, 3) image with one-pixel grid lines."""
    img = np.repeat(np.repeat(rgb, cs, axis=0), cs, axis=1)
    img[cs - 1 :: cs, :] = GAP
    img[:, cs - 1 :: cs] = GAP
    return img


class Live:
    """One Agg figure per explorer; static decorations cached, dynamic content painted in NumPy."""

    def __init__(self, width, height, decorate):
        self.width, self.height = int(width), int(height)
        self.decorate = decorate
        self.fig = Figure(figsize=(self.width / DPI, self.height / DPI), dpi=DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = full_axes(self.fig, self.width, self.height)
        decorate(self.fig, self.ax)
        self._arrows = []
        self._bg = None
        self._blocks: dict = {}

    def _arrow_pool(self, n):
        while len(self._arrows) < n:
            a = route_arrow((0, 0), (1, 1), animated=True)
            self.ax.add_patch(a)
            self._arrows.append(a)
        return self._arrows[:n]

    def render(self, frame: Frame) -> bytes:
        canvas = self.canvas
        if self._bg is None:
            canvas.draw()
            self._bg = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._bg)
        renderer = canvas.get_renderer()
        buf = np.asarray(renderer.buffer_rgba())
        for x, y, w, h, rgb in frame.fills:
            buf[max(y, 0) : y + h, max(x, 0) : x + w, :3] = rgb
        for hm in frame.heats:
            _paste_heat(buf, hm, self._block(hm))
        for x, y, w, h, rgb, lw in frame.boxes:
            _paste_box(buf, x, y, w, h, rgb, lw)
        for x, y, w, h, rgb, lw in frame.dotted:
            _paste_box(buf, x, y, w, h, rgb, lw, dots=True)
        if frame.arrows:
            for a, (x0, y0, x1, y1, color) in zip(self._arrow_pool(len(frame.arrows)), frame.arrows):
                a.set_positions((x0, y0), (x1, y1))
                a.set_color(color)
                self.ax.draw_artist(a)
            buf = np.asarray(renderer.buffer_rgba())
        for s, x, y, size, color, bold, ha in frame.texts:
            _paste_text(buf, Font.get(size, bold), s, x, y, rgb8(color), ha)
        return png(buf)

    def _block(self, hm):
        """The heat map's cells with their numbers as an RGB block, cached by content.

        A move usually changes a few arrays only (or none: a window position), so
        most blocks come from the cache and their labels are not composed again.
        """
        key = (hm["rgb"].tobytes(), hm["rgb"].shape, hm["cs"], hm["font"], hm["cells"])
        block = self._blocks.pop(key, None)
        if block is None:
            cs, rgb = hm["cs"], hm["rgb"]
            block = cells_image(rgb, cs)
            font = Font.get(hm["font"], False)
            for s, x, y, color in hm["cells"]:
                _paste_text(block, font, s, x, y, rgb8(color), "center")
            if len(self._blocks) >= 128:
                self._blocks.pop(next(iter(self._blocks)))
        self._blocks[key] = block  # most recently used last
        return block


def _paste_heat(buf, hm, block):
    x0, y0 = hm["x"], hm["y"]
    bh, bw = block.shape[:2]
    # a one-pixel frame all around (the grid lines give the right and bottom edges)
    buf[y0 - 1 : y0 + bh, x0 - 1, :3] = GAP
    buf[y0 - 1, x0 - 1 : x0 + bw, :3] = GAP
    buf[y0 : y0 + bh, x0 : x0 + bw, :3] = block


DOT = 3  # pixels: a dotted outline is DOT pixels of colour, then DOT of background


def _paste_box(buf, x, y, w, h, rgb, lw, dots=False):
    H, W = buf.shape[:2]
    x0, y0 = max(x - lw // 2, 0), max(y - lw // 2, 0)
    x1, y1 = min(x + w + (lw + 1) // 2, W), min(y + h + (lw + 1) // 2, H)
    if x1 <= x0 or y1 <= y0:
        return
    along_x, along_y = slice(x0, x1), slice(y0, y1)
    if dots:  # keep every other run of DOT pixels
        along_x = np.arange(x0, x1)[(np.arange(x1 - x0) // DOT) % 2 == 0]
        along_y = np.arange(y0, y1)[(np.arange(y1 - y0) // DOT) % 2 == 0]
    buf[y0 : y0 + lw, along_x, :3] = rgb
    buf[max(y1 - lw, y0) : y1, along_x, :3] = rgb
    buf[along_y, x0 : x0 + lw, :3] = rgb
    buf[along_y, max(x1 - lw, x0) : x1, :3] = rgb


def _paste_text(buf, font, s, x, y, rgb, ha):
    a, inv = font.alpha(s)
    left, top = text_origin(font, s, x, y, ha)
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


def png(rgba: np.ndarray) -> bytes:
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
