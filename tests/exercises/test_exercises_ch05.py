"""cnnlib.exercises.ch05 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch05

# ---------------------------------------------------------------- right answers (as in 05_solutions)


def sigmoid_deltas_right(A, U, dH):
    return (U.T @ dH) * A * (1 - A)


def kernel_gradient_right(o, d):
    return signal.correlate2d(o, d, mode="valid")


def kernel_gradient_rot180(o, d):
    return signal.convolve2d(np.rot90(np.rot90(d)), o, mode="valid")  # the seed's comment


def kernel_gradient_loops(o, d):
    KH, KW = o.shape[0] - d.shape[0] + 1, o.shape[1] - d.shape[1] + 1
    dW = np.zeros((KH, KW))
    for m in range(KH):
        for n in range(KW):
            dW[m, n] = np.sum(d * o[m : m + d.shape[0], n : n + d.shape[1]])
    return dW


def input_gradient_right(W, d):
    return signal.convolve2d(d, W, mode="full")


# ---------------------------------------------------------------- wrong answers


def sigmoid_deltas_no_slope(A, U, dH):
    return U.T @ dH


def sigmoid_deltas_times_sigma(A, U, dH):
    return (U.T @ dH) * A


def sigmoid_deltas_cut(A, U, dH):
    return np.trunc(sigmoid_deltas_right(A, U, dH) * 1e4) / 1e4


def sigmoid_deltas_rounded(A, U, dH):
    return np.round(sigmoid_deltas_right(A, U, dH), 4)


def kernel_gradient_convolve(o, d):
    return signal.convolve2d(o, d, mode="valid")


def kernel_gradient_transposed(o, d):
    return kernel_gradient_right(o, d).T


def input_gradient_correlate(W, d):
    return signal.correlate2d(d, W, mode="full")


def input_gradient_same(W, d):
    return signal.convolve2d(d, W, mode="same")


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch05.check_sigmoid_deltas(sigmoid_deltas_right)
    assert ch05.check_kernel_gradient(kernel_gradient_right)
    assert ch05.check_kernel_gradient(kernel_gradient_rot180)
    assert ch05.check_kernel_gradient(kernel_gradient_loops)
    assert ch05.check_input_gradient(input_gradient_right)
    assert capsys.readouterr().out.count("✓ all") == 5


def test_seed000_numbers():
    """The constants the notebook and the checkers share reproduce the seed's printed results."""
    s = ch05.SEED000
    deltas = sigmoid_deltas_right(s["sigmoid"], s["U"], s["dH"])
    np.testing.assert_allclose(deltas, [0.0364182, 0.068628, 0.04675125, -0.06818625], rtol=0, atol=1e-15)
    np.testing.assert_allclose(
        kernel_gradient_right(s["o"], s["d"]), [[0.044606, 0.094061], [0.011262, 0.068288]], rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    "fn, words",
    [
        (sigmoid_deltas_no_slope, "slope σ(1 − σ) is missing"),
        (sigmoid_deltas_times_sigma, "not σ"),
        (sigmoid_deltas_cut, "cut to four decimals"),
        (sigmoid_deltas_rounded, "rounded to four decimals"),
        (stub, "not attempted yet"),
    ],
)
def test_sigmoid_deltas_rejects(fn, words, capsys):
    assert ch05.check_sigmoid_deltas(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (kernel_gradient_convolve, "true convolution"),
        (kernel_gradient_transposed, "transposed"),
        (stub, "not attempted yet"),
    ],
)
def test_kernel_gradient_rejects(fn, words, capsys):
    assert ch05.check_kernel_gradient(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (input_gradient_correlate, "rotated by 180°"),
        (input_gradient_same, "has shape (4, 4), expected (5, 5)"),
        (stub, "not attempted yet"),
    ],
)
def test_input_gradient_rejects(fn, words, capsys):
    assert ch05.check_input_gradient(fn).passed is False
    assert words in capsys.readouterr().out


def test_seed000_constants_are_not_shared_mutable_state(capsys):
    """A reader's function that scribbles on its inputs cannot corrupt SEED000 for later checks."""
    before = {k: np.copy(v) for k, v in ch05.SEED000.items()}

    def scribble(o, d):
        o[...] = 0.0
        d[...] = 0.0
        return kernel_gradient_right(o, d)

    assert not ch05.check_kernel_gradient(scribble)
    assert "modified its input arrays" in capsys.readouterr().out
    for k, v in before.items():
        np.testing.assert_array_equal(ch05.SEED000[k], v)
