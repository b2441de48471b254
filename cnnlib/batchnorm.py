"""Spatial batch normalisation, forward and backward (notebook 11, eqs. 11.8-11.14).

Per channel c, over the m = N·H·W cells of the batch that belong to it (NCHW)::

    mu[c]     = (1/m) sum_{n,u,v} X[n, c, u, v]                              (11.8)
    var[c]    = (1/m) sum_{n,u,v} (X[n, c, u, v] - mu[c])**2   (biased)      (11.9)
    Xhat      = (X - mu[c]) / sqrt(var[c] + eps)                             (11.10)
    Y         = gamma[c] * Xhat + beta[c]                                    (11.11)

Backward, with dY = dL/dY, in the compact form derived in notebook 11 (eq. 11.13)::

    dbeta[c]  = sum_{n,u,v} dY                     dgamma[c] = sum_{n,u,v} dY * Xhat
    dX        = gamma[c] / (m sqrt(var[c] + eps)) * (m dY - dbeta[c] - Xhat * dgamma[c])

In evaluation mode (``training=False``) the running statistics replace mu and var; they are
constants, so ``dX = gamma / sqrt(running_var + eps) * dY`` (eq. 11.14). In training mode the
running statistics, when given, are updated as PyTorch's ``batch_norm`` does::

    running_mean <- (1 - momentum) running_mean + momentum mu
    running_var  <- (1 - momentum) running_var  + momentum var * m / (m - 1)   (unbiased)

and returned as new arrays in the cache (``cache.running_mean``, ``cache.running_var``):
the caller's arrays are never modified. Two implementations, as for every layer: the loops of
``batchnorm2d_forward_naive`` / ``batchnorm2d_backward_naive`` read like the equations, one
step of the chain rule per line; ``batchnorm2d_forward`` / ``batchnorm2d_backward`` are the
vectorised version of the same numbers.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_ndim, check_same_shape, check_upstream

__all__ = [
    "batchnorm2d_forward",
    "batchnorm2d_backward",
    "batchnorm2d_forward_naive",
    "batchnorm2d_backward_naive",
]


@dataclass(frozen=True)
class BatchNormCache:
    """What the backward pass reads, as the cache's own read-only arrays.

    ``Xc`` is X minus the mean that was subtracted (the batch mean in training, the running
    mean in evaluation), ``var`` the variance that normalised it, so ``Xhat = Xc / sqrt(var + eps)``.
    ``running_mean`` / ``running_var`` are the updated running statistics (new arrays; None
    when none were given in training mode; the given ones, copied, in evaluation mode).
    """

    Xc: np.ndarray  # (N, C, H, W)
    var: np.ndarray  # (C,)
    gamma: np.ndarray  # (C,)
    eps: float
    training: bool
    running_mean: np.ndarray | None  # (C,)
    running_var: np.ndarray | None  # (C,)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.Xc.shape)


def _number(fn: str, name: str, v, *, lo: float, hi: float, lo_open: bool) -> float:
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    if ok:
        ok = (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]" if math.isfinite(hi) else f"a number > {lo:g}"
        raise ValueError(f"{fn}: {name} must be a finite number in {interval}, got {v!r}")
    return float(v)


def _private(a: np.ndarray) -> np.ndarray:
    a = np.array(a)  # a copy the caller cannot reach
    a.flags.writeable = False
    return a


def _prepare(fn, X, gamma, beta, eps, training, running_mean, running_var, momentum):
    X = as_array(fn, "X", X, finite=True)
    gamma = as_array(fn, "gamma", gamma, finite=True)
    beta = as_array(fn, "beta", beta, finite=True)
    check_ndim(fn, "X", X, 4, "(N, C, H, W)")
    N, C, H, W = X.shape
    if 0 in X.shape:
        raise ValueError(f"{fn}: X must not be empty, got shape {X.shape}")
    check_same_shape(fn, "gamma", gamma, (C,), f"one scale per channel of X, C = {C}")
    check_same_shape(fn, "beta", beta, (C,), f"one shift per channel of X, C = {C}")
    eps = _number(fn, "eps", eps, lo=0.0, hi=math.inf, lo_open=True)
    momentum = _number(fn, "momentum", momentum, lo=0.0, hi=1.0, lo_open=False)
    if not isinstance(training, bool | np.bool_):
        raise TypeError(f"{fn}: training must be True or False, got {training!r}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: give both running_mean and running_var, or neither; got only one")
    if running_mean is not None:
        running_mean = as_array(fn, "running_mean", running_mean, finite=True)
        running_var = as_array(fn, "running_var", running_var, finite=True)
        check_same_shape(fn, "running_mean", running_mean, (C,), f"one mean per channel of X, C = {C}")
        check_same_shape(fn, "running_var", running_var, (C,), f"one variance per channel of X, C = {C}")
        if np.any(running_var < 0):
            raise ValueError(f"{fn}: running_var must be non-negative, got {running_var}")
    elif not training:
        raise ValueError(
            f"{fn}: evaluation mode (training=False) normalises with running_mean and running_var; got neither"
        )
    m = N * H * W
    if training and m < 2:
        raise ValueError(
            f"{fn}: training mode needs more than one value per channel (N·H·W = {m} for X.shape={X.shape}): "
            "the variance of one number is 0"
        )
    dtype = np.result_type(X.dtype, gamma.dtype, beta.dtype)
    return X, gamma, beta, eps, bool(training), running_mean, running_var, momentum, dtype


def _updated(running, batch_value, momentum, dtype):
    """``(1 - momentum) running + momentum batch_value``: a new array (eq. 11.12)."""
    if running is None:
        return None
    return _private(((1.0 - momentum) * running + momentum * batch_value).astype(dtype, copy=False))


# --------------------------------------------------------------------------- the loops


def batchnorm2d_forward_naive(
    X, gamma, beta, *, eps=1e-5, training=True, running_mean=None, running_var=None, momentum=0.1
):
    """Spatial batch normalisation with explicit loops (notebook 11, eqs. 11.8-11.12).

    Shapes: X (N, C, H, W), gamma (C,), beta (C,) -> Y (N, C, H, W); running_mean,
    running_var (C,) or None (both). Returns ``(Y, cache)``; the updated running statistics
    are ``cache.running_mean`` and ``cache.running_var`` (new arrays).
    """
    fn = "batchnorm2d_forward_naive"
    X, gamma, beta, eps, training, rm, rv, momentum, dtype = _prepare(
        fn, X, gamma, beta, eps, training, running_mean, running_var, momentum
    )
    N, C, H, W = X.shape
    m = N * H * W
    Y = np.empty(X.shape, dtype=dtype)  # (N, C, H, W)
    Xc = np.empty(X.shape, dtype=dtype)  # (N, C, H, W): X - mu
    mu = np.zeros(C, dtype=dtype)  # (C,)
    var = np.zeros(C, dtype=dtype)  # (C,)
    for c in range(C):
        if training:
            total = 0.0
            for n in range(N):
                for u in range(H):
                    for v in range(W):
                        total += X[n, c, u, v]
            mu[c] = total / m  # eq. 11.8
            total = 0.0
            for n in range(N):
                for u in range(H):
                    for v in range(W):
                        total += (X[n, c, u, v] - mu[c]) ** 2
            var[c] = total / m  # eq. 11.9, biased
        else:
            mu[c], var[c] = rm[c], rv[c]  # eq. 11.14: the running statistics
        sigma = math.sqrt(var[c] + eps)
        for n in range(N):
            for u in range(H):
                for v in range(W):
                    Xc[n, c, u, v] = X[n, c, u, v] - mu[c]
                    Y[n, c, u, v] = gamma[c] * (Xc[n, c, u, v] / sigma) + beta[c]  # eqs. 11.10-11.11
    if training:
        new_mean = _updated(rm, mu, momentum, dtype)
        new_var = _updated(rv, var * (m / (m - 1)), momentum, dtype)
    else:
        new_mean, new_var = (_private(rm), _private(rv))
    return Y, BatchNormCache(_private(Xc), _private(var), _private(gamma), eps, training, new_mean, new_var)


def batchnorm2d_backward_naive(dY, cache):
    """Spatial batch-norm backward with explicit loops, one chain-rule step at a time (notebook 11, eq. 11.13).

    Training mode walks the graph of eqs. 11.8-11.11 backwards: ``dXhat = gamma dY``, then
    ``dvar``, ``dmu``, and finally dX as the sum of its three paths (through Xhat directly,
    through var and through mu). Evaluation mode: ``dX = gamma dY / sqrt(running_var + eps)``.

    Shapes: dY (N, C, H, W) -> dX (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    fn = "batchnorm2d_backward_naive"
    check_cache(fn, cache, BatchNormCache, "batchnorm2d_forward_naive or batchnorm2d_forward")
    dY = check_upstream(fn, "dY", dY, cache.out_shape)
    Xc, var, gamma, eps = cache.Xc, cache.var, cache.gamma, cache.eps
    N, C, H, W = Xc.shape
    m = N * H * W
    dtype = np.result_type(dY.dtype, Xc.dtype)
    dX = np.empty(Xc.shape, dtype=dtype)
    dgamma = np.zeros(C, dtype=dtype)
    dbeta = np.zeros(C, dtype=dtype)
    cells = [(n, u, v) for n in range(N) for u in range(H) for v in range(W)]
    for c in range(C):
        sigma = math.sqrt(var[c] + eps)
        for n, u, v in cells:
            dbeta[c] += dY[n, c, u, v]  # Y = gamma Xhat + beta
            dgamma[c] += dY[n, c, u, v] * Xc[n, c, u, v] / sigma
        if not cache.training:
            for n, u, v in cells:
                dX[n, c, u, v] = gamma[c] * dY[n, c, u, v] / sigma
            continue
        dvar = 0.0  # dL/dvar[c]: Xhat = Xc (var + eps)^(-1/2)
        for n, u, v in cells:
            dXhat = gamma[c] * dY[n, c, u, v]
            dvar += dXhat * Xc[n, c, u, v] * (-0.5) * (var[c] + eps) ** -1.5
        dmu = 0.0  # dL/dmu[c]: mu enters Xc directly and var through sum((X - mu)^2)
        for n, u, v in cells:
            dXhat = gamma[c] * dY[n, c, u, v]
            dmu += -dXhat / sigma + dvar * (-2.0 * Xc[n, c, u, v] / m)
        for n, u, v in cells:
            dXhat = gamma[c] * dY[n, c, u, v]
            # the three paths from X[n, c, u, v]: into Xhat itself, into var, into mu
            dX[n, c, u, v] = dXhat / sigma + dvar * 2.0 * Xc[n, c, u, v] / m + dmu / m
    return dX, dgamma, dbeta


# --------------------------------------------------------------------------- vectorised


def batchnorm2d_forward(X, gamma, beta, *, eps=1e-5, training=True, running_mean=None, running_var=None, momentum=0.1):
    """Spatial batch normalisation (notebook 11, eqs. 11.8-11.12), as PyTorch's ``F.batch_norm``.

    Normalises each channel over (N, H, W) with the batch mean and biased variance
    (``training=True``) or with the running statistics (``training=False``), then scales by
    gamma and shifts by beta. ``eps > 0`` keeps the division finite; ``momentum`` in [0, 1]
    weights the new batch in the running statistics (which use the unbiased variance).

    Shapes: X (N, C, H, W), gamma (C,), beta (C,) -> Y (N, C, H, W); running_mean,
    running_var (C,) or None (both; required when ``training=False``). Returns ``(Y, cache)``;
    ``cache.running_mean`` and ``cache.running_var`` are the updated statistics, new arrays.
    """
    fn = "batchnorm2d_forward"
    X, gamma, beta, eps, training, rm, rv, momentum, dtype = _prepare(
        fn, X, gamma, beta, eps, training, running_mean, running_var, momentum
    )
    N, C, H, W = X.shape
    m = N * H * W
    X = X.astype(dtype, copy=False)
    if training:
        mu = X.mean(axis=(0, 2, 3))  # (C,) eq. 11.8
        Xc = X - mu[None, :, None, None]  # (N, C, H, W)
        var = np.mean(Xc * Xc, axis=(0, 2, 3))  # (C,) eq. 11.9, biased
        new_mean = _updated(rm, mu, momentum, dtype)
        new_var = _updated(rv, var * (m / (m - 1)), momentum, dtype)
    else:
        Xc = X - rm.astype(dtype)[None, :, None, None]  # (N, C, H, W)
        var = rv.astype(dtype)  # (C,)
        new_mean, new_var = _private(rm), _private(rv)
    inv_sigma = 1.0 / np.sqrt(var + eps)  # (C,)
    Y = Xc * (gamma * inv_sigma).astype(dtype)[None, :, None, None] + beta.astype(dtype)[None, :, None, None]
    Xc.flags.writeable = False  # Xc is new: the cache owns it
    return Y, BatchNormCache(Xc, _private(var), _private(gamma), eps, training, new_mean, new_var)


def batchnorm2d_backward(dY, cache):
    """Spatial batch-norm backward in the compact form (notebook 11, eq. 11.13).

    ``dbeta = sum dY``, ``dgamma = sum dY * Xhat`` (sums over N, H, W per channel) and, in
    training mode, ``dX = gamma / (m sigma) * (m dY - dbeta - Xhat * dgamma)`` with
    ``sigma = sqrt(var + eps)`` and ``m = N·H·W``; in evaluation mode ``dX = gamma dY / sigma``.

    Shapes: dY (N, C, H, W) -> dX (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    fn = "batchnorm2d_backward"
    check_cache(fn, cache, BatchNormCache, "batchnorm2d_forward")
    dY = check_upstream(fn, "dY", dY, cache.out_shape)
    N, C, H, W = cache.Xc.shape
    m = N * H * W
    dtype = np.result_type(dY.dtype, cache.Xc.dtype)
    inv_sigma = (1.0 / np.sqrt(cache.var + cache.eps)).astype(dtype)  # (C,)
    Xhat = cache.Xc * inv_sigma[None, :, None, None]  # (N, C, H, W)
    dbeta = dY.sum(axis=(0, 2, 3), dtype=dtype)  # (C,)
    dgamma = np.sum(dY * Xhat, axis=(0, 2, 3), dtype=dtype)  # (C,)
    scale = (cache.gamma * inv_sigma).astype(dtype)  # (C,) gamma / sigma
    if not cache.training:
        return dY * scale[None, :, None, None], dgamma, dbeta
    dX = dY - (dbeta / m)[None, :, None, None] - Xhat * (dgamma / m)[None, :, None, None]  # (N, C, H, W)
    dX *= scale[None, :, None, None]
    return dX, dgamma, dbeta
