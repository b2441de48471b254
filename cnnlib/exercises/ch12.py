"""Checkers for the exercises of notebook 12 (transposed convolution, upsampling, GAP, depthwise-separable).

* :func:`check_transpose_size` — exercise 12.1: the output size of a transposed convolution,
  ``(H - 1)·S - 2·pad + D·(K - 1) + output_padding + 1`` (eq. 12.2);
* :func:`check_conv_transpose` — exercise 12.2: a one-channel transposed convolution by
  stamps (eq. 12.1), stride S, no padding;
* :func:`check_bilinear_matrix` — exercise 12.3: the (s·L, L) bilinear interpolation matrix
  of ``interpolate(..., align_corners=False)`` (eq. 12.8);
* :func:`check_separable_costs` — exercise 12.4: parameters and multiply-adds of a standard
  K×K convolution and of its depthwise-separable replacement (§12.6).

Each prints a verdict and returns a :class:`Verdict` (truthy when every case passed); none
raises because of your answer.
"""

from __future__ import annotations

import numpy as np

from ..transposed import conv_transpose2d_forward, conv_transpose_output_size
from ..upsample import interpolation_matrix
from ._checking import Case, Verdict, is_int, run_cases

__all__ = ["check_transpose_size", "check_conv_transpose", "check_bilinear_matrix", "check_separable_costs"]


def _rng():
    return np.random.default_rng(1212)


# --------------------------------------------------------------------------- 12.1 output size


def check_transpose_size(my_transpose_size) -> Verdict:
    """Exercise 12.1. ``my_transpose_size(H, K, S, pad, op, D) -> int`` (notebook 12, eq. 12.2).

    The arguments in the order of ``cnnlib.conv_transpose_output_size``: input size H,
    kernel size K, stride S, padding pad, output padding op, dilation D.
    """
    grid = [  # (H, K, S, pad, op, D)
        (3, 3, 2, 0, 0, 1),  # -> 7
        (3, 3, 2, 1, 1, 1),  # the decoder's 'doubling' setting -> 6
        (4, 4, 2, 1, 0, 1),  # kernel 4, stride 2 -> 8
        (2, 3, 1, 0, 0, 2),  # dilation -> 6
        (5, 2, 3, 1, 2, 1),  # -> 13
        (1, 1, 1, 0, 0, 1),  # -> 1
        (3, 3, 1, 1, 1, 2),  # output_padding below the dilation -> 6
        (6, 5, 2, 2, 1, 1),  # -> 12
    ]
    cases = []
    for H, K, S, pad, op, D in grid:
        expected = conv_transpose_output_size(H, K, S, pad, op, D)
        hints = {
            "output_padding is missing: it adds op rows at the bottom": expected - op,
            "the padding is cropped from both sides: subtract 2·pad, not pad": expected + pad,
            "a dilated kernel spans D·(K - 1) + 1 cells, not K": (H - 1) * S - 2 * pad + K + op,
            "there are H - 1 steps of S between the first and the last input cell, not H": expected + S,
            "that is the convolution's size (eq. 8.1), the other direction": (H + 2 * pad - D * (K - 1) - 1) // S + 1,
        }
        hints = {k: v for k, v in hints.items() if v != expected}
        label = f"H={H}, K={K}, S={S}, pad={pad}, op={op}, D={D}"
        cases.append(Case(label, (H, K, S, pad, op, D), expected, hints=hints, require=is_int))
    return run_cases(
        "check_transpose_size",
        my_transpose_size,
        cases,
        stub_hint="Fill in my_transpose_size(H, K, S, pad, op, D) so that it returns an int.",
    )


# --------------------------------------------------------------------------- 12.2 stamps


def check_conv_transpose(my_conv_transpose) -> Verdict:
    """Exercise 12.2. ``my_conv_transpose(X, W, S) -> Y`` for one channel, no padding (eq. 12.1).

    X (H, W_in), W (K, K), stride S: Y has ``(H - 1)·S + K`` rows and
    ``Y[u·S + i, v·S + j] += X[u, v]·W[i, j]``.
    """
    rng = _rng()
    cases = []
    for H, Win, K, S in [(2, 2, 3, 2), (3, 2, 2, 2), (3, 3, 3, 1), (2, 3, 3, 3), (4, 4, 4, 2), (1, 1, 2, 2)]:
        X = rng.integers(-3, 4, size=(H, Win)).astype(float)
        W = rng.integers(-3, 4, size=(K, K)).astype(float)
        X[0, 0], W[0, -1] = 2.0, 1.0  # never symmetric by accident
        expected = conv_transpose2d_forward(X[None, None], W[None, None], np.zeros(1), stride=S)[0][0, 0]
        flipped = conv_transpose2d_forward(X[None, None], W[None, None, ::-1, ::-1], np.zeros(1), stride=S)[0][0, 0]
        overwrite = np.zeros_like(expected)
        for u in range(H):
            for v in range(Win):
                overwrite[u * S : u * S + K, v * S : v * S + K] = X[u, v] * W
        hints = {
            "the kernel is flipped: a stamp places W[i, j] at (u·S + i, v·S + j), unrotated": flipped,
            "overlapping stamps must add up (+=), not overwrite each other": overwrite,
        }
        hints = {k: v for k, v in hints.items() if not np.allclose(v, expected)}
        cases.append(Case(f"X {H}×{Win}, W {K}×{K}, S={S}", (X, W, S), expected, hints=hints))
    return run_cases(
        "check_conv_transpose",
        my_conv_transpose,
        cases,
        stub_hint="Fill in my_conv_transpose(X, W, S) so that it returns the output Y as an array.",
    )


# --------------------------------------------------------------------------- 12.3 bilinear matrix


def _align_corners(L, s):
    E = np.zeros((L * s, L))
    for x in range(L * s):
        t = x * (L - 1) / (L * s - 1) if L * s > 1 else 0.0
        x0 = min(int(np.floor(t)), L - 1)
        x1 = min(x0 + 1, L - 1)
        E[x, x0] += 1 - (t - x0)
        E[x, x1] += t - x0
    return E


def _unclamped_edges(L, s):
    """Taps from t = (x + 0.5)/s - 0.5 without clamping: a tap outside the input is dropped."""
    E = np.zeros((L * s, L))
    for x in range(L * s):
        t = (x + 0.5) / s - 0.5
        x0 = int(np.floor(t))
        lam = t - x0
        for a, w in ((x0, 1 - lam), (x0 + 1, lam)):
            if 0 <= a < L:
                E[x, a] += w
    return E


def check_bilinear_matrix(my_bilinear_matrix) -> Verdict:
    """Exercise 12.3. ``my_bilinear_matrix(L, s) -> E`` of shape (s·L, L) (notebook 12, eq. 12.8).

    Output row x sits at ``t = (x + 0.5)/s - 0.5`` in input coordinates, clamped at 0; it
    takes ``1 - λ`` of row ``floor(t)`` and ``λ = t - floor(t)`` of the next row (the last row
    when there is no next one). ``upsampled = E @ column``; PyTorch's ``align_corners=False``.
    """
    cases = []
    for L, s in [(3, 2), (4, 2), (2, 3), (5, 4), (1, 2), (4, 1)]:
        expected = interpolation_matrix(L, s, "bilinear")
        hints = {
            "that is align_corners=True (corners on corners); use the cell centres, t = (x + 0.5)/s - 0.5": (
                _align_corners(L, s)
            ),
            "clamp t at 0: the first rows sit left of the first input centre and copy it": _unclamped_edges(L, s),
        }
        hints = {k: v for k, v in hints.items() if not np.allclose(v, expected)}
        cases.append(Case(f"L={L}, s={s}", (L, s), expected, hints=hints))
    return run_cases(
        "check_bilinear_matrix",
        my_bilinear_matrix,
        cases,
        stub_hint="Fill in my_bilinear_matrix(L, s) so that it returns an (s·L, L) array.",
    )


# --------------------------------------------------------------------------- 12.4 costs


def separable_costs(C, F, K, H, W):
    """(params standard, params separable, multiply-adds standard, multiply-adds separable) for 'same' stride 1."""
    p_std = F * C * K * K + F
    p_sep = C * K * K + C + F * C + F  # depthwise K×K with bias, pointwise 1×1 with bias
    m_std = F * C * K * K * H * W
    m_sep = C * K * K * H * W + F * C * H * W
    return p_std, p_sep, m_std, m_sep


def check_separable_costs(my_separable_costs) -> Verdict:
    """Exercise 12.4. ``my_separable_costs(C, F, K, H, W) -> (p_std, p_sep, m_std, m_sep)`` (§12.6).

    A stride-1 'same' convolution from C to F channels on H×W maps with a K×K kernel, against a
    depthwise K×K convolution (groups = C, one filter per channel) followed by a pointwise 1×1
    convolution to F channels. Parameters include the biases; multiply-adds are those of the
    im2col matrix products (chapter 10), one per weight per output position.
    """
    cases = []
    for C, F, K, H, W in [(32, 64, 3, 16, 16), (3, 8, 5, 8, 8), (1, 1, 3, 4, 4), (16, 16, 1, 7, 5), (8, 24, 3, 6, 10)]:
        expected = separable_costs(C, F, K, H, W)
        p_std, p_sep, m_std, m_sep = expected
        hints = {
            "count the biases too: F of them in a convolution, C + F in the separable pair": (
                p_std - F,
                p_sep - C - F,
                m_std,
                m_sep,
            ),
            "a depthwise convolution has one K×K kernel per channel (C·K²), not C·C·K²": (
                p_std,
                C * C * K * K + C + F * C + F,
                m_std,
                C * C * K * K * H * W + F * C * H * W,
            ),
            "multiply-adds: every weight is used once per output position, H·W of them": (
                p_std,
                p_sep,
                F * C * K * K,
                C * K * K + F * C,
            ),
        }
        hints = {k: v for k, v in hints.items() if v != expected}
        cases.append(
            Case(
                f"C={C}, F={F}, K={K}, {H}×{W}",
                (C, F, K, H, W),
                expected,
                names=("p_std", "p_sep", "m_std", "m_sep"),
                hints=hints,
            )
        )
    return run_cases(
        "check_separable_costs",
        my_separable_costs,
        cases,
        stub_hint="Fill in my_separable_costs(C, F, K, H, W) so that it returns four ints.",
    )
