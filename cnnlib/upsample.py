"""2-D upsampling by an integer factor, nearest and bilinear, forward and backward (notebook 12, eqs. 12.6-12.9).

Upsampling has no weights: each output cell is a fixed weighted sum of input cells, and the
backward pass sends each output's gradient back to those input cells with the same weights
(the transpose of the same fixed matrix). With scale factor s (``scale``, per axis):

* **nearest** (eq. 12.6): ``U[n, c, x, y] = A[n, c, x // s, y // s]`` — every input cell is
  copied into an s x s block, and its gradient is the sum of the block's gradients (eq. 12.7);
* **bilinear** (eq. 12.8), as PyTorch's ``interpolate(..., mode="bilinear", align_corners=False)``:
  output row x sits at input coordinate ``t = (x + 0.5) / s - 0.5`` (clamped at 0), between
  rows ``x0 = floor(t)`` and ``x1 = min(x0 + 1, H - 1)`` with weights ``1 - λ`` and ``λ = t - x0``;
  the same along columns, and the output is the weighted sum of the four cells. The backward
  pass (eq. 12.9) adds each output's gradient times each weight to the cell it came from.

Both are separable: ``U = E_H A E_W^T`` for one (H·s, H) and one (W·s, W) interpolation matrix
(``interpolation_matrix``), and ``dA = E_H^T dU E_W`` — the fast versions compute exactly that.
Layout NCHW; output shape (N, C, H·s_h, W·s_w).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_upstream, positive_pair

__all__ = [
    "upsample2d_forward",
    "upsample2d_backward",
    "upsample2d_forward_naive",
    "upsample2d_backward_naive",
    "interpolation_matrix",
]

MODES = ("nearest", "bilinear")


@dataclass(frozen=True)
class UpsampleCache:
    """What the backward pass needs: shapes, dtype, scale and mode (no reference to the caller's arrays)."""

    in_shape: tuple[int, int, int, int]  # (N, C, H, W)
    dtype: np.dtype
    scale: tuple[int, int]
    mode: str
    out_shape: tuple[int, int, int, int]  # (N, C, H*s_h, W*s_w)


def _check_mode(fn: str, mode) -> str:
    if not isinstance(mode, str):
        raise TypeError(f"{fn}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if mode not in MODES:
        raise ValueError(f"{fn}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    return mode


def _prepare(fn, A, scale, mode):
    A = as_array(fn, "A", A, finite=True)
    check_ndim(fn, "A", A, 4, "(N, C, H, W)")
    s = positive_pair(fn, "scale", scale)
    mode = _check_mode(fn, mode)
    if min(A.shape) == 0:
        raise ValueError(f"{fn}: A must have no empty axis, got A.shape={A.shape}")
    N, C, H, W = A.shape
    return A, s, mode, (N, C, H * s[0], W * s[1])


def _taps(x: int, s: int, length: int) -> tuple[int, int, float]:
    """Bilinear taps of output row x (eq. 12.8): rows x0, x1 and the weight λ of x1."""
    t = max((x + 0.5) / s - 0.5, 0.0)  # the output cell's centre in input coordinates, clamped at 0
    x0 = math.floor(t)  # at most length - 1, since t < length - 1/2
    x1 = min(x0 + 1, length - 1)
    return x0, x1, t - x0


def interpolation_matrix(length: int, scale: int, mode: str = "bilinear") -> np.ndarray:
    """The (length·scale, length) matrix E with ``upsampled = E @ column`` along one axis (eqs. 12.6, 12.8).

    Row x holds the weights with which output x reads the input: one 1 at ``x // scale`` for
    ``"nearest"``; ``1 - λ`` and ``λ`` at rows x0 and x1 for ``"bilinear"`` (each row sums to 1).
    """
    fn = "interpolation_matrix"
    for name, value in (("length", length), ("scale", scale)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{fn}: {name} must be a positive int, got {value!r}")
        if value < 1:
            raise ValueError(f"{fn}: {name} must be a positive int, got {value!r}")
    length, scale = int(length), int(scale)
    mode = _check_mode(fn, mode)
    E = np.zeros((length * scale, length))  # (length*s, length)
    for x in range(length * scale):
        if mode == "nearest":
            E[x, x // scale] = 1.0
        else:
            x0, x1, lam = _taps(x, scale, length)
            E[x, x0] += 1.0 - lam
            E[x, x1] += lam
    return E


# --------------------------------------------------------------------------- loop version


def upsample2d_forward_naive(A, *, scale=2, mode="nearest"):
    """Upsampling forward pass with explicit loops (notebook 12, eqs. 12.6 and 12.8).

    nearest: ``U[n, c, x, y] = A[n, c, x // s, y // s]``;
    bilinear: ``U[n, c, x, y] = sum over the rows a in {x0, x1} and columns e in {y0, y1} of
    ω_a ω_e A[n, c, a, e]``, with the taps and weights of ``interpolation_matrix``.

    Shapes: A (N, C, H, W) -> U (N, C, H·s_h, W·s_w). scale: int or (h, w). Returns ``(U, cache)``.
    """
    fn = "upsample2d_forward_naive"
    A, s, mode, out_shape = _prepare(fn, A, scale, mode)
    N, C, H, W = A.shape
    U = np.zeros(out_shape, dtype=A.dtype)  # (N, C, H*s_h, W*s_w)
    for n in range(N):
        for c in range(C):
            for x in range(out_shape[2]):
                for y in range(out_shape[3]):
                    if mode == "nearest":
                        U[n, c, x, y] = A[n, c, x // s[0], y // s[1]]
                    else:
                        x0, x1, lx = _taps(x, s[0], H)
                        y0, y1, ly = _taps(y, s[1], W)
                        U[n, c, x, y] = (
                            (1 - lx) * (1 - ly) * A[n, c, x0, y0]
                            + (1 - lx) * ly * A[n, c, x0, y1]
                            + lx * (1 - ly) * A[n, c, x1, y0]
                            + lx * ly * A[n, c, x1, y1]
                        )
    return U, UpsampleCache(A.shape, A.dtype, s, mode, out_shape)


def upsample2d_backward_naive(dU, cache):
    """Upsampling backward pass with explicit loops (notebook 12, eqs. 12.7 and 12.9).

    Each output's gradient goes back to the input cells that made it, times the weight it
    was read with: ``dA[n, c, x // s, y // s] += dU[n, c, x, y]`` (nearest), and for bilinear
    ``dA[n, c, a, e] += ω_a ω_e dU[n, c, x, y]`` for the four taps. ``+=``: taps coincide at the
    border, where x0 = x1.

    Shapes: dU (N, C, H·s_h, W·s_w) -> dA (N, C, H, W).
    """
    fn = "upsample2d_backward_naive"
    check_cache(fn, cache, UpsampleCache, "upsample2d_forward_naive or upsample2d_forward")
    dU = check_upstream(fn, "dU", dU, cache.out_shape)
    s, mode = cache.scale, cache.mode
    N, C, H, W = cache.in_shape
    dA = np.zeros(cache.in_shape, dtype=np.result_type(dU.dtype, cache.dtype))  # (N, C, H, W)
    for n in range(N):
        for c in range(C):
            for x in range(cache.out_shape[2]):
                for y in range(cache.out_shape[3]):
                    g = dU[n, c, x, y]
                    if mode == "nearest":
                        dA[n, c, x // s[0], y // s[1]] += g
                    else:
                        x0, x1, lx = _taps(x, s[0], H)
                        y0, y1, ly = _taps(y, s[1], W)
                        dA[n, c, x0, y0] += (1 - lx) * (1 - ly) * g
                        dA[n, c, x0, y1] += (1 - lx) * ly * g
                        dA[n, c, x1, y0] += lx * (1 - ly) * g
                        dA[n, c, x1, y1] += lx * ly * g
    return dA


# --------------------------------------------------------------------------- fast version


def upsample2d_forward(A, *, scale=2, mode="nearest"):
    """Upsampling forward pass, fast (notebook 12, eqs. 12.6 and 12.8).

    nearest: ``np.repeat`` along both axes; bilinear: ``U = E_H A E_W^T`` with the two
    interpolation matrices (``interpolation_matrix``), the same numbers as the loops.

    Shapes: A (N, C, H, W) -> U (N, C, H·s_h, W·s_w). scale: int or (h, w); mode
    ``"nearest"`` or ``"bilinear"`` (PyTorch's ``align_corners=False``). Returns ``(U, cache)``.
    """
    fn = "upsample2d_forward"
    A, s, mode, out_shape = _prepare(fn, A, scale, mode)
    N, C, H, W = A.shape
    if mode == "nearest":
        U = np.repeat(np.repeat(A, s[0], axis=2), s[1], axis=3)  # (N, C, H*s_h, W*s_w)
    else:
        EH = interpolation_matrix(H, s[0]).astype(A.dtype)  # (H*s_h, H)
        EW = interpolation_matrix(W, s[1]).astype(A.dtype)  # (W*s_w, W)
        U = np.matmul(np.matmul(EH, A), EW.T)  # (N, C, H*s_h, W*s_w)
    return U, UpsampleCache(A.shape, A.dtype, s, mode, out_shape)


def upsample2d_backward(dU, cache):
    """Upsampling backward pass, fast (notebook 12, eqs. 12.7 and 12.9): the transposes of the forward's matrices.

    nearest: the sum of each s_h x s_w block of dU; bilinear: ``dA = E_H^T dU E_W``.
    Shapes: dU (N, C, H·s_h, W·s_w) -> dA (N, C, H, W).
    """
    fn = "upsample2d_backward"
    check_cache(fn, cache, UpsampleCache, "upsample2d_forward")
    dU = check_upstream(fn, "dU", dU, cache.out_shape)
    s = cache.scale
    N, C, H, W = cache.in_shape
    dtype = np.result_type(dU.dtype, cache.dtype)
    dU = dU.astype(dtype, copy=False)
    if cache.mode == "nearest":
        return dU.reshape(N, C, H, s[0], W, s[1]).sum(axis=(3, 5))  # (N, C, H, W), eq. (12.7)
    EH = interpolation_matrix(H, s[0]).astype(dtype)  # (H*s_h, H)
    EW = interpolation_matrix(W, s[1]).astype(dtype)  # (W*s_w, W)
    return np.matmul(np.matmul(EH.T, dU), EW)  # (N, C, H, W), eq. (12.9)
