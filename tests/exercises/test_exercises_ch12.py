"""cnnlib.exercises.ch12 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch12

# ---------------------------------------------------------------- right answers (as in 12_solutions)


def transpose_size_right(H, K, S, pad, op, D):
    return (H - 1) * S - 2 * pad + D * (K - 1) + op + 1


def conv_transpose_right(X, W, S):
    H, Win = X.shape
    K = W.shape[0]
    Y = np.zeros(((H - 1) * S + K, (Win - 1) * S + K))
    for u in range(H):
        for v in range(Win):
            Y[u * S : u * S + K, v * S : v * S + K] += X[u, v] * W
    return Y


def conv_transpose_by_full_convolution(X, W, S):
    """Chapter 08's route: dilate X by S, then a full convolution with W."""
    Xd = np.zeros((S * (X.shape[0] - 1) + 1, S * (X.shape[1] - 1) + 1))
    Xd[::S, ::S] = X
    return signal.convolve2d(Xd, W, mode="full")


def bilinear_right(L, s):
    E = np.zeros((L * s, L))
    for x in range(L * s):
        t = max((x + 0.5) / s - 0.5, 0.0)
        x0 = int(np.floor(t))
        x1 = min(x0 + 1, L - 1)
        E[x, x0] += 1 - (t - x0)
        E[x, x1] += t - x0
    return E


def costs_right(C, F, K, H, W):
    return F * C * K * K + F, C * K * K + C + F * C + F, F * C * K * K * H * W, (C * K * K + F * C) * H * W


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "check, right",
    [
        (ch12.check_transpose_size, transpose_size_right),
        (ch12.check_conv_transpose, conv_transpose_right),
        (ch12.check_conv_transpose, conv_transpose_by_full_convolution),
        (ch12.check_bilinear_matrix, bilinear_right),
        (ch12.check_separable_costs, costs_right),
    ],
)
def test_right_answers_pass(check, right, capsys):
    assert check(right)
    assert "✓ all" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check",
    [ch12.check_transpose_size, ch12.check_conv_transpose, ch12.check_bilinear_matrix, ch12.check_separable_costs],
)
def test_stubs_are_not_attempted_yet(check, capsys):
    assert not check(lambda *args: None)
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check, wrong, hint",
    [
        (
            ch12.check_transpose_size,
            lambda H, K, S, pad, op, D: (H - 1) * S - 2 * pad + D * (K - 1) + 1,
            "output_padding",
        ),
        (ch12.check_transpose_size, lambda H, K, S, pad, op, D: (H - 1) * S - pad + D * (K - 1) + op + 1, "2·pad"),
        (ch12.check_transpose_size, lambda H, K, S, pad, op, D: (H + 2 * pad - D * (K - 1) - 1) // S + 1, "eq. 8.1"),
        (
            ch12.check_transpose_size,
            lambda H, K, S, pad, op, D: float(transpose_size_right(H, K, S, pad, op, D)),
            "int",
        ),
        (ch12.check_conv_transpose, lambda X, W, S: conv_transpose_right(X, W[::-1, ::-1], S), "flipped"),
        (ch12.check_bilinear_matrix, ch12._align_corners, "align_corners=True"),
        (ch12.check_bilinear_matrix, ch12._unclamped_edges, "clamp t at 0"),
        (
            ch12.check_separable_costs,
            lambda C, F, K, H, W: (F * C * K * K, C * K * K + F * C, *costs_right(C, F, K, H, W)[2:]),
            "biases",
        ),
        (
            ch12.check_separable_costs,
            lambda C, F, K, H, W: (*costs_right(C, F, K, H, W)[:2], F * C * K * K, C * K * K + F * C),
            "H·W",
        ),
    ],
)
def test_typical_mistakes_are_named(check, wrong, hint, capsys):
    assert not check(wrong)
    out = capsys.readouterr().out
    assert "✗" in out and hint in out, out


def test_overwriting_stamps_are_named(capsys):
    def overwrite(X, W, S):
        Y = np.zeros(((X.shape[0] - 1) * S + W.shape[0], (X.shape[1] - 1) * S + W.shape[1]))
        for u in range(X.shape[0]):
            for v in range(X.shape[1]):
                Y[u * S : u * S + W.shape[0], v * S : v * S + W.shape[1]] = X[u, v] * W
        return Y

    assert not ch12.check_conv_transpose(overwrite)
    assert "add up" in capsys.readouterr().out


def test_errors_and_modified_inputs_are_reported(capsys):
    def raises(X, W, S):
        raise IndexError("boom")

    assert not ch12.check_conv_transpose(raises)
    assert "raised IndexError: boom" in capsys.readouterr().out

    def modifies(X, W, S):
        X *= 2
        return conv_transpose_right(X / 2, W, S)

    assert not ch12.check_conv_transpose(modifies)
    assert "modified its input" in capsys.readouterr().out
    assert not ch12.check_bilinear_matrix("not a function")
