"""cnnlib.exercises.ch07 accepts right answers and rejects wrong ones with a clear verdict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cnnlib.exercises import ch07

# ---------------------------------------------------------------- right answers (as in 07_solutions)


def conv_backward_loops(X, W, dZ, *, mistake=None):
    C, H, Wd = X.shape
    F, _, KH, KW = W.shape
    _, Ho, Wo = dZ.shape
    db = dZ.mean(axis=(1, 2)) if mistake == "mean" else dZ.sum(axis=(1, 2))  # eq. (1)
    dW = np.zeros_like(W)
    for f in range(F):
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    for u in range(Ho):
                        for v in range(Wo):
                            dW[f, c, i, j] += dZ[f, u, v] * X[c, u + i, v + j]  # eq. (2)
    dX = np.zeros_like(X)
    filters = range(1) if mistake == "one filter" else range(F)
    for c in range(C):
        for x in range(H):
            for y in range(Wd):
                for f in filters:
                    for i in range(KH):
                        for j in range(KW):
                            if 0 <= x - i < Ho and 0 <= y - j < Wo:
                                dX[c, x, y] += dZ[f, x - i, y - j] * W[f, c, i, j]  # eq. (3)
    if mistake == "convolve":
        dW = np.array([[signal.convolve2d(X[c], dZ[f], mode="valid") for c in range(C)] for f in range(F)])
    return dX, dW, db


def conv_backward_scipy(X, W, dZ):
    C, F = X.shape[0], W.shape[0]
    dW = np.array([[signal.correlate2d(X[c], dZ[f], mode="valid") for c in range(C)] for f in range(F)])
    dX = np.array([sum(signal.convolve2d(dZ[f], W[f, c], mode="full") for f in range(F)) for c in range(C)])
    return dX, dW, dZ.sum(axis=(1, 2))


def terms_right(X, f, c, i, j, dZ):
    Ho, Wo = dZ.shape[1:]
    return dZ[f] * X[c, i : i + Ho, j : j + Wo]


def seed003_grads_right(X, W, b, U, c, y, *, mistake=None):
    N = X.shape[0]
    v = ch07.seed003_forward(X, W, b, U, c)
    Y = np.eye(U.shape[0])[y]  # (N, M) one-hot
    ds = (v["yhat"] - Y) / N  # (N, M)
    if mistake == "sum":
        ds = ds * N
    dU = ds.T @ v["p"]
    dc = ds.sum(axis=0)
    dP = (ds @ U).reshape(v["P"].shape)
    A = v["A"]
    dA = np.zeros_like(A)
    for n in range(N):
        for f in range(A.shape[1]):
            for a in range(2):
                for bb in range(2):
                    win = A[n, f, 2 * a : 2 * a + 2, 2 * bb : 2 * bb + 2]
                    r, q = np.unravel_index(np.argmax(win), (2, 2))
                    dA[n, f, 2 * a + r, 2 * bb + q] = dP[n, f, a, bb]
    dZ = dA if mistake == "no mask" else np.where(v["Z"] > 0, dA, 0.0)
    db = dZ.sum(axis=(0, 2, 3))
    dW = np.zeros_like(W)
    for n in range(N):
        dW += conv_backward_scipy(X[n], W, dZ[n])[1]
    return dW, db, dU, dc


def stub(*args):
    return None


# ---------------------------------------------------------------- tests


def test_right_answers_pass(capsys):
    assert ch07.check_conv_backward_channels(conv_backward_loops)
    assert ch07.check_conv_backward_channels(conv_backward_scipy)
    assert ch07.check_weight_sharing_terms(terms_right)
    assert ch07.check_seed003_grads(seed003_grads_right)
    assert capsys.readouterr().out.count("✓ all") == 4


@pytest.mark.parametrize(
    "mistake, words",
    [
        ("one filter", "sum eq. (3) over all F filters"),
        ("convolve", "true convolution of X with δZ"),
        ("mean", "not its mean"),
    ],
)
def test_conv_backward_channels_rejects(mistake, words, capsys):
    def fn(X, W, dZ):
        return conv_backward_loops(X, W, dZ, mistake=mistake)

    assert ch07.check_conv_backward_channels(fn).passed is False
    assert words in capsys.readouterr().out


def test_conv_backward_channels_rejects_unflipped_dX(capsys):
    def fn(X, W, dZ):
        dX, dW, db = conv_backward_scipy(X, W, dZ)
        C, F = X.shape[0], W.shape[0]
        dX = np.array([sum(signal.correlate2d(dZ[f], W[f, c], mode="full") for f in range(F)) for c in range(C)])
        return dX, dW, db

    assert not ch07.check_conv_backward_channels(fn)
    assert "unrotated" in capsys.readouterr().out


def test_conv_backward_channels_stub_and_wrong_shape(capsys):
    assert not ch07.check_conv_backward_channels(stub)
    assert "not attempted yet" in capsys.readouterr().out
    assert not ch07.check_conv_backward_channels(lambda X, W, dZ: (X, W[0], dZ.sum()))
    assert "dW has shape" in capsys.readouterr().out


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda X, f, c, i, j, dZ: terms_right(X, f, c, 0, 0, dZ), "shifted by the kernel offset"),
        (lambda X, f, c, i, j, dZ: terms_right(X, f, c, j, i, dZ), "offsets are swapped"),
        (lambda X, f, c, i, j, dZ: terms_right(X, f, (c + 1) % X.shape[0], i, j, dZ), "use input channel"),
        (lambda X, f, c, i, j, dZ: terms_right(X, f, c, i, j, dZ).sum(), "not their sum"),
        (stub, "not attempted yet"),
    ],
)
def test_weight_sharing_terms_rejects(fn, words, capsys):
    assert ch07.check_weight_sharing_terms(fn).passed is False
    assert words in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake, words",
    [("sum", "mean over the N images"), ("no mask", "ReLU mask is missing")],
)
def test_seed003_grads_rejects(mistake, words, capsys):
    def fn(*args):
        return seed003_grads_right(*args, mistake=mistake)

    assert ch07.check_seed003_grads(fn).passed is False
    assert words in capsys.readouterr().out


def test_seed003_grads_rejects_sign_and_stub(capsys):
    def wrong_sign(*args):
        return tuple(-g for g in seed003_grads_right(*args))

    assert not ch07.check_seed003_grads(wrong_sign)
    assert "wrong sign" in capsys.readouterr().out
    assert not ch07.check_seed003_grads(stub)
    assert "not attempted yet" in capsys.readouterr().out


def test_seed003_forward_shapes_and_softmax():
    rng = np.random.default_rng(1)
    X, W, b = rng.uniform(size=(2, 3, 6, 6)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
    U, c = rng.normal(size=(4, 8)), rng.normal(size=4)
    v = ch07.seed003_forward(X, W, b, U, c)
    assert v["Z"].shape == (2, 2, 4, 4) and v["P"].shape == (2, 2, 2, 2)
    assert v["p"].shape == (2, 8) and v["s"].shape == (2, 4)
    assert np.allclose(v["yhat"].sum(axis=1), 1.0)
    assert np.allclose(v["s"], v["p"] @ U.T + c)
