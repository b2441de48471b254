"""What the two single-channel convolution explorers (forward and backward) share."""

from __future__ import annotations

import numpy as np

from ._controls import GridEditor, int_slider, pattern, require_widgets
from ._explorer import Explorer, check_int, padded, sized_2d
from ._raster import Panel


def span_message(KH, KW, D, H, W, P):
    """Why a (dilated) kernel does not fit the padded input, or ``None`` when it fits."""
    sh, sw = D * (KH - 1) + 1, D * (KW - 1) + 1
    if sh <= H + 2 * P and sw <= W + 2 * P:
        return None
    kern = f"kernel {KH}×{KW}" + (f" with dilation {D} spans {sh}×{sw}" if D > 1 else "")
    return f"{kern}: larger than the padded input {H + 2 * P}×{W + 2 * P} — increase padding" + (
        " or reduce dilation" if D > 1 else ""
    )


class ConvExplorerBase(Explorer):
    """The X and W arguments and their grids, stride / padding / dilation and their sliders, the padded X."""

    max_pad, max_stride, max_dil = 2, 3, 3
    _X_default: tuple  # a pattern name and its shape
    _W_default: list

    def _conv_args(self, X, W, stride, padding, dilation):
        """Check X (up to 8×8; default from the class), W (up to 5×5), stride, padding, dilation; keep the shapes."""
        fn = self._fn
        require_widgets(fn)
        X = pattern(*self._X_default) if X is None else sized_2d(fn, "X", X, max_side=8)
        W = np.array(self._W_default) if W is None else sized_2d(fn, "W", W, max_side=5)
        self.H, self.Wd = X.shape
        self.KH, self.KW = W.shape
        stride = check_int(fn, "stride", stride, 1, self.max_stride)
        padding = check_int(fn, "padding", padding, 0, self.max_pad)
        dilation = check_int(fn, "dilation", dilation, 1, self.max_dil)
        return X, W, stride, padding, dilation

    def _conv_grids(self, X, W, width):
        """The edit boxes of X and W."""
        self._xgrid = GridEditor(X, self._on_change, self._refuse, prefix="X", width=width)
        self._wgrid = GridEditor(W, self._on_change, self._refuse, prefix="W", width=width)

    def _hyper_sliders(self, stride, padding, dilation, *, shown=("stride", "padding", "dilation")):
        """The sliders of the hyper-parameters named in ``shown``; the others stay at the given value (no slider)."""
        self._fixed = {"stride": stride, "padding": padding, "dilation": dilation}
        self._stride = int_slider("stride S", stride, 1, self.max_stride) if "stride" in shown else None
        self._padding = int_slider("padding", padding, 0, self.max_pad) if "padding" in shown else None
        self._dilation = int_slider("dilation D", dilation, 1, self.max_dil) if "dilation" in shown else None
        return tuple(w for w in (self._stride, self._padding, self._dilation) if w is not None)

    def _hyper_controls(self):
        named = {"stride": self._stride, "padding": self._padding, "dilation": self._dilation}
        return {name: w for name, w in named.items() if w is not None}

    def _place_x_w(self, cs, gap, top=52):
        """The X panel (room for the largest padding) and the W panel to its right."""
        capx = (self.H + 2 * self.max_pad, self.Wd + 2 * self.max_pad)
        self._px = Panel("X", *capx, cs=cs).place(34, top)
        self._pw = Panel("W", self.KH, self.KW, cs=cs).place(self._px.x + self._px.width + gap, top)
        return capx

    def _read_conv(self):
        S, P, D = (
            self._fixed[name] if w is None else w.value
            for name, w in (("stride", self._stride), ("padding", self._padding), ("dilation", self._dilation))
        )
        return self._xgrid.array, self._wgrid.array, S, P, D

    def _padded_x(self, frame, X, P):
        """X̃ = X zero-padded by ``P`` (the padding), its padding mask and labels (0-based, blank on the padding);
        subtitles X."""
        H, Wd = X.shape
        self._px.subtitle(frame, f"{H}×{Wd}" + (f", padded to {H + 2 * P}×{Wd + 2 * P}" if P else ""))
        return padded(X, P)
