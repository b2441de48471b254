"""The trained digit classifier, one test digit at a time (notebook 09)."""

from __future__ import annotations

import copy

import numpy as np

from .._format import readout_number
from ..layers import Conv2D, ReLU, Sequential
from ..losses import softmax, softmax_cross_entropy
from ..viz._style import INK, ROUTE_COLORS, SEQUENTIAL_CMAP
from ._controls import Dropdown, IntSlider, require_widgets, widgets
from ._explorer import Explorer
from ._raster import GREY, Font, Panel

__all__ = ["digits_explorer"]

_PRED, _TRUE = ROUTE_COLORS[0], ROUTE_COLORS[1]  # the predicted digit's bar, the true digit's outline
_BAR = SEQUENTIAL_CMAP(0.45)[:3]


class DigitsExplorer(Explorer):
    """One test digit at a time through a trained network (notebook 09): ŷ, feature maps, saliency.

    ``model``: a ``cnnlib.Sequential`` that starts with ``Conv2D`` and ``ReLU`` (the feature
    maps A = ReLU(Z), one per filter) and ends with the class scores s (N, M); ``X`` the
    images (N, 1, H, W), ``y`` their labels (N,); ``index`` the digit shown first. The
    explorer works on a deep copy of ``model``: its passes never change the reader's model.

    Controls: ``"digit"`` (a slider over the test set), ``"misclassified"`` (jump to a digit
    the network gets wrong; -1: none), ``"loss of"`` (the class k whose loss
    L = −log ŷ[k] is differentiated: "true", "pred" or a digit). The picture shows the
    digit, the saliency dL/dX (eq. 9.4, from the network's own backward pass), the bars
    of ŷ (predicted: filled orange, true: blue outline) and the feature maps.
    ``.state`` holds X (also as x), A, yhat, dX, k, L, n, true, pred.
    """

    _fn = "digits_explorer"
    window_width = 960  # pixels: a notebook's output area in a 1400-pixel window with JupyterLab's side panel open

    def __init__(self, model, X, y, index=0):
        fn = self._fn
        require_widgets(fn)
        layers = list(model) if isinstance(model, Sequential) else []
        if len(layers) < 3 or not isinstance(layers[0], Conv2D) or not isinstance(layers[1], ReLU):
            raise TypeError(
                f"{fn}: model must be a cnnlib.Sequential starting with Conv2D and ReLU and ending with the "
                f"class scores, got {type(model).__name__}"
            )
        X = np.array(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 4 or X.shape[1] != 1 or X.shape[0] < 1:
            raise ValueError(f"{fn}: X must be (N, 1, H, W) images, got shape {X.shape}")
        if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{fn}: y must hold {X.shape[0]} integer labels (one per image), got {y.dtype} {y.shape}")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(y):
            raise ValueError(f"{fn}: index must be an int in [0, {len(y) - 1}], got {index!r}")
        self.net = copy.deepcopy(model)  # the explorer's passes leave the reader's model alone
        self.X, self.y = X, y.astype(int)
        scores = self.net.forward(X)
        if scores.ndim != 2 or scores.shape[0] != len(y) or not 0 <= self.y.min() <= self.y.max() < scores.shape[1]:
            raise ValueError(f"{fn}: the model must map X to scores (N, M) with every label in 0..M-1")
        self.M = scores.shape[1]
        self.pred = scores.argmax(axis=1)
        wrong = np.flatnonzero(self.pred != self.y)
        self.wrong = {int(n) for n in wrong}

        self._slider = IntSlider(
            value=int(index),
            min=0,
            max=len(y) - 1,
            description="test digit",
            continuous_update=True,
            style={"description_width": "80px"},
            layout=widgets.Layout(width="400px"),
        )
        self._jump = Dropdown(
            options=[("—", -1)] + [(f"#{n}: a {self.y[n]} read as {self.pred[n]}", int(n)) for n in wrong],
            value=int(index) if int(index) in self.wrong else -1,
            description="misclassified",
            style={"description_width": "90px"},
            layout=widgets.Layout(width="320px"),
        )
        self._target = Dropdown(
            options=[("the true digit", "true"), ("the predicted digit", "pred")]
            + [(str(k), k) for k in range(self.M)],
            value="true",
            description="dL/dX for the loss of",
            style={"description_width": "140px"},
            layout=widgets.Layout(width="300px"),
        )
        self._slider.observe(self._on_slider, names="value")
        self._jump.observe(self._on_jump, names="value")
        self._target.observe(self._on_change, names="value")
        box = widgets.HBox([self._slider, self._jump, self._target])

        H, Wd = X.shape[2:]
        self.F = self.net[0].parameters()["W"].shape[0]
        cs, top = max(8, min(24, 192 // max(H, Wd))), 52  # the digit and its saliency: at most 192 pixels a side
        self._px = Panel("X", H, Wd, cs=cs).place(30, top)
        self._pg = Panel("dL/dX", H, Wd, cs=cs).place(self._px.x + Wd * cs + 60, top)
        self._bars = Panel("ŷ = softmax(s)", H, self.M, cs=30).place(self._pg.x + Wd * cs + 70, top)
        mcs, mgap = 12, 16
        per_row = max(1, min(8, (self.window_width - 50) // (Wd * mcs + mgap)))  # maps per row that fit the window
        # the feature maps' heading under the taller of the digit and the bars (with their class labels)
        row2 = top + max(H * cs, self._bars.height) + 70
        self._pa = [
            Panel(f"A[{f}]", H, Wd, cs=mcs).place(
                30 + (f % per_row) * (Wd * mcs + mgap), row2 + (f // per_row) * (H * mcs + 38)
            )
            for f in range(self.F)
        ]
        for p in (self._px, self._pg, *self._pa):
            p.row_index = False
        # room for the bars' title and its longest subtitle
        longest = Font.get(9, True).width(self._bars.title) + 6 + Font.get(7.5).width(self._verdict(8, 8) + " (wrong)")
        width = max(self._bars.x + max(self._bars.width, longest), self._pa[min(per_row, self.F) - 1].x + Wd * mcs) + 20
        height = self._pa[-1].y + H * mcs + 14
        bars = self._bars

        def decorate(fig, ax):
            f = Font.get(7)
            base = bars.y + bars.height
            ax.plot([bars.x, bars.x + bars.width], [base, base], color="#777777", lw=0.8)
            ax.plot([bars.x, bars.x + bars.width], [bars.y, bars.y], color="#dddddd", lw=0.8)
            ax.text(bars.x - 4, bars.y, "1", fontproperties=f.prop, color=GREY, ha="right", va="center")
            ax.text(bars.x - 4, base, "0", fontproperties=f.prop, color=GREY, ha="right", va="center")
            for k in range(self.M):
                x = bars.x + k * bars.cs + bars.cs / 2
                ax.text(x, base + 10, str(k), fontproperties=f.prop, color=GREY, ha="center", va="center")
            ax.text(
                30,
                row2 - 44,
                "feature maps A = ReLU(Z), one per filter",
                fontproperties=Font.get(9, True).prop,
                color=INK,
                ha="left",
                va="baseline",
            )

        self._setup(
            "A trained network, one test digit at a time",
            "pick a digit (or a misclassified one) and the class whose loss L = −log ŷ[k] is differentiated",
            box,
            width,
            height,
            (self._px, self._pg, self._bars, *self._pa),
            decorate,
        )

    def _control_map(self):
        return {"digit": self._slider, "misclassified": self._jump, "loss of": self._target}

    def _on_slider(self, change):
        n = change["new"]
        if n != self._jump.value:
            self._busy = True  # the dropdown follows the slider without a second update
            try:
                self._jump.value = n if n in self.wrong else -1
            finally:
                self._busy = False
        self.update()

    def _on_jump(self, change):
        if self._busy:
            return
        if change["new"] >= 0 and change["new"] != self._slider.value:
            self._slider.value = change["new"]  # updates the picture

    @staticmethod
    def _verdict(pred, true):
        return f"predicted {pred} (orange), true {true} (blue)"

    def _compute(self, frame):
        n, target = int(self._slider.value), self._target.value
        x = self.X[n : n + 1]  # (1, 1, H, W)
        A = self.net[1].forward(self.net[0].forward(x))  # (1, F, H, W)
        s = A
        for layer in list(self.net)[2:]:
            s = layer.forward(s)  # (1, M) at the end
        true, pred = int(self.y[n]), int(s.argmax())
        k = {"true": true, "pred": pred}.get(target, target)
        L, ds = softmax_cross_entropy(s, np.array([k]))
        dX = self.net.backward(ds)  # (1, 1, H, W), eq. (9.4)
        yhat = softmax(s)[0]
        self.state = {
            "x": x[0, 0].copy(),
            "X": x[0, 0].copy(),  # the input as the picture titles it (the book's X); "x" kept for old code
            "A": A[0].copy(),
            "yhat": yhat,
            "dX": dX[0, 0].copy(),
            "k": int(k),
            "L": float(L),
            "n": n,
            "true": true,
            "pred": pred,
            "error": None,
        }
        blank = [[""] * x.shape[3]] * x.shape[2]
        frame.heat(self._px, "x", x[0, 0], signed=False, labels=blank, index=False)
        self._px.subtitle(frame, f"test digit #{n}: a {true}")
        frame.heat(self._pg, "dX", dX[0, 0], signed=True, labels=blank, index=False)
        self._pg.subtitle(frame, f"for k = {k}: L = −log ŷ[{k}] = {readout_number(L)}")
        g = self._pg
        frame.text("red > 0, blue < 0, white 0", g.x, g.y + g.height + 12, 7.5, GREY, ha="left")
        a_max = float(A.max())
        for f, p in enumerate(self._pa):  # every map on one scale, 0 to the largest activation
            frame.heat(p, f"A[{f}]", A[0, f], signed=False, vmin=0.0, vmax=a_max, labels=blank, index=False)
        b = self._bars
        base = b.y + b.height
        for c in range(self.M):
            h = max(int(round(float(yhat[c]) * b.height)), 1)
            x0 = b.x + c * b.cs + 4
            frame.fill(x0, base - h, b.cs - 8, h, _PRED if c == pred else _BAR)
            if c == true:
                frame.box(x0 - 1, base - h - 1, b.cs - 6, h + 1, _TRUE, 3)
        verdict = "right" if pred == true else "wrong"
        b.subtitle(frame, f"{self._verdict(pred, true)} ({verdict})")
        frame.arrays["yhat"] = yhat.copy()
        self._readout = (
            f"test digit #{n}, a {true}: the network reads a <b>{pred}</b> ({verdict}), ŷ[{pred}] = "
            f"{readout_number(yhat[pred])}; dL/dX for L = −log ŷ[{k}] = {readout_number(L)} (eq. 9.4); "
            f"feature maps on one scale, from 0 to {readout_number(a_max)}"
        )


digits_explorer = DigitsExplorer
