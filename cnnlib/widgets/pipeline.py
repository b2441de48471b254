"""The explorer of seed 002's whole network, every value and gradient (notebook 06)."""

from __future__ import annotations

import numpy as np

from .._format import array_format, cell_label, cell_labels
from ..seeds import seed002_network
from ..viz._style import INK
from ._controls import (
    GridEditor,
    NumberBox,
    PatternPicker,
    ToggleButtons,
    float_slider,
    int_slider,
    label,
    pattern,
    require_widgets,
    widgets,
)
from ._explorer import HELP_COLOR, Explorer, op_arrow, sized_2d
from ._raster import GREY, HI, ROUTE, Font, Panel, fitted_labels

__all__ = ["pipeline_explorer"]


class PipelineExplorer(Explorer):
    """Seed 002's network, every value and gradient, interactively (notebook 06).

    ``X (6×6) → conv W1 (3×3) + B1 → Z1 (4×4) → ReLU → A1 → max-pool 2×2 → P1 (2×2)
    → flatten → F (4) → Z2 = F·W2 + B2 → A2 = ŷ = σ(Z2) → L = BCE(ŷ, y)``.

    Choose an X pattern or a pixel and type its value (kept exactly: selecting a pixel
    never changes it), edit W1 and B1, flip the label; a pooling window whose maximum is
    shared is noted on the picture (the first maximum in row-major order wins);
    the top row shows the forward values, the bottom row every gradient (dX, dW1,
    δZ1, δA1, δP1, δF, dW2 and the scalars), all from cnnlib's layer functions.
    ``.state`` uses seed 002's names (X, W1, B1, Z1, A1, P1, F, W2, B2, Z2, A2, L and
    their d-prefixed gradients), so ``cnnlib.viz.seed002_flow(ex.state)`` draws it too.
    """

    _fn = "pipeline_explorer"

    def __init__(self, X=None, W1=None, B1=-0.5, W2=None, B2=0.1, y=1):
        fn = self._fn
        require_widgets(fn)
        X = pattern("diagonal stroke", 6, 6) if X is None else sized_2d(fn, "X", X, max_side=6, min_side=6)
        W1 = (
            np.array([[1.0, 0.0, -0.5], [0.0, 1.0, 0.0], [-0.5, 0.0, 1.0]])
            if W1 is None
            else sized_2d(fn, "W1", W1, max_side=3, min_side=3)
        )
        W2 = np.array([0.5, -0.25, -0.5, 1.0]) if W2 is None else np.asarray(W2, dtype=np.float64).reshape(-1)
        if W2.shape != (4,) or not np.all(np.isfinite(W2)):
            raise ValueError(f"{fn}: W2 must hold 4 finite weights (one per entry of F), got shape {np.shape(W2)}")
        if y not in (0, 1):
            raise ValueError(f"{fn}: y must be 0 or 1, got {y!r}")
        self.W2, self.B2 = W2.copy(), float(B2)
        self._X = X.copy()
        on = self._on_change
        self._pattern = PatternPicker(self._apply_pattern, placeholder="(keep)", description="X pattern", width="280px")
        self._prow = int_slider("pixel row", 2, 0, 5)
        self._pcol = int_slider("pixel column", 2, 0, 5)
        for w in (self._prow, self._pcol):
            w.style.description_width = "90px"
        # a text box, not a slider: selecting a pixel shows its value exactly, and what is typed is kept
        self._pval = NumberBox(
            X[2, 2],
            self._set_pixel,
            label_text="pixel value",
            width=250,
            description="pixel value",
            description_width="90px",
            fmt=lambda v: array_format(self._X)(v),  # as the X panel writes it
        )
        self._prow.observe(self._select_pixel, names="value")
        self._pcol.observe(self._select_pixel, names="value")
        self._wgrid = GridEditor(W1, on, self._refuse, prefix="W1")
        self._b1 = float_slider("bias B1", float(B1), 2.0, 0.1)
        self._y = ToggleButtons(
            options=[0, 1],
            value=int(y),
            description="label y",
            style={"description_width": "80px", "button_width": "48px"},
        )
        self._b1.observe(on, names="value")
        self._y.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox(
                    [label("input X (6×6)"), self._pattern.dropdown, self._prow, self._pcol, self._pval],
                    layout=widgets.Layout(margin="0 16px 0 0"),
                ),
                widgets.VBox(
                    [label("kernel W1 (3×3)"), self._wgrid.box, self._b1], layout=widgets.Layout(margin="0 16px 0 0")
                ),
                widgets.VBox(
                    [
                        label("target"),
                        self._y,
                        widgets.HTML(
                            value=f"<span style='color:{HELP_COLOR}'>W2 = [{', '.join(cell_labels(W2))}], "
                            f"B2 = {cell_label(self.B2)} (fixed)</span>"
                        ),
                    ]
                ),
            ]
        )
        # 21 columns of cells in a row: numbers too wide for a cell are written with fewer digits (fitted_labels)
        cs, top, gap = 33, 46, 40
        P = {}
        P["X"] = Panel("X", 6, 6, cs=cs).place(30, top)
        P["W1"] = Panel("W1", 3, 3, cs=cs).place(P["X"].x + P["X"].width + 22, top)
        P["Z1"] = Panel("Z1", 4, 4, cs=cs).place(P["W1"].x + P["W1"].width + gap, top)
        P["A1"] = Panel("A1", 4, 4, cs=cs).place(P["Z1"].x + P["Z1"].width + gap, top)
        P["P1"] = Panel("P1", 2, 2, cs=cs).place(P["A1"].x + P["A1"].width + gap, top)
        P["F"] = Panel("F", 4, 1, cs=cs).place(P["P1"].x + P["P1"].width + gap, top)
        P["W2"] = Panel("W2", 4, 1, cs=cs).place(P["F"].x + P["F"].width + 20, top)
        row2 = top + 6 * cs + 50
        for name, title in (
            ("X", "dX"),
            ("W1", "dW1"),
            ("Z1", "δZ1"),
            ("A1", "δA1"),
            ("P1", "δP1"),
            ("F", "δF"),
            ("W2", "dW2"),
        ):
            q = P[name]
            P["d" + name] = Panel(title, q.rows, q.cols, cs=cs).place(q.x, row2)
        for name, q in P.items():
            q.row_index = name in ("X", "dX")
        self._P = P
        # the scalars (Z2, ŷ, L; δZ2, dB2, dB1) under P1, which is shorter than X
        self._head = (P["P1"].x, top + 3 * cs + 4)
        width = P["W2"].x + P["W2"].width + 16
        height = row2 + 6 * cs + 12

        def decorate(fig, ax):
            mid1, mid2 = top + 2 * cs, row2 + 2 * cs
            f = Font.get(7)
            for a, b, op in (
                ("W1", "Z1", "conv"),
                ("Z1", "A1", "ReLU"),
                ("A1", "P1", "max"),
                ("P1", "F", "flatten"),
            ):
                x0 = P[a].x + P[a].width + 6
                x1 = P[b].x - 6
                op_arrow(ax, x0, x1, mid1, "")
                op_arrow(ax, x0, x1, mid2, "", back=True)
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
                fontproperties=Font.get(12, True).prop,
                ha="center",
                va="center",
                color="#555555",
            )
            ax.text(
                12, top + 3 * cs, "forward", fontproperties=f.prop, rotation=90, color=GREY, ha="center", va="center"
            )
            ax.text(
                12, row2 + 3 * cs, "backward", fontproperties=f.prop, rotation=90, color=GREY, ha="center", va="center"
            )

        self._setup(
            "Seed 002's network, end to end",
            "X → conv(W1) + B1 → ReLU → max-pool 2×2 → flatten → ·W2 + B2 → σ → BCE; values on top, gradients below",
            box,
            width,
            height,
            list(P.values()),
            decorate,
        )

    def _control_map(self):
        return {
            "pattern": self._pattern.dropdown,
            "pixel row": self._prow,
            "pixel column": self._pcol,
            "pixel value": self._pval,
            **self._wgrid.cells,
            "B1": self._b1,
            "y": self._y,
        }

    def _show_pixel(self):
        """The pixel-value box shows the chosen pixel's value exactly (and changes nothing)."""
        self._pval.show(self._X[self._prow.value, self._pcol.value])

    def _apply_pattern(self, name):
        self._X = pattern(name, 6, 6)
        self._show_pixel()
        self.update()

    def _select_pixel(self, change):
        self._show_pixel()
        self.update()

    def _set_pixel(self, v):
        self._X[self._prow.value, self._pcol.value] = v
        self.update()
        self._show_pixel()  # X's decimals may have changed with it

    @staticmethod
    def _ties(A1, winners):
        """(u, v, other maxima) for every 2×2 pooling window whose maximum is not unique (row-major winners)."""
        out = []
        for k, (wr, wc) in enumerate(winners):
            u, v = divmod(k, A1.shape[1] // 2)
            cells = [
                (r, c)
                for r in range(2 * u, 2 * u + 2)
                for c in range(2 * v, 2 * v + 2)
                if A1[r, c] == A1[wr, wc] and (r, c) != (wr, wc)
            ]
            if cells:
                out.append((u, v, cells))
        return out

    # panels that show the same values (ReLU passes Z1 > 0 on to A1, max-pooling A1's winners on to P1,
    # F is P1 flattened; backward, the same values flow back) write them in one number format
    LINKED = (("Z1", "A1", "P1", "F"), ("dZ1", "dA1", "dP1", "dF"))

    def _heat(self, frame, name, data, **kwargs):
        """A heat map whose numbers fit their cells (:func:`fitted_labels`), in the format of its linked panels."""
        group = next((g for g in self.LINKED if name in g), (name,))
        shown = {k: self._shown[k] for k in group if k in self._shown}
        shown[name] = data
        names = list(shown)
        labels, fmt = fitted_labels([shown[k] for k in names], [self._P[k].cs for k in names])
        self.state.setdefault("formats", {})[name] = fmt
        return frame.heat(self._P[name], name, data, labels=labels[names.index(name)], **kwargs)

    def _compute(self, frame):
        X = self._X.copy()
        W1 = self._wgrid.array
        B1, y = float(self._b1.value), int(self._y.value)
        self.state = seed002_network(X, W1, B1, self.W2.copy(), self.B2, y)
        self.state.update(yhat=self.state["A2"], error=None, formats={})
        st, P = self.state, self._P
        self._shown = {k: st[k] for k in ("Z1", "A1", "P1", "dZ1", "dA1", "dP1")}
        self._shown.update(F=st["F"][:, None], dF=st["dF"][:, None])
        r, c = self._prow.value, self._pcol.value
        xc = self._heat(frame, "X", X, signed=False)
        frame.box(*xc.rect(r, c), HI, 3)
        self._heat(frame, "W1", W1, signed=True)
        relu_off = st["Z1"] <= 0
        self._heat(frame, "Z1", st["Z1"], signed=True)
        ac = self._heat(frame, "A1", st["A1"], signed=False)
        for wr, wc in st["winners"]:
            frame.box(*ac.rect(wr, wc), ROUTE, 2)
        # a window whose maximum is shared: the first maximum (row-major) wins and takes all of δP1;
        # the other maxima get nothing, and are outlined in dots on A1 and δA1
        ties = self._ties(st["A1"], st["winners"])
        st["ties"] = ties
        st["tied_without_gradient"] = [cell for _, _, cells in ties for cell in cells]
        for cell in st["tied_without_gradient"]:
            frame.box(*ac.rect(*cell), ROUTE, 2, dotted=True)
        fa1 = array_format(st["A1"])
        notes = [
            (
                f"window ({u}, {v}) ties: "
                + " = ".join(f"A1[{a},{b}]" for a, b in [st["winners"][2 * u + v], *cells])
                + f" = {fa1(st['A1'][cells[0]])}",
                INK,
            )
            for u, v, cells in ties
        ]
        if ties:
            notes.append(("dotted: a tied maximum that gets no gradient", GREY))
        right = P["A1"].x + P["A1"].width  # under Z1 and A1, ending at A1's right edge
        for k, (text, color) in enumerate(notes[:4]):
            frame.text(text, right, P["A1"].y + P["A1"].height + 10 + 13 * k, 7, color, ha="right")
        self._heat(frame, "P1", st["P1"], signed=False)
        self._heat(frame, "F", st["F"][:, None], signed=False)
        self._heat(frame, "W2", st["W2"][:, None], signed=True)
        dxc = self._heat(frame, "dX", st["dX"], signed=True)
        frame.box(*dxc.rect(r, c), HI, 3)
        self._heat(frame, "dW1", st["dW1"], signed=True)
        self._heat(frame, "dZ1", st["dZ1"], signed=True, dim=relu_off)
        dac = self._heat(frame, "dA1", st["dA1"], signed=True)
        for wr, wc in st["winners"]:
            frame.box(*dac.rect(wr, wc), ROUTE, 2)
        for cell in st["tied_without_gradient"]:
            frame.box(*dac.rect(*cell), ROUTE, 2, dotted=True)
        self._heat(frame, "dP1", st["dP1"], signed=True)
        self._heat(frame, "dF", st["dF"][:, None], signed=True)
        self._heat(frame, "dW2", st["dW2"][:, None], signed=True)
        P["W1"].subtitle(frame, f"B1 = {cell_label(B1)}")
        frame.text("faded: 0 where Z1 ≤ 0", P["dZ1"].x, P["dZ1"].y + P["dZ1"].height + 10, 7, GREY, ha="left")
        hx, hy = self._head
        heads = (
            (
                hy,
                [("Z2 = F·W2 + B2", st["Z2"]), ("ŷ = A2 = σ(Z2)", st["A2"]), ("L = BCE(ŷ, y)", st["L"])],
            ),
            (
                P["dP1"].y + 3 * P["dP1"].cs + 4,
                [("δZ2 = ŷ − y", st["dZ2"]), ("dB2 = δZ2", st["dB2"]), ("dB1 = Σ δZ1", st["dB1"])],
            ),
        )
        for y0, lines in heads:
            for k, (name, val) in enumerate(lines):
                frame.text(name, hx, y0 + 28 * k, 7, GREY, ha="left")
                frame.text("= " + cell_label(val), hx + 8, y0 + 28 * k + 13, 7.5, INK, bold=True, ha="left")
        frame.text(f"label y = {y}", hx, hy + 28 * 3, 7.5, INK, bold=True, ha="left")
        fx, fdx = array_format(X), array_format(st["dX"])
        tie_text = (
            " &nbsp;·&nbsp; dotted: tied maxima of a pooling window, which receive no gradient (the first maximum in "
            "row-major order takes it all)"
            if ties
            else ""
        )
        self._readout = (
            f"pixel X[{r}, {c}] = {fx(X[r, c])}: ∂L/∂X[{r}, {c}] = <b>{fdx(st['dX'][r, c])}</b>"
            f" &nbsp;·&nbsp; ŷ = {cell_label(st['A2'])}, L = {cell_label(st['L'])}, δZ2 = ŷ − y = "
            f"{cell_label(st['dZ2'])} &nbsp;·&nbsp; orange: the max-pool winners (the only cells of A1 "
            f"that receive gradient){tie_text}; faded δZ1: ReLU off (Z1 ≤ 0)"
        )


pipeline_explorer = PipelineExplorer
