"""Checkers for the exercises of notebook 04 (pooling and activations backward).

* :func:`check_maxpool_backward` — exercise 4.1: max-pooling's backward pass for one 2-D
  map, with ties (first maximum in row-major order wins) and overlapping windows (their
  gradients add up);
* :func:`check_avgpool_kernel` — exercise 4.2: average pooling written as a convolution
  with fixed weights (seed 001's answer), for C channels;
* :func:`check_relu_pool_backward` — exercise 4.3: the gradient through ReLU followed by
  2×2 max-pooling (seed 002's Z1 → A1 → P1), back to Z.

Each prints a verdict and returns a :class:`Verdict` (truthy when every case passed); none
raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..activations import relu_backward, relu_forward
from ..pool import maxpool2d_backward, maxpool2d_forward
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = ["check_maxpool_backward", "check_avgpool_kernel", "check_relu_pool_backward"]


def _rng():
    return np.random.default_rng(4004)


def _maxpool_dA(A, R, S, dP):
    """Reference: A (H, W), dP (Ho, Wo) -> dA (H, W) from cnnlib (notebook 04, eq. 4.2)."""
    _, cache = maxpool2d_forward(A[None, None], size=R, stride=S)
    return maxpool2d_backward(dP[None, None], cache)[0, 0]


def _windows(A, R, S):
    Ho, Wo = (A.shape[0] - R) // S + 1, (A.shape[1] - R) // S + 1
    for u in range(Ho):
        for v in range(Wo):
            yield u, v, A[u * S : u * S + R, v * S : v * S + R]


def _all_ties(A, R, S, dP):
    """The mistake of giving δP to every cell equal to the window's maximum."""
    dA = np.zeros_like(A)
    for u, v, win in _windows(A, R, S):
        dA[u * S : u * S + R, v * S : v * S + R] += dP[u, v] * (win == win.max())
    return dA


def _last_tie(A, R, S, dP):
    """The mistake of letting the *last* maximum in row-major order win (``>=`` in the scan)."""
    dA = np.zeros_like(A)
    for u, v, win in _windows(A, R, S):
        flat = win.reshape(-1)
        k = len(flat) - 1 - int(np.argmax(flat[::-1]))
        i, j = divmod(k, R)
        dA[u * S + i, v * S + j] += dP[u, v]
    return dA


def _overwrite(A, R, S, dP):
    """The mistake of writing ``dA[...] = dP[u, v]`` instead of adding (overlapping windows)."""
    dA = np.zeros_like(A)
    for u, v, win in _windows(A, R, S):
        i, j = divmod(int(np.argmax(win)), R)
        dA[u * S + i, v * S + j] = dP[u, v]
    return dA


def _spread(A, R, S, dP):
    """Average pooling's backward pass, i.e. δP/R² to every cell of the window."""
    dA = np.zeros_like(A)
    for u, v, _ in _windows(A, R, S):
        dA[u * S : u * S + R, v * S : v * S + R] += dP[u, v] / R**2
    return dA


def check_maxpool_backward(my_maxpool_backward) -> Verdict:
    """Exercise 4.1. ``my_maxpool_backward(A, R, S, dP) -> dA`` for one 2-D map, no padding.

    A (H, W), dP (Ho, Wo) with ``Ho = (H - R) // S + 1`` (same for Wo); return dA (H, W):
    each ``dP[u, v]`` goes to the maximum of window (u, v) — the first one in row-major
    order on a tie — and overlapping windows add their gradients (notebook 04, eq. 4.2).
    """
    rng = _rng()
    cases = []
    specs = [
        ("4×4, 2×2 windows, stride 2, no ties", 4, 4, 2, 2, False),
        ("4×4, 2×2 windows, stride 2, with ties", 4, 4, 2, 2, True),
        ("5×5, 3×3 windows, stride 1 (overlapping)", 5, 5, 3, 1, False),
        ("4×6, 2×2 windows, stride 1 (overlapping), with ties", 4, 6, 2, 1, True),
        ("7×5, 3×3 windows, stride 2 (overlapping; last row in no window)", 7, 5, 3, 2, False),
    ]
    for label, H, Wd, R, S, ties in specs:
        if ties:  # small integers: many windows hold their maximum twice
            A = rng.integers(0, 4, size=(H, Wd)).astype(float)
            A[0, 1] = A[1, 0] = 5.0  # the first window certainly has a tie
        else:  # distinct values: no ties anywhere
            A = rng.permutation(H * Wd).reshape(H, Wd) * 0.5 - 3.0
        Ho, Wo = (H - R) // S + 1, (Wd - R) // S + 1
        dP = np.round(rng.uniform(-2, 2, size=(Ho, Wo)), 2)
        dP[dP == 0] = 0.5
        hints = {
            "on a tie only the FIRST maximum in row-major order (smallest row, then column) gets δP; "
            "yours gave it to every tied cell": _all_ties(A, R, S, dP),
            "on a tie the FIRST maximum in row-major order wins; yours picked the last one (use a strict > "
            "when scanning, or np.argmax, which returns the first)": _last_tie(A, R, S, dP),
            "overlapping windows: a cell that wins several windows receives the SUM of their δP "
            "(dA[...] += dP[u, v], not =)": _overwrite(A, R, S, dP),
            "this is average pooling's backward (δP / R² to every cell); max pooling sends δP to the "
            "window's maximum only": _spread(A, R, S, dP),
        }
        cases.append(Case(label, (A, R, S, dP), _maxpool_dA(A, R, S, dP), hints=hints))
    return run_cases(
        "check_maxpool_backward",
        my_maxpool_backward,
        cases,
        stub_hint="Fill in my_maxpool_backward(A, R, S, dP) so that it returns dA with the shape of A.",
        forbidden=cnnlib_backward("pool"),
    )


def _avg_kernel(C, R):
    W = np.zeros((C, C, R, R))  # (F, C, R, R)
    for c in range(C):
        W[c, c] = 1.0 / R**2
    return W


def check_avgpool_kernel(my_avgpool_kernel) -> Verdict:
    """Exercise 4.2. ``my_avgpool_kernel(C, R) -> W`` of shape (C, C, R, R).

    With it, ``conv2d_forward(A, W, np.zeros(C), stride=R)`` equals
    ``avgpool2d_forward(A, size=R)`` for any A with C channels: filter f averages channel f
    and ignores the others, ``W[f, c] = 1/R² if f == c else 0`` (notebook 04, eq. 4.3).
    """
    cases = []
    for C, R in [(1, 2), (1, 3), (3, 2), (2, 3)]:
        W = _avg_kernel(C, R)
        hints = {
            "each weight is 1/R² (an average), not 1 (a sum)": W * R**2,
            "each weight is 1/R² (R² cells in a window), not 1/R": W * R,
        }
        if C > 1:
            hints["filter f must read channel f only (pooling works channel by channel): W[f, c] = 0 for f != c"] = (
                np.full((C, C, R, R), 1.0 / R**2)
            )
            hints["with all channels summed, divide by R² only, and only on the diagonal f == c"] = np.full(
                (C, C, R, R), 1.0 / (C * R**2)
            )
        cases.append(Case(f"C = {C} channel(s), {R}×{R} windows", (C, R), W, hints=hints))
    return run_cases(
        "check_avgpool_kernel",
        my_avgpool_kernel,
        cases,
        stub_hint="Fill in my_avgpool_kernel(C, R) so that it returns W with shape (C, C, R, R).",
    )


def _relu_pool_dZ(Z, dP):
    A, relu_cache = relu_forward(Z[None, None])
    _, pool_cache = maxpool2d_forward(A, size=2, stride=2)
    dA = maxpool2d_backward(dP[None, None], pool_cache)
    return relu_backward(dA, relu_cache)[0, 0]


def check_relu_pool_backward(my_relu_pool_backward) -> Verdict:
    """Exercise 4.3. ``my_relu_pool_backward(Z, dP) -> dZ`` for ``P = maxpool_2x2(ReLU(Z))``.

    Z (H, W) with H, W even; dP (H/2, W/2); return dZ = ∂L/∂Z (H, W): route dP to each
    window's maximum of A = ReLU(Z) (first maximum on a tie, eq. 4.2), then multiply by
    the ReLU mask ``Z > 0`` (slope 0 at Z = 0, eq. 4.6) — seed 002's Z1 → A1 → P1.
    """
    rng = _rng()
    cases = []
    specs = [
        ("4×4, mixed signs", 4, 4),
        ("4×6, a window of negatives and one with a zero maximum", 4, 6),
        ("6×6, mixed signs", 6, 6),
    ]
    for k, (label, H, Wd) in enumerate(specs):
        Z = rng.permutation(H * Wd).reshape(H, Wd) * 0.5 - 0.25 * H * Wd + 0.25  # distinct, none exactly 0
        if k == 1:
            Z[0:2, 0:2] = [[-1.5, -0.5], [-2.0, -3.0]]  # all negative: A = 0 there
            Z[0:2, 2:4] = [[0.0, -1.0], [-0.5, -2.5]]  # ... and one whose winner is an exact 0 (masked)
        dP = np.round(rng.uniform(-2, 2, size=(H // 2, Wd // 2)), 2)
        dP[dP == 0] = 0.75
        dZ = _relu_pool_dZ(Z, dP)
        _, cache = maxpool2d_forward(np.maximum(Z, 0)[None, None], size=2, stride=2)
        dA = maxpool2d_backward(dP[None, None], cache)[0, 0]
        hints = {
            "the ReLU mask is missing: a window whose inputs are all <= 0 passes no gradient back to Z": dA,
            "at Z = 0 the ReLU's slope is taken as 0 (mask Z > 0, not Z >= 0)": dA * (Z >= 0),
        }
        cases.append(Case(label, (Z, dP), dZ, hints=hints))
    return run_cases(
        "check_relu_pool_backward",
        my_relu_pool_backward,
        cases,
        stub_hint="Fill in my_relu_pool_backward(Z, dP) so that it returns dZ with the shape of Z.",
        forbidden=cnnlib_backward("pool", "activations"),
    )
