"""The dense-layer, softmax and cross-entropy explorer (notebook 01; seed 003 §2.4, §3.1)."""

from __future__ import annotations

import numpy as np

from .._format import cell_label, readout_number
from ..dense import dense_backward, dense_forward
from ..losses import softmax, softmax_cross_entropy
from ..viz._style import INK, SEQUENTIAL_CMAP, cmap_for
from ._controls import GridEditor, ToggleButtons, float_slider, label, reach, require_widgets, widgets
from ._explorer import Explorer, sized_2d
from ._raster import GREY, HI, Font, Panel

__all__ = ["dense_softmax_explorer"]


class _Bars:
    """A bar chart slot with a fixed value range (so its axis is drawn once)."""

    def __init__(self, title, n, lo, hi, *, bar=30, gap=14, height=150):
        self.title, self.n, self.lo, self.hi = title, n, float(lo), float(hi)
        self.bar, self.gap, self.h = bar, gap, height
        self.x = self.y = 0

    @property
    def width(self):
        return self.n * self.bar + (self.n + 1) * self.gap

    def place(self, x, y):
        self.x, self.y = int(x), int(y)
        return self

    def ypix(self, v):
        v = min(max(float(v), self.lo), self.hi)
        return self.y + (self.hi - v) / (self.hi - self.lo) * self.h

    def xbar(self, k):
        return self.x + self.gap + k * (self.bar + self.gap)

    def decorate(self, ax):
        f = Font.get(6.5)
        y0 = self.ypix(0.0)
        ax.plot([self.x, self.x + self.width], [y0, y0], color="#777777", lw=0.8)
        ax.plot([self.x, self.x], [self.y, self.y + self.h], color="#bbbbbb", lw=0.8)
        for v in sorted({self.lo, 0.0, self.hi}):
            yy = self.ypix(v)
            ax.plot([self.x - 3, self.x], [yy, yy], color="#bbbbbb", lw=0.8)
            ax.text(self.x - 5, yy, cell_label(v), fontproperties=f.prop, color=GREY, ha="right", va="center")
        for k in range(self.n):
            ax.text(
                self.xbar(k) + self.bar / 2,
                self.y + self.h + 22,
                str(k),
                fontproperties=f.prop,
                color=GREY,
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
            text = cell_label(v) + (" ›" if clipped else "")
            ty = top - 8 if v >= 0 else bot + 8
            ty = min(max(ty, self.y - 8), self.y + self.h + 9)
            frame.text(text, x + self.bar / 2, ty, 7, INK, bold=clipped)
            if outline is not None and k == outline:
                frame.box(x - 1, min(top, y0) - 1, self.bar + 1, max(bot - top, 1) + 1, HI, 2)


class DenseSoftmaxExplorer(Explorer):
    """Dense layer + softmax + cross-entropy, interactively (notebook 01; seed 003 §2.4, §3.1).

    Mode "logits": move the scores s directly. Mode "layer": move the input p (Q entries)
    and the weights U (M×Q, M classes): s = pUᵀ + c with row vectors
    (``cnnlib.dense_forward``). Pick the label y. Bars show s, ŷ = softmax(s) and
    δ = ∂L/∂s = ŷ − y (``cnnlib.softmax_cross_entropy``); in layer mode the heat maps show
    dU = δᵀp and dp = δU (``cnnlib.dense_backward``). The sliders' ranges grow to hold the
    given logits and p, and U's cells have no bounds: every value is kept exactly.
    ``.state`` holds s, yhat, L, delta (and p, U, dp, dU in layer mode).
    """

    _fn = "dense_softmax_explorer"

    def __init__(self, p=None, U=None, c=None, y=0, *, logits=None, mode="logits"):
        fn = self._fn
        require_widgets(fn)
        p = np.array([1.0, 0.5, -1.0]) if p is None else np.asarray(p, dtype=np.float64).reshape(-1)
        U = (
            np.array([[1.0, -1.0, 0.5], [0.5, 1.0, -1.0], [-1.0, 0.5, 1.0]])
            if U is None
            else sized_2d(fn, "U", U, max_side=4)
        )
        M, Q = U.shape
        c = np.zeros(M) if c is None else np.asarray(c, dtype=np.float64).reshape(-1)
        s0 = (
            np.array([2.0, 1.0, 0.1][:M] + [0.0] * max(0, M - 3))
            if logits is None
            else np.asarray(logits, dtype=np.float64).reshape(-1)
        )
        if p.shape != (Q,) or c.shape != (M,) or s0.shape != (M,):
            raise ValueError(
                f"{fn}: need p ({Q},), U ({M}, {Q}), c ({M},) and logits ({M},); got p {p.shape}, "
                f"U {U.shape}, c {c.shape}, logits {s0.shape}"
            )
        if M < 2:
            raise ValueError(f"{fn}: softmax needs at least 2 classes, U has {M} row(s)")
        if y not in range(M):
            raise ValueError(f"{fn}: y must be a class index in 0..{M - 1}, got {y!r}")
        if mode not in ("logits", "layer"):
            raise ValueError(f"{fn}: mode must be 'logits' or 'layer', got {mode!r}")
        self.M, self.c = M, c.copy()
        on = self._on_change
        self._mode = ToggleButtons(
            options=["logits", "layer"],
            value=mode,
            description="move",
            style={"description_width": "60px", "button_width": "70px"},
        )
        s_limit, p_limit = reach(6.0, *s0), reach(3.0, *p)  # every slider of a kind shares one range
        self._s = [float_slider(f"s[{i}]", s0[i], s_limit, 0.1, width="250px") for i in range(M)]
        self._p = [float_slider(f"p[{k}]", p[k], p_limit, 0.1, width="250px") for k in range(Q)]
        self._ugrid = GridEditor(U, on, self._refuse, prefix="U")
        self._y = ToggleButtons(
            options=list(range(M)),
            value=int(y),
            description="label y",
            style={"description_width": "60px", "button_width": "40px"},
        )
        for w in (self._mode, self._y, *self._s, *self._p):
            w.observe(on, names="value")
        self._logit_box = widgets.VBox([label("logits s"), *self._s])
        self._layer_box = widgets.HBox(
            [
                widgets.VBox([label("input p"), *self._p], layout=widgets.Layout(margin="0 14px 0 0")),
                widgets.VBox([label("weights U (M×Q)"), self._ugrid.box]),
            ]
        )
        box = widgets.VBox([widgets.HBox([self._mode, self._y]), widgets.HBox([self._logit_box, self._layer_box])])

        cs, top = 34, 52
        self._pp = Panel("p", Q, 1, cs=cs).place(30, top)
        self._pu = Panel("U", M, Q, cs=cs).place(self._pp.x + cs + 70, top)
        bx = self._pu.x + Q * cs + 56
        self._bs = _Bars("s = pUᵀ + c", M, -s_limit, s_limit).place(bx, top)
        self._by = _Bars("ŷ = softmax(s)", M, 0, 1).place(self._bs.x + self._bs.width + 50, top)
        self._bd = _Bars("δ = ŷ − y", M, -1, 1).place(self._by.x + self._by.width + 50, top)
        row2 = top + max(150 + 30, M * cs, Q * cs) + 62
        self._pdp = Panel("dp = δU", Q, 1, cs=cs).place(self._pp.x, row2)
        self._pdu = Panel("dU = δᵀp", M, Q, cs=cs).place(self._pu.x, row2)
        self._loss_xy = (self._bs.x, row2)
        width = self._bd.x + self._bd.width + 16
        height = row2 + max(M, Q) * cs + 16
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

    def _control_map(self):
        out = {"mode": self._mode, "y": self._y}
        out.update({f"s[{i}]": w for i, w in enumerate(self._s)})
        out.update({f"p[{k}]": w for k, w in enumerate(self._p)})
        out.update(self._ugrid.cells)
        return out

    def _compute(self, frame):
        M = self.M
        mode, y = self._mode.value, int(self._y.value)
        self._logit_box.layout.display = "" if mode == "logits" else "none"
        self._layer_box.layout.display = "" if mode == "layer" else "none"
        p = np.array([w.value for w in self._p])
        U = self._ugrid.array
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
        signed = cmap_for(True)  # scores and δ are signed: red above 0, blue below, as in every figure
        self._bs.draw(frame, s, [signed(0.5 + 0.45 * float(np.sign(v)))[:3] for v in s])
        self._by.draw(frame, yhat, [SEQUENTIAL_CMAP(0.55)[:3]] * M, outline=y)
        self._bd.draw(frame, delta, [signed(0.5 + 0.45 * float(np.sign(d)))[:3] for d in delta])
        for b, sub in ((self._bs, ""), (self._by, f"(outlined: class y = {y})"), (self._bd, "")):
            if sub:
                frame.text(sub, b.x + b.width / 2, b.y + b.h + 36, 6.5, GREY)
        lx, ly = self._loss_xy
        frame.text(
            f"L = −log ŷ[{y}] = −log {readout_number(yhat[y])} = {readout_number(L)}",
            lx,
            ly + 4,
            9,
            INK,
            bold=True,
            ha="left",
        )
        yhat_text = ", ".join(readout_number(v) for v in yhat)
        frame.text(
            f"δ = ŷ − y = [{yhat_text}] − [{', '.join(str(int(v)) for v in onehot)}]",
            lx,
            ly + 26,
            7.5,
            INK,
            ha="left",
        )
        total = float(delta.sum())
        frame.text(
            f"the δ entries sum to {readout_number(0.0 if abs(total) < 1e-12 else total)}: "
            "raising one logit's probability lowers the others'",
            lx,
            ly + 44,
            7.5,
            GREY,
            ha="left",
        )
        if mode == "layer":
            dp, dU, dc = dense_backward(ds, cache)
            self.state.update(dp=dp[0], dU=dU, dc=dc)
            frame.heat(self._pp, "p", p[:, None], signed=True)
            frame.heat(self._pu, "U", U, signed=True)
            frame.heat(self._pdp, "dp", dp[0][:, None], signed=True)
            frame.heat(self._pdu, "dU", dU, signed=True)
            self._readout = (
                f"s = pUᵀ + c = [{', '.join(readout_number(v) for v in s)}]; dU = δᵀp, dc = δ, "
                f"dp = δU = [{', '.join(readout_number(v) for v in dp[0])}]"
            )
        else:
            for q in (self._pp, self._pu, self._pdp, self._pdu):
                q.note(frame, "switch to\n'layer'" if q.width > 40 else "", GREY)
            self._readout = (
                f"softmax: ŷ[i] = e^s[i] / Σ e^s[j] = [{', '.join(readout_number(v) for v in yhat)}]; "
                f"L = {readout_number(L)}; δ = ŷ − y = [{', '.join(readout_number(v) for v in delta)}]"
            )


dense_softmax_explorer = DenseSoftmaxExplorer
