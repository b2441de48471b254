"""A small central-difference checker for the pooling, activation, dense and loss tests.

Kept local on purpose: these layers are checked by code that shares nothing with
cnnlib (``cnnlib.gradcheck`` is tested on its own).
"""

from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient", "rel_error", "distinct_values"]


def numerical_gradient(f, x, dout=1.0, h=1e-6):
    """Central differences of ``sum(f(x) * dout)`` with respect to every entry of ``x``.

    ``f`` maps an array shaped like ``x`` to an array shaped like ``dout`` (or to a scalar,
    with ``dout`` a scalar). Works in float64 on a private copy: ``x`` is never modified.
    """
    x = np.array(x, dtype=np.float64)  # private copy
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = np.asarray(f(x), dtype=np.float64)
        x[idx] = old - h
        minus = np.asarray(f(x), dtype=np.float64)
        x[idx] = old
        grad[idx] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def rel_error(a, b):
    """max |a - b| divided by the larger of max |a| and max |b| (0 when both are exactly zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


def distinct_values(rng: np.random.Generator, shape, gap: float = 0.1, noise: float = 1e-3) -> np.ndarray:
    """A shuffled ``arange * gap`` (centred on 0, never 0) plus noise much smaller than ``gap``.

    Any two entries differ by at least ``gap - 2*noise`` and every entry is at least
    ``gap/2 - noise`` from zero, so a finite-difference step ``h << gap`` never changes which
    entry of a max-pool window wins, nor the sign that ReLU sees.
    """
    n = int(np.prod(shape))
    k = rng.permutation(n) - n // 2 + 0.5  # distinct half-integers
    return (k * gap + rng.uniform(-noise, noise, n)).reshape(shape)
