"""Checkers for the exercises of notebook 01 (chain rule, dense layer, sigmoid and softmax).

* :func:`check_dense_backward` — exercise 1.1: the dense layer's backward pass for a batch,
  ``my_dense_backward(p, U, ds) -> (dp, dU, dc)`` (notebook 01, eq. 1.2);
* :func:`check_softmax_cross_entropy` — exercise 1.2: softmax + cross-entropy, averaged over
  the batch, with its gradient, ``my_softmax_cross_entropy(s, y) -> (L, ds)`` (eqs. 1.3-1.5);
* :func:`check_bce_finite_differences` — exercise 1.3: the gradient of seed 002's
  sigmoid + binary cross-entropy found by central differences,
  ``my_bce_fd_gradient(Z2, Y, h) -> dZ2``, which must come out as ``(A2 - Y) / N`` (eq. 1.8).

Each prints a verdict and returns True or False; none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..activations import sigmoid
from ..dense import dense_backward, dense_forward
from ..losses import softmax, softmax_cross_entropy
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = ["check_dense_backward", "check_softmax_cross_entropy", "check_bce_finite_differences"]


def _rng():
    return np.random.default_rng(2001)


# --------------------------------------------------------------------------- exercise 1.1


def _dense_reference(p, U, ds):
    """(dp, dU, dc) from cnnlib.dense_backward (the bias value does not enter the gradients)."""
    _, cache = dense_forward(p, U, np.zeros(U.shape[0]))
    return dense_backward(ds, cache)


def check_dense_backward(my_dense_backward) -> Verdict:
    """Exercise 1.1. ``my_dense_backward(p, U, ds) -> (dp, dU, dc)`` (notebook 01, eq. 1.2).

    The forward pass is ``s = p @ U.T + c`` with p (N, Q), U (M, Q), c (M,); ``ds`` = ∂L/∂s
    is (N, M). The answer: dp (N, Q) = ds U, dU (M, Q) = dsᵀ p (summed over the batch),
    dc (M,) = ds summed over the batch.
    """
    rng = _rng()
    specs = [
        ("one sample: N=1, Q=3 inputs, M=2 outputs", 1, 3, 2),
        ("a batch: N=4, Q=3, M=2", 4, 3, 2),
        ("seed 002's output unit: N=5 images, Q=4 features, M=1", 5, 4, 1),
        ("square U: N=3, Q=M=3 (a transpose no longer changes the shape)", 3, 3, 3),
    ]
    cases = []
    for label, N, K, M in specs:
        p = rng.integers(-3, 4, size=(N, K)).astype(float)
        U = rng.integers(-3, 4, size=(M, K)).astype(float)
        U[0, -1] = 5.0  # never symmetric
        ds = np.round(rng.standard_normal((N, M)), 2)
        dp, dU, dc = _dense_reference(p, U, ds)
        hints = {
            "dU must have U's shape (M, Q): dU = dsᵀ p (ds.T @ p), not pᵀ ds": (dp, dU.T, dc),
            "dc is the SUM of ds over the batch (any 1/N is already inside ds)": (dp, dU, ds.mean(axis=0)),
            "dU is the sum over the batch of the outer products ds_nᵀ p_n: do not divide by N again": (dp, dU / N, dc),
            "dc must have shape (M,), one entry per output: sum ds over the batch axis (axis 0)": (dp, dU, ds),
        }
        if K == M:  # only a square U lets ds @ U.T through with the right shape
            hints["dp = ds U (ds @ U): row n of dp is Σ_i ds[n, i] U[i, :], no transpose of U"] = (ds @ U.T, dU, dc)
        cases.append(Case(label, (p, U, ds), (dp, dU, dc), names=("dp", "dU", "dc"), hints=hints))
    return run_cases(
        "check_dense_backward",
        my_dense_backward,
        cases,
        stub_hint="Fill in my_dense_backward(p, U, ds) so that it returns (dp, dU, dc).",
        forbidden=cnnlib_backward("dense"),
    )


# --------------------------------------------------------------------------- exercise 1.2


def check_softmax_cross_entropy(my_softmax_cross_entropy) -> Verdict:
    """Exercise 1.2. ``my_softmax_cross_entropy(s, y) -> (L, ds)`` (notebook 01, eqs. 1.3-1.5).

    s (N, M) scores, y (N,) integer labels in 0..M-1. L is the cross-entropy of softmax(s)
    averaged over the N samples, ``ds = (ŷ - onehot(y)) / N``. The last case has scores near
    ±1000, where ``np.exp(s)`` overflows: subtract each row's maximum first.
    """
    rng = _rng()
    s1 = np.array([[2.0, 1.0, 0.1]])
    s2 = np.round(rng.standard_normal((4, 5)) * 2, 2)
    s3 = np.array([[0.5, -1.5], [2.0, 2.0], [-0.3, 0.8]])
    s4 = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -999.0]])
    specs = [
        ("one sample, M=3 classes, label 0", s1, np.array([0])),
        ("a batch: N=4, M=5", s2, rng.integers(0, 5, size=4)),
        ("two classes, N=3 (one tie)", s3, np.array([1, 0, 1])),
        ("scores near ±1000 (np.exp overflows: subtract each row's maximum first)", s4, np.array([1, 2])),
    ]
    cases = []
    for label, s, y in specs:
        N, M = s.shape
        L, ds = softmax_cross_entropy(s, y)
        yhat = softmax(s)
        hints = {
            "ds is missing the factor 1/N: L is the MEAN over the batch, so its gradient is (ŷ - y)/N": (L, ds * N),
            "you summed over the batch: L and ds should be averaged (divide by N)": (L * N, ds * N),
            "the sign of ds is flipped: ∂L/∂s = ŷ - y, not y - ŷ": (L, -ds),
            "ds should be ŷ - y: subtract the one-hot labels from the softmax": (L, yhat / N),
        }
        if N == 1:  # the 1/N hints coincide with the right answer
            hints = {k: v for k, v in hints.items() if "1/N" not in k and "divide by N" not in k}
        cases.append(Case(label, (s, y), (L, ds), names=("L", "ds"), hints=hints))
    return run_cases(
        "check_softmax_cross_entropy",
        my_softmax_cross_entropy,
        cases,
        stub_hint="Fill in my_softmax_cross_entropy(s, y) so that it returns (L, ds).",
        forbidden=cnnlib_backward("softmax_cross_entropy"),
    )


# --------------------------------------------------------------------------- exercise 1.3


def _bce_of_logits(Z2, Y):
    """Batch-averaged binary cross-entropy of σ(Z2) against Y (moderate Z2: the plain formula is exact enough)."""
    A2 = sigmoid(Z2)
    return float(-np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / Z2.shape[0])


def _one_sided(Z2, Y, h):
    """Forward differences (f(z + h) - f(z)) / h, entry by entry: the answer a one-sided difference gives."""
    g = np.zeros_like(Z2)
    f0 = _bce_of_logits(Z2, Y)
    for i in range(Z2.size):
        Zp = Z2.copy()
        Zp.flat[i] += h
        g.flat[i] = (_bce_of_logits(Zp, Y) - f0) / h
    return g


def check_bce_finite_differences(my_bce_fd_gradient) -> Verdict:
    """Exercise 1.3. ``my_bce_fd_gradient(Z2, Y, h) -> dZ2`` by central differences (notebook 01, eq. 1.8).

    Z2 and Y are (N, 1) (seed 002's output logits and labels). L is the batch-averaged
    binary cross-entropy of A2 = σ(Z2):
    ``L = -(1/N) Σ_n [Y_n log A2_n + (1 - Y_n) log(1 - A2_n)]``. Return, for every entry of
    Z2, ``(L(Z2 + h e_n) - L(Z2 - h e_n)) / (2h)``. The checker compares with the derived
    ``(A2 - Y) / N``.
    """
    rng = _rng()
    specs = [
        ("one image, Y = 1", np.array([[0.4]]), np.array([[1.0]])),
        ("four images", np.round(rng.standard_normal((4, 1)), 2), np.array([[1.0], [0.0], [0.0], [1.0]])),
        ("confident predictions: Z2 = ±4", np.array([[4.0], [-4.0], [3.5]]), np.array([[1.0], [1.0], [0.0]])),
    ]
    cases = []
    h = 1e-5
    for label, Z2, Y in specs:
        N = Z2.shape[0]
        derived = (sigmoid(Z2) - Y) / N  # eq. 1.8, batch-averaged
        hints = {
            "that is a one-sided (forward) difference: use L(z + h) - L(z - h), divided by 2h": _one_sided(Z2, Y, h),
            "divide by 2h, the distance between z - h and z + h": 2 * derived,
            "average the loss over the batch (divide the sum by N)": derived * N,
            "the sign is flipped: the difference is L(z + h) - L(z - h)": -derived,
        }
        if N == 1:
            hints.pop("average the loss over the batch (divide the sum by N)")
        cases.append(Case(label, (Z2, Y, h), derived, hints=hints))
    verdict = run_cases(
        "check_bce_finite_differences",
        my_bce_fd_gradient,
        cases,
        stub_hint="Fill in my_bce_fd_gradient(Z2, Y, h) so that it returns an array shaped like Z2.",
    )
    if not verdict:
        return verdict
    extra = (
        "  Your finite differences match (A2 - Y)/N in every case: the sigmoid's slope A2(1 - A2)\n"
        "  cancels the denominators of the cross-entropy's derivative (eq. 1.8)."
    )
    print(extra)
    return Verdict(True, verdict.message + "\n" + extra)
