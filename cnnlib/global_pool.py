"""Global average pooling, forward and backward (notebook 12, eqs. 12.10-12.11).

Average pooling (notebook 04, eq. 4.3) with the whole H x W map as the window: one number
per image and channel, the mean of that channel's map. It replaces flatten + dense's
dependence on the map size: ``p`` has C entries whatever H and W are::

    p[n, c] = 1/(H·W) · sum_{x, y} A[n, c, x, y]                        (eq. 12.10)
    dA[n, c, x, y] = dp[n, c] / (H·W)          for every (x, y)         (eq. 12.11)

Layout NCHW: A (N, C, H, W) -> p (N, C), the flattened vector of chapter 06 with Q = C.
The backward pass needs only the shape of A, so the cache keeps no array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_upstream

__all__ = [
    "global_avgpool2d_forward",
    "global_avgpool2d_backward",
    "global_avgpool2d_forward_naive",
    "global_avgpool2d_backward_naive",
]


@dataclass(frozen=True)
class GlobalAvgPoolCache:
    """What the backward pass needs: the shape and dtype of A (no reference to the caller's arrays)."""

    in_shape: tuple[int, int, int, int]  # (N, C, H, W)
    dtype: np.dtype
    out_shape: tuple[int, int]  # (N, C)


def _prepare(fn, A):
    A = as_array(fn, "A", A, finite=True)
    check_ndim(fn, "A", A, 4, "(N, C, H, W)")
    if min(A.shape) == 0:
        raise ValueError(f"{fn}: A must have no empty axis, got A.shape={A.shape}")
    return A, GlobalAvgPoolCache(A.shape, A.dtype, A.shape[:2])


def global_avgpool2d_forward_naive(A):
    """Global average pooling with explicit loops (notebook 12, eq. 12.10): ``p[n, c] = mean of A[n, c]``.

    Shapes: A (N, C, H, W) -> p (N, C). Returns ``(p, cache)``.
    """
    A, cache = _prepare("global_avgpool2d_forward_naive", A)
    N, C, H, W = A.shape
    p = np.zeros((N, C), dtype=A.dtype)  # (N, C)
    for n in range(N):
        for c in range(C):
            total = 0.0
            for x in range(H):
                for y in range(W):
                    total += A[n, c, x, y]
            p[n, c] = total / (H * W)
    return p, cache


def global_avgpool2d_backward_naive(dp, cache):
    """Global average pooling backward with explicit loops (eq. 12.11): every cell gets ``dp[n, c] / (H·W)``.

    Shapes: dp (N, C) -> dA (N, C, H, W).
    """
    fn = "global_avgpool2d_backward_naive"
    check_cache(fn, cache, GlobalAvgPoolCache, "global_avgpool2d_forward_naive or global_avgpool2d_forward")
    dp = check_upstream(fn, "dp", dp, cache.out_shape)
    N, C, H, W = cache.in_shape
    dA = np.zeros(cache.in_shape, dtype=np.result_type(dp.dtype, cache.dtype))  # (N, C, H, W)
    for n in range(N):
        for c in range(C):
            for x in range(H):
                for y in range(W):
                    dA[n, c, x, y] = dp[n, c] / (H * W)
    return dA


def global_avgpool2d_forward(A):
    """Global average pooling, fast (notebook 12, eq. 12.10): ``p = A.mean(axis=(2, 3))``.

    The same numbers as ``avgpool2d_forward(A, size=(H, W))`` reshaped to (N, C).
    Shapes: A (N, C, H, W) -> p (N, C). Returns ``(p, cache)``.
    """
    A, cache = _prepare("global_avgpool2d_forward", A)
    return A.mean(axis=(2, 3)), cache  # (N, C)


def global_avgpool2d_backward(dp, cache):
    """Global average pooling backward, fast (notebook 12, eq. 12.11): ``dp / (H·W)`` broadcast over the map.

    Shapes: dp (N, C) -> dA (N, C, H, W).
    """
    fn = "global_avgpool2d_backward"
    check_cache(fn, cache, GlobalAvgPoolCache, "global_avgpool2d_forward")
    dp = check_upstream(fn, "dp", dp, cache.out_shape)
    N, C, H, W = cache.in_shape
    share = dp.astype(np.result_type(dp.dtype, cache.dtype), copy=False) / (H * W)  # (N, C)
    return np.broadcast_to(share[:, :, None, None], cache.in_shape).copy()  # (N, C, H, W)
