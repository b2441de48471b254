"""Grouped convolution (``groups=`` of ``conv2d_forward`` / ``conv2d_backward``; notebook 12, eqs. 12.12-12.13).

The C input channels and the F filters are split into ``groups`` equal, consecutive parts;
filter f of group g sees only the C/groups input channels of group g::

    Z[n, f, u, v] = sum_{c' < C/groups, i, j} W[f, c', i, j] * Xpad[n, g·C/groups + c', u*S + i*D, v*S + j*D] + b[f]
                    with g = f // (F/groups)                                              (eq. 12.12)

so W is shaped (F, C/groups, KH, KW), as in PyTorch. groups = 1 is the ordinary convolution;
groups = C with F = C (or a multiple of C) is the *depthwise* convolution, one kernel per
channel. A grouped convolution is ``groups`` independent convolutions side by side, and that
is how it is computed here: split X, W and b, run chapter 10's convolution (or chapter 08's
loops) on each part, and concatenate the outputs — and, backward, the input gradients along
the channel axis and the weight and bias gradients along the filter axis (eq. 12.13). Each
part's cache checks its own slice of X for in-place edits, as ``ConvCache`` does.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_ndim, check_upstream

__all__ = ["GroupedConvCache", "check_groups", "grouped_forward", "grouped_backward"]


@dataclass(frozen=True)
class GroupedConvCache:
    """One ``ConvCache`` per group, the number of groups and the shape of the whole output Z."""

    groups: int
    caches: tuple  # one ConvCache per group
    out_shape: tuple[int, int, int, int]  # (N, F, H_out, W_out)


def check_groups(fn: str, groups) -> int:
    """``groups`` as a positive int, or a ``TypeError`` / ``ValueError`` naming ``fn``."""
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"{fn}: groups must be a positive int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    return int(groups)


def grouped_forward(forward, fn, X, W, b, stride, padding, dilation, groups):
    """``forward`` (a conv2d forward pass with groups=1) on each group; returns ``(Z, GroupedConvCache)``."""
    G = check_groups(fn, groups)
    X_arr = as_array(fn, "X", X)
    W = as_array(fn, "W", W)
    b = as_array(fn, "b", b)
    check_ndim(fn, "X", X_arr, 4, "(N, C, H, W)")
    check_ndim(fn, "W", W, 4, "(F, C/groups, KH, KW)")
    check_ndim(fn, "b", b, 1, "(F,)")
    C, F = X_arr.shape[1], W.shape[0]
    if C % G or F % G:
        raise ValueError(
            f"{fn}: groups={G} must divide both the input channels C={C} and the filters F={F} "
            f"(X.shape={X_arr.shape}, W.shape={W.shape})"
        )
    Cg, Fg = C // G, F // G
    if W.shape[1] != Cg:
        raise ValueError(
            f"{fn}: with groups={G} each filter sees C/groups = {Cg} channels, so W must be "
            f"(F, {Cg}, KH, KW), got W.shape={W.shape} (X.shape={X_arr.shape})"
        )
    if b.shape[0] != F:
        raise ValueError(f"{fn}: b must have one entry per filter, shape ({F},), got {b.shape} (W.shape={W.shape})")
    if G == 1:
        Z, cache = forward(X, W, b, stride=stride, padding=padding, dilation=dilation)
        return Z, GroupedConvCache(1, (cache,), Z.shape)
    parts = [
        forward(
            X_arr[:, g * Cg : (g + 1) * Cg],  # (N, C/groups, H, W): group g's channels
            W[g * Fg : (g + 1) * Fg],  # (F/groups, C/groups, KH, KW): group g's filters
            b[g * Fg : (g + 1) * Fg],
            stride=stride,
            padding=padding,
            dilation=dilation,
        )
        for g in range(G)
    ]
    Z = np.concatenate([Zg for Zg, _ in parts], axis=1)  # (N, F, H_out, W_out), eq. (12.12)
    return Z, GroupedConvCache(G, tuple(cache for _, cache in parts), Z.shape)


def grouped_backward(backward, fn, dZ, cache):
    """``backward`` (a conv2d backward pass) on each group's cache; returns ``(dX, dW, db)`` (eq. 12.13)."""
    dZ = check_upstream(fn, "dZ", dZ, cache.out_shape)
    Fg = cache.out_shape[1] // cache.groups
    grads = [backward(dZ[:, g * Fg : (g + 1) * Fg], part) for g, part in enumerate(cache.caches)]
    dX = np.concatenate([dXg for dXg, _, _ in grads], axis=1)  # (N, C, H, W)
    dW = np.concatenate([dWg for _, dWg, _ in grads], axis=0)  # (F, C/groups, KH, KW)
    db = np.concatenate([dbg for _, _, dbg in grads], axis=0)  # (F,)
    return dX, dW, db
