"""Flatten and the fully connected (dense) layer, forward and backward.

Notation of seed 003: the pooled maps P are flattened into a vector p, and the dense
layer computes the scores ``s_i = sum_k U[i, k] p_k + c_i``. For a batch the vectors are
rows, so p is (N, Q), U is (M, Q), c is (M,) and::

    s = p @ U.T + c                     (N, M)          notebook 01, eq. 1.1

Backward (notebook 01, eq. 1.2; seed 003 §3.2), with ds = dL/ds of shape (N, M)::

    dp = ds @ U          (N, Q)    dL/dp_k  = sum_i ds_i U[i, k]
    dU = ds.T @ p        (M, Q)    dL/dU_ik = sum_n ds[n, i] p[n, k]
    dc = ds.sum(axis=0)  (M,)      dL/dc_i  = sum_n ds[n, i]

The transpose in dU is bookkeeping, not new mathematics: per sample dL/dU_ik = ds_i p_k is
the outer product of the column ds with the row p; stacking samples as rows turns "sum of
outer products over the batch" into ``ds.T @ p`` (seed 002's dL/dW2 = (A2 - Y) Fᵀ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_same_shape, check_upstream

__all__ = [
    "flatten_forward",
    "flatten_backward",
    "dense_forward",
    "dense_backward",
    "dense_forward_naive",
    "dense_backward_naive",
]


@dataclass(frozen=True)
class FlattenCache:
    """The shape of the input P, (N, ...), which the backward pass restores (no reference to any array)."""

    in_shape: tuple[int, ...]


@dataclass(frozen=True)
class DenseCache:
    """The forward inputs p (N, Q), U (M, Q), c (M,), as the cache's own read-only copies.

    The backward pass reads p (for dU) and U (for dp), so the cache keeps copies that the
    caller cannot reach: editing p, U or c in place after the forward pass (an optimiser
    step on U, say) does not change the gradient. The copies cost one ``memcpy`` of p and
    of U (see ``_validate.as_array(private=True)``).
    """

    p: np.ndarray
    U: np.ndarray
    c: np.ndarray


# --------------------------------------------------------------------------- flatten


def flatten_forward(P):
    """Flatten every sample into a row (notebook 06; seed 002's F = Flatten(P1), seed 003's p).

    ``p[n, k] = P[n, c, u, v]`` with ``k = (c*H_out + u)*W_out + v`` — C order: channel
    first, then row, then column. Works for any (N, ...) input.

    Shapes: P (N, d1, d2, ...) -> p (N, d1*d2*...). Returns ``(p, cache)``.
    """
    fn = "flatten_forward"
    P = as_array(fn, "P", P, finite=True)
    if P.ndim < 2:
        raise ValueError(f"{fn}: P must have a batch axis first, (N, ...), at least 2-D, got shape {P.shape}")
    N = P.shape[0]
    p = P.reshape(N, -1).copy()  # (N, Q); a copy, so editing p never edits P
    return p, FlattenCache(tuple(P.shape))


def flatten_backward(dp, cache):
    """Un-flatten the gradient (notebook 06): reshape dp back to the shape of P.

    Flatten only moves numbers around, so each dP entry is the dp entry it was moved to.
    Shapes: dp (N, Q) -> dP (N, ...) (the shape of P in the forward pass).
    """
    fn = "flatten_backward"
    check_cache(fn, cache, FlattenCache, "flatten_forward")
    dp = as_array(fn, "dp", dp)
    N = cache.in_shape[0]
    Q = int(np.prod(cache.in_shape[1:], dtype=np.int64))
    check_same_shape(fn, "dp", dp, (N, Q), f"(N, Q) for P of shape {cache.in_shape}")
    return dp.reshape(cache.in_shape).copy()


# --------------------------------------------------------------------------- dense


def _prepare(fn, p, U, c):
    p = as_array(fn, "p", p, finite=True, private=True)
    U = as_array(fn, "U", U, finite=True, private=True)
    c = as_array(fn, "c", c, finite=True, private=True)
    check_ndim(fn, "p", p, 2, "(N, Q) (use flatten_forward first, or p[None, :] for one sample)")
    check_ndim(fn, "U", U, 2, "(M, Q)")
    check_ndim(fn, "c", c, 1, "(M,)")
    if p.shape[1] != U.shape[1]:
        raise ValueError(
            f"{fn}: p has Q={p.shape[1]} features per sample but U expects Q={U.shape[1]} "
            f"(p.shape={p.shape}, U.shape={U.shape}; U must be (M, Q))"
        )
    if c.shape[0] != U.shape[0]:
        raise ValueError(
            f"{fn}: c must have one entry per output, shape ({U.shape[0]},), got {c.shape} (U.shape={U.shape})"
        )
    dtype = np.result_type(p.dtype, U.dtype, c.dtype)
    return p, U, c, dtype


def dense_forward_naive(p, U, c):
    """Dense forward pass with explicit loops (notebook 01, eq. 1.1; seed 003 §2.4).

    ``s[n, i] = sum_k U[i, k] * p[n, k] + c[i]``

    Shapes: p (N, Q), U (M, Q), c (M,) -> s (N, M). Returns ``(s, cache)``.
    """
    fn = "dense_forward_naive"
    p, U, c, dtype = _prepare(fn, p, U, c)
    N, Q = p.shape
    M = U.shape[0]
    s = np.empty((N, M), dtype=dtype)  # (N, M)
    for n in range(N):
        for i in range(M):
            total = c[i]
            for k in range(Q):
                total += U[i, k] * p[n, k]
            s[n, i] = total
    return s, DenseCache(p, U, c)


def dense_backward_naive(ds, cache):
    """Dense backward pass with explicit loops (notebook 01, eq. 1.2; seed 003 §3.2).

    ``dU[i, k] = sum_n ds[n, i] * p[n, k]``,  ``dc[i] = sum_n ds[n, i]``,
    ``dp[n, k] = sum_i ds[n, i] * U[i, k]``

    Shapes: ds (N, M) -> dp (N, Q), dU (M, Q), dc (M,).
    """
    fn = "dense_backward_naive"
    check_cache(fn, cache, DenseCache, "dense_forward_naive or dense_forward")
    ds = check_upstream(fn, "ds", ds, (cache.p.shape[0], cache.U.shape[0]))  # (N, M)
    p, U = cache.p, cache.U
    N, Q = p.shape
    M = U.shape[0]
    dtype = np.result_type(ds.dtype, p.dtype, U.dtype, cache.c.dtype)
    dp = np.zeros((N, Q), dtype=dtype)
    dU = np.zeros((M, Q), dtype=dtype)
    dc = np.zeros(M, dtype=dtype)
    for n in range(N):
        for i in range(M):
            dc[i] += ds[n, i]
            for k in range(Q):
                dU[i, k] += ds[n, i] * p[n, k]
                dp[n, k] += ds[n, i] * U[i, k]
    return dp, dU, dc


def dense_forward(p, U, c):
    """Dense forward pass (notebook 01, eq. 1.1; seed 003 §2.4): ``s = p @ U.T + c``.

    Row n of s holds sample n's scores ``s_i = sum_k U[i, k] p_k + c_i``.

    Shapes: p (N, Q), U (M, Q), c (M,) -> s (N, M). Returns ``(s, cache)``.
    """
    fn = "dense_forward"
    p, U, c, dtype = _prepare(fn, p, U, c)
    s = p.astype(dtype, copy=False) @ U.T.astype(dtype, copy=False)  # (N, M)
    s += c.astype(dtype, copy=False)
    return s, DenseCache(p, U, c)


def dense_backward(ds, cache):
    """Dense backward pass (notebook 01, eq. 1.2; seed 003 §3.2).

    ``dp = ds @ U``, ``dU = ds.T @ p`` (per sample the outer product ds_i p_k, summed over
    the batch), ``dc = ds.sum(axis=0)``.

    Shapes: ds (N, M) -> dp (N, Q), dU (M, Q), dc (M,).
    """
    fn = "dense_backward"
    check_cache(fn, cache, DenseCache, "dense_forward")
    ds = check_upstream(fn, "ds", ds, (cache.p.shape[0], cache.U.shape[0]))  # (N, M)
    dtype = np.result_type(ds.dtype, cache.p.dtype, cache.U.dtype, cache.c.dtype)
    ds = ds.astype(dtype, copy=False)
    dp = ds @ cache.U.astype(dtype, copy=False)  # (N, Q)
    dU = ds.T @ cache.p.astype(dtype, copy=False)  # (M, Q)
    dc = ds.sum(axis=0)  # (M,)
    return dp, dU, dc
