"""Weight initialisers named for what they preserve (notebook 11, eqs. 11.1-11.5).

For a convolution kernel W of shape (F, C, KH, KW) each output cell sums ``fan_in = C·KH·KW``
products and each input cell's gradient sums ``fan_out = F·KH·KW`` of them (away from the
border); for a dense U of shape (M, Q), ``fan_in = Q`` and ``fan_out = M``. With independent
zero-mean weights of variance sigma^2::

    Var[Z]  = fan_in  · sigma^2 · E[A^2]          (forward,  eq. 11.1)
    Var[dA] = fan_out · sigma^2 · E[(dZ)^2]       (backward, eq. 11.2)

* **He (Kaiming)**, for ReLU, where ``E[A^2] = Var[Z] / 2``: ``sigma^2 = 2 / fan_in`` keeps the
  forward variance (``mode="fan_out"``: ``2 / fan_out`` keeps the backward one), eq. 11.3;
* **Glorot (Xavier)**, for tanh (slope 1 at 0): ``sigma^2 = 2 / (fan_in + fan_out)``, the
  compromise between ``1 / fan_in`` and ``1 / fan_out``, eq. 11.4.

Each comes as a normal and a uniform draw of that variance (a uniform on [-a, a] has variance
a^2/3), as ``torch.nn.init.kaiming_normal_`` / ``xavier_uniform_`` and friends, and is seeded:
``seed`` is an int, a ``numpy.random.Generator`` or None. ``he_normal(W.shape, seed=s)`` draws
exactly the weights ``Conv2D(..., seed=s)`` starts with.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .layers import _float_dtype, _rng

__all__ = ["fan_in_out", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform"]


def fan_in_out(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight array: (C·KH·KW, F·KH·KW) for (F, C, KH, KW), (Q, M) for (M, Q).

    Raises ``ValueError`` for other shapes (a bias has no fan-in).
    """
    return _fans("fan_in_out", shape)


def _fans(fn: str, shape) -> tuple[int, int]:
    shape = _shape(fn, shape)
    receptive = math.prod(shape[2:])  # KH·KW, or 1 for a dense layer
    return shape[1] * receptive, shape[0] * receptive


def _shape(fn: str, shape) -> tuple[int, ...]:
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if not isinstance(shape, tuple | list) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(f"{fn}: shape must be a tuple of ints, got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 4) or min(shape) < 1:
        raise ValueError(
            f"{fn}: shape must be (F, C, KH, KW) for a convolution or (M, Q) for a dense layer, "
            f"with positive sizes; got {shape}"
        )
    return shape


def _fan(fn: str, shape, mode: str) -> tuple[tuple[int, ...], int]:
    fan_in, fan_out = _fans(fn, shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return _shape(fn, shape), fan_in if mode == "fan_in" else fan_out


def he_normal(shape, *, seed=None, mode="fan_in", dtype=np.float64) -> np.ndarray:
    """He (Kaiming) normal initialisation: ``N(0, 2 / fan)`` with fan = fan_in (default) or fan_out (eq. 11.3).

    Shapes: (F, C, KH, KW) or (M, Q) -> an array of that shape.
    """
    fn = "he_normal"
    shape, fan = _fan(fn, shape, mode)
    rng, dt = _rng(fn, seed), _float_dtype(fn, dtype)
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan)).astype(dt)


def he_uniform(shape, *, seed=None, mode="fan_in", dtype=np.float64) -> np.ndarray:
    """He (Kaiming) uniform initialisation: ``U(-a, a)`` with ``a = sqrt(6 / fan)``, variance 2 / fan (eq. 11.3)."""
    fn = "he_uniform"
    shape, fan = _fan(fn, shape, mode)
    rng, dt = _rng(fn, seed), _float_dtype(fn, dtype)
    a = math.sqrt(6.0 / fan)
    return rng.uniform(-a, a, size=shape).astype(dt)


def glorot_normal(shape, *, seed=None, dtype=np.float64) -> np.ndarray:
    """Glorot (Xavier) normal initialisation: ``N(0, 2 / (fan_in + fan_out))`` (eq. 11.4)."""
    fn = "glorot_normal"
    fan_in, fan_out = _fans(fn, shape)
    rng, dt = _rng(fn, seed), _float_dtype(fn, dtype)
    return (rng.standard_normal(_shape(fn, shape)) * math.sqrt(2.0 / (fan_in + fan_out))).astype(dt)


def glorot_uniform(shape, *, seed=None, dtype=np.float64) -> np.ndarray:
    """Glorot (Xavier) uniform initialisation: ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))`` (eq. 11.4)."""
    fn = "glorot_uniform"
    fan_in, fan_out = _fans(fn, shape)
    rng, dt = _rng(fn, seed), _float_dtype(fn, dtype)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=_shape(fn, shape)).astype(dt)
