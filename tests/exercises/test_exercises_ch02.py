"""cnnlib.exercises.ch02 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch02

# ---------------------------------------------------------------- right answers (as in 02_solutions)


def conv_forward_right(X, W, b):
    F, C, KH, KW = W.shape
    _, H, Wd = X.shape
    Z = np.zeros((F, H - KH + 1, Wd - KW + 1))
    for f in range(F):
        for u in range(H - KH + 1):
            for v in range(Wd - KW + 1):
                Z[f, u, v] = np.sum(W[f] * X[:, u : u + KH, v : v + KW]) + b[f]
    return Z


def output_size_right(H, K, S, pad):
    return (H + 2 * pad - K) // S + 1


def conv_matrix_right(W, H, Wd):
    KH, KW = W.shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    M = np.zeros((Ho * Wo, H * Wd))
    for u in range(Ho):
        for v in range(Wo):
            for i in range(KH):
                for j in range(KW):
                    M[u * Wo + v, (u + i) * Wd + (v + j)] = W[i, j]
    return M


# ---------------------------------------------------------------- wrong answers


def conv_forward_flipped(X, W, b):
    return np.stack(
        [sum(signal.convolve2d(X[c], W[f, c], "valid") for c in range(X.shape[0])) + b[f] for f in range(W.shape[0])]
    )


def conv_forward_no_bias(X, W, b):
    return conv_forward_right(X, W, np.zeros_like(b))


def conv_forward_first_channel(X, W, b):
    return conv_forward_right(X[:1], W[:, :1], b)


def conv_forward_wrong_shape(X, W, b):
    return conv_forward_right(X, W, b)[0]


def conv_forward_raises(X, W, b):
    return X @ W  # shape error inside the reader's code


def conv_forward_mutates(X, W, b):
    X += 1.0
    return conv_forward_right(X - 1.0, W, b)


def stub(*args):
    return None


def output_size_no_floor(H, K, S, pad):
    return (H + 2 * pad - K) / S + 1


def output_size_one_side(H, K, S, pad):
    return (H + pad - K) // S + 1


def output_size_float(H, K, S, pad):
    return float((H + 2 * pad - K) // S + 1)


def conv_matrix_transposed(W, H, Wd):
    return conv_matrix_right(W, H, Wd).T


def conv_matrix_flipped(W, H, Wd):
    return conv_matrix_right(W[::-1, ::-1], H, Wd)


def test_verdict_is_truthy_and_silent_in_ipython(capsys):
    verdict = ch02.check_output_size(output_size_right)
    assert verdict and verdict.passed and "✓" in verdict.message
    assert repr(verdict) == "Verdict(passed=True)"
    assert verdict._ipython_display_() is None  # IPython shows nothing more than the printed line
    wrong = ch02.check_output_size(output_size_one_side)
    assert not wrong and "✗" in wrong.message
    out = capsys.readouterr().out
    assert verdict.message in out and wrong.message in out


def test_right_answers_pass(capsys):
    assert ch02.check_conv_forward(conv_forward_right)
    assert ch02.check_output_size(output_size_right)
    assert ch02.check_conv_matrix(conv_matrix_right)
    out = capsys.readouterr().out
    assert out.count("✓ all") == 3


@pytest.mark.parametrize(
    "fn, words",
    [
        (conv_forward_flipped, "rotated by 180°"),
        (conv_forward_no_bias, "bias is missing"),
        (conv_forward_first_channel, "case 3"),
        (conv_forward_wrong_shape, "has shape"),
        (conv_forward_raises, "your function raised"),
        (conv_forward_mutates, "modified its input"),
        (stub, "not attempted yet"),
        ("not a function", "pass your function"),
    ],
)
def test_conv_forward_rejects(fn, words, capsys):
    assert ch02.check_conv_forward(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (output_size_no_floor, "floor"),
        (output_size_one_side, "both sides"),
        (output_size_float, "should be an int"),
        (stub, "not attempted yet"),
    ],
)
def test_output_size_rejects(fn, words, capsys):
    assert ch02.check_output_size(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [(conv_matrix_transposed, "transpose"), (conv_matrix_flipped, "rotated by 180°"), (stub, "not attempted")],
)
def test_conv_matrix_rejects(fn, words, capsys):
    assert ch02.check_conv_matrix(fn).passed is False
    assert words in capsys.readouterr().out
