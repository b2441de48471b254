"""The convolution-backward explorer (notebook 03; notebook 08 for stride, padding and dilation)."""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, conv_output_size
from ..routes import dW_route, dX_route
from ._controls import GridEditor, ToggleButtons, explain_toggle, int_slider, label, upstream_table, widgets
from ._conv import ConvExplorerBase, span_message
from ._explorer import pair_colors, route_markup, sized_2d
from ._raster import ERR, GREY, HI, ROUTE, Font, Panel, cell_size

__all__ = ["conv_backward_explorer"]


_HYPER = ("stride", "padding", "dilation")


def _shown_hyper(fn, hyper, stride, padding, dilation):
    """The names of the hyper-parameter sliders to show (see :class:`ConvBackwardExplorer`)."""
    if hyper is None:
        return _HYPER if (stride, padding, dilation) != (1, 0, 1) else ()
    if hyper is True or hyper is False:
        return _HYPER if hyper else ()
    names = (hyper,) if isinstance(hyper, str) else tuple(hyper)
    unknown = [n for n in names if n not in _HYPER]
    if unknown:
        raise ValueError(f"{fn}: hyper must be True, False or names among {_HYPER}, got {hyper!r}")
    return tuple(n for n in _HYPER if n in names)


class ConvBackwardExplorer(ConvExplorerBase):
    """Convolution backward, interactively (notebook 03; notebook 08 for stride, padding and dilation;
    seed 003 equations (1)-(3)).

    Edit X, the kernel W and the upstream gradient δZ = ∂L/∂Z (its grid follows the
    output shape as stride, padding and dilation change); the picture shows
    ``dW``, ``db = Σ δZ`` and ``dX`` from ``cnnlib.conv2d_backward``. Pick "dW" or
    "dX" and an entry: the cells whose products sum to it are outlined (the others
    fade), and the sum is written out under the picture with every factor's indices
    (``cnnlib.routes``). For dX each pair W[i, j], δZ[u, v] that meets (eq. 3.3) has its
    own colour, on W, δZ and the dilated δZ alike. Every value is kept exactly as given
    or typed (the cells have no bounds).

    ``hyper``: which of the stride S, padding pad and dilation D get a slider. ``None``
    (the default): all three when the call sets one of them away from S = 1, pad = 0,
    D = 1 (notebook 08), none for the plain convolution of notebooks 03 and 05, whose
    picture then has no room for padding and no dilated δZ. ``True`` / ``False``: all or
    none; or a collection of names (``hyper=("stride",)``). A hyper-parameter without a
    slider keeps the value of the call.

    ``.state`` holds X, W, dZ, dX, dW, db and the chosen route.
    """

    _fn = "conv_backward_explorer"
    max_pad = 1  # padding 0 or 1: with 2, notebook 08's picture and controls no longer fit one window
    _X_default = ("random integers", 5, 5)
    _W_default = [[1.0, -1.0, 0.0], [0.0, 2.0, 1.0], [-1.0, 0.0, 1.0]]
    window_width = 960  # pixels: a notebook's output area in a 1400-pixel window with JupyterLab's side panel open
    _top, _row_gap, _gap = 40, 44, 28

    def __init__(self, X=None, W=None, dZ=None, *, stride=1, padding=0, dilation=1, hyper=None):
        fn = self._fn
        X, W, stride, padding, dilation = self._conv_args(X, W, stride, padding, dilation)
        shown = _shown_hyper(fn, hyper, stride, padding, dilation)
        self._reach(shown, stride, padding, dilation)
        cap = self._cap_dz
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
        self._conv_grids(X, W, None)
        self._dz = GridEditor(table, on, self._refuse, prefix="dZ", shape=(0, 0))
        hyper_sliders = self._hyper_sliders(stride, padding, dilation, shown=shown)
        self._target = explain_toggle()
        self._row = int_slider("row", 0, 0, self.KH - 1)
        self._col = int_slider("column", 0, 0, self.KW - 1)
        for w in (*hyper_sliders, self._target, self._row, self._col):
            w.observe(on, names="value")
        which = widgets.VBox([label("which entry comes from where?"), self._target, self._row, self._col])
        blocks = {
            "X": widgets.VBox([label("input X"), self._xgrid.box]),
            "W": widgets.VBox([label("kernel W"), self._wgrid.box]),
            "dZ": widgets.VBox([label("upstream δZ = ∂L/∂Z"), self._dz.box]),
        }
        for b in blocks.values():
            b.layout.margin = "0 14px 0 0"
        if hyper_sliders:
            # notebook 08: one grid at a time, so that the controls stay one row above the picture
            self._edit = ToggleButtons(
                options=[("X", "X"), ("W", "W"), ("δZ", "dZ")],
                value="X",
                description="edit",
                style={"description_width": "40px", "button_width": "48px"},
            )
            self._blocks = blocks
            for b in blocks.values():  # the toggle names the grid
                b.children = b.children[1:]
            self._edit.observe(self._show_grid, names="value")
            self._show_grid()
            hyper_box = widgets.VBox([label("hyper-parameters"), *hyper_sliders])
            hyper_box.layout.margin = "0 14px 0 0"
            children = [widgets.VBox([self._edit, *blocks.values()]), hyper_box, which]
        else:
            self._edit = None
            children = [*blocks.values(), which]
        box = widgets.HBox(children)
        self._dilated = self._cap_dd is not None
        self._dz.resize(self._shape_dz(stride, padding, dilation))
        self._cs = 0
        self._spaced = bool(hyper_sliders)  # controls above the picture: room for wider cells
        self._layout(self._needed_cs())
        self.controls_width = self._controls_width(hyper_sliders)
        self._setup(
            "Convolution backward",
            "edit X, W and the upstream δZ; pick a dW or dX entry to see the products that sum to it",
            box,
            self._size[0],
            self._size[1],
            self._panels,
        )

    # -- what the hyper-parameters can reach

    def _reach(self, shown, stride, padding, dilation):
        """The largest X̃, δZ and dilated δZ over every setting the sliders reach (the panels' room)."""
        strides = range(1, self.max_stride + 1) if "stride" in shown else [stride]
        pads = range(self.max_pad + 1) if "padding" in shown else [padding]
        dils = range(1, self.max_dil + 1) if "dilation" in shown else [dilation]
        self._pad_cap = max(pads)
        dz, dd = [1, 1], None
        for S in strides:
            for P in pads:
                for D in dils:
                    if span_message(self.KH, self.KW, D, self.H, self.Wd, P) is not None:
                        continue
                    Ho = conv_output_size(self.H, self.KH, S, P, D)
                    Wo = conv_output_size(self.Wd, self.KW, S, P, D)
                    dz = [max(dz[0], Ho), max(dz[1], Wo)]
                    if S > 1:
                        dd = [max((dd or [0, 0])[0], (Ho - 1) * S + 1), max((dd or [0, 0])[1], (Wo - 1) * S + 1)]
        self._cap_dz = tuple(dz)
        if len(strides) > 1:  # stride 1 among the choices: room for the note "no zeros to insert" too
            dd = [max((dd or [2])[0], 2), max((dd or [0, 5])[1], 5)]
        self._cap_dd = tuple(dd) if dd is not None else None

    def _shape_dz(self, S, P, D):
        if span_message(self.KH, self.KW, D, self.H, self.Wd, P) is not None:
            return (0, 0)
        return conv_output_size(self.H, self.KH, S, P, D), conv_output_size(self.Wd, self.KW, S, P, D)

    def _show_grid(self, change=None):
        for name, block in self._blocks.items():
            block.layout.display = "" if name == self._edit.value else "none"

    def _controls_width(self, hyper_sliders):
        """Controls beside the picture when both fit the window; notebook 08's in one row above it."""
        if hyper_sliders:
            return self.window_width
        return max(self.window_width - self._size[0] - 24, 300)

    # -- the picture's layout: cells as wide as the widest number

    def _arrays(self):
        """Every array the picture labels now (for the cell size)."""
        X, W, S, P, D = self._read_conv()
        self._dz.resize(self._shape_dz(S, P, D))  # δZ follows the hyper-parameters
        out = [X, W, self._dz.array]
        if span_message(self.KH, self.KW, D, self.H, self.Wd, P) is None and self._dz.array.size:
            _, cache = conv2d_forward(X[None, None], W[None, None], np.zeros(1), stride=S, padding=P, dilation=D)
            dX4, dW4, db = conv2d_backward(self._dz.array[None, None], cache)
            out += [dX4[0, 0], dW4[0, 0], db]
        return out

    def _needed_cs(self, arrays=None):
        """The cell side: every number fits; with the controls above the picture (stride, padding, dilation
        shown), numbers 10 pixels apart as far as the picture stays within 940×550 pixels, so that −2.0 and
        −1.0 side by side never read as one string."""
        arrays = self._arrays() if arrays is None else arrays
        cs = cell_size(arrays, least=28)
        if getattr(self, "_spaced", False):
            spaced = cell_size(arrays, least=28, margin=10)
            cs = next((c for c in range(spaced, cs, -1) if self._width_at(c) <= 940 and self._height_at(c) <= 550), cs)
        return cs

    def _width_at(self, cs):
        """The picture's width with cells of ``cs`` pixels (the arithmetic of :meth:`_layout`)."""
        title = Font.get(9, True)
        right = 34 + (self.Wd + 2 * self._pad_cap) * cs + self._gap
        right += max(self.KW * cs, title.width("dW = ∂L/∂W") + 8) + self._gap
        right += max(self._cap_dz[1] * cs, title.width("db = Σ δZ") + 8)
        if self._cap_dd is not None:
            note = title.width("dilated δZ") + 6 + Font.get(7.5).width("7×7: 1 zero between entries")
            right += self._gap + max(self._cap_dd[1] * cs, note)
        return right + 16

    def _height_at(self, cs):
        """The picture's height with cells of ``cs`` pixels (the arithmetic of :meth:`_layout`)."""
        rows1 = max(self.H + 2 * self._pad_cap, self.KH, self._cap_dz[0], self._cap_dd[0] if self._cap_dd else 0)
        return self._top + rows1 * cs + self._row_gap + max(self.H, self.KH, 1) * cs + 10

    def _layout(self, cs):
        """Place the panels for cells of ``cs`` pixels: X̃, W, δZ (and the dilated δZ) on top, dX, dW, db below."""
        self._cs = cs
        top, gap = self._top, self._gap
        capx = (self.H + 2 * self._pad_cap, self.Wd + 2 * self._pad_cap)
        title = Font.get(9, True)
        self._px = Panel("X", *capx, cs=cs).place(34, top)
        self._pw = Panel("W", self.KH, self.KW, cs=cs).place(self._px.x + self._px.width + gap, top)
        wcol = max(self._pw.width, title.width("dW = ∂L/∂W") + 8)
        self._pdz = Panel("δZ", *self._cap_dz, cs=cs).place(self._pw.x + wcol + gap, top)
        dzcol = max(self._pdz.width, title.width("db = Σ δZ") + 8)
        self._pdx = Panel("dX = ∂L/∂X", self.H, self.Wd, cs=cs)
        self._pdw = Panel("dW = ∂L/∂W", self.KH, self.KW, cs=cs)
        self._pdb = Panel("db = Σ δZ", 1, 1, cs=cs)
        panels = [self._px, self._pw, self._pdz, self._pdx, self._pdw, self._pdb]
        right = self._pdz.x + dzcol
        if self._dilated:
            self._pdd = Panel("dilated δZ", *self._cap_dd, cs=cs).place(right + gap, top)
            panels.append(self._pdd)
            note = title.width("dilated δZ") + 6 + Font.get(7.5).width("7×7: 1 zero between entries")
            right = self._pdd.x + max(self._pdd.width, note)
        else:
            self._pdd = None
        if hasattr(self, "_panels"):  # the titles, drawn once per layout, read this very list
            self._panels[:] = panels
        else:
            self._panels = panels
        self._right = right + 16
        self._place_row2(max(capx[0], self.KH, self._cap_dz[0], self._cap_dd[0] if self._dilated else 0), 0)

    def _place_row2(self, rows1, P):
        """Put the gradient row just under the tallest panel of the top row (dX under X's unpadded cells)."""
        row2 = self._px.y + rows1 * self._cs + self._row_gap
        self._pdx.place(self._px.x + P * self._cs, row2)
        self._pdw.place(self._pw.x, row2)
        self._pdb.place(self._pdz.x, row2)
        self._size = (self._right, row2 + max(self.H, self.KH, 1) * self._cs + 10)
        if hasattr(self, "_live"):
            self._fit_size(*self._size)

    def _control_map(self):
        return {
            **({"edit": self._edit} if self._edit is not None else {}),
            **self._xgrid.cells,
            **self._wgrid.cells,
            **self._dz.cells,
            **self._hyper_controls(),
            "explain": self._target,
            "row": self._row,
            "column": self._col,
        }

    def _grow_cells(self, arrays):
        """Wider cells and a new layout when a number no longer fits its cell (never narrower: no jumps)."""
        needed = self._needed_cs(arrays)
        if needed > self._cs:
            self._layout(needed)
            self._fit_size(*self._size, moved=True)

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
        msg = span_message(KH, KW, D, H, Wd, P)
        if msg is not None:
            self._grow_cells([X, W])
            Xp, grey, xlabels = self._padded_x(frame, X, P)
            self._place_row2(max(H + 2 * P, KH), P)
            self._dz.resize((0, 0))
            frame.heat(self._px, "X", Xp, signed=False, grey=grey, **xlabels)
            frame.heat(self._pw, "W", W, signed=True)
            for p in (self._pdz, self._pdx, self._pdw, self._pdb):
                p.note(frame, "—", ERR)
            if self._pdd is not None:
                frame.text("—", self._pdd.x + 2 * self._pdd.cs, self._pdd.y + self._pdd.cs, 7.5, ERR)
            self._readout = ""
            self._fail(msg)
            return
        Ho, Wo = conv_output_size(H, KH, S, P, D), conv_output_size(Wd, KW, S, P, D)
        Hd, Wdd = (Ho - 1) * S + 1, (Wo - 1) * S + 1  # δZ spread out by the stride
        self._dz.resize((Ho, Wo))
        dZ = self._dz.array
        Z4, cache = conv2d_forward(X[None, None], W[None, None], np.zeros(1), stride=S, padding=P, dilation=D)
        dX4, dW4, db = conv2d_backward(dZ[None, None], cache)
        dX, dW = dX4[0, 0], dW4[0, 0]
        self._grow_cells([X, W, dZ, dX, dW, db])
        self._place_row2(max(H + 2 * P, KH, Ho, (Hd if S > 1 else 2) if self._dilated else 0), P)
        Xp, grey, xlabels = self._padded_x(frame, X, P)
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
        elif self._dilated:
            ddc = None
            self._pdd.subtitle(frame, "stride 1")
            for k, line in enumerate(("no zeros to insert:", "δZ is used as it is")):
                frame.text(line, self._pdd.x, self._pdd.y + 8 + 14 * k, 7.5, GREY, ha="left")
        else:
            ddc = None
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
        self._readout = route_markup(rs, colors if target == "dX" else None, limit=9)


conv_backward_explorer = ConvBackwardExplorer
