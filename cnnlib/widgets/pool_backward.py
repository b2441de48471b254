"""The pooling-backward explorer (notebook 04; seed 003 §3.3)."""

from __future__ import annotations

import html

import numpy as np

from .._format import cell_label, readout_number
from ..pool import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward, pool_output_size
from ._controls import GridEditor, ToggleButtons, int_slider, label, require_widgets, upstream_table, widgets
from ._explorer import Explorer, check_int, padded, paren, sized_2d
from ._raster import ERR, HI, ROUTE, Font, Panel

__all__ = ["pool_backward_explorer"]


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
    """Pooling backward, interactively (notebook 04; seed 003 §3.3).

    Edit A (up to 8×8) and the upstream gradient δP (kept exactly as given or typed);
    switch max / average pooling; change the window size R, stride S (S < R: overlapping
    windows) and padding.
    The picture shows P, δP and the routed gradient δA from cnnlib's
    ``maxpool2d_backward`` / ``avgpool2d_backward``. Follow one window: its winner
    (max: the first maximum in row-major order) or its R² cells (average) are outlined,
    with an arrow from its δP.

    ``.state`` holds A, P, dP, dA and the winners (max pooling).
    """

    _fn = "pool_backward_explorer"
    max_size, max_stride, max_pad = 4, 4, 2

    def __init__(self, A=None, dP=None, *, mode="max", size=2, stride=2, padding=0):
        fn = self._fn
        require_widgets(fn)
        if A is None:  # a tie in the first window: the first maximum in row-major order wins
            A = np.array([[1.0, 3.0, 2.0, 0.0], [3.0, 0.0, 1.0, 4.0], [0.5, 2.0, 2.5, 1.0], [1.0, 2.0, 0.0, 0.5]])
        A = sized_2d(fn, "A", A, max_side=8)
        if mode not in ("max", "average"):
            raise ValueError(f"{fn}: mode must be 'max' or 'average', got {mode!r}")
        self.H, self.Wd = A.shape
        size = check_int(fn, "size", size, 1, self.max_size)
        stride = check_int(fn, "stride", stride, 1, self.max_stride)
        padding = check_int(fn, "padding", padding, 0, self.max_pad)
        cap = (self.H + 2 * self.max_pad, self.Wd + 2 * self.max_pad)
        table = upstream_table(4, max(cap))
        if dP is not None:
            dP = sized_2d(fn, "dP", dP, max_side=12)
            Ho, Wo = pool_output_size(self.H, size, stride, padding), pool_output_size(self.Wd, size, stride, padding)
            if dP.shape != (Ho, Wo):
                raise ValueError(
                    f"{fn}: dP must have the shape of P, ({Ho}, {Wo}) for A {A.shape}, size {size}, "
                    f"stride {stride}, padding {padding}; got {dP.shape}"
                )
            table[:Ho, :Wo] = dP
        on = self._on_change
        self._agrid = GridEditor(A, on, self._refuse, prefix="A")
        self._dp = GridEditor(table, on, self._refuse, prefix="dP", shape=(0, 0), gap="2px 2px")
        self._mode = ToggleButtons(
            options=["max", "average"],
            value=mode,
            description="mode",
            style={"description_width": "80px", "button_width": "80px"},
        )
        self._size = int_slider("window R", size, 1, self.max_size)
        self._stride = int_slider("stride S", stride, 1, self.max_stride)
        self._padding = int_slider("padding", padding, 0, self.max_pad)
        self._win = int_slider("window #", 0, 0, 0)
        for w in (self._mode, self._size, self._stride, self._padding, self._win):
            w.observe(on, names="value")
        box = widgets.HBox(
            [
                widgets.VBox([label("input A"), self._agrid.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([label("upstream δP = ∂L/∂P"), self._dp.box], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox(
                    [
                        label("pooling window"),
                        self._mode,
                        self._size,
                        self._stride,
                        self._padding,
                        label("follow one window"),
                        self._win,
                    ]
                ),
            ]
        )
        cs = 32
        top = 52
        gap = 50
        capp = (max(1, cap[0]), max(1, cap[1]))  # size 1, stride 1 keeps the padded size
        self._pa = Panel("A", *cap, cs=cs).place(34, top)
        self._pp = Panel("P", *capp, cs=cs).place(self._pa.x + self._pa.width + gap, top)
        row2 = top + max(self._pa.height, self._pp.height) + 58
        self._pdp = Panel("δP", *capp, cs=cs).place(self._pp.x, row2)
        self._pda = Panel("δA = ∂L/∂A", self.H, self.Wd, cs=cs).place(
            self._pa.x + (self._pa.width - self.Wd * cs) // 2, row2
        )
        width = self._pp.x + self._pp.width + 20
        height = row2 + max(self._pdp.height, self._pda.height) + 14
        self._placed_x = self._pp.x
        self._setup(
            "Pooling backward",
            "edit A and δP; switch max / average; overlapping windows (S < R) add their gradients",
            box,
            width,
            height,
            (self._pa, self._pp, self._pdp, self._pda),
        )

    def _place(self, rows1, rows_dp, cols_a, cols_p, a_text, p_text):
        """Lay the picture out for the current shapes: P and δP just right of the padded A (no empty band
        between them), δA and δP just under A and P; size the picture to fit (titles and subtitles included)."""
        cs, gap = self._pa.cs, 50
        small, bold = Font.get(7.5, False), Font.get(9, True)
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

    def _control_map(self):
        return {
            **self._agrid.cells,
            **self._dp.cells,
            "mode": self._mode,
            "size": self._size,
            "stride": self._stride,
            "padding": self._padding,
            "window": self._win,
        }

    def _compute(self, frame):
        A = self._agrid.array
        mode, K, S, P = self._mode.value, self._size.value, self._stride.value, self._padding.value
        H, Wd = self.H, self.Wd
        self.state = {"A": A, "mode": mode, "size": K, "stride": S, "padding": P, "error": None}
        Ap, grey, alabels = padded(A, P)
        pad_label = "−∞" if mode == "max" else "0"
        labels = [
            [pad_label if grey[r, c] else cell_label(Ap[r, c]) for c in range(Ap.shape[1])] for r in range(Ap.shape[0])
        ]
        a_text = f"{H}×{Wd}" + (f", padded with {pad_label}" if P else "")
        self._pa.subtitle(frame, a_text)
        msg = _pool_message(K, S, P, H, Wd)
        if msg is not None:
            self._place(H + 2 * P, 1, Wd + 2 * P, 3, a_text, "")
            self._dp.resize((0, 0))
            self._win.max = 0
            self._win.disabled = True
            frame.heat(self._pa, "A", Ap, signed=False, grey=grey, labels=labels, **alabels)
            for p in (self._pp, self._pdp, self._pda):
                p.note(frame, "—", ERR)
            self._readout = ""
            self._fail(msg)
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
        ac = frame.heat(self._pa, "A", Ap, signed=False, grey=grey, labels=labels, **alabels)
        pc = frame.heat(self._pp, "P", Pm, signed=False)
        dpc = frame.heat(self._pdp, "dP", dP, signed=True)
        dac = frame.heat(self._pda, "dA", dA, signed=True)
        frame.box(*ac.rect(r0, c0, K, K), HI, 2)
        frame.box(*pc.rect(u, v), HI, 3)
        frame.box(*dpc.rect(u, v), ROUTE, 3)
        self._pp.subtitle(frame, p_text)
        cells = [(r0 + i - P, c0 + j - P) for i in range(K) for j in range(K)]
        real = [(r, c) for r, c in cells if 0 <= r < H and 0 <= c < Wd]
        if mode == "max":
            wr, wc = (int(t) for t in winners[u, v])
            route = [(wr, wc)]
            frame.box(*ac.rect(wr + P, wc + P), ROUTE, 3)
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
                    + " + ".join(paren(dP[a, b]) for a, b in wins)
                    + f" = {readout_number(dA[wr, wc])}"
                )
        else:
            route = real
            share = dP[u, v] / (K * K)
            txt = (
                f"average: each of the {K * K} cells of window ({u}, {v}) gets δP[{u}, {v}] / {K * K} = "
                f"{readout_number(dP[u, v])} / {K * K} = {readout_number(share)}"
                + (f" ({K * K - len(real)} of them are padding and are cropped away)" if len(real) < K * K else "")
            )
        # the cells of δA that receive δP[u, v], and an arrow from δP's cell (clear of its row index)
        # to δA's edge, not over δA's numbers
        for r, c in route:
            frame.box(*dac.rect(r, c), ROUTE, 3)
        if route:
            start, end = dpc.center(u, v), dac.center(*route[0])
            frame.arrow(start[0] - dpc.cs / 2 - 14, start[1], dac.x0 + dac.w * dac.cs + 3, end[1])
        self.state["route"] = route
        unused = [r for r in range(H) if not any(0 <= u2 * S + i - P == r for u2 in range(Ho) for i in range(K))]
        if unused:
            txt += f". Rows {unused} are in no window: their gradient is 0"
        self._readout = html.escape(txt)


pool_backward_explorer = PoolBackwardExplorer
