"""Loss functions. Each returns ``(L, gradient of L with respect to its first argument)``.

* ``softmax_cross_entropy(s, y)`` — softmax of the scores s, then cross-entropy with the
  labels; ``ds = (ŷ - y) / N`` (notebook 01, eq. 1.5; seed 003 §3.1);
* ``binary_cross_entropy(A, y)`` — on probabilities A (seed 002's A2 = y_hat);
* ``binary_cross_entropy_with_logits(z, y)`` — the same loss on the logit z = σ⁻¹(A),
  computed stably; its gradient is ``(σ(z) - y) / N`` (seed 002's A2 - Y);
* ``mse(yhat, y, reduction="half_sum")`` — seed 000's E = ½ Σ (t - y)² (notebook 05, eq. 5.1).

The cross-entropies are **averaged over the batch**: L is the mean over the N samples
(axis 0) of the per-sample loss, so every gradient carries a factor 1/N. ``mse`` is the
exception by default, because seed 000's E is a plain half sum (see ``mse``).

L is returned as a NumPy scalar of the input's float dtype.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_array, check_ndim, plain_array
from .activations import sigmoid

__all__ = [
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse",
    "BCE_EPS",
]

#: The smallest argument ``binary_cross_entropy`` passes to log, per dtype: log(max(A, eps))
#: and log(max(1 - A, eps)). 1e-12 for float64 caps one entry's loss at -log(1e-12) ≈ 27.6;
#: float32 uses 1e-7 (cap ≈ 16.1), about the spacing of float32 numbers just below 1.
BCE_EPS = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-7}


def _logsumexp(s: np.ndarray) -> np.ndarray:
    """log Σ_j exp(s_j) along the last axis, shifted by the row maximum so exp never overflows."""
    m = s.max(axis=-1, keepdims=True)  # (..., 1)
    return m + np.log(np.exp(s - m).sum(axis=-1, keepdims=True))  # (..., 1)


def softmax(s):
    """Softmax along the last axis (notebook 01, eq. 1.3): ``ŷ_i = e^{s_i} / Σ_j e^{s_j}``.

    Computed as ``e^{s_i - max(s)} / Σ_j e^{s_j - max(s)}`` (the same number: the factor
    e^{-max} cancels), so the largest exponent is 0 and nothing overflows, even for scores
    of ±1e4. Shapes: s (..., M) -> ŷ (..., M); rows sum to 1. Returns the array only.
    """
    fn = "softmax"
    s = as_array(fn, "s", s, finite=True)
    if s.ndim < 1 or s.shape[-1] == 0:
        raise ValueError(f"{fn}: s must have at least one class along its last axis, got shape {s.shape}")
    e = np.exp(s - s.max(axis=-1, keepdims=True))  # (..., M), entries in (0, 1]
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(s):
    """``log ŷ = s - logsumexp(s)`` along the last axis (the log of notebook 01, eq. 1.3), stable for any finite s.

    Shapes: s (..., M) -> (..., M).
    """
    fn = "log_softmax"
    s = as_array(fn, "s", s, finite=True)
    if s.ndim < 1 or s.shape[-1] == 0:
        raise ValueError(f"{fn}: s must have at least one class along its last axis, got shape {s.shape}")
    return s - _logsumexp(s)


def _class_targets(fn: str, y, N: int, M: int, dtype) -> np.ndarray:
    """Turn integer labels (N,) or probability rows (N, M) into target rows Y (N, M)."""
    y_arr = plain_array(fn, "y", y)
    if not np.issubdtype(y_arr.dtype, np.integer):  # integer labels stay integers
        y_arr = as_array(fn, "y", y_arr)
    if y_arr.ndim == 1:
        if y_arr.shape[0] != N:
            raise ValueError(f"{fn}: y must hold one label per sample, shape ({N},), got {y_arr.shape}")
        whole = np.issubdtype(y_arr.dtype, np.integer) or (
            np.all(np.isfinite(y_arr)) and np.all(y_arr == np.round(y_arr))
        )
        if not whole:
            raise ValueError(f"{fn}: integer class labels expected in y, got non-integer values {y_arr[:5]}")
        labels = y_arr.astype(np.int64)
        if N and (labels.min() < 0 or labels.max() >= M):
            raise ValueError(
                f"{fn}: labels must be in 0..{M - 1} for M={M} classes, "
                f"got values from {labels.min()} to {labels.max()}"
            )
        Y = np.zeros((N, M), dtype=dtype)  # (N, M) one-hot
        Y[np.arange(N), labels] = 1
        return Y
    if y_arr.ndim == 2:
        if y_arr.shape != (N, M):
            raise ValueError(
                f"{fn}: one-hot / probability targets y must have the shape of s, ({N}, {M}), got {y_arr.shape}"
            )
        Y = y_arr.astype(dtype, copy=False)
        if not np.all(np.isfinite(Y)) or Y.min(initial=0) < 0 or Y.max(initial=0) > 1:
            raise ValueError(f"{fn}: target rows y must hold probabilities in [0, 1]")
        row_sums = Y.sum(axis=1)  # (N,)
        tol = 1e-6 if Y.dtype == np.float64 else 1e-4
        bad = np.flatnonzero(np.abs(row_sums - 1) > tol)
        if bad.size:
            raise ValueError(
                f"{fn}: each target row of y must sum to 1 (one-hot or a probability distribution), "
                f"row {bad[0]} sums to {row_sums[bad[0]]:.6g}"
            )
        return Y
    raise ValueError(
        f"{fn}: y must be integer labels (N,) or one-hot / probability rows (N, M), "
        f"got {y_arr.ndim}-D shape {y_arr.shape}"
    )


def softmax_cross_entropy(s, y):
    """Softmax followed by cross-entropy, averaged over the batch (notebook 01, eqs. 1.3-1.5).

    ``L = -(1/N) Σ_n Σ_i y[n, i] log ŷ[n, i]``,  ŷ = softmax(s) row by row, and
    ``ds = (ŷ - y) / N`` — seed 003 §3.1's δˢ = ŷ - y, divided by N for the mean.

    ``log ŷ`` is computed as ``s - logsumexp(s)`` (never log of a rounded-to-0 ŷ), so L and
    ds are finite and accurate for scores of ±1e4. At uniform scores ŷ = 1/M and L = log M:
    what a freshly initialised classifier should report.

    Shapes: s (N, M) scores; y integer labels (N,) in 0..M-1, or one-hot / probability rows
    (N, M) that each sum to 1. Returns ``(L, ds)`` with L a scalar and ds (N, M).
    """
    fn = "softmax_cross_entropy"
    s = as_array(fn, "s", s, finite=True)
    check_ndim(fn, "s", s, 2, "(N, M) scores")
    N, M = s.shape
    if N == 0 or M == 0:
        raise ValueError(f"{fn}: s must have at least one sample and one class, got shape {s.shape}")
    Y = _class_targets(fn, y, N, M, s.dtype)  # (N, M)
    log_yhat = s - _logsumexp(s)  # (N, M), log ŷ, finite
    L = -(Y * log_yhat).sum() / N
    ds = (np.exp(log_yhat) - Y) / N  # (N, M), (ŷ - y)/N
    return s.dtype.type(L), ds.astype(s.dtype, copy=False)


def _binary_targets(fn: str, y, shape, dtype) -> np.ndarray:
    y = as_array(fn, "y", y)
    if y.shape != tuple(shape):
        raise ValueError(f"{fn}: y must have the shape of the predictions, {tuple(shape)}, got {y.shape}")
    if not np.all(np.isfinite(y)) or (y.size and (y.min() < 0 or y.max() > 1)):
        raise ValueError(f"{fn}: binary targets y must lie in [0, 1], got values from {y.min()} to {y.max()}")
    return y.astype(dtype, copy=False)


def _batch_size(fn: str, name: str, x: np.ndarray) -> int:
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"{fn}: {name} must have a batch axis first, (N, ...), and no empty axis, got shape {x.shape}")
    return x.shape[0]


def binary_cross_entropy(A, y, *, eps=None):
    """Binary cross-entropy on probabilities, averaged over the batch (notebook 01, eq. 1.7; seed 002).

    ``L = -(1/N) Σ [y log A + (1 - y) log(1 - A)]``  (sum over every entry, N = A.shape[0])
    ``dA = (1/N) (-y/A + (1 - y)/(1 - A))``

    Each logarithm's argument is kept at least ``eps``: ``log(max(A, eps))`` and
    ``log(max(1 - A, eps))``, and the gradient divides by the same clipped values. So a
    certain mistake (A = 0 with y = 1, or A = 1 with y = 0) costs a large but finite
    ``-log(eps)`` instead of log 0 = -inf, and for eps <= A <= 1 - eps nothing changes.
    ``eps=None`` uses ``BCE_EPS`` for A's dtype (1e-12 for float64, 1e-7 for float32).
    Prefer ``binary_cross_entropy_with_logits`` when the logit is at hand: it needs no clip.

    Shapes: A (N, ...) probabilities in [0, 1], y the same shape with targets in [0, 1]
    (seed 002: A2 and Y, (N, 1)). Returns ``(L, dA)``.
    """
    fn = "binary_cross_entropy"
    A = as_array(fn, "A", A, finite=True)
    N = _batch_size(fn, "A", A)
    if A.min() < 0 or A.max() > 1:
        raise ValueError(
            f"{fn}: A must hold probabilities in [0, 1] (pass logits to binary_cross_entropy_with_logits), "
            f"got values from {A.min()} to {A.max()}"
        )
    y = _binary_targets(fn, y, A.shape, A.dtype)
    if eps is None:
        eps = BCE_EPS[A.dtype]
    if not 0 < eps < 0.5:
        raise ValueError(f"{fn}: eps must be in (0, 0.5), got {eps!r}")
    A_safe = np.maximum(A, eps)  # shape of A; A itself where A >= eps
    one_minus_A_safe = np.maximum(1 - A, eps)  # 1 - A is exact for A in [1/2, 1]
    L = -(y * np.log(A_safe) + (1 - y) * np.log(one_minus_A_safe)).sum() / N
    dA = (-y / A_safe + (1 - y) / one_minus_A_safe) / N
    return A.dtype.type(L), dA.astype(A.dtype, copy=False)


def binary_cross_entropy_with_logits(z, y):
    """Binary cross-entropy on logits z (A = σ(z)), batch-averaged (notebook 01, eq. 1.8; seed 002).

    ``L = (1/N) Σ [max(z, 0) - z y + log(1 + e^{-|z|})]`` — algebraically the same as
    ``-(1/N) Σ [y log σ(z) + (1 - y) log(1 - σ(z))]`` but with no exponential of a positive
    number and no log of 0, so it is exact for any finite z.
    ``dz = (σ(z) - y) / N`` — seed 002's (∂L/∂A2)(∂A2/∂Z2) = A2 - Y: the sigmoid's slope
    A(1 - A) cancels the denominators of the cross-entropy's -y/A + (1 - y)/(1 - A).

    Shapes: z (N, ...), y the same shape with targets in [0, 1]. Returns ``(L, dz)``.
    """
    fn = "binary_cross_entropy_with_logits"
    z = as_array(fn, "z", z, finite=True)
    N = _batch_size(fn, "z", z)
    y = _binary_targets(fn, y, z.shape, z.dtype)
    L = (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum() / N
    dz = (sigmoid(z) - y) / N
    return z.dtype.type(L), dz.astype(z.dtype, copy=False)


_MSE_REDUCTIONS = ("half_sum", "mean", "sum")


def mse(yhat, y, reduction="half_sum"):
    """Squared-error loss (notebook 05, eq. 5.1; seed 000's E = ½ Σ_p (t_p - y_p)²).

    ``reduction`` picks the scaling (sums run over every entry, batch included):

    * ``"half_sum"`` (default): ``L = ½ Σ (yhat - y)²``, ``dyhat = yhat - y``. This is seed
      000's convention, whose ½ cancels the 2 of the derivative so that the delta is just
      the error; the default keeps its numbers exactly. Unlike the cross-entropies it is
      *not* divided by the batch size.
    * ``"mean"``: ``L = mean((yhat - y)²)`` over all entries (PyTorch's ``MSELoss``),
      ``dyhat = 2 (yhat - y) / yhat.size``.
    * ``"sum"``: ``L = Σ (yhat - y)²``, ``dyhat = 2 (yhat - y)``.

    Shapes: yhat (any), y the same shape. Returns ``(L, dyhat)``.
    """
    fn = "mse"
    yhat = as_array(fn, "yhat", yhat, finite=True)
    y = as_array(fn, "y", y, finite=True)
    if yhat.shape != y.shape:
        raise ValueError(f"{fn}: y must have the shape of yhat, {yhat.shape}, got {y.shape}")
    if reduction not in _MSE_REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_MSE_REDUCTIONS}, got {reduction!r}")
    dtype = np.result_type(yhat.dtype, y.dtype)
    r = (yhat - y).astype(dtype, copy=False)  # residual, shape of yhat
    if reduction == "half_sum":
        L, grad = 0.5 * (r * r).sum(), r
    elif reduction == "sum":
        L, grad = (r * r).sum(), 2 * r
    else:
        if r.size == 0:
            raise ValueError(f"{fn}: reduction='mean' needs at least one entry, got shape {yhat.shape}")
        L, grad = (r * r).mean(), 2 * r / r.size
    return dtype.type(L), grad
