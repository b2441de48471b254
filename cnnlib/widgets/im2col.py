"""The im2col explorer (notebook 10): which input cells make up column q of im2col(X)?"""

from __future__ import annotations

import numpy as np

from ..conv import conv_output_size, im2col
from ._controls import Dropdown, IntSlider, label, require_widgets, widgets
from ._conv import span_message
from ._explorer import Explorer, check_int
from ._raster import ERR, GREY, ROUTE, Font, Panel

__all__ = ["im2col_explorer"]

_CELL = "#ffffff"  # the neutral fill of a cell that holds a cell number
_PICK = ROUTE  # the chosen column, its output position and its window


def _names(a, pad_mask):
    """Cell labels: the cell numbers as integers, "0" on the padding."""
    return [["0" if pad_mask[r, c] else f"{a[r, c]:.0f}" for c in range(a.shape[1])] for r in range(a.shape[0])]


class Im2colExplorer(Explorer):
    """Pick a column of im2col(X) and see which cells of the padded input it holds (notebook 10, eq. 10.1).

    X is an H×H image whose cells hold their own numbers 1, 2, …, H² (row by row): the
    numbers name the cells, so each column of ``cols = im2col(X)`` lists the cells its
    window reads. The picture shows the padded input X̄ (padding grey, read as 0), the
    output positions (u, v) numbered like the columns, q = u·W_out + v, and the column
    matrix of K² rows (row r = K·i + j for kernel entry (i, j)) and H_out·W_out columns.
    The chosen column q is outlined in the matrix, at its output position and on the
    K·K cells of its window on X̄, X̄[u·S + i·D, v·S + j·D].

    The cells hold names, not magnitudes, so they are drawn on a neutral fill (white;
    light grey on the padding) rather than coloured by value.

    ``H`` (3…5) and ``K`` (2 or 3) fix the image and the kernel; ``stride``, ``padding``
    and ``dilation`` (1 or 2, 0 or 1, 1 or 2) are the first settings of the controls.
    Controls: ``"stride"``, ``"padding"``, ``"dilation"`` (dropdowns) and ``"column"``
    (the slider of q; it keeps its place when the matrix grows and moves to its last
    column when the matrix shrinks past it). Computed with ``cnnlib.im2col`` and
    ``cnnlib.conv_output_size``.

    ``.state`` holds H, K, stride, padding, dilation, X, Xbar, Xbar_padding (mask), order
    (the column number of each output position), cols, cols_padding (mask of the entries
    read from the padding), column, position (u, v), window (the X̄ cells of column q)
    and entries (cols[:, q]); ``.static_figure()`` draws the current picture.
    """

    _fn = "im2col_explorer"

    def __init__(self, H=4, K=3, *, stride=1, padding=1, dilation=1):
        fn = self._fn
        require_widgets(fn)
        self.H = check_int(fn, "H", H, 3, 5)
        self.K = check_int(fn, "K", K, 2, 3)
        stride = check_int(fn, "stride", stride, 1, 2)
        padding = check_int(fn, "padding", padding, 0, 1)
        dilation = check_int(fn, "dilation", dilation, 1, 2)

        # "padding pad" needs about 97 pixels of label (at 72 it was cut to "padding …")
        small, style = widgets.Layout(width="190px"), {"description_width": "100px"}
        self._stride = Dropdown(options=[1, 2], value=stride, description="stride S", layout=small, style=style)
        self._padding = Dropdown(options=[0, 1], value=padding, description="padding pad", layout=small, style=style)
        self._dilation = Dropdown(options=[1, 2], value=dilation, description="dilation D", layout=small, style=style)
        self._column = IntSlider(
            value=0,
            min=0,
            max=0,
            step=1,
            description="column q",
            continuous_update=True,
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        for w in (self._stride, self._padding, self._dilation, self._column):
            w.observe(self._on_change, names="value")
        box = widgets.HBox(
            [
                widgets.VBox(
                    [label("stride, padding, dilation"), widgets.HBox([self._stride, self._padding, self._dilation])]
                ),
                widgets.VBox([label("column q of im2col(X)"), self._column]),
            ]
        )
        box.children[0].layout.margin = "0 18px 0 0"

        # room for the largest setting (stride 1, padding 1, dilation 1): the picture never jumps
        Hp = self.H + 2
        Ho = Hp - self.K + 1
        L, rows = Ho * Ho, self.K * self.K
        cs, top, gap = min(28, max(20, 720 // L)), 64, 44
        sub = Font.get(7.5)
        title = Font.get(9, True)
        self._px = Panel("X̄", Hp, Hp, cs=cs).place(34, top)
        wx = max(self._px.width, title.width("X̄") + 6 + sub.width(f"{self.H}×{self.H}, padded to {Hp}×{Hp}"))
        self._po = Panel("output (u, v)", Ho, Ho, cs=cs).place(self._px.x + wx + gap, top)
        wo = max(self._po.width, title.width(self._po.title) + 6 + sub.width(f"{Ho}×{Ho}"))
        self._pc = Panel("cols = im2col(X)", rows, L, cs=cs).place(self._po.x + wo + gap + 20, top)
        self._bottom = top + max(Hp, Ho, rows) * cs + 18
        width = self._pc.x + max(self._pc.width, 330) + 16
        height = self._bottom + 16

        self._setup(
            "Which input cells make up column q of im2col(X)?",
            "move the column slider; change the stride, padding and dilation",
            box,
            width,
            height,
            (self._px, self._po, self._pc),
        )

    def _control_map(self):
        return {
            "stride": self._stride,
            "padding": self._padding,
            "dilation": self._dilation,
            "column": self._column,
        }

    def _compute(self, frame):
        H, K = self.H, self.K
        S, pad, D = int(self._stride.value), int(self._padding.value), int(self._dilation.value)
        X = np.arange(1.0, H * H + 1).reshape(H, H)  # the cell numbers 1..H² name the cells
        Xbar = np.pad(X, pad)
        Xbar_padding = np.ones(Xbar.shape, bool)
        Xbar_padding[pad : pad + H, pad : pad + H] = False
        self.state = {
            "H": H,
            "K": K,
            "stride": S,
            "padding": pad,
            "dilation": D,
            "X": X,
            "Xbar": Xbar,
            "Xbar_padding": Xbar_padding,
            "error": None,
        }
        Hp = H + 2 * pad
        self._px.subtitle(frame, f"{H}×{H}, padded to {Hp}×{Hp}" if pad else f"{H}×{H}, no padding")
        xcells = frame.heat(
            self._px, "Xbar", Xbar, signed=False, fill=_CELL, grey=Xbar_padding, labels=_names(Xbar, Xbar_padding)
        )
        if pad:
            frame.text("grey: padding (0)", self._px.x, self._bottom, 7.5, GREY, ha="left")
        msg = span_message(K, K, D, H, H, pad)
        if msg is not None:
            self._column.max = 0
            self._column.disabled = True
            for p, note in ((self._po, "no output"), (self._pc, "no columns: no window fits")):
                frame.text(note, p.x, p.y + p.cs // 2, 7.5, ERR, ha="left")
            self._fail(msg)
            return
        Ho = conv_output_size(H, K, S, pad, D)
        kw = {"stride": S, "padding": pad, "dilation": D}
        cols = im2col(X[None, None], K, **kw)[0]  # (K·K, Ho·Wo), eq. (10.1)
        cols_padding = im2col(np.ones((1, 1, H, H)), K, **kw)[0] == 0  # the entries a window reads from padding
        order = np.arange(Ho * Ho, dtype=np.float64).reshape(Ho, Ho)  # (u, v) -> its column q
        self._column.disabled = False
        self._column.max = Ho * Ho - 1  # a selection, not a value: it moves to the last column if need be
        q = int(self._column.value)
        u, v = divmod(q, Ho)
        window = [(u * S + i * D, v * S + j * D) for i in range(K) for j in range(K)]
        entries = cols[:, q].copy()
        self.state.update(
            order=order,
            cols=cols,
            cols_padding=cols_padding,
            column=q,
            position=(u, v),
            window=window,
            entries=entries,
        )
        ocells = frame.heat(self._po, "order", order, signed=False, fill=_CELL)
        ccells = frame.heat(
            self._pc, "cols", cols, signed=False, fill=_CELL, grey=cols_padding, labels=_names(cols, cols_padding)
        )
        for r, c in window:
            frame.box(*xcells.rect(r, c), color=_PICK, lw=3)
        frame.box(*ocells.rect(u, v), color=_PICK, lw=3)
        frame.box(*ccells.rect(0, q, K * K, 1), color=_PICK, lw=3)
        self._po.subtitle(frame, f"{Ho}×{Ho}")
        self._pc.subtitle(frame, f"{K * K} × {Ho * Ho}")
        frame.text("numbered like the columns", self._po.x, self._bottom, 7.5, GREY, ha="left")
        # the output's width W_out as its number: q = W_out·u + v
        footer = f"row r = {K}·i + j,  column q = {Ho}·u + v  ({Ho} output columns per row)"
        frame.text(footer, self._pc.x, self._bottom, 7.5, GREY, ha="left")
        n_pad = int(cols_padding[:, q].sum())
        names = ", ".join(_names(entries[:, None], cols_padding[:, q : q + 1])[r][0] for r in range(K * K))
        self._readout = (
            f"Column q = {q} is output position (u, v) = ({u}, {v}). Its {K * K} entries, one per kernel entry "
            f"(i, j) in row r = {K}i + j, are X̄[uS + iD, vS + jD] = <b>{names}</b>"
            + (f" — {n_pad} of them padding." if n_pad else ".")
        )


im2col_explorer = Im2colExplorer
