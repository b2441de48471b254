"""The convolution-forward explorer (notebook 02; notebook 08 for stride, padding and dilation)."""

from __future__ import annotations

import numpy as np

from .._format import array_format, cell_label, readout_number
from ..conv import conv2d_forward, conv_output_size
from ._controls import PatternPicker, float_slider, int_slider, label, pattern, widgets
from ._conv import ConvExplorerBase, span_message
from ._explorer import HELP_COLOR, op_arrow, paren
from ._raster import ERR, HI, ROUTE, Font, Panel

__all__ = ["conv_forward_explorer"]


def _products(terms, limit=12, fa=cell_label, fb=cell_label):
    """'a·b + c·d + …' for the read-outs (terms: list of (a, b); ``fa``, ``fb``: the factors' array formats)."""
    parts = [f"{paren(a, fa)}·{paren(b, fb)}" for a, b in terms[:limit]]
    if len(terms) > limit:
        parts.append(f"… ({len(terms) - limit} more)")
    return " + ".join(parts) if parts else "0"


class ConvForwardExplorer(ConvExplorerBase):
    """Convolution forward, interactively (notebook 02; notebook 08 for stride, padding and dilation).

    Edit the cells of X (H, W up to 8×8) and of the kernel W (up to 5×5), the bias
    b, stride, padding and dilation; the window slider moves the receptive field
    (outlined on the zero-padded X̃) and highlights the output cell it fills:
    ``Z[u, v] = b + Σ_{i,j} W[i, j] · X̃[u·S + i·D, v·S + j·D]``.

    ``dilation=None`` hides the dilation slider and computes with dilation 1 (notebook 02,
    before dilation is taught in notebook 08). Every value is kept exactly as given or
    typed: the cells have no bounds and the bias slider's range grows to hold ``b``.

    Returns a displayable widget; ``.state`` holds X, W, b, Xpad, Z, the position,
    ``.static_figure()`` the current picture as a matplotlib Figure.
    """

    _fn = "conv_forward_explorer"
    _X_default = ("diagonal stroke", 6, 6)
    _W_default = [[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]

    def __init__(self, X=None, W=None, b=0.0, *, stride=1, padding=0, dilation=1):
        fn = self._fn
        show_dilation = dilation is not None
        X, W, stride, padding, dilation = self._conv_args(X, W, stride, padding, 1 if dilation is None else dilation)
        if not np.isscalar(b) and np.size(b) != 1:
            raise ValueError(f"{fn}: b must be a number (one filter), got shape {np.shape(b)}")
        b = float(np.asarray(b).reshape(-1)[0]) if not np.isscalar(b) else float(b)

        on = self._on_change
        self._conv_grids(X, W, 50)
        self._pattern = PatternPicker(
            self._apply_pattern,
            placeholder="(edit the cells)",
            description="pattern",
            width="240px",
            description_width="50px",
        )
        self._b = float_slider("bias b", b, 5.0, 0.5, width="240px")
        shown = ("stride", "padding", "dilation") if show_dilation else ("stride", "padding")
        hyper = self._hyper_sliders(stride, padding, dilation, shown=shown)
        self._pos = int_slider("window #", 0, 0, 0)
        for w in (self._b, *hyper, self._pos):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox([label("input X"), self._xgrid.box, self._pattern.dropdown]),
                widgets.VBox([label("kernel W"), self._wgrid.box, self._b]),
                widgets.VBox(
                    [
                        label("hyper-parameters"),
                        *hyper,
                        label("output position (u, v)"),
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
        self._pz = Panel("Z = X ⋆ W + b", *capz, cs=cs).place(self._pw.x + self._pw.width + 70, top)
        width = self._pz.x + max(self._pz.width, 150) + 16
        height = top + max(self._px.height, self._pz.height) + 14
        panels = (self._px, self._pw, self._pz)

        def decorate(fig, ax):
            f = Font.get(26, False)
            ax.text(
                self._px.x + self._px.width + 28,
                top + self.KH * cs / 2 + 2,
                "⋆",
                fontproperties=f.prop,
                ha="center",
                va="center",
                color="#555555",
            )
            op_arrow(ax, self._pw.x + self._pw.width + 12, self._pz.x - 16, top + self.KH * cs / 2, "")

        self._setup(
            "Convolution forward",
            "edit X and W, move the window; "
            + (
                "Z[u, v] = b + Σ W[i, j]·X̃[uS + iD, vS + jD]"
                if show_dilation
                else "Z[u, v] = b + Σ W[i, j]·X̃[uS + i, vS + j]"
            ),
            box,
            width,
            height,
            panels,
            decorate,
        )

    def _control_map(self):
        return {
            "pattern": self._pattern.dropdown,
            **self._xgrid.cells,
            **self._wgrid.cells,
            "b": self._b,
            **self._hyper_controls(),
            "position": self._pos,
        }

    def _apply_pattern(self, name):
        self._xgrid.set_array(pattern(name, self.H, self.Wd))
        self.update()

    def _compute(self, frame):
        X, W, S, P, D = self._read_conv()
        b = float(self._b.value)
        H, Wd, KH, KW = self.H, self.Wd, self.KH, self.KW
        self.state = {"X": X, "W": W, "b": b, "stride": S, "padding": P, "dilation": D, "error": None}
        self._pw.subtitle(frame, f"{KH}×{KW},  b = {readout_number(b)}")
        Xp, grey, xlabels = self._padded_x(frame, X, P)
        frame.heat(self._pw, "W", W, signed=True)
        msg = span_message(KH, KW, D, H, Wd, P)
        ok = msg is None
        Ho = conv_output_size(H, KH, S, P, D) if ok else 0
        self._fit_height(self._px.y + max(H + 2 * P, KH + 1, Ho, 4) * self._px.cs + 14)
        if msg is not None:
            frame.heat(self._px, "X", Xp, signed=False, grey=grey, **xlabels)
            self._pos.max = 0
            self._pos.disabled = True
            self._pz.note(frame, "no output", ERR)
            self._readout = ""
            self._fail(msg)
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
        xcells = frame.heat(self._px, "X", Xp, signed=False, grey=grey, **xlabels)
        zcells = frame.heat(self._pz, "Z", Z, signed=True)
        for r in rows:
            for c in cols:
                frame.box(*xcells.rect(r, c), color=ROUTE, lw=3)
        if D > 1:
            frame.box(*xcells.rect(rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1), HI, 1)
        frame.box(*zcells.rect(u, v), color=HI, lw=3)
        self._pz.subtitle(frame, f"{Ho}×{Wo},  window ({u}, {v})")
        terms = [(W[i, j], Xp[rows[i], cols[j]]) for i in range(KH) for j in range(KW)]
        self.state.update(Xpad=Xp, Z=Z, position=(u, v), window_rows=rows, window_cols=cols)
        window = f"{u}·{S} + i·{D}, {v}·{S} + j·{D}" if self._dilation is not None else f"{u}·{S} + i, {v}·{S} + j"
        self._readout = (
            f"Z[{u}, {v}] = b + Σ<sub>i,j</sub> W[i, j]·X̃[{window}]"
            f" = {paren(b)} + {_products(terms, 9, array_format(W), array_format(Xp))}"
            f" = <b>{array_format(Z)(Z[u, v])}</b>"
            f" &nbsp; <span style='color:{HELP_COLOR}'>(X̃: X zero-padded by pad = {P})</span>"
        )


conv_forward_explorer = ConvForwardExplorer
