"""cnnlib.exercises.ch10 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnnlib.exercises import ch10

# ---------------------------------------------------------------- right answers (as in 10_solutions)


def im2col_right(X, KH, KW):
    N, C, H, Wd = X.shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    cols = np.empty((N, C, KH, KW, Ho, Wo))
    for i in range(KH):
        for j in range(KW):
            cols[:, :, i, j] = X[:, :, i : i + Ho, j : j + Wo]
    return cols.reshape(N, C * KH * KW, Ho * Wo)


def im2col_windows(X, KH, KW):
    N, C, H, Wd = X.shape
    win = sliding_window_view(X, (KH, KW), axis=(2, 3))  # (N, C, Ho, Wo, KH, KW)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * KH * KW, -1)


def col2im_right(cols, input_shape, KH, KW):
    N, C, H, Wd = input_shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    c6 = cols.reshape(N, C, KH, KW, Ho, Wo)
    X = np.zeros(input_shape)
    for i in range(KH):
        for j in range(KW):
            X[:, :, i : i + Ho, j : j + Wo] += c6[:, :, i, j]
    return X


def forward_right(X, W, b):
    F, C, KH, KW = W.shape
    N, _, H, Wd = X.shape
    Z = W.reshape(F, -1) @ im2col_right(X, KH, KW) + b[:, None]  # (N, F, L)
    return Z.reshape(N, F, H - KH + 1, Wd - KW + 1)


def backward_right(X, W, dZ):
    F, C, KH, KW = W.shape
    N = X.shape[0]
    cols = im2col_right(X, KH, KW)  # (N, CK, L)
    dZ3 = dZ.reshape(N, F, -1)  # (N, F, L)
    db = dZ3.sum(axis=(0, 2))
    dW = (dZ3 @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(W.shape)
    dX = col2im_right(W.reshape(F, -1).T @ dZ3, X.shape, KH, KW)
    return dX, dW, db


# ---------------------------------------------------------------- wrong answers


def im2col_transposed(X, KH, KW):
    return im2col_right(X, KH, KW).transpose(0, 2, 1)


def im2col_ijc(X, KH, KW):
    N, C, H, Wd = X.shape
    cols = im2col_right(X, KH, KW)
    return cols.reshape(N, C, KH, KW, -1).transpose(0, 2, 3, 1, 4).reshape(N, C * KH * KW, -1)


def im2col_vu(X, KH, KW):
    N, C, H, Wd = X.shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    return im2col_right(X, KH, KW).reshape(N, -1, Ho, Wo).transpose(0, 1, 3, 2).reshape(N, -1, Ho * Wo)


def im2col_first_image_only(X, KH, KW):
    return im2col_right(X[:1], KH, KW)


def im2col_raises(X, KH, KW):
    return X[:, :, :KH, :KW].reshape(7, -1)  # a reader's reshape that cannot work


def col2im_overwrite(cols, input_shape, KH, KW):
    N, C, H, Wd = input_shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    c6 = cols.reshape(N, C, KH, KW, Ho, Wo)
    X = np.zeros(input_shape)
    for i in range(KH):
        for j in range(KW):
            X[:, :, i : i + Ho, j : j + Wo] = c6[:, :, i, j]
    return X


def col2im_average(cols, input_shape, KH, KW):
    N, C, H, Wd = input_shape
    Ho, Wo = H - KH + 1, Wd - KW + 1
    ones = np.ones((N, C * KH * KW, Ho * Wo))
    return col2im_right(cols, input_shape, KH, KW) / col2im_right(ones, input_shape, KH, KW)


def col2im_padded_shape(cols, input_shape, KH, KW):
    N, C, H, Wd = input_shape
    return np.zeros((N, C, H + 1, Wd))


def forward_no_bias(X, W, b):
    return forward_right(X, W, np.zeros_like(b))


def forward_ijc(X, W, b):
    F, C, KH, KW = W.shape
    N, _, H, Wd = X.shape
    W2 = W.transpose(0, 2, 3, 1).reshape(F, -1)
    return (W2 @ im2col_right(X, KH, KW) + b[:, None]).reshape(N, F, H - KH + 1, Wd - KW + 1)


def forward_scrambled(X, W, b):
    F, C, KH, KW = W.shape
    N, _, H, Wd = X.shape
    ZT = im2col_right(X, KH, KW).transpose(0, 2, 1) @ W.reshape(F, -1).T + b  # (N, L, F)
    return ZT.reshape(N, F, H - KH + 1, Wd - KW + 1)


def forward_flipped(X, W, b):
    return forward_right(X, W[:, :, ::-1, ::-1], b)


def forward_flat(X, W, b):
    return forward_right(X, W, b).reshape(X.shape[0], W.shape[0], -1)  # forgot the final reshape


def backward_dX_average(X, W, dZ):
    dX, dW, db = backward_right(X, W, dZ)
    F, C, KH, KW = W.shape
    ones = np.ones((X.shape[0], C * KH * KW, dZ.shape[2] * dZ.shape[3]))
    return dX / col2im_right(ones, X.shape, KH, KW), dW, db


def backward_mean(X, W, dZ):
    dX, dW, db = backward_right(X, W, dZ)
    return dX, dW / X.shape[0], db / X.shape[0]


def backward_first_image(X, W, dZ):
    dX, dW, db = backward_right(X, W, dZ)
    return dX, backward_right(X[:1], W, dZ[:1])[1], db


def backward_dW_transposed(X, W, dZ):
    dX, dW, db = backward_right(X, W, dZ)
    F, C, KH, KW = W.shape
    cols = im2col_right(X, KH, KW)
    dZ3 = dZ.reshape(X.shape[0], F, -1)
    return dX, (cols @ dZ3.transpose(0, 2, 1)).sum(axis=0).reshape(W.shape), db


def backward_dcols(X, W, dZ):
    dX, dW, db = backward_right(X, W, dZ)
    F = W.shape[0]
    return W.reshape(F, -1).T @ dZ.reshape(X.shape[0], F, -1), dW, db  # forgot col2im


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch10.check_im2col(im2col_right)
    assert ch10.check_im2col(im2col_windows)
    assert ch10.check_col2im(col2im_right)
    assert ch10.check_conv_forward_matmul(forward_right)
    assert ch10.check_conv_backward_matmul(backward_right)
    out = capsys.readouterr().out
    assert out.count("✓ all") == 5
    assert "adjoint test with random x, y" in out and out.count("✓") == 6


def test_cnnlib_im2col_passes_but_its_col2im_is_refused(capsys):
    """im2col is a forward step a reader may take from cnnlib; col2im is the backward pass asked for."""
    import cnnlib

    assert ch10.check_im2col(lambda X, KH, KW: cnnlib.im2col(X, (KH, KW)))
    assert not ch10.check_col2im(lambda cols, shape, KH, KW: cnnlib.col2im(cols, shape, (KH, KW)))
    assert "calls cnnlib.col2im" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (im2col_transposed, "your matrix is transposed"),
        (im2col_ijc, "yours run over (i, j, c)"),
        (im2col_vu, "yours go column by column"),
        (im2col_first_image_only, "has shape"),
        (im2col_raises, "your function raised ValueError"),
        (stub, "not attempted yet"),
        ("not a function", "pass your function itself"),
    ],
)
def test_im2col_rejects(fn, words, capsys):
    assert ch10.check_im2col(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words, adjoint_line",
    [
        (col2im_overwrite, "= instead of +=", True),
        (col2im_average, "undoes im2col", True),
        (col2im_padded_shape, "has shape", False),
        (stub, "not attempted yet", False),
    ],
)
def test_col2im_rejects(fn, words, adjoint_line, capsys):
    verdict = ch10.check_col2im(fn)
    out = capsys.readouterr().out
    assert verdict.passed is False
    assert words in out
    assert ("adjoint test" in out) is adjoint_line
    if adjoint_line:
        assert "✗ (they must be equal" in out and "✗ (they must be equal" in verdict.message


def test_col2im_adjoint_failure_alone_fails_the_verdict(capsys):
    # a function right on the fixed cases but wrong elsewhere must still fail: the adjoint test catches it
    def right_only_for_small_inputs(cols, input_shape, KH, KW):
        out = col2im_right(cols, input_shape, KH, KW)
        return out * 1.5 if input_shape == (2, 3, 5, 4) else out

    verdict = ch10.check_col2im(right_only_for_small_inputs)
    out = capsys.readouterr().out
    assert "✓ all 4 cases passed" in out
    assert verdict.passed is False and "adjoint test" in out and "✗" in out


@pytest.mark.parametrize(
    "fn, words",
    [
        (forward_no_bias, "the bias is missing"),
        (forward_ijc, "yours are ordered (i, j, c)"),
        (forward_scrambled, "scrambles the outputs"),
        (forward_flipped, "true convolution"),
        (forward_flat, "has shape"),
        (stub, "not attempted yet"),
    ],
)
def test_forward_rejects(fn, words, capsys):
    assert ch10.check_conv_forward_matmul(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (backward_dX_average, "inverts im2col"),
        (backward_mean, "not means"),
        (backward_first_image, "not only the first"),
        (backward_dW_transposed, "looks like its transpose"),
        (backward_dcols, "dX has shape"),
        (stub, "not attempted yet"),
    ],
)
def test_backward_rejects(fn, words, capsys):
    assert ch10.check_conv_backward_matmul(fn).passed is False
    assert words in capsys.readouterr().out


def test_checkers_do_not_let_a_mutating_answer_pass(capsys):
    def mutating_im2col(X, KH, KW):
        out = im2col_right(X, KH, KW)
        X[...] = 0.0
        return out

    assert ch10.check_im2col(mutating_im2col).passed is False
    assert "modified its input" in capsys.readouterr().out
