"""The convolution-backward explorer (notebook 03; notebook 08 for stride, padding and dilation)."""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, conv_output_size
from ..routes import dW_route, dX_route
from ._controls import GridEditor, explain_toggle, int_slider, label, upstream_table, widgets
from ._conv import ConvExplorerBase, span_message
from ._explorer import pair_colors, route_markup, sized_2d
from ._raster import ERR, GREY, HI, ROUTE, Panel

__all__ = ["conv_backward_explorer"]


class ConvBackwardExplorer(ConvExplorerBase):
    """Convolution backward, interactively (notebook 03; seed 003 equations (1)-(3)).

    Edit X, the kernel W and the upstream gradient δZ = ∂L/∂Z (its grid follows the
    output shape as stride, padding and dilation change); the picture shows
    ``dW``, ``db = Σ δZ`` and ``dX`` from ``cnnlib.conv2d_backward``. Pick "dW" or
    "dX" and an entry: the cells whose products sum to it are outlined (the others
    fade), and the sum is written out under the picture with every factor's indices
    (``cnnlib.routes``). For dX each pair W[i, j], δZ[u, v] that meets (eq. 3.3) has its
    own colour, on W, δZ and the dilated δZ alike. Every value is kept exactly as given
    or typed (the cells have no bounds).

    ``.state`` holds X, W, dZ, dX, dW, db and the chosen route.
    """

    _fn = "conv_backward_explorer"
    controls_width = 470  # two grids a row: the controls fit beside the picture at the largest padding
    _X_default = ("random integers", 5, 5)
    _W_default = [[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [-1.0, 0.0, 1.0]]

    def __init__(self, X=None, W=None, dZ=None, *, stride=1, padding=0, dilation=1):
        fn = self._fn
        X, W, stride, padding, dilation = self._conv_args(X, W, stride, padding, dilation)
        cap = (self.H + 2 * self.max_pad - self.KH + 1, self.Wd + 2 * self.max_pad - self.KW + 1)
        table = upstream_table(3, max(cap[0], cap[1], 1))
        if dZ is not None:
            dZ = sized_2d(fn, "dZ", dZ, max_side=12)
            Ho = conv_output_size(self.H, self.KH, stride, padding, dilation)
            Wo = conv_output_size(self.Wd, self.KW, stride, padding, dilation)
            if dZ.shape != (Ho, Wo):
                raise ValueError(
                    f"{fn}: dZ must have the shape of Z, ({Ho}, {Wo}) for X {X.shape}, W {W.shape}, "
                    f"stride {stride}, padding {padding}, dilation {dilation}; got {dZ.shape}"
                )
            table[:Ho, :Wo] = dZ

        on = self._on_change
        self._conv_grids(X, W, 48)
        self._dz = GridEditor(table, on, self._refuse, prefix="dZ", shape=(0, 0), width=48, gap="2px 2px")
        hyper = self._hyper_sliders(stride, padding, dilation)
        self._target = explain_toggle()
        self._row = int_slider("row", 0, 0, self.KH - 1)
        self._col = int_slider("column", 0, 0, self.KW - 1)
        for w in (*hyper, self._target, self._row, self._col):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox([label("input X"), self._xgrid.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([label("kernel W"), self._wgrid.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([label("upstream δZ = ∂L/∂Z"), self._dz.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox(
                    [
                        label("hyper-parameters"),
                        *hyper,
                        label("which entry comes from where?"),
                        self._target,
                        self._row,
                        self._col,
                    ]
                ),
            ]
        )

        cs, top, gap = 30, 52, 40
        self._place_x_w(cs, gap, top)
        self._pdz = Panel("δZ", *cap, cs=cs).place(self._pw.x + max(self._pw.width, 90) + gap, top)
        row2 = top + max(self._px.height, self._pdz.height, self._pw.height) + 58
        self._pdx = Panel("dX = ∂L/∂X", self.H, self.Wd, cs=cs).place(34 + (self._px.width - self.Wd * cs) // 2, row2)
        self._pdw = Panel("dW = ∂L/∂W", self.KH, self.KW, cs=cs).place(self._pw.x, row2)
        self._pdb = Panel("db = Σ δZ", 1, 1, cs=cs + 10).place(self._pw.x, row2 + self._pdw.height + 46)
        # δZ spread out by the stride (S − 1 zeros between entries), right under δZ (notebook 08)
        self._pdd = Panel("dilated δZ", *cap, cs=cs).place(self._pdz.x, row2)
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

    def _place_row2(self, rows1, P, rows_dilated=2):
        """Put the gradient row just under the tallest input panel (dX under X's unpadded cells); size the picture."""
        row2 = self._px.y + rows1 * self._px.cs + 58
        self._pdx.place(self._px.x + P * self._px.cs, row2)
        self._pdw.place(self._pdw.x, row2)
        self._pdb.place(self._pdb.x, row2 + self._pdw.height + 46)
        self._pdd.place(self._pdd.x, row2)
        bottom = max(self._pdx.height, self._pdw.height + 46 + self._pdb.height, rows_dilated * self._pdd.cs)
        self._fit_height(row2 + bottom + 14)

    def _control_map(self):
        return {
            **self._xgrid.cells,
            **self._wgrid.cells,
            **self._dz.cells,
            **self._hyper_controls(),
            "explain": self._target,
            "row": self._row,
            "column": self._col,
        }

    def _compute(self, frame):
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
        msg = span_message(KH, KW, D, H, Wd, P)
        if msg is not None:
            self._place_row2(max(H + 2 * P, KH), P)
            self._dz.resize((0, 0))
            frame.heat(self._px, "X", Xp, signed=False, grey=grey, **xlabels)
            frame.heat(self._pw, "W", W, signed=True)
            for p in (self._pdz, self._pdx, self._pdw, self._pdb):
                p.note(frame, "—", ERR)
            frame.text("—", self._pdd.x + 2 * self._pdd.cs, self._pdd.y + self._pdd.cs, 7.5, ERR)
            self._readout = ""
            self._fail(msg)
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
            ddc = frame.heat(self._pdd, "dZ_dilated", dZd, signed=True, grey=inserted)
            zeros = "1 zero" if S == 2 else f"{S - 1} zeros"
            self._pdd.subtitle(frame, f"{Hd}×{Wdd}: {zeros} between entries")
        else:
            ddc = None
            self._pdd.subtitle(frame, "stride 1")
            for k, line in enumerate(("no zeros to insert:", "δZ is used as it is")):
                frame.text(line, self._pdd.x, self._pdd.y + 8 + 14 * k, 7.5, GREY, ha="left")
        if target == "dW":
            rs = dW_route(self._fn, X, dZ, (KH, KW), (i, j), S, P, D, dW=dW)
            touched = [(r + P, c + P) for (r, c), _ in rs.products]  # the cells of X̃ that W[i, j] met
            xdim = np.ones(Xp.shape, bool)
            for cell in touched:
                xdim[cell] = False
            xc = frame.heat(self._px, "X", Xp, signed=False, grey=grey, dim=xdim & ~grey, **xlabels)
            wc = frame.heat(self._pw, "W", W, signed=True)
            frame.heat(self._pdz, "dZ", dZ, signed=True)
            for cell in touched:
                frame.box(*xc.rect(*cell), ROUTE, 3)
            frame.box(*wc.rect(i, j), HI, 3)
            frame.heat(self._pdx, "dX", dX, signed=True)
            dwc = frame.heat(self._pdw, "dW", dW, signed=True)
            frame.box(*dwc.rect(i, j), HI, 3)
        else:
            rs = dX_route(self._fn, W, dZ, (H, Wd), (i, j), S, P, D, dX=dX)
            colors = pair_colors(rs)  # eq. 3.3: W[a, b] meets δZ[du, dv], each pair in its own colour
            pairs = [((a, b), (du, dv)) for (_, a, b), (_, du, dv) in rs.products]
            wdim = np.ones(W.shape, bool)
            zdim = np.ones(dZ.shape, bool)
            for (a, b), (du, dv) in pairs:
                wdim[a, b] = False
                zdim[du, dv] = False
            xc = frame.heat(self._px, "X", Xp, signed=False, grey=grey, **xlabels)
            wc = frame.heat(self._pw, "W", W, signed=True, dim=wdim)
            dzc = frame.heat(self._pdz, "dZ", dZ, signed=True, dim=zdim)
            for product, ((a, b), (du, dv)) in zip(rs.products, pairs):
                color = colors[product]
                frame.box(*wc.rect(a, b), color, 3)
                frame.box(*dzc.rect(du, dv), color, 3)
                if ddc is not None:
                    frame.box(*ddc.rect(du * S, dv * S), color, 3)
            frame.box(*xc.rect(i + P, j + P), HI, 3)
            dxc = frame.heat(self._pdx, "dX", dX, signed=True)
            frame.heat(self._pdw, "dW", dW, signed=True)
            frame.box(*dxc.rect(i, j), HI, 3)
            self._pdx.subtitle(frame, f"entry ({i}, {j}): {len(pairs)} product(s)")
            self.state["pairs"] = pairs
        frame.heat(self._pdb, "db", np.array([[float(db[0])]]), signed=True, index=False)
        self._pdz.subtitle(frame, f"{Ho}×{Wo}")
        self.state["route"] = rs
        self._readout = route_markup(rs, colors if target == "dX" else None)


conv_backward_explorer = ConvBackwardExplorer
