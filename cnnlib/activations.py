"""Element-wise activations: ReLU, sigmoid and tanh, forward and backward.

Each forward pass maps Z to A = g(Z) cell by cell (any shape, NCHW or (N, Q)); each
backward pass multiplies the upstream gradient dA by the local slope g'(Z) (notebook 04):

* ReLU     ``A = max(0, Z)``            ``dZ = dA * 1[Z > 0]``      (slope 0 at Z = 0, seed 003 §3.4)
* sigmoid  ``A = 1 / (1 + e^-Z)``       ``dZ = dA * A * (1 - A)``   (seed 000's deltas)
* tanh     ``A = tanh(Z)``              ``dZ = dA * (1 - A**2)``

The sigmoid and tanh slopes are written in terms of the cached *output* A, so the
backward pass needs no exponential.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_array, check_cache, check_upstream

__all__ = [
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "sigmoid",
]


@dataclass(frozen=True)
class ReLUCache:
    """The mask ``Z > 0`` (a new boolean array, read-only) and Z's dtype.

    The cache owns everything its backward pass reads, so editing Z or A in place after
    the forward pass does not change the gradient. The mask costs no extra pass: the
    backward pass no longer compares Z with 0, the forward pass does it once.
    """

    mask: np.ndarray  # bool, shape of Z
    dtype: np.dtype  # Z's


@dataclass(frozen=True)
class SigmoidCache:
    """The forward output A = σ(Z); the slope σ'(Z) = A(1 - A) needs nothing else.

    A is the cache's own read-only copy, not the array returned to the caller, so
    ``A -= 0.5`` after the forward pass does not change the gradient. The copy costs a
    ``memcpy`` of A, a few percent of the forward pass (whose exponentials dominate).
    """

    A: np.ndarray


@dataclass(frozen=True)
class TanhCache:
    """The forward output A = tanh(Z); the slope is 1 - A**2.

    A is the cache's own read-only copy, as in ``SigmoidCache`` (a ``memcpy`` of A, small
    next to ``np.tanh``).
    """

    A: np.ndarray


def _owned(A: np.ndarray) -> np.ndarray:
    """A read-only copy of a forward output, for a cache (the caller may edit the original)."""
    A = np.array(A)  # a copy, and an array even where a ufunc returned a NumPy scalar (0-d input)
    A.flags.writeable = False
    return A


# --------------------------------------------------------------------------- ReLU


def relu_forward(Z):
    """ReLU forward pass (notebook 04, eq. 4.5; seed 003 §2.2): ``A = max(0, Z)`` element-wise.

    Shapes: Z (any) -> A (same shape, same float dtype). Returns ``(A, cache)``.
    """
    Z = as_array("relu_forward", "Z", Z, finite=True)
    A = np.maximum(Z, Z.dtype.type(0))  # same shape as Z
    mask = np.asarray(Z > 0)  # a new array (0-d too): the cache does not depend on Z or A staying as they are
    mask.flags.writeable = False
    return A, ReLUCache(mask, Z.dtype)


def relu_backward(dA, cache):
    """ReLU backward pass (notebook 04, eq. 4.6; seed 003 §3.4): ``dZ = dA * 1[Z > 0]``.

    The mask uses a strict ``Z > 0``: at the kink Z = 0 the gradient is 0 (the choice
    PyTorch makes too; any value in [0, 1] is a valid subgradient there). Wherever Z <= 0
    the gradient is exactly +0.0 (never -0.0, never NaN), even where dA is negative,
    infinite or NaN: the mask stops whatever arrives, as in PyTorch.

    Shapes: dA (same as Z) -> dZ (same as Z).
    """
    fn = "relu_backward"
    check_cache(fn, cache, ReLUCache, "relu_forward")
    dA = check_upstream(fn, "dA", dA, cache.mask.shape)
    dtype = np.result_type(dA.dtype, cache.dtype)
    # A product with the mask, not np.where: np.where branches on every element and runs
    # about ten times slower on a random mask (a CNN's activations are one).
    with np.errstate(invalid="ignore", over="ignore"):  # an inf in dA is fixed below, not warned about
        dZ = np.multiply(dA, cache.mask, dtype=dtype)
        dZ += 0.0  # turn -0.0 (a negative dA times a 0 of the mask) into 0.0
        flat = dZ.reshape(-1)  # dZ is new and contiguous: a view
        finite = np.isfinite(flat @ flat)  # one BLAS pass; False for a NaN or inf anywhere (or overflow)
    if not finite:  # 0 * inf is NaN under the mask: masked cells exactly +0.0 whatever dA holds, as in PyTorch
        dZ = np.where(cache.mask, dZ, dtype.type(0))
    return dZ


# --------------------------------------------------------------------------- sigmoid


def sigmoid(Z):
    """The logistic function σ(Z) = 1 / (1 + e^-Z), element-wise, without overflow (notebook 01, eq. 1.6).

    For Z >= 0 it evaluates ``1 / (1 + e^-Z)``; for Z < 0 the equal form ``e^Z / (1 + e^Z)``;
    either way the exponent is ``-|Z| <= 0``, so ``exp`` never overflows and
    ``sigmoid(-1000) == 0.0``, ``sigmoid(1000) == 1.0`` without warnings.
    Shapes: Z (any) -> same shape, float dtype kept.
    """
    Z = as_array("sigmoid", "Z", Z)
    e = np.exp(-np.abs(Z))  # in (0, 1]
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e)).astype(Z.dtype, copy=False)


def sigmoid_forward(Z):
    """Sigmoid forward pass (notebook 04, eq. 4.7; seed 002's A2 = σ(Z2)): ``A = 1 / (1 + e^-Z)``.

    Stable for large |Z| (see ``sigmoid``). Shapes: Z (any) -> A (same). Returns ``(A, cache)``.
    """
    Z = as_array("sigmoid_forward", "Z", Z, finite=True)
    A = sigmoid(Z)
    return A, SigmoidCache(_owned(A))


def sigmoid_backward(dA, cache):
    """Sigmoid backward pass (notebook 04, eq. 4.8; seed 000): ``dZ = dA * A * (1 - A)``.

    σ'(Z) = σ(Z)(1 - σ(Z)), read off the cached output: seed 000's deltas are exactly
    (upstream sum) * 0.58 * (1 - 0.58) and so on. Shapes: dA (same as Z) -> dZ (same).
    """
    fn = "sigmoid_backward"
    check_cache(fn, cache, SigmoidCache, "sigmoid_forward")
    dA = check_upstream(fn, "dA", dA, cache.A.shape)
    A = cache.A
    return dA * A * (1 - A)


# --------------------------------------------------------------------------- tanh


def tanh_forward(Z):
    """Tanh forward pass (notebook 04, eq. 4.9): ``A = tanh(Z)`` (stable: ``np.tanh`` saturates to ±1).

    Shapes: Z (any) -> A (same). Returns ``(A, cache)``.
    """
    Z = as_array("tanh_forward", "Z", Z, finite=True)
    A = np.tanh(Z)
    return A, TanhCache(_owned(A))


def tanh_backward(dA, cache):
    """Tanh backward pass (notebook 04, eq. 4.10): ``dZ = dA * (1 - A**2)`` with A = tanh(Z) cached.

    Shapes: dA (same as Z) -> dZ (same).
    """
    fn = "tanh_backward"
    check_cache(fn, cache, TanhCache, "tanh_forward")
    dA = check_upstream(fn, "dA", dA, cache.A.shape)
    A = cache.A
    return dA * (1 - A * A)
