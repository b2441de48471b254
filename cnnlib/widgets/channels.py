"""The channels-and-filters explorer: convolution backward with several channels and filters (notebook 07)."""

from __future__ import annotations

import html

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ..routes import dW_route, dX_route
from ._controls import (
    Dropdown,
    GridEditor,
    PatternPicker,
    explain_toggle,
    int_slider,
    label,
    pattern,
    require_widgets,
    upstream_table,
    widgets,
)
from ._explorer import Explorer, pair_colors, route_markup
from ._raster import GREY, HI, ROUTE, Font, Panel, fitted_labels

__all__ = ["channels_explorer"]


def _one_image(a):
    """``a`` as float64, without the batch axis of a (1, ...) batch of one image."""
    a = np.asarray(a, dtype=np.float64)
    return a[0] if a.ndim == 4 and a.shape[0] == 1 else a


class ChannelsExplorer(Explorer):
    """Convolution backward with several channels and filters, interactively (notebook 07; seed 003 eqs. (1)-(3)).

    ``X`` (C, H, W) with C = 1 or 2 channels and sides up to 6, kernels ``W`` (F, C, K, K)
    with F = 1 or 2 filters and K up to 3, and an upstream gradient ``dZ`` = δZ (F, H-K+1,
    W-K+1) (stride 1, no padding). The top row shows every input channel, the F×C grid of
    kernels and each filter's δZ; the bottom row dX per channel, the grid of dW[f, c] =
    X[c] ⋆ δZ[f] and db, all from ``cnnlib.conv2d_backward``. Choose a pattern for a
    channel, pick a kernel W[f, c] to edit, switch the upstream δZ (the given one, random
    draws, all ones, a single entry), then pick "dW" (filter, channel, row, column) or
    "dX" (channel, row, column): the cells whose products add up to that entry are
    outlined, the others fade, and the sum is written out under the picture with every
    factor's indices (``cnnlib.routes``); for dX each pair W[f, c, i, j], δZ[f, u, v] that
    meets has its own colour. Every value is kept exactly as given or typed.

    ``.state`` holds X, W, dZ, Z, dX, dW, db, the explained index and its route.
    """

    _fn = "channels_explorer"

    def __init__(self, X=None, W=None, dZ=None):
        fn = self._fn
        require_widgets(fn)
        if X is None:
            X = np.stack([pattern("diagonal stroke", 6, 6), pattern("vertical edge", 6, 6)])
        X = _one_image(X)
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
            dZ = _one_image(dZ)
            if dZ.shape != (F, Ho, Wo) or not np.all(np.isfinite(dZ)):
                raise ValueError(f"{fn}: dZ must be finite with the shape of Z, {(F, Ho, Wo)}, got {np.shape(dZ)}")
        self.C, self.F, self.K, self.H, self.Wd, self.Ho, self.Wo = C, F, K, H, Wd, Ho, Wo
        self._X, self._W = X.copy(), W.copy()
        draws = [upstream_table(s, max(Ho, Wo))[:Ho, :Wo] for s in (11, 12, 13, 14)]
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
        self._patterns = [
            PatternPicker(
                lambda name, c=c: self._apply_pattern(c, name),
                placeholder="(keep)",
                description=f"X[{c}] pattern",
                width="270px",
            )
            for c in range(C)
        ]
        pairs = [(f, c) for f in range(F) for c in range(C)]
        self._kernel = Dropdown(
            options=[(f"W[{f}, {c}]: filter {f}, channel {c}", (f, c)) for f, c in pairs],
            value=(0, 0),
            description="edit kernel",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="300px"),
        )
        self._kernel.observe(self._select_kernel, names="value")
        self._wgrid = GridEditor(W[0, 0], self._edit_kernel, self._refuse, prefix="W")
        self._dz = Dropdown(
            options=list(self._dZ_options),
            value="given δZ",
            description="upstream δZ",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="270px"),
        )
        self._target = explain_toggle()
        self._f = int_slider("filter f", 0, 0, F - 1)
        self._c = int_slider("channel c", 0, 0, C - 1)
        self._row = int_slider("row", 0, 0, K - 1)
        self._col = int_slider("column", 0, 0, K - 1)
        for w in (self._dz, self._target, self._f, self._c, self._row, self._col):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox(
                    [label(f"input X ({C}×{H}×{Wd})"), *(p.dropdown for p in self._patterns), self._dz],
                    layout=widgets.Layout(margin="0 14px 0 0"),
                ),
                widgets.VBox(
                    [label(f"kernels W ({F}×{C}×{K}×{K})"), self._kernel, self._wgrid.box],
                    layout=widgets.Layout(margin="0 14px 0 0"),
                ),
                widgets.VBox(
                    [self._target, self._f, self._c, self._row, self._col]  # "explain dW / dX": the question itself
                ),
            ]
        )

        # inputs in cells of 27 pixels, everything else in 33: the picture fits 960 pixels at its own size
        csx, cs, top, gap, kgap_x, kgap_y = 27, 33, 42, 28, 18, 34
        x = 30
        self._px = []
        for c in range(C):
            self._px.append(Panel(f"X[{c}]  channel {c}", H, Wd, cs=csx).place(x, top))
            x += Wd * csx + 14
        xk = x - 14 + gap
        self._pw = {}
        for f in range(F):
            for c in range(C):
                self._pw[f, c] = Panel(f"W[{f},{c}]", K, K, cs=cs).place(
                    xk + c * (K * cs + kgap_x), top + f * (K * cs + kgap_y)
                )
        kw = C * K * cs + (C - 1) * kgap_x
        xz = xk + max(kw, 60) + gap
        self._pdz = []
        for f in range(F):
            self._pdz.append(Panel(f"δZ[{f}]  filter {f}", Ho, Wo, cs=cs).place(xz + f * (Wo * cs + 16), top))
        kh = F * K * cs + (F - 1) * kgap_y
        rows1 = max(H * csx, kh, Ho * cs)
        row2 = top + rows1 + 46
        self._pdx = [Panel(f"dX[{c}]", H, Wd, cs=cs).place(30 + c * (Wd * cs + 14), row2) for c in range(C)]
        xk2 = self._pdx[-1].x + Wd * cs + gap
        self._pdw = {
            (f, c): Panel(f"dW[{f},{c}]", K, K, cs=cs).place(xk2 + (p.x - xk), row2 + (p.y - top))
            for (f, c), p in self._pw.items()
        }
        self._pdb = Panel("db = Σ δZ[f]", 1, F, cs=cs).place(xk2 + max(kw, 60) + gap, row2)
        width = max(self._pdz[-1].x + Wo * cs, self._pdb.x + 100) + 20
        rows2 = max(H * cs, kh)
        height = row2 + rows2 + 12
        panels = [*self._px, *self._pw.values(), *self._pdz, *self._pdx, *self._pdw.values(), self._pdb]

        def decorate(fig, ax):
            f7 = Font.get(7)
            for y0, text in ((top + rows1 / 2, "inputs"), (row2 + rows2 / 2, "gradients")):
                ax.text(12, y0, text, fontproperties=f7.prop, rotation=90, color=GREY, ha="center", va="center")

        self._setup(
            "Channels and filters, backward",
            "dW[f, c] = X[c] ⋆ δZ[f], dX[c] = Σ_f δZ[f] * W[f, c]; pick an entry to see the products that sum to it",
            box,
            width,
            height,
            panels,
            decorate,
        )

    # -- controls that edit the backing arrays

    def _control_map(self):
        return {
            **{f"pattern {c}": p.dropdown for c, p in enumerate(self._patterns)},
            "kernel": self._kernel,
            **self._wgrid.cells,
            "dZ": self._dz,
            "explain": self._target,
            "filter": self._f,
            "channel": self._c,
            "row": self._row,
            "column": self._col,
        }

    def _apply_pattern(self, c, name):
        self._X[c] = pattern(name, self.H, self.Wd)
        self.update()

    def _select_kernel(self, change):
        f, c = change["new"]
        self._wgrid.set_array(self._W[f, c])
        self.update()

    def _edit_kernel(self, change):
        f, c = self._kernel.value
        self._W[f, c] = self._wgrid.array
        self.update()

    # -- the picture

    def _heat(self, frame, panel, name, data, **kwargs):
        """A heat map whose numbers fit their cells (:func:`fitted_labels`), in one number format with the
        other panels of its kind (every X[c], every W[f, c], every δZ[f], every dX[c], every dW[f, c]): the
        reader compares dW[0, 0] with dW[1, 0] digit by digit."""
        kind = name.split("[")[0]
        group = [k for k in self._shown if k.split("[")[0] == kind]
        labels, fmt = fitted_labels([self._shown[k][0] for k in group], [self._shown[k][1] for k in group])
        self.state.setdefault("formats", {})[name] = fmt
        return frame.heat(panel, name, data, labels=labels[group.index(name)], **kwargs)

    def _compute(self, frame):
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
        routes_x, routes_w, routes_z = [], [], []  # (channel, r, q), ((f, c), r, q, colour), (f, u, v, colour)
        colors = None
        # the route's products, with the backward pass's own dW / dX: nothing is computed twice
        if target == "dW":
            self.state["index"] = (f, c, i, j)
            rs = dW_route(self._fn, X, dZ, W.shape, (f, c, i, j), 1, 0, 1, dW=dW)
            wdim[f, c][i, j] = False
            for (r, q), (u, v) in rs.products:  # X[c, r, q] meets δZ[f, u, v]
                xdim[c][r, q] = False
                zdim[f][u, v] = False
                if dZ[f, u, v] != 0:
                    routes_x.append((c, r, q))
                    routes_z.append((f, u, v, ROUTE))
        else:
            self.state["index"] = (c, i, j)
            rs = dX_route(self._fn, W, dZ, X.shape, (c, i, j), 1, 0, 1, dX=dX)
            colors = pair_colors(rs)  # each pair that meets in its own colour
            xdim[c][i, j] = False
            for product in rs.products:  # W[g, c, a, e] meets δZ[g, u, v]
                (g, a, e), (_, u, v) = product
                wdim[g, c][a, e] = False
                zdim[g][u, v] = False
                routes_w.append(((g, c), a, e, colors[product]))
                routes_z.append((g, u, v, colors[product]))
        self.state["route"] = rs
        self._shown = {f"X[{k}]": (X[k], self._px[k].cs) for k in range(C)}
        self._shown.update({f"W[{a},{b}]": (W[a, b], p.cs) for (a, b), p in self._pw.items()})
        self._shown.update({f"dZ[{g}]": (dZ[g], self._pdz[g].cs) for g in range(F)})
        self._shown.update({f"dX[{k}]": (dX[k], self._pdx[k].cs) for k in range(C)})
        self._shown.update({f"dW[{a},{b}]": (dW[a, b], p.cs) for (a, b), p in self._pdw.items()})
        self._shown["db"] = (db[None, :], self._pdb.cs)
        xc = [self._heat(frame, self._px[k], f"X[{k}]", X[k], signed=False, dim=xdim[k]) for k in range(C)]
        wc = {
            key: self._heat(frame, p, f"W[{key[0]},{key[1]}]", W[key], signed=True, dim=wdim[key])
            for key, p in self._pw.items()
        }
        zc = [self._heat(frame, self._pdz[g], f"dZ[{g}]", dZ[g], signed=True, dim=zdim[g]) for g in range(F)]
        dxc = [self._heat(frame, self._pdx[k], f"dX[{k}]", dX[k], signed=True) for k in range(C)]
        dwc = {
            key: self._heat(frame, p, f"dW[{key[0]},{key[1]}]", dW[key], signed=True) for key, p in self._pdw.items()
        }
        self._heat(frame, self._pdb, "db", db[None, :], signed=True, row_labels=[""])
        for k, r, q in routes_x:
            frame.box(*xc[k].rect(r, q), ROUTE, 3)
        for key, r, q, color in routes_w:
            frame.box(*wc[key].rect(r, q), color, 3)
        for g, u, v, color in routes_z:
            if dZ[g, u, v] != 0:
                frame.box(*zc[g].rect(u, v), color, 3)
        if target == "dW":
            frame.box(*wc[f, c].rect(i, j), HI, 3)
            frame.box(*dwc[f, c].rect(i, j), HI, 3)
        else:
            frame.box(*xc[c].rect(i, j), HI, 3)
            frame.box(*dxc[c].rect(i, j), HI, 3)

        if target == "dX":
            self._pdx[c].subtitle(frame, f"entry ({i}, {j}): {len(rs.terms)} product(s)")
        what = (
            f"dW[{f},{c}] only meets input channel {c} and filter {f}'s δ"
            if target == "dW"
            else f"dX[{c}] collects from every filter: Σ over f = 0..{F - 1}"
        )
        self._readout = f"{route_markup(rs, colors, limit=9)} &nbsp;·&nbsp; {html.escape(what)}"


channels_explorer = ChannelsExplorer
