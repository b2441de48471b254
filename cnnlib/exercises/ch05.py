"""Checkers for the exercises of notebook 05 (seed 000's network, checked).

* :func:`check_sigmoid_deltas` — exercise 5.1: the deltas of a sigmoid layer feeding a
  dense layer, ``δ = (Uᵀ δH) ⊙ σ(1 − σ)`` (seed 000's four deltas);
* :func:`check_kernel_gradient` — exercise 5.2: a kernel's gradient from its input and
  the gradient map at its output (seed 000's ``∂E/∂w``);
* :func:`check_input_gradient` — exercise 5.3: the gradient with respect to the layer's
  input, what a convolutional layer before it needs (seed 000's follow-up question).

Each prints a verdict and returns a :class:`Verdict` (truthy when every case passed); none
raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward
from ._checking import Case, Verdict, cnnlib_backward, run_cases

__all__ = ["check_sigmoid_deltas", "check_kernel_gradient", "check_input_gradient", "SEED000"]

#: Seed 000's numbers (a single image, a single channel), for the exercises and the notebook.
SEED000 = {
    "o": np.array(
        [
            [0.51, 0.90, 0.88, 0.84, 0.05],
            [0.40, 0.62, 0.22, 0.59, 0.10],
            [0.11, 0.20, 0.74, 0.33, 0.14],
            [0.47, 0.01, 0.85, 0.70, 0.09],
            [0.76, 0.19, 0.72, 0.17, 0.57],
        ]
    ),  # (5, 5): the input of the convolution
    "d": np.array(
        [
            [0.0, 0.0, 0.0686, 0.0],
            [0.0, 0.0364, 0.0, 0.0],
            [0.0, 0.0467, 0.0, 0.0],
            [0.0, 0.0, 0.0, -0.0681],
        ]
    ),  # (4, 4): the gradient map at the convolution's output, as printed in the seed
    "dH": np.array([0.25, -0.15]),  # (2,): δH1, δH2
    "U": np.array([[0.61, 0.82, 0.96, -1.00], [0.02, -0.50, 0.23, 0.17]]),  # (2, 4): row m feeds H_{m+1}
    "sigmoid": np.array([0.58, 0.57, 0.65, 0.55]),  # (4,): the sigmoid outputs, row by row
    "w00": -0.13,
}


def _rng():
    return np.random.default_rng(5005)


def _fresh(case_args):
    return tuple(np.array(a, dtype=float) for a in case_args)


def check_sigmoid_deltas(my_sigmoid_deltas) -> Verdict:
    """Exercise 5.1. ``my_sigmoid_deltas(A, U, dH) -> delta`` (notebook 05, eq. 5.2).

    A sigmoid layer with outputs A (Q,) feeds a dense layer with weights U (J, Q) whose
    J units have deltas dH = ∂E/∂(net input) (J,). Return the deltas of the sigmoid layer's
    net inputs, ``delta_k = (sum_m dH_m U[m, k]) * A_k * (1 - A_k)`` (Q,), unrounded.
    """
    rng = _rng()
    s = SEED000
    specs = [("seed 000: two units, four sigmoids", s["sigmoid"], s["U"], s["dH"])]
    for label, J, Q in [("three units, five sigmoids", 3, 5), ("one unit, three sigmoids", 1, 3)]:
        dH = np.round(rng.uniform(-0.5, 0.5, size=J), 3)
        U = np.round(rng.uniform(-1, 1, size=(J, Q)), 2)
        A = np.round(rng.uniform(0.05, 0.95, size=Q), 2)
        specs.append((label, A, U, dH))
    cases = []
    for label, A, U, dH in specs:
        back = dH @ U  # (Q,): Σ_m δH_m U[m, k]
        delta = back * A * (1 - A)
        hints = {
            "the sigmoid's slope σ(1 − σ) is missing: that is ∂E/∂A, not the delta of the net input": back,
            "the sigmoid's slope is σ(1 − σ), not σ": back * A,
            "the sigmoid's slope is σ(1 − σ), not (1 − σ)": back * (1 - A),
            "keep full precision: your deltas are cut to four decimals (seed 000's map does this)": np.trunc(
                delta * 1e4
            )
            / 1e4,
            "keep full precision: your deltas are rounded to four decimals": np.round(delta, 4),
        }
        cases.append(Case(label, _fresh((A, U, dH)), delta, hints=hints))
    return run_cases(
        "check_sigmoid_deltas",
        my_sigmoid_deltas,
        cases,
        stub_hint="Fill in my_sigmoid_deltas(A, U, dH) so that it returns the Q deltas.",
        forbidden=cnnlib_backward("activations", "dense"),
    )


def _dW(o, d):
    """Reference: o (H, W), d (Ho, Wo) -> dW (H-Ho+1, W-Wo+1) from cnnlib.conv2d_backward."""
    KH, KW = o.shape[0] - d.shape[0] + 1, o.shape[1] - d.shape[1] + 1
    _, cache = conv2d_forward(o[None, None], np.zeros((1, 1, KH, KW)), np.zeros(1))
    return conv2d_backward(d[None, None], cache)[1][0, 0]


def _dX(W, d):
    """Reference: d (Ho, Wo), W (KH, KW) -> dX (Ho+KH-1, Wo+KW-1) from cnnlib.conv2d_backward."""
    H, Wd = d.shape[0] + W.shape[0] - 1, d.shape[1] + W.shape[1] - 1
    _, cache = conv2d_forward(np.zeros((1, 1, H, Wd)), W[None, None], np.zeros(1))
    return conv2d_backward(d[None, None], cache)[0][0, 0]


def _specs_dW():
    rng = _rng()
    s = SEED000
    specs = [("seed 000: its 5×5 input and its printed 4×4 map", s["o"], s["d"])]
    for label, H, Wd, Ho, Wo in [
        ("6×6 input, 4×4 map (a 3×3 kernel)", 6, 6, 4, 4),
        ("non-square: 5×7 input, 3×4 map (a 3×4 kernel)", 5, 7, 3, 4),
    ]:
        o = np.round(rng.uniform(0, 1, size=(H, Wd)), 2)
        d = np.round(rng.uniform(-0.1, 0.1, size=(Ho, Wo)), 4)
        d[0, 0] = 0.0789  # never symmetric under a half-turn
        specs.append((label, o, d))
    return specs


def check_kernel_gradient(my_kernel_gradient) -> Verdict:
    """Exercise 5.2. ``my_kernel_gradient(o, d) -> dW`` (notebook 05, eq. 5.4).

    o (H, W) is the convolution's input and d (Ho, Wo) = ∂E/∂x the gradient map at its
    output (stride 1, no padding), so the kernel is ``(H - Ho + 1) × (W - Wo + 1)``;
    ``dW[m, n] = sum_{i,j} d[i, j] * o[i + m, j + n]``.
    """
    cases = []
    for label, o, d in _specs_dW():
        dW = _dW(o, d)
        hints = {
            "this is a true convolution of o with d (scipy's convolve2d rotates d by 180°); the kernel "
            "gradient is the cross-correlation, correlate2d(o, d, 'valid')": _dW(o, d[::-1, ::-1].copy()),
        }
        if dW.shape[0] == dW.shape[1]:
            hints["your kernel gradient is transposed: dW[m, n] pairs row offset m with column offset n"] = dW.T
        cases.append(Case(label, _fresh((o, d)), dW, hints=hints))
    return run_cases(
        "check_kernel_gradient",
        my_kernel_gradient,
        cases,
        stub_hint="Fill in my_kernel_gradient(o, d) so that it returns dW with the kernel's shape.",
        forbidden=cnnlib_backward("conv"),
    )


def check_input_gradient(my_input_gradient) -> Verdict:
    """Exercise 5.3. ``my_input_gradient(W, d) -> dX`` (notebook 05, eq. 5.7).

    W (KH, KW) is the convolution's kernel (stride 1, no padding) and d (Ho, Wo) = ∂E/∂x
    the gradient map at its output; return ∂E/∂o (Ho + KH - 1, Wo + KW - 1), the full convolution of d with W:
    ``dX[p, q] = sum_{m,n} d[p - m, q - n] * W[m, n]`` (terms outside d are 0).
    """
    rng = _rng()
    s = SEED000
    W_c = np.array([[-0.13, 0.16], [-0.51, 0.61]])  # notebook 05's kernel consistent with the seed's numbers
    specs = [("seed 000's map with notebook 05's consistent kernel W_c", W_c, s["d"])]
    for label, Ho, Wo, KH, KW in [("3×3 map, 3×3 kernel", 3, 3, 3, 3), ("non-square: 2×4 map, 3×2 kernel", 2, 4, 3, 2)]:
        d = np.round(rng.uniform(-1, 1, size=(Ho, Wo)), 2)
        W = np.round(rng.uniform(-1, 1, size=(KH, KW)), 2)
        W[0, 0] = 1.25  # never symmetric under a half-turn
        specs.append((label, W, d))
    cases = []
    for label, W, d in specs:
        dX = _dX(W, d)
        hints = {
            "the kernel must be rotated by 180° here: ∂E/∂o is the full CONVOLUTION of d with W "
            "(convolve2d(d, W, 'full')); yours is the full cross-correlation": _dX(W[::-1, ::-1].copy(), d),
        }
        cases.append(Case(label, _fresh((W, d)), dX, hints=hints))
    return run_cases(
        "check_input_gradient",
        my_input_gradient,
        cases,
        stub_hint="Fill in my_input_gradient(W, d) so that it returns dX with shape (Ho + KH - 1, Wo + KW - 1).",
        forbidden=cnnlib_backward("conv"),
    )
