"""Vanishing and exploding gradients in a deep convolution stack (notebook 11)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import to_rgb

from .._format import readout_number
from ..activations import relu_backward, relu_forward, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward
from ..batchnorm import batchnorm2d_backward, batchnorm2d_forward
from ..conv import conv2d_backward, conv2d_forward
from ..init import he_normal
from ..viz._style import INK, ROUTE_COLORS, text_color
from ._controls import Dropdown, ToggleButtons, float_slider, int_slider, require_widgets, widgets
from ._explorer import Explorer, check_int
from ._raster import GREY, Font, Panel

__all__ = ["depth_explorer"]

_ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}
_BAR_A, _BAR_G = ROUTE_COLORS[1], ROUTE_COLORS[0]
_DECADES = 8  # each panel shows 10^-8 ... 10^8 around 1
_SLOT = 18  # pixels per layer
_HALF = 88  # pixels from 10^0 to 10^±8


def rms(a) -> float:
    """Root mean square of an array: the size of a typical entry."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a)))


def depth_stack(X, weights, G, *, activation="relu", gain=1.0, batchnorm=False, residual=False):
    """Forward and backward through a stack of 3×3 convolutions (stride 1, pad 1), notebook 11.

    Layer l computes ``A_l = g(BN(conv(A_{l-1}, gain·W_l)))`` (BN only with ``batchnorm``), or
    ``A_l = A_{l-1} + g(...)`` with ``residual``; ``A_0 = X``. The loss is ``L = sum(A_depth · G)``
    (so the upstream gradient is the random array G). Returns ``(rms_A, rms_dA)``: the RMS of
    every ``A_l`` and of every ``∂L/∂A_l``, l = 0 … depth (arrays of length depth + 1).
    """
    forward, backward = _ACTIVATIONS[activation]
    A = X
    caches = []
    rms_A = [rms(X)]
    C = X.shape[1]
    ones, zeros = np.ones(C), np.zeros(C)
    with np.errstate(over="ignore", invalid="ignore"):
        for W in weights:
            Z, cz = conv2d_forward(A, gain * W, zeros, padding=1)
            cb = None
            if batchnorm:
                Z, cb = batchnorm2d_forward(Z, ones, zeros)
            H, ca = forward(Z)
            caches.append((cz, cb, ca))
            A = A + H if residual else H
            rms_A.append(rms(A))
        dA = G
        rms_dA = [rms(dA)]
        for cz, cb, ca in reversed(caches):
            dZ = backward(dA, ca)
            if cb is not None:
                dZ = batchnorm2d_backward(dZ, cb)[0]
            dprev = conv2d_backward(dZ, cz)[0]
            dA = dA + dprev if residual else dprev
            rms_dA.append(rms(dA))
    return np.array(rms_A), np.array(rms_dA[::-1])


class DepthExplorer(Explorer):
    """Per-layer sizes of activations and gradients in a deep stack of 3×3 convolutions (notebook 11).

    ``depth_explorer(depth=12, gain=1.0, activation="relu", batchnorm=False, residual=False, seed=0)``.
    A batch of N = 4 random 8×8 images with C = 4 channels goes through ``depth`` layers
    ``conv → (batch norm) → activation``, each optionally wrapped in a residual connection; the
    weights are He-initialised (``cnnlib.he_normal``, seeded) and multiplied by ``gain``
    (1: He's σ = sqrt(2 / fan_in)). The loss ``L = sum(A_depth · G)`` has a random upstream
    gradient G. Two bar charts on a log scale show, for every layer l, the RMS of the
    activations A_l and of the gradient ∂L/∂A_l (1 is the middle line; each band is a factor of 10).

    Controls: ``"depth"`` (1 … 30), ``"gain"``, ``"activation"`` (relu, tanh, sigmoid),
    ``"batch norm"`` and ``"residual"`` ("off" / "on"). ``.state`` holds ``rms_A`` and ``rms_dA``.
    """

    _fn = "depth_explorer"
    max_depth = 30

    def __init__(self, depth=12, gain=1.0, activation="relu", batchnorm=False, residual=False, seed=0):
        fn = self._fn
        require_widgets(fn)
        depth = check_int(fn, "depth", depth, 1, self.max_depth)
        if (
            isinstance(gain, bool)
            or not isinstance(gain, (int, float, np.integer, np.floating))
            or not math.isfinite(gain)
        ):
            raise ValueError(f"{fn}: gain must be a finite number, got {gain!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{fn}: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        for name, v in (("batchnorm", batchnorm), ("residual", residual)):
            if not isinstance(v, bool):
                raise TypeError(f"{fn}: {name} must be True or False, got {v!r}")
        seed = check_int(fn, "seed", seed, 0, 2**32 - 1)
        rng = np.random.default_rng(seed)
        N, C, S = 4, 4, 8
        self.X = rng.standard_normal((N, C, S, S))  # (N, C, 8, 8)
        self.G = rng.standard_normal((N, C, S, S))  # upstream gradient of the last activation
        self.weights = [he_normal((C, C, 3, 3), seed=rng) for _ in range(self.max_depth)]  # (F, C, 3, 3) each

        on = self._on_change
        self._depth = int_slider("depth", depth, 1, self.max_depth)
        self._gain = float_slider("gain", gain, 3.0, step=0.05)
        self._act = Dropdown(
            options=list(_ACTIVATIONS),
            value=activation,
            description="activation",
            style={"description_width": "80px"},
            layout=widgets.Layout(width="250px"),
        )
        self._bn = ToggleButtons(
            options=["off", "on"],
            value="on" if batchnorm else "off",
            description="batch norm",
            style={"description_width": "80px", "button_width": "60px"},
        )
        self._res = ToggleButtons(
            options=["off", "on"],
            value="on" if residual else "off",
            description="residual",
            style={"description_width": "80px", "button_width": "60px"},
        )
        for w in (self._depth, self._gain, self._act, self._bn, self._res):
            w.observe(on, names="value")
        box = widgets.HBox([widgets.VBox([self._depth, self._gain, self._act]), widgets.VBox([self._bn, self._res])])

        left, top = 70, 52
        plot_w = (self.max_depth + 1) * _SLOT
        self._pa = Panel("RMS of the activations A_l", 2 * _HALF, 1, cs=1).place(left, top)
        self._pg = Panel("RMS of the gradient ∂L/∂A_l", 2 * _HALF, 1, cs=1).place(left, top + 2 * _HALF + 70)
        width = left + plot_w + 30
        height = self._pg.y + 2 * _HALF + 34
        panels = (self._pa, self._pg)

        def decorate(fig, ax):
            small = Font.get(7.5)
            for p in panels:
                mid = p.y + _HALF
                for k in range(-_DECADES, _DECADES + 1, 2):
                    y = mid - k * _HALF / _DECADES
                    ax.plot([left, left + plot_w], [y, y], color="#777777" if k == 0 else "#e4e4e4", lw=0.8)
                    label = "1" if k == 0 else f"1e{k:+d}"
                    ax.text(left - 6, y, label, fontproperties=small.prop, color=GREY, ha="right", va="center")
                for layer in range(0, self.max_depth + 1, 5):
                    x = left + layer * _SLOT + _SLOT / 2
                    ax.text(x, p.y + 2 * _HALF + 12, str(layer), fontproperties=small.prop, color=GREY, ha="center")
            ax.text(
                left + plot_w,
                self._pg.y + 2 * _HALF + 26,
                "layer l (0: the input X)",
                fontproperties=small.prop,
                color=INK,
                ha="right",
            )

        self._setup(
            "Vanishing and exploding gradients",
            "change the depth, the initial weights' gain, the activation; switch batch norm and residual "
            "connections on and off",
            box,
            width,
            height,
            panels,
            decorate,
        )

    def _control_map(self):
        return {
            "depth": self._depth,
            "gain": self._gain,
            "activation": self._act,
            "batch norm": self._bn,
            "residual": self._res,
        }

    def _bars(self, frame, panel, values, color):
        """One bar per layer from the line 1 to log10(value); a value beyond the scale gets an arrow and its number."""
        mid = panel.y + _HALF
        for layer, v in enumerate(values):
            x = panel.x + layer * _SLOT + 3
            if not np.isfinite(v) or v <= 0:
                text = "0" if v == 0 else ("inf" if v == np.inf else "nan")
                frame.text(text, x + (_SLOT - 6) / 2, mid - 8, 7.5, GREY)
                continue
            k = math.log10(v)
            h = min(abs(k), _DECADES) * _HALF / _DECADES
            y = mid - h if k > 0 else mid
            frame.fill(x, y, _SLOT - 6, max(h, 2), color)
            if abs(k) > _DECADES:
                # inside the bar's end, clear of the layer numbers under the panel
                arrow = "↑" if k > 0 else "↓"
                frame.text(arrow, x + (_SLOT - 6) / 2, y + 7 if k > 0 else y + h - 7, 9, text_color(to_rgb(color)))

    def _compute(self, frame):
        depth, gain = int(self._depth.value), float(self._gain.value)
        act, bn, res = self._act.value, self._bn.value == "on", self._res.value == "on"
        rms_A, rms_dA = depth_stack(
            self.X, self.weights[:depth], self.G, activation=act, gain=gain, batchnorm=bn, residual=res
        )
        self.state = {
            "depth": depth,
            "gain": gain,
            "activation": act,
            "batchnorm": bn,
            "residual": res,
            "rms_A": rms_A,
            "rms_dA": rms_dA,
            "error": None,
        }
        frame.arrays["rms_A"], frame.arrays["rms_dA"] = rms_A.copy(), rms_dA.copy()
        self._bars(frame, self._pa, rms_A, _BAR_A)
        self._bars(frame, self._pg, rms_dA, _BAR_G)
        setup = (
            f"{depth} layers, gain {readout_number(gain)}, {act}"
            + (", batch norm" if bn else "")
            + (", residual" if res else "")
        )
        self._pa.subtitle(frame, setup)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = rms_dA[0] / rms_dA[-1]
        self._pg.subtitle(frame, f"input / output gradient: {readout_number(ratio)}")
        self._readout = (
            f"RMS of A: input {readout_number(rms_A[0])}, last layer {readout_number(rms_A[-1])}; "
            f"RMS of ∂L/∂A: at the last layer {readout_number(rms_dA[-1])} (the upstream G), at the input "
            f"{readout_number(rms_dA[0])} — a factor {readout_number(ratio)} over {depth} layers"
        )


depth_explorer = DepthExplorer
