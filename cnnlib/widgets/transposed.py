"""The transposed-convolution explorer (notebook 12): which side is the input, where each stamp lands."""

from __future__ import annotations

import numpy as np

from ..conv import conv_output_size
from ..transposed import conv_transpose2d_forward
from ._controls import GridEditor, int_slider, label, require_widgets, widgets
from ._explorer import Explorer, check_int, op_arrow, sized_2d
from ._raster import ERR, GREY, HI, ROUTE, Panel

__all__ = ["conv_transpose_explorer"]


class ConvTransposeExplorer(Explorer):
    """A transposed convolution, interactively (notebook 12, eqs. 12.1-12.2).

    The layer's **input** X (small, H×W) is on the left; its **output** Y (large) on the
    right. Every input cell X[u, v] stamps the kernel, scaled by its value, onto the output
    before cropping, Ȳ, with its top-left corner at (u·S, v·S) and the kernel entries D apart;
    overlapping stamps add up. Ȳ has ``(H − 1)·S + D·(K − 1) + 1 + output_padding`` rows: the
    last ``output_padding`` rows and columns get no stamp. Y is Ȳ with ``pad`` rows and
    columns cropped from each side (grey on Ȳ): eq. (12.2). The third panel counts the
    stamps that reach each cell of Y (``conv_transpose2d`` of all-ones X and W) — uneven
    counts are the checkerboard pattern of notebook 12.

    Pick an input cell with the "row" and "column" sliders: its stamp is outlined on Ȳ and Y
    and written out under the picture. The bias is 0. Everything is computed with
    ``cnnlib.conv_transpose2d_forward``.

    Arguments: X (up to 4×4, default 3×3), W (up to 3×3), and the first settings of the
    ``"stride"`` (1-3), ``"padding"`` (0-2), ``"output_padding"`` (0-2) and ``"dilation"`` (1-2)
    sliders. A combination cnnlib refuses (output_padding not below the stride or the dilation,
    a padding that crops everything) shows cnnlib's message instead of the output.

    ``.state`` holds X, W, the settings, Ybar (before cropping), Y, counts, cell (u, v), stamp
    (X[u, v]·W) and its rows and columns on Ȳ.
    """

    _fn = "conv_transpose_explorer"
    max_stride, max_pad, max_op, max_dil = 3, 2, 2, 2
    _X_default = [[1.0, -1.0, 2.0], [0.0, 2.0, -1.0], [1.0, 0.0, 1.0]]
    _W_default = [[1.0, 2.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]]

    def __init__(self, X=None, W=None, *, stride=2, padding=0, output_padding=0, dilation=1):
        fn = self._fn
        require_widgets(fn)
        X = np.array(self._X_default) if X is None else sized_2d(fn, "X", X, max_side=4)
        W = np.array(self._W_default) if W is None else sized_2d(fn, "W", W, max_side=3)
        self.H, self.Wd = X.shape
        self.KH, self.KW = W.shape
        stride = check_int(fn, "stride", stride, 1, self.max_stride)
        padding = check_int(fn, "padding", padding, 0, self.max_pad)
        output_padding = check_int(fn, "output_padding", output_padding, 0, self.max_op)
        dilation = check_int(fn, "dilation", dilation, 1, self.max_dil)

        on = self._on_change
        self._xgrid = GridEditor(X, on, self._refuse, prefix="X", width=44)
        self._wgrid = GridEditor(W, on, self._refuse, prefix="W", width=44)
        self._stride = int_slider("stride S", stride, 1, self.max_stride, width="270px")
        self._padding = int_slider("padding", padding, 0, self.max_pad, width="270px")
        self._op = int_slider("output_padding", output_padding, 0, self.max_op, width="270px")
        self._dilation = int_slider("dilation D", dilation, 1, self.max_dil, width="270px")
        for w in (self._stride, self._padding, self._op, self._dilation):
            w.style.description_width = "118px"  # room for "output_padding"
        self._row = int_slider("row u", 0, 0, self.H - 1, width="200px")
        self._col = int_slider("column v", 0, 0, self.Wd - 1, width="200px")
        for w in (self._stride, self._padding, self._op, self._dilation, self._row, self._col):
            w.observe(on, names="value")
        margin = widgets.Layout(margin="0 14px 0 0")
        box = widgets.HBox(
            [
                widgets.VBox([label("layer input X"), self._xgrid.box], layout=margin),
                widgets.VBox([label("kernel W"), self._wgrid.box], layout=margin),
                widgets.VBox([label("hyper-parameters"), self._stride, self._padding, self._op, self._dilation]),
                widgets.VBox([label("which input cell stamps?"), self._row, self._col]),
            ]
        )
        box.children[2].layout.margin = "0 14px 0 0"

        # room for the largest setting (stride 3, dilation 2, output_padding 2): the picture never jumps
        cap_h = (self.H - 1) * self.max_stride + self.max_dil * (self.KH - 1) + 1 + self.max_op
        cap_w = (self.Wd - 1) * self.max_stride + self.max_dil * (self.KW - 1) + 1 + self.max_op
        # Ȳ, Y and the counts side by side within 958 pixels; the counts (1 to KH·KW ≤ 9: one digit) take
        # smaller cells, so that Ȳ and Y keep cells wide enough for "−10"
        left, gap, gap2 = 26, 44, 36
        cc = 16 if max(cap_h, cap_w) <= 13 else 14
        counts_w = max(cap_w * cc, 190)  # room for the title "stamps per cell of Y" and its range
        cs = max(12, min(24, 330 // max(cap_h, cap_w), (958 - left - gap - gap2 - counts_w - 16) // (2 * cap_w)))
        top = 56
        self._px = Panel("input X", self.H, self.Wd, cs=30).place(left + 8, top)
        self._pw = Panel("kernel W", self.KH, self.KW, cs=30).place(self._px.x + max(self._px.width, 150) + gap, top)
        self._ps = Panel("its stamp X[u,v]·W", self.KH, self.KW, cs=30).place(
            self._pw.x + max(self._pw.width, 110) + gap + 24, top
        )
        row2 = top + max(self._px.height, self._pw.height) + 72
        self._pb = Panel("Ȳ: every stamp added", cap_h, cap_w, cs=cs).place(left, row2)
        self._py = Panel("output Y", cap_h, cap_w, cs=cs).place(self._pb.x + max(self._pb.width, 250) + gap, row2)
        self._pc = Panel("stamps per cell of Y", cap_h, cap_w, cs=cc).place(
            self._py.x + max(self._py.width, 200) + gap2, row2
        )
        self._row2 = row2
        width = self._pc.x + max(self._pc.width, 190) + 16
        height = row2 + max(self._pb.height, self._pc.height) + 34

        def decorate(fig, ax):
            y = top + 30
            op_arrow(ax, self._pw.x + self._pw.width + 8, self._ps.x - 22, y, "× X[u,v]")
            y2 = row2 + 3 * cs
            op_arrow(ax, self._pb.x + self._pb.width + 6, self._py.x - 22, y2, "crop")

        self._setup(
            "Transposed convolution: a small input stamps the kernel onto a large output",
            "edit X and W, move the hyper-parameters, pick an input cell to see its stamp",
            box,
            width,
            height,
            (self._px, self._pw, self._ps, self._pb, self._py, self._pc),
            decorate,
        )

    def _control_map(self):
        return {
            **self._xgrid.cells,
            **self._wgrid.cells,
            "stride": self._stride,
            "padding": self._padding,
            "output_padding": self._op,
            "dilation": self._dilation,
            "row": self._row,
            "column": self._col,
        }

    def _compute(self, frame):
        X, W = self._xgrid.array, self._wgrid.array
        S, pad, op, D = self._stride.value, self._padding.value, self._op.value, self._dilation.value
        u, v = self._row.value, self._col.value
        H, Wd, KH, KW = self.H, self.Wd, self.KH, self.KW
        stamp = X[u, v] * W  # (KH, KW)
        self.state = {
            "X": X,
            "W": W,
            "stride": S,
            "padding": pad,
            "output_padding": op,
            "dilation": D,
            "cell": (u, v),
            "stamp": stamp,
            "error": None,
        }
        xc = frame.heat(self._px, "X", X, signed=True)
        frame.box(*xc.rect(u, v), ROUTE, 3)
        self._px.subtitle(frame, f"{H}×{Wd}")
        frame.heat(self._pw, "W", W, signed=True)
        frame.heat(self._ps, "stamp", stamp, signed=True)
        self._ps.subtitle(frame, f"X[{u},{v}] = {X[u, v]:g}")
        knobs = {"stride": S, "output_padding": op, "dilation": D}
        zero = np.zeros(1)
        try:  # Ȳ: the output before cropping is a transposed convolution without padding
            Yb4, _ = conv_transpose2d_forward(X[None, None], W[None, None], zero, padding=0, **knobs)
            Y4, _ = conv_transpose2d_forward(X[None, None], W[None, None], zero, padding=pad, **knobs)
        except ValueError as exc:  # cnnlib's own message (output_padding too large, everything cropped)
            for p in (self._pb, self._py, self._pc):
                frame.text("—", p.x + 12, p.y + 12, 7.5, ERR, ha="left")
            self._readout = ""
            self._fail(str(exc))
            return
        Ybar, Y = Yb4[0, 0], Y4[0, 0]
        ones = np.ones((1, 1, H, Wd)), np.ones((1, 1, KH, KW))
        counts = conv_transpose2d_forward(*ones, zero, padding=pad, **knobs)[0][0, 0]
        Ho, Wo = Y.shape
        rows = [u * S + i * D for i in range(KH)]  # eq. (12.1): where the stamp's entries land on Ȳ
        cols = [v * S + j * D for j in range(KW)]
        cropped = np.ones(Ybar.shape, bool)
        cropped[pad : pad + Ho, pad : pad + Wo] = False
        self.state.update(Ybar=Ybar, Y=Y, counts=counts, stamp_rows=rows, stamp_cols=cols)

        bc = frame.heat(self._pb, "Ybar", Ybar, signed=True, grey=cropped)
        yc = frame.heat(self._py, "Y", Y, signed=True)
        frame.heat(self._pc, "counts", counts, signed=False)
        for r in rows:
            for c in cols:
                frame.box(*bc.rect(r, c), ROUTE, 2)
                if 0 <= r - pad < Ho and 0 <= c - pad < Wo:
                    frame.box(*yc.rect(r - pad, c - pad), ROUTE, 2)
        if pad:
            frame.box(*bc.rect(pad, pad, Ho, Wo), HI, 2)
        hb, wb = Ybar.shape
        self._pb.subtitle(frame, f"{hb}×{wb}")
        self._py.subtitle(frame, f"{Ho}×{Wo}")
        self._pc.subtitle(frame, f"{int(counts.min())} to {int(counts.max())}")
        notes = []
        if pad:
            notes.append(f"grey: {pad} row(s)/column(s) cropped each side")
        if op:
            notes.append(f"last {op} row(s)/column(s): output_padding, no stamp")
        for k, note in enumerate(notes):
            frame.text(note, self._pb.x, self._row2 + hb * self._pb.cs + 10 + 14 * k, 7.5, GREY, ha="left")
        back = (conv_output_size(Ho, KH, S, pad, D), conv_output_size(Wo, KW, S, pad, D))
        if back == (H, Wd):
            going_back = (
                f"Going back, the stride-{S} convolution with this kernel maps the {Ho}×{Wo} output to {H}×{Wd} "
                "cells, X's shape: Y is that convolution's input gradient (chapter 08) with X as upstream gradient."
            )
        else:
            going_back = (
                f"Going back, the stride-{S} convolution maps the {Ho}×{Wo} output to {back[0]}×{back[1]} cells, "
                f"more than X's {H}×{Wd}: output_padding ≥ S adds rows that no stamp of X reaches."
            )
        self._readout = (
            f"H_out = (H − 1)·S − 2·pad + D·(K − 1) + output_padding + 1 = ({H} − 1)·{S} − 2·{pad} + "
            f"{D}·({KH} − 1) + {op} + 1 = <b>{Ho}</b> (eq. 12.2). Input cell X[{u},{v}] = {X[u, v]:g} adds "
            f"{X[u, v]:g}·W to Ȳ at rows {', '.join(map(str, rows))} and columns {', '.join(map(str, cols))}. "
            + going_back
        )


conv_transpose_explorer = ConvTransposeExplorer
