"""Checkers for the exercises of notebook 03 (convolution backward).

* :func:`check_conv_backward` — exercise 3.1: dX, dW, db of a single-channel convolution
  (seed 003's equations (1)-(3) with one channel and one filter);
* :func:`check_seed001` — exercise 3.2: both kernel gradients of seed 001's
  3×3 → 2×2 → 1×1 network with squared error;
* :func:`check_conv_dW` — exercise 3.3: the kernel gradient for a batch of
  multi-channel images and several filters.

Each prints a verdict and returns True or False; none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = ["check_conv_backward", "check_seed001", "check_conv_dW", "seed001_forward"]


def _rng():
    return np.random.default_rng(3003)


def _grads(X, W, dZ):
    """Reference for 2-D arrays: X (H, Wd), W (KH, KW), dZ (H_out, W_out) -> (dX, dW, db)."""
    _, cache = conv2d_forward(X[None, None], W[None, None], np.zeros(1))
    dX, dW, db = conv2d_backward(dZ[None, None], cache)
    return dX[0, 0], dW[0, 0], float(db[0])


def _dW_convolved(X, dZ):
    """The mistake of using a true convolution for eq. (2): X ⋆ rot180(dZ)."""
    Zc, _ = conv2d_forward(X[None, None], dZ[::-1, ::-1].copy()[None, None], np.zeros(1))
    return Zc[0, 0]


def check_conv_backward(my_conv_backward) -> Verdict:
    """Exercise 3.1. ``my_conv_backward(X, W, dZ) -> (dX, dW, db)`` for one channel, one filter.

    Forward: ``Z[u, v] = sum_{i,j} W[i, j] * X[u+i, v+j] + b`` (stride 1, no padding).
    X (H, Wd), W (KH, KW), dZ = dL/dZ (H-KH+1, Wd-KW+1); return dX (H, Wd), dW (KH, KW)
    and db (a number). Notebook 03, eqs. (1)-(3).
    """
    rng = _rng()
    specs = [
        ("5×5 input, 3×3 kernel", 5, 5, 3, 3),
        ("seed 001's shapes: 3×3 input, 2×2 kernel", 3, 3, 2, 2),
        ("non-square: 4×6 input, 2×3 kernel", 4, 6, 2, 3),
        ("kernel as large as the input (1×1 output)", 3, 4, 3, 4),
    ]
    cases = []
    for label, H, Wd, KH, KW in specs:
        X = rng.integers(-4, 5, size=(H, Wd)).astype(float)
        W = rng.integers(-3, 4, size=(KH, KW)).astype(float)
        W[0, 0] = 5.0
        dZ = rng.integers(-3, 4, size=(H - KH + 1, Wd - KW + 1)).astype(float)
        dZ.flat[0] = 2.5
        dX, dW, db = _grads(X, W, dZ)
        dX_unflipped = _grads(X, W[::-1, ::-1].copy(), dZ)[0]
        hints = {
            "dX: each input collects dZ times the kernel rotated by 180° (a full convolution of dZ with W); "
            "yours used the kernel unrotated": (dX_unflipped, dW, db),
            "dW: this is a true convolution of X with dZ (scipy's convolve2d, which rotates dZ by 180°); "
            "dW is the cross-correlation of X with dZ (correlate2d)": (dX, _dW_convolved(X, dZ), db),
            "db is the sum of dZ, not its mean: b is added at every position": (dX, dW, db / dZ.size),
        }
        cases.append(Case(label, (X, W, dZ), (dX, dW, db), names=("dX", "dW", "db"), hints=hints))
    return run_cases(
        "check_conv_backward",
        my_conv_backward,
        cases,
        stub_hint="Fill in my_conv_backward(X, W, dZ) so that it returns (dX, dW, db).",
        forbidden=cnnlib_backward("conv"),
    )


def seed001_forward(i, w1, w2):
    """Seed 001's network: ``o1 = i ⋆ w1`` (3×3 → 2×2), ``o2 = sum(o1 * w2)`` (2×2 → 1×1). Returns (o1, o2)."""
    i, w1, w2 = (np.asarray(a, dtype=np.float64) for a in (i, w1, w2))
    o1 = conv2d_forward(i[None, None], w1[None, None], np.zeros(1))[0][0, 0]  # (2, 2)
    return o1, float(np.sum(o1 * w2))


def _seed001_grads(i, w1, w2, y):
    o1, o2 = seed001_forward(i, w1, w2)
    e = 2.0 * (o2 - y)  # dC/do2 for C = (o2 - y)^2
    dw2 = e * o1  # (2, 2)
    do1 = e * w2  # (2, 2)
    dw1 = _grads(i, w1, do1)[1]
    return dw1, dw2


def _asker_dw1(i, w1, w2, y):
    """The formula in seed 001's question: (sum of the inputs w1[k] touched) × (sum of w2) × 2(o2 - y)."""
    _, o2 = seed001_forward(i, w1, w2)
    e = 2.0 * (o2 - y)
    touched = np.array([[i[a : a + 2, b : b + 2].sum() for b in range(2)] for a in range(2)])
    return touched * w2.sum() * e


def check_seed001(my_seed001_grads) -> Verdict:
    """Exercise 3.2. ``my_seed001_grads(i, w1, w2, y) -> (dC_dw1, dC_dw2)``, both (2, 2).

    Seed 001's network: i (3, 3) ⋆ w1 (2, 2) = o1 (2, 2); o1 ⋆ w2 (2, 2) = o2 (a number);
    cost C = (o2 - y)^2. (Use ``cnnlib.exercises.ch03.seed001_forward`` for the forward pass
    if you like.) Notebook 03, section 3.7.
    """
    rng = _rng()
    cases = []
    for k in range(3):
        i = rng.integers(-3, 4, size=(3, 3)).astype(float)
        w1 = rng.integers(-2, 3, size=(2, 2)).astype(float)
        w2 = rng.integers(-2, 3, size=(2, 2)).astype(float)
        w1[0, 0], w2[0, 1] = 1.5, -2.5  # never symmetric
        y = float(rng.integers(-5, 6))
        dw1, dw2 = _seed001_grads(i, w1, w2, y)
        hints = {
            "this is the question's formula: (sum of inputs) × (sum of w2) × 2(o2 − y) multiplies two sums; "
            "the chain rule sums products, one per output that w1 touched": (_asker_dw1(i, w1, w2, y), dw2),
        }
        cases.append(
            Case(f"random network {k + 1}", (i, w1, w2, y), (dw1, dw2), names=("dC_dw1", "dC_dw2"), hints=hints)
        )
    return run_cases(
        "check_seed001",
        my_seed001_grads,
        cases,
        stub_hint="Fill in my_seed001_grads(i, w1, w2, y) so that it returns (dC_dw1, dC_dw2).",
        forbidden=cnnlib_backward("conv"),
    )


def check_conv_dW(my_conv_dW) -> Verdict:
    """Exercise 3.3. ``my_conv_dW(X, dZ) -> dW`` for a batch, several channels and filters.

    X (N, C, H, W), dZ (N, F, H_out, W_out) with stride 1 and no padding, so the kernel is
    KH = H - H_out + 1 by KW = W - W_out + 1; return dW (F, C, KH, KW) =
    ``sum_{n,u,v} dZ[n, f, u, v] * X[n, c, u+i, v+j]`` (notebook 03, eq. (2) with the batch).
    """
    rng = _rng()
    specs = [
        ("N=1, C=1, F=1", 1, 1, 1, 5, 5, 3, 3),
        ("N=3 images, C=1, F=1", 3, 1, 1, 4, 4, 2, 2),
        ("N=2, C=3 channels, F=2 filters, non-square", 2, 3, 2, 5, 6, 2, 3),
    ]
    cases = []
    for label, N, C, F, H, Wd, KH, KW in specs:
        X = rng.integers(-4, 5, size=(N, C, H, Wd)).astype(float)
        W = np.zeros((F, C, KH, KW))
        dZ = rng.standard_normal((N, F, H - KH + 1, Wd - KW + 1)).round(2)
        _, cache = conv2d_forward(X, W, np.zeros(F))
        dW = conv2d_backward(dZ, cache)[1]
        hints = {}
        if N > 1:
            _, cache0 = conv2d_forward(X[:1], W, np.zeros(F))
            hints["sum over the images of the batch too: every image used the same kernel"] = conv2d_backward(
                dZ[:1], cache0
            )[1]
            hints["sum over the batch, do not average (the loss already carries any 1/N)"] = dW / N
        cases.append(Case(label, (X, dZ), dW, hints=hints))
    return run_cases(
        "check_conv_dW",
        my_conv_dW,
        cases,
        stub_hint="Fill in my_conv_dW(X, dZ) so that it returns dW with shape (F, C, KH, KW).",
        forbidden=cnnlib_backward("conv"),
    )
