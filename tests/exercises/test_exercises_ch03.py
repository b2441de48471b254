"""cnnlib.exercises.ch03 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch03

# ---------------------------------------------------------------- right answers (as in 03_solutions)


def conv_backward_right(X, W, dZ):
    dW = signal.correlate2d(X, dZ, mode="valid")  # eq. (2)
    db = dZ.sum()  # eq. (1)
    dX = signal.convolve2d(dZ, W, mode="full")  # eq. (3)
    return dX, dW, db


def seed001_right(i, w1, w2, y):
    o1, o2 = ch03.seed001_forward(i, w1, w2)
    e = 2 * (o2 - y)
    return signal.correlate2d(i, e * w2, mode="valid"), e * o1


def conv_dW_right(X, dZ):
    N, C, H, Wd = X.shape
    _, F, Ho, Wo = dZ.shape
    KH, KW = H - Ho + 1, Wd - Wo + 1
    dW = np.zeros((F, C, KH, KW))
    for i in range(KH):
        for j in range(KW):
            dW[:, :, i, j] = np.einsum("nfuv,ncuv->fc", dZ, X[:, :, i : i + Ho, j : j + Wo])
    return dW


# ---------------------------------------------------------------- wrong answers


def conv_backward_dX_unflipped(X, W, dZ):
    dX, dW, db = conv_backward_right(X, W, dZ)
    return signal.correlate2d(dZ, W, mode="full"), dW, db


def conv_backward_dW_convolved(X, W, dZ):
    dX, dW, db = conv_backward_right(X, W, dZ)
    return dX, signal.convolve2d(X, dZ, mode="valid"), db


def conv_backward_db_mean(X, W, dZ):
    dX, dW, db = conv_backward_right(X, W, dZ)
    return dX, dW, dZ.mean()


def conv_backward_two_values(X, W, dZ):
    return conv_backward_right(X, W, dZ)[:2]


def conv_backward_dX_valid(X, W, dZ):
    dX, dW, db = conv_backward_right(X, W, dZ)
    return signal.convolve2d(dZ, W, mode="same"), dW, db


def seed001_asker(i, w1, w2, y):
    o1, o2 = ch03.seed001_forward(i, w1, w2)
    e = 2 * (o2 - y)
    touched = signal.correlate2d(i, np.ones((2, 2)), mode="valid")
    return touched * w2.sum() * e, e * o1


def seed001_dw2_wrong(i, w1, w2, y):
    dw1, dw2 = seed001_right(i, w1, w2, y)
    return dw1, dw2 / 2  # forgot the 2 of the squared error


def conv_dW_first_image(X, dZ):
    return conv_dW_right(X[:1], dZ[:1])


def conv_dW_mean(X, dZ):
    return conv_dW_right(X, dZ) / X.shape[0]


def stub(*args):
    return None


def test_right_answers_pass(capsys):
    assert ch03.check_conv_backward(conv_backward_right)
    assert ch03.check_seed001(seed001_right)
    assert ch03.check_conv_dW(conv_dW_right)
    assert capsys.readouterr().out.count("✓ all") == 3


@pytest.mark.parametrize(
    "fn, words",
    [
        (conv_backward_dX_unflipped, "yours used the kernel unrotated"),
        (conv_backward_dW_convolved, "true convolution of X with dZ"),
        (conv_backward_db_mean, "not its mean"),
        (conv_backward_two_values, "expected 3 values"),
        (conv_backward_dX_valid, "dX has shape"),
        (stub, "not attempted yet"),
    ],
)
def test_conv_backward_rejects(fn, words, capsys):
    assert ch03.check_conv_backward(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [(seed001_asker, "question's formula"), (seed001_dw2_wrong, "dC_dw2 is off"), (stub, "not attempted")],
)
def test_seed001_rejects(fn, words, capsys):
    assert ch03.check_seed001(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [(conv_dW_first_image, "sum over the images"), (conv_dW_mean, "do not average"), (stub, "not attempted")],
)
def test_conv_dW_rejects(fn, words, capsys):
    assert ch03.check_conv_dW(fn).passed is False
    assert words in capsys.readouterr().out


def test_seed001_forward_shapes():
    o1, o2 = ch03.seed001_forward(np.arange(9.0).reshape(3, 3), np.eye(2), np.ones((2, 2)))
    assert o1.shape == (2, 2) and isinstance(o2, float)
    assert o1.tolist() == [[4.0, 6.0], [10.0, 12.0]] and o2 == 32.0
