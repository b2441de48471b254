"""Checkers for the exercises of notebook 02 (convolution forward).

* :func:`check_conv_forward` — exercise 2.1: a multi-channel convolution forward pass
  (deep-learning style, i.e. cross-correlation) for one image, with bias;
* :func:`check_output_size` — exercise 2.2: the output size with padding and stride;
* :func:`check_conv_matrix` — exercise 2.3: the convolution as a tied, mostly-zero
  weight matrix (seed 001's answer).

Each prints a verdict and returns True or False; none raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..conv import conv2d_forward, conv_output_size
from ..convmatrix import conv2d_as_matrix
from ._checking import Case, Verdict, is_int, run_cases

__all__ = ["check_conv_forward", "check_output_size", "check_conv_matrix"]


def _rng():
    return np.random.default_rng(2002)


def _z(X, W, b):
    """Reference: X (C, H, W), W (F, C, KH, KW), b (F,) -> Z (F, Ho, Wo)."""
    return conv2d_forward(X[None], W, b)[0][0]


def check_conv_forward(my_conv_forward) -> Verdict:
    """Exercise 2.1. ``my_conv_forward(X, W, b) -> Z`` for one image, stride 1, no padding.

    X (C, H, W), W (F, C, KH, KW), b (F,)  ->  Z (F, H-KH+1, W-KW+1), with
    ``Z[f, u, v] = sum_{c,i,j} W[f, c, i, j] * X[c, u+i, v+j] + b[f]`` (notebook 02, eq. 2.3).
    """
    rng = _rng()
    specs = [
        ("1 channel, 1 filter, 3×3 kernel on 5×5", 1, 1, 5, 5, 3, 3),
        ("non-square 4×6 input, 2×3 kernel", 1, 1, 4, 6, 2, 3),
        ("3 channels, 2 filters, with bias", 3, 2, 6, 5, 3, 2),
        ("kernel as large as the input", 2, 3, 3, 4, 3, 4),
    ]
    cases = []
    for label, C, F, H, Wd, KH, KW in specs:
        X = rng.integers(-4, 5, size=(C, H, Wd)).astype(float)
        W = rng.integers(-3, 4, size=(F, C, KH, KW)).astype(float)
        W[..., 0, 0] += 5.0  # never symmetric: a flipped kernel gives a different answer
        b = rng.integers(-3, 4, size=F).astype(float) if F > 1 or C > 1 else np.array([1.5])
        Z = _z(X, W, b)
        hints = {
            "your result equals a true convolution (kernel rotated by 180°); deep-learning libraries and "
            "this book compute the cross-correlation, without the flip": _z(X, W[..., ::-1, ::-1].copy(), b),
            "the bias is missing: add b[f] to every position of filter f": _z(X, W, 0 * b),
        }
        cases.append(Case(label, (X, W, b), Z, hints=hints))
    return run_cases(
        "check_conv_forward",
        my_conv_forward,
        cases,
        stub_hint="Fill in my_conv_forward(X, W, b) so that it returns Z with shape (F, H-KH+1, W-KW+1).",
    )


def check_output_size(my_output_size) -> Verdict:
    """Exercise 2.2. ``my_output_size(H, K, S, pad) -> int``: ``floor((H + 2·pad - K) / S) + 1``.

    Notebook 02, eq. 2.4.
    """
    grid = [  # (H, K, S, pad)
        (5, 2, 1, 0),  # seed 000: 5×5 input, 2×2 kernel -> 4
        (6, 3, 1, 0),  # seed 002: 6×6 input, 3×3 kernel -> 4
        (3, 2, 1, 0),  # seed 001: 3×3 input, 2×2 kernel -> 2
        (7, 3, 1, 1),  # 'same' padding
        (7, 3, 2, 0),
        (8, 3, 2, 0),  # (H - K) not a multiple of S: the floor matters
        (28, 5, 3, 2),
        (4, 4, 1, 0),  # kernel as large as the input
        (1, 3, 1, 1),
        (10, 1, 4, 0),
    ]
    cases = []
    for H, K, S, pad in grid:
        expected = conv_output_size(H, K, S, pad)
        hints = {
            "use floor((H + 2·pad - K) / S) + 1: a window that would run past the padded edge is not used": (
                H + 2 * pad - K
            )
            / S
            + 1,
            "the padding pad is added on both sides, so the padded size is H + 2·pad": (H + pad - K) // S + 1,
        }
        cases.append(Case(f"H={H}, K={K}, S={S}, pad={pad}", (H, K, S, pad), expected, hints=hints, require=is_int))
    return run_cases(
        "check_output_size",
        my_output_size,
        cases,
        stub_hint="Fill in my_output_size(H, K, S, pad) so that it returns an int.",
    )


def check_conv_matrix(my_conv_matrix) -> Verdict:
    """Exercise 2.3. ``my_conv_matrix(W, H, W_in) -> T`` with ``vec(Z) = T @ vec(X)`` (notebook 02, eq. 2.5).

    W (KH, KW) one kernel; X (H, W_in); T has shape ((H-KH+1)*(W_in-KW+1), H*W_in), rows and
    columns in C (row-major) order: row ``u*Wo + v`` is output Z[u, v], column ``r*W_in + k``
    is input X[r, k].
    """
    rng = _rng()
    specs = [
        ("seed 001: 2×2 kernel on a 3×3 input", 2, 2, 3, 3),
        ("3×3 kernel on a 5×5 input", 3, 3, 5, 5),
        ("non-square: 2×3 kernel on a 4×5 input", 2, 3, 4, 5),
        ("1×1 kernel on a 2×3 input", 1, 1, 2, 3),
    ]
    cases = []
    for label, KH, KW, H, Wd in specs:
        W = rng.integers(1, 9, size=(KH, KW)).astype(float)
        W[0, 0] = 10.0
        T, _ = conv2d_as_matrix(W, (H, Wd))
        hints = {
            "each row should hold the kernel as it is, not rotated by 180° (cross-correlation)": conv2d_as_matrix(
                W[::-1, ::-1].copy(), (H, Wd)
            )[0],
        }
        if T.shape[0] != T.shape[1]:
            hints["rows are outputs and columns are inputs: you returned the transpose"] = T.T
        cases.append(Case(label, (W, H, Wd), T, hints=hints))
    return run_cases(
        "check_conv_matrix",
        my_conv_matrix,
        cases,
        stub_hint="Fill in my_conv_matrix(W, H, W_in) so that it returns the ((H-KH+1)*(W_in-KW+1), H*W_in) matrix.",
    )
